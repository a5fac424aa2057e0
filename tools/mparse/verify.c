/* mparse --verify: a message's DKIM signatures (RFC 6376, RFC 8463) with
 * their keys from the DNS, SPF (RFC 7208) when the caller gives the
 * client's address, MAIL FROM and HELO, and DMARC (RFC 7489) for the
 * From: domain, said as an Authentication-Results field is (RFC 8601):
 * a line, a JSON object, or the field put on top of the message. */
#include "verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "hdr.h"
#include "io.h"
#include "spf.h"
#include "util.h"

struct verify_opts verify_opts;
static struct mp_resolver res;
static int res_ready;
static struct mp_dkim_keycache *keys; /* the run's key records (dkimverify.c) */

static struct mp_resolver *resolver(void)
{
	struct mp_err e;

	mp_err_clear(&e);
	if (!res_ready) {
		if (mp_resolver_init(&res, NULL, &e) < 0 ||
		    (verify_opts.server &&
		     mp_resolver_set_server(&res, verify_opts.server, 0, &e) < 0))
			mp_die_err("--dns-server", &e);
		res_ready = 1;
	}
	return &res;
}

static int is_dkim1(const char *t, size_t n)
{
	return n >= 7 && strncmp(t, "v=DKIM1", 7) == 0;
}

static int any_txt(const char *t, size_t n)
{
	(void)t;
	(void)n;
	return 1;
}

/* the key record at name: the TXT that starts "v=DKIM1", else the first */
static int lookup(void *arg, const char *name, struct mp_buf *txt, struct mp_err *e)
{
	int n;

	(void)arg;
	n = mp_dns_txt_find(resolver(), name, is_dkim1, txt, e);
	if (n == 0)
		n = mp_dns_txt_find(resolver(), name, any_txt, txt, e);
	return n < 0 ? -1 : n > 0;
}

/* ---------------------------------------------------------------- the results */

struct results {
	const struct mp_dkim_verdict *dkim;
	size_t ndkim;
	int spf_done;
	struct mp_spf_verdict spf;
	int from_ok; /* 1 one From: address with a domain; 0 none; -1 several */
	struct mp_dmarc_verdict dmarc;
};

/* a pvalue or a comment's text from mail or DNS, made safe for a header
 * field: printable ASCII only, no ';' (and in a comment no unbalanced
 * parentheses or backslash) */
static void put_safe(struct mp_buf *b, const char *s, int comment)
{
	int depth = 0, balanced = 1;

	for (const char *p = s; *p && comment; p++) {
		depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		balanced &= depth >= 0;
	}
	balanced &= depth == 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c > 0x7e || c == '\\' || (!comment && strchr(";()\" ", c)) ||
		    (comment && !balanced && (c == '(' || c == ')')))
			c = '?';
		mp_buf_putc(b, c);
	}
}

static void comment(struct mp_buf *b, const char *s)
{
	if (!s || !*s)
		return;
	mp_buf_puts(b, " (");
	put_safe(b, s, 1);
	mp_buf_putc(b, ')');
}

static void prop(struct mp_buf *b, const char *name, const char *v)
{
	if (!v || !*v)
		return;
	mp_buf_printf(b, " %s=", name);
	put_safe(b, v, 0);
}

/* the resinfo parts, each in its own buffer: dkim (one a signature),
 * spf, dmarc; each "method=result properties (why)" */
static size_t resinfo(const struct results *r, struct mp_buf *part, size_t max)
{
	size_t n = 0;
	char pol[64];
	struct mp_buf c = MP_BUF_INIT;

	for (size_t i = 0; i < r->ndkim && n + 2 < max; i++, n++) {
		const struct mp_dkim_verdict *d = &r->dkim[i];
		mp_buf_printf(&part[n], "dkim=%s", mp_dkim_result_name(d->result));
		prop(&part[n], "header.d", d->d[0] ? d->d : "?");
		prop(&part[n], "header.s", d->s[0] ? d->s : "?");
		prop(&part[n], "header.a", d->alg[0] ? d->alg : "?");
		if (d->testing)
			comment(&part[n], "testing");
		comment(&part[n], d->reason);
	}
	if (!r->ndkim)
		mp_buf_puts(&part[n++], "dkim=none (no signature)");
	if (!r->spf_done) {
		mp_buf_puts(&part[n++], "spf=none (not evaluated: no --spf-ip)");
	} else {
		mp_buf_printf(&part[n], "spf=%s", mp_spf_result_name(r->spf.result));
		prop(&part[n], "smtp.mailfrom", r->spf.identity);
		prop(&part[n], "smtp.helo", verify_opts.helo);
		comment(&part[n], r->spf.reason);
		n++;
	}
	mp_buf_printf(&part[n], "dmarc=%s", mp_dmarc_result_name(r->dmarc.result));
	prop(&part[n], "header.from", r->dmarc.from);
	pol[0] = '\0';
	if (r->dmarc.result == MP_DMARC_PASS || r->dmarc.result == MP_DMARC_FAIL) {
		snprintf(pol, sizeof pol, "p=%s", mp_dmarc_policy_name(r->dmarc.policy));
		if (r->dmarc.rec.pct < 100)
			snprintf(pol + strlen(pol), sizeof pol - strlen(pol), " pct=%d",
			         r->dmarc.rec.pct);
	}
	mp_buf_printf(&c, "%s%s%s", pol, pol[0] && r->dmarc.reason[0] ? ": " : "", r->dmarc.reason);
	comment(&part[n], c.data);
	mp_buf_free(&c);
	return n + 1;
}

static void authserv(struct mp_buf *b)
{
	char host[256] = "localhost";

	if (verify_opts.authserv_id) {
		put_safe(b, verify_opts.authserv_id, 0);
		return;
	}
	if (gethostname(host, sizeof host - 1) < 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	put_safe(b, host, 0);
}

/* the line: "ID; dkim=...; spf=...; dmarc=..."; with fold, the field's
 * value folded after each ';' with line end eol */
static void ar_text(const struct results *r, const char *fold, struct mp_buf *out)
{
	struct mp_buf part[MP_DKIM_SIGS + 3];
	size_t n;

	for (size_t i = 0; i < sizeof part / sizeof *part; i++)
		part[i] = (struct mp_buf)MP_BUF_INIT;
	authserv(out);
	n = resinfo(r, part, sizeof part / sizeof *part);
	for (size_t i = 0; i < n; i++) {
		mp_buf_puts(out, fold ? ";" : "; ");
		if (fold)
			mp_buf_printf(out, "%s\t", fold);
		mp_buf_append(out, part[i].data ? part[i].data : "", part[i].len);
		mp_buf_free(&part[i]);
	}
}

static void json(struct mp_json *j, const char *name, const struct results *r)
{
	struct mp_buf ar = MP_BUF_INIT;

	ar_text(r, NULL, &ar);
	mp_json_begin_object(j, NULL);
	mp_json_string(j, "file", name);
	mp_json_string(j, "authentication_results", ar.data);
	mp_json_begin_array(j, "dkim");
	for (size_t i = 0; i < r->ndkim; i++) {
		const struct mp_dkim_verdict *d = &r->dkim[i];
		mp_json_begin_object(j, NULL);
		mp_json_string(j, "result", mp_dkim_result_name(d->result));
		mp_json_string(j, "d", d->d);
		mp_json_string(j, "s", d->s);
		mp_json_string(j, "i", d->i);
		mp_json_string(j, "a", d->alg);
		mp_json_bool(j, "testing", d->testing);
		mp_json_string(j, "reason", d->reason);
		mp_json_end_object(j);
	}
	mp_json_end_array(j);
	mp_json_begin_object(j, "spf");
	mp_json_bool(j, "evaluated", r->spf_done);
	mp_json_string(j, "result", r->spf_done ? mp_spf_result_name(r->spf.result) : "none");
	mp_json_string(j, "mailfrom", r->spf_done ? r->spf.identity : NULL);
	mp_json_string(j, "domain", r->spf_done ? r->spf.domain : NULL);
	mp_json_string(j, "ip", verify_opts.spf_ip);
	mp_json_string(j, "helo", verify_opts.helo);
	mp_json_int(j, "lookups", r->spf.lookups);
	mp_json_int(j, "void_lookups", r->spf.voids);
	mp_json_string(j, "reason", r->spf_done ? r->spf.reason : "not evaluated: no --spf-ip");
	mp_json_end_object(j);
	mp_json_begin_object(j, "dmarc");
	mp_json_string(j, "result", mp_dmarc_result_name(r->dmarc.result));
	mp_json_string(j, "from", r->dmarc.from[0] ? r->dmarc.from : NULL);
	mp_json_string(j, "org", r->dmarc.org[0] ? r->dmarc.org : NULL);
	if (r->dmarc.result == MP_DMARC_PASS || r->dmarc.result == MP_DMARC_FAIL) {
		mp_json_string(j, "record", r->dmarc.record_at);
		mp_json_string(j, "policy", mp_dmarc_policy_name(r->dmarc.policy));
		mp_json_string(j, "p", mp_dmarc_policy_name(r->dmarc.rec.p));
		mp_json_string(j, "sp",
		               r->dmarc.rec.sp >= 0 ? mp_dmarc_policy_name(r->dmarc.rec.sp) : NULL);
		mp_json_string(j, "adkim", r->dmarc.rec.adkim ? "s" : "r");
		mp_json_string(j, "aspf", r->dmarc.rec.aspf ? "s" : "r");
		mp_json_int(j, "pct", r->dmarc.rec.pct);
		mp_json_bool(j, "dkim_aligned", r->dmarc.dkim_aligned);
		mp_json_bool(j, "spf_aligned", r->dmarc.spf_aligned);
	}
	mp_json_string(j, "reason", r->dmarc.reason);
	mp_json_end_object(j);
	mp_json_end_object(j);
	mp_json_finish(j);
	mp_buf_free(&ar);
}

/* the From: domain (RFC 7489 6.6.1): one field with one address */
static void from_domain(struct mp_dkim_verifier *v, struct results *r)
{
	struct mp_buf val = MP_BUF_INIT;
	struct mp_addrlist l = {0};
	size_t n;
	const char *h = mp_dkim_verifier_header(v, &n), *at;

	r->from_ok = 0;
	if (mp_hdr_find_nth(h, n, "From", 1, &val) == 1) {
		r->from_ok = -1;
	} else if (mp_hdr_find_nth(h, n, "From", 0, &val) == 1) {
		mp_addr_parse(val.data, &l);
		if (l.n > 1)
			r->from_ok = -1;
		else if (l.n == 1 && (at = strrchr(l.v[0].addr, '@')) && at[1]) {
			snprintf(r->dmarc.from, sizeof r->dmarc.from, "%s", at + 1);
			r->from_ok = 1;
		}
		mp_addr_free(&l);
	}
	mp_buf_free(&val);
}

static void check(struct mp_dkim_verifier *v, struct results *r)
{
	const char *passed[MP_DKIM_SIGS];
	size_t np = 0;
	struct mp_err e;

	if (verify_opts.spf_ip) {
		mp_err_clear(&e);
		if (mp_spf_check(resolver(), verify_opts.spf_ip, verify_opts.helo,
		                 verify_opts.mail_from ? verify_opts.mail_from : "", &r->spf,
		                 &e) < 0)
			mp_die(EX_USAGE, "--spf-ip: %s", e.msg);
		r->spf_done = 1;
	}
	from_domain(v, r);
	if (r->from_ok <= 0) {
		memset(&r->dmarc, 0, sizeof r->dmarc);
		r->dmarc.result = MP_DMARC_PERMERROR;
		snprintf(r->dmarc.reason, sizeof r->dmarc.reason, "%s",
		         r->from_ok < 0 ? "more than one From: address" : "no From: domain");
		return;
	}
	for (size_t i = 0; i < r->ndkim; i++)
		if (r->dkim[i].result == MP_DKIM_PASS)
			passed[np++] = r->dkim[i].d;
	char from[sizeof r->dmarc.from];
	memcpy(from, r->dmarc.from, sizeof from);
	mp_dmarc_check(resolver(), from, passed, np,
	               r->spf_done && r->spf.result == MP_SPF_PASS ? r->spf.domain : NULL,
	               &r->dmarc);
}

/* --add-results: the field, then the message as it came from fd */
static int add_results(const char *name, const struct results *r, int fd, int crlf)
{
	struct mp_buf f = MP_BUF_INIT;
	char buf[65536];
	ssize_t got;

	mp_buf_puts(&f, "Authentication-Results: ");
	ar_text(r, crlf ? "\r\n" : "\n", &f);
	mp_buf_puts(&f, crlf ? "\r\n" : "\n");
	if (fwrite(f.data, 1, f.len, stdout) != f.len)
		mp_die(EX_IOERR, "stdout: %s", strerror(errno));
	mp_buf_free(&f);
	if (lseek(fd, 0, SEEK_SET) < 0)
		mp_die(EX_TEMPFAIL, "%s: temporary file: %s", name, strerror(errno));
	while ((got = mp_read_full(fd, buf, sizeof buf)) > 0)
		if (fwrite(buf, 1, (size_t)got, stdout) != (size_t)got)
			mp_die(EX_IOERR, "stdout: %s", strerror(errno));
	if (got < 0)
		mp_die(EX_TEMPFAIL, "%s: temporary file: %s", name, strerror(errno));
	return 0;
}

int verify_message(const char *name, const struct mp_msgsrc *src, struct mp_json *j)
{
	struct mp_dkim_verifier *v = mp_dkim_verifier_new(lookup, NULL);
	struct results r;
	struct mp_err e;
	const char *seg;
	size_t len;
	int bol, k, fd = -1, crlf = -1;
	static int count;

	if (!v || (!keys && !(keys = mp_dkim_keycache_new())))
		mp_die(EX_TEMPFAIL, "out of memory");
	memset(&r, 0, sizeof r);
	mp_dkim_verifier_cache(v, keys);
	mp_err_clear(&e);
	if (verify_opts.add_results) {
		if (count++)
			mp_die(EX_USAGE, "--add-results: one message only (%s is another)", name);
		if ((fd = mp_tmpfd("mparse", &e)) < 0)
			mp_die_err(name, &e);
	}
	while ((k = src->next(src->ctx, &seg, &len, &bol, &e)) > 0) {
		if (fd >= 0 && mp_write_full(fd, seg, len) < 0)
			mp_die(EX_TEMPFAIL, "%s: temporary file: %s", name, strerror(errno));
		if (crlf < 0 && memchr(seg, '\n', len)) { /* the first line's end */
			const char *nl = memchr(seg, '\n', len);
			crlf = nl > seg && nl[-1] == '\r';
		}
		if (mp_dkim_verifier_feed(v, seg, len, &e) < 0)
			break;
	}
	if (k < 0 || e.code ||
	    mp_dkim_verifier_end(v, (long long)time(NULL), &r.dkim, &r.ndkim, &e) < 0) {
		mp_warn("%s: %s", name, e.msg[0] ? e.msg : "read error");
		mp_dkim_verifier_free(v);
		if (fd >= 0)
			exit(EX_DATAERR); /* nothing written: the message is not lost */
		return -1;
	}
	check(v, &r);
	if (fd >= 0) {
		add_results(name, &r, fd, crlf > 0);
		close(fd);
	} else if (j) {
		json(j, name, &r);
	} else {
		struct mp_buf line = MP_BUF_INIT;
		ar_text(&r, NULL, &line);
		mp_term_printf(stdout, "%s: %s\n", name, line.data);
		mp_buf_free(&line);
	}
	mp_dkim_verifier_free(v);
	return 0;
}
