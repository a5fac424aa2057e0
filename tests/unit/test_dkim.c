/* dkim: the RFC 8463 Appendix A example, RFC 6376 §3.4.5 canonicalization,
 * signing and verifying round trips, tampering, the parsers' refusals. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "dkim.h"
#include "tap.h"

/* RFC 8463 Appendix A.3: the signed message (A.2 has the key records) */
static const char rfc8463[] = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
                              " d=football.example.com; i=@football.example.com;\r\n"
                              " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
                              " subject : date : message-id : from : subject : date;\r\n"
                              " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
                              " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
                              " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
                              "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
                              " d=football.example.com; i=@football.example.com;\r\n"
                              " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
                              " date : message-id : from : subject : date;\r\n"
                              " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
                              " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
                              " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
                              " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
                              "From: Joe SixPack <joe@football.example.com>\r\n"
                              "To: Suzie Q <suzie@shopping.example.net>\r\n"
                              "Subject: Is dinner ready?\r\n"
                              "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
                              "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
                              "\r\n"
                              "Hi.\r\n"
                              "\r\n"
                              "We lost the game.  Are you hungry yet?\r\n"
                              "\r\n"
                              "Joe.\r\n";

struct rec {
	const char *name, *txt;
};
static struct rec recs[8];
static int nrecs, lookups, fail_temp;
static struct mp_dkim_keycache *use_cache; /* verify() gives it to its verifier */

static int lookup(void *arg, const char *name, struct mp_buf *txt, struct mp_err *e)
{
	(void)arg;
	lookups++;
	if (fail_temp)
		return mp_err_set(e, EX_TEMPFAIL, "SERVFAIL");
	for (int k = 0; k < nrecs; k++)
		if (strcmp(recs[k].name, name) == 0) {
			mp_buf_reset(txt);
			return mp_buf_puts(txt, recs[k].txt) < 0 ? -1 : 1;
		}
	return 0;
}

/* verify msg fed in pieces of step octets: the results, "pass,fail" */
static const char *verify(const char *msg, size_t n, size_t step, char *why, size_t whyn)
{
	static char out[200];
	struct mp_dkim_verifier *v = mp_dkim_verifier_new(lookup, NULL);
	const struct mp_dkim_verdict *r;
	size_t nr;
	struct mp_err e;

	mp_dkim_verifier_cache(v, use_cache);
	out[0] = '\0';
	if (why)
		why[0] = '\0';
	mp_err_clear(&e);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i += step)
		rc = mp_dkim_verifier_feed(v, msg + i, n - i < step ? n - i : step, &e);
	if (rc < 0 || mp_dkim_verifier_end(v, 1700000000, &r, &nr, &e) < 0) {
		mp_dkim_verifier_free(v);
		return "error";
	}
	for (size_t k = 0; k < nr; k++) {
		size_t l = strlen(out);
		snprintf(out + l, sizeof out - l, "%s%s", k ? "," : "",
		         mp_dkim_result_name(r[k].result));
		if (why && r[k].reason[0] && !why[0])
			snprintf(why, whyn, "%s", r[k].reason);
	}
	mp_dkim_verifier_free(v);
	return out;
}

static const char *verify_s(const char *msg, char *why)
{
	return verify(msg, strlen(msg), 65536, why, why ? 160 : 0);
}

/* a key pair: the private key in a file, the record's p= */
static int keypair(int type, const char *path, char *p64, size_t p64n)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;
	unsigned char der[2048], *d = der;
	int n;
	FILE *f;

	if (!c || EVP_PKEY_keygen_init(c) != 1 ||
	    (type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) != 1) ||
	    EVP_PKEY_keygen(c, &k) != 1)
		return -1;
	EVP_PKEY_CTX_free(c);
	if (!(f = fopen(path, "w")) || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL))
		return -1;
	fclose(f);
	if (type == EVP_PKEY_ED25519) {
		size_t l = 32;
		if (EVP_PKEY_get_raw_public_key(k, der, &l) != 1)
			return -1;
		n = (int)l;
	} else if ((n = i2d_PUBKEY(k, &d)) <= 0) {
		return -1;
	}
	if (mp_b64_enclen((size_t)n, 0) >= p64n)
		return -1;
	p64[mp_b64_encode(der, (size_t)n, p64, 0)] = '\0';
	EVP_PKEY_free(k);
	return 0;
}

/* msg signed by the key at path: the DKIM-Signature field and msg */
static char *sign(const char *path, const char *sel, int hc, int bc, const char *msg, size_t step)
{
	struct mp_err e;
	struct mp_dkim_signer *s = mp_dkim_signer_new(path, sel, "example.org", hc, bc, NULL, &e);
	struct mp_buf out = MP_BUF_INIT;
	size_t n = strlen(msg);

	if (!s) {
		tap_diag("signer: %s", e.msg);
		return NULL;
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i += step)
		rc = mp_dkim_signer_feed(s, msg + i, n - i < step ? n - i : step, &e);
	if (rc == 0 && (rc = mp_dkim_signer_end(s, "\r\n", &out, &e)) < 0)
		tap_diag("sign: %s", e.msg);
	mp_dkim_signer_free(s);
	if (rc < 0) {
		mp_buf_free(&out);
		return NULL;
	}
	mp_buf_puts(&out, msg);
	return out.data;
}

static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *r = malloc(n);

	if (!at || !r)
		return NULL;
	snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return r;
}

static const char plainmsg[] = "From: Alice <alice@example.org>\n"
                               "To: bob@example.net\n"
                               "Subject: lunch\n"
                               "\t tomorrow?\n"
                               "Date: Mon, 7 Dec 2026 12:00:00 +0000\n"
                               "Message-ID: <1@example.org>\n"
                               "\n"
                               "Hello  Bob, \n"
                               ".dot line\n"
                               "\n"
                               "\n";

/* the key at from, written to path in another PEM form: 't' traditional
 * (RSA PRIVATE KEY), 'e' encrypted PKCS #8, 'E' encrypted traditional,
 * 'c' after a block that is no key */
static int rewrite(const char *from, const char *path, int form)
{
	FILE *f = fopen(from, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	int ok;

	if (f)
		fclose(f);
	BIO *b = k ? BIO_new_file(path, "w") : NULL;
	if (!b) {
		EVP_PKEY_free(k);
		return -1;
	}
	if (form == 'c')
		BIO_puts(b, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	unsigned char pw[] = "secret";
	const EVP_CIPHER *aes = form == 'e' || form == 'E' ? EVP_aes_128_cbc() : NULL;
	ok = form == 't' || form == 'E'
	         ? PEM_write_bio_PrivateKey_traditional(b, k, aes, aes ? pw : NULL, aes ? 6 : 0,
	                                                NULL, NULL)
	         : PEM_write_bio_PrivateKey(b, k, aes, aes ? pw : NULL, aes ? 6 : 0, NULL, NULL);
	BIO_free(b);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

/* a signer for the key at path: NULL, and the error's text in why */
static struct mp_dkim_signer *signer_for(const char *path, char *why, size_t whyn)
{
	struct mp_err e;
	struct mp_dkim_signer *s = mp_dkim_signer_new(path, "r1", "example.org", 1, 1, NULL, &e);

	snprintf(why, whyn, "%s", s ? "" : e.code == EX_CONFIG ? e.msg : "not EX_CONFIG");
	return s;
}

/* the forms a key file comes in, and the files that are no usable key */
static void key_forms(const char *rsa, const char *path)
{
	char why[600], *m = NULL;
	static const char seed31[] =
	    "-----BEGIN PRIVATE KEY-----\n"
	    "MC0CAQAwBQYDK2VwBCEEHwABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4=\n"
	    "-----END PRIVATE KEY-----\n";
	static const char bad64[] =
	    "-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n-----END PRIVATE KEY-----\n";
	FILE *f = NULL;

	tap_ok(rewrite(rsa, path, 't') == 0 && (m = sign(path, "r1", 1, 1, plainmsg, 9)) &&
	           strstr(m, "a=rsa-sha256") && strcmp(verify_s(m, why), "pass") == 0,
	       "a traditional RSA PRIVATE KEY signs, and it verifies");
	free(m);
	m = NULL;
	tap_ok(rewrite(rsa, path, 'c') == 0 && (m = sign(path, "r1", 1, 1, plainmsg, 9)) &&
	           strcmp(verify_s(m, why), "pass") == 0,
	       "a block that is no key before the key is passed over");
	free(m);
	struct {
		int form;
		const char *text, *error;
	} bad[] = {
	    {'e', NULL, "no PEM private key"},
	    {'E', NULL, "no PEM private key"},
	    {0, seed31, "no PEM private key"},
	    {0, bad64, "no PEM private key"},
	    {0, "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n",
	     "no PEM private key"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (bad[i].form)
			rewrite(rsa, path, bad[i].form);
		else if ((f = fopen(path, "w"))) {
			fputs(bad[i].text, f);
			fclose(f);
		}
		struct mp_dkim_signer *s = signer_for(path, why, sizeof why);
		tap_ok(!s && strstr(why, path) && strstr(why, bad[i].error),
		       "key file %zu refused: %s", i, why);
		mp_dkim_signer_free(s);
	}
	/* keys of other types and sizes, as OpenSSL makes them */
	struct {
		EVP_PKEY *k;
		int traditional;
		const char *what;
	} other[] = {
	    {EVP_EC_gen("P-256"), 0, "a P-256 key"},
	    {EVP_EC_gen("P-256"), 1, "a P-256 key, EC PRIVATE KEY"},
	    {EVP_RSA_gen(512), 0, "an RSA 512 key"},
	    {EVP_RSA_gen(512), 1, "an RSA 512 key, RSA PRIVATE KEY"},
	    {EVP_PKEY_Q_keygen(NULL, NULL, "ED448"), 0, "an Ed448 key"},
	};
	for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
		BIO *b = other[i].k ? BIO_new_file(path, "w") : NULL;
		int ok =
		    b && (other[i].traditional
		              ? PEM_write_bio_PrivateKey_traditional(b, other[i].k, NULL, NULL, 0,
		                                                     NULL, NULL)
		              : PEM_write_bio_PrivateKey(b, other[i].k, NULL, NULL, 0, NULL, NULL));
		BIO_free(b);
		struct mp_dkim_signer *s = ok ? signer_for(path, why, sizeof why) : NULL;
		tap_ok(ok && !s && strstr(why, path) &&
		           strstr(why, "neither Ed25519 nor RSA of 1024"),
		       "%s refused: %s", other[i].what, why);
		mp_dkim_signer_free(s);
		EVP_PKEY_free(other[i].k);
	}
	unlink(path);
}

int main(void)
{
	struct mp_buf b = MP_BUF_INIT;
	char why[160], tmpl[4096], rsa[4200], ed[4200];
	char prsa[600], ped[80], rec1[700], rec2[120];
	struct mp_err e;

	/* RFC 8463 Appendix A */
	recs[0] =
	    (struct rec){"brisbane._domainkey.football.example.com",
	                 "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="};
	recs[1] =
	    (struct rec){"test._domainkey.football.example.com",
	                 "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
	                 "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
	                 "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
	                 "Ip3G+2kryOTIKT+l/K4w3QIDAQAB"};
	nrecs = 2;
	tap_ok(strcmp(verify_s(rfc8463, why), "pass,pass") == 0,
	       "RFC 8463 A.3: ed25519-sha256 and rsa-sha256 pass (%s) %s", verify_s(rfc8463, NULL),
	       why);
	tap_ok(strcmp(verify(rfc8463, strlen(rfc8463), 1, NULL, 0), "pass,pass") == 0,
	       "... fed an octet at a time");
	char *t = replace(rfc8463, "We lost", "We won");
	tap_ok(strcmp(verify_s(t, why), "fail,fail") == 0 && strstr(why, "body hash"),
	       "a changed body fails (%s)", why);
	free(t);
	t = replace(rfc8463, "Subject: Is dinner", "Subject: is dinner");
	tap_ok(strcmp(verify_s(t, why), "fail,fail") == 0 && strstr(why, "does not verify"),
	       "a changed Subject fails (%s)", why);
	free(t);
	t = replace(rfc8463, "Joe.\r\n", "Joe.\r\n\r\n\r\n");
	tap_ok(strcmp(verify_s(t, NULL), "pass,pass") == 0, "empty lines added at the end pass");
	free(t);
	t = replace(rfc8463, "From: Joe", "From: Eve <eve@example.com>\r\nFrom: Joe");
	tap_ok(strcmp(verify_s(t, NULL), "fail,fail") == 0, "an added From fails (over-signed)");
	free(t);
	fail_temp = 1;
	tap_ok(strcmp(verify_s(rfc8463, NULL), "temperror,temperror") == 0,
	       "a DNS failure is temperror");
	fail_temp = 0;
	/* a key cache shared by verifiers: each name asked once, its key
	 * decoded once; a temporary failure is not kept */
	use_cache = mp_dkim_keycache_new();
	fail_temp = 1;
	lookups = 0;
	int cached = strcmp(verify_s(rfc8463, NULL), "temperror,temperror") == 0 && lookups == 2;
	fail_temp = 0;
	for (int k = 0; k < 3; k++)
		cached = cached && strcmp(verify_s(rfc8463, NULL), "pass,pass") == 0;
	tap_ok(cached && lookups == 4,
	       "a key cache: two names asked once each after a SERVFAIL (%d lookups)", lookups);
	t = replace(rfc8463, "We lost", "We won");
	tap_ok(t && strcmp(verify_s(t, NULL), "fail,fail") == 0 && lookups == 4,
	       "a key cache: a changed body still fails, with the keys kept");
	free(t);
	mp_dkim_keycache_free(use_cache);
	use_cache = NULL;
	nrecs = 0;
	tap_ok(strcmp(verify_s(rfc8463, why), "permerror,permerror") == 0 &&
	           strstr(why, "no key record"),
	       "no key record is permerror (%s)", why);
	recs[0].txt = "v=DKIM1; k=ed25519; p=";
	nrecs = 1;
	tap_ok(strncmp(verify_s(rfc8463, why), "permerror", 9) == 0 && strstr(why, "revoked"),
	       "a revoked key is permerror (%s)", why);
	t = replace(rfc8463, "a=ed25519-sha256", "a=rsa-sha1");
	tap_ok(strncmp(verify_s(t, why), "policy", 6) == 0, "rsa-sha1 is policy (%s)", why);
	free(t);
	t = replace(rfc8463, "s=brisbane;", "");
	tap_ok(strncmp(verify_s(t, why), "permerror", 9) == 0 && strstr(why, "s= is missing"),
	       "a signature without s= is permerror (%s)", why);
	free(t);
	tap_ok(strcmp(verify_s("From: a@b\r\n\r\nhi\r\n", NULL), "") == 0,
	       "no signature, no verdict");

	/* RFC 6376 §3.4.5 */
	const char *h1 = "A: X\r\n", *h2 = "B : Y\t\r\n\tZ  \r\n";
	mp_dkim_canon_header(h1, strlen(h1), 1, &b);
	mp_dkim_canon_header(h2, strlen(h2), 1, &b);
	tap_is_mem(b.data, b.len, "a:X\r\nb:Y Z\r\n", 12, "§3.4.5 relaxed header");
	mp_buf_reset(&b);
	mp_dkim_canon_header(h1, strlen(h1), 0, &b);
	mp_dkim_canon_header(h2, strlen(h2), 0, &b);
	tap_is_mem(b.data, b.len, "A: X\r\nB : Y\t\r\n\tZ  \r\n", 20, "§3.4.5 simple header");
	/* bodies: RFC 6376 §3.4.5's, then the edges of §3.4.3 and §3.4.4 */
	static const struct {
		const char *in, *want, *what;
		int relaxed;
	} bodies[] = {
	    {" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n", "§3.4.5 relaxed body", 1},
	    {" C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n", "§3.4.5 simple body", 0},
	    {" C \nD \t E\n\n\n", " C\r\nD E\r\n", "LF line ends are CR LF", 1},
	    {"", "\r\n", "an empty body, simple: CR LF (§3.4.3)", 0},
	    {"\r\n\r\n", "", "an empty body, relaxed: nothing (§3.4.4)", 1},
	    {"x", "x\r\n", "a last line without its end gets CR LF", 0},
	    {"a \t\r\n \r\nb", "a\r\n\r\nb\r\n", "relaxed: a blank-only line is empty", 1},
	    {"a\rb\r", "a\rb\r\r\n", "a bare CR is text", 0},
	};
	for (size_t k = 0; k < sizeof bodies / sizeof *bodies; k++) {
		mp_buf_reset(&b);
		mp_dkim_canon_body(bodies[k].in, strlen(bodies[k].in), bodies[k].relaxed, &b);
		tap_is_mem(b.data ? b.data : "", b.len, bodies[k].want, strlen(bodies[k].want),
		           "%s", bodies[k].what);
	}

	/* signing, then verifying */
	const char *tmp = getenv("TMPDIR");
	snprintf(tmpl, sizeof tmpl, "%s/test_dkimXXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(tmpl);
	close(fd);
	snprintf(rsa, sizeof rsa, "%s.rsa", tmpl);
	snprintf(ed, sizeof ed, "%s.ed", tmpl);
	tap_ok(keypair(EVP_PKEY_RSA, rsa, prsa, sizeof prsa) == 0 &&
	           keypair(EVP_PKEY_ED25519, ed, ped, sizeof ped) == 0,
	       "key pairs made");
	snprintf(rec1, sizeof rec1, "v=DKIM1; k=rsa; p=%s", prsa);
	snprintf(rec2, sizeof rec2, "v=DKIM1; k=ed25519; t=s; p=%s", ped);
	recs[0] = (struct rec){"r1._domainkey.example.org", rec1};
	recs[1] = (struct rec){"e1._domainkey.example.org", rec2};
	nrecs = 2;
	for (int hc = 0; hc < 2; hc++)
		for (int bc = 0; bc < 2; bc++) {
			char *m1 = sign(rsa, "r1", hc, bc, plainmsg, 7);
			char *m2 = m1 ? sign(ed, "e1", hc, bc, m1, 100000) : NULL;
			tap_ok(m2 && strcmp(verify_s(m2, why), "pass,pass") == 0,
			       "signed %s/%s by Ed25519 and RSA: both pass %s",
			       hc ? "relaxed" : "simple", bc ? "relaxed" : "simple", why);
			tap_ok(m2 && strcmp(verify(m2, strlen(m2), 3, NULL, 0), "pass,pass") == 0,
			       "... fed three octets at a time");
			t = m2 ? replace(m2, "Hello  Bob", "Hello Bob") : NULL;
			tap_ok(t && strcmp(verify_s(t, NULL), bc ? "pass,pass" : "fail,fail") == 0,
			       "blanks changed in the body: %s",
			       bc ? "pass (relaxed)" : "fail (simple)");
			free(t);
			t = m2 ? replace(m2, "lunch", "brunch") : NULL;
			tap_ok(t && strcmp(verify_s(t, NULL), "fail,fail") == 0,
			       "a changed Subject fails");
			free(t);
			t = m2 ? replace(m2, ".dot", ",dot") : NULL;
			tap_ok(t && strcmp(verify_s(t, NULL), "fail,fail") == 0,
			       "a changed body fails");
			free(t);
			if (hc == 1 && bc == 1) {
				tap_ok(m2 && strstr(m2, "h=from:from:") && !strstr(m2, " l="),
				       "h= over-signs From, no l=");
				t = m2 ? replace(m2, "\n\n", "\nCc: eve@example.com\n\n") : NULL;
				tap_ok(t && strcmp(verify_s(t, NULL), "pass,pass") == 0,
				       "an unsigned field added passes");
				free(t);
			}
			free(m1);
			free(m2);
		}
	tap_ok(sign(ed, "e1", 1, 1, "To: x@y\n\nno from\n", 5) == NULL, "no From: no signature");
	tap_ok(mp_dkim_signer_new(tmpl, "s", "example.org", 1, 1, NULL, &e) == NULL &&
	           e.code == EX_CONFIG,
	       "a file without a key: %s", e.msg);
	key_forms(rsa, tmpl);

	/* the parsers */
	struct mp_dkim_key k;
	tap_is_int(mp_dkim_key_parse("v=DKIM1; h=sha1:sha256; s=email; t=y:s; p=", 42, &k, &e), 0,
	           "a key record with h=, s=, t= parses");
	tap_ok(k.testing && k.strict && k.plen == 0, "t=y:s read, empty p= is revoked");
	tap_is_int(mp_dkim_key_parse("v=DKIM1; h=sha1; p=AAAA", 23, &k, &e), -1,
	           "h= without sha256 refused");
	tap_is_int(mp_dkim_key_parse("k=rsa; v=DKIM1; p=AAAA", 22, &k, &e), -1,
	           "v= not first refused");
	tap_is_int(mp_dkim_key_parse("v=DKIM1; s=other; p=AAAA", 24, &k, &e), -1,
	           "s= not for email refused");
	tap_is_int(mp_dkim_key_parse("v=DKIM1; k=dsa; p=AAAA", 22, &k, &e), -1,
	           "unknown k= refused");
	tap_is_int(mp_dkim_key_parse("v=DKIM1; k", 10, &k, &e), -1, "a tag without '=' refused");
	tap_is_int(mp_dkim_key_parse("v=DKIM1; p=A\001AA", 16, &k, &e), -1,
	           "a control byte refused");
	tap_is_int(mp_dkim_key_parse("k=ed25519; p=AAAA", 17, &k, &e), -1,
	           "a short Ed25519 key refused");
	struct mp_dkim_sig *sg = malloc(sizeof *sg);
	const char *sig1 =
	    "v=1; a=rsa-sha256; d=example.org; s=s1; h=From : To;"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA; l=12; x=5; t=4";
	tap_is_int(mp_dkim_sig_parse(sig1, strlen(sig1), sg, &e), 0, "a signature parses");
	tap_ok(sg->nnames == 2 && strcmp(sg->names[1], "To") == 0 && sg->l == 12 &&
	           strcmp(sg->i, "@example.org") == 0 && sg->hcanon == MP_DKIM_SIMPLE,
	       "its tags read, i= defaults to @d=, c= to simple");
	static const char *const badsigs[] = {
	    "v=1; a=rsa-sha256; d=example.org; s=s1; h=To; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
	    "v=1; a=rsa-sha256; d=example.org; s=s1; h=From; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA; i=@example.com",
	    "v=2; a=rsa-sha256; d=example.org; s=s1; h=From; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
	    "v=1; a=rsa-sha256; d=example.org; s=s1; h=From; bh=AAAA; b=AAAA",
	    "v=1; a=rsa-sha256; d=example.org; d=example.org; s=s1; h=From; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
	    "v=1; a=rsa-sha256; d=example.org; s=s1; h=From;; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
	    "v=1; a=rsa-sha256; d=example.org; s=s1; h=From; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA; t=9; x=3",
	    "v=1; a=rsa-md5; d=example.org; s=s1; h=From; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
	    "v=1; a=rsa-sha256; d=example.org; s=s1; h=From; "
	    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=A*AA",
	};
	for (size_t j = 0; j < sizeof badsigs / sizeof *badsigs; j++) {
		mp_err_clear(&e);
		int rc = mp_dkim_sig_parse(badsigs[j], strlen(badsigs[j]), sg, &e);
		tap_ok(rc < 0 && e.code == EX_DATAERR && e.offset > 0,
		       "bad signature %zu refused: %s at %lld", j, e.msg, e.offset);
	}
	free(sg);
	mp_buf_free(&b);
	unlink(tmpl);
	unlink(rsa);
	unlink(ed);
	return tap_done();
}
