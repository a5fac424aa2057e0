#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "io.h"
#include "tap.h"

static int dec(const void *p, size_t n, struct mp_dns_msg *m, struct mp_err *e)
{
	mp_err_clear(e);
	return mp_dns_decode(p, n, m, e);
}

int main(void)
{
	uint8_t q[600];
	size_t qlen;
	struct mp_dns_msg m;
	struct mp_err e;

	mp_err_clear(&e);
	tap_is_int(
	    mp_dns_query_encode(q, sizeof q, 0x1234, "example.test", MP_DNS_MX, 1, &qlen, &e), 0,
	    "encode a query");
	tap_is_int(qlen, 12 + 14 + 4 + 11, "header, name, type/class, OPT");
	tap_is_int(dec(q, qlen, &m, &e), 0, "our query decodes");
	tap_ok(strcmp(m.qname, "example.test.") == 0, "question name");
	tap_is_int(m.qtype, MP_DNS_MX, "question type");
	tap_ok(m.edns && m.udpsize == MP_DNS_UDPSIZE, "EDNS0 with 1232");
	tap_is_int(m.id, 0x1234, "ID");
	mp_dns_msg_free(&m);
	tap_is_int(mp_dns_query_encode(q, sizeof q, 1, "a..b", MP_DNS_A, 0, &qlen, &e), -1,
	           "empty label refused");
	char label[80];
	memset(label, 'x', 64);
	label[64] = '\0';
	tap_is_int(mp_dns_query_encode(q, sizeof q, 1, label, MP_DNS_A, 0, &qlen, &e), -1,
	           "64-octet label refused");
	char longname[400] = "";
	for (int i = 0; i < 130; i++)
		strcat(longname, "a.");
	tap_is_int(mp_dns_query_encode(q, sizeof q, 1, longname, MP_DNS_A, 0, &qlen, &e), -1,
	           "name over 255 octets refused");
	tap_is_int(mp_dns_query_encode(q, sizeof q, 1, "a\\.b.test", MP_DNS_A, 0, &qlen, &e), 0,
	           "escaped dot in a label");
	tap_is_int(dec(q, qlen, &m, &e), 0, "and back");
	tap_ok(strcmp(m.qname, "a\\.b.test.") == 0, "escape kept: %s", m.qname);
	mp_dns_msg_free(&m);

	/* an answer with compression: 2 MX, additional OPT */
	static const uint8_t mx[] = {
	    0x12, 0x34, 0x81, 0xa0, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 7,    'e',
	    'x',  'a',  'm',  'p',  'l',  'e',  4,    't',  'e',  's',  't',  0,    0x00, 0x0f,
	    0x00, 0x01, 0xc0, 0x0c, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x08,
	    0x00, 0x0a, 3,    'm',  'x',  '1',  0xc0, 0x0c, 0xc0, 0x0c, 0x00, 0x0f, 0x00, 0x01,
	    0x00, 0x00, 0x01, 0x2c, 0x00, 0x08, 0x00, 0x14, 3,    'm',  'x',  '2',  0xc0, 0x0c,
	    0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	tap_is_int(dec(mx, sizeof mx, &m, &e), 0, "MX answer decodes");
	tap_is_int((long long)m.nan, 2, "2 answers");
	tap_ok(m.rr[0].pref == 10 && strcmp(m.rr[0].target, "mx1.example.test.") == 0,
	       "10 mx1.example.test via a pointer");
	tap_ok(m.rr[1].ttl == 300 && m.rr[1].pref == 20, "TTL and preference");
	tap_ok(m.flags & MP_DNS_AD, "AD flag kept");
	tap_ok(m.edns && m.nar == 0, "OPT taken as EDNS, not as a record");
	mp_dns_msg_free(&m);

	uint8_t bad[sizeof mx];
	memcpy(bad, mx, sizeof mx);
	bad[sizeof mx - 12] = 0xc0; /* mx2's name pointer to itself region: make a loop */
	memcpy(bad, mx, sizeof mx);
	/* owner name of the first RR points to itself */
	bad[30] = 0xc0;
	bad[31] = 30;
	tap_is_int(dec(bad, sizeof mx, &m, &e), -1, "pointer to itself refused");
	tap_is_int(e.code, EX_DATAERR, "as bad data");
	memcpy(bad, mx, sizeof mx);
	bad[31] = 0x60; /* forward pointer */
	tap_is_int(dec(bad, sizeof mx, &m, &e), -1, "forward pointer refused");
	memcpy(bad, mx, sizeof mx);
	bad[7] = 50; /* ANCOUNT lies */
	tap_is_int(dec(bad, sizeof mx, &m, &e), -1, "ANCOUNT larger than the records");
	tap_is_int(dec(mx, 40, &m, &e), -1, "cut in the middle of a record");
	memcpy(bad, mx, sizeof mx);
	bad[12] = 0x47; /* label type 01 */
	tap_is_int(dec(bad, sizeof mx, &m, &e), -1, "reserved label type refused");
	tap_is_int(dec(mx, 11, &m, &e), -1, "shorter than a header");
	memcpy(bad, mx, sizeof mx);
	bad[41] = 0x30; /* RDLENGTH past the end */
	tap_is_int(dec(bad, sizeof mx, &m, &e), -1, "record data past the end");

	tap_ok(mp_dns_name_eq("Example.TEST.", "example.test"),
	       "names compare without case or dot");
	tap_ok(!mp_dns_name_eq("example.test", "example.tes"), "different names differ");

	/* resolv.conf */
	char path[] = "/tmp/mp-test-dns.XXXXXX";
	int fd = mkstemp(path);
	const char *conf = "# comment\nnameserver 127.0.0.1\nnameserver ::1\nsearch a.test b.test\n"
	                   "options timeout:3 attempts:4 ndots:2\nnameserver [::1]:5353\n";
	mp_write_full(fd, conf, strlen(conf));
	close(fd);
	struct mp_resolver r;
	mp_resolver_init(&r, path, &e);
	unlink(path);
	tap_is_int(r.nns, 3, "three nameservers, one [v6]:port");
	tap_is_int(r.timeout_ms, 3000, "timeout");
	tap_is_int(r.attempts, 4, "attempts");
	tap_is_int(r.ndots, 2, "ndots");
	tap_is_int(r.nsearch, 2, "search list");
	tap_is_int(mp_resolver_set_server(&r, "[::1]:5353", 53, &e), 0, "server [::1]:5353");
	tap_is_int(mp_resolver_set_server(&r, "127.0.0.1:99999", 53, &e), -1, "bad port refused");
	tap_is_int(mp_resolver_set_server(&r, "not-an-address", 53, &e), -1, "names refused");
	mp_resolver_init(&r, "/nonexistent/resolv.conf", &e);
	tap_is_int(r.nns, 1, "no file: 127.0.0.1");
	return tap_done();
}
