/* tlspolicy: which TLS a direct delivery owes each MX host: DANE from
 * DNSSEC-authenticated TLSA records (RFC 7672), else the recipient
 * domain's MTA-STS policy (RFC 8461, fetched over verified HTTPS and
 * cached for its max_age), else --tls-required, else opportunistic. */
#ifndef MSEND_TLSPOLICY_H
#define MSEND_TLSPOLICY_H

#include "dns.h"
#include "msend.h"
#include "mx.h"
#include "sts.h"
#include "tls.h"

/* a recipient domain's MTA-STS policy */
struct domain_policy {
	int have; /* a policy in mode testing or enforce applies */
	struct mp_sts_policy sts;
	char how[200]; /* where it came from, for -v */
};

enum host_kind {
	HP_OPPORTUNISTIC, /* STARTTLS when offered, nothing verified */
	HP_REQUIRED,      /* --tls-required: STARTTLS and a PKIX-valid certificate */
	HP_DANE,          /* TLSA records: STARTTLS, a certificate they match */
	HP_DANE_NOAUTH,   /* TLSA records, none usable: STARTTLS, unauthenticated */
	HP_STS_ENFORCE,   /* MTA-STS enforce: STARTTLS, a PKIX-valid certificate */
	HP_STS_TESTING,   /* MTA-STS testing: as opportunistic, with warnings */
};

#define HP_MAXTLSA 16

/* what one MX host gets */
struct host_policy {
	enum host_kind kind;
	int skip;      /* do not use this host: why says why (a temporary failure) */
	char why[300]; /* skip reason, or a note for -v */
	struct mp_tlsa tlsa[HP_MAXTLSA];
	size_t ntlsa;
	struct mp_dns_query q; /* holds the TLSA data */
	int sts_mismatch;      /* testing mode: the host is not in the policy */
};

/* The MTA-STS policy of domain (A-label): the cached one while its id
 * stands and it has not expired, else fetched (and cached). Without a
 * usable policy dp->have is 0; never fails the delivery. */
void domain_policy(struct mp_resolver *r, const struct settings *s, const char *domain,
                   struct domain_policy *dp);
/* The policy of MX host h (port: the MX port, for the TLSA name). */
void host_policy(struct mp_resolver *r, const struct settings *s, const struct domain_policy *dp,
                 const char *domain, const struct mp_mx_host *h, int port, struct host_policy *hp);
void host_policy_free(struct host_policy *hp);
const char *host_policy_name(const struct host_policy *hp);
/* TLS options and whether STARTTLS is mandatory, for session() */
void host_policy_tls(const struct host_policy *hp, struct mp_tls_opts *to, int *mandatory);
/* After the session: -v says what was verified; MTA-STS testing warns. */
void host_policy_report(const struct host_policy *hp, const char *host, const char *domain,
                        struct mp_tls *t, int tls_on, int verbose);

#endif
