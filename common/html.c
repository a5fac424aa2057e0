/* html: HTML to readable text for mparse --show and --text; see html.h.
 * Every search for the end of a construct (a tag, a comment, the end of
 * a script) that fails ends the input, so the pass stays linear. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"

/* the Latin-1 references of HTML (U+00A0 to U+00FF, in order) */
static const char *const latin1[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
    "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
    "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
    "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
    "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
    "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
    "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
    "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

static const struct {
	const char *name;
	unsigned cp;
} named[] = {{"amp", '&'},      {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
             {"apos", '\''},    {"ndash", 0x2013},  {"mdash", 0x2014},  {"lsquo", 0x2018},
             {"rsquo", 0x2019}, {"sbquo", 0x201a},  {"ldquo", 0x201c},  {"rdquo", 0x201d},
             {"bdquo", 0x201e}, {"dagger", 0x2020}, {"bull", 0x2022},   {"hellip", 0x2026},
             {"prime", 0x2032}, {"lsaquo", 0x2039}, {"rsaquo", 0x203a}, {"euro", 0x20ac},
             {"trade", 0x2122}, {"larr", 0x2190},   {"rarr", 0x2192},   {"ensp", 0x2002},
             {"emsp", 0x2003},  {"thinsp", 0x2009}, {"zwnj", 0x200c},   {"zwj", 0x200d},
             {"lrm", 0x200e},   {"rlm", 0x200f},    {"minus", 0x2212},  {"OElig", 0x152},
             {"oelig", 0x153},  {"Scaron", 0x160},  {"scaron", 0x161},  {"Yuml", 0x178}};

struct conv {
	struct mp_buf *out;
	int nl;      /* line ends wanted before the next text (0, 1, 2) */
	int space;   /* a blank wanted before the next text */
	int bol;     /* the output is at the start of a line */
	int started; /* some text was written */
	int pre;     /* inside <pre> */
	int link;    /* the number of the open <a>'s link, 0 if none */
	char *links[MP_HTML_LINKS];
	size_t nlinks;
	int err;
};

static void put(struct conv *c, const char *s, size_t n)
{
	if (mp_buf_append(c->out, s, n) < 0)
		c->err = 1;
}

/* text that is not blank: what is pending first */
static void text(struct conv *c, const char *s, size_t n)
{
	if (c->nl && c->started) {
		put(c, "\n\n", (size_t)c->nl);
		c->bol = 1;
	} else if (c->space && !c->bol) {
		put(c, " ", 1);
	}
	c->nl = c->space = 0;
	put(c, s, n);
	c->bol = 0;
	c->started = 1;
}

static void blank(struct conv *c, char ch)
{
	if (c->pre) {
		if (ch == '\n') {
			text(c, "", 0);
			put(c, "\n", 1);
			c->bol = 1;
		} else if (ch != '\r') {
			text(c, &ch, 1);
		}
		return;
	}
	c->space = 1;
}

static void line_break(struct conv *c, int n)
{
	if (c->nl < n)
		c->nl = n;
	c->space = 0;
}

static size_t utf8(unsigned cp, char *o)
{
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7f && cp < 0xa0))
		cp = 0xfffd; /* no NUL, surrogate or control from a reference */
	return mp_utf8_encode(cp, o);
}

/* A character reference at s ('&' first): its UTF-8 into o (*olen) and
 * its length in the input, or 0 when it is none (the '&' stands). */
static size_t reference(const char *s, size_t n, char *o, size_t *olen)
{
	size_t i = 1;
	unsigned long cp = 0;

	if (n > 2 && s[1] == '#') {
		int hex = s[2] == 'x' || s[2] == 'X', digits = 0;
		for (i = hex ? 3 : 2; i < n; i++, digits++) {
			char ch = s[i];
			int v = ch >= '0' && ch <= '9'          ? ch - '0'
			        : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			        : hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
			                                        : -1;
			if (v < 0)
				break;
			if (cp <= 0x10ffff)
				cp = cp * (hex ? 16 : 10) + (unsigned long)v; /* else U+FFFD */
		}
		if (!digits)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		*olen = utf8(cp > 0x10ffff ? 0xfffd : (unsigned)cp, o);
		return i;
	}
	while (i < n && i < 12 &&
	       ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	        (s[i] >= '0' && s[i] <= '9')))
		i++;
	if (i == 1 || i >= n || s[i] != ';')
		return 0;
	size_t len = i - 1;
	for (size_t k = 0; k < sizeof named / sizeof named[0]; k++)
		if (strlen(named[k].name) == len && !memcmp(named[k].name, s + 1, len)) {
			*olen = utf8(named[k].cp, o);
			return i + 1;
		}
	for (unsigned k = 0; k < 96; k++)
		if (strlen(latin1[k]) == len && !memcmp(latin1[k], s + 1, len)) {
			/* a no-break space is a space to a reader; a soft hyphen nothing */
			if (k == 0) {
				o[0] = ' ';
				*olen = 1;
			} else {
				*olen = k == 13 ? 0 : utf8(0xa0 + k, o);
			}
			return i + 1;
		}
	return 0;
}

/* text with its references decoded, into b (link targets) */
static void decode_into(const char *s, size_t n, struct mp_buf *b, int *err)
{
	for (size_t i = 0; i < n;) {
		char o[4];
		size_t ol = 0, k = s[i] == '&' ? reference(s + i, n - i, o, &ol) : 0;
		if (k) {
			if (mp_buf_append(b, o, ol) < 0)
				*err = 1;
			i += k;
		} else {
			if (mp_buf_putc(b, s[i]) < 0)
				*err = 1;
			i++;
		}
	}
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f';
}

/* the end of a tag that starts at s[0] == '<': the index of its '>'
 * (quoted values may hold one), or n */
static size_t tag_end(const char *s, size_t n)
{
	char quote = 0;

	for (size_t i = 1; i < n; i++) {
		if (quote) {
			if (s[i] == quote)
				quote = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			/* only an attribute value opens a quote: after '=' and blanks */
			size_t k = i;
			while (k > 1 && is_blank(s[k - 1]))
				k--;
			if (s[k - 1] == '=')
				quote = s[i];
		} else if (s[i] == '>') {
			return i;
		}
	}
	return n;
}

/* the value of attribute name in the tag body s (n bytes after the tag
 * name), or NULL; *vlen its length */
static const char *attr(const char *s, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < n;) {
		while (i < n && (is_blank(s[i]) || s[i] == '/'))
			i++;
		size_t a = i;
		while (i < n && !is_blank(s[i]) && s[i] != '=' && s[i] != '>')
			i++;
		size_t alen = i - a;
		while (i < n && is_blank(s[i]))
			i++;
		const char *v = NULL;
		size_t vl = 0;
		if (i < n && s[i] == '=') {
			i++;
			while (i < n && is_blank(s[i]))
				i++;
			if (i < n && (s[i] == '"' || s[i] == '\'')) {
				char q = s[i++];
				v = s + i;
				while (i < n && s[i] != q)
					i++;
				vl = (size_t)(s + i - v);
				if (i < n)
					i++;
			} else {
				v = s + i;
				while (i < n && !is_blank(s[i]) && s[i] != '>')
					i++;
				vl = (size_t)(s + i - v);
			}
		}
		if (alen == nl && strncasecmp(s + a, name, nl) == 0 && v) {
			*vlen = vl;
			return v;
		}
		if (alen == 0 && i == a)
			i++; /* no progress: a stray character */
	}
	return NULL;
}

static int name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

static void close_link(struct conv *c)
{
	if (c->link) {
		char num[32];
		int k = snprintf(num, sizeof num, "[%d]", c->link);
		c->space = !c->bol;
		text(c, num, (size_t)k);
		c->link = 0;
	}
}

static void open_link(struct conv *c, const char *body, size_t n)
{
	size_t vl;
	const char *v = attr(body, n, "href", &vl);

	close_link(c);
	while (v && vl && is_blank(*v))
		v++, vl--;
	while (v && vl && is_blank(v[vl - 1]))
		vl--;
	if (!v || !vl || vl > MP_HTML_LINKMAX || c->nlinks == MP_HTML_LINKS)
		return;
	struct mp_buf b = MP_BUF_INIT;
	decode_into(v, vl, &b, &c->err);
	if (!b.data) {
		c->err = 1;
		return;
	}
	c->links[c->nlinks++] = b.data;
	c->link = (int)c->nlinks;
}

static const char *const blocks[] = {
    "div",     "tr",      "table",  "ul",     "ol",    "dl",    "dt",   "dd",   "pre",     "hr",
    "section", "article", "header", "footer", "nav",   "aside", "main", "form", "address", "figure",
    "caption", "center",  "thead",  "tbody",  "tfoot", "html",  "body", "head", NULL};
static const char *const paragraphs[] = {"p",  "h1", "h2",         "h3", "h4",
                                         "h5", "h6", "blockquote", NULL};
/* elements whose content is no text for a reader */
static const char *const hidden[] = {"script", "style", "title", "template", "noscript", NULL};

/* a tag at s[0] == '<': what it does, and its length (or 0: not a tag) */
static size_t tag(struct conv *c, const char *s, size_t n)
{
	if (n >= 4 && memcmp(s, "<!--", 4) == 0) {
		for (size_t i = 4; i + 2 < n; i++)
			if (memcmp(s + i, "-->", 3) == 0)
				return i + 3;
		return n;
	}
	size_t i = 1;
	int closing = i < n && s[i] == '/';
	if (closing)
		i++;
	if (i < n && (s[i] == '!' || s[i] == '?'))
		return tag_end(s, n) + (tag_end(s, n) < n); /* <!DOCTYPE>, <?xml?> */
	if (i >= n || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		return 0; /* a '<' in text */
	char name[16];
	size_t k = 0;
	for (; i < n && !is_blank(s[i]) && s[i] != '>' && s[i] != '/'; i++)
		if (k + 1 < sizeof name)
			name[k++] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	name[k] = '\0';
	size_t end = tag_end(s, n), len = end + (end < n);
	const char *body = s + i;
	size_t blen = end > i ? end - i : 0;

	if (!closing && name_in(name, hidden)) {
		/* its content up to "</name" is dropped */
		size_t nl = strlen(name);
		for (size_t j = len; j + 2 + nl <= n; j++)
			if (s[j] == '<' && s[j + 1] == '/' &&
			    strncasecmp(s + j + 2, name, nl) == 0) {
				size_t e = tag_end(s + j, n - j);
				return j + e + (j + e < n);
			}
		return n;
	}
	if (strcmp(name, "br") == 0) {
		if (c->nl < 2)
			c->nl++;
		c->space = 0;
	} else if (strcmp(name, "a") == 0) {
		if (closing)
			close_link(c);
		else
			open_link(c, body, blen);
	} else if (strcmp(name, "li") == 0) {
		line_break(c, 1);
		if (!closing) {
			text(c, "*", 1);
			c->space = 1;
		}
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		c->space = 1;
	} else if (strcmp(name, "img") == 0 && !closing) {
		size_t al;
		const char *alt = attr(body, blen, "alt", &al);
		if (alt && al) {
			struct mp_buf b = MP_BUF_INIT;
			decode_into(alt, al, &b, &c->err);
			c->space = c->space || !c->bol;
			text(c, "[", 1);
			text(c, b.data ? b.data : "", b.len);
			text(c, "]", 1);
			mp_buf_free(&b);
		}
	} else if (name_in(name, paragraphs)) {
		line_break(c, 2);
	} else if (name_in(name, blocks)) {
		line_break(c, 1);
		if (strcmp(name, "pre") == 0)
			c->pre = !closing;
	}
	return len;
}

int mp_html_text(const char *s, size_t n, struct mp_buf *out)
{
	struct conv c;

	memset(&c, 0, sizeof c);
	c.out = out;
	c.bol = 1;
	for (size_t i = 0; i < n && !c.err;) {
		char ch = s[i];
		if (ch == '<') {
			size_t k = tag(&c, s + i, n - i);
			if (k) {
				i += k;
				continue;
			}
		} else if (ch == '&') {
			char o[4];
			size_t ol = 0, k = reference(s + i, n - i, o, &ol);
			if (k) {
				if (ol == 1 && o[0] == ' ')
					blank(&c, ' ');
				else if (ol)
					text(&c, o, ol);
				i += k;
				continue;
			}
		}
		if (is_blank(ch)) {
			blank(&c, ch);
			i++;
			continue;
		}
		/* a run of plain text at once */
		size_t j = i + 1;
		while (j < n && s[j] != '<' && s[j] != '&' && !is_blank(s[j]))
			j++;
		text(&c, s + i, j - i);
		i = j;
	}
	close_link(&c);
	if (c.started)
		put(&c, "\n", 1);
	if (c.nlinks) {
		put(&c, "\n", 1);
		for (size_t k = 0; k < c.nlinks; k++) {
			if (mp_buf_printf(out, "[%zu] %s\n", k + 1, c.links[k]) < 0)
				c.err = 1;
		}
	}
	for (size_t k = 0; k < c.nlinks; k++)
		free(c.links[k]);
	return c.err ? -1 : 0;
}
