/* codec: base64 / base64url (RFC 4648) and quoted-printable (RFC 2045)
 * as streaming encoders and decoders; a scalar core plus SIMD kernels
 * chosen once at run time (MAILPIPE_SIMD=scalar|ssse3|avx2|avx512). */
#ifndef MP_CODEC_H
#define MP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum mp_simd { MP_SIMD_SCALAR, MP_SIMD_SSSE3, MP_SIMD_AVX2, MP_SIMD_AVX512, MP_SIMD_COUNT };

/* The level in use: MAILPIPE_SIMD when set (and possible), else the best
 * the CPU supports. Decided on the first call. */
int mp_simd_level(void);
const char *mp_simd_name(int level);
/* Level from a name, -1 if unknown. */
int mp_simd_parse(const char *name);
/* Whether this build and this CPU can run a level. */
int mp_simd_supported(int level);
/* Force a level (tests); returns -1 when unsupported. */
int mp_simd_set(int level);

#define MP_B64_URL    0x1u /* RFC 4648 §5 alphabet: '-' and '_' */
#define MP_B64_NOPAD  0x2u /* encode without '='; decode accepts a short final block */
#define MP_B64_IGNORE 0x4u /* decode: skip every byte outside the alphabet */

/* Encoded length of n bytes (no line breaks). */
size_t mp_b64_enclen(size_t n, unsigned flags);
/* Encode n bytes as one unbroken run; returns characters written.
 * Complete 3-byte groups only unless this is the end of the data. */
size_t mp_b64_encode(const void *in, size_t n, char *out, unsigned flags);

/* Encode whole 57-byte groups as 76-column lines ending in '\n' (the MIME
 * layout); returns input bytes consumed (n rounded down to 57). out must
 * have room for the lines plus 64 bytes. */
size_t mp_b64_encode_lines76(const void *in, size_t n, char *out, unsigned flags);

struct mp_b64dec {
	unsigned flags;
	unsigned nacc; /* sextets pending in acc (0..3) */
	unsigned pad;  /* '=' seen in the current block (0..2) */
	uint32_t acc;
	long long pos;        /* input bytes consumed so far */
	long long blockstart; /* 1-based position where the pending block began */
};

void mp_b64dec_init(struct mp_b64dec *d, unsigned flags);
/* Room the output of an update over n input bytes may need. */
size_t mp_b64dec_maxout(size_t n);
/* Decode n more bytes. Only complete blocks are written. On invalid input
 * returns -1 with e->offset at the bad byte; *outlen then counts the good
 * bytes written before the block that held it. */
int mp_b64dec_update(struct mp_b64dec *d, const void *in, size_t n, void *out, size_t *outlen,
                     struct mp_err *e);
/* End of input: -1 if a block is left incomplete (or, with MP_B64_NOPAD,
 * writes the last 1-2 bytes of a short block into out). */
int mp_b64dec_final(struct mp_b64dec *d, void *out, size_t *outlen, struct mp_err *e);

#define MP_QP_CRLF   0x1u /* encode: CRLF in, CRLF out; lone CR and LF encoded */
#define MP_QP_IGNORE 0x2u /* decode: pass malformed sequences through */
#define MP_QP_LINE   76   /* maximum encoded line length, '=' included */

struct mp_qpenc {
	unsigned flags;
	unsigned col; /* characters on the current output line */
	int held;     /* a byte waiting for its successor, or -1 */
};

void mp_qpenc_init(struct mp_qpenc *q, unsigned flags);
/* Room the output of encoding n bytes may need (final included). */
size_t mp_qpenc_maxout(size_t n);
size_t mp_qpenc_update(struct mp_qpenc *q, const void *in, size_t n, char *out);
size_t mp_qpenc_final(struct mp_qpenc *q, char *out);

struct mp_qpdec {
	unsigned flags;
	int state;          /* parser state, see codec.c */
	unsigned char hex1; /* first digit of a pending =XX */
	size_t nws;         /* pending trailing-space bytes */
	char ws[1024];      /* pending white space, longer runs are refused */
	long long pos;
};

void mp_qpdec_init(struct mp_qpdec *q, unsigned flags);
size_t mp_qpdec_maxout(size_t n);
int mp_qpdec_update(struct mp_qpdec *q, const void *in, size_t n, void *out, size_t *outlen,
                    struct mp_err *e);
int mp_qpdec_final(struct mp_qpdec *q, void *out, size_t *outlen, struct mp_err *e);

/* Kernels, internal to the codec (codec_x86.c). */
struct mp_b64_kernels {
	/* encode whole 3-byte groups; returns input bytes consumed */
	size_t (*encode)(const uint8_t *in, size_t n, char *out, const char *alphabet);
	/* decode from a block boundary; returns input bytes consumed (stops
	 * early at anything but alphabet and skippable bytes) and writes
	 * *outlen bytes plus leftover sextets (<4) into acc/nacc */
	size_t (*decode)(const uint8_t *in, size_t n, uint8_t *out, size_t *outlen,
	                 struct mp_b64dec *d);
	/* MIME lines: nlines times 57 bytes into 76 characters and '\n';
	 * may store up to 64 bytes past the end of the output */
	void (*encode76)(const uint8_t *in, size_t nlines, char *out, const char *alphabet);
	/* quoted-printable text with no pending state: returns input bytes
	 * consumed, stopping before anything the state machine must see;
	 * *outlen bytes written (64 bytes of slack past them) */
	size_t (*qpdecode)(const uint8_t *in, size_t n, uint8_t *out, size_t *outlen);
	/* quoted-printable encoding: how many of the first n bytes stand for
	 * themselves (literals, and white space not before CR or LF; in[n]
	 * is read to judge the last one) */
	size_t (*qpplain)(const uint8_t *in, size_t n);
};
extern const struct mp_b64_kernels *const mp_b64_kernel_table[MP_SIMD_COUNT];
/* Value of a character: 0..63, MP_B64_SKIP or MP_B64_BAD (incl. '='). */
#define MP_B64_SKIP 0x40
#define MP_B64_BAD  0x80
const uint8_t *mp_b64_dectable(unsigned flags);
/* Whether the CPU (and OS) can run a SIMD level; codec_x86.c. */
int mp_simd_cpu_has(int level);

/* An IMAP mailbox name in modified UTF-7 (RFC 3501 5.1.3: "&-" is '&',
 * "&...-" UTF-16 in base64 with ',' for '/') appended to out as UTF-8:
 * 0, or -1 for a name that is not valid modified UTF-7 (out then holds
 * what was decoded so far). */
int mp_mutf7_decode(const char *in, struct mp_buf *out);

#endif
