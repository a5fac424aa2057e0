/* libFuzzer target: the HTML to text converter of mparse --show and
 * --text (tags, comments, script and style content, character
 * references, links). Its output stays within a fixed multiple of the
 * input, and it never fails on content. */
#include <stdlib.h>
#include <string.h>

#include "html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_buf out = MP_BUF_INIT;

	if (mp_html_text((const char *)data, size, &out) < 0)
		abort(); /* only running out of memory fails */
	/* each input byte gives at most a few output bytes, a link its
	 * number twice and its target once more */
	if (out.len > 8 * size + 16)
		abort();
	if (size && out.len && out.data[out.len - 1] != '\n')
		abort();
	mp_buf_free(&out);
	return 0;
}
