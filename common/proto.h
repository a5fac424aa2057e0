/* proto: a line protocol session over TCP or TLS: CRLF lines out, bounded
 * lines in, an optional C:/S: trace on stderr with secrets masked. */
#ifndef MP_PROTO_H
#define MP_PROTO_H

#include <stddef.h>

#include "tls.h"
#include "util.h"

#define MP_PROTO_LINE    4096  /* longest line accepted from a server */
#define MP_PROTO_SENDMAX 65536 /* longest line we send (an AUTH token) */

struct mp_proto {
	int fd;
	struct mp_tls tls;
	int tls_on;
	int trace; /* print C: and S: lines on stderr */
	int timeout_ms;
	size_t start, end;
	int midline; /* readpart: the last piece was not the end of its line */
	char buf[MP_PROTO_LINE + 2];
};

void mp_proto_init(struct mp_proto *p, int fd, int timeout_ms, int trace);
/* Send one line (CRLF added). secret: trace it as "<shown> ***". */
int mp_proto_send(struct mp_proto *p, const char *line, const char *shown, struct mp_err *e);
/* Next line without its CR LF; 1 ok, 0 connection closed, -1 error or a
 * line longer than MP_PROTO_LINE. */
int mp_proto_readline(struct mp_proto *p, char **line, size_t *len, struct mp_err *e);
/* Like mp_proto_readline, for replies that may be long lists of words
 * (IMAP SEARCH): a line longer than MP_PROTO_LINE comes in pieces that
 * end before a space, *more set to 1 for each but the last. A piece of
 * MP_PROTO_LINE bytes without a space is an error. */
int mp_proto_readpart(struct mp_proto *p, char **line, size_t *len, int *more, struct mp_err *e);
/* Like mp_proto_readline, for data of any line length (a POP3 message):
 * a line longer than MP_PROTO_LINE comes in pieces of at most that many
 * bytes, cut anywhere, *more set to 1 for each but the last; a piece with
 * *more set is not NUL-terminated. */
int mp_proto_readpiece(struct mp_proto *p, char **line, size_t *len, int *more, struct mp_err *e);
/* Exactly n raw bytes (an IMAP literal, a body): buffered ones first.
 * Returns 0, or -1 (connection closed early: EX_TEMPFAIL). */
int mp_proto_read(struct mp_proto *p, void *buf, size_t n, struct mp_err *e);
/* Bytes the server sent that nobody has read yet (buffered or waiting
 * in the socket): before a TLS handshake this must be none. */
size_t mp_proto_unread(struct mp_proto *p);
/* Wait up to timeout_ms (-1: for ever) for the server to say something,
 * or for other_fd (-1: none) to become readable, whichever comes first:
 * 1 the server (a line may be buffered already), 2 other_fd, 0 the time
 * is up, -1 error. For a client that waits on a quiet connection (IMAP
 * IDLE) and must also notice a signal's self-pipe. */
int mp_proto_wait(struct mp_proto *p, int other_fd, int timeout_ms, struct mp_err *e);
/* Switch to TLS; refuses when the server already sent bytes beyond its
 * STARTTLS reply (the plaintext injection of CVE-2011-0411). */
int mp_proto_starttls(struct mp_proto *p, const struct mp_tls_opts *o, struct mp_err *e);
void mp_proto_close(struct mp_proto *p);

#endif
