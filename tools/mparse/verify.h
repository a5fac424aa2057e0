/* mparse --verify: the DKIM signatures of a message (common/dkimverify.c), the
 * keys from the DNS (common/dns.c), SPF (common/spf.c) and DMARC
 * (common/dmarc.c). */
#ifndef MPARSE_VERIFY_H
#define MPARSE_VERIFY_H

#include "json.h"
#include "store.h"

struct verify_opts {
	const char *server;      /* --dns-server: ADDR, [v6]:port or v4:port */
	const char *spf_ip;      /* --spf-ip: SPF is checked when set */
	const char *helo;        /* --helo */
	const char *mail_from;   /* --mail-from ("": the null sender) */
	const char *authserv_id; /* --authserv-id (default: the host name) */
	int add_results;         /* --add-results: the message with the field on top */
};
extern struct verify_opts verify_opts;
/* one message from src: a line like an Authentication-Results field
 * on stdout, or (j not NULL) a JSON object, or (--add-results) the
 * message with the field on top; 0, or -1 (read error, said on stderr) */
int verify_message(const char *name, const struct mp_msgsrc *src, struct mp_json *j);

#endif
