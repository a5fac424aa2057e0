/* Sending: the message normalised on the way out (CRLF line ends, never
 * a bare CR or LF: the SMTP smuggling class; dot-stuffing; no NUL; no
 * line over 998 octets), one SMTP transaction per connection with
 * PIPELINING when offered, to a relay (TLS or STARTTLS, AUTH only under
 * TLS) or directly to the MX hosts of each recipient domain. */
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

#define WIRE_NOSTUFF 0x1u /* BDAT: no dot-stuffing */
#define WIRE_7BIT    0x2u /* 8-bit parts quoted-printable (mime7.c) */
#define WIRE_LEARN   0x4u /* ... only learn which they are: no output */

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

	if (lseek(m->fd, 0, SEEK_SET) < 0)
		return mp_err_sys(e, EX_IOERR, "message");
	if (how & WIRE_7BIT)
		st.x = mime7_new(m->plan7, (how & WIRE_LEARN) != 0);
	while ((r = read(m->fd, buf, sizeof buf)) > 0) {
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
	*size = st.x ? st.size : n.size;
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

int msg_scan(struct message *m, struct mp_err *e)
{
	if (emit(m, 0, NULL, NULL, &m->wiresize, &m->dots, e) < 0)
		return -1;
	if (m->wiresize == 0)
		return mp_err_set(e, EX_DATAERR, "empty message");
	return 0;
}

/* the 7-bit form's plan and size, once: 0 ready, -1 it cannot be made
 * (m->err7 says why) */
static int prepare7(struct message *m)
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
static int send_data(struct mp_proto *p, struct message *m, unsigned how, long long size,
                     struct mp_err *e)
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
static int send_bdat(struct mp_proto *p, struct message *m, unsigned how, int pipelining,
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

/* ---------------------------------------------------------------- one transaction */

static int code_class(int code)
{
	return code / 100;
}

/* every recipient not yet done gets code and the text */
static void refuse_rest(struct rcpt *r, size_t n, int code, const char *fmt, ...) MP_PRINTF(4, 5);
static void refuse_rest(struct rcpt *r, size_t n, int code, const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < n; i++)
		if (!r[i].done) {
			r[i].code = code;
			va_start(ap, fmt);
			vsnprintf(r[i].text, sizeof r[i].text, fmt, ap);
			va_end(ap);
		}
}

static int ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* addr as it goes on the wire (its domain is A-labels already, which
 * RFC 6531 allows too, and which every server routes): -1 when it
 * cannot go, a UTF-8 local part without SMTPUTF8 */
static int wire_addr(const char *addr, int utf8, char *out, size_t n)
{
	if (!utf8 && !ascii(addr, strlen(addr)))
		return -1;
	return snprintf(out, n, "%s", addr) < (int)n ? 0 : -1;
}

int dsn_set(struct dsn *d, int what, const char *v, struct mp_err *e)
{
	static const char *const kw[] = {"SUCCESS", "FAILURE", "DELAY"};
	char *o = what == 'N' ? d->notify : what == 'R' ? d->ret : d->envid;
	size_t cap = what == 'N' ? sizeof d->notify : what == 'R' ? sizeof d->ret : sizeof d->envid;
	char x[3 * sizeof d->envid];

	if (what == 'V') {
		if (!*v || !ascii(v, strlen(v)) || strpbrk(v, "\r\n\t") ||
		    mp_smtp_xtext(v, x, sizeof x) < 0 || strlen(x) > 100)
			return mp_err_set(e, EX_USAGE,
			                  "ENVID: '%s': expected printable ASCII, at most 100 "
			                  "characters as xtext",
			                  v);
		snprintf(o, cap, "%s", v);
		return 0;
	}
	if (what == 'R') {
		if (strcasecmp(v, "full") != 0 && strcasecmp(v, "hdrs") != 0)
			return mp_err_set(e, EX_USAGE, "RET: '%s': expected full or hdrs", v);
		snprintf(o, cap, "%s", strcasecmp(v, "full") == 0 ? "FULL" : "HDRS");
		return 0;
	}
	/* NOTIFY: never, or a list of success, failure, delay */
	unsigned seen = 0;
	char list[sizeof d->notify] = "";
	if (strcasecmp(v, "never") == 0) {
		snprintf(o, cap, "NEVER");
		return 0;
	}
	for (const char *p = v;;) {
		size_t l = strcspn(p, ","), k = 0;
		while (k < 3 && (strlen(kw[k]) != l || strncasecmp(p, kw[k], l) != 0))
			k++;
		if (k == 3 || (seen & (1u << k)))
			return mp_err_set(e, EX_USAGE,
			                  "NOTIFY: '%s': expected never, or success, failure and "
			                  "delay joined by commas",
			                  v);
		seen |= 1u << k;
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
		         list[0] ? "," : "", kw[k]);
		if (!p[l])
			return snprintf(o, cap, "%s", list), 0;
		p += l + 1;
	}
}

#define NEED_UTF8 "5.6.7 a UTF-8 local part needs SMTPUTF8, which the server does not offer"

/* MAIL, RCPT... and DATA or BDAT (pipelined when offered); each recipient gets
 * its code. Returns 0 when the server took the message for the accepted
 * recipients, 1 when nothing was taken (all refused, or the transaction
 * failed with a reply), -1 when the session failed. */
static int transaction(struct mp_proto *p, const struct mp_smtp_caps *c, struct message *m,
                       const char *from, struct rcpt *r, size_t n, struct mp_err *e)
{
	struct mp_smtp_reply rep;
	char cmd[1200], wa[600];
	size_t accepted = 0, pending = 0;
	int pipelining = (c->bits & MP_SMTP_PIPELINING) != 0, utf8 = 0;
	int bdat = (c->bits & MP_SMTP_CHUNKING) && m->chunking;
	/* 8-bit to a server without 8BITMIME (nor SMTPUTF8, which implies
	 * it): quoted-printable, never raw */
	int to7 = m->eightbit && !(c->bits & (MP_SMTP_8BITMIME | MP_SMTP_SMTPUTF8));
	unsigned how = to7 ? WIRE_7BIT : 0;

	if (to7 && prepare7(m) < 0) {
		refuse_rest(r, n, 554,
		            "5.6.3 the server has no 8BITMIME, and the message cannot "
		            "be made 7-bit: %s",
		            m->err7);
		return 1;
	}
	if (to7 && p->trace)
		fprintf(stderr, "%s: the server has no 8BITMIME: 8-bit parts go quoted-printable\n",
		        mp_progname());
	/* the octets that go, exactly */
	long long size = (to7 ? m->wiresize7 : m->wiresize) - (bdat ? to7 ? m->dots7 : m->dots : 0);
	if ((c->bits & MP_SMTP_SIZE) && c->size > 0 && size > c->size) {
		refuse_rest(r, n, 552, "the message (%lld octets) is over the server's SIZE %ld",
		            size, c->size);
		return 1;
	}
	/* SMTPUTF8 when the server offers it and an address or the header
	 * needs it; without it, an address goes with A-labels if it can */
	if (c->bits & MP_SMTP_SMTPUTF8) {
		utf8 = m->hdr8bit || !ascii(from, strlen(from));
		for (size_t i = 0; i < n; i++)
			utf8 |= !r[i].done && !ascii(r[i].addr, strlen(r[i].addr));
	}
	if (wire_addr(from, utf8, wa, sizeof wa) < 0) {
		refuse_rest(r, n, 553, "MAIL FROM: " NEED_UTF8);
		return 1;
	}
	snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>", wa);
	if (c->bits & MP_SMTP_SIZE)
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " SIZE=%lld", size);
	if (m->eightbit && !to7)
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " BODY=8BITMIME");
	if (utf8)
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " SMTPUTF8");
	const struct dsn *d = &m->dsn;
	int dsn = (c->bits & MP_SMTP_DSN) != 0;
	if (!dsn && (d->notify[0] || d->ret[0] || d->envid[0]) && p->trace)
		fprintf(stderr, "%s: the server does not offer DSN: -N, -R and -V are left out\n",
		        mp_progname()); /* as sendmail does */
	if (dsn && d->ret[0])
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " RET=%s", d->ret);
	if (dsn && d->envid[0]) {
		char x[3 * sizeof d->envid];
		mp_smtp_xtext(d->envid, x, sizeof x);
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " ENVID=%s", x);
	}
	if (mp_proto_send(p, cmd, NULL, e) < 0)
		return -1;
	if (!pipelining) {
		if (mp_smtp_reply(p, &rep, e) < 0)
			return -1;
		if (code_class(rep.code) != 2)
			goto mailfail;
	}
	for (size_t i = 0; i < n; i++) {
		if (r[i].done)
			continue;
		if (wire_addr(r[i].addr, utf8, wa, sizeof wa) < 0) {
			r[i].code = 553; /* not sent: the others go on */
			snprintf(r[i].text, sizeof r[i].text, NEED_UTF8);
			r[i].done = 1;
			continue;
		}
		snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", wa);
		if (dsn && d->notify[0])
			snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " NOTIFY=%s",
			         d->notify);
		if (mp_proto_send(p, cmd, NULL, e) < 0)
			return -1;
		pending++;
		if (!pipelining) {
			if (mp_smtp_reply(p, &rep, e) < 0)
				return -1;
			r[i].code = rep.code;
			snprintf(r[i].text, sizeof r[i].text, "%.200s", rep.text);
			accepted += code_class(rep.code) == 2;
		}
	}
	if (pipelining) {
		/* MAIL, the RCPTs and DATA went out in one go (RFC 2920); BDAT
		 * waits for the replies, so that no data goes for nothing */
		if (!bdat && mp_proto_send(p, "DATA", NULL, e) < 0)
			return -1;
		if (mp_smtp_reply(p, &rep, e) < 0)
			return -1;
		int mailok = code_class(rep.code) == 2;
		struct mp_smtp_reply mailrep = rep;
		for (size_t i = 0; i < n; i++) {
			if (r[i].done)
				continue;
			if (mp_smtp_reply(p, &rep, e) < 0)
				return -1;
			r[i].code = mailok ? rep.code : mailrep.code;
			snprintf(r[i].text, sizeof r[i].text, "%.200s",
			         mailok ? rep.text : mailrep.text);
			accepted += mailok && code_class(rep.code) == 2;
		}
		if (!bdat && mp_smtp_reply(p, &rep, e) < 0) /* DATA */
			return -1;
		if (!mailok || !accepted) {
			if (!bdat && rep.code == 354) /* the server wants a body: give it none */
				mp_proto_send(p, ".", NULL, e), mp_smtp_reply(p, &rep, e);
			mp_smtp_cmd(p, "RSET", &rep, e);
			return 1;
		}
		if (!bdat && rep.code != 354)
			goto datafail;
	} else {
		if (!accepted) {
			mp_smtp_cmd(p, "RSET", &rep, e);
			return 1;
		}
		if (!bdat && mp_smtp_cmd(p, "DATA", &rep, e) < 0)
			return -1;
		if (!bdat && rep.code != 354)
			goto datafail;
	}
	if (bdat ? send_bdat(p, m, how, pipelining, &rep, e) < 0
	         : send_data(p, m, how, size, e) < 0 || mp_smtp_reply(p, &rep, e) < 0)
		return -1;
	if (code_class(rep.code) == 2) {
		for (size_t i = 0; i < n; i++)
			if (!r[i].done && code_class(r[i].code) == 2) {
				r[i].done = 1;
				snprintf(r[i].text, sizeof r[i].text, "%.200s", rep.text);
			}
		return 0;
	}
datafail:
	for (size_t i = 0; i < n; i++)
		if (!r[i].done && code_class(r[i].code) == 2) {
			r[i].code = rep.code;
			snprintf(r[i].text, sizeof r[i].text, "%s: %.200s", bdat ? "BDAT" : "DATA",
			         rep.text);
		}
	return 1;
mailfail:
	refuse_rest(r, n, rep.code, "MAIL FROM: %.200s", rep.text);
	return 1;
}

/* ---------------------------------------------------------------- sessions */

/* greet, EHLO, TLS as asked (for an MX host: as its policy hp says),
 * AUTH: a session ready for MAIL */
static int session(struct mp_proto *p, const struct settings *s, const char *tlsname,
                   const struct host_policy *hp, struct mp_smtp_caps *caps, int *perm,
                   struct mp_err *e)
{
	struct mp_smtp_reply rep;
	struct mp_tls_opts to = {0};
	int mandatory = s->starttls;

	to.ca_file = s->ca_file;
	to.fingerprint = s->fingerprint;
	to.cert_file = s->cert_file;
	to.key_file = s->key_file;
	to.verify_name = tlsname;
	to.timeout_ms = s->timeout_ms;
	if (hp)
		host_policy_tls(hp, &to, &mandatory);
	if (s->tls && mp_proto_starttls(p, &to, e) < 0) /* implicit TLS */
		return -1;
	if (mp_smtp_reply(p, &rep, e) < 0)
		return -1;
	if (rep.code != 220) {
		*perm = code_class(rep.code) == 5; /* "554 no SMTP service here" */
		return mp_err_set(e, *perm ? EX_UNAVAILABLE : EX_TEMPFAIL, "greeting: %d %.200s",
		                  rep.code, rep.text);
	}
	if (mp_smtp_ehlo(p, s->helo, caps, &rep, e) < 0) {
		*perm = code_class(rep.code) == 5;
		return -1;
	}
	if (!p->tls_on && (mandatory || (caps->bits & MP_SMTP_STARTTLS))) {
		if (!(caps->bits & MP_SMTP_STARTTLS)) {
			if (mandatory && hp)
				return mp_err_set(e, EX_UNAVAILABLE,
				                  "TLS is mandatory, and the server does not offer "
				                  "STARTTLS");
			if (mandatory)
				return mp_err_set(
				    e, EX_UNAVAILABLE,
				    "STARTTLS was asked for, and the server does not offer it");
		} else if (mp_smtp_starttls(p, &to, s->helo, caps, &rep, e) < 0) {
			return -1;
		}
	}
	if (s->user) {
		char *pass;
		if (!p->tls_on && !s->auth_plaintext)
			return mp_err_set(
			    e, EX_CONFIG,
			    "refusing to send a password without TLS (--auth-plaintext allows it)");
		if (!p->tls_on)
			mp_warn("warning: sending the password for %s without TLS", s->user);
		if (!(pass = mp_password2(s->password, s->password_eval, "MSEND_PASSWORD", e)))
			return -1;
		int rc = mp_smtp_auth(p, caps, s->auth, s->user, pass, e);
		memset(pass, 0, strlen(pass));
		free(pass);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* apply a failed session to the recipients not yet done: a server that
 * refused us with 5xx (greeting, EHLO) is a permanent answer; anything
 * else (no connection, a time-out, TLS, a protocol error) may pass, so
 * the message waits in the queue */
static void session_failed(struct rcpt *r, size_t n, const struct mp_err *e, const char *where,
                           int perm)
{
	for (size_t i = 0; i < n; i++)
		if (!r[i].done) {
			r[i].code = perm ? 554 : 421;
			snprintf(r[i].text, sizeof r[i].text, "%.200s: %.200s", where, e->msg);
		}
}

static int relay(const struct settings *s, struct message *m, const char *from, struct rcpt *r,
                 size_t n, struct mp_err *e)
{
	struct mp_proto p;
	struct mp_smtp_caps caps;
	struct mp_smtp_reply rep;
	char host[256], where[300];
	int port = s->port, fd;

	if (mp_net_split(s->server, host, sizeof host, &port, e) < 0)
		return -1;
	if (!port)
		port = s->port ? s->port : (s->tls ? 465 : 587);
	snprintf(where, sizeof where, "%s port %d", host, port);
	fd = mp_net_connect(host, port, 0, s->timeout_ms, NULL, 0, e);
	if (fd < 0) {
		session_failed(r, n, e, where, 0);
		return 0;
	}
	mp_proto_init(&p, fd, s->timeout_ms, s->verbose);
	int perm = 0;
	if (session(&p, s, host, NULL, &caps, &perm, e) < 0 ||
	    (transaction(&p, &caps, m, from, r, n, e) < 0)) {
		session_failed(r, n, e, where, perm);
		mp_proto_close(&p);
		return e->code == EX_TEMPFAIL || e->code == EX_UNAVAILABLE || e->code == EX_PROTOCOL
		           ? 0
		           : -1;
	}
	mp_smtp_cmd(&p, "QUIT", &rep, e);
	mp_proto_close(&p);
	return 0;
}

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* one MX host, each of its addresses in turn, under its TLS policy hp;
 * returns how many recipients are still to go */
static size_t try_host(const struct settings *s, struct message *m, const char *from,
                       struct rcpt *sub, size_t ns, const struct mp_mx_host *host, int port,
                       const struct host_policy *hp)
{
	char hn[MP_DNS_NAMEMAX];
	size_t hl = strlen(host->name), left = ns;
	const char *domain = ns ? domain_of(sub[0].addr) : "";

	snprintf(hn, sizeof hn, "%.*s", (int)(hl > 1 && host->name[hl - 1] == '.' ? hl - 1 : hl),
	         host->name);
	if (hp->skip) { /* the policy rules this host out: maybe the next one */
		struct mp_err he;
		mp_err_set(&he, EX_TEMPFAIL, "%s", hp->why);
		session_failed(sub, ns, &he, hn, 0);
		return ns;
	}
	for (size_t a = 0; a < host->naddrs; a++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		char as[64], where[400];
		memset(&ss, 0, sizeof ss);
		if (host->addrs[a].family == AF_INET) {
			struct sockaddr_in *v = (void *)&ss;
			v->sin_family = AF_INET;
			v->sin_port = htons((uint16_t)port);
			memcpy(&v->sin_addr, host->addrs[a].addr, 4);
			sl = sizeof *v;
		} else {
			struct sockaddr_in6 *v = (void *)&ss;
			v->sin6_family = AF_INET6;
			v->sin6_port = htons((uint16_t)port);
			memcpy(&v->sin6_addr, host->addrs[a].addr, 16);
			sl = sizeof *v;
		}
		inet_ntop(host->addrs[a].family, host->addrs[a].addr, as, sizeof as);
		snprintf(where, sizeof where, "%.300s [%s] port %d", hn, as, port);
		struct mp_err he;
		mp_err_clear(&he);
		int fd = mp_net_connect_addr((struct sockaddr *)&ss, sl, s->timeout_ms, &he);
		if (fd < 0) {
			session_failed(sub, ns, &he, where, 0);
			continue;
		}
		struct mp_proto p;
		struct mp_smtp_caps caps;
		struct mp_smtp_reply rep;
		struct settings ds = *s;
		ds.tls = 0;
		ds.starttls = 0;       /* the host policy says */
		ds.user = NULL;        /* no AUTH towards an MX */
		ds.fingerprint = NULL; /* a pin is for the relay */
		mp_proto_init(&p, fd, s->timeout_ms, s->verbose);
		int perm = 0;
		int rc = session(&p, &ds, hn, hp, &caps, &perm, &he);
		if (rc < 0 && hp->kind != HP_OPPORTUNISTIC && hp->kind != HP_STS_TESTING) {
			/* say which policy made it fail */
			char msg[sizeof he.msg];
			snprintf(msg, sizeof msg, "%s", he.msg);
			snprintf(he.msg, sizeof he.msg, "%s: %.200s", host_policy_name(hp), msg);
		}
		if (rc == 0) {
			host_policy_report(hp, hn, domain, &p.tls, p.tls_on, s->verbose);
			rc = transaction(&p, &caps, m, from, sub, ns, &he);
		}
		if (rc < 0)
			session_failed(sub, ns, &he, where, perm);
		else
			mp_smtp_cmd(&p, "QUIT", &rep, &he);
		mp_proto_close(&p);
		/* a permanent answer from an MX is the domain's answer */
		left = 0;
		for (size_t i = 0; i < ns; i++) {
			if (!sub[i].done && code_class(sub[i].code) == 5 && rc >= 0)
				sub[i].done = 1;
			left += !sub[i].done;
		}
		if (!left)
			break;
	}
	return left;
}

/* every recipient domain: its MX hosts in order, until one takes it */
static int direct(const struct settings *s, struct message *m, const char *from, struct rcpt *r,
                  size_t n, struct mp_err *e)
{
	struct mp_resolver res;
	const char **doms = mp_xmalloc((n ? n : 1) * sizeof *doms);
	size_t nd = 0;

	mp_resolver_init(&res, getenv("MAILPIPE_RESOLV_CONF"), e);
	if (s->dns_server &&
	    mp_resolver_set_server(&res, s->dns_server, s->dns_port ? s->dns_port : 53, e) < 0) {
		free(doms);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *d = domain_of(r[i].addr);
		size_t k = 0;
		while (k < nd && strcasecmp(doms[k], d) != 0)
			k++;
		if (k == nd && !r[i].done)
			doms[nd++] = d;
	}
	struct mp_mx *mx = mp_xmalloc((nd ? nd : 1) * sizeof *mx);
	mp_mx_lookup(&res, doms, nd, 0, mx);
	for (size_t k = 0; k < nd; k++) {
		/* this domain's recipients */
		struct rcpt *sub = mp_xmalloc(n * sizeof *sub);
		size_t *map = mp_xmalloc(n * sizeof *map), ns = 0;
		for (size_t i = 0; i < n; i++)
			if (!r[i].done && strcasecmp(domain_of(r[i].addr), doms[k]) == 0) {
				sub[ns] = r[i];
				map[ns++] = i;
			}
		if (mx[k].status != MP_MX_OK) {
			int perm = mx[k].status == MP_MX_NXDOMAIN || mx[k].status == MP_MX_NULL ||
			           mx[k].status == MP_MX_NOMAIL || mx[k].status == MP_MX_BADNAME;
			for (size_t i = 0; i < ns; i++) {
				sub[i].code = perm ? 556 : 451;
				snprintf(sub[i].text, sizeof sub[i].text,
				         "%.200s: %.200s%.200s%.200s", doms[k],
				         mp_mx_status_text(mx[k].status), mx[k].err[0] ? ": " : "",
				         mx[k].err);
				sub[i].done = perm;
			}
		}
		struct domain_policy dp = {0};
		if (mx[k].status == MP_MX_OK)
			domain_policy(&res, s, mx[k].domain, &dp);
		for (size_t h = 0; mx[k].status == MP_MX_OK && h < mx[k].nhosts; h++) {
			struct host_policy hp;
			int port = s->mx_port ? s->mx_port : 25;
			host_policy(&res, s, &dp, doms[k], &mx[k].hosts[h], port, &hp);
			int left = try_host(s, m, from, sub, ns, &mx[k].hosts[h], port, &hp);
			host_policy_free(&hp);
			if (!left)
				break;
		}
		for (size_t i = 0; i < ns; i++)
			r[map[i]] = sub[i];
		free(sub);
		free(map);
	}
	mp_mx_free(mx, nd);
	free(mx);
	free(doms);
	return 0;
}

/* 5xx: done for good (failed); 2xx: delivered; anything else waits */
static int verdict(struct rcpt *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!r[i].done && code_class(r[i].code) == 5)
			r[i].done = 1;
	for (size_t i = 0; i < n; i++)
		if (!r[i].done)
			return 1;
	return 0;
}

int deliver(const struct settings *s, struct message *m, const char *from, struct rcpt *r, size_t n,
            struct mp_err *e)
{
	m->chunking = !s->no_chunking;
	int rc = s->direct ? direct(s, m, from, r, n, e) : relay(s, m, from, r, n, e);

	if (rc < 0)
		return -1;
	return verdict(r, n);
}

/* ---------------------------------------------------------------- connection reuse
 *
 * A queue flush sends many messages to the same place: a pool keeps one
 * session per destination (the relay, or in direct mode each recipient
 * domain's first MX host that answers) and runs one transaction after
 * another over it. A transaction that failed with a reply is followed by
 * RSET; a session that breaks after it has carried a message is opened
 * again once, for the next message; one that cannot be opened, or breaks
 * at once, is not tried again in this pool, so that a dead server costs
 * one time-out per flush rather than one per message. */

enum { PC_CLOSED, PC_OPEN, PC_DEAD };

/* an MX host's address and port as a socket address */
static socklen_t mx_sockaddr(int family, const unsigned char *addr, int port,
                             struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *v = (void *)ss;
		v->sin_family = AF_INET;
		v->sin_port = htons((uint16_t)port);
		memcpy(&v->sin_addr, addr, 4);
		return sizeof *v;
	}
	struct sockaddr_in6 *v6 = (void *)ss;
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons((uint16_t)port);
	memcpy(&v6->sin6_addr, addr, 16);
	return sizeof *v6;
}

struct pconn {
	char key[MP_DNS_NAMEMAX]; /* the domain; "" for the relay */
	int state;
	struct mp_proto p;
	struct mp_smtp_caps caps;
	char where[400];
	long sent;      /* messages taken over this session */
	int code;       /* PC_DEAD: the code each recipient gets */
	char text[500]; /* and why */
	int done;       /* PC_DEAD: that verdict is final (5xx) */
};

struct pool {
	const struct settings *s;
	struct pconn **c;
	size_t n;
	struct mp_resolver res;
	int res_ready;
};

struct pool *pool_new(const struct settings *s)
{
	struct pool *pl = mp_xmalloc(sizeof *pl);

	memset(pl, 0, sizeof *pl);
	pl->s = s;
	return pl;
}

static void pconn_dead(struct pconn *c, int code, int done, const char *where, const char *why)
{
	c->state = PC_DEAD;
	c->code = code;
	c->done = done;
	snprintf(c->text, sizeof c->text, "%.200s%s%.280s", where, *where ? ": " : "", why);
}

/* a fresh session on fd (connected to hn); 0, or -1 with the conn dead */
static int pconn_session(struct pconn *c, const struct settings *s, int fd, const char *hn,
                         const struct host_policy *hp, struct mp_err *e)
{
	int perm = 0;

	mp_proto_init(&c->p, fd, s->timeout_ms, s->verbose);
	/* TCP_NODELAY is set by mp_net_connect_addr for every connection */
	if (session(&c->p, s, hn, hp, &c->caps, &perm, e) < 0) {
		mp_proto_close(&c->p);
		if (hp && hp->kind != HP_OPPORTUNISTIC && hp->kind != HP_STS_TESTING) {
			/* say which policy made it fail */
			char msg[sizeof e->msg];
			snprintf(msg, sizeof msg, "%s", e->msg);
			snprintf(e->msg, sizeof e->msg, "%s: %.200s", host_policy_name(hp), msg);
		}
		pconn_dead(c, perm ? 554 : 421, 0, c->where, e->msg);
		return -1;
	}
	c->state = PC_OPEN;
	c->sent = 0;
	return 0;
}

static int pconn_open_relay(struct pconn *c, const struct settings *s, struct mp_err *e)
{
	char host[256];
	int port = s->port, fd;

	if (mp_net_split(s->server, host, sizeof host, &port, e) < 0) {
		pconn_dead(c, 0, 0, "", e->msg);
		return -1;
	}
	if (!port)
		port = s->port ? s->port : (s->tls ? 465 : 587);
	snprintf(c->where, sizeof c->where, "%s port %d", host, port);
	if ((fd = mp_net_connect(host, port, 0, s->timeout_ms, NULL, 0, e)) < 0) {
		pconn_dead(c, 421, 0, c->where, e->msg);
		return -1;
	}
	return pconn_session(c, s, fd, host, NULL, e);
}

/* the MX hosts of c->key in order, until one gives a session */
static int pconn_open_mx(struct pool *pl, struct pconn *c, struct mp_err *e)
{
	const struct settings *s = pl->s;
	const char *dom = c->key;
	struct mp_mx mx;
	int port = s->mx_port ? s->mx_port : 25;

	if (!pl->res_ready) {
		mp_resolver_init(&pl->res, getenv("MAILPIPE_RESOLV_CONF"), e);
		if (s->dns_server && mp_resolver_set_server(&pl->res, s->dns_server,
		                                            s->dns_port ? s->dns_port : 53, e) < 0)
			return -1;
		pl->res_ready = 1;
	}
	mp_mx_lookup(&pl->res, &dom, 1, 0, &mx);
	if (mx.status != MP_MX_OK) {
		int perm = mx.status == MP_MX_NXDOMAIN || mx.status == MP_MX_NULL ||
		           mx.status == MP_MX_NOMAIL || mx.status == MP_MX_BADNAME;
		char why[400];
		snprintf(why, sizeof why, "%.200s%s%.190s", mp_mx_status_text(mx.status),
		         mx.err[0] ? ": " : "", mx.err);
		pconn_dead(c, perm ? 556 : 451, perm, dom, why);
		mp_mx_free(&mx, 1);
		return 0;
	}
	/* towards an MX: no AUTH, no pin, STARTTLS as each host's policy
	 * (DANE, MTA-STS, --tls-required) says */
	struct settings ds = *s;
	struct domain_policy dp = {0};
	ds.tls = 0;
	ds.starttls = 0;
	ds.user = NULL;
	ds.fingerprint = NULL;
	domain_policy(&pl->res, s, mx.domain, &dp);
	pconn_dead(c, 451, 0, dom, "no MX host could be reached");
	for (size_t h = 0; h < mx.nhosts && c->state != PC_OPEN; h++) {
		const struct mp_mx_host *host = &mx.hosts[h];
		size_t hl = strlen(host->name);
		char hn[MP_DNS_NAMEMAX];
		struct host_policy hp;
		snprintf(hn, sizeof hn, "%.*s",
		         (int)(hl > 1 && host->name[hl - 1] == '.' ? hl - 1 : hl), host->name);
		host_policy(&pl->res, s, &dp, dom, host, port, &hp);
		if (hp.skip) { /* the policy rules this host out: maybe the next one */
			pconn_dead(c, 451, 0, hn, hp.why);
			host_policy_free(&hp);
			continue;
		}
		for (size_t a = 0; a < host->naddrs && c->state != PC_OPEN; a++) {
			struct sockaddr_storage ss;
			socklen_t sl =
			    mx_sockaddr(host->addrs[a].family, host->addrs[a].addr, port, &ss);
			char as[64];
			inet_ntop(host->addrs[a].family, host->addrs[a].addr, as, sizeof as);
			snprintf(c->where, sizeof c->where, "%.300s [%s] port %d", hn, as, port);
			struct mp_err he;
			mp_err_clear(&he);
			int fd =
			    mp_net_connect_addr((struct sockaddr *)&ss, sl, s->timeout_ms, &he);
			if (fd < 0)
				pconn_dead(c, 421, 0, c->where, he.msg);
			else if (pconn_session(c, &ds, fd, hn, &hp, &he) == 0)
				host_policy_report(&hp, hn, dom, &c->p.tls, c->p.tls_on,
				                   s->verbose);
		}
		host_policy_free(&hp);
	}
	mp_mx_free(&mx, 1);
	return 0;
}

static struct pconn *pool_get(struct pool *pl, const char *key)
{
	for (size_t i = 0; i < pl->n; i++)
		if (strcasecmp(pl->c[i]->key, key) == 0)
			return pl->c[i];
	pl->c = mp_xrealloc(pl->c, (pl->n + 1) * sizeof *pl->c);
	struct pconn *c = pl->c[pl->n++] = mp_xmalloc(sizeof *c);
	memset(c, 0, sizeof *c);
	c->p.fd = -1;
	snprintf(c->key, sizeof c->key, "%s", key);
	return c;
}

/* one message to the recipients r (all behind connection c) */
static int pool_run(struct pool *pl, struct pconn *c, struct message *m, const char *from,
                    struct rcpt *r, size_t n, struct mp_err *e)
{
	struct mp_smtp_reply rep;

	for (int tries = 0; tries < 2; tries++) {
		if (c->state == PC_CLOSED &&
		    (*c->key ? pconn_open_mx(pl, c, e) : pconn_open_relay(c, pl->s, e)) < 0 &&
		    c->state != PC_DEAD)
			return -1; /* an error of ours (DNS set-up) */
		if (c->state == PC_DEAD) {
			for (size_t i = 0; i < n; i++)
				if (!r[i].done) {
					r[i].code = c->code;
					snprintf(r[i].text, sizeof r[i].text, "%s", c->text);
					r[i].done = c->done;
				}
			return 0;
		}
		struct mp_err te;
		mp_err_clear(&te);
		int rc = transaction(&c->p, &c->caps, m, from, r, n, &te);
		if (rc == 0) {
			c->sent++;
			return 0;
		}
		if (rc == 1) { /* refused with a reply: a clean state for the next */
			if (mp_smtp_cmd(&c->p, "RSET", &rep, &te) < 0 || rep.code / 100 != 2) {
				mp_proto_close(&c->p);
				c->state = PC_CLOSED;
			}
			return 0;
		}
		/* the session broke: closed by the server, a time-out */
		mp_proto_close(&c->p);
		session_failed(r, n, &te, c->where, 0);
		if (c->sent == 0) {
			pconn_dead(c, 421, 0, c->where, te.msg);
			return 0;
		}
		c->state = PC_CLOSED; /* it carried messages before: once more */
	}
	return 0;
}

int pool_deliver(struct pool *pl, struct message *m, const char *from, struct rcpt *r, size_t n,
                 struct mp_err *e)
{
	m->chunking = !pl->s->no_chunking;
	if (!pl->s->direct) {
		if (pool_run(pl, pool_get(pl, ""), m, from, r, n, e) < 0)
			return -1;
	} else {
		/* each domain's recipients over its own connection */
		struct rcpt *sub = mp_xmalloc((n ? n : 1) * sizeof *sub);
		size_t *map = mp_xmalloc((n ? n : 1) * sizeof *map);
		char *seen = mp_xmalloc(n ? n : 1);
		memset(seen, 0, n ? n : 1);
		for (size_t i = 0; i < n; i++) {
			if (seen[i] || r[i].done)
				continue;
			const char *d = domain_of(r[i].addr);
			size_t ns = 0;
			for (size_t k = i; k < n; k++)
				if (!seen[k] && !r[k].done &&
				    strcasecmp(domain_of(r[k].addr), d) == 0) {
					seen[k] = 1;
					sub[ns] = r[k];
					map[ns++] = k;
				}
			int rc = pool_run(pl, pool_get(pl, d), m, from, sub, ns, e);
			for (size_t k = 0; k < ns; k++)
				r[map[k]] = sub[k];
			if (rc < 0) {
				free(sub), free(map), free(seen);
				return -1;
			}
		}
		free(sub), free(map), free(seen);
	}
	return verdict(r, n);
}

void pool_free(struct pool *pl)
{
	struct mp_smtp_reply rep;
	struct mp_err e;

	if (!pl)
		return;
	for (size_t i = 0; i < pl->n; i++) {
		if (pl->c[i]->state == PC_OPEN) {
			mp_err_clear(&e);
			mp_smtp_cmd(&pl->c[i]->p, "QUIT", &rep, &e);
			mp_proto_close(&pl->c[i]->p);
		}
		free(pl->c[i]);
	}
	free(pl->c);
	free(pl);
}
