/* libFuzzer target: the quoted-printable decoder and encoder. Decoding
 * never overruns its output bound; encoding anything and decoding it back
 * is the identity, in both line-break modes. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_qpdec d;
	struct mp_qpenc q;
	struct mp_err e;
	unsigned char *out;
	char *enc;
	size_t n, w, m;

	if (size < 1)
		return 0;
	unsigned mode = data[0];
	data++;
	size--;
	/* every SIMD level decodes as the scalar code does */
	unsigned char *ref = malloc(mp_qpdec_maxout(size) + 8);
	size_t rlen = 0;
	long long roff = 0;
	int rrc = 0;
	out = malloc(mp_qpdec_maxout(size) + 8);
	for (int l = 0; l < MP_SIMD_COUNT; l++) {
		int rc;
		if (mp_simd_set(l) < 0)
			continue;
		mp_err_clear(&e);
		mp_qpdec_init(&d, (mode & 1) ? MP_QP_IGNORE : 0);
		n = 0;
		rc = mp_qpdec_update(&d, data, size, out, &w, &e);
		if (rc == 0)
			rc = mp_qpdec_final(&d, out + w, &n, &e);
		if (l == 0) {
			memcpy(ref, out, w + n);
			rlen = w + n;
			rrc = rc;
			roff = e.offset;
		} else if (rc != rrc || w + n != rlen || memcmp(ref, out, rlen) ||
		           e.offset != roff) {
			abort();
		}
	}
	free(out);
	free(ref);

	enc = malloc(mp_qpenc_maxout(size));
	mp_qpenc_init(&q, (mode & 2) ? MP_QP_CRLF : 0);
	m = 0;
	for (size_t i = 0; i < size;) {
		size_t k = (mode >> 2) ? (size_t)(mode >> 2) : size;
		if (k > size - i)
			k = size - i;
		m += mp_qpenc_update(&q, data + i, k, enc + m);
		i += k;
	}
	m += mp_qpenc_final(&q, enc + m);
	if (m > mp_qpenc_maxout(size))
		abort();
	out = malloc(mp_qpdec_maxout(m) + 8);
	mp_qpdec_init(&d, 0);
	if (mp_qpdec_update(&d, enc, m, out, &w, &e) < 0 || mp_qpdec_final(&d, out + w, &n, &e) < 0)
		abort();
	if (w + n != size || memcmp(out, data, size))
		abort();
	free(out);
	free(enc);
	return 0;
}
