/* libFuzzer target: the DNS message decoder (names with compression,
 * every record type we read, EDNS). Whatever decodes must make sense:
 * counts within the packet, names within their bounds. */
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_dns_msg m;
	struct mp_err e;

	mp_err_clear(&e);
	if (mp_dns_decode(data, size, &m, &e) < 0) {
		if (e.code != EX_DATAERR && e.code != EX_TEMPFAIL)
			abort();
		return 0;
	}
	/* every record takes at least 11 bytes after the header */
	if ((m.nan + m.nns + m.nar) * 11 > size)
		abort();
	for (size_t i = 0; i < m.nan + m.nns + m.nar; i++) {
		const struct mp_dns_rr *rr = &m.rr[i];
		if (strlen(rr->name) >= sizeof rr->name || strlen(rr->target) >= sizeof rr->target)
			abort();
		if (rr->rdata < m.raw || rr->rdata + rr->rdlen > m.raw + m.rawlen)
			abort();
	}
	/* a query for what we decoded encodes and decodes back */
	if (m.qname[0] && strcmp(m.qname, ".") != 0) {
		uint8_t q[600];
		size_t qlen;
		struct mp_dns_msg back;
		if (mp_dns_query_encode(q, sizeof q, m.id, m.qname, m.qtype, 1, &qlen, &e) == 0) {
			if (mp_dns_decode(q, qlen, &back, &e) < 0 ||
			    !mp_dns_name_eq(back.qname, m.qname) || back.qtype != m.qtype)
				abort();
			mp_dns_msg_free(&back);
		}
	}
	mp_dns_msg_free(&m);
	return 0;
}
