/* dns wire codec: names (to and from the wire, compression pointers
 * bounded), the query encoder and the message decoder (RFC 1035, EDNS0
 * OPT, the record types the tools read); declared in dns.h. The stub
 * resolver that sends and receives them is dns.c. */
#include "dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- names */

/* presentation -> wire; returns the wire length or -1 */
static int name_to_wire(const char *name, uint8_t *out, size_t cap)
{
	size_t o = 0, lenpos;
	const char *p = name;

	if (strcmp(name, ".") == 0 || !*name) {
		if (cap < 1)
			return -1;
		out[0] = 0;
		return 1;
	}
	while (*p) {
		size_t l = 0;
		if (o >= cap)
			return -1;
		lenpos = o++;
		while (*p && *p != '.') {
			int c = (unsigned char)*p++;
			if (c == '\\' && *p) {
				if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
				    isdigit((unsigned char)p[2])) {
					c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
					if (c > 255)
						return -1;
					p += 3;
				} else {
					c = (unsigned char)*p++;
				}
			}
			if (o >= cap || ++l > 63)
				return -1;
			out[o++] = (uint8_t)c;
		}
		if (l == 0)
			return -1; /* empty label ("a..b") */
		out[lenpos] = (uint8_t)l;
		if (*p == '.')
			p++;
	}
	if (o >= cap || o + 1 > 255)
		return -1;
	out[o++] = 0;
	return (int)o;
}

/* wire (at off, with compression) -> presentation. Pointers may only
 * point backwards, which rules out loops; the name may not exceed 255
 * octets. Returns the offset after the name where it is stored (not
 * where a pointer led), or -1. */
static long name_from_wire(const uint8_t *pkt, size_t len, size_t off, char *out, size_t cap)
{
	size_t o = 0, wire = 0, pos = off, end = 0, limit = off;
	int jumped = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -1;
			size_t ptr = (size_t)(l & 0x3f) << 8 | pkt[pos + 1];
			if (!jumped)
				end = pos + 2;
			if (ptr >= limit)
				return -1; /* forward, or a loop */
			limit = ptr;
			pos = ptr;
			jumped = 1;
			continue;
		}
		if (l & 0xc0)
			return -1; /* 0x40 / 0x80: reserved label types */
		if (l == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (pos + 1 + l > len || (wire += (size_t)l + 1) > 254)
			return -1;
		for (size_t k = 0; k < l; k++) {
			uint8_t c = pkt[pos + 1 + k];
			if (o + 5 >= cap)
				return -1;
			if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else if (c <= ' ' || c >= 127) {
				o += (size_t)snprintf(out + o, cap - o, "\\%03u", c);
			} else {
				out[o++] = (char)c;
			}
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = '.';
		pos += 1 + l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return (long)end;
}

int mp_dns_hostname_ok(const char *name)
{
	uint8_t wire[256];
	size_t n = strlen(name);

	if (n == 0 || strcmp(name, ".") == 0 || name_to_wire(name, wire, sizeof wire) < 0)
		return 0;
	/* letters, digits, hyphens (and '_' for service labels); no escapes */
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return 1;
}

int mp_dns_name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* a TXT record's character-strings, joined: any length up to the 65,535
 * octets of its data */
int mp_dns_txt(const struct mp_dns_rr *rr, struct mp_buf *out)
{
	mp_buf_reset(out);
	if (rr->type != MP_DNS_TXT)
		return -1;
	for (size_t k = 0; k < rr->rdlen; k += 1u + rr->rdata[k]) {
		size_t l = rr->rdata[k];
		if (k + 1 + l > rr->rdlen || mp_buf_append(out, rr->rdata + k + 1, l) < 0)
			return -1;
	}
	if (mp_buf_putc(out, '\0') < 0)
		return -1;
	out->len--;
	return (int)out->len;
}

/* ---------------------------------------------------------------- messages */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int mp_dns_query_encode(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t type,
                        int edns, size_t *len, struct mp_err *e)
{
	int n;

	if (cap < 12 + 4 + 11)
		return mp_err_set(e, EX_SOFTWARE, "query buffer too small");
	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01; /* RD */
	buf[3] = 0x20; /* AD: tell us whether the answer was validated (RFC 6840 5.7) */
	buf[5] = 1;    /* QDCOUNT */
	if (edns)
		buf[11] = 1; /* ARCOUNT: OPT */
	n = name_to_wire(name, buf + 12, cap - 12 - 4 - 11);
	if (n < 0)
		return mp_err_set(e, EX_DATAERR, "invalid domain name '%s'", name);
	size_t o = 12 + (size_t)n;
	buf[o++] = (uint8_t)(type >> 8);
	buf[o++] = (uint8_t)type;
	buf[o++] = 0;
	buf[o++] = 1; /* IN */
	if (edns) {
		/* root name, OPT, UDP size, ext-rcode 0, version 0, DO clear, no options */
		static const uint8_t opt[] = {
		    0, 0, 41, MP_DNS_UDPSIZE >> 8, MP_DNS_UDPSIZE & 0xff, 0, 0, 0, 0, 0, 0};
		memcpy(buf + o, opt, sizeof opt);
		o += sizeof opt;
	}
	*len = o;
	return 0;
}

static int bad(struct mp_err *e, size_t off, const char *what)
{
	mp_err_set(e, EX_DATAERR, "malformed DNS message at byte %zu: %s", off + 1, what);
	if (e)
		e->offset = (long long)off + 1;
	return -1;
}

static int decode_rdata(const uint8_t *pkt, size_t len, size_t off, struct mp_dns_rr *rr,
                        struct mp_err *e)
{
	size_t end = off + rr->rdlen;
	long n;

	switch (rr->type) {
	case MP_DNS_A:
		if (rr->rdlen != 4)
			return bad(e, off, "A record is not 4 bytes");
		memcpy(rr->addr, pkt + off, 4);
		break;
	case MP_DNS_AAAA:
		if (rr->rdlen != 16)
			return bad(e, off, "AAAA record is not 16 bytes");
		memcpy(rr->addr, pkt + off, 16);
		break;
	case MP_DNS_MX:
		if (rr->rdlen < 3)
			return bad(e, off, "MX record too short");
		rr->pref = get16(pkt + off);
		n = name_from_wire(pkt, len, off + 2, rr->target, sizeof rr->target);
		if (n < 0 || (size_t)n != end)
			return bad(e, off, "bad MX exchange name");
		break;
	case MP_DNS_CNAME:
	case MP_DNS_PTR:
	case MP_DNS_NS:
		n = name_from_wire(pkt, len, off, rr->target, sizeof rr->target);
		if (n < 0 || (size_t)n != end)
			return bad(e, off, "bad name in record data");
		break;
	case MP_DNS_TXT:
		for (size_t k = off; k < end; k += 1 + pkt[k])
			if (k + 1 + pkt[k] > end)
				return bad(e, k, "TXT string overruns its record");
		break;
	case MP_DNS_TLSA:
		if (rr->rdlen < 3)
			return bad(e, off, "TLSA record too short");
		rr->usage = pkt[off];
		rr->selector = pkt[off + 1];
		rr->mtype = pkt[off + 2];
		break;
	default: break;
	}
	return 0;
}

int mp_dns_decode(const uint8_t *pkt, size_t len, struct mp_dns_msg *m, struct mp_err *e)
{
	size_t off = 12, total, cap = 0;
	uint16_t qd, an, ns, ar;
	long n;

	memset(m, 0, sizeof *m);
	if (len < 12)
		return bad(e, len, "shorter than a header");
	m->id = get16(pkt);
	m->flags = get16(pkt + 2);
	m->rcode = m->flags & 0xf;
	qd = get16(pkt + 4);
	an = get16(pkt + 6);
	ns = get16(pkt + 8);
	ar = get16(pkt + 10);
	if (qd > 1)
		return bad(e, 4, "more than one question");
	m->raw = malloc(len);
	if (!m->raw)
		return mp_err_sys(e, EX_TEMPFAIL, "DNS message");
	memcpy(m->raw, pkt, len);
	m->rawlen = len;
	pkt = m->raw;
	if (qd) {
		n = name_from_wire(pkt, len, off, m->qname, sizeof m->qname);
		if (n < 0 || (size_t)n + 4 > len)
			goto badq;
		off = (size_t)n;
		m->qtype = get16(pkt + off);
		m->qclass = get16(pkt + off + 2);
		off += 4;
	}
	total = (size_t)an + ns + ar;
	for (size_t i = 0; i < total; i++) {
		struct mp_dns_rr rr;
		memset(&rr, 0, sizeof rr);
		n = name_from_wire(pkt, len, off, rr.name, sizeof rr.name);
		if (n < 0) {
			bad(e, off, "bad owner name");
			goto fail;
		}
		off = (size_t)n;
		if (off + 10 > len) {
			bad(e, off, "record header cut short");
			goto fail;
		}
		rr.type = get16(pkt + off);
		rr.class = get16(pkt + off + 2);
		rr.ttl = get32(pkt + off + 4);
		rr.rdlen = get16(pkt + off + 8);
		off += 10;
		if (off + rr.rdlen > len) {
			bad(e, off, "record data runs past the end");
			goto fail;
		}
		rr.rdata = pkt + off;
		if (decode_rdata(pkt, len, off, &rr, e) < 0)
			goto fail;
		off += rr.rdlen;
		if (rr.type == MP_DNS_OPT && i >= (size_t)an + ns) {
			m->edns = 1;
			m->udpsize = rr.class;
			m->rcode |= (int)(rr.ttl >> 24) << 4;
			continue; /* not kept as a record */
		}
		if (m->nan + m->nns + m->nar >= cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct mp_dns_rr *p = realloc(m->rr, nc * sizeof *p);
			if (!p) {
				mp_err_sys(e, EX_TEMPFAIL, "DNS message");
				goto fail;
			}
			m->rr = p;
			cap = nc;
		}
		m->rr[m->nan + m->nns + m->nar] = rr;
		if (i < an)
			m->nan++;
		else if (i < (size_t)an + ns)
			m->nns++;
		else
			m->nar++;
	}
	return 0;
badq:
	bad(e, off, "bad question");
fail:
	mp_dns_msg_free(m);
	return -1;
}

void mp_dns_msg_free(struct mp_dns_msg *m)
{
	free(m->rr);
	free(m->raw);
	m->rr = NULL;
	m->raw = NULL;
	m->nan = m->nns = m->nar = 0;
}

const char *mp_dns_type_name(uint16_t t)
{
	switch (t) {
	case MP_DNS_A: return "A";
	case MP_DNS_NS: return "NS";
	case MP_DNS_CNAME: return "CNAME";
	case MP_DNS_SOA: return "SOA";
	case MP_DNS_PTR: return "PTR";
	case MP_DNS_MX: return "MX";
	case MP_DNS_TXT: return "TXT";
	case MP_DNS_AAAA: return "AAAA";
	case MP_DNS_TLSA: return "TLSA";
	default: return "?";
	}
}

const char *mp_dns_rcode_name(int rcode)
{
	static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
	                                    "NXDOMAIN", "NOTIMP",  "REFUSED"};

	return rcode >= 0 && rcode < 6 ? names[rcode] : "RCODE?";
}
