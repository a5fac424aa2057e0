/* dkimsign: the DKIM signer (RFC 6376, RFC 8463), mp_dkim_signer_*: the
 * private key read from its PEM file (PKCS #8, or RSA's own form), the
 * fields to sign held and the body hashed as the message passes (the walk
 * and the canonical forms of dkim.c), the DKIM-Signature field made and
 * folded at the end. See dkim.h. */
#include "dkim.h"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "dkim_int.h"
#include "hdr.h"

static const char *const default_names[] = {"from",
                                            "sender",
                                            "reply-to",
                                            "subject",
                                            "date",
                                            "message-id",
                                            "to",
                                            "cc",
                                            "mime-version",
                                            "content-type",
                                            "content-transfer-encoding",
                                            "in-reply-to",
                                            "references",
                                            "list-id",
                                            "list-help",
                                            "list-unsubscribe",
                                            "list-subscribe",
                                            "list-post",
                                            "list-owner",
                                            "list-archive",
                                            NULL};

/* SHA-256 fetched once (mp_dkim_sign_sha256, in dkim.c) */
static pthread_once_t sign_once = PTHREAD_ONCE_INIT;

struct mp_dkim_signer {
	EVP_PKEY *key;
	int kt, hcanon, bcanon;
	char s[MP_DKIM_DOMMAX], d[MP_DKIM_DOMMAX];
	char names[MP_DKIM_NAMES][80];
	int nnames;
	struct walk w;
	struct body *b;
	EVP_MD_CTX *bmd;
};

static int signer_keep(void *arg, const char *f, size_t n)
{
	struct mp_dkim_signer *s = arg;

	for (int k = 0; k < s->nnames; k++)
		if (mp_hdr_field_name_is(f, n, s->names[k]))
			return 1;
	return 0;
}

static void signer_body(void *arg, const char *p, size_t n)
{
	struct mp_dkim_signer *s = arg;

	mp_dkim_body_feed(s->b, p, n);
}

static int signer_start(struct mp_dkim_signer *s)
{
	memset(s->b, 0, sizeof *s->b);
	s->b->relaxed = s->bcanon == MP_DKIM_RELAXED;
	s->b->k.md = s->bmd;
	s->b->k.limit = -1;
	return EVP_DigestInit_ex(s->bmd, mp_dkim_sign_sha256, NULL) ? 0 : -1;
}

static void sign_init(void)
{
	mp_dkim_sign_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* DER of one form, decoded by the decoders of that form and key type only */
static EVP_PKEY *decode(const unsigned char *der, long len, const char *structure, const char *type)
{
	EVP_PKEY *k = NULL;
	size_t n = (size_t)len;
	OSSL_DECODER_CTX *d =
	    OSSL_DECODER_CTX_new_for_pkey(&k, "DER", structure, type, EVP_PKEY_KEYPAIR, NULL, NULL);

	if (d && !OSSL_DECODER_from_data(d, &der, &n)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	OSSL_DECODER_CTX_free(d);
	return k;
}

/* an unencrypted PKCS #8 PrivateKeyInfo: an Ed25519 key (RFC 8410: no
 * parameters, the 32-octet seed in an OCTET STRING) made from its seed,
 * an RSA key by the RSA decoder, another (to be refused) by any */
static EVP_PKEY *pkcs8(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
	const ASN1_OBJECT *obj;
	const X509_ALGOR *alg;
	const unsigned char *pk;
	int pkl, ptype = 0, nid;
	EVP_PKEY *k = NULL;

	if (!p8 || !PKCS8_pkey_get0(&obj, &pk, &pkl, &alg, p8)) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		return NULL;
	}
	nid = OBJ_obj2nid(obj);
	if (nid == NID_ED25519) {
		X509_ALGOR_get0(NULL, &ptype, NULL, alg);
		ASN1_OCTET_STRING *seed =
		    ptype == V_ASN1_UNDEF ? d2i_ASN1_OCTET_STRING(NULL, &pk, pkl) : NULL;
		if (seed && ASN1_STRING_length(seed) == 32)
			k = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL,
			                                    ASN1_STRING_get0_data(seed), 32);
		if (seed)
			OPENSSL_cleanse((void *)ASN1_STRING_get0_data(seed),
			                (size_t)ASN1_STRING_length(seed));
		ASN1_OCTET_STRING_free(seed);
	} else if (nid == NID_rsaEncryption) {
		k = decode(der, len, "PrivateKeyInfo", "RSA");
	} else {
		k = decode(der, len, "PrivateKeyInfo", NULL);
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	return k;
}

/* The private key of a PEM file: the first block whose label ends in
 * "PRIVATE KEY" (others, parameters or certificates, are passed over),
 * decoded as its label says. PEM_read_PrivateKey would try every decoder
 * OpenSSL has, and ask on the terminal for the passphrase of an
 * encrypted key; an encrypted key is no key here. A key of another type
 * (EC PRIVATE KEY, ...) is decoded by any decoder, to be refused for its
 * type: that costs only a file that cannot sign. */
static EVP_PKEY *read_key(FILE *fp)
{
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long len = 0;
		EVP_PKEY *k = NULL;

		if (!PEM_read(fp, &name, &header, &der, &len))
			return NULL;
		size_t nl = strlen(name);
		int key = nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0;
		if (!key || header[0] || strcmp(name, "ENCRYPTED PRIVATE KEY") == 0)
			; /* not a key, or encrypted (a Proc-Type header) */
		else if (strcmp(name, "PRIVATE KEY") == 0)
			k = pkcs8(der, len);
		else if (strcmp(name, "RSA PRIVATE KEY") == 0)
			k = decode(der, len, "type-specific", "RSA");
		else
			k = decode(der, len, NULL, NULL);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(der, (size_t)len);
		if (key)
			return k;
	}
}

struct mp_dkim_signer *mp_dkim_signer_new(const char *path, const char *selector,
                                          const char *domain, int hcanon, int bcanon,
                                          const char *const *names, struct mp_err *e)
{
	struct mp_dkim_signer *s = calloc(1, sizeof *s);
	FILE *fp;

	if (!s) {
		mp_err_sys(e, EX_TEMPFAIL, "DKIM");
		return NULL;
	}
	if (!selector[0] || strlen(selector) >= sizeof s->s || strpbrk(selector, "; \t\r\n")) {
		mp_err_set(e, EX_CONFIG, "DKIM selector '%.60s' is not usable", selector);
		free(s);
		return NULL;
	}
	if (domain && mp_dkim_signer_domain(s, domain, e) < 0) {
		free(s);
		return NULL;
	}
	snprintf(s->s, sizeof s->s, "%s", selector);
	s->hcanon = hcanon;
	s->bcanon = bcanon;
	for (const char *const *n = names ? names : default_names; *n; n++) {
		if (s->nnames == MP_DKIM_NAMES - 1 || strlen(*n) >= sizeof s->names[0])
			continue;
		snprintf(s->names[s->nnames++], sizeof s->names[0], "%s", *n);
	}
	if (pthread_once(&sign_once, sign_init) != 0 || !mp_dkim_sign_sha256) {
		mp_err_set(e, EX_TEMPFAIL, "DKIM: OpenSSL has no SHA-256");
		free(s);
		return NULL;
	}
	if (!(fp = fopen(path, "r"))) {
		mp_err_sys(e, EX_CONFIG, "%s", path);
		free(s);
		return NULL;
	}
	s->key = read_key(fp);
	fclose(fp);
	ERR_clear_error(); /* the reasons of a file that is no key: said below */
	if (!s->key) {
		mp_err_set(e, EX_CONFIG, "%s: no PEM private key", path);
		free(s);
		return NULL;
	}
	if (EVP_PKEY_get_base_id(s->key) == EVP_PKEY_ED25519) {
		s->kt = MP_DKIM_K_ED25519;
	} else if (EVP_PKEY_get_base_id(s->key) == EVP_PKEY_RSA &&
	           EVP_PKEY_get_bits(s->key) >= 1024) {
		s->kt = MP_DKIM_K_RSA;
	} else {
		mp_err_set(e, EX_CONFIG,
		           "%s: the key is neither Ed25519 nor RSA of 1024 bits or more", path);
		EVP_PKEY_free(s->key);
		free(s);
		return NULL;
	}
	mp_dkim_walk_init(&s->w, MP_DKIM_HDRMAX);
	s->w.keep = signer_keep;
	s->w.body = signer_body;
	s->w.arg = s;
	s->b = malloc(sizeof *s->b);
	s->bmd = EVP_MD_CTX_new();
	if (!s->b || !s->bmd || signer_start(s) < 0) {
		mp_err_sys(e, EX_TEMPFAIL, "DKIM");
		mp_dkim_signer_free(s);
		return NULL;
	}
	return s;
}

int mp_dkim_signer_domain(struct mp_dkim_signer *s, const char *domain, struct mp_err *e)
{
	if (!domain[0] || strlen(domain) >= sizeof s->d || strpbrk(domain, "; \t\r\n"))
		return mp_err_set(e, EX_CONFIG, "DKIM domain '%.100s' is not usable", domain);
	snprintf(s->d, sizeof s->d, "%s", domain);
	return 0;
}

int mp_dkim_signer_from(struct mp_dkim_signer *s, struct mp_buf *value)
{
	return mp_hdr_find(s->w.hdr.data ? s->w.hdr.data : "", s->w.hdr.len, "From", value);
}

int mp_dkim_signer_keytype(const struct mp_dkim_signer *s)
{
	return s->kt;
}

void mp_dkim_signer_reset(struct mp_dkim_signer *s)
{
	mp_dkim_walk_reset(&s->w);
	signer_start(s);
}

void mp_dkim_signer_free(struct mp_dkim_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key);
	EVP_MD_CTX_free(s->bmd);
	free(s->b);
	mp_dkim_walk_free(&s->w);
	free(s);
}

int mp_dkim_signer_feed(struct mp_dkim_signer *s, const char *p, size_t n, struct mp_err *e)
{
	mp_dkim_walk_feed(&s->w, p, n);
	if (s->w.err)
		return mp_dkim_walk_failed(&s->w, e);
	if (s->b->k.oom)
		return mp_err_sys(e, EX_TEMPFAIL, "DKIM");
	return 0;
}

/* fold: append word to out, breaking the line before it past 76 columns */
static int fold_put(struct mp_buf *out, size_t *col, const char *eol, const char *w, size_t n,
                    int space)
{
	if (*col + n + (size_t)space > 76 && *col > 1) {
		if (mp_buf_puts(out, eol) < 0 || mp_buf_putc(out, '\t') < 0)
			return -1;
		*col = 8;
	} else if (space) {
		if (mp_buf_putc(out, ' ') < 0)
			return -1;
		(*col)++;
	}
	*col += n;
	return mp_buf_append(out, w, n);
}

int mp_dkim_signer_end(struct mp_dkim_signer *s, const char *eol, struct mp_buf *out,
                       struct mp_err *e)
{
	unsigned char bh[EVP_MAX_MD_SIZE], h[EVP_MAX_MD_SIZE], sig[MP_DKIM_SIGMAX];
	unsigned bhl = 0, hl = 0;
	size_t siglen = sizeof sig, col, start = out->len;
	struct mp_buf f = MP_BUF_INIT, tmp = MP_BUF_INIT;
	char(*names)[80] = NULL;
	int nn = 0, rc = -1;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char b64[MP_DKIM_SIGMAX * 2];

	mp_dkim_walk_end(&s->w);
	if (s->w.err) {
		mp_dkim_walk_failed(&s->w, e);
		goto out;
	}
	if (!s->d[0]) {
		mp_err_set(e, EX_CONFIG, "no DKIM domain to sign for");
		goto out;
	}
	mp_dkim_body_end(s->b);
	if (!md || s->b->k.oom || !EVP_DigestFinal_ex(s->bmd, bh, &bhl))
		goto oom;
	/* h=: each name as often as its field occurs, From once more */
	names = calloc(MP_DKIM_NAMES * 2, sizeof *names);
	if (!names)
		goto oom;
	int from = 0;
	for (int k = 0; k < s->nnames; k++) {
		int cnt = 0;
		for (size_t j = 0; j < s->w.nf; j++)
			cnt += mp_hdr_field_name_is(s->w.hdr.data + s->w.f[j].off, s->w.f[j].len,
			                            s->names[k]);
		if (strcasecmp(s->names[k], "from") == 0) {
			from = cnt;
			cnt++;
		}
		for (; cnt > 0 && nn < MP_DKIM_NAMES * 2; cnt--)
			snprintf(names[nn++], sizeof names[0], "%s", s->names[k]);
	}
	if (!from) {
		mp_err_set(e, EX_DATAERR, "no From: field to sign");
		goto out;
	}
	/* the field with b= empty, folded; then b= is filled in */
	if (mp_buf_printf(&f, "DKIM-Signature: v=1; a=%s; c=%s/%s; d=%s;",
	                  s->kt == MP_DKIM_K_RSA ? "rsa-sha256" : "ed25519-sha256",
	                  s->hcanon ? "relaxed" : "simple", s->bcanon ? "relaxed" : "simple",
	                  s->d) < 0)
		goto oom;
	col = f.len;
	char word[600];
	int wl = snprintf(word, sizeof word, "s=%s;", s->s);
	if (fold_put(&f, &col, eol, word, (size_t)wl, 1) < 0)
		goto oom;
	for (int k = 0; k < nn; k++) {
		wl = snprintf(word, sizeof word, "%s%s%s", k ? "" : "h=", names[k],
		              k + 1 < nn ? ":" : ";");
		if (fold_put(&f, &col, eol, word, (size_t)wl, k == 0) < 0)
			goto oom;
	}
	char bh64[64];
	size_t bl = mp_b64_encode(bh, bhl, bh64, 0);
	wl = snprintf(word, sizeof word, "bh=%.*s;", (int)bl, bh64);
	if (fold_put(&f, &col, eol, word, (size_t)wl, 1) < 0 ||
	    fold_put(&f, &col, eol, "b=", 2, 1) < 0)
		goto oom;
	if (!EVP_DigestInit_ex(md, mp_dkim_sign_sha256, NULL) ||
	    mp_dkim_hash_fields(&s->w, names, nn, s->hcanon, md, &tmp) < 0 ||
	    mp_dkim_hash_self(f.data, f.len, f.len, f.len, s->hcanon, md, &tmp) < 0 ||
	    !EVP_DigestFinal_ex(md, h, &hl))
		goto oom;
	if (!mp_dkim_pk_hash(s->key, s->kt, h, sig, &siglen, 0)) {
		mp_err_set(e, EX_SOFTWARE, "DKIM: signing failed");
		goto out;
	}
	size_t n64 = mp_b64_encode(sig, siglen, b64, 0);
	/* the signature in pieces that fit the lines (folding blanks inside b=
	 * are ignored by verifiers) */
	for (size_t k = 0; k < n64;) {
		size_t room = col < 76 ? 76 - col : 0, take;
		if (room < 8) {
			if (mp_buf_puts(&f, eol) < 0 || mp_buf_putc(&f, '\t') < 0)
				goto oom;
			col = 8;
			room = 68;
		}
		take = n64 - k < room ? n64 - k : room;
		if (mp_buf_append(&f, b64 + k, take) < 0)
			goto oom;
		col += take;
		k += take;
	}
	if (mp_buf_puts(&f, eol) < 0 || mp_buf_append(out, f.data, f.len) < 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	out->len = start;
	mp_err_sys(e, EX_TEMPFAIL, "DKIM");
out:
	free(names);
	mp_buf_free(&f);
	mp_buf_free(&tmp);
	EVP_MD_CTX_free(md);
	return rc;
}
