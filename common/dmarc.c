/* dmarc: RFC 7489's record, the organizational domain (Public Suffix
 * List), alignment and the verdict. */
#include "dmarc.h"

#include <ctype.h>
#include <errno.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *mp_dmarc_policy_name(int p)
{
	return p == MP_DMARC_P_REJECT       ? "reject"
	       : p == MP_DMARC_P_QUARANTINE ? "quarantine"
	                                    : "none";
}

const char *mp_dmarc_result_name(int result)
{
	static const char *const names[] = {"none", "pass", "fail", "temperror", "permerror"};
	return result >= 0 && result <= MP_DMARC_PERMERROR ? names[result] : "?";
}

/* ---------------------------------------------------------------- record */

static int bad(struct mp_err *e, const char *base, const char *at, const char *what)
{
	mp_err_set(e, EX_DATAERR, "DMARC record, byte %zu: %s", (size_t)(at - base) + 1, what);
	if (e)
		e->offset = (long long)(at - base) + 1;
	return -1;
}

static int wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int policy(const char *v, size_t n)
{
	static const char *const names[] = {"none", "quarantine", "reject"};
	for (int i = 0; i < 3; i++)
		if (strlen(names[i]) == n && strncasecmp(v, names[i], n) == 0)
			return i;
	return -1;
}

int mp_dmarc_record_parse(const char *txt, size_t n, struct mp_dmarc_record *r, struct mp_err *e)
{
	char seen[64] = "";
	int ntags = 0, badp = 0;
	size_t i = 0;

	memset(r, 0, sizeof *r);
	r->p = -1;
	r->sp = -1;
	r->pct = 100;
	while (i < n) {
		size_t end = i, a, b, eq;
		while (end < n && txt[end] != ';')
			end++;
		for (a = i; a < end && wsp(txt[a]); a++)
			;
		for (b = end; b > a && wsp(txt[b - 1]); b--)
			;
		i = end + 1;
		if (a == b) {
			if (end < n || !ntags)
				return bad(e, txt, txt + a, "an empty tag");
			break; /* a final ';' */
		}
		for (eq = a; eq < b && txt[eq] != '='; eq++)
			;
		if (eq == b)
			return bad(e, txt, txt + a, "a tag without '='");
		size_t nl = eq, v = eq + 1;
		while (nl > a && wsp(txt[nl - 1]))
			nl--;
		while (v < b && wsp(txt[v]))
			v++;
		if (nl == a || !isalpha((unsigned char)txt[a]))
			return bad(e, txt, txt + a, "a bad tag name");
		for (size_t k = a; k < nl; k++)
			if (!isalnum((unsigned char)txt[k]) && txt[k] != '_')
				return bad(e, txt, txt + k, "a bad tag name");
		const char *name = txt + a, *val = txt + v;
		size_t len = nl - a, vl = b - v;
		if (ntags++ == 0) {
			if (len != 1 || *name != 'v' || vl != 6 || strncmp(val, "DMARC1", 6) != 0)
				return bad(e, txt, txt + a, "it does not start with v=DMARC1");
			continue;
		}
		/* a tag given twice: refused (RFC 6376 3.2's tag-list) */
		char key[24];
		snprintf(key, sizeof key, "|%.*s|", (int)(len < 20 ? len : 20), name);
		if (strstr(seen, key))
			return bad(e, txt, txt + a, "a tag given twice");
		if (strlen(seen) + strlen(key) < sizeof seen)
			strcat(seen, key);
#define IS(t) (len == strlen(t) && strncasecmp(name, t, len) == 0)
		if (IS("p")) {
			badp |= (r->p = policy(val, vl)) < 0;
		} else if (IS("sp")) {
			badp |= (r->sp = policy(val, vl)) < 0;
		} else if (IS("adkim") || IS("aspf")) {
			/* a bad value: the default (6.3) */
			int strict = vl == 1 && (val[0] == 's' || val[0] == 'S');
			*(IS("adkim") ? &r->adkim : &r->aspf) = strict;
		} else if (IS("pct")) {
			int pct = 0, ok = vl > 0 && vl <= 3;
			for (size_t k = 0; k < vl && ok; k++) {
				ok = isdigit((unsigned char)val[k]);
				pct = pct * 10 + (val[k] - '0');
			}
			r->pct = ok && pct <= 100 ? pct : 100;
		} else if (IS("rua")) {
			r->rua = memchr(val, ':', vl) != NULL;
		}
#undef IS
	}
	if (!ntags)
		return bad(e, txt, txt, "it does not start with v=DMARC1");
	if (r->p < 0 || badp) {
		if (!r->rua)
			return bad(e, txt, txt + n, "no valid p= (and no rua=)");
		r->p = MP_DMARC_P_NONE;
		r->sp = -1;
		r->p_from_rua = 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- the PSL */

static char **rules;
static size_t nrules;
static int psl_tried;

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* a rule in the form domains are compared in: lower case, A-labels */
static char *rule_form(const char *s)
{
	const char *pfx = s[0] == '!' ? "!" : strncmp(s, "*.", 2) == 0 ? "*." : "";
	const char *body = s + strlen(pfx);
	char *ascii = NULL, *out;
	int nonascii = 0;

	for (const char *p = body; *p; p++)
		nonascii |= (unsigned char)*p >= 0x80;
	if (nonascii && idn2_to_ascii_8z(body, &ascii, IDN2_NONTRANSITIONAL) == IDN2_OK)
		body = ascii;
	out = malloc(strlen(pfx) + strlen(body) + 1);
	if (out) {
		strcpy(out, pfx);
		strcat(out, body);
		for (char *p = out; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	idn2_free(ascii);
	return out;
}

int mp_psl_load(const char *path, struct mp_err *e)
{
	FILE *f;
	char line[512];
	size_t cap = 0;

	if (rules)
		return 0;
	if (!path)
		path = getenv("MAILPIPE_PSL");
	if (!path || !*path)
		path = MP_PSL_PATH;
	psl_tried = 1;
	if (!(f = fopen(path, "re")))
		return mp_err_sys(e, EX_NOINPUT, "%s", path);
	while (fgets(line, sizeof line, f)) {
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save), *r;
		if (!tok || strncmp(tok, "//", 2) == 0)
			continue;
		if (nrules == cap) {
			char **nr = realloc(rules, (cap = cap ? cap * 2 : 4096) * sizeof *rules);
			if (!nr)
				break;
			rules = nr;
		}
		if ((r = rule_form(tok)))
			rules[nrules++] = r;
	}
	fclose(f);
	if (!nrules) {
		free(rules);
		rules = NULL;
		return mp_err_set(e, EX_NOINPUT, "%s: no rules in it", path);
	}
	qsort(rules, nrules, sizeof *rules, cmp);
	return 0;
}

static int has_rule(const char *pfx, const char *s)
{
	char key[300];
	const char *k = key;

	snprintf(key, sizeof key, "%s%s", pfx, s);
	return bsearch(&k, rules, nrules, sizeof *rules, cmp) != NULL;
}

int mp_dmarc_org_domain(const char *domain, char *out, size_t n)
{
	char d[256];
	const char *lab[128];
	size_t nl = 0, ps = 1;

	size_t len = strlen(domain);
	if (len && domain[len - 1] == '.')
		len--;
	if (len >= sizeof d) { /* no DNS name is this long: it is its own, not cut */
		snprintf(out, n, "%.*s", (int)len, domain);
		return 0;
	}
	memcpy(d, domain, len);
	d[len] = '\0';
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!psl_tried) {
		struct mp_err e;
		mp_err_clear(&e);
		if (mp_psl_load(NULL, &e) < 0)
			mp_warn("%s: without the Public Suffix List, a domain is its own "
			        "organizational domain (install publicsuffix)",
			        e.msg);
	}
	if (!rules || !len) {
		snprintf(out, n, "%s", d);
		return 0;
	}
	/* the labels from the right: lab[k] starts the last k+1 labels */
	for (size_t i = len; i-- > 0 && nl < 128;)
		if (i == 0 || d[i - 1] == '.')
			lab[nl++] = d + i;
	for (size_t k = 1; k <= nl; k++) {
		if (has_rule("!", lab[k - 1])) { /* an exception wins */
			ps = k - 1;
			break;
		}
		if (has_rule("", lab[k - 1]) || (k > 1 && has_rule("*.", lab[k - 2])))
			ps = k;
	}
	snprintf(out, n, "%s", ps < nl ? lab[ps] : d);
	return 1;
}

static int same(const char *a, const char *b)
{
	return mp_dns_name_eq(a, b);
}

int mp_dmarc_aligned(const char *a, const char *b, int strict)
{
	char oa[256], ob[256];

	if (strict || same(a, b))
		return same(a, b);
	mp_dmarc_org_domain(a, oa, sizeof oa);
	mp_dmarc_org_domain(b, ob, sizeof ob);
	return same(oa, ob);
}

/* ---------------------------------------------------------------- the check */

static int is_dmarc1(const char *t, size_t n)
{
	return n >= 8 && strncmp(t, "v=DMARC1", 8) == 0 && (n == 8 || t[8] == ';' || wsp(t[8]));
}

MP_PRINTF(2, 3)
static void why(struct mp_dmarc_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
}

/* the record at _dmarc.domain: 1, 0 none (or several), -1 temperror */
static int find(struct mp_resolver *res, const char *domain, struct mp_buf *txt,
                struct mp_dmarc_verdict *v)
{
	struct mp_err e;
	int n;

	snprintf(v->record_at, sizeof v->record_at, "_dmarc.%s", domain);
	if (!mp_dns_hostname_ok(v->record_at))
		return 0;
	mp_err_clear(&e);
	n = mp_dns_txt_find(res, v->record_at, is_dmarc1, txt, &e);
	if (n < 0)
		why(v, "%s", e.msg);
	if (n > 1)
		why(v, "%s has %d DMARC records", v->record_at, n);
	return n > 1 ? 0 : n;
}

void mp_dmarc_check(struct mp_resolver *res, const char *from_domain, const char *const *dkim_d,
                    size_t nd, const char *spf_domain, struct mp_dmarc_verdict *v)
{
	struct mp_buf txt = MP_BUF_INIT;
	struct mp_err e;
	int n;

	memset(v, 0, sizeof *v);
	snprintf(v->from, sizeof v->from, "%s", from_domain);
	mp_dmarc_org_domain(from_domain, v->org, sizeof v->org);
	n = find(res, from_domain, &txt, v);
	if (n == 0 && !v->reason[0] && !same(v->org, from_domain))
		n = find(res, v->org, &txt, v);
	if (n <= 0) {
		v->result = n < 0 ? MP_DMARC_TEMPERROR : MP_DMARC_NONE;
		if (!v->reason[0])
			why(v, "no DMARC record for %s", from_domain);
		goto out;
	}
	mp_err_clear(&e);
	if (mp_dmarc_record_parse(txt.data, txt.len, &v->rec, &e) < 0) {
		v->result = MP_DMARC_PERMERROR;
		why(v, "%s: %s", v->record_at, e.msg);
		goto out;
	}
	/* a subdomain found the organizational domain's record: sp= */
	v->policy = v->rec.p;
	if (!same(v->record_at + 7, from_domain) && v->rec.sp >= 0)
		v->policy = v->rec.sp;
	for (size_t i = 0; i < nd && !v->dkim_aligned; i++)
		v->dkim_aligned = mp_dmarc_aligned(dkim_d[i], from_domain, v->rec.adkim);
	v->spf_aligned = spf_domain && mp_dmarc_aligned(spf_domain, from_domain, v->rec.aspf);
	v->result = v->dkim_aligned || v->spf_aligned ? MP_DMARC_PASS : MP_DMARC_FAIL;
	why(v, "%s",
	    v->result == MP_DMARC_PASS ? ""
	    : nd || spf_domain         ? "no aligned identifier passed"
	                               : "neither DKIM nor SPF passed");
out:
	mp_buf_free(&txt);
}
