/* util: diagnostics with the program name, sysexits errors as values,
 * checked allocation and a growable byte buffer. */
#ifndef MP_UTIL_H
#define MP_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include "compat.h"

#ifndef MP_VERSION /* set by meson.build from the project version */
#define MP_VERSION "0.1.0"
#endif

/* An error travels as a value: a sysexits code, one human sentence and,
 * when known, where in which input it happened. */
struct mp_err {
	int code;         /* sysexits code, 0 when no error */
	long line;        /* 1-based line, 0 when unknown */
	long long offset; /* 1-based byte position, 0 when unknown */
	char msg[256];
};

void mp_err_clear(struct mp_err *e);
/* Fill e (may be NULL) and return -1, so callers can write
 * `return mp_err_set(e, EX_DATAERR, "...")`. */
int mp_err_set(struct mp_err *e, int code, const char *fmt, ...) MP_PRINTF(3, 4);
/* Like mp_err_set, appending ": strerror(errno)". */
int mp_err_sys(struct mp_err *e, int code, const char *fmt, ...) MP_PRINTF(3, 4);
/* The sysexits code that fits an errno from I/O: EX_TEMPFAIL for what
 * may pass (ENOSPC, EDQUOT, EIO, EINTR, EAGAIN, ENOMEM...), EX_NOPERM for
 * EACCES/EPERM, EX_IOERR otherwise. */
int mp_errno_code(int errnum);

/* Diagnostics on stderr as "prog: message". Tools only. */
void mp_setprogname(const char *argv0);
const char *mp_progname(void);
void mp_warn(const char *fmt, ...) MP_PRINTF(1, 2);
/* where mp_warn and the parsers' warnings go: stderr, or in this thread
 * the FILE given to mp_warn_to (NULL: stderr again); a thread that works
 * for another keeps its warnings for it to write in order */
FILE *mp_warn_file(void);
void mp_warn_to(FILE *f);
MP_NORETURN void mp_die(int code, const char *fmt, ...) MP_PRINTF(2, 3);
/* Print "prog: context: msg" for e (context may be NULL) and exit e->code. */
MP_NORETURN void mp_die_err(const char *context, const struct mp_err *e);
/* Called by mp_die with the code and the message before it exits (a tool
 * writing JSON reports the error there too); NULL: none. */
void mp_set_die_hook(void (*hook)(int code, const char *msg));
/* The <sysexits.h> name of an exit status ("EX_TEMPFAIL"), "EX_OK" for 0,
 * "EX_SOFTWARE" for a code that has none. */
const char *mp_exit_name(int code);

/* getopt_long returned ':' or '?' (with opterr = 0 and ":" leading the
 * short options): one line naming the option, exit EX_USAGE. */
MP_NORETURN void mp_getopt_fail(int c, char *const *argv, int optind, int optopt);

/* Checked allocation for tools: on failure print and exit EX_TEMPFAIL
 * (running out of memory is worth retrying). Library code uses plain
 * malloc and reports ENOMEM through struct mp_err instead. */
void *mp_xmalloc(size_t n);
void *mp_xrealloc(void *p, size_t n);
char *mp_xstrdup(const char *s);

/* Overflow-checked size arithmetic: return 0 and set *r, or -1. */
int mp_size_add(size_t a, size_t b, size_t *r);
int mp_size_mul(size_t a, size_t b, size_t *r);

/* A growable byte string with explicit length; data is always
 * NUL-terminated past len so it can be printed, but may hold NULs. */
struct mp_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define MP_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

int mp_buf_reserve(struct mp_buf *b, size_t extra);
int mp_buf_append(struct mp_buf *b, const void *p, size_t n);
int mp_buf_putc(struct mp_buf *b, int c);
int mp_buf_puts(struct mp_buf *b, const char *s);
int mp_buf_printf(struct mp_buf *b, const char *fmt, ...) MP_PRINTF(2, 3);
int mp_buf_vprintf(struct mp_buf *b, const char *fmt, va_list ap) MP_VPRINTF(2);
void mp_buf_reset(struct mp_buf *b);
void mp_buf_free(struct mp_buf *b);

/* The code point cp (at most 0x10FFFF) as UTF-8 into o (4 bytes of room):
 * its length, 1 to 4. */
size_t mp_utf8_encode(unsigned long cp, char *o);
/* Length of the UTF-8 character starting at s (1..4), or 0 if invalid. */
size_t mp_utf8_len(const unsigned char *s, size_t n);
/* The line of buf (n bytes) at *i, its LF included when there is one:
 * *line set, *i moved past it, its length returned; 0 at the end. */
size_t mp_line_next(const char *buf, size_t n, size_t *i, const char **line);
/* What starts at s (n > 0): a whole UTF-8 character (*bad = 0), or the
 * maximal subpart of an ill-formed sequence (*bad = 1, 1 to 3 bytes),
 * which one U+FFFD stands for (Unicode §3.9, "U+FFFD substitution of
 * maximal subparts", as WHATWG decoders do). Every decoder that repairs
 * UTF-8 goes through here. Returns the length. */
size_t mp_utf8_next(const unsigned char *s, size_t n, int *bad);

/* Terminal-safe text, for human output (-p, -x, raw streams and JSON never
 * go through here): C0 controls but TAB and LF, DEL, C1 controls and bytes
 * that are no UTF-8 become a visible \xHH (C1: \u00HH), so that mail, DNS or
 * a server cannot drive the terminal. Escape appends to out; write and
 * printf put the escaped text on f. 0, or -1. */
int mp_term_escape(const char *s, size_t n, struct mp_buf *out);
int mp_term_write(FILE *f, const char *s, size_t n);
int mp_term_printf(FILE *f, const char *fmt, ...) MP_PRINTF(2, 3);

#endif
