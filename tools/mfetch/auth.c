/* auth: one SASL step as IMAP and POP3 carry it, base64 both ways (the
 * mechanisms themselves are common/sasl.c's) */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "session.h"
#include "sasl.h"

int sasl_respond(struct mp_sasl *c, const char *ch64, struct mp_buf *out, struct mp_err *e)
{
	size_t cl = strlen(ch64), n1 = 0, n2 = 0;
	struct mp_buf resp = MP_BUF_INIT;
	struct mp_b64dec d;
	char *ch;
	int rc = -1;

	if (cl > 16384)
		return mp_err_set(e, EX_PROTOCOL, "AUTH: a challenge of %zu bytes", cl);
	ch = mp_xmalloc(mp_b64dec_maxout(cl) + 8);
	mp_b64dec_init(&d, MP_B64_NOPAD);
	if (mp_b64dec_update(&d, ch64, cl, ch, &n1, NULL) < 0 ||
	    mp_b64dec_final(&d, ch + n1, &n2, NULL) < 0) {
		mp_err_set(e, EX_PROTOCOL, "AUTH: a challenge that is not base64");
		goto out;
	}
	if (mp_sasl_next(c, ch, n1 + n2, &resp, e) < 0)
		goto out;
	mp_buf_reset(out);
	if (mp_buf_reserve(out, mp_b64_enclen(resp.len, 0) + 1) < 0) {
		mp_err_set(e, EX_OSERR, "out of memory");
		goto out;
	}
	out->len = mp_b64_encode(resp.data ? resp.data : "", resp.len, out->data, 0);
	out->data[out->len] = '\0';
	rc = 0;
out:
	if (resp.data)
		memset(resp.data, 0, resp.len);
	mp_buf_free(&resp);
	free(ch);
	return rc;
}
