/* net: TCP connections with a time-out, over every address of a host. */
#ifndef MP_NET_H
#define MP_NET_H

#include <stddef.h>
#include <sys/socket.h>

#include "util.h"

/* Connect to one address; returns a connected, blocking fd or -1
 * (EX_TEMPFAIL: refused, unreachable, timed out). */
int mp_net_connect_addr(const struct sockaddr *sa, socklen_t sl, int timeout_ms, struct mp_err *e);
/* Resolve host (getaddrinfo) and try every address in turn (family 0,
 * AF_INET or AF_INET6); peer gets "addr port" of the one that answered. */
int mp_net_connect(const char *host, int port, int family, int timeout_ms, char *peer,
                   size_t peersz, struct mp_err *e);
/* Split "host", "host:port", "[v6]:port" (port 0 when absent). */
int mp_net_split(const char *s, char *host, size_t hostsz, int *port, struct mp_err *e);
/* Seconds-resolution clock in milliseconds, for timings. */
double mp_net_now_ms(void);

#endif
