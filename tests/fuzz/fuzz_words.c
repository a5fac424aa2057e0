/* libFuzzer target: RFC 2047 encoded-word decoding of header values, and
 * the encoder's UTF-8 round trip. */
#include <stdlib.h>
#include <string.h>

#include "hdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_buf out = MP_BUF_INIT, back = MP_BUF_INIT;
	struct mp_err e;

	mp_hdr_decode_words((const char *)data, size, 0, &out, &e);
	mp_buf_reset(&out);
	if (mp_hdr_decode_words((const char *)data, size, MP_HDR_IGNORE, &out, &e) < 0 &&
	    e.code != EX_TEMPFAIL)
		abort(); /* -i never fails on content */
	mp_buf_reset(&out);
	for (unsigned q = 0; q < 2; q++) {
		mp_buf_reset(&out);
		mp_buf_reset(&back);
		if (mp_hdr_encode_words((const char *)data, size, q ? MP_HDR_Q : 0, &out, &e) < 0)
			break; /* not UTF-8 */
		/* unfold and decode: must give the text back */
		size_t w = 0;
		for (size_t i = 0; i < out.len; i++)
			if (out.data[i] != '\n')
				out.data[w++] = out.data[i];
		if (mp_hdr_decode_words(out.data, w, 0, &back, &e) < 0 || back.len != size ||
		    (size && memcmp(back.data, data, size)))
			abort();
	}
	mp_buf_free(&out);
	mp_buf_free(&back);
	return 0;
}
