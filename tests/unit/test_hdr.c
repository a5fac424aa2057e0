#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "tap.h"

static void test_fields(void);

static void dec(const char *in, unsigned flags, const char *want, int wantrc)
{
	struct mp_buf out = MP_BUF_INIT;
	struct mp_err e;
	int rc;

	mp_err_clear(&e);
	rc = mp_hdr_decode_words(in, strlen(in), flags, &out, &e);
	tap_ok(rc == wantrc &&
	           (rc < 0 || (out.len == strlen(want) && !memcmp(out.data, want, out.len))),
	       "decode \"%s\"", tap_esc(in));
	if (rc != wantrc || (rc == 0 && strcmp(out.data ? out.data : "", want)))
		tap_diag("rc %d got [%s] want [%s] %s", rc, out.data ? out.data : "", want, e.msg);
	mp_buf_free(&out);
}

static int words_ok(const char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			col = 0;
			continue;
		}
		if (++col > 76) /* 75 + the folding space */
			return 0;
	}
	return 1;
}

int main(void)
{
	struct mp_buf out = MP_BUF_INIT, back = MP_BUF_INIT;
	struct mp_err e;

	/* RFC 2047 §8 examples */
	dec("=?ISO-8859-1?Q?a?=", 0, "a", 0);
	dec("=?ISO-8859-1?Q?a?= b", 0, "a b", 0);
	dec("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", 0, "ab", 0);
	dec("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", 0, "ab", 0);
	dec("=?ISO-8859-1?Q?a?=\t=?ISO-8859-1?Q?b?=", 0, "ab", 0);
	dec("=?ISO-8859-1?Q?a_b?=", 0, "a b", 0);
	dec("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", 0, "a b", 0);
	dec("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", 0,
	    "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>", 0);
	dec("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", 0, "Keith Moore <moore@cs.utk.edu>",
	    0);
	dec("=?utf-8?b?w6k=?=", 0, "\xc3\xa9", 0);
	dec("=?UTF-8*en?B?w6k?=", 0, "\xc3\xa9", 0);
	/* unpadded B words, as some mailers write them */
	dec("=?UTF-8?B?w6?= =?UTF-8?B?kK?=", 0, "\xc3\x90", 0);
	dec("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", 0, "\xc3\xa9", 0);
	dec("=?KOI8-R?B?8NLJ18XU?=", 0, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", 0);
	dec("plain text", 0, "plain text", 0);
	dec("=?bogus", 0, "=?bogus", 0);
	dec("=?UTF-8?X?abc?=", 0, "=?UTF-8?X?abc?=", 0);
	dec("=?UTF-8?Q?a b?=", 0, "=?UTF-8?Q?a b?=", 0);
	dec("=?UTF-8?Q?=ZZ?=", 0, "=?UTF-8?Q?=ZZ?=", 0);
	dec("=?utf-8?Q?a?b?=", 0, "=?utf-8?Q?a?b?=", 0); /* "?" in encoded-text */
	dec("=?*en?Q?abc?=", 0, "=?*en?Q?abc?=", 0);     /* a language but no charset */
	dec("=?utf-8*en?Q?abc?=", 0, "abc", 0);          /* RFC 2231 language dropped */
	dec("x =?no-such-charset?Q?a?= y", 0, "", -1);
	dec("x =?no-such-charset?Q?a?= y", MP_HDR_IGNORE, "x a y", 0);
	dec("=?UTF-8?B?/w==?=", 0, "", -1);
	dec("=?UTF-8?B?/w==?=", MP_HDR_IGNORE, "\xef\xbf\xbd", 0);

	const char *subj = "Grüße aus Hamburg — Crêpes für alle, mit einer ziemlich langen "
	                   "Betreffzeile, die gefaltet werden muss";
	for (unsigned q = 0; q < 2; q++) {
		mp_buf_reset(&out);
		mp_buf_reset(&back);
		tap_is_int(mp_hdr_encode_words(subj, strlen(subj), q ? MP_HDR_Q : 0, &out, &e), 0,
		           "encode (%s)", q ? "Q" : "B");
		tap_ok(words_ok(out.data, out.len), "every word fits in 75 columns");
		tap_ok(strstr(out.data, "\n ") != NULL, "folded onto several lines");
		/* decode after unfolding */
		char *unf = mp_xstrdup(out.data);
		size_t w = 0;
		for (size_t i = 0; unf[i]; i++)
			if (unf[i] != '\n')
				unf[w++] = unf[i];
		tap_is_int(mp_hdr_decode_words(unf, w, 0, &back, &e), 0, "decodes back");
		tap_ok(back.len == strlen(subj) && !memcmp(back.data, subj, back.len),
		       "round trip (%s)", q ? "Q" : "B");
		free(unf);
	}
	mp_buf_reset(&out);
	tap_is_int(mp_hdr_encode_words("a\xff", 2, 0, &out, &e), -1, "not UTF-8 refused");
	tap_is_int(e.offset, 2, "at byte 2");
	tap_is_int(mp_utf8_len((const unsigned char *)"\xe2\x82\xac", 3), 3, "euro is 3 bytes");
	tap_is_int(mp_utf8_len((const unsigned char *)"\xc0\xaf", 2), 0, "overlong refused");
	tap_is_int(mp_utf8_len((const unsigned char *)"\xed\xa0\x80", 3), 0, "surrogate refused");
	tap_is_int(mp_utf8_len((const unsigned char *)"\xe2\x82", 2), 0, "truncated refused");

	/* Unicode §3.9 Table 3-8: one U+FFFD per maximal subpart, in the
	 * repair itself, in a charset conversion and in a decoded word */
	const char t38[] = "\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64";
	const char *r38 = "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                  "b\xef\xbf\xbd"
	                  "c\xef\xbf\xbd\xef\xbf\xbd"
	                  "d";
	mp_buf_reset(&out);
	tap_is_int(mp_utf8_repair(t38, sizeof t38 - 1, &out), 0, "repair Table 3-8");
	tap_ok(out.len == strlen(r38) && !memcmp(out.data, r38, out.len),
	       "Table 3-8: a FFFD FFFD FFFD b FFFD c FFFD FFFD d");
	mp_buf_reset(&out);
	tap_is_int(mp_charset_to_utf8("UTF-8", t38, sizeof t38 - 1, MP_HDR_IGNORE, &out, &e), 0,
	           "convert Table 3-8");
	tap_ok(out.len == strlen(r38) && !memcmp(out.data, r38, out.len),
	       "Table 3-8 through mp_charset_to_utf8");
	tap_is_int(mp_charset_to_utf8("UTF-8", t38, sizeof t38 - 1, 0, &out, &e), -1,
	           "Table 3-8 refused without MP_HDR_IGNORE");
	dec("=?UTF-8?B?YfGAgOGAwmKAY4C/ZA==?=", MP_HDR_IGNORE, r38, 0);
	{
		/* ISO-8859-1 is converted without iconv: all 256 bytes as iconv
		 * converts them (through ISO_8859-1, a name the fast way does not
		 * take), after text already in the buffer */
		char all[256];
		struct mp_buf fast = MP_BUF_INIT, slow = MP_BUF_INIT;
		for (int i = 0; i < 256; i++)
			all[i] = (char)i;
		mp_buf_puts(&fast, "x");
		mp_buf_puts(&slow, "x");
		tap_is_int(mp_charset_to_utf8("iso-8859-1", all, sizeof all, 0, &fast, &e), 0,
		           "ISO-8859-1: 256 bytes converted");
		tap_is_int(mp_charset_to_utf8("ISO_8859-1", all, sizeof all, 0, &slow, &e), 0,
		           "ISO_8859-1 (iconv): 256 bytes converted");
		tap_ok(fast.len == 1 + 128 + 2 * 128 && fast.len == slow.len &&
		           !memcmp(fast.data, slow.data, fast.len) && fast.data[fast.len] == '\0',
		       "ISO-8859-1 without iconv: the same bytes as iconv's");
		mp_buf_reset(&fast);
		tap_is_int(mp_charset_to_utf8("Latin1", "\xe9t\xe9", 3, 0, &fast, &e), 0,
		           "latin1 converted");
		tap_is_mem(fast.data, fast.len, "\xc3\xa9t\xc3\xa9", 5, "latin1: \"été\"");
		mp_buf_free(&fast);
		mp_buf_free(&slow);
	}
	/* the ranges of Table 3-7: E0 80, ED A0 (a surrogate), F0 80, F4 90 are
	 * bad from their second byte on; a cut-off F0 9F 98 is one */
	dec("=?UTF-8?Q?=E0=80=ED=A0=F0=80=F4=90x=F0=9F=98?=", MP_HDR_IGNORE,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbdx\xef\xbf\xbd",
	    0);
	mp_buf_free(&out);
	mp_buf_free(&back);
	test_fields();
	return tap_done();
}

/* ---------------------------------------------------------------- fields */

/* the header in h fed line by line, or in pieces of at most seg bytes
 * past a line's first colon (a name comes whole in the segment that
 * starts its line): the value of the first field NAME, "" if none */
static const char *feed_get(const char *h, size_t seg, const char *name, int *end)
{
	static struct mp_hdr_reader r;
	static char got[MP_HDR_FIELD_MAX + 1];
	size_t n = strlen(h), i = 0;
	int bol = 1;

	mp_hdr_reader_init(&r);
	got[0] = '\0';
	*end = 0;
	while (i < n) {
		const char *nl = memchr(h + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (h + i)) + 1 : n - i;
		const char *colon = bol ? memchr(h + i, ':', len) : NULL;
		size_t first = colon ? (size_t)(colon - (h + i)) + 1 : 0;
		if (len > seg && len > first && len > 2) /* a blank line comes whole */
			len = seg > first ? seg : first;
		int k = mp_hdr_reader_feed(&r, h + i, len, bol);
		const char *v = mp_hdr_reader_get(&r, name);
		if (v && !got[0])
			snprintf(got, sizeof got, "%s", v);
		if (k == MP_HDR_END) {
			*end = 1;
			return got;
		}
		bol = h[i + len - 1] == '\n';
		i += len;
	}
	mp_hdr_reader_end(&r);
	const char *v = mp_hdr_reader_get(&r, name);
	if (v && !got[0])
		snprintf(got, sizeof got, "%s", v);
	return got;
}

static void test_fields(void)
{
	struct mp_hdr_reader r;
	struct mp_buf v = MP_BUF_INIT;
	char id[64];
	size_t off = 0;
	int end;

	/* field names */
	tap_is_int(mp_hdr_field_name("Subject: x\n", 11, &off), 7, "field name length");
	tap_is_int(off, 8, "value after the colon");
	tap_is_int(mp_hdr_field_name("Subject \t: x\n", 13, &off), 7, "blanks before the colon");
	tap_is_int(off, 10, "value after the colon (obsolete syntax)");
	tap_is_int(mp_hdr_field_name(" Subject: x\n", 12, NULL), 0, "a folded line is no field");
	tap_is_int(mp_hdr_field_name(": x\n", 4, NULL), 0, "no name");
	tap_is_int(mp_hdr_field_name("Sub ject: x\n", 12, NULL), 0, "a blank inside the name");
	tap_is_int(mp_hdr_field_name("Sub\0ject: x", 11, NULL), 0, "NUL inside the name");
	tap_is_int(mp_hdr_field_name("Subject", 7, NULL), 0, "no colon");
	tap_is_int(mp_hdr_field_name("Subject:", 7, NULL), 0, "the colon past n");
	tap_is_int(mp_hdr_field_name("From a@b Mon Jan  1 00:00:00 2024\n", 34, NULL), 0,
	           "a From_ line is no field");
	tap_is_int(mp_hdr_field_name("S\xc3\xa9: x", 6, NULL), 0, "8-bit name");
	tap_ok(mp_hdr_field_name_is("message-id: <a@b>\n", 18, "Message-ID"), "name in any case");
	tap_ok(!mp_hdr_field_name_is("Message-IDs: <a@b>\n", 19, "Message-ID"),
	       "a longer name is another");
	tap_ok(!mp_hdr_field_name_is("Message: <a@b>\n", 15, "Message-ID"),
	       "a shorter name is another");

	/* the reader, line by line and in pieces of 3 and 1 bytes */
	static const size_t segs[] = {100000, 3, 1};
	for (size_t k = 0; k < sizeof segs / sizeof *segs; k++) {
		size_t sg = segs[k];
		const char *h = "Subject: a\r\nX-Long: b\r\n  c\r\nDelivered-To:\r\n\t<bob@x> \r\n"
		                "\r\nBody-Field: no\r\n";
		tap_ok(strcmp(feed_get(h, sg, "Subject", &end), "a") == 0, "value trimmed (%zu)",
		       sg);
		tap_ok(end, "the blank line ends the header (%zu)", sg);
		tap_ok(strcmp(feed_get(h, sg, "x-long", &end), "b  c") == 0,
		       "unfolded, the blank kept (%zu)", sg);
		tap_ok(strcmp(feed_get(h, sg, "Delivered-To", &end), "<bob@x>") == 0,
		       "value on the folded line (%zu)", sg);
		tap_ok(strcmp(feed_get(h, sg, "Body-Field", &end), "") == 0,
		       "nothing past the header (%zu)", sg);
		tap_ok(strcmp(feed_get("A: 1\nB: 2", sg, "B", &end), "2") == 0 && !end,
		       "the last field without a line end or blank line (%zu)", sg);
		tap_ok(strcmp(feed_get("bad line\n  folded\nA: 1\n\n", sg, "A", &end), "1") == 0,
		       "a line that is no field is skipped (%zu)", sg);
	}
	mp_hdr_reader_init(&r);
	tap_is_int(mp_hdr_reader_feed(&r, "A: 1\n", 5, 1), MP_HDR_FIELD, "kind: field");
	tap_ok(mp_hdr_reader_get(&r, "A") == NULL, "not complete before the next line");
	tap_is_int(mp_hdr_reader_feed(&r, " 2", 2, 1), MP_HDR_MORE, "kind: folded");
	tap_is_int(mp_hdr_reader_feed(&r, "xyz\n", 4, 0), MP_HDR_MORE, "kind: rest of a line");
	tap_is_int(mp_hdr_reader_feed(&r, "no field\n", 9, 1), MP_HDR_BAD, "kind: no field");
	tap_ok(mp_hdr_reader_get(&r, "A") && strcmp(mp_hdr_reader_get(&r, "A"), "1 2xyz") == 0,
	       "complete when the next line starts");
	tap_is_int(mp_hdr_reader_feed(&r, "\n", 1, 1), MP_HDR_END, "kind: end");
	tap_is_int(mp_hdr_reader_feed(&r, "B: 1\n", 5, 1), MP_HDR_END, "after the end, the end");

	/* a field longer than the reader holds is not half found */
	struct mp_buf big = MP_BUF_INIT;
	mp_buf_puts(&big, "Message-ID: <");
	for (int i = 0; i < MP_HDR_FIELD_MAX; i++)
		mp_buf_putc(&big, 'x');
	mp_buf_puts(&big, "@y>\nSubject: after\n\n");
	tap_ok(strcmp(feed_get(big.data, 100000, "Message-ID", &end), "") == 0,
	       "an overlong field is not found");
	tap_ok(strcmp(feed_get(big.data, 100, "Subject", &end), "after") == 0,
	       "the field after it is");
	mp_buf_free(&big);

	/* mp_hdr_find in a buffer */
	const char *m = "From: a\nMessage-ID:\n <1@x>\nMessage-ID: <2@x>\n\nMessage-ID: <3@x>\n";
	tap_is_int(mp_hdr_find(m, strlen(m), "message-id", &v), 1, "find");
	tap_ok(strcmp(v.data, "<1@x>") == 0, "the first one, unfolded");
	tap_is_int(mp_hdr_find(m, strlen(m), "To", &v), 0, "not in the header");
	tap_is_int(mp_hdr_find(m, 7, "From", &v), 1, "a buffer cut short");
	tap_ok(strcmp(v.data, "a") == 0, "its last line counts");
	tap_is_int(mp_hdr_find("\nA: 1\n", 6, "A", &v), 0, "an empty header");

	/* Message-IDs */
	static const char *const ids[][2] = {
	    {"<a@b>", "<a@b>"},
	    {"  <a@b>  ", "<a@b>"},
	    {"(comment (nested) \\) ) <a@b> (after)", "<a@b>"},
	    {"<a@b> <c@d>", "<a@b>"},
	    {"<a.b\r\n @c>", "<a.b@c>"},
	    {"a@b (no brackets)", "a@b"},
	    {"<a@b", "<a@b"},
	    {"<>", ""},
	    {"", ""},
	    {"(only a comment)", ""},
	    {"(unclosed <a@b>", ""},
	};
	for (size_t k = 0; k < sizeof ids / sizeof *ids; k++) {
		int found = mp_hdr_msgid(ids[k][0], strlen(ids[k][0]), id, sizeof id);
		tap_ok(found == (ids[k][1][0] != '\0') && strcmp(id, ids[k][1]) == 0,
		       "msgid %zu: '%s'", k, id);
	}
	tap_is_int(mp_hdr_msgid("<0123456789@x>", 14, id, 14), 0, "too long for out: none");
	tap_ok(id[0] == '\0', "and out empty");
	tap_is_int(mp_hdr_msgid("<0123456789@x>", 14, id, 15), 1, "just fits");
	mp_buf_free(&v);
}
