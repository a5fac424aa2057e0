/* SIMD kernels for base64 on x86-64, each compiled for its own target and
 * picked at run time by codec.c.
 *
 * Decoding keeps the whitespace skipping inside the kernel: every input
 * block is translated to sextets, the bytes to skip are squeezed out into
 * a small staging area in L1 (vpcompressb on AVX-512, a mask walk on the
 * narrower paths), and the stage is packed to output 64 (or 32, 16)
 * sextets at a time. A block that is already clean goes straight from the
 * register to the output. Anything else ('=', a bad byte) stops the
 * kernel at the start of that block and the scalar loop takes it, so an
 * error is located by re-scanning that block only. */
#include "codec.h"

#include <pthread.h>
#include <string.h>

#if defined(MP_SIMD_X86) && MP_HAVE_TARGET
#include <cpuid.h>
#include <immintrin.h>

/* The state the operating system saves for us (XCR0): XMM and YMM for
 * AVX2, the opmask and ZMM registers as well for AVX-512. */
MP_TARGET("xsave") static unsigned long long os_state(void)
{
	return _xgetbv(0);
}

/* Asked by codec.c when it picks a kernel. CPUID is read
 * here rather than by __builtin_cpu_supports, whose detection runs in a
 * constructor at the start of every program it is linked into: CPUID
 * traps to the hypervisor in a virtual machine, and that cost every start
 * of every tool about 65 us here, when most never encode base64. */
int mp_simd_cpu_has(int level)
{
	unsigned a, b, c, d, b7 = 0, c7 = 0;

	if (level == MP_SIMD_SCALAR)
		return 1;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (level == MP_SIMD_SSSE3)
		return (c >> 9) & 1;
	if (!((c >> 27) & 1)) /* no XGETBV: no wide registers saved */
		return 0;
	if (__get_cpuid_max(0, NULL) >= 7)
		__cpuid_count(7, 0, a, b7, c7, d);
	switch (level) {
	case MP_SIMD_AVX2: return ((b7 >> 5) & 1) && (os_state() & 0x6) == 0x6;
	case MP_SIMD_AVX512:
		return ((b7 >> 16) & 1) && ((b7 >> 30) & 1) && /* F, BW */
		       ((c7 >> 1) & 1) && ((c7 >> 6) & 1) &&   /* VBMI, VBMI2 */
		       (os_state() & 0xe6) == 0xe6;
	default: return 0;
	}
}

/* Move the sextets left in acc into the stage (they come first). */
static size_t stage_from_acc(struct mp_b64dec *d, uint8_t *stage)
{
	size_t n = d->nacc;

	for (size_t k = 0; k < n; k++)
		stage[k] = (uint8_t)((d->acc >> (6 * (n - 1 - k))) & 63);
	d->acc = 0;
	d->nacc = 0;
	return n;
}

/* Pack whole 4-sextet groups of the stage, leave the rest in acc. */
static size_t stage_flush(struct mp_b64dec *d, const uint8_t *stage, size_t w, uint8_t *o)
{
	size_t k = 0, n = 0;

	for (; k + 4 <= w; k += 4) {
		uint32_t v = (uint32_t)stage[k] << 18 | (uint32_t)stage[k + 1] << 12 |
		             (uint32_t)stage[k + 2] << 6 | stage[k + 3];
		o[n++] = (uint8_t)(v >> 16);
		o[n++] = (uint8_t)(v >> 8);
		o[n++] = (uint8_t)v;
	}
	for (; k < w; k++) {
		d->acc = d->acc << 6 | stage[k];
		d->nacc++;
	}
	return n;
}

/* ---------------------------------------------------------------- SSSE3 / AVX2 helpers */

/* sextet offset table for the encoder (Muła's method), per 16-byte lane */
static void enc_shift_lut(const char *a, int8_t lut[16])
{
	memset(lut, 0, 16);
	lut[0] = 'a' - 26;
	for (int k = 1; k <= 10; k++)
		lut[k] = '0' - 52;
	lut[11] = (int8_t)(a[62] - 62);
	lut[12] = (int8_t)(a[63] - 63);
	lut[13] = 'A';
}

MP_TARGET("ssse3")
static inline __m128i enc_map128(__m128i idx, __m128i lut)
{
	__m128i r = _mm_subs_epu8(idx, _mm_set1_epi8(51));
	__m128i less = _mm_cmpgt_epi8(_mm_set1_epi8(26), idx);
	r = _mm_or_si128(r, _mm_and_si128(less, _mm_set1_epi8(13)));
	return _mm_add_epi8(_mm_shuffle_epi8(lut, r), idx);
}

MP_TARGET("ssse3")
static inline __m128i enc_split128(__m128i v)
{
	v = _mm_shuffle_epi8(v, _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10));
	__m128i t0 = _mm_and_si128(v, _mm_set1_epi32(0x0fc0fc00));
	__m128i t1 = _mm_mulhi_epu16(t0, _mm_set1_epi32(0x04000040));
	__m128i t2 = _mm_and_si128(v, _mm_set1_epi32(0x003f03f0));
	__m128i t3 = _mm_mullo_epi16(t2, _mm_set1_epi32(0x01000010));
	return _mm_or_si128(t1, t3);
}

MP_TARGET("ssse3")
static size_t enc_ssse3(const uint8_t *in, size_t n, char *out, const char *a)
{
	int8_t l[16];
	size_t i = 0;

	enc_shift_lut(a, l);
	__m128i lut = _mm_loadu_si128((const __m128i *)l);
	for (; i + 16 <= n; i += 12, out += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + i));
		_mm_storeu_si128((__m128i *)out, enc_map128(enc_split128(v), lut));
	}
	return i;
}

/* Translate 16 characters to sextets; masks of bytes that are bad and of
 * bytes to skip. Works for both alphabets by range tests. */
struct xlate_consts {
	uint8_t c62, c63;
	int ignore;
};

MP_TARGET("ssse3")
static inline __m128i xlate128(__m128i c, const struct xlate_consts *x, unsigned *bad,
                               unsigned *skip)
{
	__m128i up = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('A' - 1)),
	                           _mm_cmplt_epi8(c, _mm_set1_epi8('Z' + 1)));
	__m128i lo = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('a' - 1)),
	                           _mm_cmplt_epi8(c, _mm_set1_epi8('z' + 1)));
	__m128i dg = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
	                           _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
	__m128i e62 = _mm_cmpeq_epi8(c, _mm_set1_epi8((char)x->c62));
	__m128i e63 = _mm_cmpeq_epi8(c, _mm_set1_epi8((char)x->c63));
	__m128i off = _mm_or_si128(
	    _mm_or_si128(_mm_and_si128(up, _mm_set1_epi8(-65)),
	                 _mm_and_si128(lo, _mm_set1_epi8(-71))),
	    _mm_or_si128(_mm_and_si128(dg, _mm_set1_epi8(4)),
	                 _mm_or_si128(_mm_and_si128(e62, _mm_set1_epi8((char)(62 - x->c62))),
	                              _mm_and_si128(e63, _mm_set1_epi8((char)(63 - x->c63))))));
	__m128i valid =
	    _mm_or_si128(_mm_or_si128(up, lo), _mm_or_si128(dg, _mm_or_si128(e62, e63)));
	unsigned vm = (unsigned)_mm_movemask_epi8(valid);
	if (x->ignore) {
		unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(c, _mm_set1_epi8('=')));
		*skip = ~(vm | eq) & 0xffffu;
		*bad = eq;
	} else {
		__m128i ws = _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('\n')),
		                          _mm_cmpeq_epi8(c, _mm_set1_epi8('\r')));
		*skip = (unsigned)_mm_movemask_epi8(ws);
		*bad = ~(vm | *skip) & 0xffffu;
	}
	return _mm_add_epi8(c, off);
}

MP_TARGET("ssse3")
static inline __m128i pack128(__m128i t)
{
	__m128i m = _mm_maddubs_epi16(t, _mm_set1_epi32(0x01400140));
	m = _mm_madd_epi16(m, _mm_set1_epi32(0x00011000));
	return _mm_shuffle_epi8(
	    m, _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
}

#define STAGE_BATCH 256

/* Squeezing skipped bytes out without AVX-512: per 8-byte group, a
 * pshufb with the indices of the kept bytes (one table row per 8-bit
 * mask, 2 KiB in all), an 8-byte store, and the pointer moves on by the
 * number kept. */
static uint8_t squeeze_idx[256][16];
static pthread_once_t squeeze_once = PTHREAD_ONCE_INIT;

static void squeeze_init(void)
{
	for (int m = 0; m < 256; m++) {
		int k = 0;
		memset(squeeze_idx[m], 0x80, 16);
		for (int b = 0; b < 8; b++)
			if (m >> b & 1)
				squeeze_idx[m][k++] = (uint8_t)b;
	}
}

/* keep: one bit per byte of x (16 bytes); appends the kept bytes */
MP_TARGET("ssse3")
static inline size_t squeeze16(__m128i x, unsigned keep, uint8_t *stage)
{
	unsigned m0 = keep & 0xff, m1 = keep >> 8 & 0xff;
	__m128i i0 = _mm_loadu_si128((const __m128i *)squeeze_idx[m0]);
	__m128i i1 =
	    _mm_add_epi8(_mm_loadu_si128((const __m128i *)squeeze_idx[m1]), _mm_set1_epi8(8));
	size_t w0 = (size_t)mp_popcount64(m0);

	_mm_storel_epi64((__m128i *)stage, _mm_shuffle_epi8(x, i0));
	_mm_storel_epi64((__m128i *)(stage + w0), _mm_shuffle_epi8(x, i1));
	return w0 + (size_t)mp_popcount64(m1);
}

MP_TARGET("ssse3")
static size_t dec_ssse3(const uint8_t *in, size_t n, uint8_t *out, size_t *outlen,
                        struct mp_b64dec *d)
{
	struct xlate_consts x;
	uint8_t stage[STAGE_BATCH + 48];
	size_t i = 0, w = stage_from_acc(d, stage);
	uint8_t *o = out;

	pthread_once(&squeeze_once, squeeze_init);
	x.c62 = (d->flags & MP_B64_URL) ? '-' : '+';
	x.c63 = (d->flags & MP_B64_URL) ? '_' : '/';
	x.ignore = (d->flags & MP_B64_IGNORE) != 0;
	for (; i + 16 <= n; i += 16) {
		unsigned bad, skip;
		__m128i t = xlate128(_mm_loadu_si128((const __m128i *)(in + i)), &x, &bad, &skip);
		if (bad)
			break;
		if (!skip && w == 0) {
			_mm_storeu_si128((__m128i *)o, pack128(t));
			o += 12;
			continue;
		}
		if (!skip) {
			_mm_storeu_si128((__m128i *)(stage + w), t);
			w += 16;
		} else {
			w += squeeze16(t, ~skip & 0xffffu, stage + w);
		}
		if (w >= STAGE_BATCH) {
			for (size_t k = 0; k < STAGE_BATCH; k += 16, o += 12)
				_mm_storeu_si128((__m128i *)o,
				                 pack128(_mm_loadu_si128((__m128i *)(stage + k))));
			w -= STAGE_BATCH;
			_mm_storeu_si128((__m128i *)stage,
			                 _mm_loadu_si128((__m128i *)(stage + STAGE_BATCH)));
		}
	}
	o += stage_flush(d, stage, w, o);
	*outlen = (size_t)(o - out);
	return i;
}

/* ---------------------------------------------------------------- AVX2 */

MP_TARGET("avx2")
static size_t enc_avx2(const uint8_t *in, size_t n, char *out, const char *a)
{
	int8_t l[16];
	size_t i = 0;

	enc_shift_lut(a, l);
	const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)l));
	const __m256i shuf = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1,
	                                      0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
	for (; i + 28 <= n; i += 24, out += 32) {
		__m256i v = _mm256_inserti128_si256(
		    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(in + i))),
		    _mm_loadu_si128((const __m128i *)(in + i + 12)), 1);
		v = _mm256_shuffle_epi8(v, shuf);
		__m256i t0 = _mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00));
		__m256i t1 = _mm256_mulhi_epu16(t0, _mm256_set1_epi32(0x04000040));
		__m256i t2 = _mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0));
		__m256i t3 = _mm256_mullo_epi16(t2, _mm256_set1_epi32(0x01000010));
		__m256i idx = _mm256_or_si256(t1, t3);
		__m256i r = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
		__m256i less = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx);
		r = _mm256_or_si256(r, _mm256_and_si256(less, _mm256_set1_epi8(13)));
		r = _mm256_add_epi8(_mm256_shuffle_epi8(lut, r), idx);
		_mm256_storeu_si256((__m256i *)out, r);
	}
	return i;
}

MP_TARGET("avx2")
static inline __m256i xlate256(__m256i c, const struct xlate_consts *x, uint32_t *bad,
                               uint32_t *skip)
{
#define GT(v, k) _mm256_cmpgt_epi8(v, _mm256_set1_epi8((char)(k)))
#define LT(v, k) _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(k)), v)
	__m256i up = _mm256_and_si256(GT(c, 'A' - 1), LT(c, 'Z' + 1));
	__m256i lo = _mm256_and_si256(GT(c, 'a' - 1), LT(c, 'z' + 1));
	__m256i dg = _mm256_and_si256(GT(c, '0' - 1), LT(c, '9' + 1));
#undef GT
#undef LT
	__m256i e62 = _mm256_cmpeq_epi8(c, _mm256_set1_epi8((char)x->c62));
	__m256i e63 = _mm256_cmpeq_epi8(c, _mm256_set1_epi8((char)x->c63));
	__m256i off = _mm256_or_si256(
	    _mm256_or_si256(_mm256_and_si256(up, _mm256_set1_epi8(-65)),
	                    _mm256_and_si256(lo, _mm256_set1_epi8(-71))),
	    _mm256_or_si256(
	        _mm256_and_si256(dg, _mm256_set1_epi8(4)),
	        _mm256_or_si256(_mm256_and_si256(e62, _mm256_set1_epi8((char)(62 - x->c62))),
	                        _mm256_and_si256(e63, _mm256_set1_epi8((char)(63 - x->c63))))));
	__m256i valid = _mm256_or_si256(_mm256_or_si256(up, lo),
	                                _mm256_or_si256(dg, _mm256_or_si256(e62, e63)));
	uint32_t vm = (uint32_t)_mm256_movemask_epi8(valid);
	if (x->ignore) {
		uint32_t eq =
		    (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('=')));
		*skip = ~(vm | eq);
		*bad = eq;
	} else {
		__m256i ws = _mm256_or_si256(_mm256_cmpeq_epi8(c, _mm256_set1_epi8('\n')),
		                             _mm256_cmpeq_epi8(c, _mm256_set1_epi8('\r')));
		*skip = (uint32_t)_mm256_movemask_epi8(ws);
		*bad = ~(vm | *skip);
	}
	return _mm256_add_epi8(c, off);
}

MP_TARGET("avx2")
static inline __m256i pack256(__m256i t)
{
	__m256i m = _mm256_maddubs_epi16(t, _mm256_set1_epi32(0x01400140));
	m = _mm256_madd_epi16(m, _mm256_set1_epi32(0x00011000));
	m = _mm256_shuffle_epi8(m, _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1,
	                                            -1, -1, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12,
	                                            -1, -1, -1, -1));
	return _mm256_permutevar8x32_epi32(m, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
}

MP_TARGET("avx2")
static size_t dec_avx2(const uint8_t *in, size_t n, uint8_t *out, size_t *outlen,
                       struct mp_b64dec *d)
{
	struct xlate_consts x;
	/* the stage is packed a batch at a time, long after its bytes were
	 * stored, so the loads never wait on a store still in flight */
	uint8_t stage[STAGE_BATCH + 96];
	size_t i = 0, w = stage_from_acc(d, stage);
	uint8_t *o = out;

	pthread_once(&squeeze_once, squeeze_init);
	x.c62 = (d->flags & MP_B64_URL) ? '-' : '+';
	x.c63 = (d->flags & MP_B64_URL) ? '_' : '/';
	x.ignore = (d->flags & MP_B64_IGNORE) != 0;
	for (; i + 32 <= n; i += 32) {
		uint32_t bad, skip;
		__m256i t =
		    xlate256(_mm256_loadu_si256((const __m256i *)(in + i)), &x, &bad, &skip);
		if (bad)
			break;
		if (!skip && w == 0) {
			_mm256_storeu_si256((__m256i *)o, pack256(t));
			o += 24;
			continue;
		}
		if (!skip) {
			_mm256_storeu_si256((__m256i *)(stage + w), t);
			w += 32;
		} else {
			size_t w0 =
			    squeeze16(_mm256_castsi256_si128(t), ~skip & 0xffffu, stage + w);
			w += w0 +
			     squeeze16(_mm256_extracti128_si256(t, 1), ~skip >> 16, stage + w + w0);
		}
		if (w >= STAGE_BATCH) {
			for (size_t k = 0; k < STAGE_BATCH; k += 32, o += 24)
				_mm256_storeu_si256((__m256i *)o, pack256(_mm256_loadu_si256(
				                                      (__m256i *)(stage + k))));
			w -= STAGE_BATCH;
			_mm256_storeu_si256((__m256i *)stage,
			                    _mm256_loadu_si256((__m256i *)(stage + STAGE_BATCH)));
		}
	}
	o += stage_flush(d, stage, w, o);
	*outlen = (size_t)(o - out);
	return i;
}

/* ---------------------------------------------------------------- AVX-512 VBMI */

#define AVX512 "avx512f,avx512bw,avx512vbmi,avx512vbmi2"

MP_TARGET(AVX512)
static size_t enc_avx512(const uint8_t *in, size_t n, char *out, const char *a)
{
	const __m512i shuf = _mm512_setr_epi32(0x01020001, 0x04050304, 0x07080607, 0x0a0b090a,
	                                       0x0d0e0c0d, 0x10110f10, 0x13141213, 0x16171516,
	                                       0x191a1819, 0x1c1d1b1c, 0x1f201e1f, 0x22232122,
	                                       0x25262425, 0x28292728, 0x2b2c2a2b, 0x2e2f2d2e);
	const __m512i shifts = _mm512_set1_epi64(0x3036242a1016040aLL);
	const __m512i lut = _mm512_loadu_si512((const void *)a);
	size_t i = 0;

	for (; i + 4 * 48 + 16 <= n; i += 4 * 48, out += 4 * 64) {
		for (int k = 0; k < 4; k++) {
			__m512i v = _mm512_loadu_si512((const void *)(in + i + 48 * k));
			v = _mm512_permutexvar_epi8(shuf, v);
			v = _mm512_multishift_epi64_epi8(shifts, v);
			_mm512_storeu_si512((void *)(out + 64 * k),
			                    _mm512_permutexvar_epi8(v, lut));
		}
	}
	for (; i + 48 <= n; i += 48, out += 64) {
		__m512i v = _mm512_maskz_loadu_epi8((1ULL << 48) - 1, in + i);
		v = _mm512_permutexvar_epi8(shuf, v);
		v = _mm512_multishift_epi64_epi8(shifts, v);
		_mm512_storeu_si512((void *)out, _mm512_permutexvar_epi8(v, lut));
	}
	return i;
}

/* One MIME line per step: the first 48 bytes give 64 characters, bytes
 * 48..56 (the same register, indexed 48 further) the last 12, and a
 * newline is blended in after them. Both stores are full width; the next
 * line's stores overwrite the spill. */
MP_TARGET(AVX512)
static void enc76_avx512(const uint8_t *in, size_t nlines, char *out, const char *a)
{
	const __m512i shuf = _mm512_setr_epi32(0x01020001, 0x04050304, 0x07080607, 0x0a0b090a,
	                                       0x0d0e0c0d, 0x10110f10, 0x13141213, 0x16171516,
	                                       0x191a1819, 0x1c1d1b1c, 0x1f201e1f, 0x22232122,
	                                       0x25262425, 0x28292728, 0x2b2c2a2b, 0x2e2f2d2e);
	const __m512i shuf48 = _mm512_add_epi8(shuf, _mm512_set1_epi8(48));
	const __m512i shifts = _mm512_set1_epi64(0x3036242a1016040aLL);
	const __m512i lut = _mm512_loadu_si512((const void *)a);
	const __m512i nl = _mm512_set1_epi8('\n');

	for (size_t l = 0; l < nlines; l++, in += 57, out += 77) {
		/* the last line must not read past its 57 bytes */
		__m512i v = l + 1 < nlines ? _mm512_loadu_si512((const void *)in)
		                           : _mm512_maskz_loadu_epi8((1ULL << 57) - 1, in);
		__m512i x = _mm512_multishift_epi64_epi8(shifts, _mm512_permutexvar_epi8(shuf, v));
		__m512i y =
		    _mm512_multishift_epi64_epi8(shifts, _mm512_permutexvar_epi8(shuf48, v));
		_mm512_storeu_si512((void *)out, _mm512_permutexvar_epi8(x, lut));
		_mm512_storeu_si512(
		    (void *)(out + 64),
		    _mm512_mask_mov_epi8(_mm512_permutexvar_epi8(y, lut), 1ULL << 12, nl));
	}
}

static const uint8_t pack512_idx[64] = {
    2,  1,  0,  6,  5,  4,  10, 9,  8,  14, 13, 12, 18, 17, 16, 22, 21, 20, 26, 25, 24, 30,
    29, 28, 34, 33, 32, 38, 37, 36, 42, 41, 40, 46, 45, 44, 50, 49, 48, 54, 53, 52, 58, 57,
    56, 62, 61, 60, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0};

static const uint8_t iota64[64] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                   32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                   48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};

MP_TARGET(AVX512)
static inline __m512i pack512(__m512i t, __m512i idx)
{
	__m512i m = _mm512_maddubs_epi16(t, _mm512_set1_epi32(0x01400140));
	m = _mm512_madd_epi16(m, _mm512_set1_epi32(0x00011000));
	return _mm512_permutexvar_epi8(idx, m);
}

/* The pending sextets live in a register (acc, w of them). A block's
 * sextets, squeezed together, are rotated by w lanes: the lanes from w
 * on complete acc, and when that fills all 64 the same rotated vector
 * already holds the overflow in its low lanes. No store-to-load trips
 * through memory, so no forwarding stalls. */
MP_TARGET(AVX512)
static size_t dec_avx512(const uint8_t *in, size_t n, uint8_t *out, size_t *outlen,
                         struct mp_b64dec *d)
{
	const uint8_t *tab = mp_b64_dectable(d->flags);
	const __m512i lut0 = _mm512_loadu_si512((const void *)tab);
	const __m512i lut1 = _mm512_loadu_si512((const void *)(tab + 64));
	const __m512i idx = _mm512_loadu_si512((const void *)pack512_idx);
	const __m512i iota = _mm512_loadu_si512((const void *)iota64);
	const __m512i skipbit = _mm512_set1_epi8(MP_B64_SKIP);
	const int ignore = (d->flags & MP_B64_IGNORE) != 0;
	uint8_t stage[64];
	size_t i = 0, w = stage_from_acc(d, stage);
	__m512i acc = _mm512_maskz_loadu_epi8(w ? (1ULL << w) - 1 : 0, stage);
	uint8_t *o = out;

	for (; i + 64 <= n; i += 64) {
		__m512i v = _mm512_loadu_si512((const void *)(in + i));
		__m512i t = _mm512_permutex2var_epi8(lut0, v, lut1);
		__mmask64 hi = _mm512_movepi8_mask(v);
		__mmask64 bad = _mm512_movepi8_mask(t);
		__mmask64 skip = _mm512_test_epi8_mask(t, skipbit);
		if (ignore) {
			skip |= hi;
			bad &= ~hi;
		} else {
			bad |= hi;
		}
		if (MP_UNLIKELY(bad))
			break;
		if (!skip && w == 0) {
			_mm512_storeu_si512((void *)o, pack512(t, idx));
			o += 48;
			continue;
		}
		size_t k = (size_t)mp_popcount64(~skip);
		__m512i c = _mm512_maskz_compress_epi8(~skip, t);
		__m512i rot =
		    _mm512_permutexvar_epi8(_mm512_sub_epi8(iota, _mm512_set1_epi8((char)w)), c);
		__m512i merged = _mm512_mask_mov_epi8(acc, ~0ULL << w, rot);
		if (w + k >= 64) {
			_mm512_storeu_si512((void *)o, pack512(merged, idx));
			o += 48;
			acc = rot;
			w = w + k - 64;
		} else {
			acc = merged;
			w += k;
		}
	}
	_mm512_mask_storeu_epi8(stage, w ? (1ULL << w) - 1 : 0, acc);
	o += stage_flush(d, stage, w, o);
	*outlen = (size_t)(o - out);
	return i;
}

/* Quoted-printable, 64 bytes at a time: classify every byte, check that
 * each '=' starts "=XX", "=\n" or "=\r\n", that white space is not
 * trailing and CR comes before LF; then replace each '=' by the byte it
 * encodes and squeeze out the escape tails and soft breaks. A window
 * holding anything else goes to the scalar state machine. */
static const int8_t hex128[128] = {
    -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
    -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
    -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
    0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    -128, -128, -128, -128, -128, -128,
    -128, 10,   11,   12,   13,   14,   15,   -128, -128, -128, -128, -128, -128, -128, -128, -128,
    -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128,
    -128, 10,   11,   12,   13,   14,   15,   -128, -128, -128, -128, -128, -128, -128, -128, -128,
    -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128};

MP_TARGET(AVX512)
static inline __m512i hexlookup(__m512i v, __m512i lo, __m512i hi)
{
	/* bytes >= 0x80 keep their top bit: invalid like the table's -128 */
	return _mm512_or_si512(_mm512_permutex2var_epi8(lo, v, hi),
	                       _mm512_and_si512(v, _mm512_set1_epi8((char)0x80)));
}

MP_TARGET(AVX512)
static size_t qpdec_avx512(const uint8_t *in, size_t n, uint8_t *out, size_t *outlen)
{
	const __m512i lo = _mm512_loadu_si512((const void *)hex128);
	const __m512i hi = _mm512_loadu_si512((const void *)(hex128 + 64));
	size_t i = 0, o = 0;

	while (i + 66 <= n) {
		__m512i v0 = _mm512_loadu_si512((const void *)(in + i));
		__m512i v1 = _mm512_loadu_si512((const void *)(in + i + 1));
		__m512i v2 = _mm512_loadu_si512((const void *)(in + i + 2));
		__mmask64 eq = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8('='));
		__mmask64 lit = _mm512_cmple_epu8_mask(_mm512_sub_epi8(v0, _mm512_set1_epi8(33)),
		                                       _mm512_set1_epi8(93)) &
		                ~eq;
		__mmask64 lf = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8('\n'));
		__mmask64 cr = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8('\r'));
		__mmask64 ws = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8(' ')) |
		               _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8('\t'));
		__mmask64 nlf = _mm512_cmpeq_epi8_mask(v1, _mm512_set1_epi8('\n'));
		__mmask64 ncr = _mm512_cmpeq_epi8_mask(v1, _mm512_set1_epi8('\r'));
		__mmask64 nnlf = _mm512_cmpeq_epi8_mask(v2, _mm512_set1_epi8('\n'));
		__m512i h1 = hexlookup(v1, lo, hi), h2 = hexlookup(v2, lo, hi);
		__mmask64 hexok = ~_mm512_movepi8_mask(_mm512_or_si512(h1, h2));
		__mmask64 esc = eq & hexok, soft1 = eq & nlf, soft2 = eq & ncr & nnlf;
		__mmask64 tail = esc << 1 | esc << 2 | soft1 << 1 | soft2 << 1 | soft2 << 2;
		__mmask64 good =
		    lit | esc | soft1 | soft2 | lf | (cr & nlf) | (ws & ~(nlf | ncr)) | tail;
		__mmask64 win = ~0ULL;
		size_t len = 64, over = 0;

		/* white space running past the window: its end decides */
		if ((ws >> 63) && (in[i + 64] == ' ' || in[i + 64] == '\t')) {
			size_t run = (size_t)mp_clz64(~ws);
			if (run == 64)
				break;
			len = 64 - run;
			win = ~0ULL >> run;
		}
		if (MP_UNLIKELY(~good & win))
			break;
		if ((esc | soft2) >> 63)
			over = 2;
		else if (((esc | soft2) >> 62 & 1) || (soft1 >> 63))
			over = 1;
		__m512i dec = _mm512_or_si512(
		    _mm512_and_si512(_mm512_slli_epi16(h1, 4), _mm512_set1_epi8((char)0xf0)), h2);
		__m512i vals = _mm512_mask_blend_epi8(esc, v0, dec);
		__mmask64 keep = ~(tail | soft1 | soft2) & win;
		_mm512_storeu_si512((void *)(out + o), _mm512_maskz_compress_epi8(keep, vals));
		o += (size_t)mp_popcount64(keep);
		i += len + over;
	}
	*outlen = o;
	return i;
}

MP_TARGET(AVX512)
static size_t qpplain_avx512(const uint8_t *in, size_t n)
{
	size_t i = 0;

	for (; i < n; i += 64) {
		__mmask64 m = n - i >= 64 ? ~0ULL : (1ULL << (n - i)) - 1;
		__m512i v0 = _mm512_maskz_loadu_epi8(m, in + i);
		__m512i v1 = _mm512_maskz_loadu_epi8(m, in + i + 1);
		__mmask64 lit = _mm512_cmple_epu8_mask(_mm512_sub_epi8(v0, _mm512_set1_epi8(33)),
		                                       _mm512_set1_epi8(93)) &
		                _mm512_cmpneq_epi8_mask(v0, _mm512_set1_epi8('='));
		__mmask64 ws = _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8(' ')) |
		               _mm512_cmpeq_epi8_mask(v0, _mm512_set1_epi8('\t'));
		__mmask64 brk = _mm512_cmpeq_epi8_mask(v1, _mm512_set1_epi8('\n')) |
		                _mm512_cmpeq_epi8_mask(v1, _mm512_set1_epi8('\r'));
		__mmask64 plain = (lit | (ws & ~brk)) & m;
		if (plain != m)
			return i + (size_t)mp_ctz64(~plain);
	}
	return n;
}

static const struct mp_b64_kernels k_ssse3 = {enc_ssse3, dec_ssse3, NULL, NULL, NULL};
static const struct mp_b64_kernels k_avx2 = {enc_avx2, dec_avx2, NULL, NULL, NULL};
static const struct mp_b64_kernels k_avx512 = {enc_avx512, dec_avx512, enc76_avx512, qpdec_avx512,
                                               qpplain_avx512};

const struct mp_b64_kernels *const mp_b64_kernel_table[MP_SIMD_COUNT] = {NULL, &k_ssse3, &k_avx2,
                                                                         &k_avx512};

#else /* no SIMD in this build */

int mp_simd_cpu_has(int level)
{
	return level == MP_SIMD_SCALAR;
}

const struct mp_b64_kernels *const mp_b64_kernel_table[MP_SIMD_COUNT] = {NULL, NULL, NULL, NULL};
#endif
