#include "mime.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "hdr.h"
#include "uu.h"

/* ---------------------------------------------------------------- lines */

/* a segment kept by a capture, to be read again */
struct kept {
	size_t off, len;
	int bol;
	long line;
};

#define MP_MIME_KEEP (1024 * 1024) /* the preamble kept while no boundary is seen */

struct reader {
	const struct mp_msgsrc *src;
	const char *seg;
	size_t len;
	int bol, have, eof;
	long long off; /* bytes consumed */
	long line;     /* line number of the current segment, 1-based */
	int prev_nl;   /* the segment before ended a line */
	struct mp_err *e;
	int err;
	/* capture: the segments read are kept (up to MP_MIME_KEEP bytes, over
	 * it over = 1 and nothing is); replay: they are read again, then the
	 * segment that was current when the replay began, if again */
	int capture, over, replay, again;
	struct mp_buf kbuf;
	struct kept *kv;
	size_t nk, ik, kcap;
	struct kept cur; /* the current segment at the replay's start */
	const char *curseg;
};

static void keep(struct reader *r)
{
	if (!r->capture || r->over)
		return;
	if (r->kbuf.len + r->len > MP_MIME_KEEP || mp_buf_append(&r->kbuf, r->seg, r->len)) {
		r->over = 1;
		return;
	}
	if (r->nk == r->kcap) {
		size_t cap = r->kcap ? 2 * r->kcap : 64;
		struct kept *v = realloc(r->kv, cap * sizeof *v);
		if (!v) {
			r->over = 1;
			return;
		}
		r->kv = v;
		r->kcap = cap;
	}
	struct kept *v = r->kv;
	v[r->nk++] = (struct kept){r->kbuf.len - r->len, r->len, r->bol, r->line};
}

static void keep_end(struct reader *r)
{
	mp_buf_free(&r->kbuf);
	free(r->kv);
	r->kv = NULL;
	r->nk = r->ik = r->kcap = 0;
	r->capture = r->over = r->replay = 0;
}

/* read the kept segments again; then the current one if again */
static void replay(struct reader *r, int again)
{
	r->capture = 0;
	r->replay = 1;
	r->ik = 0;
	r->again = again;
	r->curseg = r->seg;
	r->cur = (struct kept){0, r->len, r->bol, r->line};
}

static int next(struct reader *r)
{
	if (r->have) {
		r->have = 0;
		keep(r);
		return 1;
	}
	if (r->replay) {
		if (r->ik < r->nk) {
			const struct kept *g = &r->kv[r->ik++];
			r->seg = r->kbuf.data + g->off;
			r->len = g->len;
			r->bol = g->bol;
			r->line = g->line;
			return 1;
		}
		int again = r->again;
		r->seg = r->curseg;
		r->len = r->cur.len;
		r->bol = r->cur.bol;
		r->line = r->cur.line;
		keep_end(r);
		if (again)
			return 1;
	}
	if (r->eof)
		return 0;
	int k = r->src->next(r->src->ctx, &r->seg, &r->len, &r->bol, r->e);
	if (k < 0) {
		r->err = 1;
		return 0;
	}
	if (k == 0) {
		r->eof = 1;
		return 0;
	}
	r->off += (long long)r->len;
	if (r->prev_nl)
		r->line++;
	r->prev_nl = r->len && r->seg[r->len - 1] == '\n';
	keep(r);
	return 1;
}

static int blank(const char *s, size_t n)
{
	return (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n');
}

/* ---------------------------------------------------------------- headers */

const char *mp_field_get(const struct mp_header *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->f[i].name, name) == 0)
			return h->f[i].value;
	return NULL;
}

void mp_header_free(struct mp_header *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->f[i].name); /* and its value: one block */
	free(h->f);
	mp_buf_free(&h->raw);
	memset(h, 0, sizeof *h);
}

/* 0, or -1 when the line is no field (no name before a colon) */
/* is the field named name[0..nl) one of want (NULL: all are)? */
static int field_wanted(const char *const *want, int nwant, const char *name, size_t nl)
{
	if (!want)
		return 1;
	/* the first letter first: most fields are not wanted */
	for (int i = 0; i < nwant; i++)
		if ((want[i][0] | 0x20) == (name[0] | 0x20) &&
		    strncasecmp(want[i], name, nl) == 0 && want[i][nl] == '\0')
			return 1;
	return 0;
}

/* a field into h, unless want (NULL: all) does not name it; -1: no field */
static int add_field(struct mp_header *h, const char *line, size_t n, const char *const *want,
                     int nwant)
{
	const char *colon = memchr(line, ':', n);
	size_t nl = colon ? (size_t)(colon - line) : 0;

	if (!colon || nl == 0)
		return -1;
	while (nl && (line[nl - 1] == ' ' || line[nl - 1] == '\t'))
		nl--; /* "Subject :" (obsolete syntax) */
	if (!field_wanted(want, nwant, line, nl))
		return 0;
	/* room for 8 fields, then twice as many each time n reaches a power of
	 * two: no realloc for most fields */
	if (h->n == 0 || (h->n >= 8 && (h->n & (h->n - 1)) == 0)) {
		size_t cap = h->n ? 2 * h->n : 8;
		struct mp_field *f = realloc(h->f, cap * sizeof *f);
		if (!f)
			return 0;
		h->f = f;
	}
	struct mp_field *f = h->f;
	const char *v = colon + 1;
	size_t vl = n - (size_t)(v - line);
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl &&
	       (v[vl - 1] == '\n' || v[vl - 1] == '\r' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	/* name and value in one block: one malloc a field */
	char *b = malloc(nl + 1 + vl + 1);
	if (!b)
		return 0;
	memcpy(b, line, nl);
	b[nl] = '\0';
	memcpy(b + nl + 1, v, vl);
	b[nl + 1 + vl] = '\0';
	f[h->n].name = b;
	f[h->n].value = b + nl + 1;
	h->n++;
	return 0;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* A file name parameter into p->filename: 0 when found. A name too long
 * for it keeps its extension (".pdf", up to 64 bytes) and loses the end of
 * its stem, at a UTF-8 character boundary, so that -x still writes
 * "AAAA….pdf" (RFC 2231 lets a name run to any length). */
static int take_name(struct mp_part *p, const char *value, const char *param)
{
	size_t max = 16 * 1024, n = sizeof p->filename, len, ext = 0, stem;
	char *fn = mp_xmalloc(max);
	int rc = mp_param_get(value, param, fn, max);

	if (rc == 0) {
		len = strlen(fn);
		const char *dot = strrchr(fn, '.');
		if (len >= n && dot && dot != fn && strlen(dot) <= 64)
			ext = strlen(dot);
		stem = len < n ? len : n - 1 - ext;
		while (stem < len && stem && ((unsigned char)fn[stem] & 0xc0) == 0x80)
			stem--;
		memcpy(p->filename, fn, stem);
		memcpy(p->filename + stem, fn + len - ext, ext);
		p->filename[stem + ext] = '\0';
	}
	free(fn);
	return rc;
}

static void describe(struct mp_part *p, const struct mp_header *h, int digest)
{
	const char *ct = mp_field_get(h, "Content-Type"),
	           *cte = mp_field_get(h, "Content-Transfer-Encoding");
	const char *cd = mp_field_get(h, "Content-Disposition");

	snprintf(p->type, sizeof p->type, "%s", digest ? "message/rfc822" : "text/plain");
	if (ct) {
		size_t k = strcspn(ct, "; \t");
		if (k && k < sizeof p->type && memchr(ct, '/', k)) {
			snprintf(p->type, sizeof p->type, "%.*s", (int)k, ct);
			lower(p->type);
		}
		mp_param_get(ct, "charset", p->charset, sizeof p->charset);
		mp_param_get(ct, "boundary", p->boundary, sizeof p->boundary);
		take_name(p, ct, "name");
	}
	p->external = strcmp(p->type, "message/external-body") == 0;
	if (!p->charset[0] && strncmp(p->type, "text/", 5) == 0)
		strcpy(p->charset, "us-ascii");
	if (cte) {
		snprintf(p->encoding, sizeof p->encoding, "%.*s", (int)strcspn(cte, " \t;("), cte);
		lower(p->encoding);
	}
	if (cd) {
		snprintf(p->disposition, sizeof p->disposition, "%.*s", (int)strcspn(cd, "; \t"),
		         cd);
		lower(p->disposition);
		take_name(p, cd, "filename");
	}
}

int mp_mime_attachment(const struct mp_part *p)
{
	if (p->container || p->external)
		return 0;
	if (strcmp(p->disposition, "attachment") == 0)
		return 1;
	return p->filename[0] && strncmp(p->type, "text/", 5) != 0;
}

/* ---------------------------------------------------------------- walking */

struct walk {
	struct mp_walker *w;
	struct reader r;
	char bounds[MP_MIME_DEPTH][200];
	int nb;
	int hit; /* level of the boundary just read, -1 none */
	int hit_close;
	long parts;
};

/* is the current line a boundary of the stack? sets hit/hit_close */
static int is_boundary(struct walk *k)
{
	const char *s = k->r.seg;
	size_t n = k->r.len;

	if (!k->r.bol || n < 3 || s[0] != '-' || s[1] != '-')
		return 0;
	for (int i = k->nb - 1; i >= 0; i--) {
		int close;
		if (!mp_mime_boundary_line(s, n, k->bounds[i], &close))
			continue;
		k->hit = i;
		k->hit_close = close;
		return 1;
	}
	return 0;
}

MP_PRINTF(2, 3) static void warn(struct walk *k, const char *fmt, ...)
{
	va_list ap;
	FILE *f = mp_warn_file();

	k->w->warnings++;
	fprintf(f, "%s: %s: ", mp_progname(), k->w->name);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

/* could the line (or its first segment, when not whole) start a field: a
 * name of printable characters, then white space (obsolete syntax) and a
 * colon? */
static int field_start(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (unsigned char)s[i] > ' ' && (unsigned char)s[i] < 127 && s[i] != ':')
		i++;
	if (i == n)
		return i > 0 && s[n - 1] != '\n'; /* a long name cut by the segment */
	if (i == 0)
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i == n || s[i] == ':';
}

/* the header block up to the blank line (or a boundary of an enclosing
 * multipart, which is left for the body to find); folded lines unfolded.
 * A line that is no field and no continuation ends the header there: it
 * is the first line of the body (as Python's email and mblaze read it).
 * Past MP_HDR_MAX bytes the block is read to its end but no longer kept. */
static void read_header(struct walk *k, struct mp_header *h)
{
	struct reader *r = &k->r;
	struct mp_buf cur = MP_BUF_INIT;
	long curline = 0;
	size_t rawlen = 0;
	/* a walk of the header alone may want a few fields, and no raw block */
	const char *const *want = k->w->header_only ? k->w->fields : NULL;
	int nwant = k->w->nfields;

	memset(h, 0, sizeof *h);
	while (next(r)) {
		if (r->bol && blank(r->seg, r->len))
			break;
		if (k->nb && is_boundary(k)) {
			r->have = 1; /* the body (empty) ends at it */
			k->hit = -1;
			break;
		}
		if (r->bol && r->seg[0] != ' ' && r->seg[0] != '\t' &&
		    !(r->len >= 5 && memcmp(r->seg, "From ", 5) == 0 && h->n == 0 && !cur.len) &&
		    !field_start(r->seg, r->len)) {
			warn(k,
			     "line %ld: not a header field (no name and colon): the header ends "
			     "there and the body starts with it",
			     r->line);
			r->have = 1;
			break;
		}
		if (h->truncated)
			continue; /* over the cap: the rest ignored */
		if (rawlen + r->len > MP_HDR_MAX) {
			h->truncated = 1;
			if (cur.len)
				add_field(h, cur.data, cur.len, want, nwant); /* what fit of it */
			mp_buf_reset(&cur);
			continue;
		}
		rawlen += r->len;
		if (!want)
			mp_buf_append(&h->raw, r->seg, r->len);
		if (r->bol && (r->seg[0] == ' ' || r->seg[0] == '\t') && cur.len) {
			/* a continuation: the line break goes, the blank stays */
			while (cur.len &&
			       (cur.data[cur.len - 1] == '\n' || cur.data[cur.len - 1] == '\r'))
				cur.len--;
			mp_buf_append(&cur, r->seg, r->len);
			continue;
		}
		if (!r->bol)
			continue; /* the rest of a line longer than a segment: dropped */
		if (r->len >= 5 && memcmp(r->seg, "From ", 5) == 0 && h->n == 0 && !cur.len)
			continue; /* an mbox From_ line before the header */
		if (cur.len && add_field(h, cur.data, cur.len, want, nwant) < 0)
			warn(k, "line %ld: not a header field (no name and colon): ignored",
			     curline);
		mp_buf_reset(&cur);
		mp_buf_append(&cur, r->seg, r->len);
		curline = r->line;
	}
	if (cur.len && add_field(h, cur.data, cur.len, want, nwant) < 0)
		warn(k, "line %ld: not a header field (no name and colon): ignored", curline);
	mp_buf_free(&cur);
}

struct decoder {
	int kind; /* 0 none, 1 base64, 2 qp */
	struct mp_b64dec b;
	struct mp_qpdec q;
	char *buf;
	size_t cap;
	struct mp_uu *uu; /* uuencoded blocks looked for in the decoded text */
};

/* the decoded bytes of a part: to the caller, and through the uudecoder */
static int pass_on(struct walk *k, struct mp_part *p, struct decoder *d, const char *s, size_t n)
{
	int rc = k->w->on_data ? k->w->on_data(k->w, p, s, n) : 0;

	if (rc >= 0 && d->uu)
		rc = mp_uu_feed(d->uu, s, n);
	return rc;
}

/* a uuencoded block as a part of its own, numbered after its text part:
 * "1.u1", "1.u2", ... */
struct uupart {
	struct walk *k;
	struct mp_part *text, p;
	long base; /* the line of the message where the text's body starts */
	int on;    /* a block is open and was reported */
};

static const char *uu_type(const char *name)
{
	static const char *const map[][2] = {
	    {".txt", "text/plain"},        {".htm", "text/html"},
	    {".html", "text/html"},        {".pdf", "application/pdf"},
	    {".zip", "application/zip"},   {".gz", "application/gzip"},
	    {".tar", "application/x-tar"}, {".jpg", "image/jpeg"},
	    {".jpeg", "image/jpeg"},       {".png", "image/png"},
	    {".gif", "image/gif"},         {".doc", "application/msword"}};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(dot, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

static int on_uu(void *ctx, struct mp_uu *u, enum mp_uu_event ev, const void *s, size_t n)
{
	struct uupart *x = ctx;
	struct mp_walker *w = x->k->w;
	struct mp_part *p = &x->p;

	switch (ev) {
	case MP_UU_BEGIN:
		if (u->blocks > MP_MIME_UU) {
			if (u->blocks == MP_MIME_UU + 1)
				warn(x->k,
				     "part %s: more than %d uuencoded blocks: the rest are text",
				     x->text->num, MP_MIME_UU);
			return 0;
		}
		memset(p, 0, sizeof *p);
		if (snprintf(p->num, sizeof p->num, "%s.u%ld", x->text->num, u->blocks) >=
		    (int)sizeof p->num)
			return 0; /* a number too long to give: the block stays text */
		p->depth = x->text->depth + 1;
		snprintf(p->type, sizeof p->type, "%s", uu_type(u->name));
		snprintf(p->encoding, sizeof p->encoding, "uuencode");
		snprintf(p->disposition, sizeof p->disposition, "attachment");
		snprintf(p->filename, sizeof p->filename, "%s", u->name);
		p->offset = x->text->offset;
		p->uuencode = 1;
		x->on = 1;
		return w->on_part ? w->on_part(w, p) : 0;
	case MP_UU_DATA:
		if (!x->on)
			return 0;
		p->rawsize += (long long)n;
		p->decsize += (long long)n;
		return w->on_data ? w->on_data(w, p, s, n) : 0;
	case MP_UU_END:
		if (!x->on)
			return 0;
		x->on = 0;
		return w->on_end ? w->on_end(w, p) : 0;
	case MP_UU_WARN:
		if (u->warnings > MP_UU_MAXWARN)
			return 0;
		if (x->text->encoding[0] && strcmp(x->text->encoding, "7bit") &&
		    strcmp(x->text->encoding, "8bit") && strcmp(x->text->encoding, "binary"))
			warn(x->k, "part %s: line %ld of its decoded text: uuencoded \"%s\": %s",
			     x->text->num, u->warnline, u->name, u->msg);
		else
			warn(x->k, "line %ld: uuencoded \"%s\": %s", x->base + u->warnline - 1,
			     u->name, u->msg);
		if (u->warnings == MP_UU_MAXWARN)
			warn(x->k, "part %s: more bad uuencoded lines are not reported",
			     x->text->num);
		return 0;
	}
	return 0;
}

static int emit(struct walk *k, struct mp_part *p, struct decoder *d, const char *s, size_t n)
{
	size_t out = 0;

	p->rawsize += (long long)n;
	if (d->kind == 0) {
		p->decsize += (long long)n;
		return pass_on(k, p, d, s, n);
	}
	size_t need = d->kind == 1 ? mp_b64dec_maxout(n) : mp_qpdec_maxout(n);
	if (need > d->cap) {
		char *nb = realloc(d->buf, need);
		if (!nb)
			return -1;
		d->buf = nb;
		d->cap = need;
	}
	if (d->kind == 1) {
		/* characters outside the alphabet are ignored (RFC 2045 6.8),
		 * silently: -p output is the data alone */
		size_t done = 0;
		while (done < n) {
			long long pos0 = d->b.pos;
			size_t o = 0;
			int r = mp_b64dec_update(&d->b, s + done, n - done, d->buf + out, &o, NULL);
			out += o;
			if (r == 0)
				break;
			size_t bad = done + (size_t)(d->b.pos - pos0);
			if (bad >= n)
				break; /* cannot happen: the decoder names a byte it was given */
			if (d->b.pad) {
				/* data after '=': a new block starts at this byte */
				d->b.pad = d->b.nacc = 0;
				d->b.acc = 0;
				done = bad;
				continue;
			}
			d->b.pos++;
			done = bad + 1;
		}
	} else {
		mp_qpdec_update(&d->q, s, n, d->buf, &out, NULL);
	}
	p->decsize += (long long)out;
	return out ? pass_on(k, p, d, d->buf, out) : 0;
}

static int entity(struct walk *k, const char *prefix, int container, int digest, int depth);

/* a multipart whose body is no multipart is read as text (as Python does) */
static void as_text(struct mp_part *p)
{
	snprintf(p->type, sizeof p->type, "text/plain");
	if (!p->charset[0])
		snprintf(p->charset, sizeof p->charset, "us-ascii");
	p->boundary[0] = '\0';
}

/* The preamble of a multipart, up to its first boundary: 1 when there is
 * one. Else (the end of the input, or a boundary of an enclosing
 * multipart, comes first) the multipart has no parts: it becomes a text
 * leaf, with a warning, and what was read is read again as its body
 * (unless it was longer than MP_MIME_KEEP); 0. */
static int preamble(struct walk *k, struct mp_part *p, int level)
{
	struct reader *r = &k->r;
	int over;

	long start = r->have || !r->prev_nl ? r->line : r->line + 1; /* the body's first line */

	k->hit = -1;
	r->capture = 1;
	while (next(r) && !is_boundary(k))
		;
	over = r->over;
	if (k->hit == level || r->err) {
		keep_end(r); /* a read error fails the walk anyway */
		return 1;
	}
	if (over) {
		warn(k,
		     "line %ld: %s has no boundary line \"--%s\": its body, over %d KiB, is not "
		     "shown",
		     start, p->type, p->boundary, MP_MIME_KEEP / 1024);
		keep_end(r);
		r->have = k->hit >= 0; /* the outer boundary */
	} else {
		warn(k, "line %ld: %s has no boundary line \"--%s\": its body taken as text/plain",
		     start, p->type, p->boundary);
		if (k->hit >= 0)
			r->nk--; /* the outer boundary: read again after the rest */
		replay(r, k->hit >= 0);
	}
	as_text(p);
	return 0;
}

/* a leaf's body up to a boundary or the end */
static int leaf(struct walk *k, struct mp_part *p)
{
	struct decoder d = {0};
	struct mp_uu uu;
	struct uupart x = {.k = k, .text = p};
	char held[2];
	size_t nheld = 0;
	int rc = 0, first = 1;

	if (strcmp(p->encoding, "base64") == 0) {
		d.kind = 1;
		mp_b64dec_init(&d.b, MP_B64_NOPAD); /* strict; relaxed after an error */
	} else if (strcmp(p->encoding, "quoted-printable") == 0) {
		d.kind = 2;
		mp_qpdec_init(&d.q, MP_QP_IGNORE);
	}
	if (!k->w->decode)
		d.kind = 0;
	if (k->w->decode && k->w->uu && strcmp(p->type, "text/plain") == 0 &&
	    strcmp(p->disposition, "attachment") != 0) {
		mp_uu_init(&uu, on_uu, &x);
		d.uu = &uu;
	}
	if (k->w->on_part && (rc = k->w->on_part(k->w, p)) < 0)
		return rc;
	while (next(&k->r)) {
		if (is_boundary(k))
			break;
		if (first) {
			x.base = k->r.line;
			first = 0;
		}
		/* the line end before a boundary belongs to the boundary */
		const char *s = k->r.seg;
		size_t n = k->r.len;
		if (nheld == 1 && held[0] == '\r' && n == 1 && s[0] == '\n') {
			/* the LF of a CRLF split between two segments */
			held[nheld++] = '\n';
			continue;
		}
		if (nheld && emit(k, p, &d, held, nheld) < 0)
			goto stop;
		nheld = 0;
		if (n && s[n - 1] == '\n') {
			nheld = n >= 2 && s[n - 2] == '\r' ? 2 : 1;
			memcpy(held, s + n - nheld, nheld);
			n -= nheld;
		} else if (n && s[n - 1] == '\r') {
			nheld = 1; /* may be the CR of a CRLF cut at a segment's end */
			held[0] = '\r';
			n--;
		}
		if (n && emit(k, p, &d, s, n) < 0)
			goto stop;
	}
	if (k->r.eof && nheld && emit(k, p, &d, held, nheld) < 0)
		goto stop; /* no boundary: the end keeps its line end */
	if (d.kind) {
		size_t out = 0;
		if (d.kind == 1)
			mp_b64dec_final(&d.b, d.buf ? d.buf : (char[8]){0}, &out, NULL);
		else
			mp_qpdec_final(&d.q, d.buf ? d.buf : (char[8]){0}, &out, NULL);
		if (out && d.buf) {
			p->decsize += (long long)out;
			if (pass_on(k, p, &d, d.buf, out) < 0)
				goto stop;
		}
	}
	if (d.uu && mp_uu_finish(d.uu) < 0)
		goto stop;
	if (k->w->on_end)
		rc = k->w->on_end(k->w, p);
	free(d.buf);
	return rc;
stop:
	free(d.buf);
	return -1;
}

/* one entity: its header, then a leaf body, a multipart, or an embedded
 * message. prefix numbers it; container means a message node, which
 * takes no number of its own */
static int entity(struct walk *k, const char *prefix, int container, int digest, int depth)
{
	struct mp_header h;
	struct mp_part p;
	int rc = 0;

	memset(&p, 0, sizeof p);
	p.offset = k->r.off;
	long line = k->r.have || !k->r.prev_nl ? k->r.line : k->r.line + 1; /* its first */
	read_header(k, &h);
	if (h.truncated)
		warn(k, "a header block larger than %s: the rest ignored", "256 KiB");
	if (depth == 0 && k->w->on_header && k->w->on_header(k->w, &h) < 0) {
		mp_header_free(&h);
		return -1;
	}
	if (depth == 0 && k->w->header_only) { /* the body is not read at all */
		mp_header_free(&h);
		return 0;
	}
	describe(&p, &h, digest);
	p.hdr = &h;
	p.depth = depth;
	int multi = strncmp(p.type, "multipart/", 10) == 0 && p.boundary[0];
	int embedded = strcmp(p.type, "message/rfc822") == 0 &&
	               (!p.encoding[0] || !strcmp(p.encoding, "7bit") ||
	                !strcmp(p.encoding, "8bit") || !strcmp(p.encoding, "binary"));
	if (strncmp(p.type, "multipart/", 10) == 0 && !p.boundary[0]) {
		warn(k, "%s without a boundary: its body taken as text/plain", p.type);
		as_text(&p);
	}
	if (++k->parts > MP_MIME_PARTS || depth >= MP_MIME_DEPTH || k->nb >= MP_MIME_DEPTH) {
		if (k->parts == MP_MIME_PARTS + 1 || depth == MP_MIME_DEPTH)
			warn(k, "%s: nested too deep or too many parts; the rest is one part",
			     p.type);
		multi = embedded = 0;
	}
	int level = k->nb;
	if (multi) {
		for (int i = 0; i < level; i++)
			if (strcmp(k->bounds[i], p.boundary) == 0) {
				/* RFC 2046 5.1.1 forbids it; mailers do it: the
				 * innermost takes the delimiters until it is closed */
				warn(k,
				     "line %ld: %s reuses the boundary \"%s\" of an enclosing "
				     "multipart: its delimiters go to the inner one until it is "
				     "closed",
				     line, p.type, p.boundary);
				break;
			}
		snprintf(k->bounds[k->nb++], sizeof k->bounds[0], "%s", p.boundary);
		if (!preamble(k, &p, level)) {
			k->nb = level;
			multi = 0; /* its body is read again as a leaf's */
		}
	}
	if (multi || embedded) {
		/* the node itself, for the tree */
		p.container = 1;
		snprintf(p.num, sizeof p.num, "%s", prefix);
		if (k->w->on_part && (rc = k->w->on_part(k->w, &p)) < 0)
			goto out;
	}
	if (multi) {
		int child = 0, dig = strcmp(p.type, "multipart/digest") == 0;
		while (k->hit == level && !k->hit_close) {
			char num[256];
			child++;
			if (container)
				snprintf(num, sizeof num, "%s%s%d", prefix, prefix[0] ? "." : "",
				         child);
			else
				snprintf(num, sizeof num, "%s.%d", prefix, child);
			k->hit = -1;
			if ((rc = entity(k, num, 0, dig, depth + 1)) < 0)
				goto out;
			if (k->hit < 0) /* the end of input inside a part */
				break;
		}
		if (k->hit == level && k->hit_close) {
			/* the epilogue, up to an outer boundary or the end: its
			 * own boundary is no longer one (a reused one is the
			 * enclosing multipart's again) */
			k->nb = level;
			k->hit = -1;
			while (next(&k->r) && !is_boundary(k))
				;
		} else if (k->hit < 0) {
			warn(k,
			     "the closing boundary of %s is missing: it ends at the end of input",
			     p.type);
		}
		k->nb = level;
		goto out_node;
	}
	if (embedded) {
		/* the embedded message's parts are numbered under this one */
		char num[256];
		snprintf(num, sizeof num, "%s", container ? (prefix[0] ? prefix : "1") : prefix);
		rc = entity(k, num, 1, 0, depth + 1);
		goto out_node;
	}
	/* a leaf */
	if (container)
		snprintf(p.num, sizeof p.num, "%s%s1", prefix, prefix[0] ? "." : "");
	else
		snprintf(p.num, sizeof p.num, "%s", prefix);
	k->hit = -1;
	rc = leaf(k, &p);
	goto out;
out_node:
	if (rc >= 0 && k->w->on_end)
		rc = k->w->on_end(k->w, &p);
out:
	mp_header_free(&h);
	return rc;
}

int mp_mime_walk(struct mp_walker *w, const struct mp_msgsrc *src, struct mp_err *e)
{
	struct walk k;

	/* all but the boundaries (12.8 KB, read below nb alone): clearing
	 * them cost more than reading a header (-f of a Maildir) */
	memset(&k, 0, offsetof(struct walk, bounds));
	k.nb = 0;
	k.hit_close = 0;
	k.parts = 0;
	k.w = w;
	k.r.src = src;
	k.r.e = e;
	k.r.prev_nl = 1;
	k.hit = -1;
	int rc = entity(&k, "", 1, 0, 0);
	keep_end(&k.r); /* a replay that a callback stopped */
	if (k.r.err)
		return -1;
	return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------- for other tools */

int mp_mime_boundary_line(const char *line, size_t n, const char *boundary, int *close)
{
	size_t bl = strlen(boundary);

	*close = 0;
	if (n < 2 + bl || line[0] != '-' || line[1] != '-' || memcmp(line + 2, boundary, bl) != 0)
		return 0;
	const char *rest = line + 2 + bl;
	size_t rl = n - 2 - bl;
	int c = rl >= 2 && rest[0] == '-' && rest[1] == '-';
	if (c)
		rest += 2, rl -= 2;
	while (rl && (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n'))
		rest++, rl--;
	if (rl)
		return 0; /* "--b" followed by more: not this boundary */
	*close = c;
	return 1;
}

int mp_mime_header_parse(const char *block, size_t n, struct mp_header *h)
{
	struct mp_buf cur = MP_BUF_INIT;
	const char *p = block, *end = block + n;
	int bad = 0;

	memset(h, 0, sizeof *h);
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = eol ? (size_t)(eol - p) + 1 : (size_t)(end - p);
		if (blank(p, len))
			break;
		if ((*p == ' ' || *p == '\t') && cur.len) {
			/* a continuation: the line break goes, the blank stays */
			while (cur.len &&
			       (cur.data[cur.len - 1] == '\n' || cur.data[cur.len - 1] == '\r'))
				cur.len--;
			mp_buf_append(&cur, p, len);
		} else {
			if (cur.len && add_field(h, cur.data, cur.len, NULL, 0) < 0)
				bad = 1;
			mp_buf_reset(&cur);
			mp_buf_append(&cur, p, len);
		}
		p += len;
	}
	if (cur.len && add_field(h, cur.data, cur.len, NULL, 0) < 0)
		bad = 1;
	mp_buf_free(&cur);
	return bad;
}
