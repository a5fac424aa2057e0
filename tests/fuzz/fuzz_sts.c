/* libFuzzer target: the MTA-STS policy file (RFC 8461 3.2) as any HTTPS
 * server may serve it, and the _mta-sts TXT record. What parses must keep
 * the promises of sts.h; what does not is EX_DATAERR. */
#include <stdlib.h>
#include <string.h>

#include "sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_sts_policy *p = malloc(sizeof *p);
	char id[MP_STS_IDMAX + 1];
	struct mp_err e;

	if (!p)
		return 0;
	mp_err_clear(&e);
	if (mp_sts_parse((const char *)data, size, p, &e) == 0) {
		if (p->nmx < 0 || p->nmx > MP_STS_MAXMX || p->max_age < 0 ||
		    p->max_age > MP_STS_MAXAGE || (p->mode != MP_STS_NONE && p->nmx == 0))
			abort();
		for (int i = 0; i < p->nmx; i++) {
			size_t l = strlen(p->mx[i]);
			if (l == 0 || l >= sizeof p->mx[i])
				abort();
			/* a plain pattern matches itself */
			if (p->mx[i][0] != '*' && !mp_sts_mx_match(p, p->mx[i]))
				abort();
		}
	} else if (e.code != EX_DATAERR) {
		abort();
	}
	mp_err_clear(&e);
	int rc = mp_sts_txt((const char *)data, size, id, sizeof id, &e);
	if (rc == 1 && (!id[0] || strlen(id) > MP_STS_IDMAX))
		abort();
	if (rc < 0 && e.code != EX_DATAERR)
		abort();
	free(p);
	return 0;
}
