#include "tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

static void ssl_error(struct mp_err *e, int code, const char *what)
{
	unsigned long err = ERR_get_error();
	char buf[256] = "";

	if (err)
		ERR_error_string_n(err, buf, sizeof buf);
	ERR_clear_error();
	mp_err_set(e, code, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static int is_address(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (ms <= 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int hexval(int c)
{
	if (isdigit(c))
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "AB:CD..." or "abcd..." -> 32 bytes */
static int parse_fp(const char *s, unsigned char out[32])
{
	int n = 0;

	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	while (*s && n < 64) {
		if (*s == ':') {
			s++;
			continue;
		}
		int v = hexval((unsigned char)*s++);
		if (v < 0)
			return -1;
		if (n % 2 == 0)
			out[n / 2] = (unsigned char)(v << 4);
		else
			out[n / 2] |= (unsigned char)v;
		n++;
	}
	return n == 64 && !*s ? 0 : -1;
}

int mp_tls_connect(struct mp_tls *t, int fd, const struct mp_tls_opts *o, struct mp_err *e)
{
	SSL_CTX *ctx;
	SSL *ssl;

	memset(t, 0, sizeof *t);
	t->fd = fd;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_error(e, EX_SOFTWARE, "TLS context");
		return -1;
	}
	t->ctx = ctx;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (o->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
			ssl_error(e, EX_CONFIG, o->ca_file);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ssl_error(e, EX_CONFIG, "system CA store");
		goto fail;
	}
	if (o->cert_file &&
	    (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, o->key_file ? o->key_file : o->cert_file,
	                                 SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(ctx) != 1)) {
		ssl_error(e, EX_CONFIG, o->cert_file);
		goto fail;
	}
	/* a pin is the trust decision: checked after the handshake, instead
	 * of the CA and the name (a self-signed certificate can be pinned) */
	unsigned char want[32];
	if (o->fingerprint && parse_fp(o->fingerprint, want) < 0) {
		mp_err_set(e, EX_CONFIG, "fingerprint '%s' is not a SHA-256 in hex",
		           o->fingerprint);
		goto fail;
	}
	SSL_CTX_set_verify(
	    ctx, o->report_only || o->fingerprint ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (o->ntlsa && SSL_CTX_dane_enable(ctx) <= 0) {
		ssl_error(e, EX_SOFTWARE, "DANE");
		goto fail;
	}
	ssl = SSL_new(ctx);
	if (!ssl) {
		ssl_error(e, EX_SOFTWARE, "TLS session");
		goto fail;
	}
	t->ssl = ssl;
	if (o->verify_name && *o->verify_name) {
		if (!is_address(o->verify_name))
			SSL_set_tlsext_host_name(ssl, o->verify_name);
		if (o->ntlsa) {
			if (SSL_dane_enable(ssl, o->verify_name) <= 0) {
				ssl_error(e, EX_SOFTWARE, "DANE");
				goto fail;
			}
			/* RFC 7672 3.1.1: a DANE-EE(3) match stands without name checks */
			SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		} else {
			SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (is_address(o->verify_name) ? !X509_VERIFY_PARAM_set1_ip_asc(
			                                     SSL_get0_param(ssl), o->verify_name)
			                               : SSL_set1_host(ssl, o->verify_name) != 1) {
				ssl_error(e, EX_SOFTWARE, "host name check");
				goto fail;
			}
		}
	}
	t->dane = o->ntlsa > 0;
	for (size_t i = 0; i < o->ntlsa; i++)
		SSL_dane_tlsa_add(ssl, o->tlsa[i].usage, o->tlsa[i].selector, o->tlsa[i].mtype,
		                  o->tlsa[i].data, o->tlsa[i].len);
	set_timeouts(fd, o->timeout_ms);
	SSL_set_fd(ssl, fd);
	errno = 0;
	int hs = SSL_connect(ssl), hs_errno = errno;
	if (hs != 1) {
		long vr = SSL_get_verify_result(ssl);
		int why = SSL_get_error(ssl, hs);
		if (vr != X509_V_OK)
			mp_err_set(e, EX_UNAVAILABLE, "TLS: certificate not trusted for %s: %s",
			           o->verify_name ? o->verify_name : "the server",
			           X509_verify_cert_error_string(vr));
		else if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE ||
		         (why == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
		          (hs_errno == EAGAIN || hs_errno == EWOULDBLOCK)))
			/* on this blocking socket: SO_RCVTIMEO/SO_SNDTIMEO ran out
			 * (OpenSSL takes its EAGAIN for "try again"); say so */
			mp_err_set(e, EX_TEMPFAIL, "TLS handshake: timed out after %d s",
			           (o->timeout_ms + 999) / 1000);
		else if (why == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			mp_err_set(e, EX_TEMPFAIL, "TLS handshake: %s",
			           hs_errno ? strerror(hs_errno)
			                    : "the server closed the connection");
		else
			ssl_error(e, EX_TEMPFAIL, "TLS handshake");
		goto fail;
	}
	if (o->fingerprint) {
		unsigned char got[32];
		unsigned int n = 0;
		X509 *cert = SSL_get1_peer_certificate(ssl);
		if (!cert || !X509_digest(cert, EVP_sha256(), got, &n) || n != 32 ||
		    memcmp(got, want, 32) != 0) {
			X509_free(cert);
			mp_err_set(e, EX_UNAVAILABLE,
			           "TLS: the certificate does not match the pinned "
			           "fingerprint");
			goto fail;
		}
		X509_free(cert);
	}
	return 0;
fail:
	mp_tls_close(t);
	return -1;
}

ssize_t mp_tls_read(struct mp_tls *t, void *buf, size_t n, struct mp_err *e)
{
	int r = SSL_read(t->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));

	if (r > 0)
		return r;
	int err = SSL_get_error(t->ssl, r);
	if (err == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
		return mp_err_set(e, EX_TEMPFAIL, "TLS read: timed out");
	ssl_error(e, EX_TEMPFAIL, "TLS read");
	return -1;
}

size_t mp_tls_pending(struct mp_tls *t)
{
	int n = t->ssl ? SSL_pending(t->ssl) : 0;

	return n > 0 ? (size_t)n : 0;
}

int mp_tls_write(struct mp_tls *t, const void *buf, size_t n, struct mp_err *e)
{
	const char *p = buf;

	while (n) {
		int w = SSL_write(t->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
		if (w <= 0) {
			ssl_error(e, EX_TEMPFAIL, "TLS write");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void asn1_time(const ASN1_TIME *t, char *out, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = '\0';
	if (!b)
		return;
	ASN1_TIME_print(b, t);
	len = BIO_read(b, out, (int)n - 1);
	out[len > 0 ? len : 0] = '\0';
	BIO_free(b);
}

void mp_tls_info(struct mp_tls *t, struct mp_tls_info *in)
{
	SSL *ssl = t->ssl;
	X509 *cert;

	memset(in, 0, sizeof *in);
	snprintf(in->protocol, sizeof in->protocol, "%s", SSL_get_version(ssl));
	snprintf(in->cipher, sizeof in->cipher, "%s", SSL_get_cipher_name(ssl));
	in->verify_code = SSL_get_verify_result(ssl);
	snprintf(in->verify_text, sizeof in->verify_text, "%s",
	         X509_verify_cert_error_string(in->verify_code));
	in->verified = in->verify_code == X509_V_OK;
	in->dane = t->dane;
	if (t->dane) {
		uint8_t usage = 0, sel, mt;
		const unsigned char *d;
		size_t dl;
		if (SSL_get0_dane_tlsa(ssl, &usage, &sel, &mt, &d, &dl) >= 0) {
			in->dane_matched = 1;
			in->dane_usage = usage;
		}
	}
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	in->chain_len = chain ? sk_X509_num(chain) : 0;
	cert = SSL_get1_peer_certificate(ssl);
	if (!cert)
		return;
	X509_NAME_oneline(X509_get_subject_name(cert), in->subject, sizeof in->subject);
	X509_NAME_oneline(X509_get_issuer_name(cert), in->issuer, sizeof in->issuer);
	asn1_time(X509_get0_notBefore(cert), in->not_before, sizeof in->not_before);
	asn1_time(X509_get0_notAfter(cert), in->not_after, sizeof in->not_after);
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		char item[300] = "";
		if (g->type == GEN_DNS) {
			snprintf(item, sizeof item, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
			         (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			char ip[64] = "?";
			int l = ASN1_STRING_length(g->d.iPAddress);
			inet_ntop(l == 4 ? AF_INET : AF_INET6,
			          ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
			snprintf(item, sizeof item, "IP:%s", ip);
		}
		if (item[0] && strlen(in->sans) + strlen(item) + 3 < sizeof in->sans) {
			if (in->sans[0])
				strcat(in->sans, ", ");
			strcat(in->sans, item);
		}
	}
	GENERAL_NAMES_free(sans);
	unsigned char md[32];
	unsigned int mdl = 0;
	if (X509_digest(cert, EVP_sha256(), md, &mdl)) {
		for (unsigned i = 0; i < mdl && 3 * i + 3 < sizeof in->sha256; i++)
			snprintf(in->sha256 + 3 * i, 4, "%02X%s", md[i], i + 1 < mdl ? ":" : "");
	}
	X509_free(cert);
}

void mp_tls_close(struct mp_tls *t)
{
	if (t->ssl) {
		SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	if (t->ctx)
		SSL_CTX_free(t->ctx);
	t->ssl = t->ctx = NULL;
}
