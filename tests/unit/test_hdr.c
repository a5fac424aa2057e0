#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "tap.h"

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
	/* the ranges of Table 3-7: E0 80, ED A0 (a surrogate), F0 80, F4 90 are
	 * bad from their second byte on; a cut-off F0 9F 98 is one */
	dec("=?UTF-8?Q?=E0=80=ED=A0=F0=80=F4=90x=F0=9F=98?=", MP_HDR_IGNORE,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbdx\xef\xbf\xbd",
	    0);
	mp_buf_free(&out);
	mp_buf_free(&back);
	return tap_done();
}
