/* compat: the only place for compiler-specific attributes and builtins. */
#ifndef MP_COMPAT_H
#define MP_COMPAT_H

#if defined(__GNUC__) || defined(__clang__)
#define MP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MP_VPRINTF(f)   __attribute__((format(printf, f, 0)))
#define MP_NORETURN     __attribute__((noreturn))
#define MP_LIKELY(x)    __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define MP_TARGET(t)    __attribute__((target(t)))
#define MP_HAVE_TARGET  1
#else
#define MP_PRINTF(f, a)
#define MP_VPRINTF(f)
#define MP_NORETURN    _Noreturn
#define MP_LIKELY(x)   (x)
#define MP_UNLIKELY(x) (x)
#define MP_TARGET(t)
#define MP_HAVE_TARGET 0
#endif

/* Number of set bits / trailing zeros of a 64-bit word. */
#if defined(__GNUC__) || defined(__clang__)
#define mp_popcount64(x) __builtin_popcountll(x)
#define mp_ctz64(x)      __builtin_ctzll(x)
#define mp_clz64(x)      ((x) ? __builtin_clzll(x) : 64)
#else
static inline int mp_popcount64(unsigned long long x)
{
	int n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}
static inline int mp_clz64(unsigned long long x)
{
	int n = 0;
	if (!x)
		return 64;
	while (!(x >> 63)) {
		x <<= 1;
		n++;
	}
	return n;
}
static inline int mp_ctz64(unsigned long long x)
{
	int n = 0;
	while (!(x & 1)) {
		x >>= 1;
		n++;
	}
	return n;
}
#endif

#endif
