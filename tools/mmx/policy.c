#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "json.h"
#include "net.h"
#include "sts.h"

/* where the findings go: text on out, or (j) one JSON line, whose
 * problems wait in probs (each ends with a NUL) and whose error is the
 * first lookup that failed */
struct pctx {
	FILE *out;
	struct mp_json *j;
	struct mp_buf probs;
	int problems;
	char err[300];
};

/* a problem (counted) or why there is no MTA-STS policy (counted by the
 * caller): a line of text, or one of the JSON line's problems */
MP_PRINTF(3, 4) static void finding(struct pctx *c, int problem, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	c->problems += problem;
	if (c->j)
		mp_buf_append(&c->probs, line, strlen(line) + 1);
	else
		fprintf(c->out, problem ? "    problem:  %s\n" : "    MTA-STS   %s\n", line);
}

/* the TXT records of a reply that start with prefix, whole (any length)
 * and made printable (text) or as a JSON array under key; *count of them */
static void show_txt(struct pctx *c, const char *label, const char *key,
                     const struct mp_dns_query *q, const char *prefix, int *count)
{
	struct mp_buf t = MP_BUF_INIT;
	FILE *out = c->out;
	int n = 0;

	if (c->j && q->status)
		mp_json_string(c->j, key, NULL);
	else if (c->j)
		mp_json_begin_array(c->j, key);
	for (size_t i = 0; q->status == 0 && i < q->reply.nan; i++) {
		int o = mp_dns_txt(&q->reply.rr[i], &t);
		if (o < 0 || strncasecmp(t.data, prefix, strlen(prefix)) != 0)
			continue;
		if (c->j) {
			mp_json_stringn(c->j, NULL, t.data, t.len);
		} else {
			fprintf(out, "    %-9s ", label);
			mp_term_printf(out, "%s\n", t.data); /* shown on a terminal */
		}
		n++;
	}
	mp_buf_free(&t);
	*count = n;
	if (c->j) {
		if (!q->status)
			mp_json_end_array(c->j);
		else if (!c->err[0])
			snprintf(c->err, sizeof c->err, "%s lookup failed: %s", label, q->err.msg);
	} else if (q->status) {
		fprintf(out, "    %-9s lookup failed: %s\n", label, q->err.msg);
	} else if (n == 0) {
		fprintf(out, "    %-9s none\n", label);
	}
}

/* GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt (common/sts.c):
 * verified, no redirects, bounded; the policy shown and parsed */
static int fetch_policy(const char *domain, const struct policy_opts *o, struct mp_sts_policy *p,
                        struct pctx *c, int *text_plain)
{
	char host[300], peer[128], connhost[300];
	struct mp_sts_fetch f = {.ca_file = o->ca_file, .timeout_ms = o->timeout_ms};
	struct mp_buf body = MP_BUF_INIT;
	struct mp_err e;
	FILE *out = c->out;
	int fd, port = 443, rc = -1;
	size_t dl = strlen(domain);

	if (dl && domain[dl - 1] == '.')
		dl--;
	snprintf(host, sizeof host, "mta-sts.%.*s", (int)dl, domain);
	snprintf(connhost, sizeof connhost, "%s", host);
	mp_err_clear(&e);
	if (o->sts_addr && mp_net_split(o->sts_addr, connhost, sizeof connhost, &port, &e) < 0) {
		finding(c, 0, "policy: %s", e.msg);
		return -1;
	}
	if (!port)
		port = 443;
	fd = mp_net_connect(connhost, port, o->family, o->timeout_ms, peer, sizeof peer, &e);
	if (fd < 0) {
		finding(c, 0, "policy: cannot reach %s: %s", host, e.msg);
		return -1;
	}
	if (mp_sts_get(fd, domain, &f, &body, &e) < 0) {
		finding(c, 0, "policy: %s", e.msg);
		goto done;
	}
	*text_plain = f.text_plain;
	if (!c->j && !f.text_plain)
		fprintf(out, "    MTA-STS   note: the policy is not served as text/plain\n");
	if (!c->j)
		fprintf(out,
		        "    MTA-STS   policy from https://%s/.well-known/mta-sts.txt (certificate "
		        "verified):\n",
		        host);
	for (size_t i = 0; !c->j && i < body.len;) {
		size_t k = 0;
		while (i + k < body.len && body.data[i + k] != '\n')
			k++;
		fprintf(out, "                | ");
		if (k && body.data[i + k - 1] == '\r')
			mp_term_write(out, body.data + i, k - 1); /* shown on a terminal */
		else
			mp_term_write(out, body.data + i, k);
		fputc('\n', out);
		i += k + 1;
	}
	if (mp_sts_parse(body.data, body.len, p, &e) < 0)
		finding(c, 0, "policy: not a valid STSv1 policy: %s", e.msg);
	else
		rc = 0;
done:
	mp_buf_free(&body);
	close(fd);
	return rc;
}

static int private_addr(const struct mp_mx_addr *a)
{
	const uint8_t *b = a->addr;

	if (a->family == AF_INET)
		return b[0] == 10 || b[0] == 127 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		       (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254) || b[0] == 0;
	static const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	return !memcmp(b, lo, 16) || (b[0] & 0xfe) == 0xfc ||
	       (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

static void json_policy(struct mp_json *j, const struct mp_sts_policy *p, int text_plain)
{
	mp_json_begin_object(j, "mta_sts_policy");
	mp_json_string(j, "mode", mp_sts_mode_name(p->mode));
	mp_json_int(j, "max_age", p->max_age);
	mp_json_begin_array(j, "mx");
	for (int i = 0; i < p->nmx; i++)
		mp_json_string(j, NULL, p->mx[i]);
	mp_json_end_array(j);
	mp_json_bool(j, "text_plain", text_plain);
	mp_json_end_object(j);
}

int mmx_policy(struct mp_resolver *r, const struct mp_mx *m, const struct policy_opts *o, FILE *out,
               int json)
{
	char names[4][MP_DNS_NAMEMAX + 16];
	struct mp_dns_query q[4];
	int nsts, ntls, nspf, ndmarc, text_plain = 0;
	const char *d = m->domain;
	struct mp_sts_policy p;
	int have_policy = 0;
	struct mp_json j;
	struct pctx c = {.out = out, .j = json ? &j : NULL, .probs = MP_BUF_INIT};

	memset(q, 0, sizeof q);
	memset(&p, 0, sizeof p);
	snprintf(names[0], sizeof names[0], "_mta-sts.%s", d);
	snprintf(names[1], sizeof names[1], "_smtp._tls.%s", d);
	snprintf(names[2], sizeof names[2], "%s", d);
	snprintf(names[3], sizeof names[3], "_dmarc.%s", d);
	for (int i = 0; i < 4; i++) {
		q[i].name = names[i];
		q[i].type = MP_DNS_TXT;
	}
	mp_dns_resolve(r, q, 4);
	if (json) {
		mp_json_init(&j, out, 0);
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "type", "policy");
		mp_json_string(&j, "domain", d);
	} else {
		fprintf(out, "\n  policy records\n");
	}
	show_txt(&c, "MTA-STS", "mta_sts", &q[0], "v=STSv1", &nsts);
	if (nsts > 1)
		finding(&c, 1, "more than one MTA-STS record (RFC 8461 3.1)");
	if (nsts == 1) {
		have_policy = fetch_policy(d, o, &p, &c, &text_plain) == 0;
		c.problems += !have_policy;
	}
	if (json && have_policy)
		json_policy(&j, &p, text_plain);
	else if (json)
		mp_json_string(&j, "mta_sts_policy", NULL);
	show_txt(&c, "TLS-RPT", "tls_rpt", &q[1], "v=TLSRPTv1", &ntls);
	show_txt(&c, "SPF", "spf", &q[2], "v=spf1", &nspf);
	if (nspf > 1)
		finding(&c, 1, "more than one SPF record (RFC 7208 3.2)");
	show_txt(&c, "DMARC", "dmarc", &q[3], "v=DMARC1", &ndmarc);

	/* the MX set itself */
	for (size_t i = 0; i < m->nhosts; i++) {
		const struct mp_mx_host *h = &m->hosts[i];
		unsigned char b[16];
		char hn[MP_DNS_NAMEMAX];
		size_t l = strlen(h->name);
		snprintf(hn, sizeof hn, "%.*s", (int)(l > 1 && h->name[l - 1] == '.' ? l - 1 : l),
		         h->name);
		if (inet_pton(AF_INET, hn, b) == 1 || inet_pton(AF_INET6, hn, b) == 1)
			finding(&c, 1, "MX %s is an IP address, not a host name", hn);
		if (h->cname)
			finding(&c, 1, "MX %s is an alias (CNAME) (RFC 5321 5.1)", hn);
		for (size_t k = 0; k < i; k++)
			if (mp_dns_name_eq(m->hosts[k].name, h->name)) {
				finding(&c, 1, "MX %s is listed twice", hn);
				break;
			}
		for (size_t k = 0; k < h->naddrs; k++)
			if (private_addr(&h->addrs[k])) {
				char as[64];
				inet_ntop(h->addrs[k].family, h->addrs[k].addr, as, sizeof as);
				finding(&c, 1, "MX %s has a private or loopback address %s", hn,
				        as);
			}
		if (have_policy && p.mode != MP_STS_NONE && !mp_sts_mx_match(&p, h->name))
			finding(&c, 1, "MX %s is not allowed by the MTA-STS policy (mode %s)", hn,
			        mp_sts_mode_name(p.mode));
	}
	if (json) {
		mp_json_begin_array(&j, "problems");
		for (size_t k = 0; k < c.probs.len; k += strlen(c.probs.data + k) + 1)
			mp_json_string(&j, NULL, c.probs.data + k);
		mp_json_end_array(&j);
		mp_json_error(&j, "error", c.err[0] ? EX_TEMPFAIL : 0, c.err);
		mp_json_end_object(&j);
		mp_json_finish(&j);
	} else {
		fprintf(out, "    %d problem%s found\n", c.problems, c.problems == 1 ? "" : "s");
	}
	mp_buf_free(&c.probs);
	mp_dns_query_free(q, 4);
	return c.problems;
}
