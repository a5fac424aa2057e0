/* b64: base64, base64url, quoted-printable and RFC 2047 encoded-words,
 * byte-compatible with coreutils base64 on what that accepts (b64.1,
 * COMPATIBILITY, says where they differ) and fast. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "hdr.h"
#include "io.h"
#include "util.h"

struct opts {
	int decode, qp, word;
	unsigned b64flags, qpflags, hdrflags;
	size_t wrap;
	int wrap_set, crlf;
	const char *name; /* the input as named in messages */
};

/* Reads of about 128 KiB keep the kernel's copy into our buffer inside L2
 * (512 KiB reads measured 30% slower here). Encoder reads are a multiple
 * of 57 (one 76-column line) and of 48 (one AVX-512 block); tiles stay in
 * L1 while lines are copied out. */
#define ENC_CHUNK (57 * 48 * 48) /* 131328 */
#define ENC_TILE  (48 * 64)
#define DEC_CHUNK (128 * 1024)
#define WORD_MAX  (1024 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [-d] [-i] [-w COLS] [-u] [--no-padding] [FILE]\n"
	        "       %s -Q [-d] [-i] [--crlf] [FILE]\n"
	        "       %s --word [-d] [-Q] [-i] [FILE]\n"
	        "Encode or decode base64 (RFC 4648), quoted-printable (RFC 2045) or RFC 2047\n"
	        "encoded-words; FILE '-' or none is standard input.\n\n"
	        "  -d, --decode          decode (strict: the first bad byte is an error)\n"
	        "  -i, --ignore-garbage  when decoding, skip bytes outside the alphabet\n"
	        "  -w, --wrap=COLS       wrap lines after COLS characters (default 76, 0: never)\n"
	        "  -u, --url             base64url alphabet ('-' and '_')\n"
	        "      --no-padding      no '=' padding (decoding then accepts short blocks)\n"
	        "  -Q, --qp              quoted-printable instead of base64\n"
	        "      --crlf            quoted-printable with CRLF line breaks\n"
	        "      --word            RFC 2047 encoded-words (B, or Q with -Q)\n"
	        "  -h, --help            this help\n"
	        "  -V, --version         version\n",
	        mp_progname(), mp_progname(), mp_progname());
}

static void out_write(const void *p, size_t n)
{
	if (n && mp_write_full(STDOUT_FILENO, p, n) < 0)
		mp_die(mp_errno_code(errno), "stdout: %s", strerror(errno));
}

static size_t in_read(int fd, const struct opts *o, void *p, size_t n)
{
	ssize_t r = mp_read_full(fd, p, n);

	if (r < 0)
		mp_die(mp_errno_code(errno), "%s: %s", o->name, strerror(errno));
	return (size_t)r;
}

/* copy encoded text out in lines of o->wrap, carrying the column */
static size_t wrap_copy(const char *s, size_t n, char *out, size_t wrap, size_t *col)
{
	char *p = out;

	if (*col) {
		size_t k = wrap - *col < n ? wrap - *col : n;
		memcpy(p, s, k);
		p += k;
		s += k;
		n -= k;
		*col += k;
		if (*col == wrap) {
			*p++ = '\n';
			*col = 0;
		}
	}
	if (wrap == 76) {
		/* the MIME case, with a constant length the compiler inlines */
		for (; n >= 76; n -= 76, s += 76, p += 77) {
			memcpy(p, s, 76);
			p[76] = '\n';
		}
	} else {
		for (; n >= wrap; n -= wrap, s += wrap, p += wrap + 1) {
			memcpy(p, s, wrap);
			p[wrap] = '\n';
		}
	}
	memcpy(p, s, n);
	*col += n;
	return (size_t)(p + n - out);
}

static void encode_b64(int fd, const struct opts *o)
{
	size_t enclen = ENC_CHUNK / 3 * 4, col = 0;
	size_t outcap = (o->wrap ? enclen + enclen / o->wrap : enclen) + 64 + 8;
	uint8_t *in = mp_xmalloc(ENC_CHUNK + 64);
	char *tile = mp_xmalloc(ENC_TILE / 3 * 4 + 64), *out = mp_xmalloc(outcap);
	int last = 0;

	while (!last) {
		size_t n = in_read(fd, o, in, ENC_CHUNK), w = 0;
		last = n < ENC_CHUNK;
		if (!o->wrap) {
			w = mp_b64_encode(in, n, out, o->b64flags);
		} else {
			size_t i = 0;
			if (o->wrap == 76 && col == 0) {
				/* the MIME layout has a kernel of its own */
				i = mp_b64_encode_lines76(in, n, out, o->b64flags);
				w = i / 57 * 77;
			}
			for (; i < n; i += ENC_TILE) {
				size_t t = n - i < ENC_TILE ? n - i : ENC_TILE;
				size_t len = mp_b64_encode(in + i, t, tile, o->b64flags);
				w += wrap_copy(tile, len, out + w, o->wrap, &col);
			}
		}
		if (last && col)
			out[w++] = '\n';
		out_write(out, w);
	}
	free(in);
	free(tile);
	free(out);
}

/* On invalid input: write what was good, then say where, exit 65. */
static MP_NORETURN void bad_input(const struct opts *o, const void *good, size_t n,
                                  const struct mp_err *e)
{
	out_write(good, n);
	mp_die_err(o->name, e);
}

static void decode_b64(int fd, const struct opts *o)
{
	struct mp_b64dec d;
	struct mp_err e;
	uint8_t *in = mp_xmalloc(DEC_CHUNK), *out = mp_xmalloc(mp_b64dec_maxout(DEC_CHUNK));
	size_t n, w;

	mp_err_clear(&e);
	mp_b64dec_init(&d, o->b64flags);
	while ((n = in_read(fd, o, in, DEC_CHUNK)) > 0) {
		if (mp_b64dec_update(&d, in, n, out, &w, &e) < 0)
			bad_input(o, out, w, &e);
		out_write(out, w);
		if (n < DEC_CHUNK)
			break;
	}
	if (mp_b64dec_final(&d, out, &w, &e) < 0)
		bad_input(o, out, w, &e);
	out_write(out, w);
	free(in);
	free(out);
}

static void encode_qp(int fd, const struct opts *o)
{
	struct mp_qpenc q;
	uint8_t *in = mp_xmalloc(DEC_CHUNK);
	char *out = mp_xmalloc(mp_qpenc_maxout(DEC_CHUNK));
	size_t n;

	mp_qpenc_init(&q, o->qpflags);
	while ((n = in_read(fd, o, in, DEC_CHUNK)) > 0) {
		out_write(out, mp_qpenc_update(&q, in, n, out));
		if (n < DEC_CHUNK)
			break;
	}
	out_write(out, mp_qpenc_final(&q, out));
	free(in);
	free(out);
}

static void decode_qp(int fd, const struct opts *o)
{
	struct mp_qpdec q;
	struct mp_err e;
	uint8_t *in = mp_xmalloc(DEC_CHUNK), *out = mp_xmalloc(mp_qpdec_maxout(DEC_CHUNK));
	size_t n, w;

	mp_err_clear(&e);
	mp_qpdec_init(&q, o->qpflags);
	while ((n = in_read(fd, o, in, DEC_CHUNK)) > 0) {
		if (mp_qpdec_update(&q, in, n, out, &w, &e) < 0)
			bad_input(o, out, w, &e);
		out_write(out, w);
		if (n < DEC_CHUNK)
			break;
	}
	if (mp_qpdec_final(&q, out, &w, &e) < 0)
		bad_input(o, out, w, &e);
	out_write(out, w);
	free(in);
	free(out);
}

/* --word: header text is small; read it whole, with a bound */
static void run_word(int fd, const struct opts *o)
{
	struct mp_buf in = MP_BUF_INIT, out = MP_BUF_INIT;
	struct mp_err e;
	size_t n;

	mp_err_clear(&e);
	if (mp_buf_reserve(&in, WORD_MAX + 1) < 0)
		mp_die(EX_TEMPFAIL, "out of memory");
	n = in_read(fd, o, in.data, WORD_MAX + 1);
	if (n > WORD_MAX)
		mp_die(EX_DATAERR, "%s: longer than %d bytes, not a header value", o->name,
		       WORD_MAX);
	in.len = n;
	if (!o->decode) {
		/* the line break echo or a here-document adds is not text */
		if (n && in.data[n - 1] == '\n') {
			n--;
			if (n && in.data[n - 1] == '\r')
				n--;
		}
		if (mp_hdr_encode_words(in.data, n, o->hdrflags, &out, &e) < 0)
			mp_die_err(o->name, &e);
		if (n)
			mp_buf_putc(&out, '\n');
	} else {
		/* unfold (a line break before a space or tab goes), then
		 * decode each logical line */
		size_t w = 0, start = 0;
		for (size_t i = 0; i < n; i++) {
			if (in.data[i] == '\r' && i + 1 < n && in.data[i + 1] == '\n')
				continue;
			if (in.data[i] == '\n' && i + 1 < n &&
			    (in.data[i + 1] == ' ' || in.data[i + 1] == '\t'))
				continue;
			in.data[w++] = in.data[i];
		}
		for (size_t i = 0; i <= w; i++) {
			if (i < w && in.data[i] != '\n')
				continue;
			if (i == w && start == w)
				break;
			if (mp_hdr_decode_words(in.data + start, i - start, o->hdrflags, &out, &e) <
			    0)
				mp_die_err(o->name, &e);
			mp_buf_putc(&out, '\n');
			start = i + 1;
		}
	}
	out_write(out.data, out.len);
	mp_buf_free(&in);
	mp_buf_free(&out);
}

/* Bigger pipe buffers mean fewer wake-ups on both ends of a pipeline. */
static void grow_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, 1024 * 1024);
#else
	(void)fd;
#endif
}

static void version(void)
{
	printf("%s (mailpipe) %s\nsimd: %s (available:", mp_progname(), MP_VERSION,
	       mp_simd_name(mp_simd_level()));
	for (int l = 0; l < MP_SIMD_COUNT; l++)
		if (mp_simd_supported(l))
			printf(" %s", mp_simd_name(l));
	printf(")\n");
}

static size_t parse_wrap(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '-' || *s == '\0' || *end || errno || v > 1000000000ULL)
		mp_die(EX_USAGE, "invalid wrap size: '%s'", s);
	return (size_t)v;
}

enum { OPT_NOPAD = 256, OPT_CRLF, OPT_WORD };

/* the options into o; returns the index of the first operand */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {{"decode", no_argument, NULL, 'd'},
	                                         {"ignore-garbage", no_argument, NULL, 'i'},
	                                         {"wrap", required_argument, NULL, 'w'},
	                                         {"url", no_argument, NULL, 'u'},
	                                         {"no-padding", no_argument, NULL, OPT_NOPAD},
	                                         {"qp", no_argument, NULL, 'Q'},
	                                         {"crlf", no_argument, NULL, OPT_CRLF},
	                                         {"word", no_argument, NULL, OPT_WORD},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {"version", no_argument, NULL, 'V'},
	                                         {NULL, 0, NULL, 0}};
	int c;

	opterr = 0; /* one line of our own, not getopt's plus the usage */
	while ((c = getopt_long(argc, argv, ":diw:uQhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->decode = 1; break;
		case 'i':
			o->b64flags |= MP_B64_IGNORE;
			o->qpflags |= MP_QP_IGNORE;
			o->hdrflags |= MP_HDR_IGNORE;
			break;
		case 'w':
			o->wrap = parse_wrap(optarg);
			o->wrap_set = 1;
			break;
		case 'u': o->b64flags |= MP_B64_URL; break;
		case OPT_NOPAD: o->b64flags |= MP_B64_NOPAD; break;
		case 'Q':
			o->qp = 1;
			o->hdrflags |= MP_HDR_Q;
			break;
		case OPT_CRLF:
			o->crlf = 1;
			o->qpflags |= MP_QP_CRLF;
			break;
		case OPT_WORD: o->word = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': version(); exit(0);
		default: mp_getopt_fail(c, argv, optind, optopt);
		}
	}
	if (argc - optind > 1)
		mp_die(EX_USAGE, "extra operand '%s'", argv[optind + 1]);
	if ((o->qp || o->word) && (o->wrap_set || (o->b64flags & (MP_B64_URL | MP_B64_NOPAD))))
		mp_die(EX_USAGE, "-w, --url and --no-padding apply to base64 only");
	if (o->crlf && (!o->qp || o->word))
		mp_die(EX_USAGE, "--crlf needs --qp");
	return optind;
}

/* the input: FILE, or the standard input for none or '-' */
static int open_input(const char *path, struct opts *o)
{
	int fd;

	if (!path || strcmp(path, "-") == 0)
		return STDIN_FILENO;
	o->name = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		mp_die(errno == ENOENT || errno == EACCES ? EX_NOINPUT : EX_IOERR, "%s: %s", path,
		       strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	struct opts o = {.wrap = 76, .name = "stdin"};
	int first, fd;

	mp_setprogname(argv[0]);
	first = parse_args(argc, argv, &o);
	fd = open_input(first < argc ? argv[first] : NULL, &o);
	grow_pipe(fd);
	grow_pipe(STDOUT_FILENO);
	if (o.word)
		run_word(fd, &o);
	else if (o.qp)
		(o.decode ? decode_qp : encode_qp)(fd, &o);
	else
		(o.decode ? decode_b64 : encode_b64)(fd, &o);
	return 0;
}
