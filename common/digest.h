/* digest: the messages of a digest, and a digest made of messages. A
 * MIME digest is a multipart/digest (RFC 2046 5.1.5), alone or inside
 * another multipart; a text digest is RFC 1153's (a preamble ending at
 * a line of 70 '-', messages apart at lines of 30 '-'). */
#ifndef MP_DIGEST_H
#define MP_DIGEST_H

#include <stddef.h>
#include <time.h>

#include "store.h"
#include "util.h"

#define MP_DIGEST_MAX   (512LL * 1024 * 1024) /* bytes of a digest read */
#define MP_DIGEST_DEPTH 8                     /* multiparts nested around a digest */

/* called with each message's bytes (whole, as they stand in the digest),
 * in order; < 0 stops */
typedef int (*mp_digest_fn)(void *ctx, const char *msg, size_t n);

/* The messages of the digest at buf (a whole message, n bytes): how many,
 * or -1: EX_DATAERR when it is no digest (or one without messages), or
 * what fn stopped with (e filled by fn). */
long mp_digest_burst(const char *buf, size_t n, mp_digest_fn fn, void *ctx, struct mp_err *e);

struct mp_digest_msg {
	const char *p; /* a message; a leading "From " line is left out */
	size_t n;
};

/* A multipart/digest of the n messages into out: the header (From:
 * from, Subject: subject, Date: date, MIME-Version, Content-Type), a
 * text/plain table of contents (a line per message: its number, date,
 * sender and subject, decoded), then each message as it is, in order,
 * with a boundary that occurs in none of them. 0, or -1 (out of memory). */
int mp_digest_make(const struct mp_digest_msg *m, size_t n, const char *from, const char *subject,
                   time_t date, struct mp_buf *out);

#endif
