/* smtp: the client side of ESMTP (RFC 5321): multi-line replies,
 * EHLO capabilities, STARTTLS with a fresh EHLO after it. */
#ifndef MP_SMTP_H
#define MP_SMTP_H

#include "proto.h"

#define MP_SMTP_PIPELINING 0x001u
#define MP_SMTP_SIZE       0x002u
#define MP_SMTP_8BITMIME   0x004u
#define MP_SMTP_SMTPUTF8   0x008u
#define MP_SMTP_DSN        0x010u
#define MP_SMTP_STARTTLS   0x020u
#define MP_SMTP_AUTH       0x040u
#define MP_SMTP_CHUNKING   0x080u
#define MP_SMTP_ENHANCED   0x100u

struct mp_smtp_reply {
	int code;
	int lines;
	char text[4096]; /* every line's text after the code, joined by '\n' */
};

struct mp_smtp_caps {
	unsigned bits;
	long size;
	char auth[256];
	char list[1024]; /* the extension keywords, space-separated */
};

/* Read one reply (all its lines; at most 100 of them). */
int mp_smtp_reply(struct mp_proto *p, struct mp_smtp_reply *r, struct mp_err *e);
/* Send a command and read its reply. */
int mp_smtp_cmd(struct mp_proto *p, const char *cmd, struct mp_smtp_reply *r, struct mp_err *e);
/* EHLO (HELO if refused); fills caps from a fresh reply. */
int mp_smtp_ehlo(struct mp_proto *p, const char *name, struct mp_smtp_caps *c,
                 struct mp_smtp_reply *r, struct mp_err *e);
/* STARTTLS, the handshake, and a new EHLO: what was learned before TLS
 * is forgotten. */
int mp_smtp_starttls(struct mp_proto *p, const struct mp_tls_opts *o, const char *name,
                     struct mp_smtp_caps *c, struct mp_smtp_reply *r, struct mp_err *e);

/* s as xtext (RFC 3461 §4: '+', '=' and what is not printable ASCII as
 * "+XX"), for ENVID= and ORCPT=; -1 when it does not fit in n bytes. */
int mp_smtp_xtext(const char *s, char *out, size_t n);

/* AUTH with a SASL mechanism (by name, or "auto": the strongest offered);
 * the password never appears in the trace. 77 (EX_NOPERM) when refused. */
int mp_smtp_auth(struct mp_proto *p, const struct mp_smtp_caps *c, const char *mech,
                 const char *user, const char *pass, struct mp_err *e);
#endif
