/* dns: the stub resolver (resolv.conf, UDP with retries and spoofing
 * checks, TCP on truncation, many queries at once); the wire codec it
 * sends and reads is dnswire.c. */
#include "dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---------------------------------------------------------------- resolver */

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	char host[128];
	const char *colon = strrchr(s, ':');

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') { /* [v6]:port */
		const char *rb = strchr(s, ']');
		if (!rb || (size_t)(rb - s - 1) >= sizeof host)
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		if (rb[1] == ':')
			port = atoi(rb + 2);
		else if (rb[1])
			return -1;
	} else if (colon && strchr(s, ':') == colon) { /* v4:port */
		if ((size_t)(colon - s) >= sizeof host)
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = atoi(colon + 1);
	} else {
		snprintf(host, sizeof host, "%s", s);
		char *pct = strchr(host, '%'); /* zone index: not for loopback use */
		if (pct)
			*pct = '\0';
	}
	if (port <= 0 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*sl = sizeof *v4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*sl = sizeof *v6;
		return 0;
	}
	return -1;
}

int mp_resolver_init(struct mp_resolver *r, const char *conf, struct mp_err *e)
{
	FILE *f;
	char line[1024];

	memset(r, 0, sizeof *r);
	r->timeout_ms = 5000;
	r->attempts = 2;
	r->ndots = 1;
	r->edns = 1;
	r->max_inflight = 128;
	f = fopen(conf ? conf : "/etc/resolv.conf", "re");
	while (f && fgets(line, sizeof line, f)) {
		char *save = NULL, *kw = strtok_r(line, " \t\r\n", &save), *v;
		if (!kw || kw[0] == '#' || kw[0] == ';')
			continue;
		if (strcmp(kw, "nameserver") == 0 && (v = strtok_r(NULL, " \t\r\n", &save)) &&
		    r->nns < MP_DNS_MAXNS) {
			if (parse_addr(v, 53, &r->ns[r->nns], &r->nslen[r->nns]) == 0)
				r->nns++;
		} else if (strcmp(kw, "search") == 0 || strcmp(kw, "domain") == 0) {
			r->nsearch = 0;
			while ((v = strtok_r(NULL, " \t\r\n", &save)) && r->nsearch < 6)
				snprintf(r->search[r->nsearch++], sizeof r->search[0], "%s", v);
		} else if (strcmp(kw, "options") == 0) {
			while ((v = strtok_r(NULL, " \t\r\n", &save))) {
				if (strncmp(v, "timeout:", 8) == 0 && atoi(v + 8) > 0)
					r->timeout_ms = atoi(v + 8) * 1000;
				else if (strncmp(v, "attempts:", 9) == 0 && atoi(v + 9) > 0)
					r->attempts = atoi(v + 9);
				else if (strncmp(v, "ndots:", 6) == 0)
					r->ndots = atoi(v + 6);
				else if (strcmp(v, "use-vc") == 0)
					r->tcp = 1;
			}
		}
	}
	if (f)
		fclose(f);
	if (r->nns == 0)
		mp_resolver_set_server(r, "127.0.0.1", 53, e);
	return 0;
}

int mp_resolver_set_server(struct mp_resolver *r, const char *addr, int port, struct mp_err *e)
{
	if (parse_addr(addr, port, &r->ns[0], &r->nslen[0]) < 0)
		return mp_err_set(e, EX_USAGE, "invalid server address '%s'", addr);
	r->nns = 1;
	return 0;
}

void mp_resolver_set_port(struct mp_resolver *r, int port)
{
	for (int i = 0; i < r->nns; i++) {
		if (r->ns[i].ss_family == AF_INET)
			((struct sockaddr_in *)&r->ns[i])->sin_port = htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)&r->ns[i])->sin6_port = htons((uint16_t)port);
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint16_t random_id(void)
{
	uint16_t id;

	if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
		id = (uint16_t)(now_ms() * 7919.0);
	return id;
}

static int same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *v = (const void *)ss;
		inet_ntop(AF_INET, &v->sin_addr, h, sizeof h);
		port = ntohs(v->sin_port);
		snprintf(buf, n, "%s:%d", h, port);
	} else {
		const struct sockaddr_in6 *v = (const void *)ss;
		inet_ntop(AF_INET6, &v->sin6_addr, h, sizeof h);
		port = ntohs(v->sin6_port);
		snprintf(buf, n, "[%s]:%d", h, port);
	}
	return buf;
}

struct qstate {
	int fd, ns, round, active, done;
	uint16_t id;
	double deadline, start;
	size_t qlen;
	uint8_t qbuf[512];
	struct mp_err lasterr;
	int have_fail; /* a SERVFAIL-like reply kept in case all servers say so */
};

/* the answer is for our question */
static int matches(const struct mp_dns_msg *m, const struct mp_dns_query *q)
{
	return (m->flags & MP_DNS_QR) && mp_dns_name_eq(m->qname, q->name) && m->qtype == q->type &&
	       m->qclass == 1;
}

static int tcp_query(struct mp_resolver *r, struct mp_dns_query *q, struct qstate *st,
                     double deadline, struct mp_err *e)
{
	char as[80];
	const struct sockaddr_storage *ns = &r->ns[st->ns];
	int fd = socket(ns->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	uint8_t lenb[2], *buf = NULL;
	struct pollfd p;
	size_t need, got = 0;
	int phase = 0; /* 0 connect, 1 send, 2 length, 3 body */

	addr_str(ns, as, sizeof as);
	if (fd < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "socket");
	if (connect(fd, (const struct sockaddr *)ns, r->nslen[st->ns]) < 0 &&
	    errno != EINPROGRESS) {
		mp_err_sys(e, EX_TEMPFAIL, "%s (tcp)", as);
		close(fd);
		return -1;
	}
	uint8_t out[514];
	out[0] = (uint8_t)(st->qlen >> 8);
	out[1] = (uint8_t)st->qlen;
	memcpy(out + 2, st->qbuf, st->qlen);
	size_t sent = 0;
	need = 2;
	for (;;) {
		int left = (int)(deadline - now_ms());
		if (left <= 0) {
			mp_err_set(e, EX_TEMPFAIL, "%s (tcp): timed out", as);
			goto fail;
		}
		p.fd = fd;
		p.events = phase <= 1 ? POLLOUT : POLLIN;
		if (poll(&p, 1, left) <= 0)
			continue;
		if (phase == 0) {
			int err = 0;
			socklen_t el = sizeof err;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				errno = err;
				mp_err_sys(e, EX_TEMPFAIL, "%s (tcp)", as);
				goto fail;
			}
			phase = 1;
		}
		if (phase == 1) {
			ssize_t w = send(fd, out + sent, st->qlen + 2 - sent, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN) {
				mp_err_sys(e, EX_TEMPFAIL, "%s (tcp)", as);
				goto fail;
			}
			if (w > 0 && (sent += (size_t)w) == st->qlen + 2)
				phase = 2;
			continue;
		}
		uint8_t *dst = phase == 2 ? lenb : buf;
		ssize_t n = recv(fd, dst + got, need - got, 0);
		if (n == 0) {
			mp_err_set(e, EX_TEMPFAIL, "%s (tcp): connection closed early", as);
			goto fail;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			mp_err_sys(e, EX_TEMPFAIL, "%s (tcp)", as);
			goto fail;
		}
		if ((got += (size_t)n) < need)
			continue;
		if (phase == 2) {
			need = get16(lenb);
			if (need < 12) {
				mp_err_set(e, EX_TEMPFAIL, "%s (tcp): short answer", as);
				goto fail;
			}
			buf = malloc(need);
			if (!buf) {
				mp_err_sys(e, EX_TEMPFAIL, "DNS answer");
				goto fail;
			}
			got = 0;
			phase = 3;
			continue;
		}
		struct mp_dns_msg m;
		if (mp_dns_decode(buf, need, &m, e) < 0) {
			e->code = EX_TEMPFAIL;
			goto fail;
		}
		if (m.id != st->id || !matches(&m, q)) {
			mp_dns_msg_free(&m);
			mp_err_set(e, EX_TEMPFAIL, "%s (tcp): answer does not match the question",
			           as);
			goto fail;
		}
		q->reply = m;
		q->via_tcp = 1;
		free(buf);
		close(fd);
		return 0;
	}
fail:
	free(buf);
	close(fd);
	return -1;
}

static void finish(struct mp_dns_query *q, struct qstate *st, int ok)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	st->active = 0;
	st->done = 1;
	q->status = ok ? 0 : -1;
	if (!ok)
		q->err = st->lasterr;
	q->ms = now_ms() - st->start;
}

/* send (again) to the current server with a fresh ID and port */
static int transmit(struct mp_resolver *r, struct mp_dns_query *q, struct qstate *st)
{
	const struct sockaddr_storage *ns = &r->ns[st->ns];

	if (st->fd >= 0)
		close(st->fd);
	st->id = random_id();
	if (mp_dns_query_encode(st->qbuf, sizeof st->qbuf, st->id, q->name, q->type, r->edns,
	                        &st->qlen, &st->lasterr) < 0)
		return -1;
	st->deadline = now_ms() + (double)r->timeout_ms * (1 << st->round) / (r->nns ? r->nns : 1);
	if (r->tcp) {
		st->fd = -1;
		if (tcp_query(r, q, st, st->deadline, &st->lasterr) == 0)
			return 1;
		st->deadline = 0; /* move on at once */
		return 0;
	}
	/* a socket of its own: the kernel picks a random source port */
	st->fd = socket(ns->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (st->fd < 0) {
		mp_err_sys(&st->lasterr, EX_TEMPFAIL, "socket");
		return -1;
	}
	/* connected: the kernel reports a closed port (ICMP) as ECONNREFUSED
	 * at once, instead of a time-out */
	if (connect(st->fd, (const struct sockaddr *)ns, r->nslen[st->ns]) < 0 ||
	    send(st->fd, st->qbuf, st->qlen, 0) < 0) {
		char as[80];
		mp_err_sys(&st->lasterr, EX_TEMPFAIL, "%s", addr_str(ns, as, sizeof as));
		st->deadline = 0;
	}
	return 0;
}

/* next server, or the next round over all of them; 0 when out of tries */
static int advance(struct mp_resolver *r, struct qstate *st)
{
	if (++st->ns >= r->nns) {
		st->ns = 0;
		if (++st->round >= r->attempts)
			return 0;
	}
	return 1;
}

static void on_reply(struct mp_resolver *r, struct mp_dns_query *q, struct qstate *st,
                     const uint8_t *buf, size_t n)
{
	struct mp_dns_msg m;
	struct mp_err e;
	char as[80];

	mp_err_clear(&e);
	if (n < 2 || get16(buf) != st->id) {
		r->spoofed++; /* not ours */
		return;
	}
	if (n < 12) {
		mp_err_set(&st->lasterr, EX_TEMPFAIL, "%s: malformed DNS message: %zu bytes",
		           addr_str(&r->ns[st->ns], as, sizeof as), n);
		st->deadline = 0;
		return;
	}
	if (mp_dns_decode(buf, n, &m, &e) < 0) {
		mp_err_set(&st->lasterr, EX_TEMPFAIL, "%s: %s",
		           addr_str(&r->ns[st->ns], as, sizeof as), e.msg);
		st->deadline = 0; /* this server is no good: the next one */
		return;
	}
	if (!matches(&m, q)) {
		r->spoofed++;
		mp_dns_msg_free(&m);
		return;
	}
	if (m.flags & MP_DNS_TC) {
		q->truncated = 1;
		mp_dns_msg_free(&m);
		close(st->fd);
		st->fd = -1;
		if (tcp_query(r, q, st, now_ms() + r->timeout_ms, &st->lasterr) == 0)
			finish(q, st, 1);
		else
			st->deadline = 0;
		return;
	}
	if ((m.rcode == MP_DNS_SERVFAIL || m.rcode == MP_DNS_REFUSED) &&
	    (st->round + 1 < r->attempts || st->ns + 1 < r->nns)) {
		/* another server may know better; keep this answer meanwhile */
		mp_dns_msg_free(&q->reply);
		q->reply = m;
		st->have_fail = 1;
		st->deadline = 0;
		return;
	}
	mp_dns_msg_free(&q->reply);
	q->reply = m;
	finish(q, st, 1);
}

int mp_dns_resolve(struct mp_resolver *r, struct mp_dns_query *q, size_t n)
{
	struct qstate *st = calloc(n ? n : 1, sizeof *st);
	struct pollfd *pf = calloc(n ? n : 1, sizeof *pf);
	size_t *map = calloc(n ? n : 1, sizeof *map), next = 0, ndone = 0, inflight = 0;
	int limit = r->max_inflight > 0 ? r->max_inflight : 128;

	if (!st || !pf || !map) {
		for (size_t i = 0; i < n; i++) {
			q[i].status = -1;
			mp_err_set(&q[i].err, EX_TEMPFAIL, "out of memory");
		}
		free(st);
		free(pf);
		free(map);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&q[i].reply, 0, sizeof q[i].reply);
		q[i].status = -1;
		q[i].via_tcp = q[i].truncated = 0;
		mp_err_clear(&q[i].err);
		st[i].fd = -1;
	}
	while (ndone < n) {
		/* start more while there is room */
		while (next < n && inflight < (size_t)limit) {
			struct qstate *s = &st[next];
			s->active = 1;
			s->start = now_ms();
			inflight++;
			int t = transmit(r, &q[next], s);
			if (t != 0) {
				finish(&q[next], s, t > 0);
				inflight--;
				ndone++;
			}
			next++;
		}
		double now = now_ms(), soon = now + 1000;
		size_t np = 0;
		for (size_t i = 0; i < next; i++) {
			struct qstate *s = &st[i];
			if (!s->active)
				continue;
			if (s->deadline <= now) {
				if (!s->have_fail && !s->lasterr.code)
					mp_err_set(&s->lasterr, EX_TEMPFAIL, "no answer from %s",
					           addr_str(&r->ns[s->ns], (char[80]){0}, 80));
				if (!advance(r, s)) {
					/* out of tries: a kept SERVFAIL is the answer */
					finish(&q[i], s, s->have_fail);
					inflight--;
					ndone++;
					continue;
				}
				int t = transmit(r, &q[i], s);
				if (t != 0) {
					finish(&q[i], s, t > 0);
					inflight--;
					ndone++;
					continue;
				}
			}
			if (s->deadline < soon)
				soon = s->deadline;
			if (s->fd >= 0) {
				pf[np].fd = s->fd;
				pf[np].events = POLLIN;
				map[np++] = i;
			}
		}
		if (ndone == n)
			break;
		int wait = (int)(soon - now_ms());
		if (poll(pf, np, wait < 0 ? 0 : wait + 1) <= 0)
			continue;
		for (size_t k = 0; k < np; k++) {
			size_t i = map[k];
			if (!(pf[k].revents & (POLLIN | POLLERR)) || !st[i].active)
				continue;
			for (;;) {
				uint8_t buf[65536];
				struct sockaddr_storage from;
				socklen_t fl = sizeof from;
				ssize_t got = recvfrom(st[i].fd, buf, sizeof buf, 0,
				                       (struct sockaddr *)&from, &fl);
				if (got < 0) {
					if (errno == ECONNREFUSED) {
						char as[80];
						mp_err_set(
						    &st[i].lasterr, EX_TEMPFAIL,
						    "%s: connection refused",
						    addr_str(&r->ns[st[i].ns], as, sizeof as));
						st[i].deadline = 0;
					}
					break;
				}
				if (!same_sockaddr(&from, &r->ns[st[i].ns])) {
					r->spoofed++; /* from somewhere we did not ask */
					continue;
				}
				on_reply(r, &q[i], &st[i], buf, (size_t)got);
				if (st[i].done) {
					inflight--;
					ndone++;
					break;
				}
				if (st[i].fd < 0 || st[i].deadline == 0)
					break;
			}
		}
	}
	free(st);
	free(pf);
	free(map);
	return 0;
}

void mp_dns_query_free(struct mp_dns_query *q, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mp_dns_msg_free(&q[i].reply);
}

int mp_dns_txt_find(struct mp_resolver *r, const char *name, int (*want)(const char *, size_t),
                    struct mp_buf *out, struct mp_err *e)
{
	struct mp_dns_query q = {.name = name, .type = MP_DNS_TXT};
	struct mp_buf t = MP_BUF_INIT;
	int found = 0;

	mp_dns_resolve(r, &q, 1);
	if (q.status < 0) {
		*e = q.err;
		found = -1;
	} else if (q.reply.rcode != MP_DNS_NOERROR && q.reply.rcode != MP_DNS_NXDOMAIN) {
		mp_err_set(e, EX_TEMPFAIL, "TXT %s: %s", name, mp_dns_rcode_name(q.reply.rcode));
		found = -1;
	}
	for (size_t i = 0; found >= 0 && i < q.reply.nan; i++) {
		if (q.reply.rr[i].type != MP_DNS_TXT || mp_dns_txt(&q.reply.rr[i], &t) < 0 ||
		    !want(t.data, t.len))
			continue;
		if (found++)
			continue;
		mp_buf_reset(out);
		if (mp_buf_append(out, t.data, t.len) < 0) {
			mp_err_set(e, EX_TEMPFAIL, "out of memory");
			found = -1;
		}
	}
	mp_buf_free(&t);
	mp_dns_query_free(&q, 1);
	return found;
}
