/* msend: what its sending modules share: wire.c (the wire form of a
 * message), send.c (sessions and transactions, relay and direct) and
 * pool.c (connection reuse). */
#ifndef MSEND_SEND_H
#define MSEND_SEND_H

#include "msend.h"
#include "proto.h"
#include "smtp.h"
#include "tlspolicy.h"

#define WIRE_NOSTUFF 0x1u /* BDAT: no dot-stuffing */
#define WIRE_7BIT    0x2u /* 8-bit parts quoted-printable (mime7.c) */
#define WIRE_LEARN   0x4u /* ... only learn which they are: no output */
#define WIRE_SIGN    0x8u /* the form DKIM signs: without its DKIM-Signature fields */

/* wire.c: the 7-bit form's plan and size, once: 0 ready, -1 it cannot be
 * made (m->err7 says why) */
int wire_prepare7(struct message *m);
/* the body after DATA: the wire form, then ".\r\n" */
int wire_data(struct mp_proto *p, struct message *m, unsigned how, long long size,
              struct mp_err *e);
/* the message with BDAT; rep gets the reply that decides: 0, or -1 when
 * the session failed */
int wire_bdat(struct mp_proto *p, struct message *m, unsigned how, int pipelining,
              struct mp_smtp_reply *rep, struct mp_err *e);

/* send.c: MAIL, RCPT... and DATA or BDAT; 0 taken for the accepted
 * recipients, 1 nothing taken, -1 the session failed */
int send_transaction(struct mp_proto *p, const struct mp_smtp_caps *c, struct message *m,
                     const char *from, struct rcpt *r, size_t n, struct mp_err *e);
/* the recipients over an open session: transactions of at most
 * SEND_MAX_RCPTS (RFC 5321 4.5.3.1.8), or one per recipient under VERP,
 * each with its own sender; 0 when one took the message, 1 when none
 * did, -1 when the session failed (the rest not done) */
#define SEND_MAX_RCPTS 100
int send_batches(struct mp_proto *p, const struct mp_smtp_caps *c, struct message *m,
                 const char *from, struct rcpt *r, size_t n, struct mp_err *e);
/* greet, EHLO, TLS as asked (for an MX host: as its policy hp says), AUTH */
int send_session(struct mp_proto *p, const struct settings *s, const char *tlsname,
                 const struct host_policy *hp, struct mp_smtp_caps *caps, int *perm,
                 struct mp_err *e);
/* a failed session applied to the recipients not yet done */
void send_session_failed(struct rcpt *r, size_t n, const struct mp_err *e, const char *where,
                         int perm);
const char *send_domain_of(const char *addr);
/* an MX host's name without the final dot */
void send_host_name(const struct mp_mx_host *h, char *hn, size_t hnsz);
/* an MX host with no address (its lookup failed, its name is a CNAME
 * loop): 1, its name in hn and why in why (said under -v); 0 if it has one */
int send_host_unusable(const struct settings *s, const struct mp_mx_host *h, char *hn, size_t hnsz,
                       char *why, size_t whysz);
/* why a domain's MX lookup left no host to try, with the reason of its
 * first host that has no address */
void send_mx_why(const struct mp_mx *m, char *buf, size_t n);
/* 0 when every recipient has its verdict, 1 when some must wait */
int send_verdict(struct rcpt *r, size_t n);

#endif
