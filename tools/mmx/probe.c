#include "probe.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
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

/* PTR of the address and whether that name leads back to it; said on out
 * (text) or kept in ptr (NULL when there is none) and *back */
static void show_ptr(struct mp_resolver *r, const struct mp_mx_addr *a, FILE *out, char *found,
                     size_t n, int *confirmed)
{
	char name[128];
	struct mp_dns_query q = {0}, f = {0};

	*found = '\0';
	*confirmed = 0;
	ptr_name(a, name, sizeof name);
	q.name = name;
	q.type = MP_DNS_PTR;
	mp_dns_resolve(r, &q, 1);
	const char *ptr = NULL;
	for (size_t i = 0; q.status == 0 && i < q.reply.nan; i++)
		if (q.reply.rr[i].type == MP_DNS_PTR)
			ptr = q.reply.rr[i].target;
	if (!ptr) {
		if (out)
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
	if (out)
		mp_term_printf(out, "       PTR         %s (%s)\n", ptr,
		               back ? "confirms forward" : "does not lead back to this address");
	size_t l = strlen(ptr);
	snprintf(found, n, "%.*s", (int)(l > 1 && ptr[l - 1] == '.' ? l - 1 : l), ptr);
	*confirmed = back;
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

/* what one conversation found, for --json; the times NAN where it did not
 * get that far */
struct talk_res {
	double connect_ms, banner_ms, ehlo_ms, starttls_ms;
	int banner_code;
	char banner[4096];
	char ehlo[1024], ehlo_tls[1024];
	int starttls; /* offered */
	int tls;      /* the handshake was made: in is filled */
	struct mp_tls_info in;
	int err_code; /* the step that failed, and why */
	char err[400];
};

/* a step (label, NULL for none) failed: said on out (text), kept in res */
MP_PRINTF(5, 6)
static void step_failed(struct talk_res *res, FILE *out, int code, const char *label,
                        const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(res->err, sizeof res->err, "%s%s%s", label ? label : "", label ? " " : "", why);
	res->err_code = code ? code : EX_TEMPFAIL;
	if (out && label)
		mp_term_printf(out, "       %-12s%s\n", label, why);
	else if (out)
		mp_term_printf(out, "       %s\n", why);
}

/* one SMTP conversation up to the certificate, said on out (NULL: only
 * kept in res); returns 1 if it connected */
static int talk(const struct mp_mx_host *h, const struct sockaddr *sa, socklen_t sl,
                const struct probe_opts *o, const struct mp_tlsa *tlsa, size_t ntlsa, int ad,
                FILE *out, int quiet, struct talk_res *res)
{
	struct mp_proto p;
	struct mp_smtp_reply rep;
	struct mp_smtp_caps caps;
	struct mp_err e;
	struct mp_tls_opts to = {0};
	char host[MP_DNS_NAMEMAX];
	double t0 = mp_net_now_ms();
	int fd;

	memset(res, 0, sizeof *res);
	res->connect_ms = res->banner_ms = res->ehlo_ms = res->starttls_ms = NAN;
	snprintf(host, sizeof host, "%s", h->name);
	if (strlen(host) > 1 && host[strlen(host) - 1] == '.')
		host[strlen(host) - 1] = '\0';
	mp_err_clear(&e);
	fd = mp_net_connect_addr(sa, sl, o->timeout_ms, &e);
	if (fd < 0) {
		step_failed(res, out, e.code, "connect", "failed after %.0f ms: %s", since(t0),
		            e.msg);
		return 0;
	}
	res->connect_ms = since(t0);
	if (out && !quiet)
		mp_term_printf(out, "       connect     %8.1f ms\n", res->connect_ms);
	mp_proto_init(&p, fd, o->timeout_ms, o->trace);
	t0 = mp_net_now_ms();
	if (mp_smtp_reply(&p, &rep, &e) < 0) {
		step_failed(res, out, e.code, "banner", "failed after %.0f ms: %s", since(t0),
		            e.msg);
		goto done;
	}
	res->banner_ms = since(t0);
	res->banner_code = rep.code;
	snprintf(res->banner, sizeof res->banner, "%s", strtok(rep.text, "\n") ? rep.text : "");
	if (out && !quiet)
		mp_term_printf(out, "       banner      %8.1f ms  %d %s\n", res->banner_ms,
		               rep.code, res->banner);
	if (rep.code != 220) {
		step_failed(res, out, EX_UNAVAILABLE, NULL, "the server does not want to talk: %d",
		            rep.code);
		goto quit;
	}
	t0 = mp_net_now_ms();
	if (mp_smtp_ehlo(&p, o->helo, &caps, &rep, &e) < 0) {
		step_failed(res, out, e.code, "EHLO", "failed after %.0f ms: %s", since(t0), e.msg);
		goto done;
	}
	res->ehlo_ms = since(t0);
	snprintf(res->ehlo, sizeof res->ehlo, "%s", caps.list);
	if (out && !quiet)
		mp_term_printf(out, "       EHLO        %8.1f ms  %s\n", res->ehlo_ms, caps.list);
	if (!(caps.bits & MP_SMTP_STARTTLS)) {
		if (out)
			mp_term_printf(out, "       STARTTLS    not offered: mail to this host "
			                    "travels in clear\n");
		goto quit;
	}
	res->starttls = 1;
	to.ca_file = o->ca_file;
	to.verify_name = host;
	to.report_only = 1;
	to.timeout_ms = o->timeout_ms;
	to.tlsa = tlsa;
	to.ntlsa = ntlsa;
	t0 = mp_net_now_ms();
	if (mp_smtp_starttls(&p, &to, o->helo, &caps, &rep, &e) < 0) {
		step_failed(res, out, e.code, "STARTTLS", "failed after %.0f ms: %s", since(t0),
		            e.msg);
		goto done;
	}
	res->starttls_ms = since(t0);
	res->tls = 1;
	mp_tls_info(&p.tls, &res->in);
	snprintf(res->ehlo_tls, sizeof res->ehlo_tls, "%s", caps.list);
	if (!out)
		goto quit;
	if (ntlsa) {
		if (res->in.verified && res->in.dane_matched && ad)
			mp_term_printf(out,
			               "       DANE        a TLSA record matched (usage %d): %s\n",
			               res->in.dane_usage, "the chain is authenticated by DNS");
		else if (res->in.verified && res->in.dane_matched) /* records of an unsigned zone */
			mp_term_printf(
			    out,
			    "       DANE        a TLSA record matched (usage %d), but the "
			    "answer was not authenticated (AD clear): no DANE for a sender\n",
			    res->in.dane_usage);
		else
			mp_term_printf(out, "       DANE        no TLSA record matched: %s\n",
			               res->in.verify_text);
	} else {
		mp_term_printf(out, "       STARTTLS    %8.1f ms  (handshake and EHLO again)\n",
		               res->starttls_ms);
		show_cert(&res->in, host, out);
		mp_term_printf(out, "       EHLO (TLS)  %s\n", caps.list);
	}
quit:
	mp_smtp_cmd(&p, "QUIT", &rep, &e);
done:
	mp_proto_close(&p);
	return 1;
}

/* --json: the line for one address probed */
static void json_probe(struct mp_json *j, const struct mp_mx *m, const struct mp_mx_host *h,
                       const char *as, const struct probe_opts *o, const char *ptr, int back,
                       const struct talk_res *t, const struct talk_res *dane,
                       const struct mp_tlsa *tlsa, size_t ntlsa, int tlsa_ad, int tlsa_ok)
{
	char hn[MP_DNS_NAMEMAX];
	size_t l = strlen(h->name);

	snprintf(hn, sizeof hn, "%.*s", (int)(l > 1 && h->name[l - 1] == '.' ? l - 1 : l), h->name);
	mp_json_begin_object(j, NULL);
	mp_json_string(j, "type", "probe");
	mp_json_string(j, "domain", m->domain);
	mp_json_string(j, "host", hn);
	mp_json_int(j, "preference", h->pref);
	mp_json_string(j, "address", as);
	mp_json_int(j, "port", o->port);
	mp_json_string(j, "ptr", *ptr ? ptr : NULL);
	mp_json_bool(j, "ptr_confirmed", back);
	mp_json_fixed(j, "connect_ms", t->connect_ms, 1);
	if (t->banner_code)
		mp_json_int(j, "banner_code", t->banner_code);
	else
		mp_json_string(j, "banner_code", NULL);
	mp_json_string(j, "banner", t->banner_code ? t->banner : NULL);
	mp_json_string(j, "ehlo", isnan(t->ehlo_ms) ? NULL : t->ehlo);
	mp_json_bool(j, "starttls", t->starttls);
	if (t->tls) {
		const struct mp_tls_info *in = &t->in;
		mp_json_begin_object(j, "tls");
		mp_json_string(j, "protocol", in->protocol);
		mp_json_string(j, "cipher", in->cipher);
		mp_json_string(j, "subject", in->subject);
		mp_json_string(j, "names", in->sans);
		mp_json_string(j, "issuer", in->issuer);
		mp_json_string(j, "not_before", in->not_before);
		mp_json_string(j, "not_after", in->not_after);
		mp_json_string(j, "sha256", in->sha256);
		mp_json_int(j, "chain", in->chain_len);
		mp_json_bool(j, "verified", in->verified);
		mp_json_string(j, "verify_error", in->verified ? NULL : in->verify_text);
		mp_json_fixed(j, "handshake_ms", t->starttls_ms, 1);
		mp_json_string(j, "ehlo", t->ehlo_tls);
		mp_json_end_object(j);
	} else {
		mp_json_string(j, "tls", NULL);
	}
	if (tlsa_ok) { /* --tlsa, and the lookup was answered */
		mp_json_begin_array(j, "tlsa");
		for (size_t k = 0; k < ntlsa; k++) {
			char hex[2 * 64 + 1];
			size_t hl = 0;
			for (size_t b = 0; b < tlsa[k].len && hl + 2 < sizeof hex; b++)
				hl += (size_t)snprintf(hex + hl, sizeof hex - hl, "%02x",
				                       tlsa[k].data[b]);
			hex[hl] = '\0';
			mp_json_begin_object(j, NULL);
			mp_json_int(j, "usage", tlsa[k].usage);
			mp_json_int(j, "selector", tlsa[k].selector);
			mp_json_int(j, "matching_type", tlsa[k].mtype);
			mp_json_string(j, "data", hex);
			mp_json_end_object(j);
		}
		mp_json_end_array(j);
		mp_json_bool(j, "tlsa_authenticated", tlsa_ad);
	} else {
		mp_json_string(j, "tlsa", NULL);
		mp_json_string(j, "tlsa_authenticated", NULL);
	}
	if (dane && dane->tls)
		mp_json_bool(j, "dane_matched", dane->in.verified && dane->in.dane_matched);
	else
		mp_json_string(j, "dane_matched", NULL);
	mp_json_error(j, "error", t->err_code, t->err);
	mp_json_end_object(j);
	mp_json_finish(j);
}

int mmx_probe(struct mp_resolver *r, const struct mp_mx *m, const struct probe_opts *o, FILE *out,
              int json)
{
	struct mp_json j;
	int ok = 0;

	mp_json_init(&j, out, 0);
	FILE *text = json ? NULL : out;

	for (size_t i = 0; i < m->nhosts; i++) {
		const struct mp_mx_host *h = &m->hosts[i];
		struct mp_tlsa tlsa[16];
		struct mp_dns_query tq = {0};
		size_t ntlsa = 0;
		int ad = 0;

		size_t hl = strlen(h->name);
		if (text)
			mp_term_printf(text, "\n  probe %.*s (preference %u)\n",
			               (int)(hl > 1 && h->name[hl - 1] == '.' ? hl - 1 : hl),
			               h->name, h->pref);
		if (o->tlsa) {
			ntlsa = get_tlsa(r, h->name, o->port, &tq, tlsa, 16, &ad);
			/* with --json: said in each address's line */
			if (text && tq.status)
				mp_term_printf(out, "    TLSA  lookup failed: %s\n", tq.err.msg);
			else if (text && !ntlsa)
				mp_term_printf(out, "    TLSA  none (%s)\n",
				               mp_dns_rcode_name(tq.reply.rcode));
			for (size_t k = 0; text && k < ntlsa; k++) {
				mp_term_printf(out, "    TLSA  %u %u %u ", tlsa[k].usage,
				               tlsa[k].selector, tlsa[k].mtype);
				for (size_t b = 0; b < tlsa[k].len && b < 32; b++)
					mp_term_printf(out, "%02x", tlsa[k].data[b]);
				mp_term_printf(out, "%s\n", tlsa[k].len > 32 ? "..." : "");
			}
			if (text && ntlsa)
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
			if (text)
				mp_term_printf(text, "    -> %s port %d\n", as, o->port);
			char ptr[MP_DNS_NAMEMAX];
			int back;
			show_ptr(r, a, text, ptr, sizeof ptr, &back);
			struct talk_res t, dane;
			int c = talk(h, (struct sockaddr *)&ss, sl, o, NULL, 0, 0, text, 0, &t);
			ok += c;
			if (c && ntlsa)
				talk(h, (struct sockaddr *)&ss, sl, o, tlsa, ntlsa, ad, text, 1,
				     &dane);
			if (json)
				json_probe(&j, m, h, as, o, ptr, back, &t,
				           c && ntlsa ? &dane : NULL, tlsa, ntlsa, ad,
				           o->tlsa && !tq.status);
		}
		if (o->tlsa)
			mp_dns_query_free(&tq, 1);
	}
	return ok;
}
