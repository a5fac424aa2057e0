/* dns: the DNS message format (RFC 1035, EDNS0 RFC 6891) and a stub
 * resolver: resolv.conf, UDP with random IDs and ports and strict
 * matching of answers, retries across servers, TCP on truncation, and
 * many queries in flight at once. */
#ifndef MP_DNS_H
#define MP_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util.h"

enum {
	MP_DNS_A = 1,
	MP_DNS_NS = 2,
	MP_DNS_CNAME = 5,
	MP_DNS_SOA = 6,
	MP_DNS_PTR = 12,
	MP_DNS_MX = 15,
	MP_DNS_TXT = 16,
	MP_DNS_AAAA = 28,
	MP_DNS_OPT = 41,
	MP_DNS_TLSA = 52,
};

/* header flags as in the second 16-bit word */
#define MP_DNS_QR 0x8000u
#define MP_DNS_AA 0x0400u
#define MP_DNS_TC 0x0200u
#define MP_DNS_RD 0x0100u
#define MP_DNS_RA 0x0080u
#define MP_DNS_AD 0x0020u
#define MP_DNS_CD 0x0010u

enum {
	MP_DNS_NOERROR = 0,
	MP_DNS_FORMERR = 1,
	MP_DNS_SERVFAIL = 2,
	MP_DNS_NXDOMAIN = 3,
	MP_DNS_NOTIMP = 4,
	MP_DNS_REFUSED = 5
};

#define MP_DNS_NAMEMAX 1024 /* presentation form, escapes included */
#define MP_DNS_UDPSIZE 1232 /* EDNS0 buffer size we advertise */

struct mp_dns_rr {
	char name[MP_DNS_NAMEMAX];
	uint16_t type, class;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata; /* into the message's raw copy */
	/* decoded forms of the types we know */
	uint16_t pref;                  /* MX */
	char target[MP_DNS_NAMEMAX];    /* MX exchange, CNAME, PTR, NS */
	uint8_t addr[16];               /* A (4 bytes), AAAA */
	uint8_t usage, selector, mtype; /* TLSA, data in rdata + 3 */
};

struct mp_dns_msg {
	uint16_t id, flags;
	int rcode; /* with the EDNS extended bits */
	char qname[MP_DNS_NAMEMAX];
	uint16_t qtype, qclass;
	struct mp_dns_rr *rr; /* answer, then authority, then additional */
	size_t nan, nns, nar;
	int edns;
	uint16_t udpsize;
	uint8_t *raw;
	size_t rawlen;
};

/* Build a query; returns its length or -1. */
int mp_dns_query_encode(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t type,
                        int edns, size_t *len, struct mp_err *e);
/* Decode a whole message; every length and pointer is checked. e->offset
 * is the byte where a malformed message went wrong. */
int mp_dns_decode(const uint8_t *pkt, size_t len, struct mp_dns_msg *m, struct mp_err *e);
void mp_dns_msg_free(struct mp_dns_msg *m);
/* A host or domain name: LDH labels (and '_'), 1-63 octets each, 255 in all. */
int mp_dns_hostname_ok(const char *name);
/* Compare names in presentation form, ignoring case and a final dot. */
int mp_dns_name_eq(const char *a, const char *b);
/* A TXT record's text: its character-strings joined and NUL-terminated
 * (it may hold NULs); returns the length, or -1 if it does not fit in cap
 * or a string runs past the record. */
int mp_dns_txt(const struct mp_dns_rr *rr, struct mp_buf *out);
const char *mp_dns_type_name(uint16_t type);
const char *mp_dns_rcode_name(int rcode);

#define MP_DNS_MAXNS 4

struct mp_resolver {
	struct sockaddr_storage ns[MP_DNS_MAXNS];
	socklen_t nslen[MP_DNS_MAXNS];
	int nns;
	int timeout_ms; /* first try; doubled per round */
	int attempts;
	int ndots;
	char search[6][256];
	int nsearch;
	int tcp;  /* TCP only */
	int edns; /* send OPT (default on) */
	int max_inflight;
	long spoofed; /* answers ignored: wrong source, ID or question */
};

/* Defaults from a resolv.conf (NULL: /etc/resolv.conf; missing file:
 * 127.0.0.1), timeout 5 s x 2 attempts unless the file says otherwise. */
int mp_resolver_init(struct mp_resolver *r, const char *conf, struct mp_err *e);
/* Use another port on every configured server. */
void mp_resolver_set_port(struct mp_resolver *r, int port);
/* Replace the servers by one ADDR (IPv4 or IPv6, optional [..]:port). */
int mp_resolver_set_server(struct mp_resolver *r, const char *addr, int port, struct mp_err *e);

struct mp_dns_query {
	const char *name;
	uint16_t type;
	/* results */
	int status; /* 0 answered (see reply.rcode), -1 failed (err) */
	struct mp_err err;
	struct mp_dns_msg reply;
	int via_tcp;   /* the answer came over TCP */
	int truncated; /* a UDP answer was truncated */
	double ms;     /* time to the answer */
};

/* Run n queries at once (at most max_inflight in flight); each ends with
 * an answer or an error (time-out: EX_TEMPFAIL). Returns 0. */
int mp_dns_resolve(struct mp_resolver *r, struct mp_dns_query *q, size_t n);
void mp_dns_query_free(struct mp_dns_query *q, size_t n);
/* The TXT records at name that want() accepts (their text, its length):
 * how many there are (NXDOMAIN, none: 0), the first of them in out; -1
 * when the lookup failed (time-out, SERVFAIL...: e says). */
int mp_dns_txt_find(struct mp_resolver *r, const char *name, int (*want)(const char *, size_t),
                    struct mp_buf *out, struct mp_err *e);

#endif
