/* The 7-bit form of an 8-bit message, for a server without 8BITMIME
 * (RFC 6152 forbids sending it raw there): each leaf part with 8-bit
 * bytes, or the body of a message that is not multipart, is encoded
 * quoted-printable and its header says so. A streaming walk over the
 * wire lines (CRLF, at most 998 octets: the normaliser saw to that):
 * the header of each entity is held (bounded) until its blank line, the
 * bodies stream a line at a time, multipart boundaries nest on a stack,
 * and a message/rfc822 part is walked as a message of its own.
 *
 * Whether a part has 8-bit bytes is known only at its end, while its
 * header goes first: so a first pass (learn) records it per leaf part in
 * a plan, and the second pass rewrites by that plan. Both see the same
 * lines, so the parts number the same. What cannot be made 7-bit this
 * way is refused: 8-bit bytes in a header (they need SMTPUTF8), in a
 * part already encoded base64 or quoted-printable, or in a preamble or
 * epilogue. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "hdr.h"
#include "mime.h"
#include "msend.h"

#define HDR_MAX   (1024 * 1024) /* an entity's header */
#define DEPTH_MAX 32            /* nested multiparts */
#define BOUND_MAX 200           /* RFC 2046 allows 70; be lenient */

struct level {
	char b[BOUND_MAX + 1];
	size_t len;
	int digest; /* multipart/digest: parts are message/rfc822 by default */
};

struct mime7 {
	unsigned char *plan;
	int learn;
	struct mp_buf line, hdr;
	int in_hdr; /* reading an entity's header */
	int top;    /* that entity is the message itself */
	int leaf;   /* in the body of a leaf part */
	int encode; /* ... which goes quoted-printable */
	int digest; /* the entity is a part of a multipart/digest */
	long nleaf; /* leaf parts so far; the current one is nleaf - 1 */
	struct level st[DEPTH_MAX];
	int depth;
	struct mp_qpenc q;
};

struct mime7 *mime7_new(unsigned char *plan, int learn)
{
	struct mime7 *x = mp_xmalloc(sizeof *x);

	memset(x, 0, sizeof *x);
	x->plan = plan;
	x->learn = learn;
	x->line = (struct mp_buf)MP_BUF_INIT;
	x->hdr = (struct mp_buf)MP_BUF_INIT;
	x->in_hdr = x->top = 1;
	if (learn)
		memset(plan, 0, MIME7_PARTS);
	return x;
}

void mime7_free(struct mime7 *x)
{
	if (!x)
		return;
	mp_buf_free(&x->line);
	mp_buf_free(&x->hdr);
	free(x);
}

static int put(struct mp_buf *out, const char *p, size_t n, struct mp_err *e)
{
	if (out && mp_buf_append(out, p, n) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "message");
	return 0;
}

static int has8(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

static int utf8_ok(const char *p, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = mp_utf8_len((const unsigned char *)p + i, n - i)))
			return 0;
	return 1;
}

/* the header lines, but field name (and its continuation lines) left out */
static int put_without(struct mp_buf *out, const struct mp_buf *h, const char *name,
                       struct mp_err *e)
{
	const char *p = h->data, *end = h->data + h->len;
	int skip = 0;

	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
		if (*p != ' ' && *p != '\t') /* a field starts: common's reading of its name */
			skip = mp_hdr_field_name_is(p, len, name);
		if (!skip && put(out, p, len, e) < 0)
			return -1;
		p += len;
	}
	return 0;
}

static int identity(const char *cte)
{
	return !*cte || strcasecmp(cte, "7bit") == 0 || strcasecmp(cte, "8bit") == 0 ||
	       strcasecmp(cte, "binary") == 0;
}

/* the blank line after an entity's header: what the entity is decides
 * how its header goes out and what its body is */
static int header_end(struct mime7 *x, struct mp_buf *out, struct mp_err *e)
{
	struct mp_header h;
	char cte[128], type[128], b[BOUND_MAX + 2];

	mp_mime_header_parse(x->hdr.data ? x->hdr.data : "", x->hdr.len, &h);
	const char *ct = mp_field_get(&h, "Content-Type");
	int has_ct = ct != NULL, has_mv = mp_field_get(&h, "MIME-Version") != NULL;
	int top = x->top;

	mp_mime_token(mp_field_get(&h, "Content-Transfer-Encoding"), cte, sizeof cte);
	mp_mime_token(ct, type, sizeof type);
	if (has_ct && mp_param_get(ct, "boundary", b, sizeof b) < 0)
		b[0] = '\0';
	mp_header_free(&h);
	if (!has_ct)
		snprintf(type, sizeof type, "%s", x->digest ? "message/rfc822" : "text/plain");
	x->top = 0;
	x->leaf = x->encode = 0;
	/* fields to add: a new Content-Transfer-Encoding (the old one goes),
	 * Content-Type and MIME-Version when missing */
	const char *add = NULL, *add_ct = NULL;
	if (strncasecmp(type, "multipart/", 10) == 0) {
		if (!has_ct || !*b || strlen(b) > BOUND_MAX)
			return mp_err_set(e, EX_DATAERR,
			                  "a multipart part without a usable boundary");
		if (x->depth == DEPTH_MAX)
			return mp_err_set(e, EX_DATAERR, "multipart parts nested over %d deep",
			                  DEPTH_MAX);
		struct level *l = &x->st[x->depth++];
		l->len = strlen(b);
		memcpy(l->b, b, l->len + 1);
		l->digest = strcasecmp(type + 10, "digest") == 0;
		x->in_hdr = 0; /* the preamble */
	} else if (strcasecmp(type, "message/rfc822") == 0 ||
	           strcasecmp(type, "message/global") == 0) {
		x->in_hdr = 1; /* the message in it has a header of its own */
		x->top = 1;    /* ... and is a message: MIME-Version */
	} else {
		if (x->nleaf == MIME7_PARTS)
			return mp_err_set(e, EX_DATAERR, "more than %d parts to re-encode",
			                  MIME7_PARTS);
		x->leaf = 1;
		x->in_hdr = 0;
		x->nleaf++;
		if (x->learn) {
			/* identity-encoded or not: learned here, checked at its end */
			x->plan[x->nleaf - 1] = identity(cte) ? 0 : MIME7_ENCODED;
		} else {
			unsigned char f = x->plan[x->nleaf - 1];
			x->encode = (f & MIME7_8BIT) != 0;
			if (x->encode) {
				add = "Content-Transfer-Encoding: quoted-printable\r\n";
				if (!has_ct)
					add_ct = f & MIME7_NOTUTF8 ? "Content-Type: text/plain; "
					                             "charset=unknown-8bit\r\n"
					                           : "Content-Type: text/plain; "
					                             "charset=utf-8\r\n";
				mp_qpenc_init(&x->q, MP_QP_CRLF);
			}
		}
	}
	x->digest = 0;
	if (x->learn)
		return 0;
	/* a composite part said 8bit: its parts are 7-bit now */
	if (!x->leaf && !identity(cte))
		return mp_err_set(e, EX_DATAERR, "a %s part encoded %s", type, cte);
	if (!x->leaf && *cte && strcasecmp(cte, "7bit") != 0)
		add = "Content-Transfer-Encoding: 7bit\r\n";
	if (add ? put_without(out, &x->hdr, "Content-Transfer-Encoding", e) < 0
	        : put(out, x->hdr.data, x->hdr.len, e) < 0)
		return -1;
	const char *mv = top && !has_mv ? "MIME-Version: 1.0\r\n" : NULL;
	const char *more[] = {add, add_ct, mv, "\r\n"};
	for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
		if (more[i] && put(out, more[i], strlen(more[i]), e) < 0)
			return -1;
	return 0;
}

/* the end of a leaf part's body: its 8-bit bytes were learned */
static int leaf_end(struct mime7 *x, struct mp_buf *out, struct mp_err *e)
{
	char tail[16];

	if (x->leaf && x->encode && !x->learn) {
		size_t n = mp_qpenc_final(&x->q, tail);
		if (put(out, tail, n, e) < 0)
			return -1;
	}
	if (x->leaf && x->learn &&
	    (x->plan[x->nleaf - 1] & (MIME7_ENCODED | MIME7_8BIT)) == (MIME7_ENCODED | MIME7_8BIT))
		return mp_err_set(e, EX_DATAERR,
		                  "part %ld has 8-bit bytes, yet says it is base64 or "
		                  "quoted-printable",
		                  x->nleaf);
	x->leaf = x->encode = 0;
	return 0;
}

/* one whole line, CR LF included */
static int line(struct mime7 *x, const char *l, size_t n, struct mp_buf *out, struct mp_err *e)
{
	int close = 0;

	for (int k = x->depth - 1; k >= 0 && n > 2 && l[0] == '-'; k--) {
		if (!mp_mime_boundary_line(l, n, x->st[k].b, &close))
			continue;
		if (x->in_hdr && x->hdr.len && header_end(x, out, e) < 0) /* a header, no body */
			return -1;
		if (leaf_end(x, out, e) < 0)
			return -1;
		x->depth = k + 1; /* the parts inside end here too */
		x->digest = x->st[k].digest;
		x->in_hdr = !close; /* a part, or the epilogue */
		mp_buf_reset(&x->hdr);
		return x->learn ? 0 : put(out, l, n, e);
	}
	if (x->in_hdr) {
		if (n == 2)
			return header_end(x, out, e) < 0 ? -1 : (mp_buf_reset(&x->hdr), 0);
		if (has8(l, n))
			return mp_err_set(
			    e, EX_DATAERR,
			    "8-bit bytes in a header, which only SMTPUTF8 could carry");
		if (x->hdr.len + n > HDR_MAX)
			return mp_err_set(e, EX_DATAERR, "a header longer than %d octets", HDR_MAX);
		return put(&x->hdr, l, n, e);
	}
	if (x->leaf && x->learn) {
		if (has8(l, n))
			x->plan[x->nleaf - 1] |= MIME7_8BIT | (utf8_ok(l, n) ? 0 : MIME7_NOTUTF8);
		return 0;
	}
	if (x->encode) {
		char enc[4096];
		if (mp_qpenc_maxout(n) > sizeof enc) /* the normaliser keeps lines to 1000 */
			return mp_err_set(e, EX_SOFTWARE, "a line too long to encode");
		size_t m = mp_qpenc_update(&x->q, l, n, enc);
		return put(out, enc, m, e);
	}
	if (!x->leaf && has8(l, n))
		return mp_err_set(e, EX_DATAERR, "8-bit bytes in a MIME preamble or epilogue");
	return x->learn ? 0 : put(out, l, n, e);
}

int mime7_feed(struct mime7 *x, const char *p, size_t n, struct mp_buf *out, struct mp_err *e)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) + 1 : n;
		if (mp_buf_append(&x->line, p, k) < 0)
			return mp_err_sys(e, EX_TEMPFAIL, "message");
		p += k;
		n -= k;
		if (!nl)
			break;
		int rc = line(x, x->line.data, x->line.len, out, e);
		mp_buf_reset(&x->line);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int mime7_end(struct mime7 *x, struct mp_buf *out, struct mp_err *e)
{
	/* the wire form ends in CR LF: no line is left over */
	if (x->in_hdr && x->hdr.len) { /* a header without a body */
		if (header_end(x, out, e) < 0)
			return -1;
		/* header_end wrote the blank line, which the message did not have */
		if (out && out->len >= 2)
			out->len -= 2;
	}
	return leaf_end(x, out, e);
}
