/* mfetch: the IMAP4rev1 dialogue (RFC 3501): tagged commands and their
 * untagged answers, capabilities, STARTTLS and login (AUTHENTICATE or
 * LOGIN), UID sets, literals, IDLE (RFC 2177). What to fetch is imap.c's
 * (the folders imapfolders.c's), the state imapstate.c's. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapio.h"
#include "io.h"
#include "sasl.h"
#include "session.h"

/* "* N EXISTS": the mailbox grew (or its size was announced) */
int imap_is_exists(const char *l)
{
	const char *p = l + 2;

	if (l[0] != '*' || l[1] != ' ' || !isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return strcasecmp(p, " EXISTS") == 0;
}

int imap_has_cap(const struct imap *s, const char *cap)
{
	size_t n = strlen(cap);

	for (const char *w = s->caps; *w;) {
		while (*w == ' ')
			w++;
		size_t k = strcspn(w, " ");
		if (k == n && strncasecmp(w, cap, n) == 0)
			return 1;
		w += k;
	}
	return 0;
}

/* Keep the capability list of "* CAPABILITY ..." or of a status reply's
 * "[CAPABILITY ...]" code (the greeting, a tagged OK); any other line,
 * "a1 OK CAPABILITY completed" among them, leaves it as it was. Each list
 * replaces the one before: the last one counts (RFC 9051 7.2.2). */
static void take_caps(struct imap *s, const char *line)
{
	const char *c = NULL;
	size_t n;

	if (strncasecmp(line, "* CAPABILITY ", 13) == 0) {
		c = line + 13;
		n = strlen(c);
	} else {
		const char *st = strchr(line, ' '); /* after "*" or the tag */
		if (!st)
			return;
		st++;
		if (strncasecmp(st, "OK [CAPABILITY ", 15) == 0)
			c = st + 15;
		else if (strncasecmp(st, "PREAUTH [CAPABILITY ", 20) == 0)
			c = st + 20;
		else
			return;
		n = strcspn(c, "]");
	}
	snprintf(s->caps, sizeof s->caps, "%.*s", (int)n, c);
	s->caps_seen = 1;
}

/* send "TAG cmd" (shown instead in the trace when given), read to the
 * tagged reply; untagged lines go to cb. 0 OK, 1 NO/BAD, -1 error */
int imap_command(struct imap *s, const char *cmd, const char *shown, untagged_fn cb, void *ctx,
                 struct mp_err *e)
{
	char line[MP_PROTO_LINE + 32], tag[16];

	snprintf(tag, sizeof tag, "a%u", ++s->tag);
	snprintf(line, sizeof line, "%s %s", tag, cmd);
	char sh[300];
	if (shown)
		snprintf(sh, sizeof sh, "%s %s", tag, shown);
	if (mp_proto_send(&s->p, line, shown ? sh : NULL, e) < 0)
		return -1;
	for (;;) {
		char *l;
		size_t len;
		int more = 0;
		int r = mp_proto_readpart(&s->p, &l, &len, &more, e);
		if (r <= 0)
			return r < 0
			           ? -1
			           : mp_err_set(e, EX_TEMPFAIL, "the server closed the connection");
		if (more) {
			/* only a SEARCH reply may be longer than a line: its UIDs come
			 * to cb in pieces, each but the first marked continued */
			if (strncasecmp(l, "* SEARCH ", 9) != 0)
				return mp_err_set(e, EX_PROTOCOL,
				                  "server line longer than %d bytes",
				                  MP_PROTO_LINE);
			for (s->continued = 0;; s->continued = 1) {
				if (cb && cb(s, l, len, ctx, e) < 0)
					return -1;
				if (!more)
					break;
				if ((r = mp_proto_readpart(&s->p, &l, &len, &more, e)) <= 0)
					return r < 0
					           ? -1
					           : mp_err_set(e, EX_TEMPFAIL,
					                        "the server closed the connection");
			}
			s->continued = 0;
			continue;
		}
		if (strncmp(l, tag, strlen(tag)) == 0 && l[strlen(tag)] == ' ') {
			const char *st = l + strlen(tag) + 1;
			snprintf(s->last, sizeof s->last, "%s", st);
			take_caps(s, l);
			return strncasecmp(st, "OK", 2) == 0 ? 0 : 1;
		}
		if (l[0] == '*') {
			take_caps(s, l);
			if (imap_is_exists(l))
				s->new_mail = 1;
			if (cb && cb(s, l, len, ctx, e) < 0)
				return -1;
		}
		/* "+" continuations are answered by the callers that expect them */
	}
}

void imap_quote(char *out, size_t n, const char *s)
{
	size_t o = 0;

	out[o++] = '"';
	for (; *s && o + 3 < n; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
}

static int authenticate(struct imap *s, struct fopts *o, const char *pass, struct mp_err *e)
{
	enum mp_sasl_mech m = MP_SASL_NONE;
	char cmd[1000], u[300], pw[600];

	if (o->auth && strcasecmp(o->auth, "auto") != 0 && strcasecmp(o->auth, "login") != 0)
		m = mp_sasl_parse(o->auth);
	else if (!o->auth || strcasecmp(o->auth, "auto") == 0) {
		/* the strongest the server offers, however long its list:
		 * SCRAM-SHA-256, CRAM-MD5, PLAIN, LOGIN; else the LOGIN command */
		static const char *const pref[] = {"SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN"};
		for (size_t i = 0; i < sizeof pref / sizeof pref[0] && m == MP_SASL_NONE; i++) {
			char cap[32];
			snprintf(cap, sizeof cap, "AUTH=%s", pref[i]);
			if (imap_has_cap(s, cap))
				m = mp_sasl_parse(pref[i]);
		}
	}
	if (m == MP_SASL_NONE || m == MP_SASL_LOGIN) {
		/* LOGIN, the IMAP command */
		if (imap_has_cap(s, "LOGINDISABLED"))
			return mp_err_set(e, EX_NOPERM,
			                  "the server disables LOGIN and offers no usable AUTH");
		imap_quote(u, sizeof u, o->user);
		imap_quote(pw, sizeof pw, pass);
		snprintf(cmd, sizeof cmd, "LOGIN %s %s", u, pw);
		char shown[400];
		snprintf(shown, sizeof shown, "LOGIN %s", u);
		int r = imap_command(s, cmd, shown, NULL, NULL, e);
		if (r < 0)
			return -1;
		if (r)
			return mp_err_set(e, EX_NOPERM, "LOGIN refused: %.200s", s->last);
		return 0;
	}
	/* AUTHENTICATE, each challenge answered in turn */
	struct mp_buf resp = MP_BUF_INIT;
	struct mp_sasl c;
	char tag[16];
	int rc = -1;
	mp_sasl_init(&c, m, o->user, pass);
	snprintf(tag, sizeof tag, "a%u", ++s->tag);
	snprintf(cmd, sizeof cmd, "%s AUTHENTICATE %s", tag, mp_sasl_name(m));
	if (mp_sasl_initial(m) && imap_has_cap(s, "SASL-IR")) {
		/* RFC 4959: the initial response on the command line, a round
		 * trip saved */
		struct mp_buf line = MP_BUF_INIT;
		char shown[200];
		if (sasl_respond(&c, "", &resp, e) < 0)
			goto out;
		mp_buf_printf(&line, "%s %s", cmd, resp.len ? resp.data : "=");
		snprintf(shown, sizeof shown, "%.180s ***", cmd);
		int sr = mp_proto_send(&s->p, line.data, shown, e);
		memset(line.data, 0, line.len);
		mp_buf_free(&line);
		if (sr < 0)
			goto out;
	} else if (mp_proto_send(&s->p, cmd, NULL, e) < 0) {
		goto out;
	}
	for (int round = 0;; round++) {
		char *l;
		size_t len;
		if (need_line(&s->p, &l, &len, e) <= 0)
			goto out;
		if (l[0] == '+') {
			if (round > 8 ||
			    sasl_respond(&c, l[1] == ' ' ? l + 2 : l + 1, &resp, e) < 0) {
				if (round > 8)
					mp_err_set(e, EX_PROTOCOL,
					           "AUTHENTICATE: too many challenges");
				struct mp_err ign;
				mp_proto_send(&s->p, "*", NULL, &ign); /* cancel (RFC 3501 6.2.2) */
				goto out;
			}
			if (mp_proto_send(&s->p, resp.data ? resp.data : "", "", e) < 0)
				goto out;
			continue;
		}
		if (strncmp(l, tag, strlen(tag)) == 0) {
			if (strncasecmp(l + strlen(tag) + 1, "OK", 2) == 0)
				rc = mp_sasl_done(&c, e);
			else
				mp_err_set(e, EX_NOPERM, "AUTHENTICATE %s refused: %.200s",
				           mp_sasl_name(m), l + strlen(tag) + 1);
			take_caps(s, l);
			goto out;
		}
	}
out:
	mp_sasl_free(&c);
	mp_buf_free(&resp);
	return rc;
}
/* one IMAP string (quoted or atom) from *pp into out; 0 or -1 */
int imap_string(const char **pp, char *out, size_t n)
{
	const char *p = *pp;
	size_t o = 0;

	while (*p == ' ')
		p++;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (o + 1 < n)
				out[o++] = *p;
		}
		if (*p != '"')
			return -1;
		p++;
	} else {
		while (*p && *p != ' ' && o + 1 < n)
			out[o++] = *p++;
		if (!o)
			return -1;
	}
	out[o] = '\0';
	*pp = p;
	return 0;
}

/* The UIDs u[i...] (ascending) as an IMAP set, "1:4,9", appended to cmd
 * until it is max bytes long: the index of the first one left out. */
size_t imap_uid_set(struct mp_buf *cmd, const unsigned long *u, size_t n, size_t i, size_t max)
{
	for (int first = 1; i < n && cmd->len < max; first = 0) {
		size_t j = i;
		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		mp_buf_printf(cmd, first ? "%lu" : ",%lu", u[i]);
		if (j > i)
			mp_buf_printf(cmd, ":%lu", u[j]);
		i = j + 1;
	}
	return i;
}

/* A line that ends in an IMAP literal, "... {N}": N, checked; -1 when it
 * ends otherwise, -2 when N is not a number or over LITERAL_MAX. */
long long imap_literal_at_end(const char *l, size_t len)
{
	size_t i;
	long long n = 0;

	if (len < 3 || l[len - 1] != '}')
		return -1;
	for (i = len - 1; i > 0 && isdigit((unsigned char)l[i - 1]); i--)
		;
	if (i == 0 || l[i - 1] != '{') {
		/* "{-5}", "{5+}", "{ 5}": a literal, malformed, when all
		 * between the braces is digits, signs and blanks */
		size_t j = len - 1;
		while (j > 0 && strchr("0123456789+- ", l[j - 1]))
			j--;
		return j > 0 && l[j - 1] == '{' && j < len - 1 ? -2 : -1;
	}
	if (i == len - 1 || len - 1 - i > 12)
		return -2;
	for (; i < len - 1; i++)
		n = n * 10 + (l[i] - '0');
	return n > LITERAL_MAX ? -2 : n;
}

/* "UID n" among the items of a FETCH response piece: n, or 0 */
unsigned long imap_uid_item(const char *l)
{
	for (const char *p = l; (p = strcasestr(p, "UID ")); p += 4)
		if ((p == l || p[-1] == ' ' || p[-1] == '(') && isdigit((unsigned char)p[4])) {
			char *end;
			errno = 0;
			unsigned long v = strtoul(p + 4, &end, 10);
			return errno || (*end && *end != ' ' && *end != ')') ? 0 : v;
		}
	return 0;
}

/* n bytes of literal into fd (or nowhere with fd -1), the wire's CRLF
 * made the LF of mail on disk; 0 or -1 */
int imap_take_literal(struct imap *s, long long n, int fd, struct mp_err *e)
{
	char buf[32768], out[32770];
	int cr = 0;

	for (long long left = n; left > 0;) {
		size_t k = left > (long long)sizeof buf ? sizeof buf : (size_t)left, w = 0;
		if (mp_proto_read(&s->p, buf, k, e) < 0)
			return -1;
		left -= (long long)k;
		if (fd < 0)
			continue;
		for (size_t i = 0; i < k; i++) {
			if (cr && buf[i] != '\n')
				out[w++] = '\r'; /* a CR alone stays */
			cr = buf[i] == '\r';
			if (!cr)
				out[w++] = buf[i];
		}
		if (cr && left == 0)
			out[w++] = '\r';
		if (mp_write_full(fd, out, w) < 0)
			return mp_err_sys(e, EX_TEMPFAIL, "spool");
	}
	return 0;
}

/* A command over a set of UIDs ("PRE 1:4,9 POST"), sent in pieces that
 * keep each line short; u sorted. 0, 1 refused (s->last says why), or
 * -1. */
int imap_uid_command(struct imap *s, const char *pre, const unsigned long *u, size_t n,
                     const char *post, untagged_fn cb, void *ctx, struct mp_err *e)
{
	struct mp_buf cmd = MP_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0;) {
		mp_buf_reset(&cmd);
		mp_buf_printf(&cmd, "%s ", pre);
		i = imap_uid_set(&cmd, u, n, i, 2000);
		if (post)
			mp_buf_printf(&cmd, " %s", post);
		rc = imap_command(s, cmd.data, NULL, cb, ctx, e);
	}
	mp_buf_free(&cmd);
	return rc;
}

int imap_open(struct imap *s, struct fopts *o, struct mp_err *e)
{
	char *pass = NULL, *l;
	size_t len;
	int rc = -1;

	memset(s, 0, sizeof *s);
	if (connect_session(o, &s->p, e) < 0)
		return -1;
	if (need_line(&s->p, &l, &len, e) <= 0 || strncmp(l, "* ", 2) != 0) {
		if (!e->code && (strncmp(l, "+OK", 3) == 0 || strncmp(l, "-ERR", 4) == 0))
			mp_err_set(e, EX_PROTOCOL,
			           "no IMAP greeting: \"%.60s\" sounds like POP3 (--pop3, or "
			           "'protocol pop3' in an account)",
			           l);
		else if (!e->code)
			mp_err_set(e, EX_PROTOCOL, "no IMAP greeting");
		goto out;
	}
	take_caps(s, l);
	if (strncasecmp(l, "* BYE", 5) == 0) {
		mp_err_set(e, EX_TEMPFAIL, "the server says: %.200s", l);
		goto out;
	}
	if (!s->caps[0] && imap_command(s, "CAPABILITY", NULL, NULL, NULL, e) < 0)
		goto out;
	if (!s->p.tls_on && o->starttls) {
		if (!imap_has_cap(s, "STARTTLS")) {
			mp_err_set(e, EX_UNAVAILABLE, "the server does not offer STARTTLS");
			goto out;
		}
		if (imap_command(s, "STARTTLS", NULL, NULL, NULL, e) != 0) {
			if (!e->code)
				mp_err_set(e, EX_UNAVAILABLE, "STARTTLS refused: %.200s", s->last);
			goto out;
		}
		struct mp_tls_opts to = {.ca_file = o->ca_file,
		                         .verify_name = o->server,
		                         .fingerprint = o->fingerprint,
		                         .timeout_ms = o->timeout_ms};
		if (mp_proto_starttls(&s->p, &to, e) < 0)
			goto out;
		s->caps[0] = '\0'; /* nothing from before TLS is kept */
		if (imap_command(s, "CAPABILITY", NULL, NULL, NULL, e) < 0)
			goto out;
	}
	if (!s->p.tls_on)
		mp_warn("warning: no TLS: the password goes in clear");
	if (!(pass = password(o, e)))
		goto out;
	s->caps_seen = 0;
	if (authenticate(s, o, pass, e) < 0)
		goto out;
	/* the capabilities change with the login (IDLE, UIDPLUS, MOVE may
	 * show only now): ask, unless the login's reply brought them */
	if (!s->caps_seen && imap_command(s, "CAPABILITY", NULL, NULL, NULL, e) < 0)
		goto out;
	rc = 0;
out:
	if (pass) {
		memset(pass, 0, strlen(pass));
		free(pass);
	}
	if (rc < 0)
		mp_proto_close(&s->p);
	return rc;
}

void imap_close(struct imap *s)
{
	struct mp_err e2;

	mp_err_clear(&e2);
	imap_command(s, "LOGOUT", NULL, NULL, NULL, &e2);
	mp_proto_close(&s->p);
}

/* IDLE (RFC 2177) until new mail, the refresh period or a stop; then
 * DONE. The connection stays usable. A wake, or -1. */
int imap_idle(struct imap *s, struct fopts *o, struct mp_err *e)
{
	char cmd[32], tag[16];
	double until = mp_net_now_ms() + (double)o->idle_refresh_s * 1000;
	int why = -1, idling = 0;
	char *l;
	size_t len;

	snprintf(tag, sizeof tag, "a%u", ++s->tag);
	snprintf(cmd, sizeof cmd, "%s IDLE", tag);
	if (mp_proto_send(&s->p, cmd, NULL, e) < 0)
		return -1;
	while (why < 0) {
		int r = 1;
		if (idling) {
			double left = until - mp_net_now_ms();
			r = left <= 0 ? 0 : mp_proto_wait(&s->p, o->stop_fd, (int)left + 1, e);
		}
		if (r < 0)
			return -1;
		if (r == 0) {
			why = WAKE_REFRESH;
			break;
		}
		if (r == 2) {
			if (!stopping(o))
				continue;
			why = WAKE_STOP;
			break;
		}
		if (need_line(&s->p, &l, &len, e) <= 0)
			return -1;
		if (l[0] == '+') {
			idling = 1;
		} else if (strncmp(l, tag, strlen(tag)) == 0 && l[strlen(tag)] == ' ') {
			/* the server ended (or refused) IDLE itself: fetch, then again */
			if (strncasecmp(l + strlen(tag) + 1, "OK", 2) != 0)
				return mp_err_set(e, EX_TEMPFAIL, "IDLE: %.200s",
				                  l + strlen(tag) + 1);
			return WAKE_NEW;
		} else if (strncasecmp(l, "* BYE", 5) == 0) {
			return mp_err_set(e, EX_TEMPFAIL, "the server says: %.200s", l);
		} else if (imap_is_exists(l)) {
			why = WAKE_NEW;
		}
	}
	if (mp_proto_send(&s->p, "DONE", NULL, e) < 0)
		return -1;
	for (;;) {
		if (need_line(&s->p, &l, &len, e) <= 0)
			return -1;
		if (strncmp(l, tag, strlen(tag)) == 0 && l[strlen(tag)] == ' ')
			break;
		if (strncasecmp(l, "* BYE", 5) == 0)
			return mp_err_set(e, EX_TEMPFAIL, "the server says: %.200s", l);
		/* more EXISTS, EXPUNGE, FETCH: the next round sees them anyway */
	}
	if (strncasecmp(l + strlen(tag) + 1, "OK", 2) != 0)
		return mp_err_set(e, EX_TEMPFAIL, "IDLE: %.200s", l + strlen(tag) + 1);
	return why;
}
