/* libFuzzer target: DKIM (RFC 6376) as any sender may write it: the
 * DKIM-Signature tag list, the key record a DNS server returns, the
 * canonicalizations and the verifier's walk over a whole message (its
 * key lookups answered with the input itself). What parses must keep the
 * promises of dkim.h; what does not is EX_DATAERR. */
#include <stdlib.h>
#include <string.h>

#include "dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *in;
static size_t insize;

static int lookup(void *arg, const char *name, struct mp_buf *txt, struct mp_err *e)
{
	(void)arg;
	if (strlen(name) < 12 || !strstr(name, "._domainkey."))
		abort();
	if (insize % 3 == 0)
		return mp_err_set(e, EX_TEMPFAIL, "no answer");
	mp_buf_reset(txt);
	return mp_buf_append(txt, in, insize) < 0 ? -1 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mp_dkim_sig *sig = malloc(sizeof *sig);
	struct mp_dkim_key *key = malloc(sizeof *key);
	struct mp_buf b = MP_BUF_INIT;
	struct mp_err e;

	if (!sig || !key)
		return 0;
	mp_err_clear(&e);
	if (mp_dkim_sig_parse(s, size, sig, &e) == 0) {
		if (!sig->alg || sig->nnames < 1 || sig->nnames > MP_DKIM_NAMES || !sig->d[0] ||
		    !sig->s[0] || !sig->blen || sig->blen > MP_DKIM_SIGMAX ||
		    sig->boff > sig->bend || sig->bend > size || !strchr(sig->i, '@'))
			abort();
	} else if (e.code != EX_DATAERR || e.offset < 1 || (size_t)e.offset > size + 1) {
		abort();
	}
	mp_err_clear(&e);
	if (mp_dkim_key_parse(s, size, key, &e) == 0) {
		if (key->plen > MP_DKIM_KEYMAX ||
		    (key->k != MP_DKIM_K_RSA && key->k != MP_DKIM_K_ED25519))
			abort();
	} else if (e.code != EX_DATAERR) {
		abort();
	}
	for (int relaxed = 0; relaxed < 2; relaxed++) {
		mp_buf_reset(&b);
		if (mp_dkim_canon_body(s, size, relaxed, &b) < 0)
			abort();
		/* canonical text is CR LF lines: no bare CR or LF */
		for (size_t i = 0; i < b.len; i++)
			if ((b.data[i] == '\n') !=
			    (i > 0 && b.data[i - 1] == '\r' && b.data[i] == '\n'))
				abort();
		if (b.len && (b.len < 2 || memcmp(b.data + b.len - 2, "\r\n", 2) != 0))
			abort();
		mp_buf_reset(&b);
		if (mp_dkim_canon_header(s, size, relaxed, &b) < 0)
			abort();
	}
	in = data;
	insize = size;
	struct mp_dkim_verifier *v = mp_dkim_verifier_new(lookup, NULL);
	const struct mp_dkim_verdict *r;
	size_t nr, half = size / 2;
	if (v && mp_dkim_verifier_feed(v, s, half, &e) == 0 &&
	    mp_dkim_verifier_feed(v, s + half, size - half, &e) == 0 &&
	    mp_dkim_verifier_end(v, 0, &r, &nr, &e) == 0) {
		if (nr > MP_DKIM_SIGS)
			abort();
		for (size_t k = 0; k < nr; k++)
			if (r[k].result < MP_DKIM_PASS || r[k].result > MP_DKIM_POLICY)
				abort();
	}
	mp_dkim_verifier_free(v);
	mp_buf_free(&b);
	free(sig);
	free(key);
	return 0;
}
