/* RFC 5322 3.4 address lists, forgiving: display names (quoted, with
 * encoded-words), angle addresses, comments, groups, obsolete routes; an
 * unbalanced quote still gives what can be recovered. */
#include "addr.h"

#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	memmove(s, s + i, n - i + 1);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* obsolete CFWS around the dots and the at sign of an address (RFC 5322
 * 4.4, "john . doe @ example . com") is taken out; never inside a quoted
 * local part */
static void obs_cfws(char *s)
{
	size_t j = 0;
	int quote = 0;

	for (size_t i = 0; s[i]; i++) {
		if (quote && s[i] == '\\' && s[i + 1]) {
			s[j++] = s[i++];
		} else if (s[i] == '"') {
			quote = !quote;
		} else if (!quote && (s[i] == ' ' || s[i] == '\t')) {
			size_t k = i;
			while (s[k] == ' ' || s[k] == '\t')
				k++;
			int drop = (j && (s[j - 1] == '.' || s[j - 1] == '@')) || s[k] == '.' ||
			           s[k] == '@';
			while (i < k) {
				if (!drop)
					s[j++] = s[i];
				i++;
			}
			i--;
			continue;
		}
		s[j++] = s[i];
	}
	s[j] = '\0';
}

static void push(struct mp_addrlist *l, const char *name, const char *addr)
{
	if (!*addr)
		return;
	struct mp_address *a = realloc(l->v, (l->n + 1) * sizeof *a);
	if (!a)
		return;
	l->v = a;
	struct mp_buf dec = MP_BUF_INIT;
	mp_hdr_decode_words(name, strlen(name), MP_HDR_IGNORE, &dec, NULL);
	a[l->n].name = strdup(dec.data ? dec.data : "");
	mp_buf_free(&dec);
	/* obsolete route "@a,@b:x@y": only the address counts */
	const char *colon = addr[0] == '@' ? strchr(addr, ':') : NULL;
	a[l->n].addr = strdup(colon ? colon + 1 : addr);
	l->n++;
}

/* the last space outside quotes, or NULL */
static char *last_space(char *s)
{
	char *sp = NULL;
	int quote = 0;

	for (; *s; s++) {
		if (quote && *s == '\\' && s[1])
			s++;
		else if (*s == '"')
			quote = !quote;
		else if (*s == ' ' && !quote)
			sp = s;
	}
	return sp;
}

int mp_addr_parse(const char *v, struct mp_addrlist *l)
{
	/* name: the words outside <>, quotes taken off (a display name);
	 * bare: the same words as written, quotes kept (an addr-spec without
	 * <>, whose local part may be a quoted string, RFC 5322 3.4.1) */
	char name[1024], addr[1024], comment[1024], bare[1024];
	size_t nn = 0, na = 0, nc = 0, nb = 0;
	int quote = 0, angle = 0, paren = 0, had_angle = 0, unbalanced = 0;
	/* aq: a quoted local part inside <>; sp: the name ends in white space
	 * (or a comment) outside quotes, so more of it adds nothing */
	int aq = 0, sp = 0;
	/* an unclosed quote is read again, once, from qs as if unquoted (bq),
	 * except that commas, semicolons and colons stay part of the name until
	 * a <> has been seen (bqa); the state at qs is kept in qnn, qna, qnc,
	 * qangle */
	const char *qs = NULL;
	size_t qnn = 0, qna = 0, qnc = 0, qnb = 0;
	int qangle = 0, bq = 0, bqa = 0, retried = 0;

	memset(l, 0, sizeof *l);
	for (const char *p = v;; p++) {
		char c = *p;
		if (c == '\0' && quote && qs && !retried) {
			p = qs; /* p++ moves past the quote */
			nn = qnn, na = qna, nc = qnc, nb = qnb, had_angle = qangle;
			quote = 0, sp = 0, bq = 1, unbalanced = 1, retried = 1;
			continue;
		}
		int sep = c == ',' || c == ';';
		/* in <> a comma is part of an obsolete route "@a,@b:x@y"; any other
		 * comma or a semicolon means the > is missing */
		if (sep && angle && !aq)
			sep = c == ';' || na == 0 || addr[0] != '@' || memchr(addr, ':', na);
		else if (sep && angle)
			sep = 0;
		if (c == '\0' || (sep && !quote && !paren && (!bq || bqa))) {
			name[nn] = addr[na] = comment[nc] = bare[nb] = '\0';
			trim(name);
			trim(addr);
			trim(comment);
			trim(bare);
			if (!had_angle) {
				/* "x@y (Name)" or a bare "x@y": the words are the
				 * address, a quoted local part with its quotes (but
				 * an unbalanced quote read again as text has none) */
				snprintf(addr, sizeof addr, "%s", bq ? name : bare);
				snprintf(name, sizeof name, "%s", comment);
				if (strchr(addr, '@'))
					obs_cfws(addr);
				/* strip spaces a bare address cannot have */
				char *s = bq ? strrchr(addr, ' ') : last_space(addr);
				if (s && strchr(s, '@'))
					memmove(addr, s + 1, strlen(s));
			}
			push(l, name, addr);
			nn = na = nc = nb = 0;
			had_angle = 0;
			unbalanced |= quote || angle || paren || aq;
			quote = angle = paren = aq = sp = bq = bqa = 0;
			if (c == '\0')
				break;
			continue;
		}
		if (quote) {
			if (c == '\\' && p[1]) {
				if (nb + 1 < sizeof bare)
					bare[nb++] = c;
				c = *++p;
			} else if (c == '"') {
				quote = 0;
				if (nb + 1 < sizeof bare)
					bare[nb++] = c;
				continue;
			}
			if (nn + 1 < sizeof name)
				name[nn++] = c, sp = 0;
			if (nb + 1 < sizeof bare)
				bare[nb++] = c;
			continue;
		}
		if (paren) {
			if (c == '\\' && p[1])
				c = *++p;
			else if (c == '(')
				paren++;
			else if (c == ')' && !--paren)
				continue;
			if (nc + 1 < sizeof comment)
				comment[nc++] = c;
			continue;
		}
		if (angle) {
			if (!aq && c == '(') {
				paren = 1; /* CFWS inside the addr-spec (RFC 5322 3.2.2) */
				continue;
			}
			if (aq && c == '\\' && p[1]) {
				if (na + 2 < sizeof addr)
					addr[na++] = c, addr[na++] = p[1];
				p++;
				continue;
			}
			if (c == '"')
				aq = !aq;
			else if (c == '>' && !aq) {
				angle = 0;
				continue;
			}
			if (na + 1 < sizeof addr && (aq || !is_ws(c)))
				addr[na++] = c;
			continue;
		}
		if (bq && c == '\\' && p[1]) {
			c = *++p;
		} else if (c == '"' && !bq) {
			quote = 1;
			qs = p, qnn = nn, qna = na, qnc = nc, qnb = nb, qangle = had_angle;
			if (nb + 1 < sizeof bare)
				bare[nb++] = c;
			continue;
		} else if (c == '(') {
			paren = 1;
			c = ' '; /* a comment separates like white space */
		} else if (c == '<') {
			angle = had_angle = 1;
			bqa = bq;
			continue;
		} else if (c == ':' && !bq && !had_angle && !memchr(name, '@', nn)) {
			nn = nb = 0; /* a group name: the members follow */
			sp = 0;
			continue;
		}
		if (is_ws(c)) {
			/* one space for a run of white space and comments */
			if (sp)
				continue;
			c = ' ';
			sp = 1;
		} else {
			sp = 0;
		}
		if (nn + 1 < sizeof name)
			name[nn++] = c;
		if (nb + 1 < sizeof bare)
			bare[nb++] = c;
	}
	return unbalanced ? 1 : 0;
}

void mp_addr_free(struct mp_addrlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].addr);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* the domain in U-labels for display */
void mp_addr_display(const char *addr, char *out, size_t n)
{
	const char *at = strrchr(addr, '@');
	char *u = NULL;

	if (at && strstr(at, "xn--") && idn2_to_unicode_8z8z(at + 1, &u, 0) == IDN2_OK)
		snprintf(out, n, "%.*s@%s", (int)(at - addr), addr, u);
	else
		snprintf(out, n, "%s", addr);
	idn2_free(u);
}
