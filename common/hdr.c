#include "hdr.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

int mp_utf8_repair(const char *s, size_t n, struct mp_buf *out)
{
	const unsigned char *u = (const unsigned char *)s;

	size_t run = 0; /* the start of the good characters not yet appended */

	for (size_t i = 0; i < n;) {
		int bad;
		size_t len = u[i] < 0x80 ? 1 : mp_utf8_next(u + i, n - i, &bad);
		if (u[i] >= 0x80 && bad) {
			if ((i > run && mp_buf_append(out, u + run, i - run)) ||
			    mp_buf_append(out, "\xef\xbf\xbd", 3))
				return -1;
			run = i + len;
		}
		i += len;
	}
	return n > run && mp_buf_append(out, u + run, n - run) ? -1 : 0;
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

/* Converters to UTF-8 are kept open, a few charsets' worth: opening one
 * loads its module again each time, and that cost more than the rest of
 * reading a header (mparse --scan of a Maildir). An entry in use is taken
 * out, so that threads never share one. */
#define ICONV_CACHE 8
static struct {
	char name[48];
	iconv_t cd;
	int busy;
} conv_cache[ICONV_CACHE];
static unsigned conv_next;
static pthread_mutex_t conv_lock = PTHREAD_MUTEX_INITIALIZER;

/* a converter from charset, reset; *slot its cache entry or -1 (the
 * caller closes it) */
static iconv_t conv_get(const char *charset, int *slot)
{
	iconv_t cd;

	*slot = -1;
	pthread_mutex_lock(&conv_lock);
	for (int i = 0; i < ICONV_CACHE; i++)
		if (!conv_cache[i].busy && conv_cache[i].name[0] &&
		    strcasecmp(conv_cache[i].name, charset) == 0) {
			conv_cache[i].busy = 1;
			pthread_mutex_unlock(&conv_lock);
			iconv(conv_cache[i].cd, NULL, NULL, NULL, NULL);
			*slot = i;
			return conv_cache[i].cd;
		}
	pthread_mutex_unlock(&conv_lock);
	cd = iconv_open("UTF-8", charset);
	/* an empty name (the locale's charset to iconv) is not kept: an
	 * entry without a name is a free one, and was overwritten unclosed */
	if (cd == (iconv_t)-1 || !*charset || strlen(charset) >= sizeof conv_cache[0].name)
		return cd;
	pthread_mutex_lock(&conv_lock);
	for (int k = 0; k < ICONV_CACHE; k++) {
		int i = (int)(conv_next++ % ICONV_CACHE);
		if (conv_cache[i].busy)
			continue;
		if (conv_cache[i].name[0])
			iconv_close(conv_cache[i].cd);
		snprintf(conv_cache[i].name, sizeof conv_cache[i].name, "%s", charset);
		conv_cache[i].cd = cd;
		conv_cache[i].busy = 1;
		*slot = i;
		break;
	}
	pthread_mutex_unlock(&conv_lock);
	return cd;
}

static void conv_put(iconv_t cd, int slot)
{
	if (slot < 0) {
		iconv_close(cd);
		return;
	}
	pthread_mutex_lock(&conv_lock);
	conv_cache[slot].busy = 0;
	pthread_mutex_unlock(&conv_lock);
}

int mp_charset_to_utf8(const char *charset, const char *s, size_t n, unsigned flags,
                       struct mp_buf *out, struct mp_err *e)
{
	iconv_t cd;
	int slot;
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
	if (strcasecmp(charset, "iso-8859-1") == 0 || strcasecmp(charset, "latin1") == 0) {
		/* every byte is the code point of the same number: no iconv */
		if (mp_buf_reserve(out, 2 * n))
			return mp_err_sys(e, EX_TEMPFAIL, "decoding");
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 0x80) {
				out->data[out->len++] = (char)c;
			} else {
				out->data[out->len++] = (char)(0xc0 | c >> 6);
				out->data[out->len++] = (char)(0x80 | (c & 0x3f));
			}
		}
		out->data[out->len] = '\0';
		return 0;
	}
	cd = conv_get(charset, &slot);
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
			conv_put(cd, slot);
			return mp_err_set(e, EX_DATAERR, "invalid %s text", charset);
		}
		if (mp_buf_puts(out, "\xef\xbf\xbd"))
			goto nomem;
		in++;
		left--;
	}
	conv_put(cd, slot);
	return 0;
nomem:
	conv_put(cd, slot);
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
			if (l == 0 || l >= sizeof wcs)
				len = 0; /* "=?*en?..." names no charset: not a word */
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

/* ---------------------------------------------------------------- fields */

size_t mp_hdr_field_name(const char *s, size_t n, size_t *value)
{
	size_t i = 0, j;

	while (i < n && s[i] > ' ' && s[i] < 127 && s[i] != ':')
		i++;
	for (j = i; j < n && (s[j] == ' ' || s[j] == '\t');)
		j++;
	if (i == 0 || j == n || s[j] != ':')
		return 0;
	if (value)
		*value = j + 1;
	return i;
}

int mp_hdr_field_name_is(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	return mp_hdr_field_name(line, n, NULL) == k && strncasecmp(line, name, k) == 0;
}

static int blank_line(const char *s, size_t n)
{
	return (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n');
}

void mp_hdr_reader_init(struct mp_hdr_reader *r)
{
	r->curlen = r->donelen = 0;
	r->curcut = r->have = r->end = r->in_bad = 0;
}

static void reader_add(struct mp_hdr_reader *r, const char *s, size_t n)
{
	size_t room = MP_HDR_FIELD_MAX - r->curlen;

	if (n > room) {
		n = room;
		r->curcut = 1;
	}
	memcpy(r->cur + r->curlen, s, n);
	r->curlen += n;
}

/* the field in hand is complete: it becomes the one to look at */
static void reader_finish(struct mp_hdr_reader *r)
{
	if (r->curlen && !r->curcut) {
		memcpy(r->done, r->cur, r->curlen);
		r->donelen = r->curlen;
		r->have = 1;
	}
	r->curlen = 0;
	r->curcut = 0;
}

int mp_hdr_reader_feed(struct mp_hdr_reader *r, const char *seg, size_t n, int bol)
{
	r->have = 0;
	if (r->end)
		return MP_HDR_END;
	if (!bol) {
		if (r->in_bad)
			return MP_HDR_BAD;
		reader_add(r, seg, n);
		return MP_HDR_MORE;
	}
	if (blank_line(seg, n)) {
		reader_finish(r);
		r->end = 1;
		return MP_HDR_END;
	}
	if (n && (seg[0] == ' ' || seg[0] == '\t')) {
		if (r->in_bad || !r->curlen)
			return MP_HDR_BAD; /* folded onto no field */
		/* unfolding: the line break goes, the blank stays */
		while (r->curlen &&
		       (r->cur[r->curlen - 1] == '\n' || r->cur[r->curlen - 1] == '\r'))
			r->curlen--;
		reader_add(r, seg, n);
		return MP_HDR_MORE;
	}
	reader_finish(r);
	r->in_bad = !mp_hdr_field_name(seg, n, NULL);
	if (r->in_bad)
		return MP_HDR_BAD;
	reader_add(r, seg, n);
	return MP_HDR_FIELD;
}

void mp_hdr_reader_end(struct mp_hdr_reader *r)
{
	r->have = 0;
	if (!r->end)
		reader_finish(r);
	r->end = 1;
}

const char *mp_hdr_reader_get(struct mp_hdr_reader *r, const char *name)
{
	size_t v, e = r->donelen;

	if (!r->have || !mp_hdr_field_name_is(r->done, r->donelen, name))
		return NULL;
	mp_hdr_field_name(r->done, r->donelen, &v);
	while (v < e && (r->done[v] == ' ' || r->done[v] == '\t'))
		v++;
	while (e > v && (r->done[e - 1] == '\n' || r->done[e - 1] == '\r' ||
	                 r->done[e - 1] == ' ' || r->done[e - 1] == '\t'))
		e--;
	r->done[e] = '\0';
	return r->done + v;
}

int mp_hdr_find(const char *buf, size_t n, const char *name, struct mp_buf *value)
{
	return mp_hdr_find_nth(buf, n, name, 0, value);
}

int mp_hdr_find_nth(const char *buf, size_t n, const char *name, int nth, struct mp_buf *value)
{
	struct mp_hdr_reader r;
	const char *v = NULL;
	size_t i = 0;

	mp_hdr_reader_init(&r);
	while (i < n && !v && !r.end) {
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
		mp_hdr_reader_feed(&r, buf + i, len, 1);
		v = mp_hdr_reader_get(&r, name);
		if (v && nth-- > 0)
			v = NULL;
		i += len;
	}
	if (!v && !r.end && nth <= 0) {
		mp_hdr_reader_end(&r);
		v = mp_hdr_reader_get(&r, name);
	}
	if (!v)
		return 0;
	mp_buf_reset(value);
	return mp_buf_append(value, v, strlen(v)) < 0 ? -1 : 1;
}

/* past blanks, line ends and (nested) comments from i */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		if (depth && s[i] == '\\')
			i++; /* a quoted-pair */
		else if (s[i] == '(')
			depth++;
		else if (depth && s[i] == ')')
			depth--;
		else if (!depth && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			break;
	}
	return i < n ? i : n;
}

int mp_hdr_msgid(const char *v, size_t n, char *out, size_t outn)
{
	size_t i = skip_cfws(v, n, 0), o = 0;
	const char *gt = i < n && v[i] == '<' ? memchr(v + i, '>', n - i) : NULL;

	if (outn == 0)
		return 0;
	if (gt) {
		for (; v + i <= gt; i++) {
			if (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')
				continue;
			if (o + 1 >= outn)
				return out[0] = '\0', 0;
			out[o++] = v[i];
		}
		out[o] = '\0';
		return o > 2 ? 1 : (out[0] = '\0', 0); /* "<>" is none */
	}
	/* no brackets (a broken mailer's): the first word */
	for (; i < n && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' && v[i] != '\n' && v[i] != '(';
	     i++) {
		if (o + 1 >= outn)
			return out[0] = '\0', 0;
		out[o++] = v[i];
	}
	out[o] = '\0';
	return o > 0;
}
