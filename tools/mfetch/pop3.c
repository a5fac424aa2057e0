/* POP3 (RFC 1939) retrieval: STLS (RFC 2595), USER/PASS, APOP or AUTH
 * (RFC 5034), UIDL for what is new, RETR into a spool file
 * (dot-unstuffed), delivery, and only then DELE; QUIT makes the
 * deletions happen. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "codec.h"
#include "deliver.h"
#include "intent.h"
#include "io.h"
#include "pop3.h"
#include "report.h"
#include "sasl.h"
#include "session.h"
#include "state.h"

#define PIPE_WINDOW 32 /* RETRs sent ahead of their replies */

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

/* ---------------------------------------------------------------- APOP */

#define APOP_MAX 256 /* longest greeting timestamp taken, '<' to '>' */

/* The timestamp of an APOP greeting (RFC 1939 7: a msg-id, "<...@...>"):
 * 1 found and sound, 0 none, -1 malformed (too long, not printable, no
 * '@', nested '<'). */
static int apop_stamp(const char *greeting, char *out, size_t n)
{
	const char *a = strchr(greeting, '<'), *b;
	int at = 0;

	if (!a)
		return 0;
	if (!(b = strchr(a, '>')))
		return -1;
	size_t len = (size_t)(b - a) + 1;
	if (len > APOP_MAX || len + 1 > n)
		return -1;
	for (const char *p = a + 1; p < b; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '<')
			return -1;
		at |= *p == '@';
	}
	if (!at)
		return -1;
	memcpy(out, a, len);
	out[len] = '\0';
	return 1;
}

/* MD5(timestamp password) in lower-case hex, through OpenSSL's EVP */
static int apop_digest(const char *stamp, const char *pass, char hex[33], struct mp_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_md5(), NULL) &&
	         EVP_DigestUpdate(c, stamp, strlen(stamp)) &&
	         EVP_DigestUpdate(c, pass, strlen(pass)) && EVP_DigestFinal_ex(c, md, &n);

	EVP_MD_CTX_free(c);
	if (!ok || n != 16)
		return mp_err_set(e, EX_UNAVAILABLE, "APOP: MD5 is not available from OpenSSL");
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(md, sizeof md);
	return 0;
}

struct msg {
	long num;
	long long size;
	char uid[80];
};

struct listing {
	struct msg *v;
	size_t n;
	int quiet;
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

/* "N SIZE": a size that is not 0 to 10^18-1 in digits (RFC 1939 5: a
 * number) is left unknown, with a warning */
static void on_list(const char *l, void *ctx)
{
	struct listing *li = ctx;
	long num;
	int at = 0;

	if (sscanf(l, "%ld %n", &num, &at) != 1 || !at)
		return;
	const char *z = l + at;
	size_t nd = strspn(z, "0123456789");
	if (nd == 0 || nd > 18 || (z[nd] && z[nd] != ' ')) {
		if (!li->quiet)
			mp_warn("LIST: message %ld: size '%.30s' is not a size: taken as unknown",
			        num, z);
		return;
	}
	for (size_t i = 0; i < li->n; i++)
		if (li->v[i].num == num)
			li->v[i].size = strtoll(z, NULL, 10);
}

struct capa {
	char sasl[256]; /* the "SASL mech ..." line, for --auth auto */
	int pipelining; /* RFC 2449 6.6: commands may be sent in groups */
};

static void on_capa(const char *l, void *ctx)
{
	struct capa *c = ctx;

	if (strncasecmp(l, "SASL ", 5) == 0)
		snprintf(c->sasl, sizeof c->sasl, "%s", l + 5);
	else if (strcasecmp(l, "PIPELINING") == 0)
		c->pipelining = 1;
}

/* The reply to a RETR n sent before: the message into a spool file,
 * lines unstuffed, with LF line ends */
static int retr_read(struct mp_proto *p, long num, int *fdout, long long *bytes, struct mp_err *e)
{
	char status[256], path[4096], wb[65536];
	const char *dir = getenv("TMPDIR");
	size_t wl = 0;
	int fd;

	int r = reply(p, status, sizeof status, e);
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
	for (int bol = 1, more = 0;; bol = !more) {
		char *l;
		size_t len;
		if (mp_proto_readpiece(p, &l, &len, &more, e) <= 0) {
			if (!e->code)
				mp_err_set(e, EX_TEMPFAIL, "connection closed in RETR");
			goto fail;
		}
		if (bol && !more && len == 1 && l[0] == '.')
			break;
		/* a line of any length comes in pieces: the dot-stuffing is
		 * at the start of the first */
		const char *s = bol && len && l[0] == '.' ? l + 1 : l;
		size_t sl = len - (size_t)(s - l);
		/* the wire's CRLF becomes the LF of mail on disk; a piece is at
		 * most MP_PROTO_LINE, so it always fits an emptied buffer */
		if (wl + sl + 1 > sizeof wb) {
			if (mp_write_full(fd, wb, wl) < 0) {
				mp_err_sys(e, EX_TEMPFAIL, "spool");
				goto fail;
			}
			wl = 0;
		}
		memcpy(wb + wl, s, sl);
		wl += sl;
		*bytes += (long long)sl;
		if (!more) {
			wb[wl++] = '\n';
			*bytes += 2;
		}
	}
	if (wl && mp_write_full(fd, wb, wl) < 0) {
		mp_err_sys(e, EX_TEMPFAIL, "spool");
		goto fail;
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

static int send_num(struct mp_proto *p, const char *verb, long num, struct mp_err *e)
{
	char c[64];

	snprintf(c, sizeof c, "%s %ld", verb, num);
	return mp_proto_send(p, c, NULL, e);
}

/* the DELEs the server refused: the messages are delivered and recorded,
 * but stay on the server; the run ends with exit 69 once it is done */
struct refused {
	long n;
	char text[200];
};

/* DELE each of nums, up to window of them sent before their replies are
 * read; a -ERR is counted in rf. 0 or -1. */
static int dele_all(struct mp_proto *p, const long *nums, size_t n, int window, struct refused *rf,
                    struct mp_err *e)
{
	char status[256];
	size_t sent = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		while (sent < n && sent < i + (size_t)window)
			if (send_num(p, "DELE", nums[sent++], e) < 0)
				return -1;
		if ((r = reply(p, status, sizeof status, e)) < 0)
			return -1;
		if (r == 1 && rf->n++ == 0)
			snprintf(rf->text, sizeof rf->text, "%.199s", status);
	}
	return 0;
}

/* the state: the UIDs kept in mind. keep holds them, each after a
 * space; the first *done bytes of it are recorded already, and the rest
 * is added to the state with one line */
static int record(const struct fopts *o, const char *key, const struct mp_buf *keep, size_t *done,
                  struct mp_err *e)
{
	if (o->all || keep->len <= *done)
		return 0;
	if (state_add(o, key, keep->data + *done + 1, e) < 0)
		return -1;
	*done = keep->len;
	return 0;
}

static void on_settled(void *ctx, const char *uid, int delivered)
{
	struct mp_buf *b = ctx;

	if (delivered)
		mp_buf_printf(b, "%s%s", b->len ? " " : "", uid);
}

/* A batch's intent that a killed run left pending, settled: the UIDLs
 * whose message is in the Maildir are added to the state (and to seen),
 * the others fetched again. 0, or -1 with e filled. */
static int settle(const struct fopts *o, const char *key, const char *intent, struct mp_buf *seen,
                  struct mp_err *e)
{
	struct mp_buf got = MP_BUF_INIT;
	int rc = intent_settle(intent, on_settled, &got, e);

	if (rc == 0)
		rc = state_add(o, key, got.data ? got.data : "", e);
	if (rc == 0 && got.len)
		mp_buf_printf(seen, " %s ", got.data);
	mp_buf_free(&got);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the UIDLs of a state value (space-separated), sorted and each once, in
 * place; *n gets how many */
static char **split_uids(char *v, size_t *n)
{
	char **t = NULL, *save = NULL;
	size_t cap = 0, k = 0;

	*n = 0;
	for (char *u = v ? strtok_r(v, " ", &save) : NULL; u; u = strtok_r(NULL, " ", &save)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			t = mp_xrealloc(t, cap * sizeof *t);
		}
		t[(*n)++] = u;
	}
	if (!*n)
		return t;
	qsort(t, *n, sizeof *t, cmp_str);
	for (size_t i = 0; i < *n; i++)
		if (!k || strcmp(t[i], t[k - 1]) != 0)
			t[k++] = t[i];
	*n = k;
	return t;
}

int pop3_fetch(struct fopts *o, struct fstats *st, struct mp_err *e)
{
	struct mp_proto p;
	struct listing li = {0};
	struct refused rf = {0};
	struct mp_buf seen = MP_BUF_INIT, keep = MP_BUF_INIT, intent = MP_BUF_INIT;
	struct capa capa = {"", 0};
	char status[512], c[700], key[600], stamp[APOP_MAX + 1];
	char *pass = NULL;
	long *nums = NULL;
	size_t *want = NULL, nwant = 0, ngone = 0, nseen = 0, kept = 0, recorded = 0;
	char **seenv = NULL;
	int r, rc = -1, has_stamp, window = 1;

	if (connect_session(o, &p, e) < 0)
		return -1;
	status[0] = '\0';
	if ((r = reply(&p, status, sizeof status, e)) != 0) {
		if (r > 0)
			mp_err_set(e, EX_TEMPFAIL, "greeting: %.200s", status);
		else if (strncmp(status, "* OK", 4) == 0 || strncmp(status, "* PREAUTH", 9) == 0 ||
		         strncmp(status, "* BYE", 5) == 0)
			mp_err_set(e, EX_PROTOCOL,
			           "no POP3 greeting: \"%.60s\" sounds like IMAP (--imap, or "
			           "'protocol imap' in an account)",
			           status);
		goto out;
	}
	has_stamp = apop_stamp(status, stamp, sizeof stamp);
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
	/* auto: CRAM-MD5 if SASL offers it, else APOP if the greeting has
	 * a timestamp (both keep the password off the wire), else USER/PASS
	 * (under TLS as good as SASL PLAIN) */
	int auto_ = !o->auth || strcasecmp(o->auth, "auto") == 0;
	int apop = o->auth && strcasecmp(o->auth, "apop") == 0;
	enum mp_sasl_mech m = !auto_ && !apop && strcasecmp(o->auth, "user") != 0
	                          ? mp_sasl_parse(o->auth)
	                          : MP_SASL_NONE;
	if (auto_) {
		if (cmd(&p, "CAPA", NULL, status, sizeof status, e) == 0 &&
		    lines(&p, on_capa, &capa, e) < 0)
			goto out;
		if (e->code)
			goto out;
		enum mp_sasl_mech best = mp_sasl_choose_best(capa.sasl);
		if (best == MP_SASL_SCRAM_SHA256 || best == MP_SASL_CRAM_MD5)
			m = best;
		else
			apop = has_stamp > 0;
	}
	if (apop && has_stamp <= 0) {
		if (has_stamp < 0)
			mp_err_set(e, EX_UNAVAILABLE,
			           "--auth apop: the greeting's timestamp is malformed");
		else
			mp_err_set(e, EX_NOPERM, "--auth apop: the greeting has no timestamp");
		goto out;
	}
	if (apop) {
		char hex[33];
		if (apop_digest(stamp, pass, hex, e) < 0)
			goto out;
		snprintf(c, sizeof c, "APOP %s %s", o->user, hex);
		char shown[400];
		snprintf(shown, sizeof shown, "APOP %s", o->user);
		r = cmd(&p, c, shown, status, sizeof status, e);
		OPENSSL_cleanse(c, sizeof c);
		OPENSSL_cleanse(hex, sizeof hex);
	} else if (m == MP_SASL_NONE) {
		snprintf(c, sizeof c, "USER %s", o->user);
		if ((r = cmd(&p, c, NULL, status, sizeof status, e)) == 0) {
			snprintf(c, sizeof c, "PASS %s", pass);
			r = cmd(&p, c, "PASS", status, sizeof status, e);
		}
	} else {
		struct mp_buf resp = MP_BUF_INIT;
		struct mp_sasl sc;
		mp_sasl_init(&sc, m, o->user, pass);
		snprintf(c, sizeof c, "AUTH %s", mp_sasl_name(m));
		r = cmd(&p, c, NULL, status, sizeof status, e);
		for (int step = 0; r == 2; step++) {
			if (step > 8 ||
			    sasl_respond(&sc, status[1] == ' ' ? status + 2 : status + 1, &resp,
			                 e) < 0) {
				if (step > 8)
					mp_err_set(e, EX_PROTOCOL, "AUTH: too many challenges");
				struct mp_err ign;
				cmd(&p, "*", NULL, status, sizeof status, &ign); /* RFC 5034 4 */
				r = -1;
				break;
			}
			r = cmd(&p, resp.data ? resp.data : "", "", status, sizeof status, e);
		}
		if (r == 0 && mp_sasl_done(&sc, e) < 0)
			r = -1;
		mp_sasl_free(&sc);
		mp_buf_free(&resp);
	}
	if (r != 0) {
		if (r > 0)
			mp_err_set(e, EX_NOPERM, "login refused: %.200s", status);
		goto out;
	}
	/* PIPELINING, from the CAPA under TLS before the login, or else now */
	if (!auto_ && ((r = cmd(&p, "CAPA", NULL, status, sizeof status, e)) < 0 ||
	               (r == 0 && lines(&p, on_capa, &capa, e) < 0)))
		goto quit;
	if (capa.pipelining)
		window = PIPE_WINDOW;
	/* what is there, and what we have seen before */
	if ((r = cmd(&p, "UIDL", NULL, status, sizeof status, e)) != 0 ||
	    lines(&p, on_uidl, &li, e) < 0) {
		if (r > 0)
			mp_err_set(e, EX_UNAVAILABLE, "UIDL: %.200s", status);
		goto quit;
	}
	li.quiet = o->quiet;
	if (cmd(&p, "LIST", NULL, status, sizeof status, e) == 0)
		lines(&p, on_list, &li, e);
	snprintf(key, sizeof key, "pop3 %s@%s", o->user, o->server);
	/* a batch a killed run left between its intent and its record is
	 * settled first, whatever this run does */
	if (state_load(o, key, &seen, &intent) == 0 && intent.len &&
	    settle(o, key, intent.data, &seen, e) < 0)
		goto quit;
	o->jkey = o->all ? NULL : key;
	if (!o->all)
		seenv = split_uids(seen.data, &nseen);
	mp_buf_printf(&keep, "%s", "");
	nums = mp_xmalloc((li.n ? li.n : 1) * sizeof *nums);
	want = mp_xmalloc((li.n ? li.n : 1) * sizeof *want);
	for (size_t i = 0; i < li.n; i++) {
		struct msg *mm = &li.v[i];
		const char *u = mm->uid;
		if (nseen && bsearch(&u, seenv, nseen, sizeof *seenv, cmp_str)) {
			kept++;
			mp_buf_printf(&keep, " %s", mm->uid); /* still on the server */
			/* delivered by a run that ended before its QUIT */
			nums[ngone++] = mm->num;
			continue;
		}
		if (o->limit && (long)nwant >= o->limit)
			continue;
		if (o->max_size && mm->size > o->max_size) {
			if (!o->quiet)
				mp_warn(
				    "message %s: %lld bytes, over --max-size: left on the server",
				    mm->uid, mm->size);
			st->skipped_big++;
			continue;
		}
		want[nwant++] = i;
	}
	/* what the server no longer has is forgotten: the state written
	 * whole, once a run, and only then */
	recorded = keep.len;
	if (!o->all && kept < nseen) {
		mp_buf_putc(&keep, ' ');
		r = state_save(o, key, keep.data, e);
		keep.data[--keep.len] = '\0';
		if (r < 0)
			goto quit;
	}
	o->pg_total += (long)nwant;
	if (o->delete_ && dele_all(&p, nums, ngone, window, &rf, e) < 0)
		goto quit;
	/* in batches: the RETRs of a batch pipelined, each message delivered
	 * as it comes, then the batch made durable, recorded, and only then
	 * its DELEs */
	for (size_t b = 0, end; b < nwant; b = end) {
		long long bbytes = 0, sz;
		/* the sizes are the server's word: each counts BATCH_BYTES at most */
		for (end = b; end < nwant && end - b < BATCH_MSGS; end++) {
			sz = li.v[want[end]].size;
			sz = sz > BATCH_BYTES ? BATCH_BYTES : sz;
			if (end > b && bbytes + sz > BATCH_BYTES)
				break;
			bbytes += sz;
		}
		for (size_t i = b, sent = b; i < end; i++) {
			struct msg *mm = &li.v[want[i]];
			int fd = -1;
			long long bytes = 0;
			while (sent < end && sent < i + (size_t)window)
				if (send_num(&p, "RETR", li.v[want[sent++]].num, e) < 0)
					goto fail;
			if (retr_read(&p, mm->num, &fd, &bytes, e) < 0)
				goto fail;
			if (deliver_file(o, fd, mm->uid, "INBOX", e) < 0) {
				close(fd);
				goto fail; /* kept on the server, not recorded */
			}
			close(fd);
			st->fetched++;
			st->bytes += bytes;
			progress(o, st, 0);
			mp_buf_printf(&keep, " %s", mm->uid);
			if ((per_message(o) || commit_due(o)) &&
			    (commit(o, e) < 0 || record(o, key, &keep, &recorded, e) < 0))
				goto quit;
		}
		/* durable, then recorded, then the server may forget them */
		if (commit(o, e) < 0 || record(o, key, &keep, &recorded, e) < 0)
			goto quit;
		if (o->delete_) {
			for (size_t i = b; i < end; i++)
				nums[i - b] = li.v[want[i]].num;
			if (dele_all(&p, nums, end - b, window, &rf, e) < 0)
				goto quit;
		}
	}
	if (commit(o, e) < 0 || record(o, key, &keep, &recorded, e) < 0)
		goto quit;
	rc = 0;
	goto quit;
fail:
	/* what came whole before the failure is kept: durable, then
	 * recorded; no DELE (no QUIT either), the next run does that */
	{
		struct mp_err e2;
		mp_err_clear(&e2);
		if (commit(o, &e2) == 0)
			record(o, key, &keep, &recorded, &e2);
	}
quit:
	o->jkey = NULL;
	/* QUIT commits the DELEs; without it (an error above) none happen */
	if (rc == 0) {
		struct mp_err e2;
		mp_err_clear(&e2);
		if (cmd(&p, "QUIT", NULL, status, sizeof status, &e2) != 0 && o->delete_) {
			*e = e2;
			if (!e->code)
				mp_err_set(e, EX_TEMPFAIL, "QUIT: %.200s", status);
			rc = -1;
		} else if (rf.n) {
			mp_err_set(
			    e, EX_UNAVAILABLE,
			    "DELE refused for %ld message%s (delivered and recorded, left on "
			    "the server): %.200s",
			    rf.n, rf.n == 1 ? "" : "s", rf.text);
			rc = -1;
		}
	}
out:
	if (pass) {
		memset(pass, 0, strlen(pass));
		free(pass);
	}
	free(li.v);
	free(nums);
	free(want);
	free(seenv);
	mp_buf_free(&seen);
	mp_buf_free(&keep);
	mp_buf_free(&intent);
	mp_proto_close(&p);
	return rc;
}
