/* dkim: DomainKeys Identified Mail (RFC 6376) with rsa-sha256 and
 * ed25519-sha256 (RFC 8463): the DKIM-Signature tag list and key record
 * parsers, the simple and relaxed canonicalizations, a signer and a
 * verifier. Both take the message as it passes, in pieces of any size:
 * the header through hdr.c's field reader (held, bounded), the body
 * hashed as it goes in bounded memory. Line ends may be CR LF or LF
 * alone (a message in a file): either counts as the CR LF of the wire.
 * The parsers, the canonical forms and what both sides share are in
 * dkim.c, the signer in dkimsign.c, the verifier (and the key cache,
 * mp_dkim_key_bits) in dkimverify.c. */
#ifndef MP_DKIM_H
#define MP_DKIM_H

#include <stddef.h>

#include "util.h"

#define MP_DKIM_NAMES  64            /* header field names in h= */
#define MP_DKIM_SIGMAX 1024          /* signature octets (RSA 8192) */
#define MP_DKIM_KEYMAX 1100          /* public key octets (RSA 8192) */
#define MP_DKIM_HDRMAX (1024 * 1024) /* a header held for verifying */
#define MP_DKIM_SIGS   8             /* signatures verified per message */
#define MP_DKIM_DOMMAX 254

enum mp_dkim_alg { MP_DKIM_RSA_SHA256 = 1, MP_DKIM_ED25519_SHA256, MP_DKIM_RSA_SHA1 };
enum mp_dkim_canon { MP_DKIM_SIMPLE = 0, MP_DKIM_RELAXED = 1 };
enum mp_dkim_keytype { MP_DKIM_K_RSA = 1, MP_DKIM_K_ED25519 };

/* results, by their RFC 8601 names (mp_dkim_result_name) */
enum mp_dkim_result {
	MP_DKIM_NONE = 0,
	MP_DKIM_PASS,
	MP_DKIM_FAIL,
	MP_DKIM_NEUTRAL,
	MP_DKIM_TEMPERROR,
	MP_DKIM_PERMERROR,
	MP_DKIM_POLICY
};
const char *mp_dkim_result_name(int result);

/* A parsed DKIM-Signature. */
struct mp_dkim_sig {
	int alg, hcanon, bcanon;
	char d[MP_DKIM_DOMMAX], s[MP_DKIM_DOMMAX], i[MP_DKIM_DOMMAX + 65];
	char names[MP_DKIM_NAMES][80]; /* h=, in order */
	int nnames;
	unsigned char bh[32];
	size_t bhlen;
	unsigned char b[MP_DKIM_SIGMAX];
	size_t blen;
	long long l, t, x; /* -1 when absent */
	size_t boff, bend; /* the b= value: from after '=' to before ';' or the end */
};
/* Parse the value of a DKIM-Signature field (after the colon, folds and
 * all): 0, or -1 with EX_DATAERR and e->offset (1-based) at the fault.
 * Checks what RFC 6376 §6.1.1 asks of the tags themselves (required tags,
 * v=1, h= names From, i= within d=, x= not before t=); an unknown
 * algorithm is a fault, rsa-sha1 parses (as MP_DKIM_RSA_SHA1). */
int mp_dkim_sig_parse(const char *v, size_t n, struct mp_dkim_sig *s, struct mp_err *e);

/* A parsed key record (the TXT at SELECTOR._domainkey.DOMAIN). */
struct mp_dkim_key {
	int k;               /* enum mp_dkim_keytype */
	int testing, strict; /* t=y, t=s */
	unsigned char p[MP_DKIM_KEYMAX];
	size_t plen; /* 0: the key was revoked (p= empty) */
};
/* Parse a key record (the TXT strings joined): 0, or -1 with EX_DATAERR.
 * A record whose h= does not allow sha256, whose s= is not for email,
 * or whose k= is unknown is refused too. */
int mp_dkim_key_parse(const char *txt, size_t n, struct mp_dkim_key *k, struct mp_err *e);
/* The size of a parsed key in bits (OpenSSL's count: an RSA modulus;
 * 256 for Ed25519), or -1 when p= holds no usable key (or is empty). */
int mp_dkim_key_bits(const struct mp_dkim_key *k);

/* ---- signing */

struct mp_dkim_signer;
/* A signer for one key: a PEM private key (RSA of 1024 bits or more, or
 * Ed25519) read from the file at path; selector and domain as they go in
 * s= and d= (domain NULL: set by mp_dkim_signer_domain before the end);
 * names: the fields to sign (NULL: a default list), each present one as
 * often as it occurs, From once more (over-signed, so that no From can
 * be added). NULL with e (EX_CONFIG for the key). */
struct mp_dkim_signer *mp_dkim_signer_new(const char *path, const char *selector,
                                          const char *domain, int hcanon, int bcanon,
                                          const char *const *names, struct mp_err *e);
/* The message, in pieces: 0, or -1 (EX_TEMPFAIL out of memory, EX_DATAERR
 * a header too large). */
int mp_dkim_signer_feed(struct mp_dkim_signer *s, const char *p, size_t n, struct mp_err *e);
/* End of message: the DKIM-Signature field, folded, lines ending in
 * eol, appended to out. EX_DATAERR without a From field. */
int mp_dkim_signer_end(struct mp_dkim_signer *s, const char *eol, struct mp_buf *out,
                       struct mp_err *e);
/* After the end of the header: the value of the first From field
 * (unfolded) into value: 1, 0 none, -1 out of memory. */
int mp_dkim_signer_from(struct mp_dkim_signer *s, struct mp_buf *value);
/* d= for a signer made without a domain: 0, or -1 (EX_CONFIG) */
int mp_dkim_signer_domain(struct mp_dkim_signer *s, const char *domain, struct mp_err *e);
/* Ready to sign another message with the same key. */
void mp_dkim_signer_reset(struct mp_dkim_signer *s);
void mp_dkim_signer_free(struct mp_dkim_signer *s);
/* the kind of key (enum mp_dkim_keytype) */
int mp_dkim_signer_keytype(const struct mp_dkim_signer *s);
/* c= as written ("relaxed/relaxed", "simple", "relaxed/simple"...) into
 * an enum mp_dkim_canon pair: 0, or -1 */
int mp_dkim_canon_parse(const char *s, int *hcanon, int *bcanon);

/* ---- verifying */

/* The key record at name (SELECTOR._domainkey.DOMAIN) into txt: 1 found,
 * 0 there is none (NXDOMAIN, no TXT), -1 a temporary failure (e says). */
typedef int (*mp_dkim_lookup_fn)(void *arg, const char *name, struct mp_buf *txt, struct mp_err *e);

struct mp_dkim_verdict {
	int result; /* enum mp_dkim_result */
	char d[MP_DKIM_DOMMAX], s[MP_DKIM_DOMMAX], i[MP_DKIM_DOMMAX + 65];
	const char *alg; /* "rsa-sha256", "ed25519-sha256", ... or "" */
	int testing;     /* the key says t=y */
	char reason[160];
};

struct mp_dkim_verifier;
struct mp_dkim_verifier *mp_dkim_verifier_new(mp_dkim_lookup_fn lookup, void *arg);
int mp_dkim_verifier_feed(struct mp_dkim_verifier *v, const char *p, size_t n, struct mp_err *e);
/* End of message: a verdict for each of its first MP_DKIM_SIGS
 * DKIM-Signature fields, top down, in *out (*nout of them; none: the
 * message is not signed). now: the time for x= (seconds). */
int mp_dkim_verifier_end(struct mp_dkim_verifier *v, long long now,
                         const struct mp_dkim_verdict **out, size_t *nout, struct mp_err *e);
void mp_dkim_verifier_free(struct mp_dkim_verifier *v);
/* After the end of the header: the header fields as they came (for the
 * From: of DMARC), *n bytes. */
const char *mp_dkim_verifier_header(const struct mp_dkim_verifier *v, size_t *n);
/* Key records kept across the messages of one run: a folder signed with
 * a few keys asks the lookup once for each and decodes each key once. An
 * answer (a record, or none) is kept for the life of the cache, a
 * temporary failure is asked again; up to 32 names, the oldest replaced. */
struct mp_dkim_keycache;
struct mp_dkim_keycache *mp_dkim_keycache_new(void); /* NULL: out of memory */
void mp_dkim_keycache_free(struct mp_dkim_keycache *c);
/* v looks in c (NULL: no cache) before it calls its lookup */
void mp_dkim_verifier_cache(struct mp_dkim_verifier *v, struct mp_dkim_keycache *c);

/* Canonicalized forms (for tests): one header field as it came (name,
 * colon, value, folds, line end), and a whole body, appended to out. */
int mp_dkim_canon_header(const char *f, size_t n, int relaxed, struct mp_buf *out);
int mp_dkim_canon_body(const char *b, size_t n, int relaxed, struct mp_buf *out);

#endif
