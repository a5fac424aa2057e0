/* dsn: the fields of delivery reports (RFC 3464, RFC 5965) read with the
 * header field reader of hdr.c, a group at a time; plain-text bounces
 * read as well as they can be; VERP addresses decoded. */
#include "dsn.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdr.h"
#include "util.h"

void mp_dsn_init(struct mp_dsn *d)
{
	memset(d, 0, sizeof *d);
}

void mp_dsn_free(struct mp_dsn *d)
{
	free(d->r);
	mp_dsn_init(d);
}

/* value into out, printable and cut to fit; the "type;" before the value
 * of an address or diagnostic dropped when typed */
static void put(char *out, size_t outn, const char *v, int typed)
{
	const char *semi = typed ? strchr(v, ';') : NULL;
	size_t k = 0;

	if (semi)
		v = semi + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v && k + 1 < outn; v++)
		out[k++] = (unsigned char)*v < 0x20 || *v == 0x7f ? ' ' : *v;
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

/* the status code of a Status: value: the digits and dots it starts with */
static void put_status(char *out, size_t outn, const char *v)
{
	size_t k = 0;

	while (*v == ' ')
		v++;
	for (; (isdigit((unsigned char)*v) || *v == '.') && k + 1 < outn; v++)
		out[k++] = *v;
	out[k] = '\0';
}

/* a recipient slot at the end, or NULL when MP_DSN_RCPTS are in hand */
static struct mp_dsn_rcpt *add_rcpt(struct mp_dsn *d)
{
	if (d->n >= MP_DSN_RCPTS)
		return NULL;
	if ((d->n & (d->n - 1)) == 0 || d->n == 0) {
		size_t cap = d->n ? d->n * 2 : 4;
		d->r = mp_xrealloc(d->r, cap * sizeof *d->r);
	}
	memset(&d->r[d->n], 0, sizeof d->r[0]);
	return &d->r[d->n++];
}

typedef void (*field_fn)(struct mp_dsn *d, struct mp_dsn_rcpt *r, struct mp_hdr_reader *h);

/* each group of fields up to a blank line: fn with the reader after each
 * completed field; group is 0 for the first (per-message) one. The
 * number of groups. */
static size_t groups(const char *buf, size_t n, struct mp_dsn *d, field_fn msg, field_fn rcpt)
{
	struct mp_hdr_reader *h = mp_xmalloc(sizeof *h);
	struct mp_dsn_rcpt tmp;
	const char *line;
	size_t i = 0, len, ng = 0;
	int in = 0;

	while ((len = mp_line_next(buf, n, &i, &line)) > 0) {
		int blank = len == 1 || (len == 2 && line[0] == '\r');
		if (!in) {
			if (blank)
				continue; /* blank lines between groups */
			mp_hdr_reader_init(h);
			memset(&tmp, 0, sizeof tmp);
			in = 1;
		}
		mp_hdr_reader_feed(h, line, len, 1);
		(ng == 0 ? msg : rcpt)(d, &tmp, h);
		if (blank) {
			in = 0;
			ng++;
			if (ng > 1 && tmp.final[0]) {
				struct mp_dsn_rcpt *r = add_rcpt(d);
				if (r)
					*r = tmp;
			}
		}
	}
	if (in) {
		mp_hdr_reader_end(h);
		(ng == 0 ? msg : rcpt)(d, &tmp, h);
		ng++;
		if (ng > 1 && tmp.final[0]) {
			struct mp_dsn_rcpt *r = add_rcpt(d);
			if (r)
				*r = tmp;
		}
	}
	free(h);
	return ng;
}

static void dsn_msg(struct mp_dsn *d, struct mp_dsn_rcpt *r, struct mp_hdr_reader *h)
{
	const char *v;

	(void)r;
	if ((v = mp_hdr_reader_get(h, "Reporting-MTA")))
		put(d->reporting_mta, sizeof d->reporting_mta, v, 1);
}

static void dsn_rcpt(struct mp_dsn *d, struct mp_dsn_rcpt *r, struct mp_hdr_reader *h)
{
	const char *v;

	(void)d;
	if ((v = mp_hdr_reader_get(h, "Final-Recipient")))
		put(r->final, sizeof r->final, v, 1);
	else if ((v = mp_hdr_reader_get(h, "Original-Recipient")))
		put(r->original, sizeof r->original, v, 1);
	else if ((v = mp_hdr_reader_get(h, "Action")))
		put(r->action, sizeof r->action, v, 0);
	else if ((v = mp_hdr_reader_get(h, "Status")))
		put_status(r->status, sizeof r->status, v);
	else if ((v = mp_hdr_reader_get(h, "Diagnostic-Code")))
		put(r->diag, sizeof r->diag, v, 1);
	else if ((v = mp_hdr_reader_get(h, "Remote-MTA")))
		put(r->remote_mta, sizeof r->remote_mta, v, 1);
	for (char *p = r->action; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

int mp_dsn_parse(const char *buf, size_t n, struct mp_dsn *d, struct mp_err *e)
{
	size_t before = d->n;

	groups(buf, n, d, dsn_msg, dsn_rcpt);
	if (d->n == before)
		return mp_err_set(e, EX_DATAERR, "no recipient in the delivery-status fields");
	return 0;
}

static void arf_msg(struct mp_dsn *d, struct mp_dsn_rcpt *r, struct mp_hdr_reader *h)
{
	const char *v;

	(void)r;
	if ((v = mp_hdr_reader_get(h, "Feedback-Type")))
		put(d->feedback_type, sizeof d->feedback_type, v, 0);
	else if ((v = mp_hdr_reader_get(h, "Original-Rcpt-To")))
		put(d->rcpt_to, sizeof d->rcpt_to, v, 0);
	else if ((v = mp_hdr_reader_get(h, "Original-Mail-From")))
		put(d->mail_from, sizeof d->mail_from, v, 0);
	else if ((v = mp_hdr_reader_get(h, "User-Agent")))
		put(d->user_agent, sizeof d->user_agent, v, 0);
	else if ((v = mp_hdr_reader_get(h, "Reporting-MTA")))
		put(d->reporting_mta, sizeof d->reporting_mta, v, 1);
}

int mp_arf_parse(const char *buf, size_t n, struct mp_dsn *d, struct mp_err *e)
{
	/* one group: the fields may come in any order (RFC 5965 3.1) */
	groups(buf, n, d, arf_msg, arf_msg);
	if (!d->feedback_type[0])
		return mp_err_set(e, EX_DATAERR, "no Feedback-Type in the feedback report");
	d->arf = 1;
	for (char *p = d->feedback_type; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* <a@b> as a@b */
	for (char *a = d->rcpt_to; a; a = a == d->rcpt_to ? d->mail_from : NULL) {
		size_t l = strlen(a);
		if (l >= 2 && a[0] == '<' && a[l - 1] == '>') {
			memmove(a, a + 1, l - 2);
			a[l - 2] = '\0';
		}
	}
	return 0;
}

/* ---- plain-text bounces */

static int addr_char(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

/* the first address in the line (s, n): its start and length, 0 none */
static size_t find_addr(const char *s, size_t n, size_t *start)
{
	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] != '@' || !addr_char((unsigned char)s[i - 1]) ||
		    !isalnum((unsigned char)s[i + 1]))
			continue;
		size_t a = i, b = i + 1;
		while (a > 0 && addr_char((unsigned char)s[a - 1]))
			a--;
		while (b < n && (isalnum((unsigned char)s[b]) || s[b] == '.' || s[b] == '-'))
			b++;
		while (b > i + 1 && s[b - 1] == '.')
			b--;
		while (a < i && s[a] == '.')
			a++;
		/* a domain with a dot, not a Message-ID's right side */
		if (a == i || !memchr(s + i, '.', b - i) ||
		    (a > 0 && s[a - 1] == '<' && b < n && s[b] != '>'))
			continue;
		*start = a;
		return b - a;
	}
	return 0;
}

/* the first status code in the line: "5.1.1" (class 2, 4 or 5), else
 * (reply) an SMTP reply code "550" as "5.0.0"; 1 found */
static int find_code(const char *s, size_t n, int reply, char *out, size_t outn)
{
	for (size_t i = 0; i < n; i++) {
		if ((i && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.')) ||
		    (s[i] != '2' && s[i] != '4' && s[i] != '5'))
			continue;
		size_t j = i + 1, b, c;
		if (j < n && s[j] == '.') {
			for (b = 0; j + 1 + b < n && isdigit((unsigned char)s[j + 1 + b]) && b < 4;
			     b++)
				;
			if (b < 1 || b > 3 || j + 1 + b >= n || s[j + 1 + b] != '.')
				continue;
			size_t k = j + 2 + b;
			for (c = 0; k + c < n && isdigit((unsigned char)s[k + c]) && c < 4; c++)
				;
			if (c < 1 || c > 3 ||
			    (k + c < n && (isalnum((unsigned char)s[k + c]) ||
			                   (s[k + c] == '.' && k + c + 1 < n &&
			                    isdigit((unsigned char)s[k + c + 1])))))
				continue;
			snprintf(out, outn, "%.*s", (int)(k + c - i), s + i);
			return 1;
		}
		if (!reply || s[i] == '2' || j + 2 > n || !isdigit((unsigned char)s[j]) ||
		    !isdigit((unsigned char)s[j + 1]) ||
		    (j + 2 < n && (isalnum((unsigned char)s[j + 2]) || s[j + 2] == '.')))
			continue;
		snprintf(out, outn, "%c.0.0", s[i]);
		return 1;
	}
	return 0;
}

static int find_status(const char *s, size_t n, char *out, size_t outn)
{
	return find_code(s, n, 0, out, outn) || find_code(s, n, 1, out, outn);
}

size_t mp_dsn_guess(const char *buf, size_t n, struct mp_dsn *d)
{
	struct mp_dsn_rcpt *cur = NULL;
	const char *line;
	size_t i = 0, len, found = 0;

	while ((len = mp_line_next(buf, n, &i, &line)) > 0) {
		size_t a, al = find_addr(line, len, &a);
		char st[16];
		if (al && cur && strlen(cur->final) == al &&
		    strncasecmp(cur->final, line + a, al) == 0)
			al = 0; /* the same address again: the line goes on about it */
		if (al) {
			int dup = 0;
			for (size_t k = 0; k < d->n; k++)
				dup |= strlen(d->r[k].final) == al &&
				       strncasecmp(d->r[k].final, line + a, al) == 0;
			if (cur && !cur->status[0])
				d->n--, found--; /* the one before had no code: not one */
			cur = NULL;
			if (dup)
				continue;
			if (!(cur = add_rcpt(d)))
				break;
			found++;
			snprintf(cur->final, sizeof cur->final, "%.*s", (int)al, line + a);
			/* a code on the address's own line, after it */
			line += a + al;
			len -= a + al;
		}
		if (cur && !cur->status[0] && find_status(line, len, st, sizeof st)) {
			memcpy(cur->status, st, sizeof st);
			snprintf(cur->action, sizeof cur->action, "%s",
			         st[0] == '4'   ? "delayed"
			         : st[0] == '2' ? "delivered"
			                        : "failed");
			char tmp[1024];
			snprintf(tmp, sizeof tmp, "%.*s", (int)(len < 1000 ? len : 1000), line);
			put(cur->diag, sizeof cur->diag, tmp, 0);
		}
	}
	if (cur && !cur->status[0])
		d->n--, found--;
	if (found)
		d->guessed = 1;
	return found;
}

int mp_verp_decode(const char *addr, const char *local, const char *delim, char *out, size_t outn)
{
	const char *at = strrchr(addr, '@'), *sep, *eq = NULL;
	size_t ll = local ? strlen(local) : 0;

	if (!delim || !*delim)
		delim = "+=";
	if (!at || !delim[1])
		return 0;
	if (ll) { /* LOCAL and the first separator, then the rest */
		if ((size_t)(at - addr) <= ll || strncasecmp(addr, local, ll) != 0 ||
		    addr[ll] != delim[0])
			return 0;
		sep = addr + ll;
	} else {
		sep = memchr(addr, delim[0], (size_t)(at - addr));
		if (!sep || sep == addr)
			return 0;
	}
	for (const char *p = sep + 1; p < at; p++)
		if (*p == delim[1])
			eq = p;
	if (!eq || eq == sep + 1 || eq + 1 == at)
		return 0;
	int k = snprintf(out, outn, "%.*s@%.*s", (int)(eq - sep - 1), sep + 1, (int)(at - eq - 1),
	                 eq + 1);
	return k > 0 && (size_t)k < outn;
}

const char *mp_verp_local_arg(const char *local)
{
	if (!*local || strlen(local) > 64 || strpbrk(local, "@<> \t\r\n\""))
		mp_die(EX_USAGE, "--verp=%s: not a local part", local);
	return local;
}

const char *mp_verp_delims_arg(const char *delim)
{
	if (strlen(delim) != 2 || strpbrk(delim, "@<>\" \t\r\n\\"))
		mp_die(EX_USAGE,
		       "--verp-delimiters: '%s': expected two characters, such as +=", delim);
	return delim;
}
