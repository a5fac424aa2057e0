/* dkimkey: mmx --policy --dkim-selector S: the DKIM key record at
 * S._domainkey.DOMAIN (RFC 6376 3.6.1) as common/dkim.c reads it (the
 * key decoded for its size as common/dkimverify.c does): its algorithm,
 * key size, flags, and what is wrong with it. */
#ifndef MMX_DKIMKEY_H
#define MMX_DKIMKEY_H

#include <stdio.h>

#include "dns.h"

/* The records of domain for each of the n selectors: text on out, or
 * (json) one JSON line each. Returns the number of problems found. */
int mmx_dkim(struct mp_resolver *r, const char *domain, char *const *selectors, size_t n, FILE *out,
             int json);

#endif
