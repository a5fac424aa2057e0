/* param: the parameters of a structured header value (RFC 2045 5.1,
 * RFC 2231 continuations and charset'lang'value) and its leading token;
 * declared in mime.h, the model's one face. */
#include "mime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdr.h"

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int hexv(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* one parameter value: quoted string or token, starting at *p */
static size_t take_value(const char **p, char *out, size_t n)
{
	const char *s = *p;
	size_t o = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			if (o + 1 < n)
				out[o++] = *s;
		}
		if (*s == '"')
			s++;
	} else {
		while (*s && *s != ';' && *s != ' ' && *s != '\t') {
			if (o + 1 < n)
				out[o++] = *s;
			s++;
		}
	}
	out[o] = '\0';
	*p = s;
	return o;
}

/* the next ';' that separates parameters: not one inside a quoted string */
static const char *next_semi(const char *s)
{
	int quoted = 0;

	for (; *s; s++) {
		if (quoted && *s == '\\' && s[1])
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (*s == ';' && !quoted)
			return s;
	}
	return NULL;
}

int mp_param_get(const char *value, const char *name, char *out, size_t n)
{
	/* name=..., name*=charset'lang'pct-encoded, name*0=..., name*1*=... */
	struct mp_buf acc = MP_BUF_INIT;
	char charset[64] = "";
	/* a piece is never longer than the value it comes from: whole, so
	 * that a long file name keeps its end (its extension) */
	size_t pn = value ? strlen(value) + 1 : 1;
	char *piece = mp_xmalloc(pn);
	size_t nl = strlen(name);
	int found = 0, ext = 0;

	out[0] = '\0';
	for (int seq = -1; seq < 100; seq++) {
		int got = 0;
		for (const char *p = value ? next_semi(value) : NULL; p && *p; p = next_semi(p)) {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			if (strncasecmp(p, name, nl) != 0)
				continue;
			const char *q = p + nl;
			int star = 0, idx = -1;
			if (*q == '*' && isdigit((unsigned char)q[1])) {
				idx = atoi(q + 1);
				q++;
				while (isdigit((unsigned char)*q))
					q++;
			}
			if (*q == '*') {
				star = 1;
				q++;
			}
			while (*q == ' ' || *q == '\t')
				q++; /* "name = value" */
			if (*q != '=' || idx != seq)
				continue;
			q++;
			take_value(&q, piece, pn);
			const char *v = piece;
			if (star && (seq <= 0)) {
				/* charset'language'value */
				const char *a = strchr(piece, '\''),
				           *b = a ? strchr(a + 1, '\'') : NULL;
				if (a && b) {
					snprintf(charset, sizeof charset, "%.*s", (int)(a - piece),
					         piece);
					v = b + 1;
				}
			}
			if (star) {
				ext = 1;
				for (const char *c = v; *c; c++) {
					if (*c == '%' && hexv((unsigned char)c[1]) >= 0 &&
					    hexv((unsigned char)c[2]) >= 0) {
						mp_buf_putc(&acc, hexv((unsigned char)c[1]) << 4 |
						                      hexv((unsigned char)c[2]));
						c += 2;
					} else {
						mp_buf_putc(&acc, *c);
					}
				}
			} else {
				mp_buf_puts(&acc, v);
			}
			got = found = 1;
			break;
		}
		if (seq >= 0 && !got)
			break;
		if (seq == -1 && got)
			break; /* a plain name= or name*=: no continuations */
	}
	if (found) {
		if (ext && charset[0]) {
			struct mp_buf u = MP_BUF_INIT;
			if (mp_charset_to_utf8(charset, acc.data ? acc.data : "", acc.len,
			                       MP_HDR_IGNORE, &u, NULL) == 0)
				snprintf(out, n, "%s", u.data ? u.data : "");
			mp_buf_free(&u);
		} else {
			/* some mailers put encoded-words in parameters */
			struct mp_buf u = MP_BUF_INIT;
			mp_hdr_decode_words(acc.data ? acc.data : "", acc.len, MP_HDR_IGNORE, &u,
			                    NULL);
			snprintf(out, n, "%s", u.data ? u.data : "");
			mp_buf_free(&u);
		}
	}
	mp_buf_free(&acc);
	free(piece);
	return found ? 0 : -1;
}

void mp_mime_token(const char *value, char *out, size_t n)
{
	const char *v = value ? value : "";
	size_t k;

	v += strspn(v, " \t");
	k = strcspn(v, " \t;(");
	snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), v);
	lower(out);
}
