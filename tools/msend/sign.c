/* msend's DKIM signing (RFC 6376, RFC 8463): each configured key signs the
 * message in the form the server receives, after the 7-bit rewrite and
 * before dot-stuffing (wire.c feeds that form here), so a signature is
 * made per form when the form is first scanned. A queued message is
 * signed again at each try, the same way: no t= and no x= are written,
 * and rsa-sha256 (PKCS #1 v1.5) and Ed25519 are deterministic, so the
 * same keys sign the same form identically on every retry. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "dkim.h"
#include "msend.h"

struct dkimset {
	struct mp_dkim_signer *s[DKIM_KEYS];
	int n;
	int domain_set;
	struct mp_buf what; /* the settings it was made from (same_keys) */
};

/* The sets messages were last signed with, kept for the next ones: their
 * keys are read and checked once a process, not once for each form and
 * each message of a queue, whose entries may take turns with different
 * keys (reading a PEM key costs more than signing a message with it).
 * The least recently used goes when the room is full. */
#define KEPT 8
static struct dkimset *kept[KEPT];

static void set_free(struct dkimset *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++)
		mp_dkim_signer_free(d->s[i]);
	mp_buf_free(&d->what);
	free(d);
}

void dkim_free(struct dkimset *d)
{
	if (!d)
		return;
	set_free(kept[KEPT - 1]);
	memmove(kept + 1, kept, (KEPT - 1) * sizeof *kept);
	kept[0] = d;
}

/* the settings that make a set, as one string: keys, selectors, domain,
 * canonicalization */
static int describe(const struct settings *s, struct mp_buf *b)
{
	for (int i = 0; i < s->ndkim_key; i++)
		if (mp_buf_printf(b, "%s\n%s\n", s->dkim_key[i], s->dkim_selector[i]) < 0)
			return -1;
	return mp_buf_printf(b, "%s\n%s\n%s", s->dkim_domain ? "d" : "-",
	                     s->dkim_domain ? s->dkim_domain : "",
	                     s->dkim_canon ? s->dkim_canon : "");
}

/* a private key others may read is refused, as a password file is */
static int key_private(const char *path, struct mp_err *e)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return mp_err_sys(e, EX_CONFIG, "DKIM key %s", path);
	if (st.st_mode & 077)
		return mp_err_set(e, EX_CONFIG,
		                  "DKIM key %s: group or others can read it (chmod 600 %s)", path,
		                  path);
	return 0;
}

struct dkimset *dkim_start(const struct settings *s, struct mp_err *e)
{
	struct dkimset *d;
	int hc = MP_DKIM_RELAXED, bc = MP_DKIM_RELAXED;

	if (!s || s->ndkim_key == 0)
		return NULL;
	if (s->ndkim_key != s->ndkim_selector) {
		mp_err_set(e, EX_CONFIG, "%d DKIM keys but %d selectors: give one for each",
		           s->ndkim_key, s->ndkim_selector);
		return NULL;
	}
	if (s->dkim_canon && mp_dkim_canon_parse(s->dkim_canon, &hc, &bc) < 0) {
		mp_err_set(e, EX_CONFIG,
		           "DKIM canonicalization '%.60s' is not simple or relaxed, or two of them "
		           "joined by '/'",
		           s->dkim_canon);
		return NULL;
	}
	d = mp_xmalloc(sizeof *d);
	memset(d, 0, sizeof *d);
	d->domain_set = s->dkim_domain != NULL;
	d->what = (struct mp_buf)MP_BUF_INIT;
	if (describe(s, &d->what) < 0) {
		set_free(d);
		mp_err_set(e, EX_TEMPFAIL, "out of memory");
		return NULL;
	}
	for (int k = 0; k < KEPT && kept[k]; k++)
		if (kept[k]->what.len == d->what.len &&
		    memcmp(kept[k]->what.data, d->what.data, d->what.len) == 0) {
			set_free(d);
			d = kept[k]; /* the same keys: ready for another message */
			memmove(kept + k, kept + k + 1, (size_t)(KEPT - 1 - k) * sizeof *kept);
			kept[KEPT - 1] = NULL;
			for (int i = 0; i < d->n; i++)
				mp_dkim_signer_reset(d->s[i]);
			return d;
		}
	for (int i = 0; i < s->ndkim_key; i++) {
		if (key_private(s->dkim_key[i], e) < 0 ||
		    !(d->s[d->n] = mp_dkim_signer_new(s->dkim_key[i], s->dkim_selector[i],
		                                      s->dkim_domain, hc, bc, NULL, e))) {
			set_free(d);
			return NULL;
		}
		d->n++;
	}
	return d;
}

void dkim_check(const struct settings *s)
{
	struct mp_err e;

	mp_err_clear(&e);
	struct dkimset *d = dkim_start(s, &e);
	if (e.code)
		mp_die_err(NULL, &e);
	dkim_free(d);
}

int dkim_feed(void *set, const char *p, size_t n, struct mp_err *e)
{
	struct dkimset *d = set;

	for (int i = 0; i < d->n; i++)
		if (mp_dkim_signer_feed(d->s[i], p, n, e) < 0)
			return -1;
	return 0;
}

int dkim_finish(struct dkimset *d, struct mp_buf *out, struct mp_err *e)
{
	mp_buf_reset(out);
	for (int i = 0; i < d->n; i++) {
		if (!d->domain_set) {
			/* d= is the domain of the From: address, as common reads it */
			struct mp_buf v = MP_BUF_INIT;
			struct mp_addrlist al = {0};
			const char *at = NULL;
			if (mp_dkim_signer_from(d->s[i], &v) > 0)
				mp_addr_parse(v.data, &al);
			if (al.n)
				at = strrchr(al.v[0].addr, '@');
			int rc = at && at[1]
			             ? mp_dkim_signer_domain(d->s[i], at + 1, e)
			             : mp_err_set(e, EX_DATAERR,
			                          "no From: address with a domain to sign for "
			                          "(--dkim-domain)");
			mp_addr_free(&al);
			mp_buf_free(&v);
			if (rc < 0)
				return -1;
		}
		if (mp_dkim_signer_end(d->s[i], "\r\n", out, e) < 0)
			return -1;
	}
	return 0;
}
