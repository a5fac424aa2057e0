#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double mp_net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *sa_text(const struct sockaddr *sa, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v = (const void *)sa;
		inet_ntop(AF_INET, &v->sin_addr, h, sizeof h);
		port = ntohs(v->sin_port);
		snprintf(buf, n, "%s port %d", h, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v = (const void *)sa;
		inet_ntop(AF_INET6, &v->sin6_addr, h, sizeof h);
		port = ntohs(v->sin6_port);
		snprintf(buf, n, "[%s] port %d", h, port);
	} else {
		snprintf(buf, n, "?");
	}
	return buf;
}

int mp_net_connect_addr(const struct sockaddr *sa, socklen_t sl, int timeout_ms, struct mp_err *e)
{
	char as[96];
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p;
	int err = 0;
	socklen_t el = sizeof err;

	sa_text(sa, as, sizeof as);
	if (fd < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "socket");
	/* commands and their replies take turns: a short write (SMTP's final
	 * ".") must not wait for the ACK of the one before it (Nagle and the
	 * peer's delayed ACK cost 40 ms a message) */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, sa, sl) < 0 && errno != EINPROGRESS) {
		mp_err_sys(e, EX_TEMPFAIL, "connect to %s", as);
		close(fd);
		return -1;
	}
	p.fd = fd;
	p.events = POLLOUT;
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		mp_err_set(e, EX_TEMPFAIL, "connect to %s: timed out after %d ms", as, timeout_ms);
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		errno = err ? err : errno;
		mp_err_sys(e, EX_TEMPFAIL, "connect to %s", as);
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int mp_net_connect(const char *host, int port, int family, int timeout_ms, char *peer,
                   size_t peersz, struct mp_err *e)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char ps[16];
	int fd = -1, rc;

	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(ps, sizeof ps, "%d", port);
	rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0)
		return mp_err_set(e, rc == EAI_NONAME ? EX_NOHOST : EX_TEMPFAIL, "%s: %s", host,
		                  gai_strerror(rc));
	for (ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = mp_net_connect_addr(ai->ai_addr, ai->ai_addrlen, timeout_ms, e);
		if (fd >= 0 && peer)
			sa_text(ai->ai_addr, peer, peersz);
	}
	freeaddrinfo(res);
	return fd;
}

int mp_net_split(const char *s, char *host, size_t hostsz, int *port, struct mp_err *e)
{
	const char *colon = strrchr(s, ':');
	size_t n;

	*port = 0;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb)
			return mp_err_set(e, EX_USAGE, "'%s': missing ']'", s);
		n = (size_t)(rb - s - 1);
		if (rb[1] == ':')
			*port = atoi(rb + 2);
		s++;
	} else if (colon && strchr(s, ':') == colon) {
		n = (size_t)(colon - s);
		*port = atoi(colon + 1);
	} else {
		n = strlen(s);
	}
	if (n == 0 || n >= hostsz || *port < 0 || *port > 65535)
		return mp_err_set(e, EX_USAGE, "'%s': not HOST or HOST:PORT", s);
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}
