#include "codec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- dispatch */

/* threads may ask at once (mparse decodes headers on several) */
static atomic_int simd_level = -1;

int mp_simd_supported(int level)
{
	if (level == MP_SIMD_SCALAR)
		return 1;
	if (level <= MP_SIMD_SCALAR || level >= MP_SIMD_COUNT || !mp_b64_kernel_table[level])
		return 0;
	return mp_simd_cpu_has(level);
}

const char *mp_simd_name(int level)
{
	static const char *const names[MP_SIMD_COUNT] = {"scalar", "ssse3", "avx2", "avx512"};

	return level >= 0 && level < MP_SIMD_COUNT ? names[level] : "?";
}

int mp_simd_parse(const char *name)
{
	for (int i = 0; i < MP_SIMD_COUNT; i++)
		if (strcmp(name, mp_simd_name(i)) == 0)
			return i;
	return -1;
}

int mp_simd_level(void)
{
	const char *env;
	int l;

	if ((l = atomic_load_explicit(&simd_level, memory_order_relaxed)) >= 0)
		return l;
	env = getenv("MAILPIPE_SIMD");
	if (env && *env) {
		l = mp_simd_parse(env);
		/* an unknown or impossible request falls back to the best
		 * level below it rather than failing the whole tool */
		if (l < 0)
			l = MP_SIMD_COUNT - 1;
	} else {
		l = MP_SIMD_COUNT - 1;
	}
	while (l > MP_SIMD_SCALAR && !mp_simd_supported(l))
		l--;
	atomic_store_explicit(&simd_level, l, memory_order_relaxed);
	return l;
}

int mp_simd_set(int level)
{
	if (!mp_simd_supported(level))
		return -1;
	atomic_store_explicit(&simd_level, level, memory_order_relaxed);
	return 0;
}

/* ---------------------------------------------------------------- base64 */

static const char b64_std[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* [url + 2 * ignore] -> 256-entry value table, built once (by one
 * thread, the others wait for it) */
static uint8_t dectables[4][256];
static pthread_once_t dectables_once = PTHREAD_ONCE_INIT;

static void build_dectables(void)
{
	for (unsigned f = 0; f < 4; f++) {
		const char *alpha = (f & 1) ? b64_url : b64_std;
		uint8_t *t = dectables[f];

		memset(t, (f & 2) ? MP_B64_SKIP : MP_B64_BAD, 256);
		t['='] = MP_B64_BAD;
		if (!(f & 2)) {
			t['\n'] = MP_B64_SKIP;
			t['\r'] = MP_B64_SKIP;
		}
		for (int i = 0; i < 64; i++)
			t[(unsigned char)alpha[i]] = (uint8_t)i;
	}
}

const uint8_t *mp_b64_dectable(unsigned flags)
{
	pthread_once(&dectables_once, build_dectables);
	return dectables[((flags & MP_B64_URL) ? 1 : 0) | ((flags & MP_B64_IGNORE) ? 2 : 0)];
}

size_t mp_b64_enclen(size_t n, unsigned flags)
{
	size_t full = n / 3 * 4;

	if (n % 3 == 0)
		return full;
	return full + ((flags & MP_B64_NOPAD) ? n % 3 + 1 : 4);
}

static size_t encode_scalar(const uint8_t *in, size_t n, char *out, const char *a)
{
	size_t i = 0;
	char *o = out;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		o[0] = a[v >> 18];
		o[1] = a[(v >> 12) & 63];
		o[2] = a[(v >> 6) & 63];
		o[3] = a[v & 63];
		o += 4;
	}
	return i;
}

size_t mp_b64_encode(const void *inp, size_t n, char *out, unsigned flags)
{
	const uint8_t *in = inp;
	const char *a = (flags & MP_B64_URL) ? b64_url : b64_std;
	const struct mp_b64_kernels *k = mp_b64_kernel_table[mp_simd_level()];
	size_t i = 0, rest;
	char *o = out;

	if (k)
		i = k->encode(in, n, o, a);
	o += i / 3 * 4;
	i += encode_scalar(in + i, n - i, o, a);
	o = out + i / 3 * 4;
	rest = n - i;
	if (rest) {
		uint32_t v = (uint32_t)in[i] << 16 | (rest == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		*o++ = a[v >> 18];
		*o++ = a[(v >> 12) & 63];
		if (rest == 2)
			*o++ = a[(v >> 6) & 63];
		if (!(flags & MP_B64_NOPAD)) {
			if (rest == 1)
				*o++ = '=';
			*o++ = '=';
		}
	}
	return (size_t)(o - out);
}

size_t mp_b64_encode_lines76(const void *inp, size_t n, char *out, unsigned flags)
{
	const uint8_t *in = inp;
	const char *a = (flags & MP_B64_URL) ? b64_url : b64_std;
	const struct mp_b64_kernels *k = mp_b64_kernel_table[mp_simd_level()];
	size_t lines = n / 57;

	if (k && k->encode76) {
		k->encode76(in, lines, out, a);
		return lines * 57;
	}
	for (size_t l = 0; l < lines; l++) {
		mp_b64_encode(in + 57 * l, 57, out + 77 * l, flags & MP_B64_URL);
		out[77 * l + 76] = '\n';
	}
	return lines * 57;
}

void mp_b64dec_init(struct mp_b64dec *d, unsigned flags)
{
	memset(d, 0, sizeof *d);
	d->flags = flags;
}

size_t mp_b64dec_maxout(size_t n)
{
	/* 3 bytes per 4 chars, plus what pending sextets complete, plus the
	 * slack SIMD stores write past the end */
	return n / 4 * 3 + 6 + 64;
}

static void put_acc(struct mp_b64dec *d, uint8_t *o)
{
	o[0] = (uint8_t)(d->acc >> 16);
	o[1] = (uint8_t)(d->acc >> 8);
	o[2] = (uint8_t)d->acc;
}

/* One input byte through the block state machine. Returns bytes written
 * (0..3) or -1 when c cannot appear here. */
static int dec_byte(struct mp_b64dec *d, const uint8_t *tab, uint8_t c, uint8_t *o)
{
	uint8_t v = tab[c];

	if (v < 64) {
		if (d->pad)
			return -1;
		d->acc = d->acc << 6 | v;
		if (++d->nacc == 4) {
			put_acc(d, o);
			d->nacc = 0;
			d->acc = 0;
			return 3;
		}
		return 0;
	}
	if (v == MP_B64_SKIP)
		return 0;
	if (c != '=' || d->nacc < 2)
		return -1;
	if (d->nacc + ++d->pad < 4)
		return 0;
	/* "xx==" or "xxx=": the block ends here */
	int n = (int)d->nacc - 1;
	d->acc <<= 6 * (4 - d->nacc);
	put_acc(d, o);
	d->nacc = d->pad = 0;
	d->acc = 0;
	return n;
}

int mp_b64dec_update(struct mp_b64dec *d, const void *inp, size_t n, void *outp, size_t *outlen,
                     struct mp_err *e)
{
	const uint8_t *in = inp, *tab = mp_b64_dectable(d->flags);
	const struct mp_b64_kernels *k = mp_b64_kernel_table[mp_simd_level()];
	uint8_t *out = outp;
	size_t i = 0, o = 0, lim;
	int r;

	while (i < n) {
		if (k && d->pad == 0 && n - i >= 64) {
			size_t ol = 0, c = k->decode(in + i, n - i, out + o, &ol, d);
			i += c;
			o += ol;
		}
		/* the scalar loop takes a block the kernel stopped at, the
		 * tail, or everything when there is no kernel */
		lim = k ? (n - i > 64 ? i + 64 : n) : n;
		for (; i < lim; i++) {
			r = dec_byte(d, tab, in[i], out + o);
			if (r < 0) {
				d->pos += (long long)i;
				*outlen = o;
				mp_err_set(e, EX_DATAERR, "invalid input at byte %lld", d->pos + 1);
				if (e)
					e->offset = d->pos + 1;
				return -1;
			}
			o += (size_t)r;
		}
		/* finish an open block before handing back to the kernel */
		while (k && i < n && d->pad) {
			r = dec_byte(d, tab, in[i], out + o);
			if (r < 0)
				break; /* reported by the next pass */
			o += (size_t)r;
			i++;
		}
	}
	d->pos += (long long)n;
	*outlen = o;
	return 0;
}

int mp_b64dec_final(struct mp_b64dec *d, void *outp, size_t *outlen, struct mp_err *e)
{
	uint8_t *out = outp;

	*outlen = 0;
	if (d->nacc == 0 && d->pad == 0)
		return 0;
	if ((d->flags & MP_B64_NOPAD) && d->nacc >= 2) {
		size_t n = d->nacc - 1;
		d->acc <<= 6 * (4 - d->nacc);
		put_acc(d, out);
		*outlen = n;
		d->nacc = d->pad = 0;
		return 0;
	}
	mp_err_set(e, EX_DATAERR, "incomplete final block at byte %lld", d->pos);
	if (e)
		e->offset = d->pos;
	return -1;
}

/* ---------------------------------------------------------------- quoted-printable */

static const char hexdig[] = "0123456789ABCDEF";

/* Encoder tables: the bytes a byte becomes (literal, or "=XX") and how
 * many; 0 marks the bytes that depend on their neighbour (space, tab, CR,
 * LF). Decoder tables: the class of a byte and the value of a hex digit. */
static uint8_t qp_tok[256][4], qp_len[256], qp_fastlen[256];
/* qp_ws: space or tab; qp_brk: CR or LF (a space before one is encoded);
 * qp_fast/qp_next: a decoder byte that is copied as is (bit 1 always,
 * bit 2 for white space that the next byte shows is not trailing) */
static uint8_t qp_ws[256], qp_brk[256], qp_fast[256], qp_next[256];
enum { QC_LIT, QC_EQ, QC_WS, QC_LF, QC_CR, QC_BAD };
static uint8_t qp_cls[256];
static int8_t hexval[256];
static pthread_once_t qp_once = PTHREAD_ONCE_INIT;

static void qp_init_tables(void)
{
	for (int c = 0; c < 256; c++) {
		int lit = c >= 33 && c <= 126 && c != '=';
		qp_tok[c][0] = lit ? (uint8_t)c : '=';
		qp_tok[c][1] = (uint8_t)hexdig[c >> 4];
		qp_tok[c][2] = (uint8_t)hexdig[c & 15];
		qp_len[c] = lit ? 1 : 3;
		qp_cls[c] = lit ? QC_LIT : QC_BAD;
		hexval[c] = -1;
	}
	memcpy(qp_fastlen, qp_len, sizeof qp_len);
	qp_len[' '] = qp_len['\t'] = qp_len['\r'] = qp_len['\n'] = 0;
	qp_tok[' '][0] = ' ';
	qp_tok['\t'][0] = '\t';
	qp_fastlen[' '] = qp_fastlen['\t'] = 1;
	qp_fastlen['\r'] = qp_fastlen['\n'] = 0;
	qp_ws[' '] = qp_ws['\t'] = 1;
	qp_brk['\r'] = qp_brk['\n'] = 1;
	qp_cls['='] = QC_EQ;
	qp_cls[' '] = qp_cls['\t'] = QC_WS;
	qp_cls['\n'] = QC_LF;
	qp_cls['\r'] = QC_CR;
	for (int c = 0; c < 256; c++) {
		qp_fast[c] = qp_cls[c] == QC_LIT || qp_cls[c] == QC_LF ? 1
		             : qp_cls[c] == QC_WS                      ? 2
		                                                       : 0;
		qp_next[c] = qp_cls[c] == QC_LIT || qp_cls[c] == QC_EQ ? 3 : 1;
	}
	for (int k = 0; k < 16; k++) {
		hexval[(unsigned char)hexdig[k]] = (int8_t)k;
		if (k >= 10)
			hexval['a' + k - 10] = (int8_t)k;
	}
}

void mp_qpenc_init(struct mp_qpenc *q, unsigned flags)
{
	memset(q, 0, sizeof *q);
	q->flags = flags;
	q->held = -1;
	pthread_once(&qp_once, qp_init_tables);
}

size_t mp_qpenc_maxout(size_t n)
{
	/* worst case: every byte as =XX, a soft break (3 bytes with CRLF)
	 * every 25 escapes, plus a held byte, the final soft break and the
	 * spare byte the 4-byte token stores write */
	return n * 3 + (n / 25 + 2) * 3 + 16;
}

static size_t qp_softbreak(struct mp_qpenc *q, char *o)
{
	size_t n = 0;

	o[n++] = '=';
	if (q->flags & MP_QP_CRLF)
		o[n++] = '\r';
	o[n++] = '\n';
	q->col = 0;
	return n;
}

/* put one token (a literal byte or an escape) on the line */
static size_t qp_put(struct mp_qpenc *q, int c, int escape, char *o)
{
	size_t n = 0;
	unsigned len = escape ? 3 : 1;

	if (q->col + len > MP_QP_LINE - 1)
		n = qp_softbreak(q, o);
	if (escape) {
		o[n++] = '=';
		o[n++] = hexdig[(unsigned char)c >> 4];
		o[n++] = hexdig[c & 15];
	} else {
		o[n++] = (char)c;
	}
	q->col += len;
	return n;
}

static size_t qp_hardbreak(struct mp_qpenc *q, char *o)
{
	size_t n = 0;

	if (q->flags & MP_QP_CRLF)
		o[n++] = '\r';
	o[n++] = '\n';
	q->col = 0;
	return n;
}

/* Encode byte c knowing its successor (next, or -1 at the end). Returns
 * bytes written; *ate is set when c and next formed one CRLF. */
static size_t qp_one(struct mp_qpenc *q, int c, int next, char *o, int *ate)
{
	int crlf = q->flags & MP_QP_CRLF;

	*ate = 0;
	if (qp_len[c])
		return qp_put(q, c, qp_len[c] == 3, o);
	if (c == ' ' || c == '\t') /* whitespace at a line end would not survive */
		return qp_put(q, c, next < 0 || next == '\n' || next == '\r', o);
	if (c == '\n' && !crlf)
		return qp_hardbreak(q, o);
	if (c == '\r' && crlf && next == '\n') {
		*ate = 1;
		return qp_hardbreak(q, o);
	}
	return qp_put(q, c, 1, o);
}

static int qp_needs_next(struct mp_qpenc *q, int c)
{
	return c == ' ' || c == '\t' || (c == '\r' && (q->flags & MP_QP_CRLF));
}

size_t mp_qpenc_update(struct mp_qpenc *q, const void *inp, size_t n, char *out)
{
	const struct mp_b64_kernels *k = mp_b64_kernel_table[mp_simd_level()];
	size_t (*plain)(const uint8_t *, size_t) = k ? k->qpplain : NULL;
	const uint8_t *in = inp;
	size_t i = 0, o = 0;
	int ate;

	if (n == 0)
		return 0;
	if (q->held >= 0) {
		o += qp_one(q, q->held, in[0], out, &ate);
		q->held = -1;
		i = (size_t)ate;
	}
	while (i < n) {
		/* fast path: while any token still fits on the line, copy
		 * each byte's token with one 4-byte store; only line breaks
		 * and white space before one leave it */
		unsigned col = q->col; /* a local: out may alias *q */
		while (i + 1 < n && col <= MP_QP_LINE - 4) {
			unsigned c = in[i], l = qp_fastlen[c];
			if (plain && col == 0 && l == 1) {
				/* text: a line's run of literals in one go (binary
				 * data, with short runs, stays on the byte loop) */
				size_t room = MP_QP_LINE - 1 - col, left = n - 1 - i;
				size_t run = plain(in + i, room < left ? room : left);
				memcpy(out + o, in + i, run);
				o += run;
				col += (unsigned)run;
				i += run;
				if (run)
					continue;
			}
			if (MP_UNLIKELY(!l || (qp_ws[c] & qp_brk[in[i + 1]]))) {
				if (c != '\n' || (q->flags & MP_QP_CRLF))
					break;
				out[o++] = '\n'; /* a hard break, once a line */
				col = 0;
				i++;
				continue;
			}
			memcpy(out + o, qp_tok[c], 4);
			o += l;
			col += l;
			i++;
		}
		q->col = col;
		if (i == n)
			break;
		int c = in[i];
		if (i + 1 == n && qp_needs_next(q, c)) {
			q->held = c;
			break;
		}
		o += qp_one(q, c, i + 1 < n ? in[i + 1] : -1, out + o, &ate);
		i += 1 + (size_t)ate;
	}
	return o;
}

size_t mp_qpenc_final(struct mp_qpenc *q, char *out)
{
	size_t o = 0;
	int ate;

	if (q->held >= 0) {
		o += qp_one(q, q->held, -1, out, &ate);
		q->held = -1;
	}
	/* end with a line break; a soft one keeps the data exact */
	if (q->col > 0)
		o += qp_softbreak(q, out + o);
	return o;
}

enum { QD_TEXT, QD_EQ, QD_HEX, QD_EQWS, QD_EQCR, QD_CR };

void mp_qpdec_init(struct mp_qpdec *q, unsigned flags)
{
	memset(q, 0, sizeof *q);
	q->flags = flags;
	q->state = QD_TEXT;
	pthread_once(&qp_once, qp_init_tables);
}

size_t mp_qpdec_maxout(size_t n)
{
	/* pending white space, and the slack of the kernels' stores */
	return n + sizeof(((struct mp_qpdec *)0)->ws) + 8 + 64;
}

static size_t qp_flushws(struct mp_qpdec *q, uint8_t *o)
{
	size_t n = q->nws;

	memcpy(o, q->ws, n);
	q->nws = 0;
	return n;
}

int mp_qpdec_update(struct mp_qpdec *q, const void *inp, size_t n, void *outp, size_t *outlen,
                    struct mp_err *e)
{
	const uint8_t *in = inp;
	uint8_t *out = outp;
	int ign = (q->flags & MP_QP_IGNORE) != 0;
	size_t i = 0, o = 0;

	while (i < n) {
		if (q->state == QD_TEXT && q->nws == 0) {
			const struct mp_b64_kernels *k = mp_b64_kernel_table[mp_simd_level()];
			size_t lim = n;
			if (k && k->qpdecode) {
				size_t ol;
				i += k->qpdecode(in + i, n - i, out + o, &ol);
				o += ol;
				/* the scalar loop takes a bounded stretch, then
				 * the kernel gets another go */
				lim = n - i > 64 ? i + 64 : n;
			}
			/* fast path for what well-formed text is made of:
			 * literals, line breaks, "=XX", white space inside a
			 * line; anything else is left to the state machine */
			while (i < lim && i + 2 < n) {
				unsigned c = in[i];
				if (qp_fast[c] & qp_next[in[i + 1]]) {
					out[o++] = (uint8_t)c;
					i++;
				} else if (c == '=' &&
				           (hexval[in[i + 1]] | hexval[in[i + 2]]) >= 0) {
					out[o++] =
					    (uint8_t)(hexval[in[i + 1]] << 4 | hexval[in[i + 2]]);
					i += 3;
				} else if (c == '\r' && in[i + 1] == '\n') {
					out[o++] = '\r';
					out[o++] = '\n';
					i += 2;
				} else {
					/* a run of white space inside a line */
					size_t j = i;
					while (j < n && qp_ws[in[j]])
						j++;
					if (j == i || j == n || qp_next[in[j]] != 3)
						break;
					memcpy(out + o, in + i, j - i);
					o += j - i;
					i = j;
				}
			}
			if (i == n)
				break;
			if (lim < n && i >= lim)
				continue;
		}
		int c = in[i], h;

		switch (q->state) {
		case QD_TEXT:
			switch (qp_cls[c]) {
			case QC_LIT:
				if (q->nws)
					o += qp_flushws(q, out + o);
				out[o++] = (uint8_t)c;
				break;
			case QC_WS:
				if (q->nws == sizeof q->ws) {
					/* longer than any line may be: not
					 * padding a transport added */
					if (!ign)
						goto toolong;
					o += qp_flushws(q, out + o);
				}
				q->ws[q->nws++] = (char)c;
				break;
			case QC_LF:
				q->nws = 0; /* trailing whitespace is transport noise */
				out[o++] = '\n';
				break;
			case QC_CR: q->state = QD_CR; break;
			case QC_EQ:
				if (q->nws)
					o += qp_flushws(q, out + o);
				q->state = QD_EQ;
				break;
			default:
				if (!ign)
					goto bad;
				if (q->nws)
					o += qp_flushws(q, out + o);
				out[o++] = (uint8_t)c;
				break;
			}
			break;
		case QD_CR:
			if (c == '\n') {
				q->nws = 0;
				out[o++] = '\r';
				out[o++] = '\n';
				q->state = QD_TEXT;
				break;
			}
			if (!ign)
				goto bad_prev;
			o += qp_flushws(q, out + o);
			out[o++] = '\r';
			q->state = QD_TEXT;
			continue; /* c again, as text */
		case QD_EQ:
			if ((h = hexval[c]) >= 0) {
				q->hex1 = (unsigned char)c;
				q->state = QD_HEX;
			} else if (c == ' ' || c == '\t') {
				q->ws[q->nws++] = (char)c; /* empty since the '=' */
				q->state = QD_EQWS;
			} else if (c == '\r') {
				q->state = QD_EQCR;
			} else if (c == '\n') {
				q->state = QD_TEXT;
			} else if (ign) {
				out[o++] = '=';
				q->state = QD_TEXT;
				continue;
			} else {
				goto bad;
			}
			break;
		case QD_HEX:
			if ((h = hexval[c]) >= 0) {
				out[o++] = (uint8_t)(hexval[q->hex1] << 4 | h);
				q->state = QD_TEXT;
				break;
			}
			if (!ign)
				goto bad;
			out[o++] = '=';
			out[o++] = q->hex1;
			q->state = QD_TEXT;
			continue;
		case QD_EQWS:
			if (c == ' ' || c == '\t') {
				if (q->nws == sizeof q->ws && !ign)
					goto toolong;
				if (q->nws == sizeof q->ws) {
					out[o++] = '=';
					o += qp_flushws(q, out + o);
					q->state = QD_TEXT;
					continue;
				}
				q->ws[q->nws++] = (char)c;
				break;
			}
			/* fall through */
		case QD_EQCR:
			if (c == '\n') { /* a soft break: it and its spaces go */
				q->nws = 0;
				q->state = QD_TEXT;
				break;
			}
			if (c == '\r' && q->state == QD_EQWS) {
				q->state = QD_EQCR;
				break;
			}
			if (!ign)
				goto bad;
			out[o++] = '=';
			o += qp_flushws(q, out + o);
			if (q->state == QD_EQCR)
				out[o++] = '\r';
			q->state = QD_TEXT;
			continue;
		}
		i++;
	}
	q->pos += (long long)n;
	*outlen = o;
	return 0;
toolong:
	q->pos += (long long)i;
	*outlen = o;
	mp_err_set(e, EX_DATAERR, "white space run longer than %zu bytes at byte %lld",
	           sizeof q->ws, q->pos + 1);
	if (e)
		e->offset = q->pos + 1;
	return -1;
bad_prev:
	/* the offending byte was the CR before this one */
	if (i == 0)
		q->pos -= 1;
	else
		i--;
bad:
	/* what came before the bad byte was good, spaces included */
	if (q->state == QD_TEXT || q->state == QD_CR)
		o += qp_flushws(q, out + o);
	q->pos += (long long)i;
	*outlen = o;
	mp_err_set(e, EX_DATAERR, "invalid quoted-printable at byte %lld", q->pos + 1);
	if (e)
		e->offset = q->pos + 1;
	return -1;
}

int mp_qpdec_final(struct mp_qpdec *q, void *outp, size_t *outlen, struct mp_err *e)
{
	uint8_t *out = outp;
	size_t o = 0;

	*outlen = 0;
	switch (q->state) {
	case QD_TEXT:
	case QD_EQ: /* "=" at the end: a soft break before the end */
	case QD_EQWS:
	case QD_EQCR: break;
	case QD_CR:
	case QD_HEX:
		if (!(q->flags & MP_QP_IGNORE)) {
			mp_err_set(e, EX_DATAERR, "incomplete quoted-printable at byte %lld",
			           q->pos);
			if (e)
				e->offset = q->pos;
			return -1;
		}
		if (q->state == QD_CR) {
			o += qp_flushws(q, out + o);
			out[o++] = '\r';
		} else {
			out[o++] = '=';
			out[o++] = q->hex1;
		}
		break;
	}
	q->nws = 0; /* trailing whitespace at the very end goes */
	q->state = QD_TEXT;
	*outlen = o;
	return 0;
}

/* ---------------------------------------------------------------- modified UTF-7 */

static int mutf7_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == ',' ? 63 : -1;
}

static void utf8_put(struct mp_buf *out, unsigned long cp)
{
	char u[4];

	mp_buf_append(out, u, mp_utf8_encode(cp, u));
}

int mp_mutf7_decode(const char *in, struct mp_buf *out)
{
	for (const char *p = in; *p;) {
		if (*p != '&') {
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7E)
				return -1; /* not printable US-ASCII: no modified UTF-7 */
			mp_buf_putc(out, *p++);
			continue;
		}
		if (*++p == '-') {
			mp_buf_putc(out, '&');
			p++;
			continue;
		}
		unsigned long bits = 0, hi = 0;
		int nbits = 0, units = 0;
		for (; *p && *p != '-'; p++) {
			int v = mutf7_val(*p);
			if (v < 0)
				return -1;
			bits = (bits << 6 | (unsigned)v) & 0xFFFFFF;
			if ((nbits += 6) < 16)
				continue;
			nbits -= 16;
			unsigned long u = bits >> nbits & 0xFFFF;
			units++;
			if (hi) { /* the second half of a surrogate pair */
				if (u < 0xDC00 || u > 0xDFFF)
					return -1;
				utf8_put(out, 0x10000 + ((hi - 0xD800) << 10) + (u - 0xDC00));
				hi = 0;
			} else if (u >= 0xD800 && u <= 0xDBFF) {
				hi = u;
			} else if ((u >= 0xDC00 && u <= 0xDFFF) || (u >= 0x20 && u <= 0x7E)) {
				return -1; /* a lone low half, or ASCII that needed no shift */
			} else {
				utf8_put(out, u);
			}
		}
		/* "-" ends it; the bits left over are padding, zero and short */
		if (*p != '-' || !units || hi || nbits >= 6 || (bits & ((1ul << nbits) - 1)))
			return -1;
		p++;
	}
	return 0;
}
