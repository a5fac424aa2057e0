#include "hdr.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

int mp_utf8_repair(const char *s, size_t n, struct mp_buf *out)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		int bad;
		size_t len = mp_utf8_next(u + i, n - i, &bad);
		if (bad ? mp_buf_append(out, "\xef\xbf\xbd", 3) : mp_buf_append(out, u + i, len))
			return -1;
		i += len;
	}
	return 0;
}

/* is c safe unencoded in a Q encoded-word anywhere (RFC 2047 §5 (3)) */
static int q_safe(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

#define WORD_MAX  75
#define WORD_HEAD "=?UTF-8?"

int mp_hdr_encode_words(const char *s, size_t n, unsigned flags, struct mp_buf *out,
                        struct mp_err *e)
{
	const unsigned char *u = (const unsigned char *)s;
	int q = (flags & MP_HDR_Q) != 0;
	/* text room inside one word: 75 minus "=?UTF-8?B?" and "?=" */
	const size_t room = WORD_MAX - (sizeof WORD_HEAD - 1) - 2 - 2;
	size_t i = 0, words = 0;

	while (i < n) {
		size_t start = i, used = 0, len;
		char enc[WORD_MAX];

		/* take whole characters while the encoded text fits */
		while (i < n) {
			size_t cost = 0;
			len = mp_utf8_len(u + i, n - i);
			if (!len) {
				mp_err_set(e, EX_DATAERR, "not UTF-8 at byte %zu", i + 1);
				if (e)
					e->offset = (long long)i + 1;
				return -1;
			}
			if (q) {
				for (size_t k = 0; k < len; k++)
					cost += (q_safe(u[i + k]) || u[i + k] == ' ') ? 1 : 3;
				if (used + cost > room)
					break;
			} else if (mp_b64_enclen(i + len - start, 0) > room) {
				break;
			}
			used += cost;
			i += len;
		}
		if (words++ && mp_buf_append(out, "\n ", 2))
			goto nomem;
		if (mp_buf_puts(out, q ? WORD_HEAD "Q?" : WORD_HEAD "B?"))
			goto nomem;
		if (q) {
			for (size_t k = start; k < i; k++) {
				static const char hex[] = "0123456789ABCDEF";
				if (q_safe(u[k]))
					mp_buf_putc(out, u[k]);
				else if (u[k] == ' ')
					mp_buf_putc(out, '_');
				else if (mp_buf_putc(out, '=') ||
				         mp_buf_putc(out, hex[u[k] >> 4]) ||
				         mp_buf_putc(out, hex[u[k] & 15]))
					goto nomem;
			}
		} else {
			len = mp_b64_encode(u + start, i - start, enc, 0);
			if (mp_buf_append(out, enc, len))
				goto nomem;
		}
		if (mp_buf_puts(out, "?="))
			goto nomem;
	}
	return 0;
nomem:
	return mp_err_sys(e, EX_TEMPFAIL, "encoding words");
}

int mp_charset_to_utf8(const char *charset, const char *s, size_t n, unsigned flags,
                       struct mp_buf *out, struct mp_err *e)
{
	iconv_t cd;
	char *in = (char *)s;
	size_t left = n;

	if (strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "us-ascii") == 0 ||
	    strcasecmp(charset, "utf8") == 0) {
		/* still check it: a mislabelled header must not pass as UTF-8 */
		if (!(flags & MP_HDR_IGNORE))
			for (size_t i = 0, len; i < n; i += len)
				if (!(len = mp_utf8_len((const unsigned char *)s + i, n - i)))
					return mp_err_set(e, EX_DATAERR, "invalid %s text",
					                  charset);
		if (mp_utf8_repair(s, n, out))
			return mp_err_sys(e, EX_TEMPFAIL, "decoding");
		return 0;
	}
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1) {
		if (flags & MP_HDR_IGNORE)
			return mp_charset_to_utf8("utf-8", s, n, flags, out, e);
		return mp_err_set(e, EX_DATAERR, "unknown charset \"%s\"", charset);
	}
	while (left > 0) {
		char buf[512], *o = buf;
		size_t room = sizeof buf;
		size_t r = iconv(cd, &in, &left, &o, &room);
		int err = errno;
		if (mp_buf_append(out, buf, (size_t)(o - buf)))
			goto nomem;
		if (r != (size_t)-1 || err == E2BIG)
			continue;
		if (!(flags & MP_HDR_IGNORE)) {
			iconv_close(cd);
			return mp_err_set(e, EX_DATAERR, "invalid %s text", charset);
		}
		if (mp_buf_puts(out, "\xef\xbf\xbd"))
			goto nomem;
		in++;
		left--;
	}
	iconv_close(cd);
	return 0;
nomem:
	iconv_close(cd);
	return mp_err_sys(e, EX_TEMPFAIL, "decoding");
}

/* Parse one encoded-word at s; on success fill the parts and return its
 * length, else 0. */
struct eword {
	const char *cs, *text;
	size_t cslen, textlen;
	char enc;
};

static size_t parse_eword(const char *s, size_t n, struct eword *w)
{
	size_t i = 2, k;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	w->cs = s + 2;
	while (i < n && s[i] != '?' && s[i] > ' ' && s[i] < 127)
		i++;
	if (i + 4 > n || s[i] != '?' || i == 2)
		return 0;
	w->cslen = i - 2;
	w->enc = s[i + 1];
	if (!strchr("BbQq", w->enc) || s[i + 2] != '?')
		return 0;
	w->text = s + i + 3;
	for (k = i + 3; k + 1 < n; k++) {
		if (s[k] == '?' && s[k + 1] == '=')
			break;
		/* RFC 2047 §2: no "?" and no white space in encoded-text */
		if (s[k] == '?' || s[k] <= ' ' || s[k] >= 127)
			return 0;
	}
	if (k + 1 >= n)
		return 0;
	w->textlen = (size_t)(k - (i + 3));
	return k + 2;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int decode_text(const struct eword *w, struct mp_buf *raw)
{
	if (w->enc == 'B' || w->enc == 'b') {
		struct mp_b64dec d;
		size_t cap = mp_b64dec_maxout(w->textlen), n1, n2;

		if (mp_buf_reserve(raw, cap + 8))
			return -1;
		mp_b64dec_init(&d, MP_B64_NOPAD);
		if (mp_b64dec_update(&d, w->text, w->textlen, raw->data + raw->len, &n1, NULL) ||
		    mp_b64dec_final(&d, raw->data + raw->len + n1, &n2, NULL))
			return 1;
		raw->len += n1 + n2;
		return 0;
	}
	for (size_t k = 0; k < w->textlen; k++) {
		char c = w->text[k];
		if (c == '_') {
			c = ' ';
		} else if (c == '=') {
			int h1, h2;
			if (k + 2 >= w->textlen)
				return 1;
			h1 = hexval(w->text[k + 1]);
			h2 = hexval(w->text[k + 2]);
			if (h1 < 0 || h2 < 0)
				return 1;
			c = (char)(h1 << 4 | h2);
			k += 2;
		}
		if (mp_buf_putc(raw, c))
			return -1;
	}
	return 0;
}

int mp_hdr_decode_words(const char *s, size_t n, unsigned flags, struct mp_buf *out,
                        struct mp_err *e)
{
	struct mp_buf raw = MP_BUF_INIT;
	char cs[64] = "";
	size_t i = 0, lit = 0, wsstart = 0;
	int prev_word = 0, rc = -1;

	while (i < n) {
		struct eword w;
		size_t len = (s[i] == '=') ? parse_eword(s + i, n - i, &w) : 0;

		if (len) {
			char wcs[64];
			size_t l = w.cslen;
			const char *star = memchr(w.cs, '*', l); /* RFC 2231 language */
			struct mp_buf dec = MP_BUF_INIT;
			int r;

			if (star)
				l = (size_t)(star - w.cs);
			if (l >= sizeof wcs)
				len = 0;
			if (len) {
				memcpy(wcs, w.cs, l);
				wcs[l] = '\0';
				r = decode_text(&w, &dec);
				if (r < 0) {
					mp_buf_free(&dec);
					goto nomem;
				}
				if (r > 0) {
					mp_buf_free(&dec);
					len = 0; /* malformed: literal text */
				}
			}
			if (len) {
				/* text since the last word, unless only whitespace
				 * between two words */
				int only_ws = prev_word && wsstart == lit;
				if (!only_ws || strcasecmp(cs, wcs) != 0) {
					if (raw.len && mp_charset_to_utf8(cs, raw.data, raw.len,
					                                  flags, out, e) < 0) {
						mp_buf_free(&dec);
						goto fail;
					}
					mp_buf_reset(&raw);
					if (!only_ws && mp_buf_append(out, s + lit, i - lit)) {
						mp_buf_free(&dec);
						goto nomem;
					}
					memcpy(cs, wcs, l + 1);
				}
				if (mp_buf_append(&raw, dec.data ? dec.data : "", dec.len)) {
					mp_buf_free(&dec);
					goto nomem;
				}
				mp_buf_free(&dec);
				i += len;
				lit = wsstart = i;
				prev_word = 1;
				continue;
			}
		}
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
			/* a non-space breaks the run of words */
			if (prev_word) {
				if (raw.len &&
				    mp_charset_to_utf8(cs, raw.data, raw.len, flags, out, e) < 0)
					goto fail;
				mp_buf_reset(&raw);
				prev_word = 0;
			}
			wsstart = i + 1;
		}
		i++;
	}
	if (raw.len && mp_charset_to_utf8(cs, raw.data, raw.len, flags, out, e) < 0)
		goto fail;
	if (mp_buf_append(out, s + lit, n - lit))
		goto nomem;
	rc = 0;
	goto done;
nomem:
	mp_err_sys(e, EX_TEMPFAIL, "decoding words");
fail:
	rc = -1;
done:
	mp_buf_free(&raw);
	return rc;
}
