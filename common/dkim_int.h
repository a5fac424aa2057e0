/* dkim_int: what the files of DKIM share and nothing else sees.
 * The calls go one way:
 *   dkimsign.c (key reading, mp_dkim_signer_*)    -> dkim.c
 *   dkimverify.c (mp_dkim_verifier_*, key cache)  -> dkim.c
 *   dkim.c (tag lists, DKIM-Signature and key record parsers, the
 *   canonical forms, the message walk, the hashes both sides make)
 * dkim.c calls neither of the others. */
#ifndef MP_DKIM_INT_H
#define MP_DKIM_INT_H

#include <openssl/evp.h>
#include <stddef.h>

#include "hdr.h"
#include "util.h"

/* where canonical text goes: a hash, or a buffer (tests) */
struct sink {
	EVP_MD_CTX *md;
	struct mp_buf *buf;
	long long limit; /* octets that count (l=), -1 all */
	unsigned long long total;
	int oom;
};

/* the body, canonicalized as it passes (RFC 6376 §3.4.3, §3.4.4) */
struct body {
	struct sink k;
	int relaxed;
	unsigned long long empty; /* empty lines held: they count only if text follows */
	int cr, blank, text, any;
	char buf[4096];
	size_t blen;
};

struct field {
	size_t off, len;
	int used; /* taken by the signature being checked */
};

/* The header through the field reader, the fields that keep() wants held,
 * then the body to the hashers. */
struct walk {
	struct mp_hdr_reader rd;
	char line[1000];
	size_t llen;
	int bol, inbody, open; /* open: the field in hand is being held */
	struct mp_buf hdr;
	struct field *f;
	size_t nf, capf;
	size_t max;
	int (*keep)(void *arg, const char *f, size_t n);
	void (*at_body)(void *arg);
	void (*body)(void *arg, const char *p, size_t n);
	void *arg;
	int err; /* EX_ code once it failed */
};

/* dkim.c: the body canonicalized into b->k as it passes, then its end */
void mp_dkim_body_feed(struct body *b, const char *p, size_t n);
void mp_dkim_body_end(struct body *b);

/* dkim.c: the message walk (header held at most max octets) */
void mp_dkim_walk_init(struct walk *w, size_t max);
void mp_dkim_walk_free(struct walk *w);
/* ready for another message, the buffers and callbacks kept */
void mp_dkim_walk_reset(struct walk *w);
void mp_dkim_walk_feed(struct walk *w, const char *p, size_t n);
void mp_dkim_walk_end(struct walk *w);
/* w->err said in e: -1 */
int mp_dkim_walk_failed(const struct walk *w, struct mp_err *e);

/* dkim.c: the header hash input, the fields names[] pick (RFC 6376
 * §5.4.2), canonicalized; then the DKIM-Signature field itself, b=
 * (boff..bend) emptied, without its final CR LF: 0, or -1 */
int mp_dkim_hash_fields(struct walk *w, char (*names)[80], int nnames, int relaxed, EVP_MD_CTX *md,
                        struct mp_buf *tmp);
int mp_dkim_hash_self(const char *f, size_t n, size_t boff, size_t bend, int relaxed,
                      EVP_MD_CTX *md, struct mp_buf *tmp);

/* dkim.c: SHA-256 for signing, fetched once a process (dkimsign.c sets
 * it before its first signer) */
extern EVP_MD *mp_dkim_sign_sha256;
/* dkim.c: sign the SHA-256 hash h of the header data into sig (*siglen:
 * its room, then its length), or with verify check sig: 1 done (good),
 * 0 not */
int mp_dkim_pk_hash(EVP_PKEY *key, int kt, const unsigned char *h, unsigned char *sig,
                    size_t *siglen, int verify);

#endif
