/* sasl: client steps of SASL mechanisms for SMTP/IMAP/POP3 AUTH:
 * PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), SCRAM-SHA-256 (RFC 7677,
 * RFC 5802, without channel binding), XOAUTH2 and OAUTHBEARER (RFC 7628).
 * Each step turns a server challenge (decoded) into the response to send
 * (to be base64 encoded by the caller). */
#ifndef MP_SASL_H
#define MP_SASL_H

#include <stddef.h>

#include "util.h"

enum mp_sasl_mech {
	MP_SASL_NONE,
	MP_SASL_PLAIN,
	MP_SASL_LOGIN,
	MP_SASL_CRAM_MD5,
	MP_SASL_XOAUTH2,
	MP_SASL_SCRAM_SHA256,
	MP_SASL_OAUTHBEARER
};

/* Mechanism by name ("plain", "LOGIN", ...), MP_SASL_NONE if unknown. */
enum mp_sasl_mech mp_sasl_parse(const char *name);
const char *mp_sasl_name(enum mp_sasl_mech m);
/* The strongest of a server's space-separated list that mp_sasl_step
 * speaks: CRAM-MD5, PLAIN, LOGIN. */
enum mp_sasl_mech mp_sasl_choose(const char *offered);
/* The strongest that a struct mp_sasl speaks: SCRAM-SHA-256 first. Never
 * a token mechanism (XOAUTH2, OAUTHBEARER): those only when asked for. */
enum mp_sasl_mech mp_sasl_choose_best(const char *offered);
/* Whether the mechanism sends an initial response with AUTH. */
int mp_sasl_initial(enum mp_sasl_mech m);

/* Stateless steps for PLAIN, LOGIN, CRAM-MD5 and XOAUTH2: the initial
 * response (PLAIN, XOAUTH2) or the response to challenge number step
 * (LOGIN: 0 user, 1 password; CRAM-MD5: 0 the HMAC). */
int mp_sasl_step(enum mp_sasl_mech m, int step, const char *user, const char *pass,
                 const char *challenge, size_t clen, struct mp_buf *out, struct mp_err *e);

/* One authentication exchange, every mechanism. */
struct mp_sasl {
	enum mp_sasl_mech mech;
	int step;
	const char *user, *pass; /* pass: the password, or the token */
	const char *host;        /* OAUTHBEARER: where we connected (NULL: left out) */
	int port;
	char nonce[64];           /* SCRAM: the client nonce; set by mp_sasl_init */
	struct mp_buf first_bare; /* SCRAM: client-first-message-bare */
	unsigned char server_sig[32];
	int verified;         /* SCRAM: the server proved it knows the password */
	char server_err[256]; /* SCRAM e=, or the token mechanisms' JSON */
};

void mp_sasl_init(struct mp_sasl *c, enum mp_sasl_mech m, const char *user, const char *pass);
/* The next response: the first call gives the initial response of a
 * mechanism that has one (chal is then ignored), else answers the first
 * challenge. -1 on a challenge that is malformed or must not come
 * (EX_PROTOCOL), on a SCRAM server signature that does not match or a
 * server error (EX_NOPERM). */
int mp_sasl_next(struct mp_sasl *c, const char *chal, size_t clen, struct mp_buf *out,
                 struct mp_err *e);
/* After the server said yes: SCRAM must have verified the server's
 * signature (else EX_NOPERM). */
int mp_sasl_done(struct mp_sasl *c, struct mp_err *e);
void mp_sasl_free(struct mp_sasl *c);

/* SCRAM messages from the server (bounded parsers, for the steps and the
 * fuzz target): server-first "r=NONCE,s=SALT,i=COUNT[,ext]" where the
 * nonce must extend cnonce and 4096 <= COUNT <= 1000000; server-final
 * "v=SIGNATURE" (32 bytes) or "e=ERROR" (EX_NOPERM naming it). */
#define MP_SCRAM_SALT_MAX  128
#define MP_SCRAM_ITER_MIN  4096
#define MP_SCRAM_ITER_MAX  1000000
#define MP_SCRAM_NONCE_MAX 512
struct mp_scram_first {
	const char *nonce; /* into the message */
	size_t nlen;
	unsigned char salt[MP_SCRAM_SALT_MAX];
	size_t saltlen;
	long iter;
};
int mp_scram_parse_first(const char *msg, size_t len, const char *cnonce, struct mp_scram_first *f,
                         struct mp_err *e);
int mp_scram_parse_final(const char *msg, size_t len, unsigned char sig[32], struct mp_err *e);

#endif
