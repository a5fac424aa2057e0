/* sasl: SCRAM-SHA-256 against the exchange of RFC 7677 section 3, a
 * tampered server signature, the bounds of the server-first parser; the
 * exact client messages of OAUTHBEARER (RFC 7628) and XOAUTH2 with a 4 KB
 * token; and SMTP AUTH lines with long tokens (RFC 4954's 12288). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "sasl.h"
#include "smtp.h"
#include "tap.h"

#define NONCE "rOprNGfwEbeRWgbNEkqO"
#define SFIRST                                                                                     \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define CFINAL                                                                                     \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"                             \
	"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* the RFC's exchange up to the server-final message */
static int scram_to_final(struct mp_sasl *c, struct mp_buf *out, struct mp_err *e)
{
	mp_sasl_init(c, MP_SASL_SCRAM_SHA256, "user", "pencil");
	snprintf(c->nonce, sizeof c->nonce, "%s", NONCE);
	if (mp_sasl_next(c, NULL, 0, out, e) < 0)
		return -1;
	tap_is_mem(out->data, out->len, "n,,n=user,r=" NONCE, strlen("n,,n=user,r=" NONCE),
	           "SCRAM client-first: gs2 header n,, then n= and r=");
	if (mp_sasl_next(c, SFIRST, strlen(SFIRST), out, e) < 0)
		return -1;
	tap_is_mem(out->data, out->len, CFINAL, strlen(CFINAL),
	           "SCRAM client-final: the proof of RFC 7677 section 3");
	return 0;
}

static void test_scram(void)
{
	struct mp_sasl c;
	struct mp_buf out = MP_BUF_INIT;
	struct mp_err e;

	mp_err_clear(&e);
	tap_is_int(scram_to_final(&c, &out, &e), 0, "SCRAM: the RFC exchange goes through");
	tap_is_int(mp_sasl_next(&c, SFINAL, strlen(SFINAL), &out, &e), 0,
	           "SCRAM: the server signature of the RFC verifies");
	tap_is_int(out.len, 0, "SCRAM: the response to server-final is empty");
	tap_is_int(mp_sasl_done(&c, &e), 0, "SCRAM: done after the verified signature");
	mp_sasl_free(&c);

	/* one bit of the signature changed */
	char bad[] = SFINAL;
	bad[5] = bad[5] == 'A' ? 'B' : 'A';
	mp_err_clear(&e);
	scram_to_final(&c, &out, &e);
	tap_is_int(mp_sasl_next(&c, bad, strlen(bad), &out, &e), -1,
	           "SCRAM: a tampered server signature fails");
	tap_is_int(e.code, EX_NOPERM, "SCRAM: ... as an authentication failure (77)");
	tap_ok(strstr(e.msg, "signature") != NULL, "SCRAM: the message says why: %s", e.msg);
	tap_is_int(mp_sasl_done(&c, &e), -1, "SCRAM: and the exchange is not done");
	mp_sasl_free(&c);

	/* a server that says yes without server-final */
	mp_err_clear(&e);
	scram_to_final(&c, &out, &e);
	tap_is_int(mp_sasl_done(&c, &e), -1, "SCRAM: success without the server's proof fails");
	tap_is_int(e.code, EX_NOPERM, "SCRAM: ... with 77");
	mp_sasl_free(&c);

	/* e= from the server */
	mp_err_clear(&e);
	scram_to_final(&c, &out, &e);
	tap_is_int(mp_sasl_next(&c, "e=invalid-proof", 15, &out, &e), -1, "SCRAM: e= fails");
	tap_ok(e.code == EX_NOPERM && strstr(e.msg, "invalid-proof"), "SCRAM: e= is named: %s",
	       e.msg);
	mp_sasl_free(&c);

	/* the user name escaped; the nonce random and without ',' */
	struct mp_sasl c2;
	mp_sasl_init(&c, MP_SASL_SCRAM_SHA256, "a,b=c", "x");
	mp_sasl_init(&c2, MP_SASL_SCRAM_SHA256, "a,b=c", "x");
	mp_sasl_next(&c, NULL, 0, &out, &e);
	tap_ok(strncmp(out.data, "n,,n=a=2Cb=3Dc,r=", 17) == 0, "SCRAM: ',' and '=' escaped: %s",
	       out.data);
	tap_ok(strlen(c.nonce) == 32 && !strchr(c.nonce, ',') && strcmp(c.nonce, c2.nonce) != 0,
	       "SCRAM: a fresh 32-character nonce each time");
	mp_sasl_free(&c);
	mp_sasl_free(&c2);
	mp_buf_free(&out);
}

static void test_scram_parse(void)
{
	static const struct {
		const char *msg;
		int ok;
		const char *what;
	} t[] = {
	    {SFIRST, 1, "the RFC's server-first"},
	    {SFIRST ",x=ext", 1, "an extension after i="},
	    {"r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000000", 1, "i=1000000"},
	    {"r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001", 0, "i over 1000000"},
	    {"r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095", 0, "i under 4096"},
	    {"r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999", 0, "a huge i"},
	    {"r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x", 0, "i with junk"},
	    {"r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=", 0, "an empty i"},
	    {"r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==", 0, "no i"},
	    {"r=" NONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", 0, "a nonce that adds nothing"},
	    {"r=XX" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", 0, "another client's nonce"},
	    {"r=" NONCE "a b,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", 0, "a space in the nonce"},
	    {"r=" NONCE "abc,s=,i=4096", 0, "an empty salt"},
	    {"r=" NONCE "abc,s=!!!!,i=4096", 0, "a salt that is not base64"},
	    {"m=x,r=" NONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", 0, "m= (mandatory extension)"},
	    {"s=W22ZaJ0SNY7soEsUEjb6gQ==,r=" NONCE "abc,i=4096", 0, "attributes out of order"},
	    {"", 0, "nothing"},
	};
	struct mp_scram_first f;
	struct mp_err e;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		mp_err_clear(&e);
		int rc = mp_scram_parse_first(t[i].msg, strlen(t[i].msg), NONCE, &f, &e);
		tap_is_int(rc, t[i].ok ? 0 : -1, "server-first: %s %s", t[i].what,
		           t[i].ok ? "parses" : "is refused");
	}
	mp_scram_parse_first(SFIRST, strlen(SFIRST), NONCE, &f, &e);
	tap_ok(f.iter == 4096 && f.saltlen == 16 && f.nlen == 50 &&
	           memcmp(f.nonce, &SFIRST[2], 50) == 0,
	       "server-first: iterations, salt and nonce as sent");
	/* a long salt is refused, not overflowed */
	char big[2000] = "r=" NONCE "abc,s=";
	memset(big + strlen(big), 'A', 1000);
	strcat(big, ",i=4096");
	tap_is_int(mp_scram_parse_first(big, strlen(big), NONCE, &f, &e), -1,
	           "server-first: a 750-byte salt is refused");
	unsigned char sig[32];
	tap_is_int(mp_scram_parse_final("v=AAAA", 6, sig, &e), -1,
	           "server-final: a short signature is refused");
	tap_is_int(mp_scram_parse_final("x=1", 3, sig, &e), -1,
	           "server-final: neither v= nor e= is refused");
}

static void test_tokens(void)
{
	char *tok = malloc(4097);
	struct mp_buf out = MP_BUF_INIT, want = MP_BUF_INIT;
	struct mp_sasl c;
	struct mp_err e;

	for (int i = 0; i < 4096; i++)
		tok[i] =
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/"[i % 68];
	tok[4096] = '\0';
	mp_err_clear(&e);
	mp_sasl_init(&c, MP_SASL_OAUTHBEARER, "user@example.com", tok);
	c.host = "server.example.com";
	c.port = 587;
	tap_is_int(mp_sasl_next(&c, NULL, 0, &out, &e), 0, "OAUTHBEARER: an initial response");
	mp_buf_printf(&want,
	              "n,a=user@example.com,\001host=server.example.com\001port=587\001auth=Bearer "
	              "%s\001\001",
	              tok);
	tap_is_mem(out.data, out.len, want.data, want.len,
	           "OAUTHBEARER: n,a=USER,^Ahost=^Aport=^Aauth=Bearer TOKEN^A^A, 4 KB token");
	static const char json[] = "{\"status\":\"invalid_token\",\"scope\":\"mail\"}";
	tap_is_int(mp_sasl_next(&c, json, strlen(json), &out, &e), 0,
	           "OAUTHBEARER: the error challenge is answered");
	tap_is_mem(out.data, out.len, "\001", 1, "OAUTHBEARER: ... with ^A");
	tap_ok(strcmp(c.server_err, json) == 0, "OAUTHBEARER: the server's status is kept");
	tap_is_int(mp_sasl_next(&c, "x", 1, &out, &e), -1, "OAUTHBEARER: a third challenge fails");
	mp_sasl_free(&c);

	mp_sasl_init(&c, MP_SASL_OAUTHBEARER, "u", "t");
	mp_sasl_next(&c, NULL, 0, &out, &e);
	tap_is_mem(out.data, out.len, "n,a=u,\001auth=Bearer t\001\001", 22,
	           "OAUTHBEARER: without a host, no host= and port=");
	mp_sasl_free(&c);

	mp_sasl_init(&c, MP_SASL_XOAUTH2, "user@example.com", tok);
	mp_sasl_next(&c, NULL, 0, &out, &e);
	mp_buf_reset(&want);
	mp_buf_printf(&want, "user=user@example.com\001auth=Bearer %s\001\001", tok);
	tap_is_mem(out.data, out.len, want.data, want.len,
	           "XOAUTH2: user=USER^Aauth=Bearer TOKEN^A^A, 4 KB token");
	tap_is_int(mp_sasl_next(&c, json, strlen(json), &out, &e), 0,
	           "XOAUTH2: the error challenge is answered");
	tap_is_int(out.len, 0, "XOAUTH2: ... with an empty response");
	mp_sasl_free(&c);

	tap_is_int(mp_sasl_choose_best("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER"),
	           MP_SASL_SCRAM_SHA256, "auto: SCRAM-SHA-256 first");
	tap_is_int(mp_sasl_choose_best("LOGIN PLAIN CRAM-MD5"), MP_SASL_CRAM_MD5,
	           "auto: then CRAM-MD5");
	tap_is_int(mp_sasl_choose_best("LOGIN PLAIN"), MP_SASL_PLAIN, "auto: then PLAIN");
	tap_is_int(mp_sasl_choose_best("XOAUTH2 OAUTHBEARER"), MP_SASL_NONE,
	           "auto: never a token mechanism");
	tap_is_int(mp_sasl_choose("SCRAM-SHA-256 CRAM-MD5"), MP_SASL_CRAM_MD5,
	           "mp_sasl_choose (mfetch): the stateless mechanisms only");
	free(tok);
	mp_buf_free(&out);
	mp_buf_free(&want);
}

/* AUTH OAUTHBEARER over a socket pair with the server's replies waiting:
 * what the client wrote, up to the first "\r\n" after skip lines */
static int auth_line(size_t toklen, const char *replies, struct mp_buf *sent)
{
	int sv[2], big = 1 << 20, rc;
	char *tok = malloc(toklen + 1), buf[65536];
	struct mp_proto p;
	struct mp_smtp_caps caps = {.bits = MP_SMTP_AUTH};
	struct mp_err e;
	ssize_t n;

	memset(tok, 'T', toklen);
	tok[toklen] = '\0';
	snprintf(caps.auth, sizeof caps.auth, "OAUTHBEARER");
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	if (write(sv[1], replies, strlen(replies)) < 0)
		return -2;
	mp_proto_init(&p, sv[0], 2000, 0);
	mp_err_clear(&e);
	rc = mp_smtp_auth(&p, &caps, "oauthbearer", "u", tok, &e);
	shutdown(sv[0], SHUT_WR);
	while ((n = read(sv[1], buf, sizeof buf)) > 0)
		mp_buf_append(sent, buf, (size_t)n);
	mp_proto_close(&p);
	close(sv[1]);
	free(tok);
	return rc;
}

static void test_smtp_auth(void)
{
	struct mp_buf sent = MP_BUF_INIT, want = MP_BUF_INIT;
	struct mp_buf raw = MP_BUF_INIT;

	/* a 4 KB token: on the AUTH line (about 5.5 KB) */
	tap_is_int(auth_line(4096, "235 2.7.0 ok\r\n", &sent), 0, "SMTP AUTH with a 4 KB token");
	mp_buf_puts(&raw, "n,a=u,\001auth=Bearer ");
	for (int i = 0; i < 4096; i++)
		mp_buf_putc(&raw, 'T');
	mp_buf_puts(&raw, "\001\001");
	mp_buf_reserve(&want, mp_b64_enclen(raw.len, 0) + 32);
	mp_buf_puts(&want, "AUTH OAUTHBEARER ");
	want.len += mp_b64_encode(raw.data, raw.len, want.data + want.len, 0);
	mp_buf_puts(&want, "\r\n");
	tap_is_mem(sent.data, sent.len, want.data, want.len,
	           "... sent as AUTH OAUTHBEARER and the initial response on one line");
	/* a 10 KB token: over 12288 octets, so after an empty challenge */
	mp_buf_reset(&sent);
	tap_is_int(auth_line(10000, "334 \r\n235 2.7.0 ok\r\n", &sent), 0,
	           "SMTP AUTH with a 10 KB token");
	tap_ok(sent.len > 13000 && strncmp(sent.data, "AUTH OAUTHBEARER\r\n", 18) == 0 &&
	           !memchr(sent.data + 18, ' ', sent.len - 18),
	       "... AUTH alone, the response on the next line (RFC 4954's 12288)");
	/* refused: the JSON status answered with ^A, then 535 is 77 */
	mp_buf_reset(&sent);
	tap_is_int(
	    auth_line(10, "334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n535 5.7.8 no\r\n", &sent),
	    -1, "SMTP AUTH OAUTHBEARER refused");
	tap_ok(sent.len > 6 && memcmp(sent.data + sent.len - 6, "AQ==\r\n", 6) == 0,
	       "... the error challenge answered with ^A (AQ==)");
	mp_buf_free(&sent);
	mp_buf_free(&want);
	mp_buf_free(&raw);
}

int main(void)
{
	test_scram();
	test_scram_parse();
	test_tokens();
	test_smtp_auth();
	return tap_done();
}
