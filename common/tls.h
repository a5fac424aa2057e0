/* tls: the OpenSSL client side: system CA store or a CA file, host-name
 * verification, SNI, TLS >= 1.2, certificate pinning, DANE-TLSA, and the
 * details of what the server presented. */
#ifndef MP_TLS_H
#define MP_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct mp_tlsa {
	uint8_t usage, selector, mtype;
	const uint8_t *data;
	size_t len;
};

struct mp_tls_opts {
	const char *ca_file;        /* NULL: the system store */
	const char *verify_name;    /* host name to verify, and SNI unless an address */
	const char *fingerprint;    /* SHA-256 of the certificate, hex (colons allowed) */
	const struct mp_tlsa *tlsa; /* DANE (RFC 7672): usages 2 and 3 */
	size_t ntlsa;
	const char *cert_file; /* client certificate (PEM chain), or NULL */
	const char *key_file;  /* its key (default: in cert_file) */
	int report_only;       /* finish the handshake whatever the verdict (mmx --probe) */
	int timeout_ms;
};

struct mp_tls {
	void *ctx; /* SSL_CTX */
	void *ssl; /* SSL */
	int fd;
	int dane; /* TLSA records were given */
};

struct mp_tls_info {
	char protocol[32], cipher[96];
	char subject[512], issuer[512], sans[1024];
	char not_before[64], not_after[64];
	char sha256[100];
	long verify_code; /* X509 verification result, 0 = ok */
	char verify_text[200];
	int verified;     /* chain and name both good */
	int dane;         /* DANE was asked for */
	int dane_matched; /* a TLSA record matched */
	int dane_usage;   /* of the record that matched */
	int chain_len;
};

int mp_tls_connect(struct mp_tls *t, int fd, const struct mp_tls_opts *o, struct mp_err *e);
ssize_t mp_tls_read(struct mp_tls *t, void *buf, size_t n, struct mp_err *e);
int mp_tls_write(struct mp_tls *t, const void *buf, size_t n, struct mp_err *e);
/* Bytes decrypted already and waiting inside OpenSSL: the socket may be
 * quiet while these are there. */
size_t mp_tls_pending(struct mp_tls *t);
void mp_tls_info(struct mp_tls *t, struct mp_tls_info *info);
void mp_tls_close(struct mp_tls *t);

#endif
