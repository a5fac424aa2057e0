/* dsn: delivery reports read back: the message/delivery-status fields of
 * a DSN (RFC 3464), the message/feedback-report fields of an ARF report
 * (RFC 5965), the plain-text bounces of mailers that send neither (read
 * where a status code and an address can be, and marked guessed), and a
 * VERP envelope address decoded back to the subscriber. Bounded: at
 * most MP_DSN_RCPTS recipients, each field cut to its buffer. */
#ifndef MP_DSN_H
#define MP_DSN_H

#include <stddef.h>

#include "util.h"

#define MP_DSN_RCPTS 1000      /* recipient groups kept */
#define MP_DSN_TEXT  (1 << 20) /* bytes of a report part read */

struct mp_dsn_rcpt {
	char final[320];    /* Final-Recipient (the address, its type dropped) */
	char original[320]; /* Original-Recipient */
	char action[32];    /* failed, delayed, delivered, relayed, expanded */
	char status[16];    /* 5.1.1 */
	char diag[1000];    /* Diagnostic-Code, its type dropped */
	char remote_mta[256];
};

struct mp_dsn {
	char reporting_mta[256];
	/* ARF (RFC 5965) */
	int arf;
	char feedback_type[64];
	char rcpt_to[320];   /* Original-Rcpt-To */
	char mail_from[320]; /* Original-Mail-From */
	char user_agent[128];
	struct mp_dsn_rcpt *r;
	size_t n;
	int guessed; /* the recipients were read from plain text */
};

void mp_dsn_init(struct mp_dsn *d);
void mp_dsn_free(struct mp_dsn *d);
/* The body of a message/delivery-status part (n bytes): the per-message
 * group, then a group per recipient (blank lines between), each read with
 * hdr.c's field reader. 0; -1 EX_DATAERR when no group names a recipient
 * (e->offset: where reading stopped). */
int mp_dsn_parse(const char *buf, size_t n, struct mp_dsn *d, struct mp_err *e);
/* The body of a message/feedback-report part: 0, or -1 EX_DATAERR
 * without a Feedback-Type. */
int mp_arf_parse(const char *buf, size_t n, struct mp_dsn *d, struct mp_err *e);
/* A bounce in plain text: each address (<a@b> or a@b on a line) followed,
 * before the next address, by an enhanced status code (5.1.1) or an SMTP
 * reply code (550, taken as 5.0.0 / 4.0.0) becomes a recipient with
 * action failed (delayed for 4.x.x), the line of the code its
 * diagnostic; d->guessed is set. The number of recipients found. */
size_t mp_dsn_guess(const char *buf, size_t n, struct mp_dsn *d);
/* A VERP address LOCAL+USER=DOMAIN@HOST back to USER@DOMAIN: 1 (out
 * set), 0 when addr has not that form (or out is too small). delim: the
 * two separators ("+=" when NULL or ""); the first delim[0] of the local
 * part (or the one right after local, when local is neither NULL nor "")
 * and the last delim[1] after it split it. */
int mp_verp_decode(const char *addr, const char *local, const char *delim, char *out, size_t outn);
/* the argument of --verp=LOCAL (the list's part of a VERP address) or
 * of --verp-delimiters (two separators), checked: it, or exit 64 with
 * a message */
const char *mp_verp_local_arg(const char *local);
const char *mp_verp_delims_arg(const char *delim);

#endif
