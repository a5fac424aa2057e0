/* libFuzzer target: the base64 decoder. The first byte picks flags and a
 * chunking; every SIMD level must agree with the scalar one on the
 * output, the return code and the error position, and whatever decodes
 * must encode back to an equivalent text. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"

struct result {
	int rc;
	long long off;
	size_t len;
	unsigned char *out;
};

static void run(const uint8_t *in, size_t n, unsigned flags, size_t chunk, struct result *r)
{
	struct mp_b64dec d;
	struct mp_err e;
	size_t i = 0, w;

	mp_err_clear(&e);
	r->out = malloc(mp_b64dec_maxout(n) + 8);
	r->len = 0;
	r->rc = 0;
	mp_b64dec_init(&d, flags);
	while (i < n) {
		size_t k = n - i < chunk ? n - i : chunk;
		if (mp_b64dec_update(&d, in + i, k, r->out + r->len, &w, &e) < 0) {
			r->len += w;
			r->rc = -1;
			r->off = e.offset;
			return;
		}
		r->len += w;
		i += k;
	}
	if (mp_b64dec_final(&d, r->out + r->len, &w, &e) < 0) {
		r->rc = -1;
		r->off = e.offset;
		return;
	}
	r->len += w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result ref, got;
	unsigned flags;
	size_t chunk;

	if (size < 1)
		return 0;
	flags = data[0] & (MP_B64_URL | MP_B64_NOPAD | MP_B64_IGNORE);
	chunk = (data[0] >> 3) ? (size_t)(data[0] >> 3) * 7 : (size_t)-1;
	data++;
	size--;
	mp_simd_set(MP_SIMD_SCALAR);
	run(data, size, flags, chunk, &ref);
	for (int l = 1; l < MP_SIMD_COUNT; l++) {
		if (mp_simd_set(l) < 0)
			continue;
		run(data, size, flags, chunk, &got);
		if (got.rc != ref.rc || got.len != ref.len || memcmp(got.out, ref.out, ref.len) ||
		    (ref.rc && got.off != ref.off))
			abort();
		free(got.out);
	}
	if (ref.rc == 0) {
		/* re-encoding and decoding again is the identity */
		char *enc = malloc(mp_b64_enclen(ref.len, flags) + 1);
		size_t m = mp_b64_encode(ref.out, ref.len, enc, flags);
		mp_simd_set(MP_SIMD_SCALAR);
		run((const uint8_t *)enc, m, flags & ~MP_B64_IGNORE, (size_t)-1, &got);
		if (got.rc || got.len != ref.len || memcmp(got.out, ref.out, ref.len))
			abort();
		free(got.out);
		free(enc);
	}
	free(ref.out);
	return 0;
}
