/* spf and dmarc: RFC 7208 section 7.4's macro examples, the record
 * parsers' refusals, and the organizational domain (Public Suffix List:
 * the system's, or a small list written here when it is missing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmarc.h"
#include "spf.h"
#include "tap.h"

static const struct {
	const char *in, *out;
} v4[] = {
    {"%{s}", "strong-bad@email.example.com"},
    {"%{o}", "email.example.com"},
    {"%{d}", "email.example.com"},
    {"%{d4}", "email.example.com"},
    {"%{d3}", "email.example.com"},
    {"%{d2}", "example.com"},
    {"%{d1}", "com"},
    {"%{dr}", "com.example.email"},
    {"%{d2r}", "example.email"},
    {"%{l}", "strong-bad"},
    {"%{l-}", "strong.bad"},
    {"%{lr}", "strong-bad"},
    {"%{lr-}", "bad.strong"},
    {"%{l1r-}", "strong"},
    {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
    {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
    {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
    {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
    {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
    {"%%%_%-", "% %20"},
    {"%{S}", "strong-bad%40email.example.com"},
};

static const char *const bad_spf[] = {
    "v=spf1 foo",
    "v=spf1 a:foo",
    "v=spf1 ip4:1.2.3.4/33",
    "v=spf1 ip4:01.2.3.4",
    "v=spf1 ip6:::1/129",
    "v=spf1 exists:%{x}.a.b",
    "v=spf1 a:%{l0}.a.b",
    "v=spf1 all:x",
    "v=spf1 redirect=a.b redirect=c.d",
    "v=spf1 exp=a.b exp=c.d",
    "v=spf1 include:%{c}.a.b",
    "v=spf10",
    "spf1 -all",
    "v=spf1 a//129",
    "v=spf1 mx/0x",
};

static const char *const bad_dmarc[] = {
    "v=DMARC2; p=none",
    "p=none; v=DMARC1",
    "v=DMARC1; p=never",
    "v=DMARC1",
    "v=DMARC1; p=none; p=reject",
    "v=DMARC1; p",
    "",
};

int main(void)
{
	struct mp_spf_macros m = {.s = "strong-bad@email.example.com",
	                          .l = "strong-bad",
	                          .o = "email.example.com",
	                          .d = "email.example.com",
	                          .i = "192.0.2.3",
	                          .h = "mx.example.org",
	                          .v = "in-addr"};
	struct mp_buf b = MP_BUF_INIT;
	struct mp_err e;
	struct mp_spf_record *r = malloc(sizeof *r);
	struct mp_dmarc_record d;
	char org[256];

	for (size_t i = 0; i < sizeof v4 / sizeof *v4; i++) {
		mp_buf_reset(&b);
		mp_err_clear(&e);
		tap_is_int(mp_spf_expand(v4[i].in, strlen(v4[i].in), &m, 0, &b, &e), 0,
		           "%s expands", v4[i].in);
		tap_is_mem(b.data, b.len, v4[i].out, strlen(v4[i].out), "%s", v4[i].in);
	}
	m.i = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1";
	m.v = "ip6";
	mp_buf_reset(&b);
	mp_spf_expand("%{ir}.%{v}._spf.%{d2}", 21, &m, 0, &b, &e);
	const char *want6 =
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf."
	    "example.com";
	tap_is_mem(b.data, b.len, want6, strlen(want6), "IPv6 %%{ir}.%%{v}._spf.%%{d2}");
	mp_err_clear(&e);
	tap_is_int(mp_spf_expand("%{c}", 4, &m, 0, &b, &e), -1, "%%{c} only in exp=");

	const char *good = "v=spf1 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 a:x.example.com/24//48 mx "
	                   "ptr ?exists:%{i}.e.example.com include:i.example.com all "
	                   "redirect=r.example.com exp=x.example.com moo=%{d}";
	mp_err_clear(&e);
	tap_is_int(mp_spf_record_parse(good, strlen(good), r, &e), 0, "a record with every term");
	tap_is_int(r->n, 11, "11 terms");
	tap_is_int(r->t[0].result, MP_SPF_FAIL, "-ip4 is fail");
	tap_is_int(r->t[0].cidr4, 24, "/24");
	tap_is_int(r->t[2].cidr4 * 1000 + r->t[2].cidr6, 24048, "a: /24//48");
	tap_is_int(r->redirect, 8, "redirect=");
	tap_ok(r->has_all, "has all");
	for (size_t i = 0; i < sizeof bad_spf / sizeof *bad_spf; i++) {
		mp_err_clear(&e);
		tap_ok(mp_spf_record_parse(bad_spf[i], strlen(bad_spf[i]), r, &e) < 0 &&
		           e.code == EX_DATAERR && e.offset >= 1,
		       "refused: %s (%s)", bad_spf[i], e.msg);
	}

	const char *dm = "v=DMARC1 ;p=Reject; sp = quarantine;adkim=s; aspf=x; pct=150; fo=1;";
	mp_err_clear(&e);
	tap_is_int(mp_dmarc_record_parse(dm, strlen(dm), &d, &e), 0, "DMARC record: %s", e.msg);
	tap_ok(d.p == MP_DMARC_P_REJECT && d.sp == MP_DMARC_P_QUARANTINE && d.adkim == 1 &&
	           d.aspf == 0 && d.pct == 100,
	       "p, sp, adkim; a bad aspf and pct are the defaults");
	dm = "v=DMARC1; p=bogus; rua=mailto:d@example.com";
	tap_is_int(mp_dmarc_record_parse(dm, strlen(dm), &d, &e), 0, "a bad p= with rua=");
	tap_ok(d.p == MP_DMARC_P_NONE && d.p_from_rua, "is p=none (6.6.3)");
	for (size_t i = 0; i < sizeof bad_dmarc / sizeof *bad_dmarc; i++) {
		mp_err_clear(&e);
		tap_ok(mp_dmarc_record_parse(bad_dmarc[i], strlen(bad_dmarc[i]), &d, &e) < 0 &&
		           e.code == EX_DATAERR,
		       "refused: '%s'", bad_dmarc[i]);
	}

	/* a list of its own: rules, a wildcard and its exception, an IDN */
	char path[4096];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/test_spf_psl.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("// comment\nuk\nco.uk\n*.ck\n!www.ck\n\xe9\xa6\x99\xe6\xb8\xaf\n", f);
	fclose(f);
	mp_err_clear(&e);
	tap_is_int(mp_psl_load(path, &e), 0, "a list loads");
	unlink(path);
	static const struct {
		const char *in, *out;
	} o[] = {
	    {"mail.example.co.uk", "example.co.uk"},
	    {"Example.CO.uk.", "example.co.uk"},
	    {"co.uk", "co.uk"},
	    {"a.b.example.ck", "b.example.ck"},
	    {"a.www.ck", "www.ck"},
	    {"x.example.test", "example.test"},
	    {"a.b.xn--j6w193g", "b.xn--j6w193g"},
	};
	for (size_t i = 0; i < sizeof o / sizeof *o; i++) {
		mp_dmarc_org_domain(o[i].in, org, sizeof org);
		tap_is_mem(org, strlen(org), o[i].out, strlen(o[i].out),
		           "organizational domain of %s", o[i].in);
	}
	{ /* 255 octets and a final dot: the dot goes, nothing else is cut */
		char longname[257];
		memset(longname, 'a', 255);
		longname[253] = '.';
		longname[255] = '.';
		longname[256] = '\0';
		mp_dmarc_org_domain(longname, org, sizeof org);
		tap_is_mem(org, strlen(org), longname, 255,
		           "a name of 255 octets and a dot is its own");
	}
	tap_ok(mp_dmarc_aligned("mail.example.co.uk", "example.co.uk", 0), "relaxed: aligned");
	tap_ok(!mp_dmarc_aligned("mail.example.co.uk", "example.co.uk", 1), "strict: not");
	tap_ok(!mp_dmarc_aligned("evil.co.uk", "example.co.uk", 0), "another registrant: not");
	mp_buf_free(&b);
	free(r);
	return tap_done();
}
