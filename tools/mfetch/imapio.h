/* mfetch: the IMAP dialogue (imapio.c), for the retrieval in imap.c and
 * the LIST of imapfolders.c */
#ifndef MFETCH_IMAPIO_H
#define MFETCH_IMAPIO_H

#include "fopts.h"
#include "proto.h"
#include "util.h"

struct imap {
	struct mp_proto p;
	unsigned tag;
	char caps[4096];              /* the last capability list the server gave */
	int caps_seen;                /* one came since this was last cleared */
	char last[MP_PROTO_LINE + 1]; /* the tagged reply's text */
	int new_mail;                 /* an untagged EXISTS came (--idle) */
	int continued;                /* cb gets the rest of a long SEARCH line */
};

/* connect, greeting, STARTTLS, login: 0, or -1 with the session closed */
int imap_open(struct imap *s, struct fopts *o, struct mp_err *e);
/* LOGOUT (its failure does not matter) and close */
void imap_close(struct imap *s);

/* send "TAG cmd" (shown instead in the trace when given), read to the
 * tagged reply; untagged lines go to cb. 0 OK, 1 NO/BAD (s->last says
 * why), -1 error */
typedef int (*untagged_fn)(struct imap *s, char *line, size_t len, void *ctx, struct mp_err *e);
int imap_command(struct imap *s, const char *cmd, const char *shown, untagged_fn cb, void *ctx,
                 struct mp_err *e);
/* A command over a set of UIDs ("PRE 1:4,9 POST"), sent in pieces that
 * keep each line short; u sorted. As imap_command. */
int imap_uid_command(struct imap *s, const char *pre, const unsigned long *u, size_t n,
                     const char *post, untagged_fn cb, void *ctx, struct mp_err *e);
/* The UIDs u[i...] (ascending) as an IMAP set, "1:4,9", appended to cmd
 * until it is max bytes long: the index of the first one left out. */
size_t imap_uid_set(struct mp_buf *cmd, const unsigned long *u, size_t n, size_t i, size_t max);

int imap_has_cap(const struct imap *s, const char *cap);
/* "* N EXISTS": the mailbox grew (or its size was announced) */
int imap_is_exists(const char *l);
/* s as an IMAP quoted string into out */
void imap_quote(char *out, size_t n, const char *s);
/* one IMAP string (quoted or atom) from *pp into out; 0 or -1 */
int imap_string(const char **pp, char *out, size_t n);

#define LITERAL_MAX (1LL << 32) /* the largest message taken: 4 GiB */
/* A line that ends in an IMAP literal, "... {N}": N, checked; -1 when it
 * ends otherwise, -2 when N is not a number or over LITERAL_MAX. */
long long imap_literal_at_end(const char *l, size_t len);
/* "UID n" among the items of a FETCH response piece: n, or 0 */
unsigned long imap_uid_item(const char *l);
/* n bytes of literal into fd (or nowhere with fd -1), the wire's CRLF
 * made the LF of mail on disk; 0 or -1 */
int imap_take_literal(struct imap *s, long long n, int fd, struct mp_err *e);

/* IDLE until new mail, the refresh period or a stop; then DONE. The
 * connection stays usable. A wake, or -1. */
enum wake { WAKE_STOP, WAKE_NEW, WAKE_REFRESH };
int imap_idle(struct imap *s, struct fopts *o, struct mp_err *e);

#endif
