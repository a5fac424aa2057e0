/* digest: a digest burst into its messages, and one made of messages.
 * The header blocks are read by mime.c, the boundaries tested by its
 * mp_mime_boundary_line, the fields of the table of contents by hdr.c
 * and date.c. */
#include "digest.h"

#include <stdio.h>
#include <string.h>

#include "date.h"
#include "hdr.h"
#include "mime.h"

static int blank(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n');
}

/* where the body of the entity at buf starts (past the blank line); its
 * header parsed into h */
static size_t header_of(const char *buf, size_t n, struct mp_header *h)
{
	const char *line;
	size_t i = 0, len;

	while ((len = mp_line_next(buf, n, &i, &line)) > 0 && !blank(line, len))
		;
	mp_mime_header_parse(buf, i, h);
	return i;
}

struct burst {
	mp_digest_fn fn;
	void *ctx;
	struct mp_err *e;
	long count;
};

static int entity(struct burst *b, const char *buf, size_t n, int in_digest, int depth);

/* the body parts of a multipart with boundary bnd (body at buf), each to
 * entity() */
static int parts(struct burst *b, const char *buf, size_t n, const char *bnd, int digest, int depth)
{
	const char *line, *start = NULL;
	size_t i = 0, len;
	int close;

	while ((len = mp_line_next(buf, n, &i, &line)) > 0) {
		if (!mp_mime_boundary_line(line, len, bnd, &close))
			continue;
		if (start) {
			/* the line end before the delimiter is the delimiter's */
			const char *end = line;
			if (end > start && end[-1] == '\n')
				end--;
			if (end > start && end[-1] == '\r')
				end--;
			if (entity(b, start, (size_t)(end - start), digest, depth + 1) < 0)
				return -1;
		}
		if (close)
			return 0;
		start = buf + i;
	}
	return 0; /* no closing delimiter: the last part is left out, as unsure */
}

/* RFC 1153: the messages between the lines of 30 '-' */
static int text_digest(struct burst *b, const char *buf, size_t n)
{
	const char *line, *start = NULL;
	size_t i = 0, len;

	while ((len = mp_line_next(buf, n, &i, &line)) > 0) {
		size_t l = len;
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			l--;
		int dashes = l == 30 || l == 70;
		for (size_t k = 0; k < l && dashes; k++)
			dashes = line[k] == '-';
		if (!dashes || (l == 70 && start))
			continue;
		if (start) {
			const char *s = start, *end = line, *fl;
			size_t j = 0, fll;
			/* the blank lines after the separator, and the one before */
			while ((fll = mp_line_next(s, (size_t)(end - s), &j, &fl)) > 0 &&
			       blank(fl, fll))
				s += fll, j = 0;
			const char *p = end;
			if (p > s && p[-1] == '\n') {
				const char *q = p - 1;
				if (q > s && q[-1] == '\r')
					q--;
				if (q > s && q[-1] == '\n')
					end = q;
			}
			/* a message starts with a header field; the trailer does not */
			if (end > s && mp_hdr_field_name(s, (size_t)(end - s), NULL)) {
				b->count++;
				if (b->fn(b->ctx, s, (size_t)(end - s)) < 0)
					return -1;
			}
		}
		start = buf + i;
	}
	return 0;
}

static int entity(struct burst *b, const char *buf, size_t n, int in_digest, int depth)
{
	struct mp_header h;
	char type[128], bnd[200];
	size_t body = header_of(buf, n, &h);
	int rc = 0;

	mp_mime_token(mp_field_get(&h, "Content-Type"), type, sizeof type);
	if (!type[0] && in_digest)
		snprintf(type, sizeof type, "message/rfc822");
	if (strcmp(type, "message/rfc822") == 0 && in_digest) {
		b->count++;
		rc = b->fn(b->ctx, buf + body, n - body);
	} else if (strncmp(type, "multipart/", 10) == 0 && depth < MP_DIGEST_DEPTH &&
	           mp_param_get(mp_field_get(&h, "Content-Type"), "boundary", bnd, sizeof bnd) ==
	               0 &&
	           bnd[0]) {
		rc = parts(b, buf + body, n - body, bnd, strcmp(type, "multipart/digest") == 0,
		           depth);
	} else if (depth == 0 && (!type[0] || strcmp(type, "text/plain") == 0)) {
		rc = text_digest(b, buf + body, n - body);
	}
	mp_header_free(&h);
	return rc;
}

long mp_digest_burst(const char *buf, size_t n, mp_digest_fn fn, void *ctx, struct mp_err *e)
{
	struct burst b = {.fn = fn, .ctx = ctx, .e = e};

	if (entity(&b, buf, n, 0, 0) < 0)
		return -1;
	if (b.count == 0)
		return mp_err_set(
		    e, EX_DATAERR,
		    "no digest (a multipart/digest or an RFC 1153 digest) with messages");
	return b.count;
}

/* ---- making one */

/* a message without its leading "From " line */
static void strip_from(const char **p, size_t *n)
{
	if (*n >= 5 && memcmp(*p, "From ", 5) == 0) {
		const char *nl = memchr(*p, '\n', *n);
		size_t k = nl ? (size_t)(nl - *p) + 1 : *n;
		*p += k;
		*n -= k;
	}
}

static int contains(const char *p, size_t n, const char *s)
{
	size_t l = strlen(s);

	for (const char *q = p; n >= l && (q = memchr(q, s[0], n - (size_t)(q - p) - l + 1)); q++)
		if (memcmp(q, s, l) == 0)
			return 1;
	return 0;
}

/* the decoded value of field name, one line, "" when missing */
static void toc_field(const char *p, size_t n, const char *name, struct mp_buf *out)
{
	struct mp_buf v = MP_BUF_INIT;
	struct mp_err e;

	mp_buf_reset(out);
	mp_err_clear(&e);
	if (mp_hdr_find(p, n, name, &v) > 0 &&
	    mp_hdr_decode_words(v.data, v.len, MP_HDR_IGNORE, out, &e) < 0) {
		mp_buf_reset(out);
		mp_utf8_repair(v.data, v.len, out);
	}
	for (size_t i = 0; i < out->len; i++)
		if ((unsigned char)out->data[i] < 0x20 || out->data[i] == 0x7f)
			out->data[i] = ' ';
	mp_buf_free(&v);
}

int mp_digest_make(const struct mp_digest_msg *m, size_t n, const char *from, const char *subject,
                   time_t date, struct mp_buf *out)
{
	struct mp_buf f = MP_BUF_INIT, s = MP_BUF_INIT, d = MP_BUF_INIT;
	char bnd[64], when[64];
	struct tm tm;
	int ok = 1;

	/* a boundary found in no message */
	for (unsigned k = 0;; k++) {
		int found = 0;
		snprintf(bnd, sizeof bnd, "=_digest-%u", k);
		for (size_t i = 0; i < n && !found; i++)
			found = contains(m[i].p, m[i].n, bnd);
		if (!found)
			break;
	}
	gmtime_r(&date, &tm);
	strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	ok &= mp_buf_printf(out,
	                    "From: %s\nSubject: %s\nDate: %s\nMIME-Version: 1.0\n"
	                    "Content-Type: multipart/digest; boundary=\"%s\"\n\n"
	                    "This is a digest of %zu message%s in MIME format.\n\n"
	                    "--%s\nContent-Type: text/plain; charset=utf-8\n"
	                    "Content-Transfer-Encoding: 8bit\n"
	                    "Content-Description: Table of contents\n\n",
	                    from, subject, when, bnd, n, n == 1 ? "" : "s", bnd) >= 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = m[i].p;
		size_t len = m[i].n;
		struct mp_date dt;
		char dd[64] = "";
		strip_from(&p, &len);
		toc_field(p, len, "From", &f);
		toc_field(p, len, "Subject", &s);
		toc_field(p, len, "Date", &d);
		mp_buf_putc(&d, '\0');
		if (mp_date_parse(d.data, &dt) == 0) {
			struct tm t;
			time_t local = dt.t + dt.off;
			gmtime_r(&local, &t);
			strftime(dd, sizeof dd, "%Y-%m-%d", &t);
		}
		ok &= mp_buf_printf(out, "%3zu. %-10s %.*s: %.*s\n", i + 1, dd[0] ? dd : "-",
		                    (int)f.len, f.len ? f.data : "", (int)s.len,
		                    s.len ? s.data : "") >= 0;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = m[i].p;
		size_t len = m[i].n;
		strip_from(&p, &len);
		ok &= mp_buf_printf(out, "\n--%s\n\n", bnd) >= 0;
		ok &= mp_buf_append(out, p, len) >= 0;
		if (len && p[len - 1] != '\n')
			ok &= mp_buf_putc(out, '\n') >= 0;
	}
	ok &= mp_buf_printf(out, "\n--%s--\n", bnd) >= 0;
	mp_buf_free(&f);
	mp_buf_free(&s);
	mp_buf_free(&d);
	return ok ? 0 : -1;
}
