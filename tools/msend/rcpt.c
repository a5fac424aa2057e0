/* msend's recipients and sender: addresses from the arguments and from
 * -t's header fields, read with common's parser (addr.h), checked
 * against command smuggling, local names through the aliases, qualified
 * with the maildomain, IDN domains as A-labels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"
#include "hdr.h"
#include "msend.h"
#include "mx.h"

/* refuse what could smuggle a command: CR, LF, NUL, a leading '-',
 * brackets, white space outside a quoted local part ("a b"@x.org) */
static void check_addr(const char *a, const char *what)
{
	size_t q = 0;

	if (!*a)
		mp_die(EX_USAGE, "%s: empty address", what);
	if (a[0] == '"') {
		for (q = 1; a[q] && a[q] != '"'; q++)
			if (a[q] == '\\' && a[q + 1])
				q++;
		q += a[q] == '"';
	}
	if (strpbrk(a, "\r\n<>") || strpbrk(a + q, " \t") || a[0] == '-')
		mp_die(EX_USAGE, "%s: '%s' is not an address", what, a);
}

char *rcpt_normalize(const char *a, const char *maildomain, const char *what)
{
	const char *at = strrchr(a, '@');
	char al[MP_DNS_NAMEMAX], ul[MP_DNS_NAMEMAX];
	struct mp_err e;
	char *out;

	check_addr(a, what);
	for (size_t i = 0, l = strlen(a), k; i < l; i += k) {
		k = (unsigned char)a[i] < 0x80 ? 1
		                               : mp_utf8_len((const unsigned char *)a + i, l - i);
		if (!k)
			mp_die(EX_DATAERR, "%s: '%s' is not UTF-8", what, a);
	}
	if (!at) {
		out = mp_xmalloc(strlen(a) + strlen(maildomain) + 2);
		sprintf(out, "%s@%s", a, maildomain);
		return out;
	}
	mp_err_clear(&e);
	if (mp_mx_idn(at + 1, al, sizeof al, ul, sizeof ul, &e) < 0)
		mp_die(EX_DATAERR, "%s: '%s': %s", what, a, e.msg);
	out = mp_xmalloc((size_t)(at - a) + strlen(al) + 2);
	sprintf(out, "%.*s@%s", (int)(at - a), a, al);
	return out;
}

static struct mp_aliases aliases; /* --aliases, or the account's */

/* a recipient: a local name the aliases know becomes its addresses
 * (msmtp's rule: not expanded further), the rest qualified */
static void add_rcpt(struct addrs *l, const char *a)
{
	const struct mp_alias *al = strchr(a, '@') ? NULL : mp_aliases_find(&aliases, a);
	size_t k = al ? al->n : 1;

	l->v = mp_xrealloc(l->v, (l->n + k) * sizeof *l->v);
	for (size_t i = 0; i < k; i++)
		l->v[l->n++] = rcpt_normalize(al ? al->to[i] : a, l->maildomain, "recipient");
}

/* the addresses of a header value, as common's parser reads them ("Name
 * <a@b>, c@d (comment), g: x@y;"); what cannot be read whole is said */
void rcpt_header(struct addrs *list, const char *v)
{
	struct mp_addrlist l;

	if (mp_addr_parse(v, &l) != 0)
		mp_warn("unbalanced quote, bracket or comment in '%.200s'", v);
	for (size_t i = 0; i < l.n; i++)
		add_rcpt(list, l.v[i].addr);
	mp_addr_free(&l);
}

/* the addresses of an argument (RCPT, --cc, --bcc, --reply-to; "a, b" as
 * one, as mutt may pass): a line break or an unbalanced quote, bracket or
 * comment is refused before anything is parsed further */
void rcpt_arg(struct addrs *list, const char *v, const char *what)
{
	struct mp_addrlist l;

	if (strpbrk(v, "\r\n"))
		mp_die(EX_USAGE, "%s: CR or LF (at octet %zu) in an address argument", what,
		       strcspn(v, "\r\n") + 1);
	if (mp_addr_parse(v, &l) != 0)
		mp_die(EX_USAGE, "%s: unbalanced quote, bracket or comment in '%.200s'", what, v);
	if (!l.n && !list)
		mp_die(EX_USAGE, "%s: empty address", what);
	for (size_t i = 0; i < l.n; i++) {
		if (list)
			add_rcpt(list, l.v[i].addr);
		else
			check_addr(l.v[i].addr, what);
	}
	mp_addr_free(&l);
}

void rcpt_aliases(const char *file)
{
	struct mp_err e;

	mp_err_clear(&e);
	if (file && mp_aliases_load(&aliases, file, &e) < 0)
		mp_die_err(NULL, &e);
}

struct rcpt *rcpt_unique(const struct addrs *l, size_t *n)
{
	struct rcpt *r = mp_xmalloc((l->n ? l->n : 1) * sizeof *r);
	size_t nu = 0;

	memset(r, 0, (l->n ? l->n : 1) * sizeof *r);
	for (size_t i = 0; i < l->n; i++) {
		size_t k = 0;
		while (k < nu && strcasecmp(r[k].addr, l->v[i]) != 0)
			k++;
		if (k == nu) /* each recipient once */
			r[nu++].addr = l->v[i];
	}
	*n = nu;
	return r;
}

void rcpt_free(struct addrs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	mp_aliases_free(&aliases);
}
