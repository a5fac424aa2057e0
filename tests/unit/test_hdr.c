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
	mp_buf_free(&out);
	mp_buf_free(&back);
	return tap_done();
}
