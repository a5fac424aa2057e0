/* spf: Sender Policy Framework (RFC 7208): the record parser and
 * check_host() with every mechanism (all, include, a, mx, ptr, ip4, ip6,
 * exists), redirect=, the macros of section 7 (exp= is parsed, not
 * used), the 10 DNS-querying terms limit and the 2 void lookups limit.
 * DNS through dns.c's resolver. */
#ifndef MP_SPF_H
#define MP_SPF_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "util.h"

#define MP_SPF_TERMS   128 /* terms of one record */
#define MP_SPF_LOOKUPS 10  /* DNS-querying terms (RFC 7208 4.6.4) */
#define MP_SPF_VOIDS   2   /* void lookups */

/* results, by their RFC 8601 names (mp_spf_result_name) */
enum mp_spf_result {
	MP_SPF_NONE = 0,
	MP_SPF_NEUTRAL,
	MP_SPF_PASS,
	MP_SPF_FAIL,
	MP_SPF_SOFTFAIL,
	MP_SPF_TEMPERROR,
	MP_SPF_PERMERROR
};
const char *mp_spf_result_name(int result);

enum mp_spf_kind {
	MP_SPF_ALL = 1,
	MP_SPF_INCLUDE,
	MP_SPF_A,
	MP_SPF_MX,
	MP_SPF_PTR,
	MP_SPF_IP4,
	MP_SPF_IP6,
	MP_SPF_EXISTS,
	MP_SPF_REDIRECT,
	MP_SPF_EXP,
	MP_SPF_UNKNOWN_MOD
};

struct mp_spf_term {
	int kind;        /* enum mp_spf_kind */
	int result;      /* a mechanism's qualifier as its result (pass...) */
	const char *arg; /* the domain-spec or network, into the record; NULL none */
	size_t arglen;
	int cidr4, cidr6; /* prefix lengths: 32 and 128 when not given */
	uint8_t net[16];  /* ip4 (4 octets), ip6 */
	const char *text; /* the whole term, into the record */
	size_t textlen;
};

struct mp_spf_record {
	struct mp_spf_term t[MP_SPF_TERMS];
	size_t n;
	int redirect, exp; /* index of the modifier, or -1 */
	int has_all;
};

/* Parse a TXT record that starts "v=spf1" (RFC 7208 4.6, section 12's
 * ABNF, macro strings included): 0, or -1 with EX_DATAERR and e->offset
 * (1-based) at the fault. The terms point into txt. */
int mp_spf_record_parse(const char *txt, size_t n, struct mp_spf_record *r, struct mp_err *e);

/* Expand a macro-string (RFC 7208 7) with the values given: 0, or -1
 * (EX_DATAERR: bad syntax). exp: the letters c, r, t are allowed. */
struct mp_spf_macros {
	const char *s, *l, *o, *d, *i, *p, *h, *v;
};
int mp_spf_expand(const char *ms, size_t n, const struct mp_spf_macros *m, int exp,
                  struct mp_buf *out, struct mp_err *e);

struct mp_spf_verdict {
	int result;         /* enum mp_spf_result */
	char domain[256];   /* the domain checked (MAIL FROM's, or HELO's) */
	char identity[512]; /* smtp.mailfrom (or postmaster@HELO) */
	int helo;           /* the HELO identity was used: MAIL FROM was empty */
	int lookups, voids; /* counted */
	char reason[200];
};

/* check_host() for the client at ip (IPv4 or IPv6 text), HELO helo
 * (NULL: unknown), MAIL FROM mailfrom ("" the null sender: postmaster@
 * the HELO name). 0, or -1 with EX_USAGE for an ip that is no address. */
int mp_spf_check(struct mp_resolver *res, const char *ip, const char *helo, const char *mailfrom,
                 struct mp_spf_verdict *v, struct mp_err *e);

#endif
