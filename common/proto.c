#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "io.h"

void mp_proto_init(struct mp_proto *p, int fd, int timeout_ms, int trace)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	memset(p, 0, sizeof *p);
	p->fd = fd;
	p->trace = trace;
	p->timeout_ms = timeout_ms;
	if (timeout_ms > 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
}

int mp_proto_send(struct mp_proto *p, const char *line, const char *shown, struct mp_err *e)
{
	size_t n = strlen(line);
	char sbuf[MP_PROTO_LINE + 3], *buf = sbuf;
	int rc = 0;

	if (n > MP_PROTO_SENDMAX || strpbrk(line, "\r\n"))
		return mp_err_set(e, EX_SOFTWARE, "refusing to send a line with CR/LF or too long");
	if (p->trace)
		mp_term_printf(stderr, "C: %s%s\n", shown ? shown : line, shown ? " ***" : "");
	/* a long one (an AUTH response with a token): one write all the same */
	if (n + 2 > sizeof sbuf && !(buf = malloc(n + 2)))
		return mp_err_sys(e, EX_TEMPFAIL, "send");
	memcpy(buf, line, n);
	memcpy(buf + n, "\r\n", 2);
	if (p->tls_on)
		rc = mp_tls_write(&p->tls, buf, n + 2, e);
	else if (mp_write_full(p->fd, buf, n + 2) < 0)
		rc = mp_err_sys(e, EX_TEMPFAIL, "send");
	if (buf != sbuf)
		free(buf);
	return rc;
}

/* more == NULL: whole lines only; raw: a long line in pieces of up to
 * MP_PROTO_LINE bytes, cut anywhere; else: cut before a space */
static int readline2(struct mp_proto *p, char **line, size_t *len, int *more, int raw,
                     struct mp_err *e)
{
	for (;;) {
		char *s = p->buf + p->start, *nl = memchr(s, '\n', p->end - p->start);
		if (nl) {
			size_t n = (size_t)(nl - s);
			if (n && s[n - 1] == '\r')
				n--;
			s[n] = '\0';
			*line = s;
			*len = n;
			p->start = (size_t)(nl - p->buf) + 1;
			if (p->trace)
				mp_term_printf(stderr, "S: %s%s\n",
				               p->midline ? "(continued) " : "", s);
			p->midline = 0;
			if (more)
				*more = 0;
			return 1;
		}
		if (p->start) {
			memmove(p->buf, s, p->end - p->start);
			p->end -= p->start;
			p->start = 0;
		}
		if (p->end >= MP_PROTO_LINE && more && raw) {
			/* the whole buffer, but a CR at its end stays: it may be
			 * the first half of the line's CR LF */
			size_t n = p->buf[p->end - 1] == '\r' ? p->end - 1 : p->end;
			*line = p->buf;
			*len = n;
			p->start = n;
			p->midline = 1;
			*more = 1;
			return 1;
		}
		if (p->end >= MP_PROTO_LINE && more) {
			/* a piece up to the last space; the rest starts the next */
			char *sp = p->buf + p->end;
			while (sp > p->buf && sp[-1] != ' ')
				sp--;
			if (sp == p->buf)
				return mp_err_set(e, EX_PROTOCOL,
				                  "server line with a word longer than %d bytes",
				                  MP_PROTO_LINE);
			sp[-1] = '\0';
			*line = p->buf;
			*len = (size_t)(sp - 1 - p->buf);
			if (p->trace)
				mp_term_printf(stderr, "S: %s%s ...\n",
				               p->midline ? "(continued) " : "", p->buf);
			p->start = (size_t)(sp - p->buf);
			p->midline = 1;
			*more = 1;
			return 1;
		}
		if (p->end >= MP_PROTO_LINE)
			return mp_err_set(e, EX_PROTOCOL, "server line longer than %d bytes",
			                  MP_PROTO_LINE);
		ssize_t r;
		if (p->tls_on) {
			r = mp_tls_read(&p->tls, p->buf + p->end, MP_PROTO_LINE - p->end, e);
		} else {
			do
				r = recv(p->fd, p->buf + p->end, MP_PROTO_LINE - p->end, 0);
			while (r < 0 && errno == EINTR);
			if (r < 0)
				return mp_err_set(e, EX_TEMPFAIL, "receive: %s",
				                  errno == EAGAIN ? "timed out" : strerror(errno));
		}
		if (r < 0)
			return -1;
		if (r == 0)
			return p->end ? mp_err_set(e, EX_TEMPFAIL, "the connection closed mid-line")
			              : 0;
		p->end += (size_t)r;
	}
}

int mp_proto_readline(struct mp_proto *p, char **line, size_t *len, struct mp_err *e)
{
	return readline2(p, line, len, NULL, 0, e);
}

int mp_proto_readpart(struct mp_proto *p, char **line, size_t *len, int *more, struct mp_err *e)
{
	return readline2(p, line, len, more, 0, e);
}

int mp_proto_readpiece(struct mp_proto *p, char **line, size_t *len, int *more, struct mp_err *e)
{
	return readline2(p, line, len, more, 1, e);
}

int mp_proto_read(struct mp_proto *p, void *buf, size_t n, struct mp_err *e)
{
	char *o = buf;
	size_t have = p->end - p->start;

	if (have) {
		size_t k = have < n ? have : n;
		memcpy(o, p->buf + p->start, k);
		p->start += k;
		o += k;
		n -= k;
	}
	while (n) {
		ssize_t r;
		if (p->tls_on) {
			r = mp_tls_read(&p->tls, o, n, e);
			if (r < 0)
				return -1;
		} else {
			do
				r = recv(p->fd, o, n, 0);
			while (r < 0 && errno == EINTR);
			if (r < 0)
				return mp_err_set(e, EX_TEMPFAIL, "receive: %s",
				                  errno == EAGAIN ? "timed out" : strerror(errno));
		}
		if (r == 0)
			return mp_err_set(e, EX_TEMPFAIL,
			                  "the server closed the connection mid-message");
		o += r;
		n -= (size_t)r;
	}
	return 0;
}

size_t mp_proto_unread(struct mp_proto *p)
{
	struct pollfd pf = {p->fd, POLLIN, 0};
	size_t n = p->end - p->start;
	char peek[64];

	if (!p->tls_on && poll(&pf, 1, 0) > 0 && (pf.revents & POLLIN)) {
		ssize_t r = recv(p->fd, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
		if (r > 0)
			n += (size_t)r;
	}
	return n;
}

int mp_proto_wait(struct mp_proto *p, int other_fd, int timeout_ms, struct mp_err *e)
{
	struct pollfd pf[2] = {{p->fd, POLLIN, 0}, {other_fd, POLLIN, 0}};
	int r;

	if (p->end > p->start || (p->tls_on && mp_tls_pending(&p->tls)))
		return 1;
	/* a signal's handler writes to other_fd: the next poll sees it */
	do
		r = poll(pf, other_fd >= 0 ? 2 : 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "poll");
	if (r == 0)
		return 0;
	if (other_fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP)))
		return 2;
	return 1; /* readable, or hung up: the read says which */
}

int mp_proto_starttls(struct mp_proto *p, const struct mp_tls_opts *o, struct mp_err *e)
{
	size_t extra = mp_proto_unread(p);

	if (extra)
		return mp_err_set(e, EX_PROTOCOL,
		                  "the server sent %zu byte%s after its STARTTLS reply, before the "
		                  "TLS handshake: refusing to go on (plaintext injection)",
		                  extra, extra == 1 ? "" : "s");
	if (mp_tls_connect(&p->tls, p->fd, o, e) < 0)
		return -1;
	p->tls_on = 1;
	p->start = p->end = 0;
	return 0;
}

void mp_proto_close(struct mp_proto *p)
{
	if (p->tls_on)
		mp_tls_close(&p->tls);
	p->tls_on = 0;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}
