#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "tap.h"

static const char *const vec[][2] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

/* decode s in chunks of random size; returns 0 and fills out, or -1 */
static int dec_chunked(const char *s, size_t n, unsigned flags, unsigned char *out, size_t *olen,
                       struct mp_err *e, int chunky)
{
	struct mp_b64dec d;
	size_t i = 0, w;

	*olen = 0;
	mp_b64dec_init(&d, flags);
	while (i < n) {
		size_t k = chunky ? 1 + tap_rand() % 200 : n - i;
		if (k > n - i)
			k = n - i;
		if (mp_b64dec_update(&d, s + i, k, out + *olen, &w, e) < 0) {
			*olen += w;
			return -1;
		}
		*olen += w;
		i += k;
	}
	if (mp_b64dec_final(&d, out + *olen, &w, e) < 0)
		return -1;
	*olen += w;
	return 0;
}

/* wrap encoded text in lines of cols with LF or CRLF */
static size_t wrap(const char *s, size_t n, char *out, size_t cols, int crlf)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		out[o++] = s[i];
		if ((i + 1) % cols == 0 || i + 1 == n) {
			if (crlf)
				out[o++] = '\r';
			out[o++] = '\n';
		}
	}
	return o;
}

static void test_level(int lvl)
{
	static unsigned char in[4096], back[8192];
	static char enc[8192], ref[8192], wrapped[12288];
	struct mp_err e;
	int fails = 0, dfails = 0, wfails = 0, cfails = 0, efails = 0;
	size_t n, m, blen;

	mp_simd_set(lvl);
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		n = mp_b64_encode(vec[i][0], strlen(vec[i][0]), enc, 0);
		tap_is_mem(enc, n, vec[i][1], strlen(vec[i][1]), "%s: RFC 4648 \"%s\"",
		           mp_simd_name(lvl), vec[i][0]);
	}
	for (size_t len = 0; len <= 2048; len++) {
		for (size_t k = 0; k < len; k++)
			in[k] = (unsigned char)tap_rand();
		unsigned flags = (len & 1) ? MP_B64_URL : 0;
		n = mp_b64_encode(in, len, enc, flags);
		mp_simd_set(MP_SIMD_SCALAR);
		m = mp_b64_encode(in, len, ref, flags);
		mp_simd_set(lvl);
		if (n != m || memcmp(enc, ref, n))
			fails++;
		if (dec_chunked(enc, n, flags, back, &blen, &e, 0) || blen != len ||
		    memcmp(back, in, len))
			dfails++;
		m = wrap(enc, n, wrapped, 76, len % 3 == 0);
		if (dec_chunked(wrapped, m, flags, back, &blen, &e, 0) || blen != len ||
		    memcmp(back, in, len))
			wfails++;
		if (dec_chunked(wrapped, m, flags, back, &blen, &e, 1) || blen != len ||
		    memcmp(back, in, len))
			cfails++;
		/* a bad byte anywhere is found exactly; only whole blocks
		 * before it are written */
		if (n > 0) {
			size_t pos = tap_rand() % n;
			memcpy(wrapped, enc, n);
			wrapped[pos] = (len & 2) ? '!' : (char)0xC3;
			if (dec_chunked(wrapped, n, flags, back, &blen, &e, len & 4) != -1 ||
			    e.offset != (long long)pos + 1 || blen != pos / 4 * 3 ||
			    memcmp(back, in, blen))
				efails++;
		}
	}
	tap_is_int(fails, 0, "%s: encode equals scalar for lengths 0..2048", mp_simd_name(lvl));

	/* MIME lines: 76 columns and '\n', as the generic encoder and wrap */
	fails = 0;
	for (size_t lines = 0; lines <= 40; lines++) {
		size_t len = lines * 57 + (lines % 3) * 19, used;
		for (size_t k = 0; k < len; k++)
			in[k] = (unsigned char)tap_rand();
		used = mp_b64_encode_lines76(in, len, enc, (lines & 1) ? MP_B64_URL : 0);
		mp_simd_set(MP_SIMD_SCALAR);
		n = mp_b64_encode(in, used, ref, (lines & 1) ? MP_B64_URL : 0);
		mp_simd_set(lvl);
		m = wrap(ref, n, wrapped, 76, 0);
		if (used != lines * 57 || memcmp(enc, wrapped, m))
			fails++;
	}
	tap_is_int(fails, 0, "%s: 76-column MIME lines equal the wrapped scalar encoding",
	           mp_simd_name(lvl));
	tap_is_int(dfails, 0, "%s: decode round trip 0..2048", mp_simd_name(lvl));
	tap_is_int(wfails, 0, "%s: decode of 76-column LF/CRLF input", mp_simd_name(lvl));
	tap_is_int(cfails, 0, "%s: decode fed in random pieces", mp_simd_name(lvl));
	tap_is_int(efails, 0, "%s: bad byte located, good blocks kept", mp_simd_name(lvl));

	/* -i: garbage everywhere, including bytes >= 0x80 */
	fails = 0;
	for (int t = 0; t < 300; t++) {
		size_t len = tap_rand() % 600, o = 0;
		for (size_t k = 0; k < len; k++)
			in[k] = (unsigned char)tap_rand();
		n = mp_b64_encode(in, len, enc, 0);
		for (size_t k = 0; k < n; k++) {
			if (tap_rand() % 5 == 0)
				wrapped[o++] = "!\x80 \t\x01\xff*\n"[tap_rand() % 8];
			wrapped[o++] = enc[k];
		}
		if (dec_chunked(wrapped, o, MP_B64_IGNORE, back, &blen, &e, t & 1) || blen != len ||
		    memcmp(back, in, len))
			fails++;
	}
	tap_is_int(fails, 0, "%s: -i skips garbage", mp_simd_name(lvl));
}

static void check_dec(const char *in, unsigned flags, const char *want, int wantrc,
                      long long wantpos)
{
	unsigned char out[256];
	size_t olen;
	struct mp_err e;
	int rc;

	mp_err_clear(&e);
	rc = dec_chunked(in, strlen(in), flags, out, &olen, &e, 0);
	tap_ok(rc == wantrc && olen == strlen(want) && memcmp(out, want, olen) == 0 &&
	           (rc == 0 || e.offset == wantpos),
	       "%s: decode \"%s\" -> rc %d \"%s\" at %lld", mp_simd_name(mp_simd_level()),
	       tap_esc(in), wantrc, tap_esc(want), wantpos);
	if (rc != wantrc || (rc && e.offset != wantpos))
		tap_diag("rc %d, offset %lld, out %.*s (%s)", rc, e.offset, (int)olen, out, e.msg);
}

static void test_rules(void)
{
	check_dec("YQ==YQ==", 0, "aa", 0, 0);
	check_dec("YQ=\n=", 0, "a", 0, 0);
	check_dec("YWJj\r\nYQ==\r\n", 0, "abca", 0, 0);
	check_dec("YR==", 0, "a", 0, 0);
	check_dec("YWJ=", 0, "ab", 0, 0);
	check_dec("YQ=", 0, "", -1, 3);
	check_dec("YQ", 0, "", -1, 2);
	check_dec("YWJjYQ", 0, "abc", -1, 6);
	check_dec("Y===", 0, "", -1, 2);
	check_dec("=", 0, "", -1, 1);
	check_dec("YQ===", 0, "a", -1, 5);
	check_dec("YQ==Y", 0, "a", -1, 5);
	check_dec("YW Jj", 0, "", -1, 3);
	check_dec("YWJj!", 0, "abc", -1, 5);
	check_dec("YQ=a", 0, "", -1, 4);
	check_dec("YW Jj", MP_B64_IGNORE, "abc", 0, 0);
	check_dec("YQ", MP_B64_NOPAD, "a", 0, 0);
	check_dec("YWI", MP_B64_NOPAD, "ab", 0, 0);
	check_dec("Y", MP_B64_NOPAD, "", -1, 1);
	check_dec("-_-_", MP_B64_URL, "\xfb\xff\xbf", 0, 0);
	check_dec("+/+/", MP_B64_URL, "", -1, 1);
	check_dec("-_-_", 0, "", -1, 1);
	tap_is_int(mp_b64_enclen(5, 0), 8, "enclen 5 padded");
	tap_is_int(mp_b64_enclen(5, MP_B64_NOPAD), 7, "enclen 5 unpadded");
	char out[16];
	size_t n = mp_b64_encode("\xfb\xff", 2, out, MP_B64_URL | MP_B64_NOPAD);
	tap_is_mem(out, n, "-_8", 3, "url unpadded encode");
}

/* ---------------------------------------------------------------- QP */

static size_t qp_enc(const unsigned char *in, size_t n, char *out, unsigned flags, int chunky)
{
	struct mp_qpenc q;
	size_t i = 0, o = 0;

	mp_qpenc_init(&q, flags);
	while (i < n) {
		size_t k = chunky ? 1 + tap_rand() % 50 : n - i;
		if (k > n - i)
			k = n - i;
		o += mp_qpenc_update(&q, in + i, k, out + o);
		i += k;
	}
	return o + mp_qpenc_final(&q, out + o);
}

static int qp_dec(const char *in, size_t n, unsigned char *out, size_t *olen, unsigned flags,
                  struct mp_err *e, int chunky)
{
	struct mp_qpdec q;
	size_t i = 0, w;

	*olen = 0;
	mp_qpdec_init(&q, flags);
	while (i < n) {
		size_t k = chunky ? 1 + tap_rand() % 50 : n - i;
		if (k > n - i)
			k = n - i;
		if (mp_qpdec_update(&q, in + i, k, out + *olen, &w, e) < 0) {
			*olen += w;
			return -1;
		}
		*olen += w;
		i += k;
	}
	if (mp_qpdec_final(&q, out + *olen, &w, e) < 0)
		return -1;
	*olen += w;
	return 0;
}

static int lines_ok(const char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			col = 0;
			continue;
		}
		if (s[i] != '\r' && ++col > MP_QP_LINE)
			return 0;
		if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
			return 0; /* a bare CR must never be written */
		/* no whitespace right before a line break */
		if ((s[i] == ' ' || s[i] == '\t') &&
		    (i + 1 == n || s[i + 1] == '\n' || s[i + 1] == '\r'))
			return 0;
	}
	return 1;
}

static void test_qp(void)
{
	static unsigned char in[8192], back[8192];
	static char enc[8192 * 4];
	struct mp_err e;
	size_t n, blen;
	int rt = 0, shape = 0;

	n = qp_enc((const unsigned char *)"caf\xc3\xa9 = ok \n", 12, enc, 0, 0);
	tap_is_mem(enc, n, "caf=C3=A9 =3D ok=20\n", 20, "QP: 8-bit, '=' and trailing space");
	n = qp_enc((const unsigned char *)"a\r\nb", 4, enc, MP_QP_CRLF, 0);
	tap_is_mem(enc, n, "a\r\nb=\r\n", 7, "QP --crlf: CRLF is a hard break");
	n = qp_enc((const unsigned char *)"a\nb\r", 4, enc, MP_QP_CRLF, 0);
	tap_is_mem(enc, n, "a=0Ab=0D=\r\n", 11, "QP --crlf: lone LF and CR encoded");
	n = qp_enc((const unsigned char *)"a\r\n", 3, enc, 0, 0);
	tap_is_mem(enc, n, "a=0D\n", 5, "QP: CR before LF encoded in LF mode");
	memset(in, 'x', 200);
	n = qp_enc(in, 200, enc, 0, 0);
	tap_ok(lines_ok(enc, n) && n > 200, "QP: long line gets soft breaks at 76");
	for (int t = 0; t < 400; t++) {
		size_t len = tap_rand() % 3000;
		unsigned flags = (t & 1) ? MP_QP_CRLF : 0;
		for (size_t k = 0; k < len; k++) {
			unsigned r = tap_rand();
			/* text-like for half of the runs, binary for the rest */
			in[k] = (t & 2) ? (unsigned char)r : " \t\r\n=xyz.AB"[r % 11];
		}
		n = qp_enc(in, len, enc, flags, t & 4);
		if (!lines_ok(enc, n))
			shape++;
		if (qp_dec(enc, n, back, &blen, 0, &e, t & 8) || blen != len ||
		    memcmp(back, in, len))
			rt++;
	}
	tap_is_int(shape, 0, "QP: lines <= 76, no trailing space, no bare CR (400 inputs)");
	tap_is_int(rt, 0, "QP: lossless round trip of text and binary, both modes");

	const char *soft = "abc=\ndef=  \r\nghi=3d=3D=c3=A9 \t\nend";
	tap_ok(qp_dec(soft, strlen(soft), back, &blen, 0, &e, 0) == 0, "QP decode RFC forms");
	tap_is_mem(back, blen, "abcdefghi==\xc3\xa9\nend", 17,
	           "soft breaks, lower-case hex, trailing ws");
	tap_is_int(qp_dec("ab=4G", 5, back, &blen, 0, &e, 0), -1, "QP bad escape");
	tap_is_int(e.offset, 5, "at the bad digit");
	tap_is_int(qp_dec("ab=4G", 5, back, &blen, MP_QP_IGNORE, &e, 0), 0, "QP -i keeps it");
	tap_is_mem(back, blen, "ab=4G", 5, "literally");
	tap_is_int(qp_dec("ab\x01", 3, back, &blen, 0, &e, 0), -1, "QP control byte refused");
	tap_is_int(e.offset, 3, "at byte 3");
	tap_is_int(qp_dec("a\rb", 3, back, &blen, 0, &e, 0), -1, "QP bare CR refused");
	tap_is_int(e.offset, 2, "at the CR");
	tap_is_int(qp_dec("ab=4", 4, back, &blen, 0, &e, 0), -1, "QP truncated escape");
	tap_is_int(qp_dec("x=", 2, back, &blen, 0, &e, 0), 0, "QP '=' at the end is a soft break");
}

/* malformed and well-formed QP alike: every level decodes exactly as the
 * scalar code does, error position included */
static void test_qp_vs_scalar(int lvl)
{
	static const char alpha[] = "=A3f \t\r\nx\x01\xc3"
	                            "D0";
	static char in[2048];
	static unsigned char a[4096], b[4096];
	int diff = 0;

	for (int t = 0; t < 3000; t++) {
		size_t len = tap_rand() % 600, alen, blen;
		unsigned flags = (t & 1) ? MP_QP_IGNORE : 0;
		struct mp_err ea, eb;
		int ra, rb;
		for (size_t k = 0; k < len; k++) {
			/* mostly clean text with escapes, some noise */
			unsigned r = tap_rand() % 100;
			in[k] = r < 60 ? (char)('a' + r % 26) : alpha[r % (sizeof alpha - 1)];
		}
		mp_err_clear(&ea);
		mp_err_clear(&eb);
		mp_simd_set(MP_SIMD_SCALAR);
		ra = qp_dec(in, len, a, &alen, flags, &ea, t & 2);
		mp_simd_set(lvl);
		rb = qp_dec(in, len, b, &blen, flags, &eb, t & 2);
		if (ra != rb || alen != blen || memcmp(a, b, alen) || ea.offset != eb.offset)
			diff++;
	}
	tap_is_int(diff, 0, "%s: QP decode equals scalar on 3000 noisy inputs", mp_simd_name(lvl));
}

/* IMAP mailbox names in modified UTF-7 (RFC 3501 5.1.3) */
static void test_mutf7(void)
{
	static const struct {
		const char *in, *out; /* out NULL: not valid */
	} t[] = {
	    {"INBOX", "INBOX"},
	    {"&AOk-t&AOk-", "\xc3\xa9t\xc3\xa9"},
	    {"A&-B", "A&B"},
	    {"&ZeVnLIqe-", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
	    {"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	     "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
	    {"&2D3eAA-", "\xf0\x9f\x98\x80"}, /* a surrogate pair: U+1F600 */
	    {"&AOk", NULL},                   /* no '-' */
	    {"&-&AGE-", NULL},                /* 'a' needs no shift */
	    {"&2D0-", NULL},                  /* a lone high half */
	    {"a\x1b", NULL},                  /* a control character */
	    {"\xc3\xa9", NULL},               /* 8-bit */
	    {"&AOl-", NULL},                  /* padding bits not zero */
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct mp_buf b = MP_BUF_INIT;
		int r = mp_mutf7_decode(t[i].in, &b);
		if (t[i].out)
			tap_ok(r == 0 && b.data && strcmp(b.data, t[i].out) == 0, "mutf7 %s",
			       t[i].in);
		else
			tap_is_int(r, -1, "mutf7 %zu refused", i);
		mp_buf_free(&b);
	}
}

int main(void)
{
	test_mutf7();
	for (int lvl = 0; lvl < MP_SIMD_COUNT; lvl++) {
		if (!mp_simd_supported(lvl)) {
			tap_diag("%s: not available on this CPU or build", mp_simd_name(lvl));
			continue;
		}
		test_level(lvl);
	}
	mp_simd_set(MP_SIMD_SCALAR);
	test_rules();
	for (int lvl = 0; lvl < MP_SIMD_COUNT; lvl++)
		if (mp_simd_supported(lvl)) {
			mp_simd_set(lvl);
			test_rules();
		}
	for (int lvl = 0; lvl < MP_SIMD_COUNT; lvl++)
		if (mp_simd_supported(lvl)) {
			mp_simd_set(lvl);
			tap_diag("quoted-printable with %s", mp_simd_name(lvl));
			test_qp();
			test_qp_vs_scalar(lvl);
		}
	tap_is_int(mp_simd_parse("avx2"), MP_SIMD_AVX2, "level names parse");
	tap_is_int(mp_simd_parse("neon"), -1, "unknown level name");
	return tap_done();
}
