/* mparse --verify: the DKIM signatures of a message (common/dkim.c), the
 * keys from the DNS (common/dns.c). */
#ifndef MPARSE_VERIFY_H
#define MPARSE_VERIFY_H

#include "json.h"
#include "store.h"

/* the DNS server to ask (ADDR, [v6]:port or v4:port), before the first */
void verify_dns_server(const char *addr);
/* one message from src: a line per signature on stdout, or (j not NULL)
 * a JSON object; 0, or -1 (read error, said on stderr) */
int verify_message(const char *name, const struct mp_msgsrc *src, struct mp_json *j);

#endif
