/* Sending: one SMTP transaction per connection with PIPELINING when
 * offered, to a relay (TLS or STARTTLS, AUTH only under TLS) or directly
 * to the MX hosts of each recipient domain; the message goes in its wire
 * form (wire.c). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "io.h"
#include "msend.h"
#include "mx.h"
#include "net.h"
#include "send.h"
#include "tlspolicy.h"

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
/* with PIPELINING, MAIL, the RCPTs and DATA go out together, in as few
 * segments as they fill (RFC 2920 3.1): written one by one (TCP_NODELAY),
 * a server that answers what it has read so far, then the rest, has its
 * later replies held back by its Nagle algorithm until our delayed ACK,
 * some 40 ms a transaction. The cork is taken out before the replies are
 * read (which sends what it held at once). */
static void cork(const struct mp_proto *p, int on)
{
#ifdef TCP_CORK
	setsockopt(p->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
#else
	(void)p, (void)on;
#endif
}

int send_transaction(struct mp_proto *p, const struct mp_smtp_caps *c, struct message *m,
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

	if (to7 && wire_prepare7(m) < 0) {
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
	if (pipelining)
		cork(p, 1);
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
		cork(p, 0);
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
	if (bdat ? wire_bdat(p, m, how, pipelining, &rep, e) < 0
	         : wire_data(p, m, how, size, e) < 0 || mp_smtp_reply(p, &rep, e) < 0)
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

int send_batches(struct mp_proto *p, const struct mp_smtp_caps *c, struct message *m,
                 const char *from, struct rcpt *r, size_t n, struct mp_err *e)
{
	size_t per = m->verp.on ? 1 : SEND_MAX_RCPTS;
	int any = 0;

	for (size_t i = 0; i < n;) {
		size_t k = i, cnt = 0, one = n;
		for (; k < n && cnt < per; k++)
			if (!r[k].done)
				one = cnt++ ? one : k;
		if (!cnt)
			break;
		char vf[1200];
		const char *f = from;
		if (m->verp.on) { /* its own sender: a bounce names it */
			if (verp_sender(&m->verp, from, r[one].addr, vf, sizeof vf) < 0) {
				r[one].code = 553;
				snprintf(r[one].text, sizeof r[one].text,
				         "5.1.7 the VERP sender for it would be too long");
				r[one].done = 1;
				i = k;
				continue;
			}
			f = vf;
		}
		int rc = send_transaction(p, c, m, f, r + i, k - i, e);
		if (rc < 0)
			return -1;
		any |= rc == 0;
		i = k;
	}
	return any ? 0 : 1;
}

/* ---------------------------------------------------------------- sessions */

/* greet, EHLO, TLS as asked (for an MX host: as its policy hp says),
 * AUTH: a session ready for MAIL */
int send_session(struct mp_proto *p, const struct settings *s, const char *tlsname,
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
	/* a relay asked for in clear (--no-tls, tls off) stays so, STARTTLS
	 * offered or not; an MX host goes by its policy */
	int clear = s->no_tls && !hp;
	if (!p->tls_on && !clear && (mandatory || (caps->bits & MP_SMTP_STARTTLS))) {
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
		/* the file's password, else the command, else MSEND_PASSWORD */
		const char *given = s->password        ? s->password
		                    : s->password_eval ? NULL
		                                       : s->env_password;
		if (!(pass = mp_password2(given, s->password_eval, "MSEND_PASSWORD", e)))
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
void send_session_failed(struct rcpt *r, size_t n, const struct mp_err *e, const char *where,
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
	if (fd < 0 && e->code == EX_NOHOST) {
		/* NXDOMAIN: no such relay, a mistake no wait mends (68, not
		 * queued); SERVFAIL or a time-out was EX_TEMPFAIL and waits */
		char why[sizeof e->msg];
		snprintf(why, sizeof why, "%s", e->msg);
		mp_err_set(e, EX_NOHOST, "relay %s: no such host (%s)", host, why);
		return -1;
	}
	if (fd < 0) {
		send_session_failed(r, n, e, where, 0);
		return 0;
	}
	mp_proto_init(&p, fd, s->timeout_ms, s->verbose);
	int perm = 0;
	if (send_session(&p, s, host, NULL, &caps, &perm, e) < 0 ||
	    (send_batches(&p, &caps, m, from, r, n, e) < 0)) {
		send_session_failed(r, n, e, where, perm);
		mp_proto_close(&p);
		return e->code == EX_TEMPFAIL || e->code == EX_UNAVAILABLE || e->code == EX_PROTOCOL
		           ? 0
		           : -1;
	}
	mp_smtp_cmd(&p, "QUIT", &rep, e);
	mp_proto_close(&p);
	return 0;
}

const char *send_domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

void send_host_name(const struct mp_mx_host *h, char *hn, size_t hnsz)
{
	size_t hl = strlen(h->name);

	snprintf(hn, hnsz, "%.*s", (int)(hl > 1 && h->name[hl - 1] == '.' ? hl - 1 : hl), h->name);
}

int send_host_unusable(const struct settings *s, const struct mp_mx_host *h, char *hn, size_t hnsz,
                       char *why, size_t whysz)
{
	if (h->naddrs > 0)
		return 0;
	send_host_name(h, hn, hnsz);
	snprintf(why, whysz, "no address: %.200s", h->err[0] ? h->err : "none found");
	if (s->verbose)
		mp_warn("%s: skipped: %s", hn, why);
	return 1;
}

void send_mx_why(const struct mp_mx *m, char *buf, size_t n)
{
	int l = snprintf(buf, n, "%.200s%s%.190s", mp_mx_status_text(m->status),
	                 m->err[0] ? ": " : "", m->err);

	for (size_t i = 0; i < m->nhosts && l > 0 && (size_t)l < n; i++) {
		char hn[MP_DNS_NAMEMAX];
		if (m->hosts[i].naddrs > 0 || !m->hosts[i].err[0])
			continue;
		send_host_name(&m->hosts[i], hn, sizeof hn);
		snprintf(buf + l, n - (size_t)l, " (%.200s: %.200s)", hn, m->hosts[i].err);
		break;
	}
}

/* one MX host, each of its addresses in turn, under its TLS policy hp;
 * returns how many recipients are still to go */
static size_t try_host(const struct settings *s, struct message *m, const char *from,
                       struct rcpt *sub, size_t ns, const struct mp_mx_host *host, int port,
                       const struct host_policy *hp, struct rcpt *best)
{
	char hn[MP_DNS_NAMEMAX];
	size_t left = ns;
	const char *domain = ns ? send_domain_of(sub[0].addr) : "";

	send_host_name(host, hn, sizeof hn);
	if (hp->skip) { /* the policy rules this host out: maybe the next one */
		struct mp_err he;
		mp_err_set(&he, EX_TEMPFAIL, "%s", hp->why);
		send_session_failed(sub, ns, &he, hn, 0);
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
		if (s->verbose)
			mp_warn("%s: connecting", where);
		struct mp_err he;
		mp_err_clear(&he);
		int fd = mp_net_connect_addr((struct sockaddr *)&ss, sl, s->timeout_ms, &he);
		if (fd < 0) {
			send_session_failed(sub, ns, &he, where, 0);
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
		int rc = send_session(&p, &ds, hn, hp, &caps, &perm, &he);
		if (rc < 0 && hp->kind != HP_OPPORTUNISTIC && hp->kind != HP_STS_TESTING) {
			/* say which policy made it fail */
			char msg[sizeof he.msg];
			snprintf(msg, sizeof msg, "%s", he.msg);
			snprintf(he.msg, sizeof he.msg, "%s: %.200s", host_policy_name(hp), msg);
		}
		if (rc == 0) {
			host_policy_report(hp, hn, domain, &p.tls, p.tls_on, s->verbose);
			rc = send_batches(&p, &caps, m, from, sub, ns, &he);
		}
		if (rc < 0)
			send_session_failed(sub, ns, &he, where, perm);
		else
			mp_smtp_cmd(&p, "QUIT", &rep, &he);
		mp_proto_close(&p);
		/* a permanent answer from an MX is the domain's answer; a
		 * server's temporary one is kept for a recipient that waits,
		 * rather than a later host's connection failure */
		left = 0;
		for (size_t i = 0; i < ns; i++) {
			if (!sub[i].done && code_class(sub[i].code) == 5 && rc >= 0)
				sub[i].done = 1;
			if (!sub[i].done && rc >= 0) {
				best[i].code = sub[i].code;
				memcpy(best[i].text, sub[i].text, sizeof best[i].text);
			}
			left += !sub[i].done;
		}
		if (!left)
			break;
	}
	return left;
}

/* one domain's recipients of r (its MX lookup mx): its MX hosts in
 * order, until one takes them */
static void deliver_domain(struct mp_resolver *res, const struct settings *s, struct message *m,
                           const char *from, struct rcpt *r, size_t n, const char *dom,
                           const struct mp_mx *mx)
{
	struct rcpt *sub = mp_xmalloc((n ? n : 1) * sizeof *sub);
	size_t *map = mp_xmalloc((n ? n : 1) * sizeof *map), ns = 0;

	for (size_t i = 0; i < n; i++)
		if (!r[i].done && strcasecmp(send_domain_of(r[i].addr), dom) == 0)
			ns++;
	/* the last reply a server gave each recipient (code 0: none) */
	struct rcpt *best = mp_xmalloc((ns ? ns : 1) * sizeof *best);
	memset(best, 0, (ns ? ns : 1) * sizeof *best);
	ns = 0;
	for (size_t i = 0; i < n; i++)
		if (!r[i].done && strcasecmp(send_domain_of(r[i].addr), dom) == 0) {
			sub[ns] = r[i];
			map[ns++] = i;
		}
	if (mx->status != MP_MX_OK) {
		int perm = mx->status == MP_MX_NXDOMAIN || mx->status == MP_MX_NULL ||
		           mx->status == MP_MX_NOMAIL || mx->status == MP_MX_BADNAME;
		char why[600];
		send_mx_why(mx, why, sizeof why);
		for (size_t i = 0; i < ns; i++) {
			sub[i].code = perm ? 556 : 451;
			snprintf(sub[i].text, sizeof sub[i].text, "%.200s: %.600s", dom, why);
			sub[i].done = perm;
		}
	}
	struct domain_policy dp = {0};
	if (mx->status == MP_MX_OK)
		domain_policy(res, s, mx->domain, &dp);
	for (size_t h = 0; mx->status == MP_MX_OK && h < mx->nhosts; h++) {
		struct host_policy hp;
		int port = s->mx_port ? s->mx_port : 25;
		char hn[MP_DNS_NAMEMAX], why[300];
		if (send_host_unusable(s, &mx->hosts[h], hn, sizeof hn, why, sizeof why)) {
			struct mp_err he;
			mp_err_set(&he, EX_TEMPFAIL, "%s", why);
			send_session_failed(sub, ns, &he, hn, 0);
			continue;
		}
		host_policy(res, s, &dp, dom, &mx->hosts[h], port, &hp);
		int left = try_host(s, m, from, sub, ns, &mx->hosts[h], port, &hp, best);
		host_policy_free(&hp);
		if (!left)
			break;
	}
	for (size_t i = 0; i < ns; i++) {
		if (!sub[i].done && best[i].code) { /* what a server said of it */
			sub[i].code = best[i].code;
			memcpy(sub[i].text, best[i].text, sizeof sub[i].text);
		}
		r[map[i]] = sub[i];
	}
	free(sub);
	free(best);
	free(map);
}

/* MX host names and the domain (index) that names each, sorted by name */
struct host_of {
	const char *name;
	size_t dom;
};
static int host_of_cmp(const void *a, const void *b)
{
	const struct host_of *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);

	return c ? c : (x->dom > y->dom) - (x->dom < y->dom);
}

/* union-find over domain indexes, the smallest index the root */
static size_t group_root(size_t *group, size_t k)
{
	while (group[k] != k)
		k = group[k] = group[group[k]];
	return k;
}

/* group[k]: the first of the domains whose MX lists name a host in common
 * with k's, directly or through others */
static void group_by_host(const struct mp_mx *mx, size_t nd, size_t *group)
{
	size_t nh = 0, h = 0;

	for (size_t k = 0; k < nd; k++) {
		group[k] = k;
		nh += mx[k].status == MP_MX_OK ? mx[k].nhosts : 0;
	}
	struct host_of *all = mp_xmalloc((nh ? nh : 1) * sizeof *all);
	for (size_t k = 0; k < nd; k++)
		for (size_t i = 0; mx[k].status == MP_MX_OK && i < mx[k].nhosts; i++)
			all[h++] = (struct host_of){mx[k].hosts[i].name, k};
	qsort(all, nh, sizeof *all, host_of_cmp);
	for (size_t i = 1; i < nh; i++)
		if (strcasecmp(all[i - 1].name, all[i].name) == 0) {
			size_t x = group_root(group, all[i - 1].dom),
			       y = group_root(group, all[i].dom);
			if (x < y)
				group[y] = x;
			else
				group[x] = y;
		}
	for (size_t k = 0; k < nd; k++)
		group[k] = group_root(group, k);
	free(all);
}

/* the domains shared out among s->parallel worker processes (default
 * PARALLEL_DEFAULT): domains whose MX lists name a host in common, at
 * any preference, and so on transitively, go to one worker, so that a
 * host has at most one connection from us at a time (a worker delivers
 * its domains one after the other, one connection each: a domain's
 * first MX host down, its next one is one a sibling domain may be
 * using); each worker takes its domains in the order of the list. The
 * verdicts go into a shared copy of r, by recipient, so that they are the
 * same whichever worker finishes first. A worker that dies leaves its
 * recipients not done (queued: nothing is lost, some may go twice). */
#define PARALLEL_DEFAULT 4
static void deliver_parallel(struct mp_resolver *res, const struct settings *s, struct message *m,
                             const char *from, struct rcpt *r, size_t n, const char **doms,
                             size_t nd, const struct mp_mx *mx, int par)
{
	size_t sz = (n ? n : 1) * sizeof *r;
	struct rcpt *sh = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *worker = mp_xmalloc((nd ? nd : 1) * sizeof *worker);
	size_t *load = mp_xmalloc((size_t)par * sizeof *load), *count;
	pid_t *pid = mp_xmalloc((size_t)par * sizeof *pid);

	if (sh == MAP_FAILED) { /* one after the other, then */
		for (size_t k = 0; k < nd; k++)
			deliver_domain(res, s, m, from, r, n, doms[k], &mx[k]);
		free(worker), free(load), free(pid);
		return;
	}
	memcpy(sh, r, n * sizeof *r);
	/* recipients per domain; a group of domains sharing MX hosts goes to
	 * the least loaded worker */
	count = mp_xmalloc((nd ? nd : 1) * sizeof *count);
	memset(count, 0, (nd ? nd : 1) * sizeof *count);
	memset(load, 0, (size_t)par * sizeof *load);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < nd; k++)
			if (!r[i].done && strcasecmp(send_domain_of(r[i].addr), doms[k]) == 0) {
				count[k]++;
				break;
			}
	size_t *group = mp_xmalloc((nd ? nd : 1) * sizeof *group);
	group_by_host(mx, nd, group);
	/* a group's load, to the least loaded worker (groups in list order) */
	size_t *gload = mp_xmalloc((nd ? nd : 1) * sizeof *gload);
	memset(gload, 0, (nd ? nd : 1) * sizeof *gload);
	for (size_t k = 0; k < nd; k++)
		gload[group[k]] += count[k];
	for (size_t k = 0; k < nd; k++) {
		if (group[k] != k) {
			worker[k] = worker[group[k]];
			continue;
		}
		worker[k] = 0;
		for (int w = 1; w < par; w++)
			if (load[w] < load[worker[k]])
				worker[k] = w;
		load[worker[k]] += gload[k];
	}
	free(group), free(gload);
	fflush(stdout);
	fflush(stderr);
	for (int w = 0; w < par; w++) {
		pid[w] = load[w] ? fork() : 0;
		if (pid[w] == 0 && load[w]) {
			for (size_t k = 0; k < nd; k++)
				if (worker[k] == w)
					deliver_domain(res, s, m, from, sh, n, doms[k], &mx[k]);
			fflush(stderr);
			_exit(0);
		}
		if (pid[w] < 0) /* no process: this one does the share */
			for (size_t k = 0; k < nd; k++)
				if (worker[k] == w)
					deliver_domain(res, s, m, from, sh, n, doms[k], &mx[k]);
	}
	for (int w = 0; w < par; w++) {
		int st = 0;
		if (pid[w] <= 0)
			continue;
		while (waitpid(pid[w], &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			continue;
		/* what it had not finished waits in the queue */
		for (size_t k = 0; k < nd; k++)
			for (size_t i = 0; worker[k] == w && i < n; i++)
				if (!sh[i].done &&
				    strcasecmp(send_domain_of(sh[i].addr), doms[k]) == 0) {
					sh[i].code = 451;
					snprintf(sh[i].text, sizeof sh[i].text,
					         "4.3.0 the worker for %.200s ended abnormally",
					         doms[k]);
				}
	}
	memcpy(r, sh, n * sizeof *r);
	munmap(sh, sz);
	free(worker), free(load), free(pid), free(count);
}

/* every recipient domain: its MX hosts in order, until one takes it;
 * several domains at once with s->parallel */
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
		const char *d = send_domain_of(r[i].addr);
		size_t k = 0;
		while (k < nd && strcasecmp(doms[k], d) != 0)
			k++;
		if (k == nd && !r[i].done)
			doms[nd++] = d;
	}
	struct mp_mx *mx = mp_xmalloc((nd ? nd : 1) * sizeof *mx);
	mp_mx_lookup(&res, doms, nd, 0, mx);
	int par = s->parallel ? s->parallel : PARALLEL_DEFAULT;
	if (par > 1 && nd > 1)
		deliver_parallel(&res, s, m, from, r, n, doms, nd, mx,
		                 par > (int)nd ? (int)nd : par);
	else
		for (size_t k = 0; k < nd; k++)
			deliver_domain(&res, s, m, from, r, n, doms[k], &mx[k]);
	mp_mx_free(mx, nd);
	free(mx);
	free(doms);
	return 0;
}

/* 5xx: done for good (failed); 2xx: delivered; anything else waits */
int send_verdict(struct rcpt *r, size_t n)
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
	return send_verdict(r, n);
}
