#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net.h"
#include "tls.h"

#define POLICY_MAX (64 * 1024) /* RFC 8461 3.3: 64 KiB is plenty */

/* the TXT records of a reply that start with prefix, char-strings joined */
static int txt_records(const struct mp_dns_query *q, const char *prefix, char out[][1024], int max)
{
	int n = 0;

	for (size_t i = 0; q->status == 0 && i < q->reply.nan && n < max; i++) {
		const struct mp_dns_rr *rr = &q->reply.rr[i];
		size_t o = 0;
		if (rr->type != MP_DNS_TXT)
			continue;
		for (size_t k = 0; k < rr->rdlen; k += 1u + rr->rdata[k]) {
			size_t l = rr->rdata[k];
			if (k + 1 + l > rr->rdlen || o + l >= 1024)
				break;
			memcpy(out[n] + o, rr->rdata + k + 1, l);
			o += l;
		}
		out[n][o] = '\0';
		for (size_t k = 0; k < o; k++) /* shown on a terminal */
			if ((unsigned char)out[n][k] < ' ' || out[n][k] == 127)
				out[n][k] = '?';
		if (strncasecmp(out[n], prefix, strlen(prefix)) == 0)
			n++;
	}
	return n;
}

static void show_txt(FILE *out, const char *label, const struct mp_dns_query *q, const char *prefix,
                     int *count)
{
	char recs[8][1024];
	int n = txt_records(q, prefix, recs, 8);

	*count = n;
	if (q->status)
		fprintf(out, "    %-9s lookup failed: %s\n", label, q->err.msg);
	else if (n == 0)
		fprintf(out, "    %-9s none\n", label);
	for (int i = 0; i < n; i++)
		fprintf(out, "    %-9s %s\n", label, recs[i]);
}

/* RFC 8461 4.1: "*.example.com" matches exactly one label more */
static int mx_matches(const char *pattern, const char *host)
{
	size_t hl = strlen(host);

	if (hl && host[hl - 1] == '.')
		hl--;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		if (!dot)
			return 0;
		size_t rest = hl - (size_t)(dot + 1 - host);
		return strlen(pattern + 2) == rest && strncasecmp(dot + 1, pattern + 2, rest) == 0;
	}
	return strlen(pattern) == hl && strncasecmp(pattern, host, hl) == 0;
}

struct sts {
	char mode[32];
	long max_age;
	char mx[16][256];
	int nmx;
	int ok;
};

static void parse_policy(char *body, struct sts *p)
{
	char *save = NULL;
	int version = 0;

	for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *v;
		size_t l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[l - 1] = '\0';
		if (!colon)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strcmp(line, "version") == 0)
			version = strcmp(v, "STSv1") == 0;
		else if (strcmp(line, "mode") == 0)
			snprintf(p->mode, sizeof p->mode, "%s", v);
		else if (strcmp(line, "max_age") == 0)
			p->max_age = atol(v);
		else if (strcmp(line, "mx") == 0 && p->nmx < 16)
			snprintf(p->mx[p->nmx++], sizeof p->mx[0], "%s", v);
	}
	p->ok = version && (strcmp(p->mode, "enforce") == 0 || strcmp(p->mode, "testing") == 0 ||
	                    strcmp(p->mode, "none") == 0);
}

/* GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt: verified, no
 * redirects, text/plain, bounded */
static int fetch_policy(const char *domain, const struct policy_opts *o, struct sts *p, FILE *out)
{
	char host[300], req[600], peer[128], connhost[300];
	struct mp_tls_opts to = {0};
	struct mp_tls t;
	struct mp_err e;
	int fd, port = 443;
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
	to.ca_file = o->ca_file;
	to.verify_name = host;
	to.timeout_ms = o->timeout_ms;
	if (mp_tls_connect(&t, fd, &to, &e) < 0) {
		fprintf(out, "    MTA-STS   policy: %s: %s\n", host, e.msg);
		close(fd);
		return -1;
	}
	int n = snprintf(req, sizeof req,
	                 "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\n"
	                 "User-Agent: mmx (mailpipe)\r\nConnection: close\r\n\r\n",
	                 host);
	char *buf = malloc(POLICY_MAX + 8192 + 1);
	size_t got = 0;
	int rc = -1;
	if (!buf || mp_tls_write(&t, req, (size_t)n, &e) < 0)
		goto done;
	for (;;) {
		ssize_t r = mp_tls_read(&t, buf + got, POLICY_MAX + 8192 - got, &e);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == POLICY_MAX + 8192) {
			fprintf(out, "    MTA-STS   policy: larger than %d KiB: refused\n",
			        POLICY_MAX / 1024);
			goto done;
		}
	}
	buf[got] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	int status = 0;
	if (sscanf(buf, "HTTP/%*s %d", &status) != 1 || !body) {
		fprintf(out, "    MTA-STS   policy: not an HTTP answer from %s\n", host);
		goto done;
	}
	*body = '\0';
	body += 4;
	if (status >= 300 && status < 400) {
		fprintf(out,
		        "    MTA-STS   policy: HTTP %d: a redirect, which RFC 8461 3.3 forbids\n",
		        status);
		goto done;
	}
	if (status != 200) {
		fprintf(out, "    MTA-STS   policy: HTTP %d from %s\n", status, host);
		goto done;
	}
	if (!strcasestr(buf, "\ncontent-type: text/plain"))
		fprintf(out, "    MTA-STS   note: the policy is not served as text/plain\n");
	fprintf(out,
	        "    MTA-STS   policy from https://%s/.well-known/mta-sts.txt (certificate "
	        "verified):\n",
	        host);
	for (char *l = body; *l;) {
		size_t k = strcspn(l, "\n");
		fprintf(out, "                | %.*s\n", (int)(k && l[k - 1] == '\r' ? k - 1 : k),
		        l);
		l += k + (l[k] == '\n');
	}
	parse_policy(body, p);
	if (!p->ok)
		fprintf(out, "    MTA-STS   policy: not a valid STSv1 policy (version/mode)\n");
	rc = p->ok ? 0 : -1;
done:
	if (e.code && rc < 0 && got == 0)
		fprintf(out, "    MTA-STS   policy: %s\n", e.msg);
	free(buf);
	mp_tls_close(&t);
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
	struct sts p;

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
	if (nsts == 1 && fetch_policy(d, o, &p, out) < 0)
		problems++;
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
		if (p.ok && strcmp(p.mode, "none") != 0) {
			int allowed = 0;
			for (int k = 0; k < p.nmx && !allowed; k++)
				allowed = mx_matches(p.mx[k], h->name);
			if (!allowed) {
				fprintf(out,
				        "    problem:  MX %s is not allowed by the MTA-STS policy "
				        "(mode "
				        "%s)\n",
				        hn, p.mode);
				problems++;
			}
		}
	}
	fprintf(out, "    %d problem%s found\n", problems, problems == 1 ? "" : "s");
	mp_dns_query_free(q, 4);
	return problems;
}
