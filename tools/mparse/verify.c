/* mparse --verify: each DKIM-Signature of a message checked (RFC 6376,
 * RFC 8463) with its key from the DNS, the results named as RFC 8601
 * does (pass, fail, neutral, temperror, permerror, policy; none when the
 * message is not signed). */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dkim.h"
#include "dns.h"
#include "util.h"

static const char *server;
static struct mp_resolver res;
static int res_ready;
static struct mp_dkim_keycache *keys; /* the run's key records (dkim.c) */

void verify_dns_server(const char *addr)
{
	server = addr;
}

/* the key record at name: the TXT that starts "v=DKIM1", else the first */
static int lookup(void *arg, const char *name, struct mp_buf *txt, struct mp_err *e)
{
	struct mp_dns_query q = {.name = name, .type = MP_DNS_TXT};
	struct mp_buf t = MP_BUF_INIT;
	int found = 0;

	(void)arg;
	if (!res_ready) {
		if (mp_resolver_init(&res, NULL, e) < 0 ||
		    (server && mp_resolver_set_server(&res, server, 0, e) < 0))
			mp_die_err("--dns-server", e);
		res_ready = 1;
	}
	mp_dns_resolve(&res, &q, 1);
	if (q.status < 0) {
		*e = q.err;
		mp_dns_query_free(&q, 1);
		return -1;
	}
	if (q.reply.rcode != MP_DNS_NOERROR && q.reply.rcode != MP_DNS_NXDOMAIN) {
		mp_err_set(e, EX_TEMPFAIL, "%s", mp_dns_rcode_name(q.reply.rcode));
		mp_dns_query_free(&q, 1);
		return -1;
	}
	for (size_t i = 0; i < q.reply.nan && found >= 0; i++) {
		if (q.reply.rr[i].type != MP_DNS_TXT || mp_dns_txt(&q.reply.rr[i], &t) < 0)
			continue;
		int dkim1 = strncmp(t.data, "v=DKIM1", 7) == 0;
		if (found && !dkim1)
			continue;
		mp_buf_reset(txt);
		found = mp_buf_append(txt, t.data, t.len) < 0 ? -1 : 1;
		if (dkim1)
			break;
	}
	mp_buf_free(&t);
	mp_dns_query_free(&q, 1);
	if (found < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "DNS");
	return found > 0;
}

int verify_message(const char *name, const struct mp_msgsrc *src, struct mp_json *j)
{
	struct mp_dkim_verifier *v = mp_dkim_verifier_new(lookup, NULL);
	const struct mp_dkim_verdict *r = NULL;
	struct mp_err e;
	const char *seg;
	size_t len, nr = 0;
	int bol, k;

	if (!v || (!keys && !(keys = mp_dkim_keycache_new())))
		mp_die(EX_TEMPFAIL, "out of memory");
	mp_dkim_verifier_cache(v, keys);
	mp_err_clear(&e);
	while ((k = src->next(src->ctx, &seg, &len, &bol, &e)) > 0)
		if (mp_dkim_verifier_feed(v, seg, len, &e) < 0)
			break;
	if (k < 0 || e.code || mp_dkim_verifier_end(v, (long long)time(NULL), &r, &nr, &e) < 0) {
		mp_warn("%s: %s", name, e.msg[0] ? e.msg : "read error");
		mp_dkim_verifier_free(v);
		return -1;
	}
	if (j) {
		mp_json_begin_object(j, NULL);
		mp_json_string(j, "file", name);
		mp_json_begin_array(j, "dkim");
		for (size_t i = 0; i < nr; i++) {
			mp_json_begin_object(j, NULL);
			mp_json_string(j, "result", mp_dkim_result_name(r[i].result));
			mp_json_string(j, "d", r[i].d);
			mp_json_string(j, "s", r[i].s);
			mp_json_string(j, "i", r[i].i);
			mp_json_string(j, "a", r[i].alg);
			mp_json_bool(j, "testing", r[i].testing);
			mp_json_string(j, "reason", r[i].reason);
			mp_json_end_object(j);
		}
		mp_json_end_array(j);
		mp_json_end_object(j);
		mp_json_finish(j);
	} else if (nr == 0) {
		mp_term_printf(stdout, "%s: dkim=none (no signature)\n", name);
	}
	for (size_t i = 0; !j && i < nr; i++) {
		/* d=, s= and the reason come from the mail: escaped */
		mp_term_printf(stdout, "%s: dkim=%s header.d=%s header.s=%s header.a=%s%s%s%s%s\n",
		               name, mp_dkim_result_name(r[i].result), r[i].d[0] ? r[i].d : "?",
		               r[i].s[0] ? r[i].s : "?", r[i].alg[0] ? r[i].alg : "?",
		               r[i].testing ? " (testing)" : "", r[i].reason[0] ? " (" : "",
		               r[i].reason, r[i].reason[0] ? ")" : "");
	}
	mp_dkim_verifier_free(v);
	return 0;
}
