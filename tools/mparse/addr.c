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

static void push(struct addrlist *l, const char *name, const char *addr)
{
	if (!*addr)
		return;
	struct address *a = realloc(l->v, (l->n + 1) * sizeof *a);
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

int addr_parse(const char *v, struct addrlist *l)
{
	char name[1024], addr[1024], comment[1024];
	size_t nn = 0, na = 0, nc = 0;
	int quote = 0, angle = 0, paren = 0, had_angle = 0, unbalanced = 0;

	memset(l, 0, sizeof *l);
	for (const char *p = v;; p++) {
		char c = *p;
		if (c == '\0' || (!quote && !angle && !paren && (c == ',' || c == ';'))) {
			name[nn] = addr[na] = comment[nc] = '\0';
			trim(name);
			trim(addr);
			trim(comment);
			if (!had_angle) {
				/* "x@y (Name)" or a bare "x@y": the words are the address */
				snprintf(addr, sizeof addr, "%s", name);
				snprintf(name, sizeof name, "%s", comment);
				/* strip spaces a bare address cannot have */
				char *sp = strrchr(addr, ' ');
				if (sp && strchr(sp, '@'))
					memmove(addr, sp + 1, strlen(sp));
			}
			push(l, name, addr);
			nn = na = nc = 0;
			had_angle = 0;
			unbalanced |= quote || angle || paren;
			quote = angle = paren = 0;
			if (c == '\0')
				break;
			continue;
		}
		if (quote) {
			if (c == '\\' && p[1])
				c = *++p;
			else if (c == '"') {
				quote = 0;
				continue;
			}
			if (nn + 1 < sizeof name)
				name[nn++] = c;
			continue;
		}
		if (paren) {
			if (c == '(')
				paren++;
			else if (c == ')' && !--paren)
				continue;
			if (nc + 1 < sizeof comment)
				comment[nc++] = c;
			continue;
		}
		if (angle) {
			if (c == '>')
				angle = 0;
			else if (na + 1 < sizeof addr && c != ' ')
				addr[na++] = c;
			continue;
		}
		if (c == '"')
			quote = 1;
		else if (c == '(')
			paren = 1;
		else if (c == '<')
			angle = had_angle = 1;
		else if (c == ':' && !had_angle && !strchr(name, '@'))
			nn = 0; /* a group name: the members follow */
		else if (nn + 1 < sizeof name)
			name[nn++] = c;
	}
	return unbalanced ? 1 : 0;
}

void addr_free(struct addrlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].addr);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* the domain in U-labels for display */
void addr_display(const char *addr, char *out, size_t n)
{
	const char *at = strrchr(addr, '@');
	char *u = NULL;

	if (at && strstr(at, "xn--") && idn2_to_unicode_8z8z(at + 1, &u, 0) == IDN2_OK)
		snprintf(out, n, "%.*s@%s", (int)(at - addr), addr, u);
	else
		snprintf(out, n, "%s", addr);
	idn2_free(u);
}
