/* tap: a minimal TAP producer for the C unit tests (one per module). */
#ifndef MP_TAP_H
#define MP_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"

static int tap_n, tap_failed; /* per test program */

MP_PRINTF(2, 3) static inline void tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
}

MP_PRINTF(1, 2) static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define tap_is_int(got, want, ...)                                                                 \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		tap_ok(g_ == w_, __VA_ARGS__);                                                     \
		if (g_ != w_)                                                                      \
			tap_diag("got %lld, want %lld", g_, w_);                                   \
	} while (0)

#define tap_is_mem(got, glen, want, wlen, ...)                                                     \
	do {                                                                                       \
		int eq_ = (size_t)(glen) == (size_t)(wlen) &&                                      \
		          memcmp((got), (want), (size_t)(wlen)) == 0;                              \
		tap_ok(eq_, __VA_ARGS__);                                                          \
		if (!eq_)                                                                          \
			tap_diag("got [%.*s] (%zu), want [%.*s] (%zu)", (int)(glen), (got),        \
			         (size_t)(glen), (int)(wlen), (want), (size_t)(wlen));             \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/* xorshift for reproducible random inputs */
static unsigned long long tap_rng = 0x9E3779B97F4A7C15ULL;
static inline unsigned tap_rand(void)
{
	tap_rng ^= tap_rng << 13;
	tap_rng ^= tap_rng >> 7;
	tap_rng ^= tap_rng << 17;
	return (unsigned)(tap_rng >> 32);
}

/* a printable copy of s for test names: \n, \r, \t and bytes >= 0x7f escaped */
static inline const char *tap_esc(const char *s)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	size_t o = 0;

	for (; *s && o + 5 < sizeof buf[0]; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' || c == '\r' || c == '\t')
			o += (size_t)snprintf(b + o, 5, "\\%c",
			                      c == '\n'   ? 'n'
			                      : c == '\r' ? 'r'
			                                  : 't');
		else if (c < 32 || c >= 0x7f)
			o += (size_t)snprintf(b + o, 5, "\\x%02x", c);
		else
			b[o++] = (char)c;
	}
	b[o] = '\0';
	return b;
}

#endif
