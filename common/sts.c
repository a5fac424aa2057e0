#include "sts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "tls.h"

#define HEAD_MAX 8192 /* status line and header fields of the answer */

static int is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* ---------------------------------------------------------------- TXT record */

/* RFC 8461 3.1: "v=STSv1; id=ID" with fields split by ';' and optional
 * spaces; unknown fields are ignored */
int mp_sts_txt(const char *txt, size_t len, char *id, size_t idsz, struct mp_err *e)
{
	size_t i = 0;
	int first = 1;

	id[0] = '\0';
	if (len < 7 || strncmp(txt, "v=STSv1", 7) != 0 ||
	    (len > 7 && txt[7] != ';' && !is_wsp((unsigned char)txt[7])))
		return 0;
	while (i < len) {
		size_t start, klen, vstart, vlen;
		while (i < len && is_wsp((unsigned char)txt[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && txt[i] != '=' && txt[i] != ';')
			i++;
		if (i == len || txt[i] != '=')
			return mp_err_set(e, EX_DATAERR, "MTA-STS record: a field without '='");
		klen = i - start;
		vstart = ++i;
		while (i < len && txt[i] != ';')
			i++;
		vlen = i - vstart;
		while (vlen && is_wsp((unsigned char)txt[vstart + vlen - 1]))
			vlen--;
		if (i < len)
			i++; /* the ';' */
		if (first) { /* v=STSv1, checked above */
			first = 0;
			continue;
		}
		if (klen != 2 || strncmp(txt + start, "id", 2) != 0)
			continue;
		if (id[0])
			return mp_err_set(e, EX_DATAERR, "MTA-STS record: id given twice");
		if (vlen == 0 || vlen > MP_STS_IDMAX || vlen >= idsz)
			return mp_err_set(e, EX_DATAERR,
			                  "MTA-STS record: id must be 1 to %d characters",
			                  MP_STS_IDMAX);
		for (size_t k = 0; k < vlen; k++)
			if (!isalnum((unsigned char)txt[vstart + k]))
				return mp_err_set(e, EX_DATAERR,
				                  "MTA-STS record: id must be letters and digits");
		memcpy(id, txt + vstart, vlen);
		id[vlen] = '\0';
	}
	if (!id[0])
		return mp_err_set(e, EX_DATAERR, "MTA-STS record: no id");
	return 1;
}

/* ---------------------------------------------------------------- the policy */

const char *mp_sts_mode_name(enum mp_sts_mode m)
{
	return m == MP_STS_ENFORCE ? "enforce" : m == MP_STS_TESTING ? "testing" : "none";
}

/* ["*."] followed by a host name: LDH labels */
static int mx_pattern_ok(const char *v, size_t len)
{
	char name[256];

	if (len >= 2 && v[0] == '*' && v[1] == '.')
		v += 2, len -= 2;
	if (len == 0 || len >= sizeof name)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '.' && v[i] != '_')
			return 0;
	memcpy(name, v, len);
	name[len] = '\0';
	return name[len - 1] != '.' && mp_dns_hostname_ok(name);
}

static int field_is(const char *k, size_t kl, const char *want)
{
	return kl == strlen(want) && memcmp(k, want, kl) == 0;
}

static int value_is(const char *v, size_t vl, const char *want)
{
	return field_is(v, vl, want);
}

/* RFC 8461 3.2: lines of "key: value", CRLF or LF; the value runs to the
 * line end less trailing white space */
int mp_sts_parse(const char *buf, size_t len, struct mp_sts_policy *p, struct mp_err *e)
{
	int have_version = 0, have_mode = 0, have_age = 0;
	long line = 0;
	size_t i = 0;

	memset(p, 0, sizeof *p);
	if (len > MP_STS_MAX)
		return mp_err_set(e, EX_DATAERR, "MTA-STS policy: larger than %d KiB",
		                  MP_STS_MAX / 1024);
	while (i < len) {
		size_t end = i, next, kl, vs, vl;
		const char *k = buf + i;
		line++;
		while (end < len && buf[end] != '\n')
			end++;
		next = end < len ? end + 1 : end;
		if (end > i && buf[end - 1] == '\r')
			end--;
		if (end == i) { /* a blank line, as at the end */
			i = next;
			continue;
		}
		for (size_t c = i; c < end; c++)
			if ((unsigned char)buf[c] < ' ' && buf[c] != '\t')
				goto bad;
		kl = 0;
		while (i + kl < end && buf[i + kl] != ':')
			kl++;
		if (i + kl == end || kl == 0 || kl > 32 || !isalnum((unsigned char)k[0]))
			goto bad;
		for (size_t c = 0; c < kl; c++)
			if (!isalnum((unsigned char)k[c]) && k[c] != '_' && k[c] != '-' &&
			    k[c] != '.')
				goto bad;
		vs = i + kl + 1;
		while (vs < end && is_wsp((unsigned char)buf[vs]))
			vs++;
		vl = end - vs;
		while (vl && is_wsp((unsigned char)buf[vs + vl - 1]))
			vl--;
		const char *v = buf + vs;
		if (field_is(k, kl, "version")) {
			if (have_version++ || !value_is(v, vl, "STSv1"))
				goto bad;
		} else if (field_is(k, kl, "mode")) {
			if (have_mode++)
				goto bad;
			if (value_is(v, vl, "enforce"))
				p->mode = MP_STS_ENFORCE;
			else if (value_is(v, vl, "testing"))
				p->mode = MP_STS_TESTING;
			else if (value_is(v, vl, "none"))
				p->mode = MP_STS_NONE;
			else
				goto bad;
		} else if (field_is(k, kl, "max_age")) {
			long age = 0;
			if (have_age++ || vl == 0 || vl > 10)
				goto bad;
			for (size_t c = 0; c < vl; c++) {
				if (!isdigit((unsigned char)v[c]))
					goto bad;
				age = age * 10 + (v[c] - '0');
			}
			p->max_age = age > MP_STS_MAXAGE ? MP_STS_MAXAGE : age;
		} else if (field_is(k, kl, "mx")) {
			if (!mx_pattern_ok(v, vl))
				goto bad;
			if (p->nmx == MP_STS_MAXMX)
				return mp_err_set(e, EX_DATAERR,
				                  "MTA-STS policy: more than %d mx lines",
				                  MP_STS_MAXMX);
			memcpy(p->mx[p->nmx], v, vl);
			p->mx[p->nmx++][vl] = '\0';
		} else if (vl == 0) {
			goto bad; /* an extension needs a value */
		}
		i = next;
	}
	if (!have_version || !have_mode || !have_age)
		return mp_err_set(e, EX_DATAERR, "MTA-STS policy: %s missing",
		                  !have_version ? "version"
		                  : !have_mode  ? "mode"
		                                : "max_age");
	if (p->mode != MP_STS_NONE && p->nmx == 0)
		return mp_err_set(e, EX_DATAERR, "MTA-STS policy: mode %s and no mx",
		                  mp_sts_mode_name(p->mode));
	return 0;
bad:
	mp_err_set(e, EX_DATAERR, "MTA-STS policy: line %ld is malformed", line);
	if (e)
		e->line = line;
	return -1;
}

/* RFC 8461 4.1: "*.example.com" matches exactly one label more */
int mp_sts_mx_match(const struct mp_sts_policy *p, const char *host)
{
	size_t hl = strlen(host);

	if (hl && host[hl - 1] == '.')
		hl--;
	for (int i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];
		if (pat[0] == '*' && pat[1] == '.') {
			const char *dot = memchr(host, '.', hl);
			if (!dot || dot == host)
				continue;
			size_t rest = hl - (size_t)(dot + 1 - host);
			if (strlen(pat + 2) == rest && strncasecmp(dot + 1, pat + 2, rest) == 0)
				return 1;
		} else if (strlen(pat) == hl && strncasecmp(pat, host, hl) == 0) {
			return 1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- HTTPS */

/* the value of header field name in head (NUL-terminated), or NULL */
static const char *header(const char *head, const char *name, size_t *vl)
{
	size_t nl = strlen(name);

	for (const char *l = strchr(head, '\n'); l; l = strchr(l, '\n')) {
		l++;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (is_wsp((unsigned char)*v))
				v++;
			size_t n = strcspn(v, "\r\n");
			while (n && is_wsp((unsigned char)v[n - 1]))
				n--;
			*vl = n;
			return v;
		}
	}
	return NULL;
}

/* the answer: head up to the blank line, then the body (Content-Length,
 * else until the server closes) */
static int read_answer(struct mp_tls *t, const char *host, struct mp_sts_fetch *f,
                       struct mp_buf *body, struct mp_err *e)
{
	char head[HEAD_MAX + 1];
	size_t hl = 0, bodystart = 0;
	char *eoh = NULL;

	while (!eoh) {
		if (hl == HEAD_MAX)
			return mp_err_set(e, EX_TEMPFAIL, "%s: HTTP header over %d bytes", host,
			                  HEAD_MAX);
		ssize_t r = mp_tls_read(t, head + hl, HEAD_MAX - hl, e);
		if (r < 0)
			return -1;
		if (r == 0)
			return mp_err_set(e, EX_TEMPFAIL,
			                  "%s: the connection closed in the HTTP header", host);
		hl += (size_t)r;
		head[hl] = '\0';
		if (memchr(head, '\0', hl))
			return mp_err_set(e, EX_TEMPFAIL, "%s: a NUL byte in the HTTP header",
			                  host);
		if ((eoh = strstr(head, "\r\n\r\n")))
			bodystart = (size_t)(eoh - head) + 4;
		else if ((eoh = strstr(head, "\n\n")))
			bodystart = (size_t)(eoh - head) + 2;
	}
	*eoh = '\0';
	int status = 0, minor = 0;
	char sp = 0;
	if (sscanf(head, "HTTP/1.%1d %3d%c", &minor, &status, &sp) < 2 || status < 100 ||
	    (sp && sp != ' ' && sp != '\r' && sp != '\n'))
		return mp_err_set(e, EX_TEMPFAIL, "%s: not an HTTP answer", host);
	f->status = status;
	if (status >= 300 && status < 400)
		return mp_err_set(e, EX_TEMPFAIL,
		                  "%s: HTTP %d: a redirect, which RFC 8461 3.3 forbids", host,
		                  status);
	if (status != 200)
		return mp_err_set(e, EX_TEMPFAIL, "%s: HTTP %d", host, status);
	size_t vl;
	const char *v = header(head, "Content-Type", &vl);
	f->text_plain = v && vl >= 10 && strncasecmp(v, "text/plain", 10) == 0 &&
	                (vl == 10 || v[10] == ';' || is_wsp((unsigned char)v[10]));
	if ((v = header(head, "Transfer-Encoding", &vl)) &&
	    !(vl == 8 && !strncasecmp(v, "identity", 8)))
		return mp_err_set(e, EX_TEMPFAIL,
		                  "%s: a transfer encoding (%.*s) in answer to HTTP/1.0", host,
		                  (int)(vl > 40 ? 40 : vl), v);
	long long clen = -1;
	if ((v = header(head, "Content-Length", &vl))) {
		clen = 0;
		if (vl == 0 || vl > 9)
			return mp_err_set(e, EX_TEMPFAIL, "%s: a bad Content-Length", host);
		for (size_t i = 0; i < vl; i++) {
			if (!isdigit((unsigned char)v[i]))
				return mp_err_set(e, EX_TEMPFAIL, "%s: a bad Content-Length", host);
			clen = clen * 10 + (v[i] - '0');
		}
		if (clen > MP_STS_MAX)
			return mp_err_set(e, EX_TEMPFAIL, "%s: the policy is larger than %d KiB",
			                  host, MP_STS_MAX / 1024);
	}
	mp_buf_reset(body);
	if (mp_buf_append(body, head + bodystart, hl - bodystart) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "policy");
	for (;;) {
		char chunk[4096];
		if (body->len > MP_STS_MAX || (clen >= 0 && (long long)body->len > clen))
			return mp_err_set(e, EX_TEMPFAIL, "%s: the policy is larger than %s", host,
			                  clen >= 0 ? "its Content-Length" : "64 KiB");
		if (clen >= 0 && (long long)body->len == clen)
			return 0;
		ssize_t r = mp_tls_read(t, chunk, sizeof chunk, e);
		if (r == 0 || (r < 0 && clen < 0 && body->len > 0)) {
			/* the end of a body without a length is the close */
			if (clen >= 0)
				return mp_err_set(e, EX_TEMPFAIL,
				                  "%s: the policy ends before its "
				                  "Content-Length",
				                  host);
			return 0;
		}
		if (r < 0)
			return -1;
		if (mp_buf_append(body, chunk, (size_t)r) < 0)
			return mp_err_sys(e, EX_TEMPFAIL, "policy");
	}
}

int mp_sts_get(int fd, const char *domain, struct mp_sts_fetch *f, struct mp_buf *body,
               struct mp_err *e)
{
	struct mp_tls_opts to = {0};
	struct mp_tls t;
	char host[300], req[512];
	size_t dl = strlen(domain);
	int rc;

	f->status = 0;
	f->text_plain = 0;
	if (dl && domain[dl - 1] == '.')
		dl--;
	if (dl == 0 || dl > 253)
		return mp_err_set(e, EX_DATAERR, "MTA-STS: a bad domain");
	snprintf(host, sizeof host, "mta-sts.%.*s", (int)dl, domain);
	to.ca_file = f->ca_file;
	to.verify_name = host;
	to.timeout_ms = f->timeout_ms;
	if (mp_tls_connect(&t, fd, &to, e) < 0) {
		char m[sizeof e->msg];
		snprintf(m, sizeof m, "%s", e->msg);
		return mp_err_set(e, e->code, "%s: %s", host, m);
	}
	/* HTTP/1.0: the answer has a length or ends with the connection,
	 * never chunks */
	int n = snprintf(req, sizeof req,
	                 "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: %s\r\n"
	                 "User-Agent: mailpipe/" MP_VERSION "\r\nAccept: text/plain\r\n\r\n",
	                 host);
	rc = mp_tls_write(&t, req, (size_t)n, e);
	if (rc == 0)
		rc = read_answer(&t, host, f, body, e);
	mp_tls_close(&t);
	return rc;
}
