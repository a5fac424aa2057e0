#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net.h"
#include "sts.h"

/* the TXT records of a reply that start with prefix, whole (any length)
 * and made printable; *count of them */
static void show_txt(FILE *out, const char *label, const struct mp_dns_query *q, const char *prefix,
                     int *count)
{
	struct mp_buf t = MP_BUF_INIT;
	int n = 0;

	for (size_t i = 0; q->status == 0 && i < q->reply.nan; i++) {
		int o = mp_dns_txt(&q->reply.rr[i], &t);
		if (o < 0 || strncasecmp(t.data, prefix, strlen(prefix)) != 0)
			continue;
		fprintf(out, "    %-9s ", label);
		mp_term_printf(out, "%s\n", t.data); /* shown on a terminal */
		n++;
	}
	mp_buf_free(&t);
	*count = n;
	if (q->status)
		fprintf(out, "    %-9s lookup failed: %s\n", label, q->err.msg);
	else if (n == 0)
		fprintf(out, "    %-9s none\n", label);
}

/* GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt (common/sts.c):
 * verified, no redirects, bounded; the policy shown and parsed */
static int fetch_policy(const char *domain, const struct policy_opts *o, struct mp_sts_policy *p,
                        FILE *out)
{
	char host[300], peer[128], connhost[300];
	struct mp_sts_fetch f = {.ca_file = o->ca_file, .timeout_ms = o->timeout_ms};
	struct mp_buf body = MP_BUF_INIT;
	struct mp_err e;
	int fd, port = 443, rc = -1;
	size_t dl = strlen(domain);

	if (dl && domain[dl - 1] == '.')
		dl--;
	snprintf(host, sizeof host, "mta-sts.%.*s", (int)dl, domain);
	snprintf(connhost, sizeof connhost, "%s", host);
	mp_err_clear(&e);
	if (o->sts_addr && mp_net_split(o->sts_addr, connhost, sizeof connhost, &port, &e) < 0) {
		fprintf(out, "    MTA-STS   policy: %s\n", e.msg);
		return -1;
	}
	if (!port)
		port = 443;
	fd = mp_net_connect(connhost, port, o->family, o->timeout_ms, peer, sizeof peer, &e);
	if (fd < 0) {
		fprintf(out, "    MTA-STS   policy: cannot reach %s: %s\n", host, e.msg);
		return -1;
	}
	if (mp_sts_get(fd, domain, &f, &body, &e) < 0) {
		fprintf(out, "    MTA-STS   policy: %s\n", e.msg);
		goto done;
	}
	if (!f.text_plain)
		fprintf(out, "    MTA-STS   note: the policy is not served as text/plain\n");
	fprintf(out,
	        "    MTA-STS   policy from https://%s/.well-known/mta-sts.txt (certificate "
	        "verified):\n",
	        host);
	for (size_t i = 0; i < body.len;) {
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
		fprintf(out, "    MTA-STS   policy: not a valid STSv1 policy: %s\n", e.msg);
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

int mmx_policy(struct mp_resolver *r, const struct mp_mx *m, const struct policy_opts *o, FILE *out)
{
	char names[4][MP_DNS_NAMEMAX + 16];
	struct mp_dns_query q[4];
	int problems = 0, nsts, ntls, nspf, ndmarc;
	const char *d = m->domain;
	struct mp_sts_policy p;
	int have_policy = 0;

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
	fprintf(out, "\n  policy records\n");
	show_txt(out, "MTA-STS", &q[0], "v=STSv1", &nsts);
	if (nsts > 1) {
		fprintf(out, "    problem:  more than one MTA-STS record (RFC 8461 3.1)\n");
		problems++;
	}
	if (nsts == 1) {
		have_policy = fetch_policy(d, o, &p, out) == 0;
		problems += !have_policy;
	}
	show_txt(out, "TLS-RPT", &q[1], "v=TLSRPTv1", &ntls);
	show_txt(out, "SPF", &q[2], "v=spf1", &nspf);
	if (nspf > 1) {
		fprintf(out, "    problem:  more than one SPF record (RFC 7208 3.2)\n");
		problems++;
	}
	show_txt(out, "DMARC", &q[3], "v=DMARC1", &ndmarc);

	/* the MX set itself */
	for (size_t i = 0; i < m->nhosts; i++) {
		const struct mp_mx_host *h = &m->hosts[i];
		unsigned char b[16];
		char hn[MP_DNS_NAMEMAX];
		size_t l = strlen(h->name);
		snprintf(hn, sizeof hn, "%.*s", (int)(l > 1 && h->name[l - 1] == '.' ? l - 1 : l),
		         h->name);
		if (inet_pton(AF_INET, hn, b) == 1 || inet_pton(AF_INET6, hn, b) == 1) {
			fprintf(out, "    problem:  MX %s is an IP address, not a host name\n", hn);
			problems++;
		}
		if (h->cname) {
			fprintf(out, "    problem:  MX %s is an alias (CNAME) (RFC 5321 5.1)\n",
			        hn);
			problems++;
		}
		for (size_t k = 0; k < i; k++)
			if (mp_dns_name_eq(m->hosts[k].name, h->name)) {
				fprintf(out, "    problem:  MX %s is listed twice\n", hn);
				problems++;
				break;
			}
		for (size_t k = 0; k < h->naddrs; k++)
			if (private_addr(&h->addrs[k])) {
				char as[64];
				inet_ntop(h->addrs[k].family, h->addrs[k].addr, as, sizeof as);
				fprintf(
				    out,
				    "    problem:  MX %s has a private or loopback address %s\n",
				    hn, as);
				problems++;
			}
		if (have_policy && p.mode != MP_STS_NONE) {
			if (!mp_sts_mx_match(&p, h->name)) {
				fprintf(out,
				        "    problem:  MX %s is not allowed by the MTA-STS policy "
				        "(mode "
				        "%s)\n",
				        hn, mp_sts_mode_name(p.mode));
				problems++;
			}
		}
	}
	fprintf(out, "    %d problem%s found\n", problems, problems == 1 ? "" : "s");
	mp_dns_query_free(q, 4);
	return problems;
}
