/* Compose mode (-s, -A): a new message around the text on stdin. The
 * header fields come from the command line (CR and LF in any of them are
 * refused: header injection), non-ASCII ones as RFC 2047 words; the text
 * goes as 7bit when it can, else quoted-printable; attachments make it
 * multipart/mixed with base64 parts. Everything streams through fixed
 * buffers: the text into an unlinked file first, because its encoding
 * must be known before the header is written. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "codec.h"
#include "hdr.h"
#include "io.h"
#include "msend.h"

#define CHUNK (57 * 1024) /* whole base64 lines */

static int has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* an ASCII field body folded (RFC 5322 2.2.3) before a run of white space
 * where the line would pass 78 octets, so unfolding gives s back; -1 (and
 * nothing written) when a word is too long to keep a line within 998 */
static int put_folded(struct mp_buf *b, const char *s, size_t col)
{
	for (const char *p = s; *p;) {
		const char *q = p;
		while (is_wsp(*q))
			q++;
		while (*q && !is_wsp(*q))
			q++;
		if ((size_t)(q - p) + 9 > 998)
			return -1;
		p = q;
	}
	for (const char *p = s; *p;) {
		const char *q = p;
		while (is_wsp(*q))
			q++;
		int word = *q != '\0'; /* never a line of white space alone */
		while (*q && !is_wsp(*q))
			q++;
		size_t len = (size_t)(q - p);
		if (p != s && word && is_wsp(*p) && col + len > 78) {
			mp_buf_putc(b, '\n');
			col = 0;
		}
		mp_buf_append(b, p, len);
		col += len;
		p = q;
	}
	return 0;
}

/* a phrase (display name) as RFC 5322 wants it: atoms as they are, else a
 * quoted string, non-ASCII as encoded-words */
static int put_phrase(struct mp_buf *b, const char *s, size_t n, struct mp_err *e)
{
	int plain = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80)
			return mp_hdr_encode_words(s, n, 0, b, e);
		if (!(c == ' ' || c == '!' || (c >= '#' && c <= '\'') || c == '*' || c == '+' ||
		      c == '-' || c == '/' || (c >= '0' && c <= '9') || c == '=' || c == '?' ||
		      (c >= 'A' && c <= 'Z') || (c >= '^' && c <= '~')))
			plain = 0;
	}
	if (plain)
		return mp_buf_append(b, s, n);
	mp_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			mp_buf_putc(b, '\\');
		mp_buf_putc(b, s[i]);
	}
	return mp_buf_putc(b, '"');
}

/* "Name <a@b>" or "a@b" as given, the name made safe */
static int put_addr(struct mp_buf *b, const char *a, struct mp_err *e)
{
	const char *lt = strchr(a, '<');
	size_t s = 0, n;

	if (!lt)
		return mp_buf_puts(b, a);
	n = (size_t)(lt - a);
	while (s < n && (a[s] == ' ' || a[s] == '\t'))
		s++;
	while (n > s && (a[n - 1] == ' ' || a[n - 1] == '\t'))
		n--;
	if (n > s) {
		if (n - s >= 2 && a[s] == '"' && a[n - 1] == '"')
			s++, n--; /* already quoted: quote again properly */
		if (put_phrase(b, a + s, n - s, e) < 0)
			return -1;
		mp_buf_putc(b, ' ');
	}
	return mp_buf_puts(b, lt);
}

static int put_list(struct mp_buf *b, const char *field, char *const *v, size_t n, struct mp_err *e)
{
	if (!n)
		return 0;
	mp_buf_printf(b, "%s: ", field);
	for (size_t i = 0; i < n; i++) {
		if (i)
			mp_buf_puts(b, ",\n ");
		if (put_addr(b, v[i], e) < 0)
			return -1;
	}
	return mp_buf_putc(b, '\n');
}

static const char *content_type(const char *name)
{
	static const char *const map[][2] = {
	    {"pdf", "application/pdf"},
	    {"txt", "text/plain"},
	    {"log", "text/plain"},
	    {"csv", "text/csv"},
	    {"tsv", "text/tab-separated-values"},
	    {"htm", "text/html"},
	    {"html", "text/html"},
	    {"md", "text/markdown"},
	    {"ics", "text/calendar"},
	    {"diff", "text/x-diff"},
	    {"patch", "text/x-diff"},
	    {"json", "application/json"},
	    {"xml", "application/xml"},
	    {"zip", "application/zip"},
	    {"gz", "application/gzip"},
	    {"tgz", "application/gzip"},
	    {"xz", "application/x-xz"},
	    {"zst", "application/zstd"},
	    {"tar", "application/x-tar"},
	    {"png", "image/png"},
	    {"jpg", "image/jpeg"},
	    {"jpeg", "image/jpeg"},
	    {"gif", "image/gif"},
	    {"webp", "image/webp"},
	    {"svg", "image/svg+xml"},
	    {"mp3", "audio/mpeg"},
	    {"ogg", "audio/ogg"},
	    {"mp4", "video/mp4"},
	    {"doc", "application/msword"},
	    {"odt", "application/vnd.oasis.opendocument.text"},
	    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
	    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	    {"pem", "application/x-pem-file"}};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(dot + 1, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

/* filename="x" or, for what a quoted string cannot hold, RFC 2231's
 * filename*=utf-8''%XX */
static void put_filename(struct mp_buf *b, const char *name)
{
	int ascii = is_ascii(name);

	if (ascii) {
		mp_buf_puts(b, "; filename=\"");
		for (const char *p = name; *p; p++) {
			if (*p == '"' || *p == '\\')
				mp_buf_putc(b, '\\');
			mp_buf_putc(b, *p);
		}
		mp_buf_putc(b, '"');
		return;
	}
	mp_buf_puts(b, ";\n filename*=utf-8''");
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$&+-.^_`|~", *p))
			mp_buf_putc(b, (char)*p);
		else
			mp_buf_printf(b, "%%%02X", *p);
	}
}

/* the text from in into a spool, learning what it needs */
struct textinfo {
	int fd;
	long long size;
	int nonascii, badutf8, nul, longline;
};

static int read_text(int in, struct textinfo *t, struct mp_err *e)
{
	char path[4096], buf[65536];
	const char *dir = getenv("TMPDIR");
	unsigned char carry[4];
	size_t ncarry = 0, col = 0;
	ssize_t got;

	memset(t, 0, sizeof *t);
	snprintf(path, sizeof path, "%s/msend-text.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((t->fd = mkstemp(path)) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "spool %s", path);
	unlink(path);
	while ((got = read(in, buf, sizeof buf)) > 0) {
		if (mp_write_full(t->fd, buf, (size_t)got) < 0)
			return mp_err_sys(e, EX_TEMPFAIL, "spool");
		t->size += got;
		for (ssize_t i = 0; i < got; i++) {
			unsigned char c = (unsigned char)buf[i];
			col = c == '\n' ? 0 : col + 1;
			t->longline |= col > 998;
			t->nul |= c == 0;
			if (c < 0x80 && !ncarry)
				continue;
			t->nonascii = 1;
			/* UTF-8 checked across reads: a character may straddle two */
			carry[ncarry++] = c;
			size_t need = (carry[0] & 0xE0) == 0xC0   ? 2
			              : (carry[0] & 0xF0) == 0xE0 ? 3
			              : (carry[0] & 0xF8) == 0xF0 ? 4
			                                          : 1;
			if (ncarry < need)
				continue;
			if (need == 1 || mp_utf8_len(carry, ncarry) != need)
				t->badutf8 = 1;
			ncarry = 0;
		}
	}
	if (got < 0)
		return mp_err_sys(e, EX_IOERR, "stdin");
	if (ncarry)
		t->badutf8 = 1;
	if (lseek(t->fd, 0, SEEK_SET) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "spool");
	return 0;
}

static int copy_text(int out, const struct textinfo *t, int qp, struct mp_err *e)
{
	static char buf[65536];
	char *enc = qp ? mp_xmalloc(mp_qpenc_maxout(sizeof buf)) : NULL;
	struct mp_qpenc q;
	ssize_t got;
	char last = '\n';
	int rc = 0;

	mp_qpenc_init(&q, 0);
	while (rc == 0 && (got = read(t->fd, buf, sizeof buf)) > 0) {
		last = buf[got - 1];
		if (qp) {
			size_t n = mp_qpenc_update(&q, buf, (size_t)got, enc);
			rc = mp_write_full(out, enc, n);
		} else {
			rc = mp_write_full(out, buf, (size_t)got);
		}
	}
	if (rc == 0 && qp) {
		size_t n = mp_qpenc_final(&q, enc);
		rc = mp_write_full(out, enc, n);
		last = n ? enc[n - 1] : last;
	}
	if (rc == 0 && last != '\n') /* the boundary needs its own line */
		rc = mp_write_full(out, "\n", 1);
	free(enc);
	return rc < 0 ? mp_err_sys(e, EX_TEMPFAIL, "spool") : 0;
}

static int copy_base64(int out, const char *path, int in, struct mp_err *e)
{
	char *buf = mp_xmalloc(CHUNK), *enc = mp_xmalloc(CHUNK / 57 * 77 + 128);
	size_t have = 0;
	ssize_t got;
	int rc = 0;

	while (rc == 0 && (got = read(in, buf + have, CHUNK - have)) > 0) {
		have += (size_t)got;
		if (have < CHUNK)
			continue;
		size_t used = mp_b64_encode_lines76(buf, have, enc, 0);
		size_t n = (used / 57) * 77;
		rc = mp_write_full(out, enc, n);
		have = 0;
	}
	if (got < 0) {
		free(buf);
		free(enc);
		return mp_err_sys(e, EX_NOINPUT, "-A %s", path);
	}
	if (rc == 0 && have) {
		size_t used = mp_b64_encode_lines76(buf, have, enc, 0);
		size_t n = (used / 57) * 77;
		if (used < have) {
			n += mp_b64_encode(buf + used, have - used, enc + n, 0);
			enc[n++] = '\n';
		}
		rc = mp_write_full(out, enc, n);
	}
	free(buf);
	free(enc);
	return rc < 0 ? mp_err_sys(e, EX_TEMPFAIL, "spool") : 0;
}

/* a URI for List-Unsubscribe: printable ASCII without white space, '<',
 * '>' or ','; an address alone becomes a mailto: URI */
static int put_unsub(struct mp_buf *b, const char *u, int *https, struct mp_err *e)
{
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || strchr("<>,\"", *p))
			return mp_err_set(e, EX_USAGE,
			                  "--list-unsubscribe: '%.100s': a URI has no white space, "
			                  "quotes, '<', '>' or ','",
			                  u);
	if (strncasecmp(u, "https://", 8) == 0 && u[8])
		*https = 1;
	else if (!(strncasecmp(u, "mailto:", 7) == 0 && strchr(u, '@')) &&
	         (strchr(u, ':') || !strchr(u, '@')))
		return mp_err_set(
		    e, EX_USAGE,
		    "--list-unsubscribe: '%.100s': expected an https: or mailto: URI, "
		    "or an address",
		    u);
	mp_buf_printf(b, "<%s%s>", strchr(u, ':') ? "" : "mailto:", u);
	return 0;
}

/* List-Id: (RFC 2919), List-Unsubscribe: and List-Unsubscribe-Post:
 * (RFC 2369, 8058), Precedence:, each only when asked for */
static int put_list_fields(struct mp_buf *h, const struct compose *c, struct mp_err *e)
{
	if (c->list_id) {
		const char *lt = strchr(c->list_id, '<'), *id = lt ? lt + 1 : c->list_id;
		size_t n = lt ? strcspn(id, ">") : strlen(id);
		int ok = n > 0 && n <= 255 && (!lt || (id[n] == '>' && !id[n + 1])) &&
		         memchr(id, '.', n) && id[0] != '.' && id[n - 1] != '.';
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)id[i]) || strchr("!#$%&'*+-/=?^_`{|}~.", id[i]);
		if (!ok)
			return mp_err_set(e, EX_USAGE,
			                  "--list-id: '%.100s': expected [NAME] <LABEL.DOMAIN> or "
			                  "LABEL.DOMAIN (RFC 2919)",
			                  c->list_id);
		mp_buf_puts(h, "List-Id: ");
		size_t pn = lt ? (size_t)(lt - c->list_id) : 0;
		while (pn && is_wsp(c->list_id[pn - 1]))
			pn--;
		if (pn && (put_phrase(h, c->list_id, pn, e) < 0 || mp_buf_putc(h, ' ') < 0))
			return -1;
		mp_buf_printf(h, "<%.*s>\n", (int)n, id);
	}
	if (c->nunsub) {
		int https = 0;
		mp_buf_puts(h, "List-Unsubscribe: ");
		for (size_t i = 0; i < c->nunsub; i++) {
			if (i)
				mp_buf_puts(h, ",\n ");
			if (put_unsub(h, c->unsub[i], &https, e) < 0)
				return -1;
		}
		mp_buf_putc(h, '\n');
		if (https) /* one-click: a POST to the https URI (RFC 8058) */
			mp_buf_puts(h, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n");
	}
	if (c->precedence) {
		const char *p = c->precedence;
		if (!*p ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != strlen(p))
			return mp_err_set(
			    e, EX_USAGE,
			    "--precedence: '%.60s': expected a word (list, bulk, junk)", p);
		mp_buf_printf(h, "Precedence: %s\n", p);
	}
	return 0;
}

int compose(const struct compose *c, int in, int out, struct mp_err *e)
{
	struct mp_buf h = MP_BUF_INIT;
	struct textinfo t;
	char boundary[64];
	unsigned char rnd[12];
	int *afd = NULL, rc = -1;

	/* nothing that becomes a header may carry a line break */
	const char *single[] = {c->subject, c->from, c->from_name, c->reply_to};
	for (size_t i = 0; i < sizeof single / sizeof single[0]; i++)
		if (single[i] && has_crlf(single[i]))
			return mp_err_set(e, EX_USAGE,
			                  "a header value with CR or LF is refused: '%.60s'",
			                  single[i]);
	for (size_t i = 0; i < c->nto; i++)
		if (has_crlf(c->to[i]))
			return mp_err_set(e, EX_USAGE, "CR or LF in an address");
	for (size_t i = 0; i < c->ncc; i++)
		if (has_crlf(c->cc[i]))
			return mp_err_set(e, EX_USAGE, "CR or LF in an address");
	/* the attachments open before anything is sent */
	afd = mp_xmalloc((c->natt + 1) * sizeof *afd);
	for (size_t i = 0; i < c->natt; i++) {
		const char *base = strrchr(c->attach[i], '/');
		base = base ? base + 1 : c->attach[i];
		if (!*base || has_crlf(base)) {
			for (size_t k = 0; k < i; k++)
				close(afd[k]);
			free(afd);
			return mp_err_set(e, EX_USAGE, "-A %s: not a usable file name",
			                  c->attach[i]);
		}
		if ((afd[i] = open(c->attach[i], O_RDONLY | O_CLOEXEC)) < 0) {
			mp_err_sys(e, EX_NOINPUT, "-A %s", c->attach[i]);
			for (size_t k = 0; k < i; k++)
				close(afd[k]);
			free(afd);
			return -1;
		}
	}
	if (read_text(in, &t, e) < 0)
		goto out;

	if (c->from_name && *c->from_name) {
		mp_buf_puts(&h, "From: ");
		if (put_phrase(&h, c->from_name, strlen(c->from_name), e) < 0)
			goto out;
		mp_buf_printf(&h, " <%s>\n", c->from);
	} else {
		mp_buf_printf(&h, "From: %s\n", c->from);
	}
	if (put_list(&h, "To", c->to, c->nto, e) < 0 || put_list(&h, "Cc", c->cc, c->ncc, e) < 0)
		goto out;
	if (c->reply_to) {
		char *r = c->reply_to ? (char *)c->reply_to : NULL;
		if (put_list(&h, "Reply-To", &r, 1, e) < 0)
			goto out;
	}
	mp_buf_puts(&h, "Subject: ");
	/* ASCII folded; else (or a word too long for that) encoded-words */
	if ((!is_ascii(c->subject) || put_folded(&h, c->subject, 9) < 0) &&
	    mp_hdr_encode_words(c->subject, strlen(c->subject), 0, &h, e) < 0)
		goto out;
	mp_buf_putc(&h, '\n');
	if (put_list_fields(&h, c, e) < 0)
		goto out;
	mp_buf_puts(&h, "MIME-Version: 1.0\n");

	int qp = t.nonascii || t.nul || t.longline;
	const char *cs = !t.nonascii ? "us-ascii" : t.badutf8 ? "unknown-8bit" : "utf-8";
	if (t.badutf8)
		mp_warn("the text is not UTF-8: sent as charset unknown-8bit");
	if (c->natt) {
		(void)!getrandom(rnd, sizeof rnd, 0);
		int k = snprintf(boundary, sizeof boundary, "=_mailpipe_");
		for (size_t i = 0; i < sizeof rnd; i++)
			k += snprintf(boundary + k, sizeof boundary - (size_t)k, "%02x", rnd[i]);
		mp_buf_printf(&h,
		              "Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
		              "This is a message in MIME format.\n\n--%s\n",
		              boundary, boundary);
	}
	mp_buf_printf(&h, "Content-Type: text/plain; charset=%s\nContent-Transfer-Encoding: %s\n\n",
	              cs, qp ? "quoted-printable" : "7bit");
	if (mp_write_full(out, h.data, h.len) < 0 || copy_text(out, &t, qp, e) < 0) {
		if (!e->code)
			mp_err_sys(e, EX_TEMPFAIL, "spool");
		goto out;
	}
	for (size_t i = 0; i < c->natt; i++) {
		const char *base = strrchr(c->attach[i], '/');
		base = base ? base + 1 : c->attach[i];
		mp_buf_reset(&h);
		mp_buf_printf(&h, "\n--%s\nContent-Type: %s\nContent-Transfer-Encoding: base64\n",
		              boundary, content_type(base));
		mp_buf_puts(&h, "Content-Disposition: attachment");
		put_filename(&h, base);
		mp_buf_puts(&h, "\n\n");
		if (mp_write_full(out, h.data, h.len) < 0) {
			mp_err_sys(e, EX_TEMPFAIL, "spool");
			goto out;
		}
		if (copy_base64(out, c->attach[i], afd[i], e) < 0)
			goto out;
	}
	if (c->natt) {
		mp_buf_reset(&h);
		mp_buf_printf(&h, "\n--%s--\n", boundary);
		if (mp_write_full(out, h.data, h.len) < 0) {
			mp_err_sys(e, EX_TEMPFAIL, "spool");
			goto out;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < c->natt; i++)
		close(afd[i]);
	free(afd);
	if (t.fd > 0)
		close(t.fd);
	mp_buf_free(&h);
	return rc;
}
