/* msend's recipients and sender: addresses from the arguments and from
 * -t's header fields, read with common's parser (addr.h), checked
 * against command smuggling, local names through the aliases, qualified
 * with the maildomain, IDN domains as A-labels. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf.h"
#include "hdr.h"
#include "msend.h"
#include "mx.h"

/* the exit code of a bad address: 64 on the command line, 65 in a
 * --rcpt-file (data) */
static int bad_code = EX_USAGE;

/* refuse what could smuggle a command: CR, LF, NUL, a leading '-',
 * brackets, white space outside a quoted local part ("a b"@x.org) */
static void check_addr(const char *a, const char *what)
{
	size_t q = 0;

	if (!*a)
		mp_die(bad_code, "%s: empty address", what);
	if (a[0] == '"') {
		for (q = 1; a[q] && a[q] != '"'; q++)
			if (a[q] == '\\' && a[q + 1])
				q++;
		q += a[q] == '"';
	}
	if (strpbrk(a, "\r\n<>") || strpbrk(a + q, " \t") || a[0] == '-')
		mp_die(bad_code, "%s: '%s' is not an address", what, a);
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
static void add_rcpt(struct addrs *l, const char *a, const char *what)
{
	const struct mp_alias *al = strchr(a, '@') ? NULL : mp_aliases_find(&aliases, a);
	size_t k = al ? al->n : 1;

	l->v = mp_xrealloc(l->v, (l->n + k) * sizeof *l->v);
	for (size_t i = 0; i < k; i++)
		l->v[l->n++] = rcpt_normalize(al ? al->to[i] : a, l->maildomain, what);
}

/* the addresses of a header value, as common's parser reads them ("Name
 * <a@b>, c@d (comment), g: x@y;"); what cannot be read whole is said */
void rcpt_header(struct addrs *list, const char *v)
{
	struct mp_addrlist l;

	if (mp_addr_parse(v, &l) != 0)
		mp_warn("unbalanced quote, bracket or comment in '%.200s'", v);
	for (size_t i = 0; i < l.n; i++)
		add_rcpt(list, l.v[i].addr, "recipient");
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
			add_rcpt(list, l.v[i].addr, "recipient");
		else
			check_addr(l.v[i].addr, what);
	}
	mp_addr_free(&l);
}

void rcpt_file(struct addrs *list, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, where[4200];
	size_t cap = 0, no = 0;
	ssize_t len;

	if (!f)
		mp_die(EX_NOINPUT, "--rcpt-file %s: %s", path, strerror(errno));
	bad_code = EX_DATAERR;
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct mp_addrlist l;
		no++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		const char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		snprintf(where, sizeof where, "%s:%zu", path, no);
		if (strlen(p) != (size_t)len - (size_t)(p - line) || strpbrk(p, "\r\n"))
			mp_die(EX_DATAERR, "%s: a NUL or CR in the line", where);
		while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		/* an address, or "Name <address>": nothing else on the line */
		if (mp_addr_parse(p, &l) != 0 || l.n != 1 ||
		    (!strchr(p, '<') && strcmp(p, l.v[0].addr)))
			mp_die(EX_DATAERR, "%s: '%.200s' is not one address", where, p);
		add_rcpt(list, l.v[0].addr, where);
		mp_addr_free(&l);
	}
	if (ferror(f))
		mp_die(EX_IOERR, "--rcpt-file %s: %s", path, strerror(errno));
	free(line);
	fclose(f);
	bad_code = EX_USAGE;
}

int verp_sender(const struct verp *v, const char *from, const char *rcpt, char *out, size_t n)
{
	const char *at = strrchr(from, '@'), *rat = strrchr(rcpt, '@');

	if (!v || !v->on || !*from || !at || !rat)
		return snprintf(out, n, "%s", from) < (int)n ? 0 : -1;
	/* the sender's local part (or --verp=LOCAL), then the recipient with
	 * its '@' as delim[1]: list+bob=example.org@lists.example.org */
	int l = snprintf(out, n, "%.*s%c%.*s%c%s%s",
	                 *v->local ? (int)strlen(v->local) : (int)(at - from),
	                 *v->local ? v->local : from, v->delim[0], (int)(rat - rcpt), rcpt,
	                 v->delim[1], rat + 1, at);
	return l >= 0 && (size_t)l < n ? 0 : -1;
}

void rcpt_aliases(const char *file)
{
	struct mp_err e;

	mp_err_clear(&e);
	if (file && mp_aliases_load(&aliases, file, &e) < 0)
		mp_die_err(NULL, &e);
}

static size_t addr_hash(const char *a)
{
	size_t h = 5381;

	for (; *a; a++)
		h = h * 33 + (unsigned char)tolower((unsigned char)*a);
	return h;
}

/* in input order; a hash table of the kept ones, so that a list of
 * thousands is not compared pair by pair */
struct rcpt *rcpt_unique(const struct addrs *l, size_t *n)
{
	struct rcpt *r = mp_xmalloc((l->n ? l->n : 1) * sizeof *r);
	size_t nu = 0, cap = 16;

	while (cap < 2 * l->n)
		cap *= 2;
	size_t *slot = mp_xmalloc(cap * sizeof *slot); /* index + 1, 0 free */
	memset(slot, 0, cap * sizeof *slot);
	memset(r, 0, (l->n ? l->n : 1) * sizeof *r);
	for (size_t i = 0; i < l->n; i++) {
		size_t h = addr_hash(l->v[i]) & (cap - 1);
		while (slot[h] && strcasecmp(r[slot[h] - 1].addr, l->v[i]) != 0)
			h = (h + 1) & (cap - 1);
		if (!slot[h]) { /* each recipient once */
			r[nu].addr = l->v[i];
			slot[h] = ++nu;
		}
	}
	free(slot);
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
