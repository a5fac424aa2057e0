/* probe: talk to each MX address as a sender would, up to STARTTLS and
 * the certificate, then QUIT; never sends mail. */
#ifndef MMX_PROBE_H
#define MMX_PROBE_H

#include <stdio.h>

#include "dns.h"
#include "mx.h"

struct probe_opts {
	int port;            /* SMTP port (25) */
	const char *ca_file; /* NULL: system store */
	const char *helo;    /* EHLO name */
	int tlsa;            /* also look up and check _PORT._tcp.HOST TLSA */
	int timeout_ms;
	int trace; /* C:/S: lines on stderr */
};

/* Probe every address of every host of m, said as text on out or (json)
 * as a JSON line for each address; returns how many accepted a connection. */
int mmx_probe(struct mp_resolver *r, const struct mp_mx *m, const struct probe_opts *o, FILE *out,
              int json);

#endif
