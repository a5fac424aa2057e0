#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "json.h"
#include "tap.h"
#include "util.h"

/* the document written by f, as a string (caller frees) */
static char *doc(void (*f)(struct mp_json *j, const char *s, size_t n, size_t piece), const char *s,
                 size_t n, size_t piece)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&buf, &len);
	struct mp_json j;

	mp_json_init(&j, mf, 0);
	mp_json_begin_object(&j, NULL);
	f(&j, s, n, piece);
	mp_json_int(&j, "after", 1);
	mp_json_end_object(&j);
	fclose(mf);
	return buf;
}

static void whole(struct mp_json *j, const char *s, size_t n, size_t piece)
{
	(void)piece;
	mp_json_stringn(j, "s", s, n);
}

static void pieces(struct mp_json *j, const char *s, size_t n, size_t piece)
{
	mp_json_begin_string(j, "s");
	for (size_t i = 0; i < n; i += piece)
		mp_json_string_more(j, s + i, n - i < piece ? n - i : piece);
	mp_json_end_string(j);
}

static void error_75(struct mp_json *j, const char *s, size_t n, size_t piece)
{
	(void)n, (void)piece;
	mp_json_error(j, "error", EX_TEMPFAIL, s);
}

static void error_none(struct mp_json *j, const char *s, size_t n, size_t piece)
{
	(void)n, (void)piece;
	mp_json_error(j, "error", 0, s);
}

static void fixed(struct mp_json *j, const char *s, size_t n, size_t piece)
{
	(void)s, (void)n, (void)piece;
	mp_json_fixed(j, "seconds", 0.1254, 3);
	mp_json_fixed(j, "ms", 12.0, 1);
	mp_json_fixed(j, "unknown", NAN, 1);
}

/* the error object, the error line and the numbers with decimals of
 * mailpipe(7) */
static void test_convention(void)
{
	char *d = doc(error_75, "lock \"held\"", 0, 0);
	tap_ok(strcmp(d, "{\"error\":{\"code\":75,\"name\":\"EX_TEMPFAIL\",\"message\":"
	                 "\"lock \\\"held\\\"\"},\"after\":1}") == 0,
	       "the error object: code, sysexits name, message: %s", d);
	free(d);
	d = doc(error_none, "x", 0, 0);
	tap_ok(strcmp(d, "{\"error\":null,\"after\":1}") == 0, "no error is null: %s", d);
	free(d);
	d = doc(fixed, "", 0, 0);
	tap_ok(strcmp(d, "{\"seconds\":0.125,\"ms\":12.0,\"unknown\":null,\"after\":1}") == 0,
	       "numbers with decimals are numbers, not strings; NaN is null: %s", d);
	free(d);

	char *buf = NULL;
	size_t len = 0;
	FILE *mf = open_memstream(&buf, &len);
	mp_json_error_line(mf, EX_NOINPUT, "a.eml: No such file or directory");
	fclose(mf);
	tap_ok(strcmp(buf, "{\"type\":\"error\",\"error\":{\"code\":66,\"name\":\"EX_NOINPUT\","
	                   "\"message\":\"a.eml: No such file or directory\"}}\n") == 0,
	       "the error line, one line: %s", buf);
	free(buf);

	static const struct {
		int code;
		const char *name;
	} names[] = {{0, "EX_OK"},
	             {EX_USAGE, "EX_USAGE"},
	             {EX_DATAERR, "EX_DATAERR"},
	             {EX_NOINPUT, "EX_NOINPUT"},
	             {EX_NOUSER, "EX_NOUSER"},
	             {EX_NOHOST, "EX_NOHOST"},
	             {EX_UNAVAILABLE, "EX_UNAVAILABLE"},
	             {EX_SOFTWARE, "EX_SOFTWARE"},
	             {EX_OSERR, "EX_OSERR"},
	             {EX_OSFILE, "EX_OSFILE"},
	             {EX_CANTCREAT, "EX_CANTCREAT"},
	             {EX_IOERR, "EX_IOERR"},
	             {EX_TEMPFAIL, "EX_TEMPFAIL"},
	             {EX_PROTOCOL, "EX_PROTOCOL"},
	             {EX_NOPERM, "EX_NOPERM"},
	             {EX_CONFIG, "EX_CONFIG"},
	             {1, "EX_SOFTWARE"},
	             {79, "EX_SOFTWARE"}};
	int ok = 1;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(mp_exit_name(names[i].code), names[i].name)) {
			tap_diag("%d: %s", names[i].code, mp_exit_name(names[i].code));
			ok = 0;
		}
	tap_ok(ok, "mp_exit_name: every <sysexits.h> code by its name, EX_SOFTWARE for others");
}

static void same(const char *s, size_t n, const char *what)
{
	char *want = doc(whole, s, n, 0);
	int ok = 1;

	for (size_t piece = 1; piece <= n + 1; piece++) {
		char *got = doc(pieces, s, n, piece);
		if (strcmp(got, want)) {
			tap_diag("piece %zu: got %s want %s", piece, got, want);
			ok = 0;
		}
		free(got);
	}
	tap_ok(ok, "%s: in pieces of every size as written whole", what);
	free(want);
}

int main(void)
{
	char *d;

	d = doc(pieces, "a\"b\\\n\x01", 6, 2);
	tap_ok(strcmp(d, "{\"s\":\"a\\\"b\\\\\\n\\u0001\",\"after\":1}") == 0, "escapes: %s", d);
	free(d);
	same("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5", 19,
	     "2-, 3- and 4-byte characters");
	same("\xc3", 1, "a character cut off at the end");
	same("a\xe2\x82z\xff\xc3\xa9\x80", 8, "bad sequences and a stray continuation byte");
	same("", 0, "the empty string");
	same("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", 13,
	     "Unicode Table 3-8 (maximal subparts)");
	d = doc(pieces, "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", 13, 13);
	tap_ok(strcmp(d, "{\"s\":\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                 "b\xef\xbf\xbd"
	                 "c\xef\xbf\xbd\xef\xbf\xbd"
	                 "d\",\"after\":1}") == 0,
	       "Table 3-8: one U+FFFD per maximal subpart: %s", d);
	free(d);
	d = doc(pieces, "\xe2\x82", 2, 1);
	tap_ok(strcmp(d, "{\"s\":\"\xef\xbf\xbd\",\"after\":1}") == 0,
	       "an unfinished character at the end is one U+FFFD (a maximal subpart): %s", d);
	free(d);
	/* DEL and C1 controls escaped (a terminal showing the line obeys them
	 * raw); U+00A0 and a bad 0x9b byte are not controls */
	d = doc(pieces, "\x7f\xc2\x80\xc2\x9b\xc2\x9f\xc2\xa0\x9b", 10, 3);
	tap_ok(strcmp(d, "{\"s\":\"\\u007f\\u0080\\u009b\\u009f\xc2\xa0\xef\xbf\xbd\","
	                 "\"after\":1}") == 0,
	       "DEL and C1 controls as \\u00XX: %s", d);
	free(d);
	same("a\xc2\x9b\x7f\xc2\x85z", 7, "C1 controls and DEL");
	test_convention();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
