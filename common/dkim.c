/* dkim: RFC 6376 signatures (rsa-sha256) and RFC 8463 (ed25519-sha256),
 * with OpenSSL's EVP interface: what the signer (dkimsign.c) and the
 * verifier (dkimverify.c) share. The tag lists, the DKIM-Signature and
 * key record parsers, the canonical forms, the message walk (the header
 * goes through hdr.c's field reader, which says where each field starts
 * and ends; the fields that count are held, bounded; the body is
 * canonicalized and hashed as it passes), and the signature over the
 * header hash made or checked. See dkim.h, dkim_int.h. */
#include "dkim.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "dkim_int.h"
#include "hdr.h"

const char *mp_dkim_result_name(int r)
{
	static const char *const names[] = {"none",      "pass",      "fail",  "neutral",
	                                    "temperror", "permerror", "policy"};

	return r >= 0 && r <= MP_DKIM_POLICY ? names[r] : "none";
}

static int wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---------------------------------------------------------------- tag lists */

struct tag {
	const char *name;
	size_t nlen;
	size_t voff, vlen; /* the value, blanks around it trimmed */
	size_t roff, rend; /* after '=' to before ';' or the end */
};

/* The next tag-spec (RFC 6376 §3.2) from *pos: 1 one, 0 the end, -1 bad. */
static int tag_next(const char *s, size_t n, size_t *pos, struct tag *t, struct mp_err *e)
{
	size_t i = *pos;

	while (i < n && fws((unsigned char)s[i]))
		i++;
	if (i == n)
		return 0;
	if (!isalpha((unsigned char)s[i])) {
		mp_err_set(e, EX_DATAERR, "a tag name must start with a letter");
		if (e)
			e->offset = (long long)i + 1;
		return -1;
	}
	t->name = s + i;
	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
		i++;
	t->nlen = (size_t)(s + i - t->name);
	while (i < n && fws((unsigned char)s[i]))
		i++;
	if (i == n || s[i] != '=') {
		mp_err_set(e, EX_DATAERR, "tag '%.*s' has no '='",
		           (int)(t->nlen > 20 ? 20 : t->nlen), t->name);
		if (e)
			e->offset = (long long)i + 1;
		return -1;
	}
	t->roff = ++i;
	while (i < n && fws((unsigned char)s[i]))
		i++;
	t->voff = i;
	for (; i < n && s[i] != ';'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!fws(c) && (c < 0x21 || c > 0x7e)) {
			mp_err_set(e, EX_DATAERR, "a byte 0x%02x in the value of tag '%.*s'", c,
			           (int)(t->nlen > 20 ? 20 : t->nlen), t->name);
			if (e)
				e->offset = (long long)i + 1;
			return -1;
		}
	}
	t->rend = i;
	t->vlen = i - t->voff;
	while (t->vlen && fws((unsigned char)s[t->voff + t->vlen - 1]))
		t->vlen--;
	*pos = i < n ? i + 1 : n;
	return 1;
}

static int tag_is(const struct tag *t, const char *name)
{
	return t->nlen == strlen(name) && memcmp(t->name, name, t->nlen) == 0;
}

static int bad(struct mp_err *e, size_t at, const char *what)
{
	mp_err_set(e, EX_DATAERR, "%s", what);
	if (e)
		e->offset = (long long)at + 1;
	return -1;
}

/* a value without blanks into out (size cap): 0, or -1 */
static int plain(const char *s, const struct tag *t, char *out, size_t cap, int lower)
{
	if (t->vlen == 0 || t->vlen >= cap)
		return -1;
	for (size_t k = 0; k < t->vlen; k++) {
		char c = s[t->voff + k];
		if (fws((unsigned char)c))
			return -1;
		out[k] = lower ? (char)tolower((unsigned char)c) : c;
	}
	out[t->vlen] = '\0';
	return 0;
}

/* base64 with folding blanks anywhere into out: 0, or -1 (bad or too long) */
static int b64val(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len)
{
	struct mp_b64dec d;
	unsigned char tmp[3 * 64 + 8];
	size_t o = 0, k;

	mp_b64dec_init(&d, 0);
	for (size_t i = 0; i < n;) {
		char run[256];
		size_t r = 0;
		for (; i < n && r < sizeof run; i++)
			if (!fws((unsigned char)s[i]))
				run[r++] = s[i];
		for (size_t j = 0; j < r; j += 64) {
			size_t m = r - j < 64 ? r - j : 64;
			if (mp_b64dec_update(&d, run + j, m, tmp, &k, NULL) < 0 || k > cap - o)
				return -1;
			memcpy(out + o, tmp, k);
			o += k;
		}
	}
	if (mp_b64dec_final(&d, tmp, &k, NULL) < 0 || k > cap - o)
		return -1;
	memcpy(out + o, tmp, k);
	*len = o + k;
	return 0;
}

static int number(const char *s, const struct tag *t, long long *v)
{
	long long x = 0;

	if (t->vlen == 0 || t->vlen > 12)
		return -1;
	for (size_t k = 0; k < t->vlen; k++) {
		if (!isdigit((unsigned char)s[t->voff + k]))
			return -1;
		x = x * 10 + (s[t->voff + k] - '0');
	}
	*v = x;
	return 0;
}

int mp_dkim_canon_parse(const char *c, int *hc, int *bc)
{
	const char *slash = strchr(c, '/');
	size_t hl = slash ? (size_t)(slash - c) : strlen(c);
	const char *b = slash ? slash + 1 : "simple";

	if (hl == 6 && strncmp(c, "simple", 6) == 0)
		*hc = MP_DKIM_SIMPLE;
	else if (hl == 7 && strncmp(c, "relaxed", 7) == 0)
		*hc = MP_DKIM_RELAXED;
	else
		return -1;
	if (strcmp(b, "simple") == 0)
		*bc = MP_DKIM_SIMPLE;
	else if (strcmp(b, "relaxed") == 0)
		*bc = MP_DKIM_RELAXED;
	else
		return -1;
	return 0;
}

/* does domain d end in (or equal) the domain part of the identity i */
static int within(const char *i, const char *d)
{
	const char *at = strrchr(i, '@');
	size_t il, dl = strlen(d);

	if (!at)
		return 0;
	at++;
	il = strlen(at);
	if (il < dl || strcasecmp(at + il - dl, d) != 0)
		return 0;
	return il == dl || at[il - dl - 1] == '.';
}

int mp_dkim_sig_parse(const char *v, size_t n, struct mp_dkim_sig *s, struct mp_err *e)
{
	struct tag t;
	size_t pos = 0;
	unsigned seen = 0;
	int r;

	memset(s, 0, sizeof *s);
	s->l = s->t = s->x = -1;
	while ((r = tag_next(v, n, &pos, &t, e)) > 0) {
		static const char *const known[] = {"v", "a", "b", "bh", "c", "d", "h",
		                                    "i", "l", "q", "s",  "t", "x", "z"};
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof known / sizeof *known; k++)
			if (tag_is(&t, known[k]))
				bit = 1u << k;
		if (!bit)
			continue; /* unknown tags are ignored */
		if (seen & bit)
			return bad(e, (size_t)(t.name - v), "a tag given twice");
		seen |= bit;
		size_t at = t.voff;
		const char *val = v + t.voff;
		if (tag_is(&t, "v")) {
			if (t.vlen != 1 || val[0] != '1')
				return bad(e, at, "the version is not v=1");
		} else if (tag_is(&t, "a")) {
			if (t.vlen == 10 && strncasecmp(val, "rsa-sha256", 10) == 0)
				s->alg = MP_DKIM_RSA_SHA256;
			else if (t.vlen == 14 && strncasecmp(val, "ed25519-sha256", 14) == 0)
				s->alg = MP_DKIM_ED25519_SHA256;
			else if (t.vlen == 8 && strncasecmp(val, "rsa-sha1", 8) == 0)
				s->alg = MP_DKIM_RSA_SHA1;
			else
				return bad(e, at, "an unknown algorithm in a=");
		} else if (tag_is(&t, "b")) {
			s->boff = t.roff;
			s->bend = t.rend;
			if (b64val(val, t.vlen, s->b, sizeof s->b, &s->blen) < 0 || s->blen == 0)
				return bad(e, at, "b= is no base64 signature");
		} else if (tag_is(&t, "bh")) {
			if (b64val(val, t.vlen, s->bh, sizeof s->bh, &s->bhlen) < 0 ||
			    s->bhlen == 0)
				return bad(e, at, "bh= is no base64 hash");
		} else if (tag_is(&t, "c")) {
			char c[32];
			if (plain(v, &t, c, sizeof c, 1) < 0 ||
			    mp_dkim_canon_parse(c, &s->hcanon, &s->bcanon) < 0)
				return bad(e, at, "an unknown canonicalization in c=");
		} else if (tag_is(&t, "d")) {
			if (plain(v, &t, s->d, sizeof s->d, 1) < 0)
				return bad(e, at, "d= is no domain");
		} else if (tag_is(&t, "s")) {
			if (plain(v, &t, s->s, sizeof s->s, 1) < 0)
				return bad(e, at, "s= is no selector");
		} else if (tag_is(&t, "i")) {
			if (plain(v, &t, s->i, sizeof s->i, 0) < 0)
				return bad(e, at, "i= is no identity");
		} else if (tag_is(&t, "h")) {
			size_t k = 0;
			while (k <= t.vlen) {
				size_t a = k, z;
				while (a < t.vlen && fws((unsigned char)val[a]))
					a++;
				for (z = a;
				     z < t.vlen && val[z] != ':' && !fws((unsigned char)val[z]);)
					z++;
				size_t end = z;
				while (z < t.vlen && fws((unsigned char)val[z]))
					z++;
				if (end == a || end - a >= sizeof s->names[0] ||
				    (z < t.vlen && val[z] != ':'))
					return bad(e, at + a, "h= is no list of field names");
				if (s->nnames == MP_DKIM_NAMES)
					return bad(e, at + a, "h= names too many fields");
				memcpy(s->names[s->nnames], val + a, end - a);
				s->names[s->nnames++][end - a] = '\0';
				k = z + 1;
			}
		} else if (tag_is(&t, "l")) {
			if (number(v, &t, &s->l) < 0)
				return bad(e, at, "l= is no number");
		} else if (tag_is(&t, "q")) {
			/* dns/txt, perhaps among others */
			int ok = 0;
			for (size_t k = 0; k + 7 <= t.vlen; k++)
				if (strncasecmp(val + k, "dns/txt", 7) == 0 &&
				    (k == 0 || val[k - 1] == ':'))
					ok = 1;
			if (!ok)
				return bad(e, at, "q= does not offer dns/txt");
		} else if (tag_is(&t, "t")) {
			if (number(v, &t, &s->t) < 0)
				return bad(e, at, "t= is no time");
		} else if (tag_is(&t, "x")) {
			if (number(v, &t, &s->x) < 0)
				return bad(e, at, "x= is no time");
		}
	}
	if (r < 0)
		return -1;
	static const char *const need[] = {"v", "a", "b", "bh", "d", "h", "s"};
	static const unsigned needbits[] = {1u << 0, 1u << 1, 1u << 2, 1u << 3,
	                                    1u << 5, 1u << 6, 1u << 10};
	for (size_t k = 0; k < sizeof need / sizeof *need; k++)
		if (!(seen & needbits[k])) {
			mp_err_set(e, EX_DATAERR, "the tag %s= is missing", need[k]);
			if (e)
				e->offset = (long long)n + 1;
			return -1;
		}
	if (s->alg != MP_DKIM_RSA_SHA1 && s->bhlen != 32)
		return bad(e, n, "bh= is not a SHA-256 hash");
	int from = 0;
	for (int k = 0; k < s->nnames; k++)
		from |= strcasecmp(s->names[k], "from") == 0;
	if (!from)
		return bad(e, n, "h= does not name From");
	if (!s->i[0])
		snprintf(s->i, sizeof s->i, "@%s", s->d);
	else if (!within(s->i, s->d))
		return bad(e, n, "i= is not within d=");
	if (s->t >= 0 && s->x >= 0 && s->x < s->t)
		return bad(e, n, "x= is before t=");
	return 0;
}

int mp_dkim_key_parse(const char *txt, size_t n, struct mp_dkim_key *k, struct mp_err *e)
{
	struct tag t;
	size_t pos = 0;
	int r, first = 1, havep = 0;

	memset(k, 0, sizeof *k);
	k->k = MP_DKIM_K_RSA;
	while ((r = tag_next(txt, n, &pos, &t, e)) > 0) {
		const char *val = txt + t.voff;
		size_t at = t.voff;
		if (tag_is(&t, "v")) {
			if (!first || t.vlen != 5 || strncmp(val, "DKIM1", 5) != 0)
				return bad(e, at, "v= is not DKIM1 first");
		} else if (tag_is(&t, "k")) {
			if (t.vlen == 3 && strncasecmp(val, "rsa", 3) == 0)
				k->k = MP_DKIM_K_RSA;
			else if (t.vlen == 7 && strncasecmp(val, "ed25519", 7) == 0)
				k->k = MP_DKIM_K_ED25519;
			else
				return bad(e, at, "an unknown key type in k=");
		} else if (tag_is(&t, "p")) {
			if (havep)
				return bad(e, at, "p= given twice");
			havep = 1;
			if (t.vlen && b64val(val, t.vlen, k->p, sizeof k->p, &k->plen) < 0)
				return bad(e, at, "p= is no base64 key");
		} else if (tag_is(&t, "h") || tag_is(&t, "s") || tag_is(&t, "t")) {
			/* colon-separated lists */
			int want = 0;
			for (size_t a = 0; a <= t.vlen;) {
				size_t z = a;
				while (z < t.vlen && val[z] != ':')
					z++;
				size_t b = a, c = z;
				while (b < c && fws((unsigned char)val[b]))
					b++;
				while (c > b && fws((unsigned char)val[c - 1]))
					c--;
				const char *w = val + b;
				size_t wl = c - b;
				if (tag_is(&t, "h"))
					want |= wl == 6 && strncasecmp(w, "sha256", 6) == 0;
				else if (tag_is(&t, "s"))
					want |= (wl == 1 && w[0] == '*') ||
					        (wl == 5 && strncasecmp(w, "email", 5) == 0);
				else if (wl == 1 && (w[0] == 'y' || w[0] == 'Y'))
					k->testing = 1;
				else if (wl == 1 && (w[0] == 's' || w[0] == 'S'))
					k->strict = 1;
				a = z + 1;
			}
			if (tag_is(&t, "h") && !want)
				return bad(e, at, "h= does not allow sha256");
			if (tag_is(&t, "s") && !want)
				return bad(e, at, "s= is not for email");
		}
		first = 0;
	}
	if (r < 0)
		return -1;
	if (!havep)
		return bad(e, n, "the tag p= is missing");
	if (k->k == MP_DKIM_K_ED25519 && k->plen && k->plen != 32)
		return bad(e, n, "an Ed25519 key is not 32 octets");
	return 0;
}

/* ---------------------------------------------------------------- canonical forms */

static void sink_put(struct sink *k, const char *p, size_t n)
{
	if (k->limit >= 0) {
		unsigned long long room = k->total < (unsigned long long)k->limit
		                              ? (unsigned long long)k->limit - k->total
		                              : 0;
		if (n > room)
			n = (size_t)room;
	}
	k->total += n;
	if (!n)
		return;
	if (k->md && !EVP_DigestUpdate(k->md, p, n))
		k->oom = 1;
	if (k->buf && mp_buf_append(k->buf, p, n) < 0)
		k->oom = 1;
}

int mp_dkim_canon_header(const char *f, size_t n, int relaxed, struct mp_buf *out)
{
	size_t v = 0, name = mp_hdr_field_name(f, n, &v);
	/* the line end is not part of it here: added at the end */
	while (n && (f[n - 1] == '\n' || f[n - 1] == '\r'))
		n--;
	if (!relaxed) {
		for (size_t i = 0; i < n; i++) {
			if (f[i] == '\n' && (i == 0 || f[i - 1] != '\r')) {
				if (mp_buf_append(out, "\r\n", 2) < 0)
					return -1;
			} else if (mp_buf_putc(out, f[i]) < 0) {
				return -1;
			}
		}
		return mp_buf_append(out, "\r\n", 2);
	}
	if (!name)
		return 0;
	for (size_t i = 0; i < name; i++)
		if (mp_buf_putc(out, tolower((unsigned char)f[i])) < 0)
			return -1;
	if (mp_buf_putc(out, ':') < 0)
		return -1;
	int blank = 0, start = 1;
	for (size_t i = v; i < n; i++) {
		char c = f[i];
		if (c == '\r' || c == '\n')
			continue; /* unfolding */
		if (wsp((unsigned char)c)) {
			blank = 1;
			continue;
		}
		if (blank && !start && mp_buf_putc(out, ' ') < 0)
			return -1;
		blank = start = 0;
		if (mp_buf_putc(out, c) < 0)
			return -1;
	}
	return mp_buf_append(out, "\r\n", 2);
}

static void body_flush(struct body *b)
{
	sink_put(&b->k, b->buf, b->blen);
	b->blen = 0;
}

static void body_out(struct body *b, char c)
{
	if (b->blen == sizeof b->buf)
		body_flush(b);
	b->buf[b->blen++] = c;
	b->any = 1;
}

static void body_char(struct body *b, char c)
{
	if (b->relaxed && wsp((unsigned char)c)) {
		b->blank = 1;
		return;
	}
	for (; b->empty; b->empty--)
		body_out(b, '\r'), body_out(b, '\n');
	if (b->blank)
		body_out(b, ' ');
	b->blank = 0;
	body_out(b, c);
	b->text = 1;
}

static void body_eol(struct body *b)
{
	if (b->text)
		body_out(b, '\r'), body_out(b, '\n');
	else
		b->empty++;
	b->text = b->blank = 0;
}

void mp_dkim_body_feed(struct body *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (b->cr) {
			b->cr = 0;
			if (c == '\n') {
				body_eol(b);
				continue;
			}
			body_char(b, '\r'); /* a bare CR is text */
		}
		if (c == '\r')
			b->cr = 1;
		else if (c == '\n')
			body_eol(b);
		else
			body_char(b, c);
	}
}

void mp_dkim_body_end(struct body *b)
{
	if (b->cr)
		body_char(b, '\r'), b->cr = 0;
	if (b->text)
		body_eol(b);
	if (!b->any && !b->relaxed)
		body_out(b, '\r'), body_out(b, '\n');
	body_flush(b);
}

int mp_dkim_canon_body(const char *p, size_t n, int relaxed, struct mp_buf *out)
{
	struct body *b = calloc(1, sizeof *b);
	int rc;

	if (!b)
		return -1;
	b->relaxed = relaxed;
	b->k.buf = out;
	b->k.limit = -1;
	mp_dkim_body_feed(b, p, n);
	mp_dkim_body_end(b);
	rc = b->k.oom ? -1 : 0;
	free(b);
	return rc;
}

/* ---------------------------------------------------------------- the message walk */

void mp_dkim_walk_init(struct walk *w, size_t max)
{
	memset(w, 0, sizeof *w);
	mp_hdr_reader_init(&w->rd);
	w->hdr = (struct mp_buf)MP_BUF_INIT;
	w->bol = 1;
	w->max = max;
}

void mp_dkim_walk_free(struct walk *w)
{
	mp_buf_free(&w->hdr);
	free(w->f);
}

void mp_dkim_walk_reset(struct walk *w)
{
	struct mp_buf h = w->hdr;
	struct field *f = w->f;
	size_t capf = w->capf, max = w->max;
	int (*keep)(void *, const char *, size_t) = w->keep;
	void (*at_body)(void *) = w->at_body;
	void (*body)(void *, const char *, size_t) = w->body;
	void *arg = w->arg;

	mp_dkim_walk_init(w, max);
	mp_buf_reset(&h);
	w->hdr = h;
	w->f = f;
	w->capf = capf;
	w->keep = keep;
	w->at_body = at_body;
	w->body = body;
	w->arg = arg;
}

/* the field in hand is complete */
static void walk_close(struct walk *w)
{
	if (w->open) {
		struct field *f = &w->f[w->nf - 1];
		f->len = w->hdr.len - f->off;
		if (w->keep && !w->keep(w->arg, w->hdr.data + f->off, f->len)) {
			w->hdr.len = f->off; /* not wanted after all */
			w->nf--;
		}
	}
	w->open = 0;
}

static void walk_add(struct walk *w, const char *p, size_t n)
{
	if (w->err)
		return;
	if (w->hdr.len + n > w->max) {
		w->err = EX_DATAERR;
		return;
	}
	if (mp_buf_append(&w->hdr, p, n) < 0)
		w->err = EX_TEMPFAIL;
}

static void walk_seg(struct walk *w, const char *p, size_t n)
{
	int kind = mp_hdr_reader_feed(&w->rd, p, n, w->bol);

	w->bol = n && p[n - 1] == '\n';
	if (kind == MP_HDR_FIELD) {
		walk_close(w);
		if (w->nf == w->capf) {
			size_t nc = w->capf ? w->capf * 2 : 32;
			struct field *nf = nc < 100000 ? realloc(w->f, nc * sizeof *nf) : NULL;
			if (!nf) {
				w->err = nc < 100000 ? EX_TEMPFAIL : EX_DATAERR;
				return;
			}
			w->f = nf;
			w->capf = nc;
		}
		w->f[w->nf++] = (struct field){.off = w->hdr.len};
		w->open = 1;
		walk_add(w, p, n);
	} else if (kind == MP_HDR_MORE) {
		if (w->open)
			walk_add(w, p, n);
	} else if (kind == MP_HDR_BAD) {
		walk_close(w);
	} else {
		walk_close(w);
		w->inbody = 1;
		if (w->at_body)
			w->at_body(w->arg);
	}
}

void mp_dkim_walk_feed(struct walk *w, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !w->inbody && !w->err) {
		char c = p[i++];
		w->line[w->llen++] = c;
		if (c == '\n' || w->llen == sizeof w->line) {
			walk_seg(w, w->line, w->llen);
			w->llen = 0;
		}
	}
	if (i < n && w->inbody && !w->err && w->body)
		w->body(w->arg, p + i, n - i);
}

void mp_dkim_walk_end(struct walk *w)
{
	if (w->inbody || w->err)
		return;
	if (w->llen) {
		walk_seg(w, w->line, w->llen);
		w->llen = 0;
	}
	if (!w->inbody) {
		mp_hdr_reader_end(&w->rd);
		walk_close(w);
		w->inbody = 1;
		if (w->at_body)
			w->at_body(w->arg);
	}
}

int mp_dkim_walk_failed(const struct walk *w, struct mp_err *e)
{
	if (w->err == EX_DATAERR)
		return mp_err_set(e, EX_DATAERR,
		                  "the header is larger than %d octets or has too "
		                  "many fields",
		                  MP_DKIM_HDRMAX);
	return mp_err_sys(e, EX_TEMPFAIL, "DKIM");
}

/* the header hash input: the fields names[] pick, each the last one not
 * taken yet (RFC 6376 §5.4.2), canonicalized */
int mp_dkim_hash_fields(struct walk *w, char (*names)[80], int nnames, int relaxed, EVP_MD_CTX *md,
                        struct mp_buf *tmp)
{
	for (size_t k = 0; k < w->nf; k++)
		w->f[k].used = 0;
	for (int j = 0; j < nnames; j++) {
		for (size_t k = w->nf; k-- > 0;) {
			struct field *f = &w->f[k];
			const char *p = w->hdr.data + f->off;
			if (f->used || !mp_hdr_field_name_is(p, f->len, names[j]))
				continue;
			f->used = 1;
			mp_buf_reset(tmp);
			if (mp_dkim_canon_header(p, f->len, relaxed, tmp) < 0 ||
			    !EVP_DigestUpdate(md, tmp->data, tmp->len))
				return -1;
			break;
		}
	}
	return 0;
}

/* the DKIM-Signature field itself, b= emptied, without its final CR LF */
int mp_dkim_hash_self(const char *f, size_t n, size_t boff, size_t bend, int relaxed,
                      EVP_MD_CTX *md, struct mp_buf *tmp)
{
	struct mp_buf raw = MP_BUF_INIT;
	int rc = -1;

	if (mp_buf_append(&raw, f, boff) < 0 || mp_buf_append(&raw, f + bend, n - bend) < 0)
		goto out;
	mp_buf_reset(tmp);
	if (mp_dkim_canon_header(raw.data, raw.len, relaxed, tmp) < 0 || tmp->len < 2)
		goto out;
	rc = EVP_DigestUpdate(md, tmp->data, tmp->len - 2) ? 0 : -1;
out:
	mp_buf_free(&raw);
	return rc;
}

/* ---------------------------------------------------------------- signatures */

/* SHA-256, fetched once a process for every signer: EVP_sha256() would
 * be fetched again at each EVP_DigestInit_ex */
EVP_MD *mp_dkim_sign_sha256;

/* the signature over the SHA-256 hash h of the header data: RSA PKCS #1
 * v1.5 over its DigestInfo, Ed25519 over h itself (RFC 8463 §3); made
 * into sig (*siglen: its room, then its length), or, with verify,
 * checked. 1 done (good), 0 not */
int mp_dkim_pk_hash(EVP_PKEY *key, int kt, const unsigned char *h, unsigned char *sig,
                    size_t *siglen, int verify)
{
	int ok = 0;
	const EVP_MD *sha256 = verify ? EVP_sha256() : mp_dkim_sign_sha256;

	if (kt == MP_DKIM_K_ED25519) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		ok = c && (verify ? EVP_DigestVerifyInit(c, NULL, NULL, NULL, key) == 1 &&
		                        EVP_DigestVerify(c, sig, *siglen, h, 32) == 1
		                  : EVP_DigestSignInit(c, NULL, NULL, NULL, key) == 1 &&
		                        EVP_DigestSign(c, sig, siglen, h, 32) == 1);
		EVP_MD_CTX_free(c);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
		ok = c && (verify ? EVP_PKEY_verify_init(c) : EVP_PKEY_sign_init(c)) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, sha256) == 1 &&
		     (verify ? EVP_PKEY_verify(c, sig, *siglen, h, 32)
		             : EVP_PKEY_sign(c, sig, siglen, h, 32)) == 1;
		EVP_PKEY_CTX_free(c);
	}
	return ok;
}
