#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *progname = "mailpipe";

void mp_err_clear(struct mp_err *e)
{
	if (e)
		memset(e, 0, sizeof *e);
}

MP_VPRINTF(3) static void err_vset(struct mp_err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int mp_err_set(struct mp_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int mp_err_sys(struct mp_err *e, int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	if (!e)
		return -1;
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int mp_errno_code(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
	case EINTR:
	case EAGAIN:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
	case ETIMEDOUT:
	case EIO: /* a disk or network hiccup: worth another try */ return EX_TEMPFAIL;
	case EACCES:
	case EPERM: return EX_NOPERM;
	default: return EX_IOERR;
	}
}

void mp_setprogname(const char *argv0)
{
	const char *s;

	if (!argv0 || !*argv0)
		return;
	s = strrchr(argv0, '/');
	progname = s ? s + 1 : argv0;
}

const char *mp_progname(void)
{
	return progname;
}

static _Thread_local FILE *warn_file;

FILE *mp_warn_file(void)
{
	return warn_file ? warn_file : stderr;
}

void mp_warn_to(FILE *f)
{
	warn_file = f;
}

MP_VPRINTF(1) static void vwarn(const char *fmt, va_list ap)
{
	char line[1024];
	FILE *f = mp_warn_file();

	vsnprintf(line, sizeof line, fmt, ap);
	/* the message may quote what a server, a mail or DNS said */
	fprintf(f, "%s: ", progname);
	mp_term_printf(f, "%s\n", line);
}

void mp_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

static void (*die_hook)(int, const char *);

void mp_set_die_hook(void (*hook)(int code, const char *msg))
{
	die_hook = hook;
}

void mp_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (die_hook) {
		char line[1024];
		va_list aq;
		va_copy(aq, ap);
		vsnprintf(line, sizeof line, fmt, aq);
		va_end(aq);
		void (*hook)(int, const char *) = die_hook;
		die_hook = NULL; /* once: the hook itself may die */
		hook(code, line);
	}
	vwarn(fmt, ap);
	va_end(ap);
	exit(code);
}

const char *mp_exit_name(int code)
{
	static const char *const names[] = {
	    "EX_USAGE",       "EX_DATAERR",  "EX_NOINPUT",  "EX_NOUSER", "EX_NOHOST",
	    "EX_UNAVAILABLE", "EX_SOFTWARE", "EX_OSERR",    "EX_OSFILE", "EX_CANTCREAT",
	    "EX_IOERR",       "EX_TEMPFAIL", "EX_PROTOCOL", "EX_NOPERM", "EX_CONFIG"};

	if (code == 0)
		return "EX_OK";
	if (code >= EX__BASE && code <= EX__MAX)
		return names[code - EX__BASE];
	return "EX_SOFTWARE";
}

void mp_die_err(const char *context, const struct mp_err *e)
{
	int code = e->code ? e->code : EX_SOFTWARE;

	if (context)
		mp_die(code, "%s: %s", context, e->msg);
	mp_die(code, "%s", e->msg);
}

void mp_getopt_fail(int c, char *const *argv, int optind, int optopt)
{
	const char *arg = argv[optind - 1];
	size_t n = strcspn(arg, "=");

	int is_long = arg[0] == '-' && arg[1] == '-';

	if (c == ':')
		mp_die(EX_USAGE, "option '%.*s' needs an argument (see -h)", (int)n, arg);
	/* a known long option given "=value" it does not take: getopt_long
	 * reports it with that option's short letter in optopt */
	if (is_long && optopt && arg[n] == '=')
		mp_die(EX_USAGE, "option '%.*s' takes no argument (see -h)", (int)n, arg);
	if (optopt && !is_long)
		mp_die(EX_USAGE, "unknown option '-%c' (see -h)", optopt);
	mp_die(EX_USAGE, "unknown option '%.*s' (see -h)", (int)n, arg);
}

void *mp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		mp_die(EX_TEMPFAIL, "out of memory (%zu bytes)", n);
	return p;
}

void *mp_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		mp_die(EX_TEMPFAIL, "out of memory (%zu bytes)", n);
	return q;
}

char *mp_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(mp_xmalloc(n), s, n);
}

int mp_size_add(size_t a, size_t b, size_t *r)
{
	if (a > SIZE_MAX - b)
		return -1;
	*r = a + b;
	return 0;
}

int mp_size_mul(size_t a, size_t b, size_t *r)
{
	if (b && a > SIZE_MAX / b)
		return -1;
	*r = a * b;
	return 0;
}

int mp_buf_reserve(struct mp_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	/* one spare byte for the terminating NUL */
	if (mp_size_add(b->len, extra, &need) || mp_size_add(need, 1, &need)) {
		errno = ENOMEM;
		return -1;
	}
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int mp_buf_append(struct mp_buf *b, const void *p, size_t n)
{
	/* room for n and the NUL is the common case: no call then */
	if (n >= b->cap - b->len && mp_buf_reserve(b, n))
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int mp_buf_putc(struct mp_buf *b, int c)
{
	char ch = (char)c;

	return mp_buf_append(b, &ch, 1);
}

int mp_buf_puts(struct mp_buf *b, const char *s)
{
	return mp_buf_append(b, s, strlen(s));
}

int mp_buf_vprintf(struct mp_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	/* formatted once into the room there is, again only when short */
	if (b->cap - b->len < 64 && mp_buf_reserve(b, 64))
		return -1;
	va_copy(aq, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, aq);
	va_end(aq);
	if (n >= 0 && (size_t)n >= b->cap - b->len) {
		if (mp_buf_reserve(b, (size_t)n))
			n = -1;
		else
			vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	}
	if (n < 0) {
		b->data[b->len] = '\0';
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

int mp_buf_printf(struct mp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = mp_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void mp_buf_reset(struct mp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void mp_buf_free(struct mp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- UTF-8 */

size_t mp_utf8_next(const unsigned char *s, size_t n, int *bad)
{
	unsigned c = s[0];
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range (Table 3-7) */
	size_t len;

	*bad = 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		len = 0;
	for (size_t k = 1; k < len; k++) {
		/* the maximal subpart ends before the first byte that cannot
		 * continue the sequence, or at the end of the input */
		if (k >= n || s[k] < (k == 1 ? lo : 0x80) || s[k] > (k == 1 ? hi : 0xbf)) {
			*bad = 1;
			return k;
		}
	}
	if (!len)
		*bad = 1;
	return len ? len : 1;
}

size_t mp_line_next(const char *buf, size_t n, size_t *i, const char **line)
{
	const char *s = buf + *i, *nl;
	size_t len;

	if (*i >= n)
		return 0;
	nl = memchr(s, '\n', n - *i);
	len = nl ? (size_t)(nl - s) + 1 : n - *i;
	*line = s;
	*i += len;
	return len;
}

size_t mp_utf8_encode(unsigned long cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t mp_utf8_len(const unsigned char *s, size_t n)
{
	int bad;
	size_t len = mp_utf8_next(s, n, &bad);

	return bad ? 0 : len;
}

/* Terminal-safe text: what a human reads must not carry a terminal's
 * control sequences from mail, DNS or a server. C0 controls but TAB and
 * LF, DEL, C1 controls (U+0080..U+009F) and bytes that are no UTF-8 are
 * shown as \xHH (C1 as \u00HH); the rest passes as it is. */
int mp_term_escape(const char *s, size_t n, struct mp_buf *out)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		int bad;
		size_t len;
		int rc;
		/* printable ASCII, tabs and line feeds: as they are, a run at once */
		for (len = 0; i + len < n && ((u[i + len] >= 0x20 && u[i + len] < 0x7f) ||
		                              u[i + len] == '\t' || u[i + len] == '\n');
		     len++)
			;
		if (len) {
			if (mp_buf_append(out, s + i, len) < 0)
				return -1;
			i += len;
			continue;
		}
		len = mp_utf8_next(u + i, n - i, &bad);
		if (bad ||
		    (len == 1 && ((u[i] < 0x20 && u[i] != '\t' && u[i] != '\n') || u[i] == 0x7f))) {
			rc = 0;
			for (size_t k = 0; k < len && rc == 0; k++)
				rc = mp_buf_printf(out, "\\x%02x", u[i + k]);
		} else if (len == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0) {
			rc = mp_buf_printf(out, "\\u00%02x", u[i + 1]);
		} else {
			rc = mp_buf_append(out, s + i, len);
		}
		if (rc < 0)
			return -1;
		i += len;
	}
	return 0;
}

/* printable ASCII, tabs and line feeds alone: what mp_term_escape keeps */
static int term_plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 || c >= 0x7f) && c != '\t' && c != '\n')
			return 0;
	}
	return 1;
}

int mp_term_write(FILE *f, const char *s, size_t n)
{
	if (term_plain(s, n)) /* nothing to escape: no copy */
		return n && fwrite(s, 1, n, f) != n ? -1 : 0;
	struct mp_buf b = MP_BUF_INIT;
	int rc = mp_term_escape(s, n, &b);

	if (rc == 0 && b.len && fwrite(b.data, 1, b.len, f) != b.len)
		rc = -1;
	mp_buf_free(&b);
	return rc;
}

int mp_term_printf(FILE *f, const char *fmt, ...)
{
	struct mp_buf b = MP_BUF_INIT;
	va_list ap;
	int rc;
	char small[512];

	/* most lines fit on the stack: no allocation then */
	va_start(ap, fmt);
	rc = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (rc >= 0 && (size_t)rc < sizeof small)
		return mp_term_write(f, small, (size_t)rc);
	va_start(ap, fmt);
	rc = mp_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = mp_term_write(f, b.data ? b.data : "", b.len);
	mp_buf_free(&b);
	return rc;
}
