/* mparse --dsn: a delivery status notification (RFC 3464), an ARF
 * feedback report (RFC 5965) or a plain-text bounce read into a record
 * per recipient; the VERP address the report was sent to decoded back
 * to the subscriber. mparse --digest: a multipart/digest of the
 * messages given. */
#include "report.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "digest.h"
#include "dsn.h"
#include "hdr.h"
#include "mime.h"
#include "run.h"
#include "util.h"

/* the parts of a report that are read */
enum { P_NONE, P_STATUS, P_ARF, P_HEADERS, P_TEXT };

struct rd {
	struct mp_buf status, arf, headers, text;
	int cur;            /* what the leaf in hand goes to */
	int text_seen;      /* the first text/plain is the one read for a guess */
	int rfc822_depth;   /* the next part at this depth is a returned message */
	char envelope[320]; /* where the report was sent */
	char msgid[256];    /* of the returned message */
	char orig_to[320];  /* To: of the returned message */
};

/* the first address of a field's value */
static void first_addr(const char *v, char *out, size_t n)
{
	struct mp_addrlist l = {0};

	out[0] = '\0';
	if (!v)
		return;
	mp_addr_parse(v, &l);
	if (l.n)
		snprintf(out, n, "%s", l.v[0].addr);
	mp_addr_free(&l);
}

/* what the returned message's header says */
static void returned(struct rd *r, const char *msgid, const char *to)
{
	if (msgid && !r->msgid[0] && !mp_hdr_msgid(msgid, strlen(msgid), r->msgid, sizeof r->msgid))
		r->msgid[0] = '\0';
	if (to && !r->orig_to[0])
		first_addr(to, r->orig_to, sizeof r->orig_to);
}

/* --verp=LOCAL and --verp-delimiters (NULL: any local part, "+=") */
static const char *verp_local, *verp_delim;

void report_verp_form(const char *local, const char *delim)
{
	verp_local = local;
	verp_delim = delim;
}

static int on_header(struct mp_walker *w, struct mp_header *h)
{
	struct rd *r = w->ctx;
	static const char *const env[] = {"Delivered-To", "X-Original-To", "To"};

	/* the envelope recipient of the report: the first of these with a
	 * VERP address, else the first there is */
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
		char a[320], sub[320];
		first_addr(mp_field_get(h, env[i]), a, sizeof a);
		if (a[0] && mp_verp_decode(a, verp_local, verp_delim, sub, sizeof sub)) {
			snprintf(r->envelope, sizeof r->envelope, "%s", a);
			break;
		}
	}
	return 0;
}

static int on_part(struct mp_walker *w, struct mp_part *p)
{
	struct rd *r = w->ctx;

	if (r->rfc822_depth && p->depth == r->rfc822_depth) {
		returned(r, mp_field_get(p->hdr, "Message-ID"), mp_field_get(p->hdr, "To"));
		r->rfc822_depth = 0;
	}
	if (p->container) {
		if (strcmp(p->type, "message/rfc822") == 0 && !r->msgid[0])
			r->rfc822_depth = p->depth + 1;
		r->cur = P_NONE;
		return 0;
	}
	if (strcmp(p->type, "message/delivery-status") == 0 ||
	    strcmp(p->type, "message/global-delivery-status") == 0)
		r->cur = P_STATUS;
	else if (strcmp(p->type, "message/feedback-report") == 0)
		r->cur = P_ARF;
	else if (strcmp(p->type, "text/rfc822-headers") == 0 ||
	         strcmp(p->type, "message/global-headers") == 0)
		r->cur = P_HEADERS;
	else if (strcmp(p->type, "text/plain") == 0 && !r->text_seen++)
		r->cur = P_TEXT;
	else
		r->cur = P_NONE;
	return 0;
}

static int on_data(struct mp_walker *w, struct mp_part *p, const char *s, size_t n)
{
	struct rd *r = w->ctx;
	struct mp_buf *b = r->cur == P_STATUS    ? &r->status
	                   : r->cur == P_ARF     ? &r->arf
	                   : r->cur == P_HEADERS ? &r->headers
	                   : r->cur == P_TEXT    ? &r->text
	                                         : NULL;

	(void)p;
	if (!b || b->len >= MP_DSN_TEXT)
		return 0;
	if (n > MP_DSN_TEXT - b->len)
		n = MP_DSN_TEXT - b->len;
	return mp_buf_append(b, s, n) < 0 ? -1 : 0;
}

static int on_end(struct mp_walker *w, struct mp_part *p)
{
	struct rd *r = w->ctx;

	(void)p;
	if (r->cur == P_HEADERS && r->headers.len) {
		struct mp_buf v = MP_BUF_INIT, t = MP_BUF_INIT;
		mp_buf_putc(&r->headers, '\n');
		if (mp_hdr_find(r->headers.data, r->headers.len, "Message-ID", &v) > 0)
			mp_buf_putc(&v, '\0');
		if (mp_hdr_find(r->headers.data, r->headers.len, "To", &t) > 0)
			mp_buf_putc(&t, '\0');
		returned(r, v.len ? v.data : NULL, t.len ? t.data : NULL);
		mp_buf_free(&v);
		mp_buf_free(&t);
	}
	r->cur = P_NONE;
	return 0;
}

static void put(struct mp_json *j, const char *key, const char *v)
{
	mp_json_string(j, key, v && *v ? v : NULL);
}

/* one record */
static void record(const char *name, int names, struct mp_json *j, const struct mp_dsn *d,
                   const struct mp_dsn_rcpt *rc, const struct rd *r)
{
	const char *kind = d->arf ? "arf" : d->guessed ? "guessed" : "dsn";
	const char *rcpt = d->arf ? (d->rcpt_to[0] ? d->rcpt_to : r->orig_to) : rc->final;
	char sub[320] = "";

	if (r->envelope[0])
		mp_verp_decode(r->envelope, verp_local, verp_delim, sub, sizeof sub);
	if (j) {
		/* every key, null where it does not apply (mailpipe(7)) */
		mp_json_begin_object(j, NULL);
		mp_json_string(j, "type", "report");
		mp_json_string(j, "file", name);
		mp_json_string(j, "report", kind);
		put(j, "recipient", rcpt);
		put(j, "subscriber", sub);
		put(j, "message_id", r->msgid);
		put(j, "reporting_mta", d->reporting_mta);
		put(j, "original_recipient", d->arf ? NULL : rc->original);
		put(j, "action", d->arf ? NULL : rc->action);
		put(j, "status", d->arf ? NULL : rc->status);
		put(j, "remote_mta", d->arf ? NULL : rc->remote_mta);
		put(j, "diagnostic", d->arf ? NULL : rc->diag);
		put(j, "feedback_type", d->arf ? d->feedback_type : NULL);
		put(j, "original_mail_from", d->arf ? d->mail_from : NULL);
		put(j, "user_agent", d->arf ? d->user_agent : NULL);
		mp_json_end_object(j);
		mp_json_finish(j);
		return;
	}
	/* everything here comes from the mail: escaped */
	if (names)
		mp_term_printf(stdout, "%s: ", name);
	if (d->arf)
		mp_term_printf(stdout, "feedback %s %s", d->feedback_type, rcpt[0] ? rcpt : "?");
	else
		mp_term_printf(stdout, "%s %s %s", rc->action[0] ? rc->action : "?",
		               rc->status[0] ? rc->status : "?", rcpt);
	if (!d->arf && rc->original[0] && strcmp(rc->original, rc->final))
		mp_term_printf(stdout, " original=%s", rc->original);
	if (sub[0])
		mp_term_printf(stdout, " subscriber=%s", sub);
	if (r->msgid[0])
		mp_term_printf(stdout, " message-id=%s", r->msgid);
	if (!d->arf && rc->remote_mta[0])
		mp_term_printf(stdout, " remote-mta=%s", rc->remote_mta);
	if (d->arf && d->mail_from[0])
		mp_term_printf(stdout, " from=%s", d->mail_from);
	if (d->guessed)
		mp_term_printf(stdout, " guessed");
	if (!d->arf && rc->diag[0])
		mp_term_printf(stdout, " diagnostic=%s", rc->diag);
	putchar('\n');
}

int report_dsn(const char *name, const struct mp_msgsrc *src, int names, struct mp_json *j)
{
	struct rd r;
	struct mp_walker w = {.on_header = on_header,
	                      .on_part = on_part,
	                      .on_data = on_data,
	                      .on_end = on_end,
	                      .ctx = &r,
	                      .decode = 1,
	                      .name = name};
	struct mp_dsn d;
	struct mp_err e;
	int rc = -1;

	memset(&r, 0, sizeof r);
	mp_dsn_init(&d);
	mp_err_clear(&e);
	if (mp_mime_walk(&w, src, &e) < 0) {
		mp_problem(e.code ? e.code : EX_DATAERR, 0, "%s: %s", name,
		           e.msg[0] ? e.msg : "read error");
		goto out;
	}
	if (r.status.len) {
		if (mp_dsn_parse(r.status.data, r.status.len, &d, &e) < 0) {
			mp_problem(EX_DATAERR, 0, "%s: message/delivery-status: %s", name, e.msg);
			goto out;
		}
	} else if (r.arf.len) {
		if (mp_arf_parse(r.arf.data, r.arf.len, &d, &e) < 0) {
			mp_problem(EX_DATAERR, 0, "%s: message/feedback-report: %s", name, e.msg);
			goto out;
		}
	} else if (!r.text.len || !mp_dsn_guess(r.text.data, r.text.len, &d)) {
		mp_problem(EX_DATAERR, 0,
		           "%s: no delivery report: no delivery-status or feedback-report part, "
		           "and no address with a status code in its text",
		           name);
		goto out;
	}
	if (d.arf)
		record(name, names, j, &d, NULL, &r);
	for (size_t i = 0; !d.arf && i < d.n; i++)
		record(name, names, j, &d, &d.r[i], &r);
	rc = 0;
out:
	mp_dsn_free(&d);
	mp_buf_free(&r.status);
	mp_buf_free(&r.arf);
	mp_buf_free(&r.headers);
	mp_buf_free(&r.text);
	return rc;
}

/* ---- --digest */

static struct mp_buf all = MP_BUF_INIT; /* the messages, one after the other */
static size_t *ends, nmsg;

int report_digest_add(const char *name, const struct mp_msgsrc *src)
{
	struct mp_err e;
	const char *seg;
	size_t len;
	int bol, k;

	mp_err_clear(&e);
	while ((k = src->next(src->ctx, &seg, &len, &bol, &e)) > 0) {
		if ((long long)(all.len + len) > MP_DIGEST_MAX)
			mp_die(EX_DATAERR, "%s: the digest would be larger than %lld MiB", name,
			       MP_DIGEST_MAX >> 20);
		if (mp_buf_append(&all, seg, len) < 0)
			mp_die(EX_TEMPFAIL, "out of memory");
	}
	if (k < 0) {
		mp_problem(e.code ? e.code : EX_DATAERR, 0, "%s: %s", name,
		           e.msg[0] ? e.msg : "read error");
		return -1;
	}
	ends = mp_xrealloc(ends, (nmsg + 1) * sizeof *ends);
	ends[nmsg++] = all.len;
	return 0;
}

void report_digest_write(void)
{
	struct mp_digest_msg *m = mp_xmalloc((nmsg ? nmsg : 1) * sizeof *m);
	struct mp_buf out = MP_BUF_INIT, from = MP_BUF_INIT, subj = MP_BUF_INIT;
	const char *sde = getenv("SOURCE_DATE_EPOCH"), *user = getenv("USER");
	char host[256] = "localhost";
	time_t date = time(NULL);

	if (!nmsg)
		mp_die(EX_NOINPUT, "--digest: no message to make a digest of");
	for (size_t i = 0; i < nmsg; i++) {
		m[i].p = all.data + (i ? ends[i - 1] : 0);
		m[i].n = ends[i] - (i ? ends[i - 1] : 0);
	}
	if (sde && *sde)
		date = (time_t)strtoll(sde, NULL, 10);
	if (!user || !*user) {
		struct passwd *pw = getpwuid(getuid());
		user = pw ? pw->pw_name : "digest";
	}
	gethostname(host, sizeof host - 1);
	mp_buf_printf(&from, "Digest <%s@%s>", user, host);
	mp_buf_printf(&subj, "Digest of %zu message%s", nmsg, nmsg == 1 ? "" : "s");
	if (mp_digest_make(m, nmsg, from.data, subj.data, date, &out) < 0)
		mp_die(EX_TEMPFAIL, "out of memory");
	fwrite(out.data, 1, out.len, stdout);
	mp_buf_free(&out);
	mp_buf_free(&from);
	mp_buf_free(&subj);
	mp_buf_free(&all);
	free(ends);
	free(m);
}
