/* mx: where mail for a domain goes (RFC 5321 §5.1): MX hosts by
 * preference with equal ones shuffled, implicit MX, null MX (RFC 7505),
 * CNAME chains, IDN domains (IDNA2008 via libidn2), and the addresses of
 * every host looked up at once. */
#ifndef MP_MX_H
#define MP_MX_H

#include <stdint.h>

#include "dns.h"

#define MP_MX_V4     0x1u /* look up A */
#define MP_MX_V6     0x2u /* look up AAAA */
#define MP_MX_NOSHUF 0x4u /* keep equal preferences in answer order */

enum mp_mx_status {
	MP_MX_OK,       /* hosts to try */
	MP_MX_NULL,     /* "MX 0 ." : the domain takes no mail */
	MP_MX_NXDOMAIN, /* no such domain */
	MP_MX_NOMAIL,   /* no MX and no address */
	MP_MX_SERVFAIL, /* the server failed: try later */
	MP_MX_TIMEOUT,  /* no answer: try later */
	MP_MX_BADNAME,  /* not a valid (IDN) domain name */
};

struct mp_mx_addr {
	int family; /* AF_INET, AF_INET6 */
	uint8_t addr[16];
	uint32_t ttl;
};

struct mp_mx_host {
	uint16_t pref;
	char name[MP_DNS_NAMEMAX];  /* A-label form, as in DNS */
	char uname[MP_DNS_NAMEMAX]; /* U-label form for display ("" if the same) */
	uint32_t ttl;
	struct mp_mx_addr *addrs;
	size_t naddrs;
	int cname;      /* the host name is an alias (RFC 5321 says it must not be) */
	int status;     /* host lookup: 0, or an enum mp_mx_status */
	int ad;         /* address answers had AD set */
	int have_addrs; /* MP_MX_V4, MP_MX_V6: the types that came with the MX answer */
	char err[256];  /* why it has no address */
};

struct mp_mx {
	char domain[MP_DNS_NAMEMAX];  /* A-label form */
	char udomain[MP_DNS_NAMEMAX]; /* U-label form, "" if the same */
	char canon[MP_DNS_NAMEMAX];   /* where a CNAME chain ended, "" if none */
	enum mp_mx_status status;
	int implicit;  /* no MX: the domain's own address (RFC 5321 §5.1) */
	int ad;        /* the MX answer was authenticated (AD) */
	int tcp;       /* an answer came over TCP */
	int truncated; /* a UDP answer was truncated (and TCP asked again) */
	int rcode;
	char err[256];
	char problem[160]; /* a flaw of the zone that did not stop the lookup, "" if none */
	struct mp_mx_host *hosts;
	size_t nhosts;
};

/* IDN: any form in, A-label out (and the U-label when it differs). */
int mp_mx_idn(const char *in, char *alabel, size_t an, char *ulabel, size_t un, struct mp_err *e);
/* Look up n domains at once. */
int mp_mx_lookup(struct mp_resolver *r, const char *const *domains, size_t n, unsigned flags,
                 struct mp_mx *out);
void mp_mx_free(struct mp_mx *m, size_t n);
const char *mp_mx_status_text(enum mp_mx_status s);

#endif
