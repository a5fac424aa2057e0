#include "mx.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define CNAME_MAX 8

int mp_mx_idn(const char *in, char *alabel, size_t an, char *ulabel, size_t un, struct mp_err *e)
{
	char *a = NULL, *u = NULL;
	int rc;
	size_t l = strlen(in);

	if (l && in[l - 1] == '.' && l > 1) {
		char *t = mp_xstrdup(in);
		t[l - 1] = '\0';
		rc = mp_mx_idn(t, alabel, an, ulabel, un, e);
		free(t);
		return rc;
	}
	/* IDNA2008, non-transitional: ß stays ß */
	if (!*in)
		return mp_err_set(e, EX_DATAERR, "empty domain name");
	rc = idn2_to_ascii_8z(in, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK)
		return mp_err_set(e, EX_DATAERR, "%s", idn2_strerror(rc));
	if (strlen(a) >= an) {
		idn2_free(a);
		return mp_err_set(e, EX_DATAERR, "%s: name too long", in);
	}
	strcpy(alabel, a);
	for (char *p = alabel; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!mp_dns_hostname_ok(alabel)) {
		idn2_free(a);
		return mp_err_set(e, EX_DATAERR,
		                  "labels must be letters, digits and hyphens, "
		                  "1 to 63 of them, 253 in all");
	}
	ulabel[0] = '\0';
	if (idn2_to_unicode_8z8z(alabel, &u, 0) == IDN2_OK && strcmp(u, alabel) != 0 &&
	    strlen(u) < un)
		strcpy(ulabel, u);
	idn2_free(a);
	idn2_free(u);
	return 0;
}

const char *mp_mx_status_text(enum mp_mx_status s)
{
	switch (s) {
	case MP_MX_OK: return "ok";
	case MP_MX_NULL: return "null MX: the domain accepts no mail (RFC 7505)";
	case MP_MX_NXDOMAIN: return "no such domain (NXDOMAIN)";
	case MP_MX_NOMAIL: return "mail cannot be delivered";
	case MP_MX_SERVFAIL: return "the DNS server failed, try later";
	case MP_MX_TIMEOUT: return "no usable DNS answer, try later";
	case MP_MX_BADNAME: return "not a valid domain name";
	}
	return "?";
}

static void ulabel_of(const char *a, char *u, size_t un)
{
	char *x = NULL;

	u[0] = '\0';
	if (strstr(a, "xn--") && idn2_to_unicode_8z8z(a, &x, 0) == IDN2_OK && strlen(x) < un)
		strcpy(u, x);
	idn2_free(x);
}

/* Follow the answer's CNAME chain from name, at most CNAME_MAX steps; the
 * last name reached, or NULL for a longer chain or a loop */
static const char *chase(const struct mp_dns_msg *m, const char *name)
{
	for (int k = 0; k <= CNAME_MAX; k++) {
		const char *next = NULL;
		for (size_t i = 0; i < m->nan; i++)
			if (m->rr[i].type == MP_DNS_CNAME && mp_dns_name_eq(m->rr[i].name, name))
				next = m->rr[i].target;
		if (!next)
			return name;
		if (k == CNAME_MAX)
			break;
		name = next;
	}
	return NULL;
}

/* RFC 5321 §5.1: lowest preference first, always; a stable sort keeps equal
 * preferences in the answer's order for --no-shuffle */
static void sort_by_pref(struct mp_mx_host *h, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && h[j - 1].pref > h[j].pref; j--) {
			struct mp_mx_host t = h[j];
			h[j] = h[j - 1];
			h[j - 1] = t;
		}
}

/* Fisher-Yates inside each run of equal preference (hosts sorted) */
static void shuffle_equal(struct mp_mx_host *h, size_t n)
{
	for (size_t a = 0; a < n;) {
		size_t b = a;
		while (b < n && h[b].pref == h[a].pref)
			b++;
		for (size_t i = b - 1; i > a; i--) {
			uint32_t r;
			if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
				r = (uint32_t)rand();
			size_t j = a + r % (i - a + 1);
			struct mp_mx_host t = h[i];
			h[i] = h[j];
			h[j] = t;
		}
		a = b;
	}
}

static enum mp_mx_status failure(const struct mp_dns_query *q, struct mp_mx *m)
{
	if (q->status < 0) {
		snprintf(m->err, sizeof m->err, "%s", q->err.msg);
		return MP_MX_TIMEOUT;
	}
	m->rcode = q->reply.rcode;
	if (q->reply.rcode == MP_DNS_NXDOMAIN)
		return MP_MX_NXDOMAIN;
	snprintf(m->err, sizeof m->err, "the DNS server answered %s",
	         mp_dns_rcode_name(q->reply.rcode));
	return MP_MX_SERVFAIL;
}

/* the address records of name (after CNAMEs) in a reply */
static void take_addrs(const struct mp_dns_query *q, struct mp_mx_host *h)
{
	const struct mp_dns_msg *m = &q->reply;
	const char *name = chase(m, q->name);

	if (!name) {
		h->cname = 1;
		h->status = MP_MX_NOMAIL;
		snprintf(h->err, sizeof h->err, "CNAME chain longer than %d or a loop", CNAME_MAX);
		return;
	}
	if (!mp_dns_name_eq(name, q->name))
		h->cname = 1;
	for (size_t i = 0; i < m->nan; i++) {
		const struct mp_dns_rr *rr = &m->rr[i];
		if (rr->type != q->type || !mp_dns_name_eq(rr->name, name))
			continue;
		struct mp_mx_addr *na = realloc(h->addrs, (h->naddrs + 1) * sizeof *na);
		if (!na)
			return;
		h->addrs = na;
		na[h->naddrs].family = rr->type == MP_DNS_A ? AF_INET : AF_INET6;
		memcpy(na[h->naddrs].addr, rr->addr, 16);
		na[h->naddrs].ttl = rr->ttl;
		h->naddrs++;
	}
	if (m->flags & MP_DNS_AD)
		h->ad = 1;
}

/* An authoritative MX answer carries the addresses of in-zone hosts in
 * its additional section, as far as they fit: the types found there
 * (MP_MX_V4, MP_MX_V6) need no query of their own; the rest are asked. */
static int addrs_from_additional(const struct mp_dns_msg *m, struct mp_mx_host *h, unsigned flags)
{
	unsigned found = 0;

	if (!(m->flags & MP_DNS_AA))
		return 0;
	for (size_t i = m->nan + m->nns; i < m->nan + m->nns + m->nar; i++) {
		const struct mp_dns_rr *rr = &m->rr[i];
		if ((rr->type != MP_DNS_A && rr->type != MP_DNS_AAAA) ||
		    !mp_dns_name_eq(rr->name, h->name))
			continue;
		found |= rr->type == MP_DNS_A ? MP_MX_V4 : MP_MX_V6;
		if ((rr->type == MP_DNS_A && !(flags & MP_MX_V4)) ||
		    (rr->type == MP_DNS_AAAA && !(flags & MP_MX_V6)))
			continue;
		struct mp_mx_addr *na = realloc(h->addrs, (h->naddrs + 1) * sizeof *na);
		if (!na)
			return 0;
		h->addrs = na;
		na[h->naddrs].family = rr->type == MP_DNS_A ? AF_INET : AF_INET6;
		memcpy(na[h->naddrs].addr, rr->addr, 16);
		na[h->naddrs].ttl = rr->ttl;
		h->naddrs++;
	}
	return (int)found;
}

/* RFC 7505 §3: a null MX is one "MX 0 ." standing alone. A lone "." of
 * another preference is still read as null MX; a "." beside real hosts is
 * dropped (never looked up); both are a problem in the zone. Returns 1
 * when the domain takes no mail. */
static int null_mx(struct mp_mx *m)
{
	size_t k = 0, dots = 0;

	for (size_t i = 0; i < m->nhosts; i++)
		dots += strcmp(m->hosts[i].name, ".") == 0;
	if (!dots)
		return 0;
	if (dots == m->nhosts) {
		m->status = MP_MX_NULL;
		if (m->nhosts > 1 || m->hosts[0].pref != 0)
			snprintf(m->problem, sizeof m->problem,
			         "a null MX is one record of preference 0 (RFC 7505 3): "
			         "read as null MX");
		return 1;
	}
	for (size_t i = 0; i < m->nhosts; i++)
		if (strcmp(m->hosts[i].name, ".") != 0)
			m->hosts[k++] = m->hosts[i];
		else
			free(m->hosts[i].addrs);
	m->nhosts = k;
	snprintf(m->problem, sizeof m->problem,
	         "a null MX (\".\") beside other MX records, which RFC 7505 3 forbids: "
	         "\".\" ignored");
	return 0;
}

int mp_mx_lookup(struct mp_resolver *r, const char *const *domains, size_t n, unsigned flags,
                 struct mp_mx *out)
{
	struct mp_dns_query *q = calloc(n ? n : 1, sizeof *q);

	if (!(flags & (MP_MX_V4 | MP_MX_V6)))
		flags |= MP_MX_V4 | MP_MX_V6;
	memset(out, 0, n * sizeof *out);
	if (!q)
		return -1;
	/* 1. the MX records of every domain, all at once */
	for (size_t i = 0; i < n; i++) {
		struct mp_err e;
		mp_err_clear(&e);
		if (mp_mx_idn(domains[i], out[i].domain, sizeof out[i].domain, out[i].udomain,
		              sizeof out[i].udomain, &e) < 0) {
			/* shown as given */
			snprintf(out[i].domain, sizeof out[i].domain, "%s",
			         *domains[i] ? domains[i] : "(empty)");
			out[i].udomain[0] = '\0';
			out[i].status = MP_MX_BADNAME;
			snprintf(out[i].err, sizeof out[i].err, "%s", e.msg);
			continue;
		}
		q[i].name = out[i].domain;
		q[i].type = MP_DNS_MX;
	}
	{
		/* only the valid names are asked; a name with fewer dots than
		 * ndots tries the search list first, then itself (resolv.conf) */
		struct mp_dns_query *ask = calloc(n ? n : 1, sizeof *ask);
		size_t *idx = calloc(n ? n : 1, sizeof *idx);
		int *cand = calloc(n ? n : 1, sizeof *cand);
		char *asked = calloc(n ? n : 1, 1);
		char(*base)[MP_DNS_NAMEMAX] = calloc(n ? n : 1, sizeof *base);
		if (!ask || !idx || !cand || !base || !asked) {
			free(asked);
			free(ask);
			free(idx);
			free(cand);
			free(base);
			free(q);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			int dots = 0;
			size_t l = strlen(out[i].domain);
			snprintf(base[i], sizeof base[i], "%s", out[i].domain);
			for (size_t k = 0; k < l; k++)
				dots += out[i].domain[k] == '.';
			size_t ol = strlen(domains[i]); /* a final dot as given: no search */
			cand[i] = (l && ol && domains[i][ol - 1] != '.' && dots < r->ndots)
			              ? 0
			              : r->nsearch;
		}
		for (int round = 0; round <= r->nsearch; round++) {
			size_t na = 0;
			for (size_t i = 0; i < n; i++) {
				/* a name is asked in the round its candidate number
				 * says: at first, or after an NXDOMAIN moved it on */
				if (out[i].status != MP_MX_OK || cand[i] != round)
					continue;
				if (asked[i])
					mp_dns_query_free(&q[i], 1);
				asked[i] = 1;
				if (cand[i] < r->nsearch)
					snprintf(out[i].domain, sizeof out[i].domain, "%.*s.%s",
					         (int)strnlen(base[i], 700), base[i],
					         r->search[cand[i]]);
				else
					snprintf(out[i].domain, sizeof out[i].domain, "%s",
					         base[i]);
				q[i].name = out[i].domain;
				ask[na] = q[i];
				idx[na++] = i;
			}
			if (!na)
				continue;
			mp_dns_resolve(r, ask, na);
			for (size_t k = 0; k < na; k++) {
				size_t i = idx[k];
				q[i] = ask[k];
				/* NXDOMAIN (or a server that does not serve that
				 * zone) for a searched name: the next candidate */
				if (cand[i] < r->nsearch && q[i].status == 0 &&
				    (q[i].reply.rcode == MP_DNS_NXDOMAIN ||
				     q[i].reply.rcode == MP_DNS_REFUSED))
					cand[i]++;
			}
		}
		for (size_t i = 0; i < n; i++)
			if (out[i].status == MP_MX_OK && strcmp(out[i].domain, base[i]) != 0)
				ulabel_of(out[i].domain, out[i].udomain, sizeof out[i].udomain);
		free(ask);
		free(idx);
		free(cand);
		free(base);
		free(asked);
	}
	/* 2. read the MX answers; a domain without MX is its own host */
	for (size_t i = 0; i < n; i++) {
		struct mp_mx *m = &out[i];
		const char *owner;
		if (m->status != MP_MX_OK)
			continue;
		if (q[i].status < 0 || (q[i].reply.rcode != MP_DNS_NOERROR)) {
			m->status = failure(&q[i], m);
			continue;
		}
		m->ad = (q[i].reply.flags & MP_DNS_AD) != 0;
		m->tcp = q[i].via_tcp;
		m->truncated = q[i].truncated;
		owner = chase(&q[i].reply, m->domain);
		if (!owner) {
			m->status = MP_MX_NOMAIL; /* a zone error: retrying will not help */
			snprintf(m->err, sizeof m->err, "CNAME chain longer than %d or a loop",
			         CNAME_MAX);
			continue;
		}
		if (!mp_dns_name_eq(owner, m->domain))
			snprintf(m->canon, sizeof m->canon, "%s", owner);
		for (size_t k = 0; k < q[i].reply.nan; k++) {
			const struct mp_dns_rr *rr = &q[i].reply.rr[k];
			if (rr->type != MP_DNS_MX || !mp_dns_name_eq(rr->name, owner))
				continue;
			struct mp_mx_host *h = realloc(m->hosts, (m->nhosts + 1) * sizeof *h);
			if (!h)
				break;
			m->hosts = h;
			h += m->nhosts++;
			memset(h, 0, sizeof *h);
			h->pref = rr->pref;
			h->ttl = rr->ttl;
			snprintf(h->name, sizeof h->name, "%s", rr->target);
			ulabel_of(h->name, h->uname, sizeof h->uname);
			h->have_addrs = addrs_from_additional(&q[i].reply, h, flags);
		}
		if (null_mx(m))
			continue;
		if (m->nhosts == 0) {
			/* RFC 5321 §5.1: no MX, the domain itself is the host */
			m->implicit = 1;
			m->hosts = calloc(1, sizeof *m->hosts);
			if (!m->hosts)
				continue;
			m->nhosts = 1;
			snprintf(m->hosts[0].name, sizeof m->hosts[0].name, "%s", owner);
			ulabel_of(owner, m->hosts[0].uname, sizeof m->hosts[0].uname);
		}
		sort_by_pref(m->hosts, m->nhosts);
		if (!(flags & MP_MX_NOSHUF))
			shuffle_equal(m->hosts, m->nhosts);
	}
	/* 3. the addresses of every host of every domain, all at once */
	size_t total = 0, naq = 0;
	for (size_t i = 0; i < n; i++)
		if (out[i].status == MP_MX_OK)
			total += out[i].nhosts * 2;
	struct mp_dns_query *aq = calloc(total + 1, sizeof *aq);
	struct {
		size_t dom, host;
	} *aref = calloc(total + 1, sizeof *aref);
	if (!aq || !aref) {
		free(aq);
		free(aref);
		mp_dns_query_free(q, n);
		free(q);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (out[i].status != MP_MX_OK)
			continue;
		for (size_t h = 0; h < out[i].nhosts; h++) {
			unsigned have = (unsigned)out[i].hosts[h].have_addrs;
			if ((flags & MP_MX_V4) && !(have & MP_MX_V4)) {
				aq[naq].name = out[i].hosts[h].name;
				aq[naq].type = MP_DNS_A;
				aref[naq].dom = i;
				aref[naq++].host = h;
			}
			if ((flags & MP_MX_V6) && !(have & MP_MX_V6)) {
				aq[naq].name = out[i].hosts[h].name;
				aq[naq].type = MP_DNS_AAAA;
				aref[naq].dom = i;
				aref[naq++].host = h;
			}
		}
	}
	mp_dns_resolve(r, aq, naq);
	for (size_t k = 0; k < naq; k++) {
		struct mp_mx *m = &out[aref[k].dom];
		struct mp_mx_host *h = &m->hosts[aref[k].host];
		m->tcp |= aq[k].via_tcp;
		m->truncated |= aq[k].truncated;
		if (aq[k].status < 0) {
			if (!h->status) {
				h->status = MP_MX_TIMEOUT;
				snprintf(h->err, sizeof h->err, "%s", aq[k].err.msg);
			}
			continue;
		}
		if (aq[k].reply.rcode == MP_DNS_NXDOMAIN) {
			h->status = MP_MX_NXDOMAIN;
			snprintf(h->err, sizeof h->err, "no such host (NXDOMAIN)");
			continue;
		}
		if (aq[k].reply.rcode != MP_DNS_NOERROR) {
			h->status = MP_MX_SERVFAIL;
			snprintf(h->err, sizeof h->err, "%s for its address",
			         mp_dns_rcode_name(aq[k].reply.rcode));
			continue;
		}
		take_addrs(&aq[k], h);
	}
	/* no host with an address: the mail cannot go anywhere, for now
	 * (a lookup failed) or for good (none of them exists) */
	for (size_t i = 0; i < n; i++) {
		struct mp_mx *m = &out[i];
		int any = 0, later = 0;
		if (m->status != MP_MX_OK)
			continue;
		for (size_t h = 0; h < m->nhosts; h++) {
			any |= m->hosts[h].naddrs > 0;
			later |= m->hosts[h].status == MP_MX_TIMEOUT ||
			         m->hosts[h].status == MP_MX_SERVFAIL;
		}
		if (any)
			continue;
		m->status = later ? MP_MX_TIMEOUT : MP_MX_NOMAIL;
		snprintf(m->err, sizeof m->err, "%s",
		         m->implicit
		             ? (later ? "no MX record, and the domain's address could not be "
		                        "looked up"
		                      : "no MX record and no address")
		         : later ? "the address of no MX host could be looked up"
		                 : "no MX host has an address");
	}
	mp_dns_query_free(q, n);
	mp_dns_query_free(aq, naq);
	free(q);
	free(aq);
	free(aref);
	return 0;
}

void mp_mx_free(struct mp_mx *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t h = 0; h < m[i].nhosts; h++)
			free(m[i].hosts[h].addrs);
		free(m[i].hosts);
		m[i].hosts = NULL;
		m[i].nhosts = 0;
	}
}
