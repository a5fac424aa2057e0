/* Direct delivery's TLS policy. DANE (RFC 7672) wins over MTA-STS (RFC
 * 8461 2): a host with DNSSEC-authenticated TLSA records gets TLS checked
 * against them whatever the domain's MTA-STS policy says. Every lookup
 * failure here leaves the delivery possible (opportunistic) except the
 * ones the RFCs make fatal: a TLSA lookup that fails for a host whose
 * address was authenticated (it may be an attack: RFC 7672 2.2), and a
 * host an enforced MTA-STS policy does not list. */
#include "tlspolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "net.h"

#define CACHE_MAGIC "mailpipe-mta-sts 1"

static void strip_dot(const char *in, char *out, size_t n)
{
	size_t l = strlen(in);

	snprintf(out, n, "%.*s", (int)(l > 1 && in[l - 1] == '.' ? l - 1 : l), in);
}

/* ---------------------------------------------------------------- MTA-STS cache */

/* $XDG_CACHE_HOME/mailpipe/mta-sts/DOMAIN (else ~/.cache/...); made when
 * mk is set */
static int cache_path(const char *domain, char *out, size_t n, int mk)
{
	const char *base = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[4096];

	for (const char *p = domain; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return -1;
	if (!domain[0] || domain[0] == '.')
		return -1;
	if (base && base[0] == '/')
		snprintf(dir, sizeof dir, "%s/mailpipe", base);
	else if (home && home[0] == '/')
		snprintf(dir, sizeof dir, "%s/.cache/mailpipe", home);
	else
		return -1;
	if (mk) {
		char parent[4096];
		snprintf(parent, sizeof parent, "%.*s", (int)(strrchr(dir, '/') - dir), dir);
		mkdir(parent, 0700);
		mkdir(dir, 0700);
	}
	if (strlen(dir) + 9 >= sizeof dir)
		return -1;
	strcat(dir, "/mta-sts");
	if (mk && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if ((size_t)snprintf(out, n, "%s/%s", dir, domain) >= n)
		return -1;
	for (char *p = out + strlen(dir); *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

struct cached {
	char id[MP_STS_IDMAX + 1];
	long long expires;
	struct mp_sts_policy sts;
};

/* the file: a first line, "id ID", "expires UNIXTIME", a blank line, then
 * the policy as it was served (parsed again on each use) */
static int cache_load(const char *domain, struct cached *c)
{
	char path[4200], *buf;
	int fd;
	ssize_t n;
	struct mp_err e;

	if (cache_path(domain, path, sizeof path, 0) < 0 || (fd = open(path, O_RDONLY)) < 0)
		return -1;
	buf = mp_xmalloc(MP_STS_MAX + 512 + 1);
	n = mp_read_full(fd, buf, MP_STS_MAX + 512 + 1);
	close(fd);
	if (n <= 0 || n > MP_STS_MAX + 512)
		goto bad;
	buf[n] = '\0';
	char *body = strstr(buf, "\n\n");
	if (!body)
		goto bad;
	*body = '\0';
	body += 2;
	if (sscanf(buf, CACHE_MAGIC "\nid %32[A-Za-z0-9]\nexpires %lld", c->id, &c->expires) != 2)
		goto bad;
	mp_err_clear(&e);
	if (mp_sts_parse(body, (size_t)(buf + n - body), &c->sts, &e) < 0)
		goto bad;
	free(buf);
	return 0;
bad:
	free(buf);
	return -1;
}

static void cache_save(const char *domain, const char *id, long long expires,
                       const struct mp_buf *policy, int verbose)
{
	char path[4200];
	struct mp_buf b = MP_BUF_INIT;
	struct mp_err e;

	mp_err_clear(&e);
	if (cache_path(domain, path, sizeof path, 1) < 0) {
		if (verbose)
			mp_warn("MTA-STS: no cache directory for %s", domain);
		return;
	}
	mp_buf_printf(&b, CACHE_MAGIC "\nid %s\nexpires %lld\n\n", id, expires);
	mp_buf_append(&b, policy->data, policy->len);
	if (mp_atomic_write(path, b.data, b.len, 0600, &e) < 0)
		mp_warn("MTA-STS: cache %s: %s", path, e.msg);
	mp_buf_free(&b);
}

/* ---------------------------------------------------------------- MTA-STS fetch */

/* a connection to mta-sts.DOMAIN port 443, its addresses from our
 * resolver (or --sts-addr, for tests) */
static int sts_connect(struct mp_resolver *r, const struct settings *s, const char *domain,
                       struct mp_err *e)
{
	char name[MP_DNS_NAMEMAX + 16];
	struct mp_dns_query q[2];
	int fd = -1;

	if (s->sts_addr) {
		char host[256];
		int port = 0;
		if (mp_net_split(s->sts_addr, host, sizeof host, &port, e) < 0)
			return -1;
		return mp_net_connect(host, port ? port : 443, 0, s->timeout_ms, NULL, 0, e);
	}
	snprintf(name, sizeof name, "mta-sts.%s", domain);
	memset(q, 0, sizeof q);
	q[0].name = q[1].name = name;
	q[0].type = MP_DNS_A;
	q[1].type = MP_DNS_AAAA;
	mp_dns_resolve(r, q, 2);
	mp_err_set(e, EX_TEMPFAIL, "%s has no address", name);
	for (int k = 0; k < 2 && fd < 0; k++)
		for (size_t i = 0; q[k].status == 0 && i < q[k].reply.nan && fd < 0; i++) {
			const struct mp_dns_rr *rr = &q[k].reply.rr[i];
			struct sockaddr_storage ss = {0};
			socklen_t sl;
			if (rr->type != q[k].type)
				continue;
			if (rr->type == MP_DNS_A) {
				struct sockaddr_in *v = (void *)&ss;
				v->sin_family = AF_INET;
				v->sin_port = htons(443);
				memcpy(&v->sin_addr, rr->addr, 4);
				sl = sizeof *v;
			} else {
				struct sockaddr_in6 *v = (void *)&ss;
				v->sin6_family = AF_INET6;
				v->sin6_port = htons(443);
				memcpy(&v->sin6_addr, rr->addr, 16);
				sl = sizeof *v;
			}
			fd = mp_net_connect_addr((struct sockaddr *)&ss, sl, s->timeout_ms, e);
		}
	mp_dns_query_free(q, 2);
	return fd;
}

static int sts_fetch(struct mp_resolver *r, const struct settings *s, const char *domain,
                     struct mp_buf *body, struct mp_sts_policy *p, struct mp_err *e)
{
	struct mp_sts_fetch f = {.ca_file = s->ca_file, .timeout_ms = s->timeout_ms};
	int fd = sts_connect(r, s, domain, e), rc;

	if (fd < 0)
		return -1;
	rc = mp_sts_get(fd, domain, &f, body, e);
	close(fd);
	if (rc < 0)
		return -1;
	if (!f.text_plain)
		return mp_err_set(e, EX_DATAERR, "the policy is not served as text/plain");
	return mp_sts_parse(body->data, body->len, p, e);
}

/* the id of the domain's one valid STSv1 record: 1 found, 0 none, -1 the
 * lookup failed */
static int sts_record(struct mp_resolver *r, const char *domain, char *id, size_t idsz, char *why,
                      size_t whysz)
{
	char name[MP_DNS_NAMEMAX + 16], one[MP_STS_IDMAX + 1];
	struct mp_buf txt = MP_BUF_INIT;
	struct mp_dns_query q = {0};
	struct mp_err e;
	int n = 0, rc;

	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	q.name = name;
	q.type = MP_DNS_TXT;
	mp_dns_resolve(r, &q, 1);
	if (q.status != 0 ||
	    (q.reply.rcode != MP_DNS_NOERROR && q.reply.rcode != MP_DNS_NXDOMAIN)) {
		snprintf(why, whysz, "TXT %.100s: %.100s", name,
		         q.status ? q.err.msg : mp_dns_rcode_name(q.reply.rcode));
		mp_dns_query_free(&q, 1);
		return -1;
	}
	for (size_t i = 0; i < q.reply.nan; i++) {
		int l = mp_dns_txt(&q.reply.rr[i], &txt);
		if (l < 0 || !mp_dns_name_eq(q.reply.rr[i].name, name))
			continue;
		mp_err_clear(&e);
		rc = mp_sts_txt(txt.data, (size_t)l, one, sizeof one, &e);
		if (rc == 0)
			continue;
		n++; /* RFC 8461 3.1: anything but exactly one valid record is none */
		if (rc < 0) {
			snprintf(why, whysz, "%s", e.msg);
			n = 2;
		}
		snprintf(id, idsz, "%s", one);
	}
	mp_buf_free(&txt);
	mp_dns_query_free(&q, 1);
	if (n > 1 && !why[0])
		snprintf(why, whysz, "more than one MTA-STS record");
	return n == 1;
}

void domain_policy(struct mp_resolver *r, const struct settings *s, const char *domain,
                   struct domain_policy *dp)
{
	char d[MP_DNS_NAMEMAX], id[MP_STS_IDMAX + 1] = "", why[256] = "";
	struct cached c;
	struct mp_buf body = MP_BUF_INIT;
	struct mp_err e;
	long long now = (long long)time(NULL);

	memset(dp, 0, sizeof *dp);
	strip_dot(domain, d, sizeof d);
	int have_cache = cache_load(d, &c) == 0 && c.expires > now;
	int rec = sts_record(r, d, id, sizeof id, why, sizeof why);

	if (have_cache && (rec != 1 || strcmp(id, c.id) == 0)) {
		/* RFC 8461 5.1: the cached policy stands while its id does */
		dp->sts = c.sts;
		snprintf(dp->how, sizeof dp->how, "cached, id %s", c.id);
	} else if (rec == 1) {
		mp_err_clear(&e);
		if (sts_fetch(r, s, d, &body, &dp->sts, &e) == 0) {
			snprintf(dp->how, sizeof dp->how, "fetched from mta-sts.%.100s, id %s", d,
			         id);
			cache_save(d, id, now + dp->sts.max_age, &body, s->verbose);
		} else if (have_cache) {
			dp->sts = c.sts;
			snprintf(dp->how, sizeof dp->how,
			         "cached, id %s (a new one failed: %.120s)", c.id, e.msg);
		} else {
			if (s->verbose)
				mp_warn("%s: MTA-STS: no policy: %s", d, e.msg);
			goto none;
		}
	} else {
		if (s->verbose && why[0])
			mp_warn("%s: MTA-STS: %s", d, why);
		goto none;
	}
	dp->have = dp->sts.mode != MP_STS_NONE;
	if (s->verbose)
		mp_warn("%s: MTA-STS policy mode %s (%s)", d, mp_sts_mode_name(dp->sts.mode),
		        dp->how);
none:
	mp_buf_free(&body);
}

/* ---------------------------------------------------------------- per host */

const char *host_policy_name(const struct host_policy *hp)
{
	switch (hp->kind) {
	case HP_REQUIRED: return "--tls-required";
	case HP_DANE: return "DANE";
	case HP_DANE_NOAUTH: return "DANE (no usable TLSA records: TLS unauthenticated)";
	case HP_STS_ENFORCE: return "MTA-STS enforce";
	case HP_STS_TESTING: return "MTA-STS testing";
	default: return "opportunistic";
	}
}

/* TLSA records of _PORT._tcp.HOST: DANE when the answer was authenticated */
static void dane(struct mp_resolver *r, const struct mp_mx_host *h, int port, const char *hn,
                 struct host_policy *hp, int verbose)
{
	char name[MP_DNS_NAMEMAX + 32];
	struct mp_dns_query *q = &hp->q;
	size_t all = 0;

	snprintf(name, sizeof name, "_%d._tcp.%s", port, hn);
	q->name = name;
	q->type = MP_DNS_TLSA;
	mp_dns_resolve(r, q, 1);
	q->name = NULL; /* name is ours only for now */
	if (q->status != 0 ||
	    (q->reply.rcode != MP_DNS_NOERROR && q->reply.rcode != MP_DNS_NXDOMAIN)) {
		/* a validating resolver says SERVFAIL for a bogus answer: with the
		 * address authenticated, that must not fall back to no DANE */
		if (h->ad) {
			hp->skip = 1;
			snprintf(hp->why, sizeof hp->why,
			         "DANE: the TLSA lookup for %.160s failed (%.100s)", name,
			         q->status ? q->err.msg : mp_dns_rcode_name(q->reply.rcode));
		}
		return;
	}
	for (size_t i = 0; i < q->reply.nan; i++) {
		const struct mp_dns_rr *rr = &q->reply.rr[i];
		if (rr->type != MP_DNS_TLSA || rr->rdlen < 4 || !mp_dns_name_eq(rr->name, name))
			continue;
		all++;
		/* RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP */
		if ((rr->usage != 2 && rr->usage != 3) || hp->ntlsa == HP_MAXTLSA)
			continue;
		hp->tlsa[hp->ntlsa].usage = rr->usage;
		hp->tlsa[hp->ntlsa].selector = rr->selector;
		hp->tlsa[hp->ntlsa].mtype = rr->mtype;
		hp->tlsa[hp->ntlsa].data = rr->rdata + 3;
		hp->tlsa[hp->ntlsa].len = rr->rdlen - 3u;
		hp->ntlsa++;
	}
	if (!all)
		return;
	if (!(q->reply.flags & MP_DNS_AD)) {
		if (verbose)
			mp_warn("%s: %zu TLSA record%s not authenticated by DNSSEC: ignored", hn,
			        all, all == 1 ? "" : "s");
		hp->ntlsa = 0;
		return;
	}
	hp->kind = hp->ntlsa ? HP_DANE : HP_DANE_NOAUTH;
}

void host_policy(struct mp_resolver *r, const struct settings *s, const struct domain_policy *dp,
                 const char *domain, const struct mp_mx_host *h, int port, struct host_policy *hp)
{
	char hn[MP_DNS_NAMEMAX];

	memset(hp, 0, sizeof *hp);
	strip_dot(h->name, hn, sizeof hn);
	hp->kind = HP_OPPORTUNISTIC;
	dane(r, h, port, hn, hp, s->verbose);
	if (hp->skip || hp->kind == HP_DANE || hp->kind == HP_DANE_NOAUTH)
		goto done;
	if (dp->have && dp->sts.mode == MP_STS_ENFORCE) {
		if (!mp_sts_mx_match(&dp->sts, hn)) {
			hp->skip = 1;
			snprintf(
			    hp->why, sizeof hp->why,
			    "MTA-STS: the policy of %s (mode enforce) does not list this MX host",
			    domain);
		}
		hp->kind = HP_STS_ENFORCE;
	} else if (s->tls_required) {
		hp->kind = HP_REQUIRED;
	} else if (dp->have) {
		hp->kind = HP_STS_TESTING;
		hp->sts_mismatch = !mp_sts_mx_match(&dp->sts, hn);
	}
done:
	if (s->verbose)
		mp_warn("%s: TLS policy %s%s%s", hn, host_policy_name(hp),
		        hp->skip ? ": skipped: " : "", hp->skip ? hp->why : "");
}

void host_policy_free(struct host_policy *hp)
{
	mp_dns_query_free(&hp->q, 1);
	hp->ntlsa = 0;
}

void host_policy_tls(const struct host_policy *hp, struct mp_tls_opts *to, int *mandatory)
{
	*mandatory = hp->kind != HP_OPPORTUNISTIC && hp->kind != HP_STS_TESTING;
	to->report_only = hp->kind == HP_OPPORTUNISTIC || hp->kind == HP_STS_TESTING ||
	                  hp->kind == HP_DANE_NOAUTH;
	to->tlsa = hp->kind == HP_DANE ? hp->tlsa : NULL;
	to->ntlsa = hp->kind == HP_DANE ? hp->ntlsa : 0;
}

void host_policy_report(const struct host_policy *hp, const char *host, const char *domain,
                        struct mp_tls *t, int tls_on, int verbose)
{
	struct mp_tls_info in;

	if (!tls_on) {
		if (hp->kind == HP_STS_TESTING)
			mp_warn(
			    "warning: %s: MTA-STS testing policy of %s: no STARTTLS; sent in clear",
			    host, domain);
		else if (verbose)
			mp_warn("%s: no TLS (opportunistic: the server offers no STARTTLS)", host);
		return;
	}
	mp_tls_info(t, &in);
	if (hp->kind == HP_STS_TESTING && (!in.verified || hp->sts_mismatch)) {
		char what[300];
		if (hp->sts_mismatch)
			snprintf(what, sizeof what, "the policy does not list this MX host");
		else
			snprintf(what, sizeof what, "certificate not valid: %s", in.verify_text);
		mp_warn("warning: %s: MTA-STS testing policy of %s: %s; delivering anyway", host,
		        domain, what);
	}
	if (!verbose)
		return;
	if (hp->kind == HP_DANE)
		mp_warn("%s: %s, DANE verified (a TLSA record of usage %d matched)", host,
		        in.protocol, in.dane_usage);
	else if (hp->kind == HP_STS_ENFORCE || hp->kind == HP_REQUIRED)
		mp_warn("%s: %s, certificate verified (%s)", host, in.protocol,
		        host_policy_name(hp));
	else
		mp_warn("%s: %s, certificate %s (%s: not required)", host, in.protocol,
		        in.verified ? "valid" : "not verified", host_policy_name(hp));
}
