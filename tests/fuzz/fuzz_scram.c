/* libFuzzer target: SCRAM-SHA-256 messages from a server. The input is
 * a server-first message, then (after a NUL byte, when there is one) a
 * server-final message. server-first goes through the bounded parser;
 * whatever it accepts must lie inside the input, extend the client nonce
 * and have a count in the allowed range. server-final goes through the
 * exchange's last step, which must never accept a signature it did not
 * compute (the expensive PBKDF2 is left out: the parsed count is not used). */
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CNONCE "fyko+d2lbbFgONRv9qkxdawL"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nul = memchr(data, 0, size);
	size_t l1 = nul ? (size_t)(nul - in) : size;
	struct mp_scram_first f;
	struct mp_err e;

	if (size > 10000)
		return 0;
	mp_err_clear(&e);
	if (mp_scram_parse_first(in, l1, CNONCE, &f, &e) == 0) {
		if (f.nonce < in || f.nonce + f.nlen > in + l1 || f.nlen <= strlen(CNONCE) ||
		    memcmp(f.nonce, CNONCE, strlen(CNONCE)) != 0 || f.saltlen == 0 ||
		    f.saltlen > sizeof f.salt || f.iter < MP_SCRAM_ITER_MIN ||
		    f.iter > MP_SCRAM_ITER_MAX)
			abort();
	} else if (!e.msg[0]) {
		abort(); /* a refusal always says why */
	}
	if (nul) {
		/* the final step of an exchange whose signature is all 0xA5 */
		struct mp_sasl c;
		struct mp_buf out = MP_BUF_INIT;
		mp_sasl_init(&c, MP_SASL_SCRAM_SHA256, "user", "pencil");
		memset(c.server_sig, 0xa5, sizeof c.server_sig);
		c.step = 2;
		mp_err_clear(&e);
		const char *fin = nul + 1;
		size_t l2 = size - l1 - 1;
		int rc = mp_sasl_next(&c, fin, l2, &out, &e);
		if (rc == 0) {
			unsigned char sig[32];
			if (mp_scram_parse_final(fin, l2, sig, &e) < 0 ||
			    memcmp(sig, c.server_sig, 32) != 0 || !c.verified || out.len)
				abort();
		} else if (c.verified || mp_sasl_done(&c, &e) == 0) {
			abort();
		}
		mp_sasl_free(&c);
		mp_buf_free(&out);
	}
	return 0;
}
