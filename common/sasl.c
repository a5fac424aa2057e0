#include "sasl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"

enum mp_sasl_mech mp_sasl_parse(const char *name)
{
	static const struct {
		const char *n;
		enum mp_sasl_mech m;
	} t[] = {{"PLAIN", MP_SASL_PLAIN},
	         {"LOGIN", MP_SASL_LOGIN},
	         {"CRAM-MD5", MP_SASL_CRAM_MD5},
	         {"XOAUTH2", MP_SASL_XOAUTH2},
	         {"SCRAM-SHA-256", MP_SASL_SCRAM_SHA256},
	         {"OAUTHBEARER", MP_SASL_OAUTHBEARER}};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcasecmp(name, t[i].n) == 0)
			return t[i].m;
	return MP_SASL_NONE;
}

const char *mp_sasl_name(enum mp_sasl_mech m)
{
	switch (m) {
	case MP_SASL_PLAIN: return "PLAIN";
	case MP_SASL_LOGIN: return "LOGIN";
	case MP_SASL_CRAM_MD5: return "CRAM-MD5";
	case MP_SASL_XOAUTH2: return "XOAUTH2";
	case MP_SASL_SCRAM_SHA256: return "SCRAM-SHA-256";
	case MP_SASL_OAUTHBEARER: return "OAUTHBEARER";
	default: return "none";
	}
}

/* the first of pref[] that the space-separated list offers */
static enum mp_sasl_mech choose(const char *offered, const enum mp_sasl_mech *pref, size_t np)
{
	char buf[256], *save = NULL;

	for (size_t p = 0; p < np; p++) {
		snprintf(buf, sizeof buf, "%s", offered);
		for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (mp_sasl_parse(w) == pref[p])
				return pref[p];
	}
	return MP_SASL_NONE;
}

enum mp_sasl_mech mp_sasl_choose(const char *offered)
{
	/* strongest first; over TLS (the only place we authenticate) PLAIN
	 * is as good as any, CRAM-MD5 keeps the password off the wire */
	static const enum mp_sasl_mech pref[] = {MP_SASL_CRAM_MD5, MP_SASL_PLAIN, MP_SASL_LOGIN};

	return choose(offered, pref, sizeof pref / sizeof pref[0]);
}

enum mp_sasl_mech mp_sasl_choose_best(const char *offered)
{
	/* SCRAM also proves the server knows the password */
	static const enum mp_sasl_mech pref[] = {MP_SASL_SCRAM_SHA256, MP_SASL_CRAM_MD5,
	                                         MP_SASL_PLAIN, MP_SASL_LOGIN};

	return choose(offered, pref, sizeof pref / sizeof pref[0]);
}

int mp_sasl_initial(enum mp_sasl_mech m)
{
	return m == MP_SASL_PLAIN || m == MP_SASL_XOAUTH2 || m == MP_SASL_SCRAM_SHA256 ||
	       m == MP_SASL_OAUTHBEARER;
}

int mp_sasl_step(enum mp_sasl_mech m, int step, const char *user, const char *pass,
                 const char *challenge, size_t clen, struct mp_buf *out, struct mp_err *e)
{
	mp_buf_reset(out);
	switch (m) {
	case MP_SASL_PLAIN:
		/* authzid NUL authcid NUL password */
		if (mp_buf_putc(out, 0) || mp_buf_puts(out, user) || mp_buf_putc(out, 0) ||
		    mp_buf_puts(out, pass))
			goto nomem;
		return 0;
	case MP_SASL_LOGIN:
		if (step > 1)
			return mp_err_set(e, EX_PROTOCOL, "AUTH LOGIN: unexpected challenge");
		return mp_buf_puts(out, step == 0 ? user : pass) ? -1 : 0;
	case MP_SASL_CRAM_MD5: {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdl = 0;
		if (step > 0)
			return mp_err_set(e, EX_PROTOCOL, "AUTH CRAM-MD5: unexpected challenge");
		if (!HMAC(EVP_md5(), pass, (int)strlen(pass), (const unsigned char *)challenge,
		          clen, md, &mdl))
			return mp_err_set(e, EX_SOFTWARE, "HMAC-MD5 failed");
		if (mp_buf_puts(out, user) || mp_buf_putc(out, ' '))
			goto nomem;
		for (unsigned i = 0; i < mdl; i++)
			if (mp_buf_printf(out, "%02x", md[i]))
				goto nomem;
		return 0;
	}
	case MP_SASL_XOAUTH2:
		if (mp_buf_printf(out, "user=%s\001auth=Bearer %s\001\001", user, pass))
			goto nomem;
		return 0;
	case MP_SASL_SCRAM_SHA256:
	case MP_SASL_OAUTHBEARER:
		return mp_err_set(e, EX_CONFIG, "%s is not supported by this client",
		                  mp_sasl_name(m));
	default: return mp_err_set(e, EX_CONFIG, "no usable authentication mechanism");
	}
nomem:
	return mp_err_sys(e, EX_TEMPFAIL, "SASL");
}

/* ---------------------------------------------------------------- one exchange */

void mp_sasl_init(struct mp_sasl *c, enum mp_sasl_mech m, const char *user, const char *pass)
{
	unsigned char rnd[24];

	memset(c, 0, sizeof *c);
	c->mech = m;
	c->user = user;
	c->pass = pass;
	c->first_bare = (struct mp_buf)MP_BUF_INIT;
	if (m == MP_SASL_SCRAM_SHA256) {
		/* 192 random bits; base64 has no ',' */
		if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			memcpy(rnd, &t, sizeof t < sizeof rnd ? sizeof t : sizeof rnd);
		}
		c->nonce[mp_b64_encode(rnd, sizeof rnd, c->nonce, 0)] = '\0';
	}
}

void mp_sasl_free(struct mp_sasl *c)
{
	mp_buf_free(&c->first_bare);
	OPENSSL_cleanse(c->server_sig, sizeof c->server_sig);
}

/* base64 into a bounded binary buffer */
static int b64dec(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	unsigned char *tmp;
	struct mp_b64dec d;
	size_t n1 = 0, n2 = 0;
	int rc = -1;

	if (n > (cap / 3 + 2) * 4) /* longer than cap bytes can be */
		return -1;
	if (!(tmp = malloc(mp_b64dec_maxout(n) + 4)))
		return -1;
	mp_b64dec_init(&d, 0);
	if (mp_b64dec_update(&d, in, n, tmp, &n1, NULL) == 0 &&
	    mp_b64dec_final(&d, tmp + n1, &n2, NULL) == 0 && n1 + n2 <= cap) {
		memcpy(out, tmp, n1 + n2);
		*outlen = n1 + n2;
		rc = 0;
	}
	free(tmp);
	return rc;
}

/* the value of attribute a in "a=value,..." at p (len left), up to ',' */
static int attr(const char **p, const char *end, char a, const char **v, size_t *vl)
{
	if (end - *p < 2 || (*p)[0] != a || (*p)[1] != '=')
		return -1;
	*v = *p + 2;
	const char *comma = memchr(*v, ',', (size_t)(end - *v));
	*vl = (size_t)((comma ? comma : end) - *v);
	*p = comma ? comma + 1 : end;
	return 0;
}

int mp_scram_parse_first(const char *msg, size_t len, const char *cnonce, struct mp_scram_first *f,
                         struct mp_err *e)
{
	const char *p = msg, *end = msg + len, *v;
	size_t vl, cl = strlen(cnonce);

	memset(f, 0, sizeof *f);
	if (len > 4096 || memchr(msg, '\0', len))
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: malformed server-first message");
	if (len >= 2 && msg[0] == 'm' && msg[1] == '=')
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: the server asks for an extension (m=)");
	if (attr(&p, end, 'r', &v, &vl) < 0 || vl <= cl || vl > MP_SCRAM_NONCE_MAX ||
	    memcmp(v, cnonce, cl) != 0)
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: the server nonce does not extend ours");
	for (size_t i = 0; i < vl; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return mp_err_set(e, EX_PROTOCOL, "SCRAM: a bad character in the nonce");
	f->nonce = v;
	f->nlen = vl;
	if (attr(&p, end, 's', &v, &vl) < 0 || vl == 0 ||
	    b64dec(v, vl, f->salt, sizeof f->salt, &f->saltlen) < 0 || f->saltlen == 0)
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: a bad salt");
	if (attr(&p, end, 'i', &v, &vl) < 0 || vl == 0 || vl > 7)
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: a bad iteration count");
	long it = 0;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return mp_err_set(e, EX_PROTOCOL, "SCRAM: a bad iteration count");
		it = it * 10 + (v[i] - '0');
	}
	if (it < MP_SCRAM_ITER_MIN || it > MP_SCRAM_ITER_MAX)
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: iteration count %ld outside %d..%d", it,
		                  MP_SCRAM_ITER_MIN, MP_SCRAM_ITER_MAX);
	f->iter = it;
	return 0; /* extensions after i= are ignored */
}

int mp_scram_parse_final(const char *msg, size_t len, unsigned char sig[32], struct mp_err *e)
{
	const char *p = msg, *end = msg + len, *v;
	size_t vl, got = 0;

	if (len > 4096)
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: malformed server-final message");
	if (attr(&p, end, 'e', &v, &vl) == 0) {
		char why[100];
		size_t k = 0;
		for (size_t i = 0; i < vl && k + 1 < sizeof why; i++)
			why[k++] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
		why[k] = '\0';
		return mp_err_set(e, EX_NOPERM, "SCRAM: the server says: %s", why);
	}
	unsigned char tmp[32];
	if (attr(&p, end, 'v', &v, &vl) < 0 || b64dec(v, vl, tmp, sizeof tmp, &got) < 0 ||
	    got != 32)
		return mp_err_set(e, EX_PROTOCOL, "SCRAM: malformed server-final message");
	memcpy(sig, tmp, 32);
	return 0;
}

/* SaslName: ',' and '=' escaped */
static int saslname(struct mp_buf *b, const char *s)
{
	for (; *s; s++)
		if (*s == ','   ? mp_buf_puts(b, "=2C")
		    : *s == '=' ? mp_buf_puts(b, "=3D")
		                : mp_buf_putc(b, *s))
			return -1;
	return 0;
}

static int hmac256(const void *key, size_t kl, const void *d, size_t dl, unsigned char out[32])
{
	unsigned int ol = 0;

	return HMAC(EVP_sha256(), key, (int)kl, d, dl, out, &ol) && ol == 32 ? 0 : -1;
}

/* server-first in, client-final out; the server signature kept */
static int scram_final(struct mp_sasl *c, const char *chal, size_t clen, struct mp_buf *out,
                       struct mp_err *e)
{
	struct mp_scram_first f;
	struct mp_buf am = MP_BUF_INIT;
	unsigned char salted[32], ckey[32], skey[32], stored[32], csig[32], proof[32];
	unsigned int sl = 0;
	char p64[64];
	int rc = -1;

	if (mp_scram_parse_first(chal, clen, c->nonce, &f, e) < 0)
		return -1;
	if (mp_buf_printf(out, "c=biws,r=%.*s", (int)f.nlen, f.nonce) ||
	    mp_buf_append(&am, c->first_bare.data, c->first_bare.len) || mp_buf_putc(&am, ',') ||
	    mp_buf_append(&am, chal, clen) || mp_buf_putc(&am, ',') ||
	    mp_buf_append(&am, out->data, out->len)) {
		mp_err_sys(e, EX_TEMPFAIL, "SCRAM");
		goto out;
	}
	if (!PKCS5_PBKDF2_HMAC(c->pass, (int)strlen(c->pass), f.salt, (int)f.saltlen, (int)f.iter,
	                       EVP_sha256(), sizeof salted, salted) ||
	    hmac256(salted, 32, "Client Key", 10, ckey) < 0 ||
	    !EVP_Digest(ckey, 32, stored, &sl, EVP_sha256(), NULL) ||
	    hmac256(stored, 32, am.data, am.len, csig) < 0 ||
	    hmac256(salted, 32, "Server Key", 10, skey) < 0 ||
	    hmac256(skey, 32, am.data, am.len, c->server_sig) < 0) {
		mp_err_set(e, EX_SOFTWARE, "SCRAM: the crypto library failed");
		goto out;
	}
	for (int i = 0; i < 32; i++)
		proof[i] = ckey[i] ^ csig[i];
	p64[mp_b64_encode(proof, 32, p64, 0)] = '\0';
	if (mp_buf_printf(out, ",p=%s", p64)) {
		mp_err_sys(e, EX_TEMPFAIL, "SCRAM");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(ckey, sizeof ckey);
	OPENSSL_cleanse(skey, sizeof skey);
	OPENSSL_cleanse(stored, sizeof stored);
	mp_buf_free(&am);
	return rc;
}

/* the JSON error of a token mechanism, kept printable for the message */
static void keep_err(struct mp_sasl *c, const char *chal, size_t clen)
{
	size_t k = 0;

	for (size_t i = 0; i < clen && k + 1 < sizeof c->server_err; i++)
		if (chal[i] != '\n' && chal[i] != '\r')
			c->server_err[k++] = chal[i] >= 0x20 && chal[i] < 0x7f ? chal[i] : '?';
	c->server_err[k] = '\0';
}

int mp_sasl_next(struct mp_sasl *c, const char *chal, size_t clen, struct mp_buf *out,
                 struct mp_err *e)
{
	int step = c->step++;

	mp_buf_reset(out);
	switch (c->mech) {
	case MP_SASL_SCRAM_SHA256:
		if (step == 0) {
			/* gs2 header "n,,": no channel binding, no authzid */
			mp_buf_reset(&c->first_bare);
			if (mp_buf_puts(&c->first_bare, "n=") ||
			    saslname(&c->first_bare, c->user) ||
			    mp_buf_printf(&c->first_bare, ",r=%s", c->nonce) ||
			    mp_buf_puts(out, "n,,") ||
			    mp_buf_append(out, c->first_bare.data, c->first_bare.len))
				return mp_err_sys(e, EX_TEMPFAIL, "SCRAM");
			return 0;
		}
		if (step == 1)
			return scram_final(c, chal ? chal : "", clen, out, e);
		if (step == 2) {
			unsigned char sig[32];
			if (mp_scram_parse_final(chal ? chal : "", clen, sig, e) < 0)
				return -1;
			if (CRYPTO_memcmp(sig, c->server_sig, 32) != 0)
				return mp_err_set(e, EX_NOPERM,
				                  "SCRAM-SHA-256: the server's signature does not "
				                  "match: it does not know the password");
			c->verified = 1;
			return 0; /* an empty response */
		}
		break;
	case MP_SASL_OAUTHBEARER:
		if (step == 0) {
			/* RFC 7628 3.1: gs2 header, then key=value pairs split by ^A */
			if (mp_buf_puts(out, "n,a=") || saslname(out, c->user) ||
			    mp_buf_puts(out, ",\001") ||
			    (c->host &&
			     mp_buf_printf(out, "host=%s\001port=%d\001", c->host, c->port)) ||
			    mp_buf_puts(out, "auth=Bearer ") || mp_buf_puts(out, c->pass) ||
			    mp_buf_puts(out, "\001\001"))
				return mp_err_sys(e, EX_TEMPFAIL, "OAUTHBEARER");
			return 0;
		}
		if (step == 1) { /* the error status: ^A ends the exchange */
			keep_err(c, chal ? chal : "", clen);
			return mp_buf_putc(out, '\001') ? mp_err_sys(e, EX_TEMPFAIL, "SASL") : 0;
		}
		break;
	case MP_SASL_XOAUTH2:
		if (step == 0)
			return mp_sasl_step(c->mech, 0, c->user, c->pass, NULL, 0, out, e);
		if (step == 1) { /* the error status: an empty response */
			keep_err(c, chal ? chal : "", clen);
			return 0;
		}
		break;
	case MP_SASL_PLAIN:
		if (step == 0)
			return mp_sasl_step(c->mech, 0, c->user, c->pass, NULL, 0, out, e);
		break;
	default:
		return mp_sasl_step(c->mech, step, c->user, c->pass, chal ? chal : "", clen, out,
		                    e);
	}
	return mp_err_set(e, EX_PROTOCOL, "AUTH %s: unexpected challenge", mp_sasl_name(c->mech));
}

int mp_sasl_done(struct mp_sasl *c, struct mp_err *e)
{
	if (c->mech == MP_SASL_SCRAM_SHA256 && !c->verified)
		return mp_err_set(e, EX_NOPERM,
		                  "SCRAM-SHA-256: the server said yes without proving it knows "
		                  "the password");
	return 0;
}
