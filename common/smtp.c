#include "smtp.h"

#include "codec.h"
#include "sasl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* " " and the base64 of resp, or "=" for an empty response (RFC 4954) */
static int b64_append(struct mp_buf *line, const struct mp_buf *resp)
{
	size_t n = mp_b64_enclen(resp->len, 0);

	if (line->len && mp_buf_putc(line, ' '))
		return -1;
	if (resp->len == 0)
		return mp_buf_putc(line, '=');
	if (mp_buf_reserve(line, n + 1))
		return -1;
	line->len += mp_b64_encode(resp->data, resp->len, line->data + line->len, 0);
	line->data[line->len] = '\0';
	return 0;
}

int mp_smtp_reply(struct mp_proto *p, struct mp_smtp_reply *r, struct mp_err *e)
{
	size_t used = 0;

	memset(r, 0, sizeof *r);
	for (;;) {
		char *line;
		size_t len;
		int rc = mp_proto_readline(p, &line, &len, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return mp_err_set(e, EX_TEMPFAIL, "the server closed the connection");
		if (len < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
		    (len > 3 && line[3] != ' ' && line[3] != '-'))
			return mp_err_set(e, EX_PROTOCOL, "not an SMTP reply: \"%.60s\"", line);
		int code = atoi(line);
		if (code < 200 || code > 599 || (r->lines && code != r->code))
			return mp_err_set(e, EX_PROTOCOL, "bad SMTP reply code in \"%.60s\"", line);
		r->code = code;
		if (++r->lines > 100)
			return mp_err_set(e, EX_PROTOCOL, "SMTP reply of more than 100 lines");
		const char *text = len > 4 ? line + 4 : "";
		size_t tl = strlen(text);
		if (used + tl + 2 < sizeof r->text) {
			if (used)
				r->text[used++] = '\n';
			memcpy(r->text + used, text, tl);
			used += tl;
			r->text[used] = '\0';
		}
		if (len == 3 || line[3] == ' ')
			return 0;
	}
}

int mp_smtp_cmd(struct mp_proto *p, const char *cmd, struct mp_smtp_reply *r, struct mp_err *e)
{
	if (mp_proto_send(p, cmd, NULL, e) < 0)
		return -1;
	return mp_smtp_reply(p, r, e);
}

static void parse_caps(const struct mp_smtp_reply *r, struct mp_smtp_caps *c)
{
	static const struct {
		const char *kw;
		unsigned bit;
	} known[] = {{"PIPELINING", MP_SMTP_PIPELINING},
	             {"SIZE", MP_SMTP_SIZE},
	             {"8BITMIME", MP_SMTP_8BITMIME},
	             {"SMTPUTF8", MP_SMTP_SMTPUTF8},
	             {"DSN", MP_SMTP_DSN},
	             {"STARTTLS", MP_SMTP_STARTTLS},
	             {"AUTH", MP_SMTP_AUTH},
	             {"CHUNKING", MP_SMTP_CHUNKING},
	             {"ENHANCEDSTATUSCODES", MP_SMTP_ENHANCED}};
	const char *line = r->text;

	memset(c, 0, sizeof *c);
	/* the first line is the greeting; the rest are extensions */
	line = strchr(line, '\n');
	while (line) {
		char kw[64];
		size_t n;
		line++;
		n = strcspn(line, " =\n");
		if (n && n < sizeof kw) {
			memcpy(kw, line, n);
			kw[n] = '\0';
			for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
				if (strcasecmp(kw, known[i].kw) == 0)
					c->bits |= known[i].bit;
			if (strlen(c->list) + n + 2 < sizeof c->list) {
				if (c->list[0])
					strcat(c->list, " ");
				strcat(c->list, kw);
			}
			if (strcasecmp(kw, "SIZE") == 0 && line[n] == ' ') {
				/* "SIZE" alone or nonsense: no limit known */
				long v = strtol(line + n + 1, NULL, 10);
				c->size = v > 0 && v < LONG_MAX ? v : 0;
			}
			if (strcasecmp(kw, "AUTH") == 0 && (line[n] == ' ' || line[n] == '=')) {
				size_t m = strcspn(line + n + 1, "\n");
				snprintf(c->auth, sizeof c->auth, "%.*s", (int)m, line + n + 1);
			}
		}
		line = strchr(line, '\n');
	}
}

int mp_smtp_xtext(const char *s, char *out, size_t n)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = c > ' ' && c < 0x7f && c != '+' && c != '=';
		if (o + (plain ? 1 : 3) >= n)
			return -1;
		if (plain)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, n - o, "+%02X", c);
	}
	if (!n)
		return -1;
	out[o] = '\0';
	return 0;
}

int mp_smtp_ehlo(struct mp_proto *p, const char *name, struct mp_smtp_caps *c,
                 struct mp_smtp_reply *r, struct mp_err *e)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "EHLO %s", name);
	if (mp_smtp_cmd(p, cmd, r, e) < 0)
		return -1;
	if (r->code / 100 != 2) {
		snprintf(cmd, sizeof cmd, "HELO %s", name);
		if (mp_smtp_cmd(p, cmd, r, e) < 0)
			return -1;
		if (r->code / 100 != 2)
			return mp_err_set(e, r->code / 100 == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE,
			                  "EHLO/HELO refused: %d %.100s", r->code, r->text);
		memset(c, 0, sizeof *c);
		return 0;
	}
	parse_caps(r, c);
	return 0;
}

int mp_smtp_starttls(struct mp_proto *p, const struct mp_tls_opts *o, const char *name,
                     struct mp_smtp_caps *c, struct mp_smtp_reply *r, struct mp_err *e)
{
	if (mp_smtp_cmd(p, "STARTTLS", r, e) < 0)
		return -1;
	if (r->code != 220)
		return mp_err_set(e, r->code / 100 == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE,
		                  "STARTTLS refused: %d %.100s", r->code, r->text);
	if (mp_proto_starttls(p, o, e) < 0)
		return -1;
	memset(c, 0, sizeof *c); /* nothing from before TLS is kept */
	return mp_smtp_ehlo(p, name, c, r, e);
}

/* RFC 4954 4: the AUTH command line may be 12288 octets long; a longer
 * initial response goes after an empty challenge instead */
#define AUTH_LINE_MAX 12288

int mp_smtp_auth(struct mp_proto *p, const struct mp_smtp_caps *c, const char *mech,
                 const char *user, const char *pass, struct mp_err *e)
{
	struct mp_buf resp = MP_BUF_INIT, line = MP_BUF_INIT;
	struct mp_smtp_reply r;
	struct mp_sasl sc;
	enum mp_sasl_mech m;
	int rc = -1, ir = 0;

	if (!(c->bits & MP_SMTP_AUTH))
		return mp_err_set(e, EX_UNAVAILABLE, "the server offers no AUTH");
	m = (!mech || strcasecmp(mech, "auto") == 0) ? mp_sasl_choose_best(c->auth)
	                                             : mp_sasl_parse(mech);
	if (m == MP_SASL_NONE)
		return mp_err_set(e, EX_CONFIG, "no usable AUTH mechanism (server offers: %s)",
		                  c->auth[0] ? c->auth : "none");
	mp_sasl_init(&sc, m, user, pass);
	if (m == MP_SASL_OAUTHBEARER) {
		/* RFC 7628 host and port: the address we are connected to */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		static char host[INET6_ADDRSTRLEN];
		if (getpeername(p->fd, (struct sockaddr *)&ss, &sl) == 0 &&
		    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
			const void *a =
			    ss.ss_family == AF_INET
			        ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
			        : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
			if (inet_ntop(ss.ss_family, a, host, sizeof host)) {
				sc.host = host;
				sc.port = ntohs(ss.ss_family == AF_INET
				                    ? ((struct sockaddr_in *)&ss)->sin_port
				                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
			}
		}
	}
	mp_buf_printf(&line, "AUTH %s", mp_sasl_name(m));
	if (mp_sasl_initial(m)) {
		if (mp_sasl_next(&sc, NULL, 0, &resp, e) < 0)
			goto out;
		if (strlen(line.data) + 1 + mp_b64_enclen(resp.len, 0) <= AUTH_LINE_MAX) {
			if (b64_append(&line, &resp) < 0)
				goto nomem;
			ir = 1;
		}
	}
	{
		/* the initial response carries the password: the trace shows
		 * "AUTH PLAIN ***" */
		char shown[64];
		snprintf(shown, sizeof shown, "AUTH %s", mp_sasl_name(m));
		if (mp_proto_send(p, line.data, ir ? shown : NULL, e) < 0)
			goto out;
	}
	for (int rounds = 0;; rounds++) {
		if (mp_smtp_reply(p, &r, e) < 0)
			goto out;
		if (r.code != 334)
			break;
		if (rounds >= 4) {
			mp_proto_send(p, "*", NULL, e);
			mp_err_set(e, EX_PROTOCOL, "AUTH %s: too many challenges", mp_sasl_name(m));
			goto out;
		}
		if (mp_sasl_initial(m) && !ir) {
			/* the initial response that did not fit on the AUTH line */
			ir = 1;
		} else {
			/* a challenge: decode, answer */
			struct mp_b64dec d;
			size_t n1 = 0, n2 = 0, tl = strlen(r.text);
			char *ch = malloc(mp_b64dec_maxout(tl) + 8);
			if (!ch)
				goto nomem;
			mp_b64dec_init(&d, MP_B64_NOPAD);
			if (mp_b64dec_update(&d, r.text, tl, ch, &n1, NULL) < 0 ||
			    mp_b64dec_final(&d, ch + n1, &n2, NULL) < 0) {
				free(ch);
				mp_proto_send(p, "*", NULL, e); /* cancel (RFC 4954) */
				mp_err_set(e, EX_PROTOCOL, "AUTH: the challenge is not base64");
				goto out;
			}
			int s = mp_sasl_next(&sc, ch, n1 + n2, &resp, e);
			free(ch);
			if (s < 0) {
				struct mp_err ce;
				mp_err_clear(&ce);
				mp_proto_send(p, "*", NULL, &ce);
				goto out;
			}
		}
		/* an empty response is an empty line */
		mp_buf_reset(&line);
		if (resp.len && b64_append(&line, &resp) < 0)
			goto nomem;
		if (mp_proto_send(p, line.data ? line.data : "", "", e) < 0)
			goto out;
	}
	if (r.code == 235) {
		rc = mp_sasl_done(&sc, e);
	} else if (r.code / 100 == 4) {
		mp_err_set(e, EX_TEMPFAIL, "AUTH %s: %d %.200s", mp_sasl_name(m), r.code, r.text);
	} else {
		mp_err_set(e, EX_NOPERM, "AUTH %s refused: %d %.200s%s%s", mp_sasl_name(m), r.code,
		           r.text, sc.server_err[0] ? " " : "", sc.server_err);
	}
	goto out;
nomem:
	mp_err_sys(e, EX_TEMPFAIL, "AUTH");
out:
	mp_sasl_free(&sc);
	mp_buf_free(&resp);
	mp_buf_free(&line);
	return rc;
}
