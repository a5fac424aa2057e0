#include "dkimkey.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "json.h"
#include "util.h"

/* what was found about one key record */
struct keyinfo {
	char name[MP_DNS_NAMEMAX + 80];
	struct mp_buf record; /* the first TXT (or the one that starts v=DKIM1) */
	int nrecords;
	char error[300]; /* the lookup failed */
	struct mp_dkim_key key;
	int parsed, bits;
	struct mp_buf probs; /* problems, each ending with a NUL */
	int problems;
};

MP_PRINTF(2, 3) static void problem(struct keyinfo *k, const char *fmt, ...)
{
	char line[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (mp_buf_append(&k->probs, line, strlen(line) + 1) < 0)
		mp_die(EX_TEMPFAIL, "out of memory");
	k->problems++;
}

/* the TXT records at k->name, the key record among them parsed */
static void examine(struct mp_resolver *r, struct keyinfo *k)
{
	struct mp_dns_query q = {.name = k->name, .type = MP_DNS_TXT};
	struct mp_buf t = MP_BUF_INIT;
	struct mp_err e;

	mp_dns_resolve(r, &q, 1);
	if (q.status < 0 || (q.reply.rcode != MP_DNS_NOERROR && q.reply.rcode != MP_DNS_NXDOMAIN)) {
		snprintf(k->error, sizeof k->error, "%s",
		         q.status < 0 ? q.err.msg : mp_dns_rcode_name(q.reply.rcode));
		mp_dns_query_free(&q, 1);
		return;
	}
	for (size_t i = 0; i < q.reply.nan; i++) {
		if (q.reply.rr[i].type != MP_DNS_TXT || mp_dns_txt(&q.reply.rr[i], &t) < 0)
			continue;
		/* the first, unless a later one says v=DKIM1 and it does not */
		if (k->nrecords++ == 0 || (strncmp(t.data, "v=DKIM1", 7) == 0 &&
		                           strncmp(k->record.data, "v=DKIM1", 7) != 0)) {
			mp_buf_reset(&k->record);
			if (mp_buf_append(&k->record, t.data, t.len) < 0)
				mp_die(EX_TEMPFAIL, "out of memory");
		}
	}
	mp_buf_free(&t);
	mp_dns_query_free(&q, 1);
	if (k->nrecords == 0) {
		problem(k, "no key record at %s", k->name);
		return;
	}
	if (k->nrecords > 1)
		problem(k, "%d TXT records at %s: verifiers may take any of them", k->nrecords,
		        k->name);
	mp_err_clear(&e);
	if (mp_dkim_key_parse(k->record.data, k->record.len, &k->key, &e) < 0) {
		problem(k, "syntax: %s (at octet %lld)", e.msg, e.offset);
		return;
	}
	k->parsed = 1;
	if (!k->key.plen) {
		problem(k, "the key is revoked (p= is empty): every signature with it fails");
		return;
	}
	k->bits = mp_dkim_key_bits(&k->key);
	if (k->bits < 0)
		problem(k, "p= is no %s public key", k->key.k == MP_DKIM_K_RSA ? "RSA" : "Ed25519");
	else if (k->key.k == MP_DKIM_K_RSA && k->bits < 1024)
		problem(k,
		        "too short: an RSA key of %d bits; verifiers refuse keys under 1024 bits "
		        "(RFC 8301 3.2)",
		        k->bits);
}

static const char *keytype(const struct keyinfo *k)
{
	if (!k->parsed)
		return NULL;
	return k->key.k == MP_DKIM_K_ED25519 ? "ed25519" : "rsa";
}

static void print_text(FILE *out, const struct keyinfo *k)
{
	fprintf(out, "\n  DKIM key %s\n", k->name);
	if (k->error[0]) {
		mp_term_printf(out, "    lookup failed: %s\n", k->error);
		return;
	}
	if (k->nrecords) {
		fprintf(out, "    record    ");
		mp_term_printf(out, "%s\n", k->record.data); /* from the DNS: escaped */
	}
	if (k->parsed) {
		fprintf(out, "    key       %s", keytype(k));
		if (k->bits > 0)
			fprintf(out, ", %d bits", k->bits);
		else if (!k->key.plen)
			fprintf(out, ", revoked");
		fputc('\n', out);
		if (!k->key.testing && !k->key.strict)
			fprintf(out, "    flags     none\n");
		else
			fprintf(out, "    flags     %s%s%s\n",
			        k->key.testing
			            ? "t=y (testing: verifiers treat its signatures as none)"
			            : "",
			        k->key.testing && k->key.strict ? "; " : "",
			        k->key.strict ? "t=s (i= must be in d= itself, no subdomain)" : "");
	}
	for (size_t i = 0; i < k->probs.len; i += strlen(k->probs.data + i) + 1)
		mp_term_printf(out, "    problem:  %s\n", k->probs.data + i);
	fprintf(out, "    %d problem%s found\n", k->problems, k->problems == 1 ? "" : "s");
}

static void print_json(FILE *out, const char *domain, const char *selector, const struct keyinfo *k)
{
	struct mp_json j;

	mp_json_init(&j, out, 0);
	mp_json_begin_object(&j, NULL);
	mp_json_string(&j, "type", "dkim");
	mp_json_string(&j, "domain", domain);
	mp_json_string(&j, "selector", selector);
	mp_json_string(&j, "name", k->name);
	if (k->nrecords)
		mp_json_stringn(&j, "record", k->record.data, k->record.len);
	else
		mp_json_string(&j, "record", NULL);
	mp_json_string(&j, "key_type", keytype(k));
	if (k->bits > 0)
		mp_json_int(&j, "bits", k->bits);
	else
		mp_json_string(&j, "bits", NULL);
	mp_json_bool(&j, "testing", k->parsed && k->key.testing);
	mp_json_bool(&j, "strict", k->parsed && k->key.strict);
	mp_json_bool(&j, "revoked", k->parsed && !k->key.plen);
	mp_json_begin_array(&j, "problems");
	for (size_t i = 0; i < k->probs.len; i += strlen(k->probs.data + i) + 1)
		mp_json_string(&j, NULL, k->probs.data + i);
	mp_json_end_array(&j);
	mp_json_error(&j, "error", k->error[0] ? EX_TEMPFAIL : 0, k->error);
	mp_json_end_object(&j);
	mp_json_finish(&j);
}

int mmx_dkim(struct mp_resolver *r, const char *domain, char *const *selectors, size_t n, FILE *out,
             int json)
{
	int problems = 0;
	size_t dl = strlen(domain);

	if (dl > 1 && domain[dl - 1] == '.')
		dl--;
	for (size_t i = 0; i < n; i++) {
		struct keyinfo k = {.record = MP_BUF_INIT, .probs = MP_BUF_INIT};
		snprintf(k.name, sizeof k.name, "%s._domainkey.%.*s", selectors[i], (int)dl,
		         domain);
		examine(r, &k);
		if (json)
			print_json(out, domain, selectors[i], &k);
		else
			print_text(out, &k);
		problems += k.problems;
		mp_buf_free(&k.record);
		mp_buf_free(&k.probs);
	}
	return problems;
}
