/* dmarc: Domain-based Message Authentication, Reporting and Conformance
 * (RFC 7489): the policy record parser, the organizational domain by the
 * Public Suffix List, identifier alignment (relaxed, strict) of DKIM d=
 * and the SPF domain with the From: domain, and the verdict. Reports
 * (rua=, ruf=) are parsed, never sent. */
#ifndef MP_DMARC_H
#define MP_DMARC_H

#include <stddef.h>

#include "dns.h"
#include "util.h"

#define MP_PSL_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

enum mp_dmarc_policy { MP_DMARC_P_NONE = 0, MP_DMARC_P_QUARANTINE, MP_DMARC_P_REJECT };
const char *mp_dmarc_policy_name(int p);

/* results, by their RFC 8601 names (mp_dmarc_result_name) */
enum mp_dmarc_result {
	MP_DMARC_NONE = 0,
	MP_DMARC_PASS,
	MP_DMARC_FAIL,
	MP_DMARC_TEMPERROR,
	MP_DMARC_PERMERROR
};
const char *mp_dmarc_result_name(int result);

struct mp_dmarc_record {
	int p, sp;       /* enum mp_dmarc_policy; sp -1 when absent */
	int adkim, aspf; /* 1 strict, 0 relaxed */
	int pct;         /* 0-100 */
	int rua;         /* a rua= with a URI was there */
	int p_from_rua;  /* p= was missing or bad: p=none because of rua= (6.6.3) */
};
/* Parse the TXT record at _dmarc.DOMAIN (RFC 7489 6.3, 6.4): 0, or -1
 * with EX_DATAERR and e->offset (1-based). Unknown tags are ignored; a
 * bad or missing p= is p=none when rua= is there, else the record is
 * refused, as section 6.6.3 says. */
int mp_dmarc_record_parse(const char *txt, size_t n, struct mp_dmarc_record *r, struct mp_err *e);

/* The Public Suffix List at path (NULL: $MAILPIPE_PSL, else
 * MP_PSL_PATH), read once: 0, or -1 (EX_NOINPUT, e names the file). */
int mp_psl_load(const char *path, struct mp_err *e);
/* The organizational domain of domain (its public suffix and one label
 * more; a public suffix is its own) into out: 1, or 0 when no list is
 * loaded: then out is domain itself, which makes relaxed alignment as
 * strict as strict, never looser. */
int mp_dmarc_org_domain(const char *domain, char *out, size_t n);
/* Are a and b aligned (strict: equal; relaxed: the same organizational
 * domain)? */
int mp_dmarc_aligned(const char *a, const char *b, int strict);

struct mp_dmarc_verdict {
	int result;          /* enum mp_dmarc_result */
	char from[256];      /* header.from */
	char org[256];       /* its organizational domain */
	char record_at[300]; /* where the record was found */
	struct mp_dmarc_record rec;
	int policy; /* the one that applies: p=, or sp= for a subdomain */
	int dkim_aligned, spf_aligned;
	char reason[200];
};

/* The DMARC check of a message From: from_domain: dkim_d the d= of its
 * DKIM signatures that passed (nd of them), spf_domain the SPF domain
 * when SPF passed (NULL otherwise). Record lookups through res. */
void mp_dmarc_check(struct mp_resolver *res, const char *from_domain, const char *const *dkim_d,
                    size_t nd, const char *spf_domain, struct mp_dmarc_verdict *v);

#endif
