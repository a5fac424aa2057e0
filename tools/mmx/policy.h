/* policy: a domain's mail policy records side by side: MTA-STS (the TXT
 * record and the policy fetched over verified HTTPS, RFC 8461), TLS-RPT
 * (RFC 8460), SPF and DMARC; and what looks wrong about its MX set. */
#ifndef MMX_POLICY_H
#define MMX_POLICY_H

#include <stdio.h>

#include "dns.h"
#include "mx.h"

struct policy_opts {
	const char *ca_file;  /* NULL: system store */
	const char *sts_addr; /* connect here instead of mta-sts.DOMAIN:443 (tests) */
	int timeout_ms;
	int family;
};

/* Print the records and problems as text on out, or (json) as one JSON
 * line; returns the number of problems found. */
int mmx_policy(struct mp_resolver *r, const struct mp_mx *m, const struct policy_opts *o, FILE *out,
               int json);

#endif
