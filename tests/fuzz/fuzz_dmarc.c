/* libFuzzer target: what SPF (RFC 7208) and DMARC (RFC 7489) read from
 * the DNS, as any domain may publish it: the SPF record parser (the input
 * as it is, and after "v=spf1 "), the macro expansion of every
 * domain-spec it accepted and of the input itself, the DMARC record
 * parser, and the organizational domain of the input as a name. What
 * parses must keep the promises of spf.h and dmarc.h; what does not is
 * EX_DATAERR at an offset inside the input. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dmarc.h"
#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mp_spf_macros macros = {.s = "strong-bad@email.example.com",
                                            .l = "strong-bad",
                                            .o = "email.example.com",
                                            .d = "email.example.com",
                                            .i = "192.0.2.3",
                                            .p = "unknown",
                                            .h = "mx.example.org",
                                            .v = "in-addr"};

static void spf(const char *s, size_t n, struct mp_spf_record *r)
{
	struct mp_err e;
	struct mp_buf b = MP_BUF_INIT;

	mp_err_clear(&e);
	if (mp_spf_record_parse(s, n, r, &e) < 0) {
		if (e.code != EX_DATAERR || e.offset < 1 || (size_t)e.offset > n + 1)
			abort();
		return;
	}
	if (r->n > MP_SPF_TERMS || (r->redirect >= 0 && (size_t)r->redirect >= r->n) ||
	    (r->exp >= 0 && (size_t)r->exp >= r->n))
		abort();
	for (size_t i = 0; i < r->n; i++) {
		const struct mp_spf_term *t = &r->t[i];
		if (t->kind < MP_SPF_ALL || t->kind > MP_SPF_UNKNOWN_MOD || t->cidr4 < 0 ||
		    t->cidr4 > 32 || t->cidr6 < 0 || t->cidr6 > 128 || t->text < s ||
		    t->text + t->textlen > s + n)
			abort();
		if (t->arg && (t->arg < s || t->arg + t->arglen > s + n))
			abort();
		if (t->kind == MP_SPF_ALL && !r->has_all)
			abort();
		/* an accepted domain-spec expands */
		if (t->arg && t->kind != MP_SPF_IP4 && t->kind != MP_SPF_IP6) {
			mp_buf_reset(&b);
			mp_err_clear(&e);
			if (mp_spf_expand(t->arg, t->arglen, &macros, t->kind == MP_SPF_EXP, &b,
			                  &e) < 0)
				abort();
		}
	}
	mp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mp_spf_record *r = malloc(sizeof *r);
	struct mp_dmarc_record d;
	struct mp_buf b = MP_BUF_INIT;
	struct mp_err e;
	char *pre = malloc(size + 8), name[300], org[300];

	if (!r || !pre)
		goto out;
	spf(s, size, r);
	memcpy(pre, "v=spf1 ", 7);
	memcpy(pre + 7, data, size);
	spf(pre, size + 7, r);
	/* a macro-string as exp= has it */
	mp_err_clear(&e);
	if (mp_spf_expand(s, size, &macros, 1, &b, &e) < 0 &&
	    (e.code != EX_DATAERR || e.offset < 1 || (size_t)e.offset > size + 1))
		abort();
	mp_err_clear(&e);
	if (mp_dmarc_record_parse(s, size, &d, &e) == 0) {
		if (d.p < MP_DMARC_P_NONE || d.p > MP_DMARC_P_REJECT || d.sp < -1 ||
		    d.sp > MP_DMARC_P_REJECT || d.pct < 0 || d.pct > 100 || (d.adkim | d.aspf) > 1)
			abort();
	} else if (e.code != EX_DATAERR || e.offset < 1 || (size_t)e.offset > size + 1) {
		abort();
	}
	/* the organizational domain is the name or a suffix of it */
	size_t l = size < sizeof name - 1 ? size : sizeof name - 1;
	memcpy(name, data, l);
	name[l] = '\0';
	l = strlen(name);
	mp_dmarc_org_domain(name, org, sizeof org);
	size_t ol = strlen(org);
	if (l && name[l - 1] == '.')
		l--;
	if (ol > l || (l < 256 && strncasecmp(name + l - ol, org, ol) != 0))
		abort();
out:
	mp_buf_free(&b);
	free(pre);
	free(r);
	return 0;
}
