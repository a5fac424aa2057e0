#include "probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "smtp.h"
#include "tls.h"

static double since(double t0)
{
	return mp_net_now_ms() - t0;
}

static void ptr_name(const struct mp_mx_addr *a, char *out, size_t n)
{
	size_t o = 0;

	if (a->family == AF_INET) {
		snprintf(out, n, "%u.%u.%u.%u.in-addr.arpa", a->addr[3], a->addr[2], a->addr[1],
		         a->addr[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 5 < n; i--)
		o += (size_t)snprintf(out + o, n - o, "%x.%x.", a->addr[i] & 15, a->addr[i] >> 4);
	snprintf(out + o, n - o, "ip6.arpa");
}

/* PTR of the address and whether that name leads back to it */
static void show_ptr(struct mp_resolver *r, const struct mp_mx_addr *a, FILE *out)
{
	char name[128];
	struct mp_dns_query q = {0}, f = {0};

	ptr_name(a, name, sizeof name);
	q.name = name;
	q.type = MP_DNS_PTR;
	mp_dns_resolve(r, &q, 1);
	const char *ptr = NULL;
	for (size_t i = 0; q.status == 0 && i < q.reply.nan; i++)
		if (q.reply.rr[i].type == MP_DNS_PTR)
			ptr = q.reply.rr[i].target;
	if (!ptr) {
		mp_term_printf(out, "       PTR         none (%s)\n",
		               q.status ? q.err.msg : mp_dns_rcode_name(q.reply.rcode));
		mp_dns_query_free(&q, 1);
		return;
	}
	f.name = ptr;
	f.type = a->family == AF_INET ? MP_DNS_A : MP_DNS_AAAA;
	mp_dns_resolve(r, &f, 1);
	int back = 0;
	for (size_t i = 0; f.status == 0 && i < f.reply.nan; i++)
		if (f.reply.rr[i].type == f.type &&
		    !memcmp(f.reply.rr[i].addr, a->addr, a->family == AF_INET ? 4 : 16))
			back = 1;
	mp_term_printf(out, "       PTR         %s (%s)\n", ptr,
	               back ? "confirms forward" : "does not lead back to this address");
	mp_dns_query_free(&f, 1);
	mp_dns_query_free(&q, 1);
}

static void show_cert(const struct mp_tls_info *in, const char *host, FILE *out)
{
	mp_term_printf(out, "       TLS         %s, %s\n", in->protocol, in->cipher);
	mp_term_printf(out, "       subject     %s\n", in->subject);
	mp_term_printf(out, "       names       %s\n",
	               in->sans[0] ? in->sans : "(no subjectAltName)");
	mp_term_printf(out, "       issuer      %s\n", in->issuer);
	mp_term_printf(out, "       valid       %s to %s\n", in->not_before, in->not_after);
	mp_term_printf(out, "       SHA-256     %s\n", in->sha256);
	mp_term_printf(out, "       chain       %d certificate%s sent\n", in->chain_len,
	               in->chain_len == 1 ? "" : "s");
	if (in->verified)
		mp_term_printf(out, "       verify      ok for %s\n", host);
	else
		mp_term_printf(out, "       verify      FAILED for %s: %s\n", host,
		               in->verify_text);
}

/* TLSA records of _PORT._tcp.HOST, and whether the answer was secure */
static size_t get_tlsa(struct mp_resolver *r, const char *host, int port, struct mp_dns_query *q,
                       struct mp_tlsa *t, size_t max, int *ad)
{
	static char name[MP_DNS_NAMEMAX + 32];
	size_t n = 0;

	snprintf(name, sizeof name, "_%d._tcp.%s", port, host);
	memset(q, 0, sizeof *q);
	q->name = name;
	q->type = MP_DNS_TLSA;
	mp_dns_resolve(r, q, 1);
	*ad = q->status == 0 && (q->reply.flags & MP_DNS_AD);
	for (size_t i = 0; q->status == 0 && i < q->reply.nan && n < max; i++) {
		const struct mp_dns_rr *rr = &q->reply.rr[i];
		if (rr->type != MP_DNS_TLSA)
			continue;
		t[n].usage = rr->usage;
		t[n].selector = rr->selector;
		t[n].mtype = rr->mtype;
		t[n].data = rr->rdata + 3;
		t[n].len = rr->rdlen - 3u;
		n++;
	}
	return n;
}

/* one SMTP conversation up to the certificate; returns 1 if it connected */
static int talk(const struct mp_mx_host *h, const struct sockaddr *sa, socklen_t sl,
                const struct probe_opts *o, const struct mp_tlsa *tlsa, size_t ntlsa, int ad,
                FILE *out, int quiet)
{
	struct mp_proto p;
	struct mp_smtp_reply rep;
	struct mp_smtp_caps caps;
	struct mp_err e;
	struct mp_tls_opts to = {0};
	char host[MP_DNS_NAMEMAX];
	double t0 = mp_net_now_ms();
	int fd;

	snprintf(host, sizeof host, "%s", h->name);
	if (strlen(host) > 1 && host[strlen(host) - 1] == '.')
		host[strlen(host) - 1] = '\0';
	mp_err_clear(&e);
	fd = mp_net_connect_addr(sa, sl, o->timeout_ms, &e);
	if (fd < 0) {
		mp_term_printf(out, "       connect     failed after %.0f ms: %s\n", since(t0),
		               e.msg);
		return 0;
	}
	if (!quiet)
		mp_term_printf(out, "       connect     %8.1f ms\n", since(t0));
	mp_proto_init(&p, fd, o->timeout_ms, o->trace);
	t0 = mp_net_now_ms();
	if (mp_smtp_reply(&p, &rep, &e) < 0) {
		mp_term_printf(out, "       banner      failed after %.0f ms: %s\n", since(t0),
		               e.msg);
		goto done;
	}
	if (!quiet)
		mp_term_printf(out, "       banner      %8.1f ms  %d %s\n", since(t0), rep.code,
		               strtok(rep.text, "\n") ? rep.text : "");
	if (rep.code != 220) {
		mp_term_printf(out, "       the server does not want to talk: %d\n", rep.code);
		goto quit;
	}
	t0 = mp_net_now_ms();
	if (mp_smtp_ehlo(&p, o->helo, &caps, &rep, &e) < 0) {
		mp_term_printf(out, "       EHLO        failed after %.0f ms: %s\n", since(t0),
		               e.msg);
		goto done;
	}
	if (!quiet)
		mp_term_printf(out, "       EHLO        %8.1f ms  %s\n", since(t0), caps.list);
	if (!(caps.bits & MP_SMTP_STARTTLS)) {
		mp_term_printf(
		    out, "       STARTTLS    not offered: mail to this host travels in clear\n");
		goto quit;
	}
	to.ca_file = o->ca_file;
	to.verify_name = host;
	to.report_only = 1;
	to.timeout_ms = o->timeout_ms;
	to.tlsa = tlsa;
	to.ntlsa = ntlsa;
	t0 = mp_net_now_ms();
	if (mp_smtp_starttls(&p, &to, o->helo, &caps, &rep, &e) < 0) {
		mp_term_printf(out, "       STARTTLS    failed after %.0f ms: %s\n", since(t0),
		               e.msg);
		goto done;
	}
	struct mp_tls_info in;
	mp_tls_info(&p.tls, &in);
	if (ntlsa) {
		if (in.verified && in.dane_matched && ad)
			mp_term_printf(out,
			               "       DANE        a TLSA record matched (usage %d): %s\n",
			               in.dane_usage, "the chain is authenticated by DNS");
		else if (in.verified && in.dane_matched) /* records of an unsigned zone */
			mp_term_printf(
			    out,
			    "       DANE        a TLSA record matched (usage %d), but the "
			    "answer was not authenticated (AD clear): no DANE for a sender\n",
			    in.dane_usage);
		else
			mp_term_printf(out, "       DANE        no TLSA record matched: %s\n",
			               in.verify_text);
	} else {
		mp_term_printf(out, "       STARTTLS    %8.1f ms  (handshake and EHLO again)\n",
		               since(t0));
		show_cert(&in, host, out);
		mp_term_printf(out, "       EHLO (TLS)  %s\n", caps.list);
	}
quit:
	mp_smtp_cmd(&p, "QUIT", &rep, &e);
done:
	mp_proto_close(&p);
	return 1;
}

int mmx_probe(struct mp_resolver *r, const struct mp_mx *m, const struct probe_opts *o, FILE *out)
{
	int ok = 0;

	for (size_t i = 0; i < m->nhosts; i++) {
		const struct mp_mx_host *h = &m->hosts[i];
		struct mp_tlsa tlsa[16];
		struct mp_dns_query tq;
		size_t ntlsa = 0;
		int ad = 0;

		size_t hl = strlen(h->name);
		mp_term_printf(out, "\n  probe %.*s (preference %u)\n",
		               (int)(hl > 1 && h->name[hl - 1] == '.' ? hl - 1 : hl), h->name,
		               h->pref);
		if (o->tlsa) {
			ntlsa = get_tlsa(r, h->name, o->port, &tq, tlsa, 16, &ad);
			if (tq.status)
				mp_term_printf(out, "    TLSA  lookup failed: %s\n", tq.err.msg);
			else if (!ntlsa)
				mp_term_printf(out, "    TLSA  none (%s)\n",
				               mp_dns_rcode_name(tq.reply.rcode));
			for (size_t k = 0; k < ntlsa; k++) {
				mp_term_printf(out, "    TLSA  %u %u %u ", tlsa[k].usage,
				               tlsa[k].selector, tlsa[k].mtype);
				for (size_t b = 0; b < tlsa[k].len && b < 32; b++)
					mp_term_printf(out, "%02x", tlsa[k].data[b]);
				mp_term_printf(out, "%s\n", tlsa[k].len > 32 ? "..." : "");
			}
			if (ntlsa)
				mp_term_printf(
				    out, "    TLSA  answer %s\n",
				    ad ? "authenticated (AD set): usable for DANE"
				       : "NOT authenticated (AD clear): a sender must not use it "
				         "for DANE");
		}
		for (size_t k = 0; k < h->naddrs; k++) {
			const struct mp_mx_addr *a = &h->addrs[k];
			struct sockaddr_storage ss;
			socklen_t sl;
			char as[64];
			memset(&ss, 0, sizeof ss);
			if (a->family == AF_INET) {
				struct sockaddr_in *v = (void *)&ss;
				v->sin_family = AF_INET;
				v->sin_port = htons((uint16_t)o->port);
				memcpy(&v->sin_addr, a->addr, 4);
				sl = sizeof *v;
			} else {
				struct sockaddr_in6 *v = (void *)&ss;
				v->sin6_family = AF_INET6;
				v->sin6_port = htons((uint16_t)o->port);
				memcpy(&v->sin6_addr, a->addr, 16);
				sl = sizeof *v;
			}
			inet_ntop(a->family, a->addr, as, sizeof as);
			mp_term_printf(out, "    -> %s port %d\n", as, o->port);
			show_ptr(r, a, out);
			int c = talk(h, (struct sockaddr *)&ss, sl, o, NULL, 0, 0, out, 0);
			ok += c;
			if (c && ntlsa)
				talk(h, (struct sockaddr *)&ss, sl, o, tlsa, ntlsa, ad, out, 1);
		}
		if (o->tlsa)
			mp_dns_query_free(&tq, 1);
	}
	return ok;
}
