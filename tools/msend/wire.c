/* The wire form of a message: normalised on the way out (CRLF line ends,
 * never a bare CR or LF: the SMTP smuggling class; dot-stuffing; no NUL;
 * no line over 998 octets), its 7-bit form (mime7.c) for a server
 * without 8BITMIME, sent after DATA or in BDAT chunks. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "io.h"
#include "msend.h"
#include "mx.h"
#include "net.h"
#include "send.h"
#include "tlspolicy.h"

#define LINE_MAX_SMTP 998

/* ---------------------------------------------------------------- the wire form */

struct norm {
	int bol;      /* at the start of a line */
	int cr;       /* a CR waiting to see whether LF follows */
	long line;    /* line number, for messages */
	long col;     /* octets on the current line */
	int header;   /* still in the header */
	int skipping; /* inside a Bcc: field */
	int strip_bcc;
	char hold[4]; /* a header line's first bytes, until it is known not Bcc: */
	int nhold, deciding;
	long long size, dots; /* octets out, and how many are stuffed dots */
	int eightbit, hdr8bit;
	int nostuff; /* BDAT, or a stage after this one stuffs */
};

/* one byte of a line (not a line end) onto the wire */
static int put(struct norm *n, unsigned char c, struct mp_buf *out, struct mp_err *e)
{
	if (n->col == 0 && c == '.' && !n->skipping && !n->nostuff) { /* dot-stuffing */
		if (out && mp_buf_putc(out, '.'))
			return mp_err_sys(e, EX_TEMPFAIL, "message");
		n->size++;
		n->dots++;
	}
	if (c >= 0x80)
		n->eightbit = 1, n->hdr8bit |= n->header;
	if (++n->col > LINE_MAX_SMTP)
		return mp_err_set(e, EX_DATAERR, "line %ld is longer than %d octets", n->line + 1,
		                  LINE_MAX_SMTP);
	if (!n->skipping) {
		if (out && mp_buf_putc(out, (char)c))
			return mp_err_sys(e, EX_TEMPFAIL, "message");
		n->size++;
	}
	return 0;
}

/* the held start of a header line turned out not to be Bcc: */
static int release(struct norm *n, struct mp_buf *out, struct mp_err *e)
{
	int k = n->nhold;

	n->nhold = 0;
	n->deciding = 0;
	for (int i = 0; i < k; i++)
		if (put(n, (unsigned char)n->hold[i], out, e) < 0)
			return -1;
	return 0;
}

static int endline(struct norm *n, struct mp_buf *out, struct mp_err *e)
{
	if (n->deciding && release(n, out, e) < 0)
		return -1;
	if (n->header && n->col == 0)
		n->header = 0, n->skipping = 0; /* the blank line ends the header */
	if (!n->skipping) {
		if (out && mp_buf_append(out, "\r\n", 2))
			return mp_err_sys(e, EX_TEMPFAIL, "message");
		n->size += 2;
	}
	n->bol = 1;
	n->col = 0;
	n->line++;
	return 0;
}

/* Feed bytes; out (may be NULL) gets the wire form. Works across any
 * split of the input into pieces. */
static int norm_feed(struct norm *n, const unsigned char *p, size_t len, struct mp_buf *out,
                     struct mp_err *e)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (n->cr) {
			/* CR LF is one line end; a lone CR ends a line too */
			n->cr = 0;
			if (endline(n, out, e) < 0)
				return -1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			n->cr = 1;
			continue;
		}
		if (c == '\n') {
			if (endline(n, out, e) < 0)
				return -1;
			continue;
		}
		if (c == 0)
			return mp_err_set(e, EX_DATAERR, "line %ld: a NUL byte cannot be sent",
			                  n->line + 1);
		if (n->bol) {
			n->bol = 0;
			/* a header line: is it a Bcc: field (or its continuation)? */
			if (n->header && n->strip_bcc && c != ' ' && c != '\t') {
				n->skipping = 0;
				n->deciding = 1;
			}
		}
		if (n->deciding) {
			n->hold[n->nhold++] = (char)c;
			if (tolower(c) != "bcc:"[n->nhold - 1]) {
				if (release(n, out, e) < 0)
					return -1;
			} else if (n->nhold == 4) {
				n->skipping = 1; /* the field and its continuation lines */
				n->nhold = 0;
				n->deciding = 0;
				n->col = 4;
			}
			continue;
		}
		if (put(n, c, out, e) < 0)
			return -1;
	}
	return 0;
}

/* end of message: a last line without its line end gets one */
static int norm_end(struct norm *n, struct mp_buf *out, struct mp_err *e)
{
	if (n->deciding && release(n, out, e) < 0)
		return -1;
	if (n->cr || !n->bol) {
		n->cr = 0;
		if (out && mp_buf_append(out, "\r\n", 2))
			return mp_err_sys(e, EX_TEMPFAIL, "message");
		n->size += 2;
		n->bol = 1;
	}
	return 0;
}

/* where a pass over the message puts the wire form: NULL counts only */
typedef int (*sink_fn)(void *ctx, const char *p, size_t n, struct mp_err *e);

/* the 7-bit stage: the normalised lines in a through the MIME walk,
 * then dot-stuffed unless BDAT, counted, to the sink */
struct stage7 {
	struct mime7 *x;
	struct mp_buf b;
	int bol;
	long long size, dots;
};

static int through7(struct stage7 *st, unsigned how, struct mp_buf *a, int end, sink_fn sink,
                    void *ctx, struct mp_err *e)
{
	mp_buf_reset(&st->b);
	if (mime7_feed(st->x, a->data, a->len, &st->b, e) < 0 ||
	    (end && mime7_end(st->x, &st->b, e) < 0))
		return -1;
	mp_buf_reset(a); /* now the stuffed form */
	for (size_t i = 0; i < st->b.len; i++) {
		if (st->bol && st->b.data[i] == '.' && !(how & WIRE_NOSTUFF)) {
			if (mp_buf_putc(a, '.') < 0)
				return mp_err_sys(e, EX_TEMPFAIL, "message");
			st->dots++;
		}
		st->bol = st->b.data[i] == '\n';
		if (mp_buf_putc(a, st->b.data[i]) < 0)
			return mp_err_sys(e, EX_TEMPFAIL, "message");
	}
	st->size += (long long)a->len;
	return sink && a->len ? sink(ctx, a->data, a->len, e) : 0;
}

/* One pass over the message, in the wire form how asks for: its octets
 * (and the stuffed dots among them) in *size and *dots. */
static int emit(struct message *m, unsigned how, sink_fn sink, void *ctx, long long *size,
                long long *dots, struct mp_err *e)
{
	struct norm n = {.bol = 1,
	                 .header = 1,
	                 .strip_bcc = m->strip_bcc,
	                 .nostuff = (how & (WIRE_NOSTUFF | WIRE_7BIT)) != 0};
	struct stage7 st = {.b = MP_BUF_INIT, .bol = 1};
	struct mp_buf out = MP_BUF_INIT, *o = sink || (how & WIRE_7BIT) ? &out : NULL;
	unsigned char buf[65536];
	ssize_t r;
	int rc = -1;

	/* the DKIM-Signature fields of this form go first (no dot to stuff) */
	const struct mp_buf *sig = how & (WIRE_SIGN | WIRE_LEARN) ? NULL
	                           : how & WIRE_7BIT              ? &m->sig7
	                                                          : &m->sig8;
	size_t siglen = sig ? sig->len : 0;

	off_t off = 0; /* pread: worker processes share the descriptor's offset */
	if (siglen && sink && sink(ctx, sig->data, siglen, e) < 0)
		return -1;
	if (how & WIRE_7BIT)
		st.x = mime7_new(m->plan7, (how & WIRE_LEARN) != 0);
	while ((r = pread(m->fd, buf, sizeof buf, off)) > 0) {
		off += r;
		mp_buf_reset(&out);
		if (norm_feed(&n, buf, (size_t)r, o, e) < 0)
			goto done;
		if (st.x ? through7(&st, how, &out, 0, sink, ctx, e) < 0
		         : sink && out.len && sink(ctx, out.data, out.len, e) < 0)
			goto done;
	}
	if (r < 0) {
		mp_err_sys(e, EX_IOERR, "message");
		goto done;
	}
	mp_buf_reset(&out);
	if (norm_end(&n, o, e) < 0)
		goto done;
	if (st.x ? through7(&st, how, &out, 1, sink, ctx, e) < 0
	         : sink && out.len && sink(ctx, out.data, out.len, e) < 0)
		goto done;
	*size = (st.x ? st.size : n.size) + (long long)siglen;
	*dots = st.x ? st.dots : n.dots;
	m->eightbit = n.eightbit;
	m->hdr8bit = n.hdr8bit;
	rc = 0;
done:
	mime7_free(st.x);
	mp_buf_free(&st.b);
	mp_buf_free(&out);
	return rc;
}

/* the DKIM-Signature fields of the form how selects into out: that form,
 * unstuffed, through the message's signers (none: out stays empty) */
static int sign_form(struct message *m, unsigned how, struct mp_buf *out, struct mp_err *e)
{
	long long sz, dots;
	struct dkimset *d;
	int rc;

	mp_buf_reset(out);
	mp_err_clear(e);
	if (!(d = dkim_start(m->dkim, e)))
		return e->code ? -1 : 0;
	rc = emit(m, how | WIRE_NOSTUFF | WIRE_SIGN, dkim_feed, d, &sz, &dots, e);
	if (rc == 0)
		rc = dkim_finish(d, out, e);
	dkim_free(d);
	return rc;
}

int msg_scan(struct message *m, struct mp_err *e)
{
	if (sign_form(m, 0, &m->sig8, e) < 0 ||
	    emit(m, 0, NULL, NULL, &m->wiresize, &m->dots, e) < 0)
		return -1;
	if (m->wiresize == 0)
		return mp_err_set(e, EX_DATAERR, "empty message");
	return 0;
}

/* the 7-bit form's plan and size, once: 0 ready, -1 it cannot be made
 * (m->err7 says why) */
int wire_prepare7(struct message *m)
{
	struct mp_err e;
	long long sz, dots;

	if (m->state7 == 0) {
		mp_err_clear(&e);
		m->state7 = 1;
		if (m->hdr8bit) {
			mp_err_set(&e, EX_DATAERR,
			           "8-bit bytes in a header, which only SMTPUTF8 could carry");
			m->state7 = -1;
		} else if (emit(m, WIRE_7BIT | WIRE_LEARN, NULL, NULL, &sz, &dots, &e) < 0 ||
		           sign_form(m, WIRE_7BIT, &m->sig7, &e) < 0 ||
		           emit(m, WIRE_7BIT, NULL, NULL, &m->wiresize7, &m->dots7, &e) < 0) {
			m->state7 = -1;
		}
		if (m->state7 < 0)
			snprintf(m->err7, sizeof m->err7, "%s", e.msg);
	}
	return m->state7 > 0 ? 0 : -1;
}

/* octets onto the connection, in clear or TLS */
static int wire_write(struct mp_proto *p, const void *data, size_t n, struct mp_err *e)
{
	if (p->tls_on)
		return mp_tls_write(&p->tls, data, n, e);
	if (mp_write_full(p->fd, data, n) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "send");
	return 0;
}

static int data_sink(void *ctx, const char *d, size_t n, struct mp_err *e)
{
	return wire_write(ctx, d, n, e);
}

/* the body after DATA: the wire form, then ".\r\n" */
int wire_data(struct mp_proto *p, struct message *m, unsigned how, long long size, struct mp_err *e)
{
	long long sz, dots;

	if (p->trace)
		fprintf(stderr, "C: (%lld octets of message)\n", size);
	if (emit(m, how, data_sink, p, &sz, &dots, e) < 0)
		return -1;
	return wire_write(p, ".\r\n", 3, e);
}

/* BDAT (RFC 3030): the message in chunks of CHUNK octets, the last one
 * "BDAT n LAST"; with PIPELINING up to CHUNK_AHEAD chunks go out before
 * their replies are read */
#define CHUNK       65536
#define CHUNK_AHEAD 8

struct chunker {
	struct mp_proto *p;
	struct mp_buf buf;
	int pipelining, inflight;
	struct mp_smtp_reply rep, bad; /* the last reply; the first that was not 2xx */
};

static int chunk_send(struct chunker *k, int last, struct mp_err *e)
{
	char cmd[64];

	snprintf(cmd, sizeof cmd, "BDAT %zu%s", k->buf.len, last ? " LAST" : "");
	if (mp_proto_send(k->p, cmd, NULL, e) < 0 ||
	    (k->buf.len && wire_write(k->p, k->buf.data, k->buf.len, e) < 0))
		return -1;
	mp_buf_reset(&k->buf);
	k->inflight++;
	while (k->inflight > (k->pipelining && !last ? CHUNK_AHEAD : 0)) {
		if (mp_smtp_reply(k->p, &k->rep, e) < 0)
			return -1;
		k->inflight--;
		if (k->rep.code / 100 != 2 && !k->bad.code)
			k->bad = k->rep;
	}
	/* a refused chunk ends the transaction: stop sending */
	return k->bad.code ? mp_err_set(e, 0, "BDAT refused") : 0;
}

static int chunk_sink(void *ctx, const char *d, size_t n, struct mp_err *e)
{
	struct chunker *k = ctx;

	while (n) {
		size_t take = CHUNK - k->buf.len < n ? CHUNK - k->buf.len : n;
		if (mp_buf_append(&k->buf, d, take) < 0)
			return mp_err_sys(e, EX_TEMPFAIL, "message");
		d += take;
		n -= take;
		if (k->buf.len == CHUNK && chunk_send(k, 0, e) < 0)
			return -1;
	}
	return 0;
}

/* the message with BDAT; rep gets the reply that decides: 0, or -1 when
 * the session failed */
int wire_bdat(struct mp_proto *p, struct message *m, unsigned how, int pipelining,
              struct mp_smtp_reply *rep, struct mp_err *e)
{
	struct chunker k = {.p = p, .buf = MP_BUF_INIT, .pipelining = pipelining};
	long long sz, dots;
	int rc = emit(m, how | WIRE_NOSTUFF, chunk_sink, &k, &sz, &dots, e);

	if (rc == 0)
		rc = chunk_send(&k, 1, e);
	/* a refused chunk: the replies still owed, then that refusal */
	while (rc < 0 && k.bad.code && k.inflight > 0) {
		if (mp_smtp_reply(p, &k.rep, e) < 0)
			break;
		k.inflight--;
	}
	mp_buf_free(&k.buf);
	if (k.bad.code) {
		*rep = k.bad;
		return k.inflight ? -1 : 0;
	}
	*rep = k.rep;
	return rc;
}
