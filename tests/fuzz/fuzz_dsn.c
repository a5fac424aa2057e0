/* libFuzzer target: delivery reports and digests as any sender may make
 * them: the message/delivery-status and message/feedback-report fields
 * (common/dsn.c), a plain-text bounce guessed at, a VERP address, and a
 * digest burst (common/digest.c). What is read must keep the promises of
 * dsn.h and digest.h. */
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct mp_dsn *d)
{
	if (d->n > MP_DSN_RCPTS)
		abort();
	for (size_t i = 0; i < d->n; i++) {
		const struct mp_dsn_rcpt *r = &d->r[i];
		if (!memchr(r->final, 0, sizeof r->final) || !memchr(r->diag, 0, sizeof r->diag) ||
		    !memchr(r->status, 0, sizeof r->status) ||
		    !memchr(r->action, 0, sizeof r->action))
			abort();
		if (!r->final[0] && !d->guessed)
			abort(); /* a group without Final-Recipient is no recipient */
		if (d->guessed && (!r->final[0] || !r->status[0]))
			abort(); /* guessed: an address and a code, always */
	}
}

struct span {
	const char *p;
	size_t n;
};

static int each(void *ctx, const char *msg, size_t n)
{
	const struct span *s = ctx;

	if (msg < s->p || n > s->n || msg + n > s->p + s->n)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct span sp = {s, size};
	struct mp_dsn d;
	struct mp_err e;
	char out[64], *z;

	mp_dsn_init(&d);
	mp_err_clear(&e);
	mp_dsn_parse(s, size, &d, &e);
	check(&d);
	mp_dsn_free(&d);
	mp_arf_parse(s, size, &d, &e);
	check(&d);
	mp_dsn_free(&d);
	mp_dsn_guess(s, size, &d);
	check(&d);
	mp_dsn_free(&d);
	if ((z = malloc(size + 1))) {
		memcpy(z, s, size);
		z[size] = '\0';
		if (mp_verp_decode(z, NULL, NULL, out, sizeof out) &&
		    (!strchr(out, '@') || strlen(out) >= size))
			abort();
		/* another form: the first octets the separators, the list's
		 * local part "l" */
		char delim[3] = {size > 1 ? z[0] : '-', size > 1 ? z[1] : '-', '\0'};
		if (delim[0] && delim[1] && mp_verp_decode(z, "l", delim, out, sizeof out) &&
		    (!strchr(out, '@') || strlen(out) >= size))
			abort();
		free(z);
	}
	mp_err_clear(&e);
	long k = mp_digest_burst(s, size, each, &sp, &e);
	if (k < 0 && !e.code)
		abort();
	return 0;
}
