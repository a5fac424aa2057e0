/* POP3 (RFC 1939) retrieval: STLS (RFC 2595), USER/PASS or AUTH (RFC
 * 5034), UIDL for what is new, RETR into a spool file (dot-unstuffed),
 * delivery, and only then DELE; QUIT makes the deletions happen. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "codec.h"
#include "io.h"
#include "mfetch.h"
#include "sasl.h"

static int reply(struct mp_proto *p, char *out, size_t n, struct mp_err *e)
{
	char *l;
	size_t len;
	int r = mp_proto_readline(p, &l, &len, e);

	if (r <= 0)
		return r < 0 ? -1 : mp_err_set(e, EX_TEMPFAIL, "the server closed the connection");
	if (out)
		snprintf(out, n, "%s", l);
	if (strncmp(l, "+OK", 3) == 0)
		return 0;
	if (l[0] == '+')
		return 2; /* a SASL continuation */
	if (strncmp(l, "-ERR", 4) == 0)
		return 1;
	return mp_err_set(e, EX_PROTOCOL, "not a POP3 reply: \"%.60s\"", l);
}

static int cmd(struct mp_proto *p, const char *c, const char *shown, char *out, size_t n,
               struct mp_err *e)
{
	if (mp_proto_send(p, c, shown, e) < 0)
		return -1;
	return reply(p, out, n, e);
}

/* a multi-line answer: each line to cb, up to "." */
static int lines(struct mp_proto *p, void (*cb)(const char *l, void *ctx), void *ctx,
                 struct mp_err *e)
{
	for (;;) {
		char *l;
		size_t len;
		if (mp_proto_readline(p, &l, &len, e) <= 0)
			return e->code ? -1 : mp_err_set(e, EX_TEMPFAIL, "connection closed");
		if (strcmp(l, ".") == 0)
			return 0;
		cb(l[0] == '.' ? l + 1 : l, ctx);
	}
}

struct msg {
	long num;
	long long size;
	char uid[80];
};

struct listing {
	struct msg *v;
	size_t n;
};

static void on_uidl(const char *l, void *ctx)
{
	struct listing *li = ctx;
	struct msg m = {0};

	if (sscanf(l, "%ld %79s", &m.num, m.uid) == 2) {
		li->v = mp_xrealloc(li->v, (li->n + 1) * sizeof *li->v);
		li->v[li->n++] = m;
	}
}

static void on_list(const char *l, void *ctx)
{
	struct listing *li = ctx;
	long num;
	long long size;

	if (sscanf(l, "%ld %lld", &num, &size) == 2)
		for (size_t i = 0; i < li->n; i++)
			if (li->v[i].num == num)
				li->v[i].size = size;
}

/* RETR n into a spool file: lines unstuffed, with LF line ends */
static int retr(struct mp_proto *p, long num, int *fdout, long long *bytes, struct mp_err *e)
{
	char c[64], status[256], path[4096];
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(c, sizeof c, "RETR %ld", num);
	int r = cmd(p, c, NULL, status, sizeof status, e);
	if (r < 0)
		return -1;
	if (r)
		return mp_err_set(e, EX_TEMPFAIL, "RETR %ld: %.200s", num, status);
	snprintf(path, sizeof path, "%s/mfetch.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "spool %s", path);
	unlink(path);
	int trace = p->trace;
	p->trace = 0; /* not the message itself */
	*bytes = 0;
	for (;;) {
		char *l;
		size_t len;
		if (mp_proto_readline(p, &l, &len, e) <= 0) {
			if (!e->code)
				mp_err_set(e, EX_TEMPFAIL, "connection closed in RETR");
			goto fail;
		}
		if (strcmp(l, ".") == 0)
			break;
		const char *s = l[0] == '.' ? l + 1 : l;
		size_t sl = l[0] == '.' ? len - 1 : len;
		/* the wire's CRLF becomes the LF of mail on disk */
		if (mp_write_full(fd, s, sl) < 0 || mp_write_full(fd, "\n", 1) < 0) {
			mp_err_sys(e, EX_TEMPFAIL, "spool");
			goto fail;
		}
		*bytes += (long long)sl + 2;
	}
	p->trace = trace;
	if (trace)
		fprintf(stderr, "S: (%lld octets of message)\n", *bytes);
	*fdout = fd;
	return 0;
fail:
	p->trace = trace;
	close(fd);
	return -1;
}

int pop3_fetch(struct fopts *o, struct fstats *st, struct mp_err *e)
{
	struct mp_proto p;
	struct listing li = {0};
	struct mp_buf seen = MP_BUF_INIT, keep = MP_BUF_INIT;
	char status[512], c[700], key[600];
	char *pass = NULL;
	int r, rc = -1;

	if (connect_session(o, &p, e) < 0)
		return -1;
	if ((r = reply(&p, status, sizeof status, e)) != 0) {
		if (r > 0)
			mp_err_set(e, EX_TEMPFAIL, "greeting: %.200s", status);
		goto out;
	}
	if (!p.tls_on && o->starttls) {
		if ((r = cmd(&p, "STLS", NULL, status, sizeof status, e)) != 0) {
			if (r > 0)
				mp_err_set(e, EX_UNAVAILABLE, "STLS refused: %.200s", status);
			goto out;
		}
		struct mp_tls_opts to = {.ca_file = o->ca_file,
		                         .verify_name = o->server,
		                         .fingerprint = o->fingerprint,
		                         .timeout_ms = o->timeout_ms};
		if (mp_proto_starttls(&p, &to, e) < 0)
			goto out;
	}
	if (!p.tls_on)
		mp_warn("warning: no TLS: the password goes in clear");
	if (!(pass = password(o, e)))
		goto out;
	enum mp_sasl_mech m =
	    o->auth && strcasecmp(o->auth, "user") != 0 && strcasecmp(o->auth, "auto") != 0
	        ? mp_sasl_parse(o->auth)
	        : MP_SASL_NONE;
	if (m == MP_SASL_NONE) {
		snprintf(c, sizeof c, "USER %s", o->user);
		if ((r = cmd(&p, c, NULL, status, sizeof status, e)) == 0) {
			snprintf(c, sizeof c, "PASS %s", pass);
			r = cmd(&p, c, "PASS", status, sizeof status, e);
		}
	} else {
		struct mp_buf resp = MP_BUF_INIT;
		snprintf(c, sizeof c, "AUTH %s", mp_sasl_name(m));
		r = cmd(&p, c, NULL, status, sizeof status, e);
		for (int step = 0; r == 2 && step < 4; step++) {
			const char *ch64 = status[1] == ' ' ? status + 2 : status + 1;
			size_t cl = strlen(ch64), n1 = 0, n2 = 0;
			char ch[512];
			struct mp_b64dec d;
			mp_b64dec_init(&d, MP_B64_NOPAD);
			if (cl > 600 || mp_b64dec_update(&d, ch64, cl, ch, &n1, NULL) < 0 ||
			    mp_b64dec_final(&d, ch + n1, &n2, NULL) < 0 ||
			    mp_sasl_step(m, step, o->user, pass, ch, n1 + n2, &resp, e) < 0) {
				r = -1;
				break;
			}
			char b64[700];
			size_t bl = mp_b64_encode(resp.data ? resp.data : "", resp.len, b64, 0);
			b64[bl] = '\0';
			r = cmd(&p, b64, "", status, sizeof status, e);
		}
		mp_buf_free(&resp);
	}
	if (r != 0) {
		if (r > 0)
			mp_err_set(e, EX_NOPERM, "login refused: %.200s", status);
		goto out;
	}
	/* what is there, and what we have seen before */
	if ((r = cmd(&p, "UIDL", NULL, status, sizeof status, e)) != 0 ||
	    lines(&p, on_uidl, &li, e) < 0) {
		if (r > 0)
			mp_err_set(e, EX_UNAVAILABLE, "UIDL: %.200s", status);
		goto quit;
	}
	if (cmd(&p, "LIST", NULL, status, sizeof status, e) == 0)
		lines(&p, on_list, &li, e);
	snprintf(key, sizeof key, "pop3 %s@%s", o->user, o->server);
	if (!o->all)
		state_load(o, key, &seen);
	mp_buf_printf(&keep, "%s", "");
	for (size_t i = 0; i < li.n; i++) {
		struct msg *mm = &li.v[i];
		char pat[100];
		int fd = -1;
		long long bytes = 0;
		snprintf(pat, sizeof pat, " %s ", mm->uid);
		int known = seen.data && strstr(seen.data, pat) != NULL;
		if (known) {
			mp_buf_printf(&keep, " %s", mm->uid); /* still on the server */
			/* delivered by a run that ended before its QUIT */
			if (o->delete_) {
				snprintf(c, sizeof c, "DELE %ld", mm->num);
				if (cmd(&p, c, NULL, status, sizeof status, e) < 0)
					goto quit;
			}
			continue;
		}
		if (o->limit && st->fetched >= o->limit)
			continue;
		if (o->max_size && mm->size > o->max_size) {
			if (!o->quiet)
				mp_warn(
				    "message %s: %lld bytes, over --max-size: left on the server",
				    mm->uid, mm->size);
			st->skipped_big++;
			continue;
		}
		if (retr(&p, mm->num, &fd, &bytes, e) < 0)
			goto quit;
		if (deliver_file(o, fd, mm->uid, "INBOX", e) < 0) {
			close(fd);
			goto quit; /* kept on the server, not recorded */
		}
		close(fd);
		st->fetched++;
		st->bytes += bytes;
		mp_buf_printf(&keep, " %s", mm->uid);
		/* durable: record it, then the server may forget it */
		mp_buf_putc(&keep, ' ');
		if (!o->all && state_save(o, key, keep.data, e) < 0)
			goto quit;
		keep.len--;
		keep.data[keep.len] = '\0';
		if (o->delete_) {
			snprintf(c, sizeof c, "DELE %ld", mm->num);
			if (cmd(&p, c, NULL, status, sizeof status, e) < 0)
				goto quit;
		}
	}
	mp_buf_putc(&keep, ' ');
	if (!o->all && state_save(o, key, keep.data, e) < 0)
		goto quit;
	rc = 0;
quit:
	/* QUIT commits the DELEs; without it (an error above) none happen */
	if (rc == 0) {
		struct mp_err e2;
		mp_err_clear(&e2);
		if (cmd(&p, "QUIT", NULL, status, sizeof status, &e2) != 0 && o->delete_) {
			*e = e2;
			if (!e->code)
				mp_err_set(e, EX_TEMPFAIL, "QUIT: %.200s", status);
			rc = -1;
		}
	}
out:
	if (pass) {
		memset(pass, 0, strlen(pass));
		free(pass);
	}
	free(li.v);
	mp_buf_free(&seen);
	mp_buf_free(&keep);
	mp_proto_close(&p);
	return rc;
}
