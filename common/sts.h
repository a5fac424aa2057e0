/* sts: SMTP MTA Strict Transport Security (RFC 8461): the _mta-sts TXT
 * record, the policy file (strict, bounded parser), MX pattern matching,
 * and the policy fetched over PKIX-verified HTTPS on a connected socket. */
#ifndef MP_STS_H
#define MP_STS_H

#include <stddef.h>

#include "util.h"

#define MP_STS_MAX    (64 * 1024) /* RFC 8461 3.3: a policy this large is plenty */
#define MP_STS_MAXMX  64          /* mx: lines in one policy */
#define MP_STS_MAXAGE 31557600L   /* RFC 8461 3.2: max_age up to a year */
#define MP_STS_IDMAX  32          /* RFC 8461 3.1: id is 1 to 32 letters and digits */

enum mp_sts_mode { MP_STS_NONE, MP_STS_TESTING, MP_STS_ENFORCE };

struct mp_sts_policy {
	enum mp_sts_mode mode;
	long max_age;
	char mx[MP_STS_MAXMX][256]; /* "host.example" or "*.example" */
	int nmx;
};

/* A TXT record's text: 1 when it is an STSv1 record (id copied, idsz >
 * MP_STS_IDMAX), 0 when it is something else, -1 when it starts with
 * v=STSv1 and is malformed. */
int mp_sts_txt(const char *txt, size_t len, char *id, size_t idsz, struct mp_err *e);
/* Parse a policy body (len bytes, no NUL needed): version STSv1, mode,
 * max_age, and mx patterns (required unless mode is none). Unknown keys
 * are ignored (RFC 8461 3.2); anything malformed is EX_DATAERR with the
 * line number. */
int mp_sts_parse(const char *buf, size_t len, struct mp_sts_policy *p, struct mp_err *e);
/* Whether host (a final dot allowed) matches one of the policy's mx
 * patterns; "*.example" stands for exactly one more label. */
int mp_sts_mx_match(const struct mp_sts_policy *p, const char *host);
const char *mp_sts_mode_name(enum mp_sts_mode m);

struct mp_sts_fetch {
	const char *ca_file; /* NULL: the system store */
	int timeout_ms;
	/* results */
	int status;     /* HTTP status */
	int text_plain; /* served as text/plain (RFC 8461 3.2 says it must be) */
};

/* GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt on fd (connected;
 * it stays open): the certificate must be valid for mta-sts.DOMAIN, no
 * redirects, status 200, at most MP_STS_MAX bytes of body, which is put
 * into body. Errors: EX_TEMPFAIL for anything network or HTTP,
 * EX_UNAVAILABLE for an untrusted certificate. */
int mp_sts_get(int fd, const char *domain, struct mp_sts_fetch *f, struct mp_buf *body,
               struct mp_err *e);

#endif
