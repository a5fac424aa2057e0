/* Connection reuse for a queue flush (send.c's sessions and
 * transactions, kept open from one message to the next). */
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
	char key[MP_DNS_NAMEMAX];  /* the domain; "" for the relay */
	char host[MP_DNS_NAMEMAX]; /* PC_OPEN in direct mode: the MX host */
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
	if (send_session(&c->p, s, hn, hp, &c->caps, &perm, e) < 0) {
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

/* QUIT and close c's session */
static void pconn_close(struct pconn *c)
{
	struct mp_smtp_reply rep;
	struct mp_err e;

	mp_err_clear(&e);
	mp_smtp_cmd(&c->p, "QUIT", &rep, &e);
	mp_proto_close(&c->p);
	c->state = PC_CLOSED;
}

/* before a session to the MX host hn: the pool's open one to it closed */
static void pool_free_host(struct pool *pl, const char *hn)
{
	for (size_t i = 0; i < pl->n; i++)
		if (pl->c[i]->state == PC_OPEN && strcasecmp(pl->c[i]->host, hn) == 0)
			pconn_close(pl->c[i]);
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
		send_mx_why(&mx, why, sizeof why);
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
		char hn[MP_DNS_NAMEMAX], why[300];
		struct host_policy hp;
		if (send_host_unusable(s, host, hn, sizeof hn, why, sizeof why)) {
			pconn_dead(c, 451, 0, hn, why);
			continue;
		}
		send_host_name(host, hn, sizeof hn);
		host_policy(&pl->res, s, &dp, dom, host, port, &hp);
		if (hp.skip) { /* the policy rules this host out: maybe the next one */
			pconn_dead(c, 451, 0, hn, hp.why);
			host_policy_free(&hp);
			continue;
		}
		pool_free_host(pl, host->name);
		for (size_t a = 0; a < host->naddrs && c->state != PC_OPEN; a++) {
			struct sockaddr_storage ss;
			socklen_t sl =
			    mx_sockaddr(host->addrs[a].family, host->addrs[a].addr, port, &ss);
			char as[64];
			inet_ntop(host->addrs[a].family, host->addrs[a].addr, as, sizeof as);
			snprintf(c->where, sizeof c->where, "%.300s [%s] port %d", hn, as, port);
			if (s->verbose)
				mp_warn("%s: connecting", c->where);
			struct mp_err he;
			mp_err_clear(&he);
			int fd =
			    mp_net_connect_addr((struct sockaddr *)&ss, sl, s->timeout_ms, &he);
			if (fd < 0)
				pconn_dead(c, 421, 0, c->where, he.msg);
			else if (pconn_session(c, &ds, fd, hn, &hp, &he) == 0) {
				snprintf(c->host, sizeof c->host, "%s", host->name);
				host_policy_report(&hp, hn, dom, &c->p.tls, c->p.tls_on,
				                   s->verbose);
			}
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
		int rc = send_batches(&c->p, &c->caps, m, from, r, n, &te);
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
		send_session_failed(r, n, &te, c->where, 0);
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
			const char *d = send_domain_of(r[i].addr);
			size_t ns = 0;
			for (size_t k = i; k < n; k++)
				if (!seen[k] && !r[k].done &&
				    strcasecmp(send_domain_of(r[k].addr), d) == 0) {
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
	return send_verdict(r, n);
}

void pool_free(struct pool *pl)
{
	if (!pl)
		return;
	for (size_t i = 0; i < pl->n; i++) {
		if (pl->c[i]->state == PC_OPEN)
			pconn_close(pl->c[i]);
		free(pl->c[i]);
	}
	free(pl->c);
	free(pl);
}
