/* dkimverify: the DKIM verifier (RFC 6376 §6, RFC 8463, RFC 8301),
 * mp_dkim_verifier_*: the DKIM-Signature fields of a message parsed at
 * the end of its header, each one's body hash made as the body passes
 * (the walk and the canonical forms of dkim.c), then at the end each key
 * record looked up (through the key cache, mp_dkim_keycache_*), decoded
 * (mp_dkim_key_bits too) and the signature checked: a verdict each. See
 * dkim.h. */
#include "dkim.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_int.h"
#include "hdr.h"

struct vsig {
	struct mp_dkim_sig sig;
	size_t field; /* index in the walk's fields */
	struct body *b;
	EVP_MD_CTX *bmd;
	struct mp_dkim_verdict v;
};

/* what the DNS said about a key record, and the key of it once decoded */
struct kc_entry {
	char name[2 * MP_DKIM_DOMMAX + 16];
	int found; /* 1 a record (txt), 0 none */
	struct mp_buf txt;
	EVP_PKEY *pk; /* NULL until a signature needs it */
};

#define KC_SIZE 32
struct mp_dkim_keycache {
	struct kc_entry e[KC_SIZE];
	size_t n, next; /* entries in use; the one to replace when all are */
};

struct mp_dkim_verifier {
	mp_dkim_lookup_fn lookup;
	void *arg;
	struct mp_dkim_keycache *cache; /* NULL: none */
	struct walk w;
	struct vsig sigs[MP_DKIM_SIGS];
	size_t nsigs;
	struct mp_dkim_verdict out[MP_DKIM_SIGS];
};

static const char *alg_name(int a)
{
	return a == MP_DKIM_RSA_SHA256       ? "rsa-sha256"
	       : a == MP_DKIM_ED25519_SHA256 ? "ed25519-sha256"
	       : a == MP_DKIM_RSA_SHA1       ? "rsa-sha1"
	                                     : "";
}

MP_PRINTF(3, 4)
static void verdict(struct mp_dkim_verdict *v, int result, const char *fmt, ...)
{
	va_list ap;

	v->result = result;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
}

/* at the blank line: the signatures are known, their body hashes start */
static void verifier_at_body(void *arg)
{
	struct mp_dkim_verifier *vf = arg;
	struct walk *w = &vf->w;

	for (size_t k = 0; k < w->nf && vf->nsigs < MP_DKIM_SIGS; k++) {
		const char *p = w->hdr.data + w->f[k].off;
		size_t len = w->f[k].len, val;
		if (!mp_hdr_field_name_is(p, len, "DKIM-Signature"))
			continue;
		mp_hdr_field_name(p, len, &val);
		struct vsig *s = &vf->sigs[vf->nsigs++];
		struct mp_err e;
		memset(s, 0, sizeof *s);
		s->field = k;
		mp_err_clear(&e);
		if (mp_dkim_sig_parse(p + val, len - val, &s->sig, &e) < 0) {
			verdict(&s->v, MP_DKIM_PERMERROR, "signature: %s (at octet %lld)", e.msg,
			        e.offset);
			continue;
		}
		/* where b= lies in the field */
		s->sig.boff += val;
		s->sig.bend += val;
		memcpy(s->v.d, s->sig.d, sizeof s->v.d);
		memcpy(s->v.s, s->sig.s, sizeof s->v.s);
		memcpy(s->v.i, s->sig.i, sizeof s->v.i);
		s->v.alg = alg_name(s->sig.alg);
		if (s->sig.alg == MP_DKIM_RSA_SHA1) {
			verdict(&s->v, MP_DKIM_POLICY, "rsa-sha1 is not accepted (RFC 8301)");
			continue;
		}
		s->b = calloc(1, sizeof *s->b);
		s->bmd = EVP_MD_CTX_new();
		if (!s->b || !s->bmd || !EVP_DigestInit_ex(s->bmd, EVP_sha256(), NULL)) {
			verdict(&s->v, MP_DKIM_TEMPERROR, "out of memory");
			continue;
		}
		s->b->relaxed = s->sig.bcanon == MP_DKIM_RELAXED;
		s->b->k.md = s->bmd;
		s->b->k.limit = s->sig.l;
	}
}

static void verifier_body(void *arg, const char *p, size_t n)
{
	struct mp_dkim_verifier *vf = arg;

	for (size_t k = 0; k < vf->nsigs; k++)
		if (vf->sigs[k].b && !vf->sigs[k].v.result)
			mp_dkim_body_feed(vf->sigs[k].b, p, n);
}

struct mp_dkim_verifier *mp_dkim_verifier_new(mp_dkim_lookup_fn lookup, void *arg)
{
	struct mp_dkim_verifier *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->lookup = lookup;
	v->arg = arg;
	mp_dkim_walk_init(&v->w, MP_DKIM_HDRMAX);
	v->w.at_body = verifier_at_body;
	v->w.body = verifier_body;
	v->w.arg = v;
	return v;
}

void mp_dkim_verifier_free(struct mp_dkim_verifier *v)
{
	if (!v)
		return;
	for (size_t k = 0; k < v->nsigs; k++) {
		free(v->sigs[k].b);
		EVP_MD_CTX_free(v->sigs[k].bmd);
	}
	mp_dkim_walk_free(&v->w);
	free(v);
}

const char *mp_dkim_verifier_header(const struct mp_dkim_verifier *v, size_t *n)
{
	*n = v->w.hdr.len;
	return v->w.hdr.data ? v->w.hdr.data : "";
}

int mp_dkim_verifier_feed(struct mp_dkim_verifier *v, const char *p, size_t n, struct mp_err *e)
{
	mp_dkim_walk_feed(&v->w, p, n);
	return v->w.err ? mp_dkim_walk_failed(&v->w, e) : 0;
}

static EVP_PKEY *public_key(const struct mp_dkim_key *k)
{
	const unsigned char *p = k->p;

	if (k->k == MP_DKIM_K_ED25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->p, k->plen);
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)k->plen);
	if (!key) { /* a bare RSAPublicKey, as some publish */
		p = k->p;
		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)k->plen);
	}
	if (key && EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

int mp_dkim_key_bits(const struct mp_dkim_key *k)
{
	EVP_PKEY *pk;
	int bits;

	if (!k->plen || !(pk = public_key(k)))
		return -1;
	bits = k->k == MP_DKIM_K_ED25519 ? (int)k->plen * 8 : EVP_PKEY_bits(pk);
	EVP_PKEY_free(pk);
	return bits;
}

struct mp_dkim_keycache *mp_dkim_keycache_new(void)
{
	return calloc(1, sizeof(struct mp_dkim_keycache));
}

void mp_dkim_keycache_free(struct mp_dkim_keycache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		mp_buf_free(&c->e[i].txt);
		EVP_PKEY_free(c->e[i].pk);
	}
	free(c);
}

void mp_dkim_verifier_cache(struct mp_dkim_verifier *v, struct mp_dkim_keycache *c)
{
	v->cache = c;
}

/* the key record at name: from the cache when it has the answer, else
 * from the lookup (an answer, found or not, goes into the cache; a
 * temporary failure does not). *ent: the cache's entry, or NULL (the
 * record is in txt) */
static int key_lookup(struct mp_dkim_verifier *vf, const char *name, struct mp_buf *txt,
                      struct kc_entry **ent, struct mp_err *e)
{
	struct mp_dkim_keycache *c = vf->cache;
	struct kc_entry *k;
	int r;

	*ent = NULL;
	for (size_t i = 0; c && i < c->n; i++)
		if (strcasecmp(c->e[i].name, name) == 0) {
			*ent = &c->e[i];
			return c->e[i].found;
		}
	r = vf->lookup(vf->arg, name, txt, e);
	if (r < 0 || !c || strlen(name) >= sizeof k->name)
		return r;
	if (c->n < KC_SIZE) {
		k = &c->e[c->n++];
	} else {
		k = &c->e[c->next];
		c->next = (c->next + 1) % KC_SIZE;
		mp_buf_free(&k->txt);
		EVP_PKEY_free(k->pk);
	}
	snprintf(k->name, sizeof k->name, "%s", name);
	k->found = r;
	k->txt = *txt; /* the cache owns it now */
	*txt = (struct mp_buf)MP_BUF_INIT;
	k->pk = NULL;
	*ent = k;
	return r;
}

/* one signature, its body hash done */
static void verify_one(struct mp_dkim_verifier *vf, struct vsig *s, long long now,
                       struct mp_buf *tmp)
{
	struct mp_dkim_sig *g = &s->sig;
	struct mp_dkim_key key;
	struct mp_buf txt = MP_BUF_INIT;
	struct mp_err e;
	char name[2 * MP_DKIM_DOMMAX + 16];
	unsigned char bh[EVP_MAX_MD_SIZE], h[EVP_MAX_MD_SIZE];
	unsigned bhl = 0, hl = 0;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *md = NULL;

	mp_dkim_body_end(s->b);
	if (s->b->k.oom || !EVP_DigestFinal_ex(s->bmd, bh, &bhl)) {
		verdict(&s->v, MP_DKIM_TEMPERROR, "out of memory");
		return;
	}
	if (g->x >= 0 && now > g->x) {
		verdict(&s->v, MP_DKIM_PERMERROR, "the signature expired (x=%lld)", g->x);
		return;
	}
	if (g->l >= 0 && (unsigned long long)g->l > s->b->k.total) {
		verdict(&s->v, MP_DKIM_PERMERROR, "l= is longer than the body");
		return;
	}
	snprintf(name, sizeof name, "%s._domainkey.%s", g->s, g->d);
	mp_err_clear(&e);
	struct kc_entry *ce;
	int r = key_lookup(vf, name, &txt, &ce, &e);
	const struct mp_buf *rec = ce ? &ce->txt : &txt;
	if (r < 0) {
		verdict(&s->v, MP_DKIM_TEMPERROR, "key %s: %s", name, e.msg);
		goto out;
	}
	if (r == 0) {
		verdict(&s->v, MP_DKIM_PERMERROR, "no key record at %s", name);
		goto out;
	}
	if (mp_dkim_key_parse(rec->data ? rec->data : "", rec->len, &key, &e) < 0) {
		verdict(&s->v, MP_DKIM_PERMERROR, "key %s: %s", name, e.msg);
		goto out;
	}
	s->v.testing = key.testing;
	if (!key.plen) {
		verdict(&s->v, MP_DKIM_PERMERROR, "key %s was revoked", name);
		goto out;
	}
	if ((key.k == MP_DKIM_K_ED25519) != (g->alg == MP_DKIM_ED25519_SHA256)) {
		verdict(&s->v, MP_DKIM_PERMERROR, "key %s is not for %s", name, alg_name(g->alg));
		goto out;
	}
	if (key.strict) {
		const char *at = strrchr(g->i, '@');
		if (!at || strcasecmp(at + 1, g->d) != 0) {
			verdict(&s->v, MP_DKIM_PERMERROR, "key %s wants i= in d= exactly (t=s)",
			        name);
			goto out;
		}
	}
	if (ce && ce->pk && EVP_PKEY_up_ref(ce->pk))
		pk = ce->pk; /* decoded for an earlier signature */
	else if ((pk = public_key(&key)) && ce && EVP_PKEY_up_ref(pk))
		ce->pk = pk;
	if (!pk) {
		verdict(&s->v, MP_DKIM_PERMERROR, "key %s: p= is no usable key", name);
		goto out;
	}
	if (key.k == MP_DKIM_K_RSA && EVP_PKEY_bits(pk) < 1024) {
		verdict(&s->v, MP_DKIM_POLICY, "key %s: RSA of %d bits, under 1024 (RFC 8301)",
		        name, EVP_PKEY_bits(pk));
		goto out;
	}
	if (bhl != g->bhlen || memcmp(bh, g->bh, bhl) != 0) {
		verdict(&s->v, MP_DKIM_FAIL, "the body hash does not match (bh=)");
		goto out;
	}
	struct walk *w = &vf->w;
	const struct field *f = &w->f[s->field];
	if (!(md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    mp_dkim_hash_fields(w, g->names, g->nnames, g->hcanon, md, tmp) < 0 ||
	    mp_dkim_hash_self(w->hdr.data + f->off, f->len, g->boff, g->bend, g->hcanon, md, tmp) <
	        0 ||
	    !EVP_DigestFinal_ex(md, h, &hl)) {
		verdict(&s->v, MP_DKIM_TEMPERROR, "out of memory");
		goto out;
	}
	if (!mp_dkim_pk_hash(pk, key.k, h, g->b, &g->blen, 1))
		verdict(&s->v, MP_DKIM_FAIL, "the signature does not verify");
	else
		verdict(&s->v, MP_DKIM_PASS, "%s", "");
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	mp_buf_free(&txt);
}

int mp_dkim_verifier_end(struct mp_dkim_verifier *v, long long now,
                         const struct mp_dkim_verdict **out, size_t *nout, struct mp_err *e)
{
	struct mp_buf tmp = MP_BUF_INIT;

	mp_dkim_walk_end(&v->w);
	if (v->w.err)
		return mp_dkim_walk_failed(&v->w, e);
	for (size_t k = 0; k < v->nsigs; k++) {
		struct vsig *s = &v->sigs[k];
		if (!s->v.result)
			verify_one(v, s, now, &tmp);
		v->out[k] = s->v;
	}
	mp_buf_free(&tmp);
	*out = v->out;
	*nout = v->nsigs;
	return 0;
}
