/* libFuzzer target: mparse's uudecoder. Any text, fed whole or in chunks
 * of any size, gives the same blocks, bytes and warnings; a block's
 * decoded size is what its data events added up to; a data line never
 * decodes to more than 63 bytes, however long it is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	uint64_t hash; /* of every event and its bytes, in order */
	long events, open;
	long long bytes;
};

static void mix(struct trace *t, const void *s, size_t n)
{
	const unsigned char *p = s;
	for (size_t i = 0; i < n; i++)
		t->hash = (t->hash ^ p[i]) * 1099511628211u;
}

static int on_uu(void *ctx, struct mp_uu *u, enum mp_uu_event ev, const void *s, size_t n)
{
	struct trace *t = ctx;
	unsigned char e = (unsigned char)ev;

	t->events++;
	mix(t, &e, 1);
	switch (ev) {
	case MP_UU_BEGIN:
		if (t->open || strlen(u->name) != n || n == 0 || n >= MP_UU_LINE)
			abort();
		t->open = 1;
		t->bytes = 0;
		break;
	case MP_UU_DATA:
		if (!t->open || n == 0 || n > 63)
			abort();
		t->bytes += (long long)n;
		break;
	case MP_UU_END:
		if (!t->open || t->bytes != u->size)
			abort();
		t->open = 0;
		break;
	case MP_UU_WARN:
		if (!u->msg || u->warnline < 1 || u->warnline > u->lineno)
			abort();
		mix(t, &u->warnline, sizeof u->warnline);
		break;
	}
	mix(t, s, s ? n : 0);
	return 0;
}

static struct trace run(const uint8_t *data, size_t size, size_t chunk)
{
	struct trace t = {.hash = 14695981039346656037u};
	struct mp_uu u;

	mp_uu_init(&u, on_uu, &t);
	for (size_t i = 0; i < size; i += chunk)
		mp_uu_feed(&u, (const char *)data + i, size - i < chunk ? size - i : chunk);
	mp_uu_finish(&u);
	if (t.open)
		abort(); /* every block is ended */
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[64];

	if (size < 1)
		return 0;
	size_t chunk = data[0] ? data[0] : 1;
	data++;
	size--;
	struct trace whole = run(data, size, size ? size : 1), bits = run(data, size, chunk);
	if (whole.hash != bits.hash || whole.events != bits.events)
		abort();
	/* the first line on its own, as a data line */
	const uint8_t *nl = memchr(data, '\n', size);
	int k = mp_uu_decode_line((const char *)data, nl ? (size_t)(nl - data) : size, out);
	if (k > 63)
		abort();
	return 0;
}
