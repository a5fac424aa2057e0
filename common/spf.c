/* spf: RFC 7208's record parser, macro expansion and check_host(). */
#include "spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *mp_spf_result_name(int result)
{
	static const char *const names[] = {"none",     "neutral",   "pass",     "fail",
	                                    "softfail", "temperror", "permerror"};
	return result >= 0 && result <= MP_SPF_PERMERROR ? names[result] : "?";
}

/* ---------------------------------------------------------------- parsing */

static int bad_at(struct mp_err *e, const char *base, const char *at, const char *what)
{
	mp_err_set(e, EX_DATAERR, "SPF record, byte %zu: %s", (size_t)(at - base) + 1, what);
	if (e)
		e->offset = (long long)(at - base) + 1;
	return -1;
}

static int is_delim(int c)
{
	return c && strchr(".-+,/_=", c) != NULL;
}

/* one macro-expand at s ("%..."): its length, or 0 if malformed; *letter
 * the letter (0 for %% %_ %-) */
static size_t macro_len(const char *s, size_t n, int *letter)
{
	size_t i = 2;

	*letter = 0;
	if (n < 2)
		return 0;
	if (s[1] == '%' || s[1] == '_' || s[1] == '-')
		return 2;
	if (s[1] != '{' || n < 4 || !s[2] || !strchr("slodiphcrtvSLODIPHCRTV", s[2]))
		return 0;
	*letter = s[2];
	i = 3;
	int digits = 0, nonzero = 0;
	while (i < n && isdigit((unsigned char)s[i])) {
		digits = 1;
		nonzero |= s[i++] != '0';
	}
	if (digits && !nonzero) /* keep no part at all */
		return 0;
	if (i < n && (s[i] == 'r' || s[i] == 'R'))
		i++;
	while (i < n && is_delim(s[i]))
		i++;
	return i < n && s[i] == '}' ? i + 1 : 0;
}

/* a macro-string (RFC 7208 7.1): 0, or -1 at the fault */
static int macro_string_ok(const char *base, const char *s, size_t n, int exp, struct mp_err *e)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		int letter;
		if (c == '%') {
			size_t l = macro_len(s + i, n - i, &letter);
			if (!l)
				return bad_at(e, base, s + i, "malformed macro");
			if (!exp && letter && strchr("crtCRT", letter))
				return bad_at(e, base, s + i, "%{c}, %{r}, %{t} only in exp=");
			i += l;
		} else if (c < 0x21 || c > 0x7e) {
			return bad_at(e, base, s + i, "a character no macro-string has");
		} else {
			i++;
		}
	}
	return 0;
}

/* a toplabel: alphanumerics with a letter, or with inner hyphens */
static int toplabel_ok(const char *s, size_t n)
{
	int alpha = 0, hyphen = 0;

	if (!n || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			hyphen = 1;
		else if (isalpha((unsigned char)s[i]))
			alpha = 1;
		else if (!isdigit((unsigned char)s[i]))
			return 0;
	}
	return alpha || hyphen;
}

/* domain-spec = macro-string domain-end */
static int domain_spec_ok(const char *base, const char *s, size_t n, struct mp_err *e)
{
	if (!n)
		return bad_at(e, base, s, "an empty domain");
	if (macro_string_ok(base, s, n, 0, e) < 0)
		return -1;
	if (s[n - 1] == '}')
		return 0; /* ends with a macro-expand */
	size_t end = n;
	if (s[end - 1] == '.')
		end--;
	size_t dot = end;
	while (dot > 0 && s[dot - 1] != '.')
		dot--;
	if (dot == 0 || !toplabel_ok(s + dot, end - dot))
		return bad_at(e, base, s, "the domain does not end in a top-level label");
	return 0;
}

/* a prefix length "/N" at s: its value, or -1 */
static int cidr(const char *s, size_t n, int max)
{
	int v = 0;

	if (n < 1 || n > 3 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

static const struct {
	const char *name;
	int kind;
} mechs[] = {{"all", MP_SPF_ALL}, {"include", MP_SPF_INCLUDE}, {"a", MP_SPF_A},
             {"mx", MP_SPF_MX},   {"ptr", MP_SPF_PTR},         {"ip4", MP_SPF_IP4},
             {"ip6", MP_SPF_IP6}, {"exists", MP_SPF_EXISTS}};

/* the /cidr4 and //cidr6 at the end of an a or mx term: they are cut
 * from *n */
static int dual_cidr(const char *base, const char *s, size_t *n, struct mp_spf_term *t,
                     struct mp_err *e)
{
	const char *slash = memchr(s, '/', *n);
	size_t end = *n;

	if (!slash)
		return 0;
	*n = (size_t)(slash - s);
	const char *p = slash + 1, *stop = s + end;
	if (p < stop && *p != '/') { /* /cidr4 */
		const char *q = memchr(p, '/', (size_t)(stop - p));
		size_t l = q ? (size_t)(q - p) : (size_t)(stop - p);
		if ((t->cidr4 = cidr(p, l, 32)) < 0)
			return bad_at(e, base, p, "a bad IPv4 prefix length");
		p += l;
		if (p < stop)
			p++; /* the first '/' of "//" */
	}
	if (p < stop) {
		if (*p != '/' || (t->cidr6 = cidr(p + 1, (size_t)(stop - p - 1), 128)) < 0)
			return bad_at(e, base, p, "a bad IPv6 prefix length");
	}
	return 0;
}

static int parse_term(const char *base, const char *s, size_t n, struct mp_spf_record *r,
                      struct mp_err *e)
{
	struct mp_spf_term *t;
	size_t nl = 0;

	if (r->n == MP_SPF_TERMS)
		return bad_at(e, base, s, "more terms than mparse takes (128)");
	t = &r->t[r->n];
	memset(t, 0, sizeof *t);
	t->cidr4 = 32;
	t->cidr6 = 128;
	t->text = s;
	t->textlen = n;
	/* a modifier: name "=" macro-string */
	if (isalpha((unsigned char)s[0])) {
		while (nl < n && (isalnum((unsigned char)s[nl]) || strchr("-_.", s[nl])))
			nl++;
		if (nl < n && s[nl] == '=') {
			const char *v = s + nl + 1;
			size_t vl = n - nl - 1;
			int *slot = NULL;
			if (nl == 8 && strncasecmp(s, "redirect", 8) == 0) {
				t->kind = MP_SPF_REDIRECT;
				slot = &r->redirect;
				if (domain_spec_ok(base, v, vl, e) < 0)
					return -1;
			} else if (nl == 3 && strncasecmp(s, "exp", 3) == 0) {
				t->kind = MP_SPF_EXP;
				slot = &r->exp;
				if (domain_spec_ok(base, v, vl, e) < 0)
					return -1;
			} else {
				t->kind = MP_SPF_UNKNOWN_MOD;
				if (macro_string_ok(base, v, vl, 0, e) < 0)
					return -1;
			}
			if (slot && *slot >= 0)
				return bad_at(e, base, s, "a second redirect= or exp=");
			if (slot)
				*slot = (int)r->n;
			t->arg = v;
			t->arglen = vl;
			r->n++;
			return 0;
		}
	}
	/* a directive: [qualifier] mechanism */
	t->result = MP_SPF_PASS;
	switch (s[0]) {
	case '+': t->result = MP_SPF_PASS; break;
	case '-': t->result = MP_SPF_FAIL; break;
	case '~': t->result = MP_SPF_SOFTFAIL; break;
	case '?': t->result = MP_SPF_NEUTRAL; break;
	default: break;
	}
	if (strchr("+-~?", s[0])) {
		s++;
		n--;
	}
	nl = 0;
	while (nl < n && isalnum((unsigned char)s[nl]))
		nl++;
	for (size_t k = 0; k < sizeof mechs / sizeof *mechs; k++)
		if (strlen(mechs[k].name) == nl && strncasecmp(s, mechs[k].name, nl) == 0)
			t->kind = mechs[k].kind;
	if (!t->kind)
		return bad_at(e, base, s, "an unknown mechanism");
	const char *arg = s + nl;
	size_t al = n - nl;
	switch (t->kind) {
	case MP_SPF_ALL:
		if (al)
			return bad_at(e, base, arg, "all takes nothing");
		r->has_all = 1;
		break;
	case MP_SPF_INCLUDE:
	case MP_SPF_EXISTS:
		if (al < 2 || arg[0] != ':')
			return bad_at(e, base, arg, "a domain is needed after ':'");
		if (domain_spec_ok(base, arg + 1, al - 1, e) < 0)
			return -1;
		t->arg = arg + 1;
		t->arglen = al - 1;
		break;
	case MP_SPF_A:
	case MP_SPF_MX:
	case MP_SPF_PTR:
		if (t->kind != MP_SPF_PTR && dual_cidr(base, arg, &al, t, e) < 0)
			return -1;
		if (al && arg[0] != ':')
			return bad_at(e, base, arg, "':' and a domain, or nothing, expected");
		if (al) {
			if (domain_spec_ok(base, arg + 1, al - 1, e) < 0)
				return -1;
			t->arg = arg + 1;
			t->arglen = al - 1;
		}
		break;
	default: { /* ip4, ip6 */
		int v6 = t->kind == MP_SPF_IP6;
		char ip[64];
		const char *slash;
		if (al < 2 || arg[0] != ':')
			return bad_at(e, base, arg, "an address is needed after ':'");
		arg++, al--;
		slash = memchr(arg, '/', al);
		size_t il = slash ? (size_t)(slash - arg) : al;
		if (slash && (*(v6 ? &t->cidr6 : &t->cidr4) =
		                  cidr(slash + 1, al - il - 1, v6 ? 128 : 32)) < 0)
			return bad_at(e, base, slash, "a bad prefix length");
		if (il >= sizeof ip)
			return bad_at(e, base, arg, "not an address");
		memcpy(ip, arg, il);
		ip[il] = '\0';
		if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, t->net) != 1)
			return bad_at(e, base, arg,
			              v6 ? "not an IPv6 address" : "not an IPv4 address");
		t->arg = arg;
		t->arglen = il;
	}
	}
	r->n++;
	return 0;
}

static int is_spf1(const char *t, size_t n)
{
	return n >= 6 && strncasecmp(t, "v=spf1", 6) == 0 && (n == 6 || t[6] == ' ');
}

int mp_spf_record_parse(const char *txt, size_t n, struct mp_spf_record *r, struct mp_err *e)
{
	size_t i = 6;

	r->n = 0;
	r->redirect = r->exp = -1;
	r->has_all = 0;
	if (!is_spf1(txt, n))
		return bad_at(e, txt, txt, "not an SPF record (v=spf1)");
	while (i < n) {
		if (txt[i] == ' ') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && txt[j] != ' ')
			j++;
		if (parse_term(txt, txt + i, j - i, r, e) < 0)
			return -1;
		i = j;
	}
	return 0;
}

/* ---------------------------------------------------------------- macros */

static int url_escape(const char *s, size_t n, struct mp_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int r = isalnum(c) || strchr("-._~", c) ? mp_buf_putc(out, c)
		                                        : mp_buf_printf(out, "%%%02X", c);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* a letter's value, split, reversed, cut to its rightmost digits parts,
 * joined with '.' (RFC 7208 7.3) */
static int expand_one(const char *val, const char *tr, size_t trn, int upper, struct mp_buf *out)
{
	const char *part[128];
	size_t plen[128], np = 0, keep = 0, i = 0, vl = strlen(val);
	char delims[8] = "";
	int rev = 0, dn = 0;
	struct mp_buf tmp = MP_BUF_INIT;

	while (i < trn && isdigit((unsigned char)tr[i])) {
		if (keep < 1000)
			keep = keep * 10 + (size_t)(tr[i] - '0');
		i++;
	}
	if (i < trn && (tr[i] == 'r' || tr[i] == 'R'))
		rev = 1, i++;
	while (i < trn && dn < 7)
		delims[dn++] = tr[i++];
	if (!dn)
		delims[0] = '.';
	for (size_t a = 0, b = 0; b <= vl; b++) {
		if (b == vl || strchr(delims, val[b])) {
			if (np == 128) { /* the leftmost parts go first */
				memmove(part, part + 1, sizeof part - sizeof *part);
				memmove(plen, plen + 1, sizeof plen - sizeof *plen);
				np--;
			}
			part[np] = val + a;
			plen[np++] = b - a;
			a = b + 1;
		}
	}
	if (rev)
		for (size_t k = 0; k < np / 2; k++) {
			const char *tp = part[k];
			size_t tl = plen[k];
			part[k] = part[np - 1 - k], plen[k] = plen[np - 1 - k];
			part[np - 1 - k] = tp, plen[np - 1 - k] = tl;
		}
	size_t from = keep && keep < np ? np - keep : 0;
	for (size_t k = from; k < np; k++)
		if ((k > from && mp_buf_putc(&tmp, '.') < 0) ||
		    mp_buf_append(&tmp, part[k], plen[k]) < 0)
			goto oom;
	int r = upper ? url_escape(tmp.data ? tmp.data : "", tmp.len, out)
	              : mp_buf_append(out, tmp.data ? tmp.data : "", tmp.len);
	mp_buf_free(&tmp);
	return r;
oom:
	mp_buf_free(&tmp);
	return -1;
}

int mp_spf_expand(const char *ms, size_t n, const struct mp_spf_macros *m, int exp,
                  struct mp_buf *out, struct mp_err *e)
{
	if (macro_string_ok(ms, ms, n, exp, e) < 0)
		return -1;
	for (size_t i = 0; i < n;) {
		int letter, r = 0;
		if (ms[i] != '%') {
			r = mp_buf_putc(out, ms[i++]);
		} else {
			size_t l = macro_len(ms + i, n - i, &letter);
			if (!letter) {
				r = mp_buf_puts(out, ms[i + 1] == '%'   ? "%"
				                     : ms[i + 1] == '_' ? " "
				                                        : "%20");
			} else {
				const char *v = "";
				switch (tolower(letter)) {
				case 's': v = m->s; break;
				case 'l': v = m->l; break;
				case 'o': v = m->o; break;
				case 'd': v = m->d; break;
				case 'i':
				case 'c': v = m->i; break;
				case 'p': v = m->p; break;
				case 'h': v = m->h; break;
				case 'v': v = m->v; break;
				case 'r': v = "unknown"; break;
				case 't': v = "0"; break;
				default: break;
				}
				r = expand_one(v ? v : "", ms + i + 3, l - 4, isupper(letter), out);
			}
			i += l;
		}
		if (r < 0)
			return mp_err_set(e, EX_TEMPFAIL, "out of memory");
	}
	return 0;
}

/* ---------------------------------------------------------------- check_host */

struct ctx {
	struct mp_resolver *res;
	int v6;
	uint8_t ip[16]; /* v4: the first 4 */
	char itext[80], ptext[MP_DNS_NAMEMAX];
	const char *helo, *sender, *local, *sdomain;
	int lookups, voids;
	char reason[200];
};

MP_PRINTF(2, 3)
static void why(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof c->reason, fmt, ap);
	va_end(ap);
}

/* a name the DNS can be asked: labels of 1 to 63 printable octets */
static int name_ok(const char *s)
{
	size_t n = strlen(s), lab = 0;

	if (!n || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (!lab && !(i == n - 1 && i > 0))
				return 0;
			lab = 0;
		} else if (c <= 0x20 || c >= 0x7f || c == '\\' || ++lab > 63) {
			return 0;
		}
	}
	return 1;
}

/* the answers of type at name: their number (NXDOMAIN: 0), or -1 for a
 * temporary failure; q to be freed */
static int ask(struct ctx *c, const char *name, uint16_t type, struct mp_dns_query *q)
{
	int n = 0;

	memset(q, 0, sizeof *q);
	q->name = name;
	q->type = type;
	if (!name_ok(name))
		return 0;
	mp_dns_resolve(c->res, q, 1);
	if (q->status < 0 ||
	    (q->reply.rcode != MP_DNS_NOERROR && q->reply.rcode != MP_DNS_NXDOMAIN)) {
		why(c, "DNS %s %s: %s", mp_dns_type_name(type), name,
		    q->status < 0 ? q->err.msg : mp_dns_rcode_name(q->reply.rcode));
		return -1;
	}
	for (size_t i = 0; i < q->reply.nan; i++)
		n += q->reply.rr[i].type == type;
	return n;
}

static int in_net(const struct ctx *c, const uint8_t *addr, int v6, int bits)
{
	const uint8_t *ip = c->ip;

	if (v6 != c->v6)
		return 0;
	for (int k = 0; bits > 0; k++, bits -= 8) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
		if ((ip[k] & mask) != (addr[k] & mask))
			return 0;
	}
	return 1;
}

/* does an A (AAAA for an IPv6 client) of name match within the prefix?
 * 1, 0, -1 temperror; void: the lookup found nothing */
static int addr_match(struct ctx *c, const char *name, int c4, int c6, int *void_)
{
	struct mp_dns_query q;
	uint16_t t = c->v6 ? MP_DNS_AAAA : MP_DNS_A;
	int n = ask(c, name, t, &q), hit = 0;

	if (n > 0)
		for (size_t i = 0; i < q.reply.nan && !hit; i++)
			hit = q.reply.rr[i].type == t &&
			      in_net(c, q.reply.rr[i].addr, c->v6, c->v6 ? c6 : c4);
	if (void_)
		*void_ = n == 0;
	mp_dns_query_free(&q, 1);
	return n < 0 ? -1 : hit;
}

static int is_sub(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);

	if (n && name[n - 1] == '.')
		n--;
	if (d && dom[d - 1] == '.')
		d--;
	return n >= d && strncasecmp(name + n - d, dom, d) == 0 &&
	       (n == d || name[n - d - 1] == '.');
}

static void reverse_name(const struct ctx *c, char *out, size_t n)
{
	if (!c->v6) {
		snprintf(out, n, "%u.%u.%u.%u.in-addr.arpa", c->ip[3], c->ip[2], c->ip[1],
		         c->ip[0]);
		return;
	}
	size_t o = 0;
	for (int k = 15; k >= 0 && o + 4 < n; k--)
		o += (size_t)snprintf(out + o, n - o, "%x.%x.", c->ip[k] & 15, c->ip[k] >> 4);
	snprintf(out + o, n - o, "ip6.arpa");
}

/* the validated names of the client (RFC 7208 5.5): those of its PTR
 * records (10 at most) whose addresses include it; target: 1 when one of
 * them is target or under it (target NULL: the first validated name into
 * c->ptext). -1 temperror, *void_ the PTR lookup found nothing. */
static int ptr_match(struct ctx *c, const char *target, int *void_)
{
	struct mp_dns_query q;
	char rev[100];
	int n, hit = 0, seen = 0;

	reverse_name(c, rev, sizeof rev);
	n = ask(c, rev, MP_DNS_PTR, &q);
	if (void_)
		*void_ = n == 0;
	for (size_t i = 0; n > 0 && i < q.reply.nan && seen < 10 && !hit; i++) {
		const struct mp_dns_rr *rr = &q.reply.rr[i];
		if (rr->type != MP_DNS_PTR)
			continue;
		seen++;
		if (target && !is_sub(rr->target, target))
			continue;
		/* a failed lookup counts as no match (5.5) */
		if (addr_match(c, rr->target, 32, 128, NULL) > 0) {
			hit = 1;
			if (!target)
				snprintf(c->ptext, sizeof c->ptext, "%s", rr->target);
		}
	}
	mp_dns_query_free(&q, 1);
	return n < 0 ? -1 : hit;
}

static int check_host(struct ctx *c, const char *domain, int depth);

/* a domain-spec expanded for domain, 253 octets at most (7.3) */
static int target(struct ctx *c, const struct mp_spf_term *t, const char *domain, char *out,
                  size_t n)
{
	struct mp_spf_macros m = {.s = c->sender,
	                          .l = c->local,
	                          .o = c->sdomain,
	                          .d = domain,
	                          .i = c->itext,
	                          .h = c->helo,
	                          .v = c->v6 ? "ip6" : "in-addr"};
	struct mp_buf b = MP_BUF_INIT;
	struct mp_err e;
	const char *p;

	if (!t->arg) {
		snprintf(out, n, "%s", domain);
		return 0;
	}
	int pmacro = 0;
	for (size_t k = 0; k + 2 < t->arglen; k++)
		pmacro |= t->arg[k] == '%' && t->arg[k + 1] == '{' && tolower(t->arg[k + 2]) == 'p';
	if (pmacro && !c->ptext[0]) {
		snprintf(c->ptext, sizeof c->ptext, "unknown");
		ptr_match(c, NULL, NULL);
	}
	m.p = c->ptext;
	mp_err_clear(&e);
	if (mp_spf_expand(t->arg, t->arglen, &m, 0, &b, &e) < 0) {
		mp_buf_free(&b);
		why(c, "%s", e.msg);
		return -1;
	}
	p = b.data ? b.data : "";
	while (strlen(p) > 253 && strchr(p, '.'))
		p = strchr(p, '.') + 1;
	snprintf(out, n, "%s", p);
	mp_buf_free(&b);
	return 0;
}

static int count_lookup(struct ctx *c)
{
	if (++c->lookups > MP_SPF_LOOKUPS) {
		why(c, "more than %d DNS-querying terms", MP_SPF_LOOKUPS);
		return -1;
	}
	return 0;
}

static int count_void(struct ctx *c, int v, const char *name)
{
	if (v && ++c->voids > MP_SPF_VOIDS) {
		why(c, "more than %d void lookups (the last: %s)", MP_SPF_VOIDS, name);
		return -1;
	}
	return 0;
}

/* one mechanism: 1 match, 0 not, or an error result (negative:
 * -MP_SPF_TEMPERROR, -MP_SPF_PERMERROR) */
static int mechanism(struct ctx *c, const struct mp_spf_term *t, const char *domain, int depth)
{
	char name[300];
	struct mp_dns_query q;
	int m, v = 0;

	if (t->kind == MP_SPF_ALL)
		return 1;
	if (t->kind == MP_SPF_IP4 || t->kind == MP_SPF_IP6)
		return in_net(c, t->net, t->kind == MP_SPF_IP6,
		              t->kind == MP_SPF_IP6 ? t->cidr6 : t->cidr4);
	if (count_lookup(c) < 0)
		return -MP_SPF_PERMERROR;
	if (target(c, t, domain, name, sizeof name) < 0)
		return -MP_SPF_PERMERROR;
	switch (t->kind) {
	case MP_SPF_INCLUDE:
		m = check_host(c, name, depth + 1);
		if (m == MP_SPF_TEMPERROR)
			return -MP_SPF_TEMPERROR;
		if (m == MP_SPF_PERMERROR || m == MP_SPF_NONE) {
			if (m == MP_SPF_NONE)
				why(c, "include:%s has no SPF record", name);
			return -MP_SPF_PERMERROR;
		}
		return m == MP_SPF_PASS;
	case MP_SPF_A: m = addr_match(c, name, t->cidr4, t->cidr6, &v); break;
	case MP_SPF_EXISTS:
		m = ask(c, name, MP_DNS_A, &q);
		mp_dns_query_free(&q, 1);
		v = m == 0;
		m = m > 0 ? 1 : m;
		break;
	case MP_SPF_PTR: m = ptr_match(c, name, &v); break;
	default: { /* mx */
		int n = ask(c, name, MP_DNS_MX, &q), seen = 0;
		v = n == 0;
		m = n < 0 ? -1 : 0;
		if (n > MP_SPF_LOOKUPS) {
			mp_dns_query_free(&q, 1);
			why(c, "%s has more than %d MX records", name, MP_SPF_LOOKUPS);
			return -MP_SPF_PERMERROR;
		}
		for (size_t i = 0; n > 0 && i < q.reply.nan && m == 0 && seen < n; i++) {
			if (q.reply.rr[i].type != MP_DNS_MX)
				continue;
			seen++;
			m = addr_match(c, q.reply.rr[i].target, t->cidr4, t->cidr6, NULL);
		}
		mp_dns_query_free(&q, 1);
	}
	}
	if (m < 0)
		return -MP_SPF_TEMPERROR;
	if (count_void(c, v, name) < 0)
		return -MP_SPF_PERMERROR;
	return m;
}

/* the SPF record of domain into txt: 1, 0 none, -1 temperror, -2 more
 * than one */
static int spf_record(struct ctx *c, const char *domain, struct mp_buf *txt)
{
	struct mp_err e;
	int n;

	if (!name_ok(domain))
		return 0;
	mp_err_clear(&e);
	n = mp_dns_txt_find(c->res, domain, is_spf1, txt, &e);
	if (n < 0)
		why(c, "%s", e.msg);
	return n > 1 ? -2 : n;
}

static int check_host(struct ctx *c, const char *domain, int depth)
{
	struct mp_buf txt = MP_BUF_INIT;
	struct mp_spf_record *r;
	struct mp_err e;
	int res = MP_SPF_NEUTRAL, found;

	if (depth > MP_SPF_LOOKUPS + 1)
		return MP_SPF_PERMERROR; /* cannot happen: each level counted a lookup */
	found = spf_record(c, domain, &txt);
	if (found == -1) {
		mp_buf_free(&txt);
		return MP_SPF_TEMPERROR;
	}
	if (found == -2) {
		why(c, "%s has more than one SPF record", domain);
		mp_buf_free(&txt);
		return MP_SPF_PERMERROR;
	}
	if (found == 0) {
		why(c, "no SPF record at %s", domain);
		mp_buf_free(&txt);
		return MP_SPF_NONE;
	}
	r = malloc(sizeof *r);
	mp_err_clear(&e);
	if (!r || mp_spf_record_parse(txt.data, txt.len, r, &e) < 0) {
		why(c, "%s: %s", domain, r ? e.msg : "out of memory");
		free(r);
		mp_buf_free(&txt);
		return r ? MP_SPF_PERMERROR : MP_SPF_TEMPERROR;
	}
	size_t i;
	for (i = 0; i < r->n; i++) {
		const struct mp_spf_term *t = &r->t[i];
		if (t->kind >= MP_SPF_REDIRECT)
			continue;
		int m = mechanism(c, t, domain, depth);
		if (m < 0) {
			res = -m;
			break;
		}
		if (m) {
			res = t->result;
			why(c, "%s: %.*s", domain, (int)(t->textlen < 120 ? t->textlen : 120),
			    t->text);
			break;
		}
	}
	if (i == r->n && r->redirect >= 0 && !r->has_all) {
		char name[300];
		const struct mp_spf_term *t = &r->t[r->redirect];
		if (count_lookup(c) < 0 || target(c, t, domain, name, sizeof name) < 0) {
			res = MP_SPF_PERMERROR;
		} else {
			res = check_host(c, name, depth + 1);
			if (res == MP_SPF_NONE) {
				why(c, "redirect=%s has no SPF record", name);
				res = MP_SPF_PERMERROR;
			}
		}
	} else if (i == r->n) {
		why(c, "%s: no mechanism matched", domain);
	}
	free(r);
	mp_buf_free(&txt);
	return res;
}

int mp_spf_check(struct mp_resolver *res, const char *ip, const char *helo, const char *mailfrom,
                 struct mp_spf_verdict *v, struct mp_err *e)
{
	struct ctx c;
	char local[256];
	const char *at = strrchr(mailfrom, '@');

	memset(&c, 0, sizeof c);
	memset(v, 0, sizeof *v);
	c.res = res;
	if (inet_pton(AF_INET, ip, c.ip) == 1) {
		c.v6 = 0;
	} else if (inet_pton(AF_INET6, ip, c.ip) == 1) {
		static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
		c.v6 = memcmp(c.ip, mapped, 12) != 0;
		if (!c.v6) /* ::ffff:a.b.c.d is the IPv4 client it stands for */
			memmove(c.ip, c.ip + 12, 4);
	} else {
		return mp_err_set(e, EX_USAGE, "'%s' is not an IPv4 or IPv6 address", ip);
	}
	if (!c.v6) {
		snprintf(c.itext, sizeof c.itext, "%u.%u.%u.%u", c.ip[0], c.ip[1], c.ip[2],
		         c.ip[3]);
	} else {
		size_t o = 0;
		for (int k = 0; k < 16; k++)
			o += (size_t)snprintf(c.itext + o, sizeof c.itext - o, "%s%x.%x",
			                      k ? "." : "", c.ip[k] >> 4, c.ip[k] & 15);
	}
	c.helo = helo && helo[0] ? helo : "unknown";
	v->helo = !mailfrom[0];
	if (v->helo || !at) /* no local part: postmaster (4.3) */
		snprintf(v->identity, sizeof v->identity, "postmaster@%s",
		         v->helo ? c.helo : mailfrom);
	else
		snprintf(v->identity, sizeof v->identity, "%s", mailfrom);
	at = strrchr(v->identity, '@');
	snprintf(local, sizeof local, "%.*s", (int)(at - v->identity), v->identity);
	snprintf(v->domain, sizeof v->domain, "%s", at + 1);
	c.sender = v->identity;
	c.local = local;
	c.sdomain = v->domain;
	/* a domain that is no multi-label name: none (4.3) */
	if (!name_ok(v->domain) || !strchr(v->domain, '.') ||
	    v->domain[strlen(v->domain) - 1] == '.') {
		v->result = MP_SPF_NONE;
		snprintf(v->reason, sizeof v->reason, "'%.100s' is no domain to check", v->domain);
		return 0;
	}
	v->result = check_host(&c, v->domain, 0);
	v->lookups = c.lookups;
	v->voids = c.voids;
	memcpy(v->reason, c.reason, sizeof v->reason);
	return 0;
}
