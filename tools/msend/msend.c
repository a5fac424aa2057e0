/* msend: send a message with SMTP, to a relay or straight to the
 * recipients' MX hosts; what cannot go now is queued, never lost. Also a
 * sendmail(8) stand-in for cron, mutt, git send-email and PHP. One step
 * each: options.c reads the command line, settings.c the configuration,
 * rcpt.c the addresses, compose.c a new message, spool.c stdin, send.c
 * and pool.c the SMTP sessions, queue.c the queue, log.c the log. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "msend.h"

/* the envelope sender: a forced or default one of the account, -f, $EMAIL,
 * else the user's name (qualified); "" stays the null sender */
static char *envelope_from(const struct options *o, const struct envcfg *ec, const char *maildomain)
{
	const char *from = o->from;

	if (ec->from && (ec->force_from || !from))
		from = ec->from;
	if (!from)
		from = getenv("EMAIL");
	if (!from) {
		struct passwd *pw = getpwuid(getuid());
		from = pw ? pw->pw_name : "nobody";
	}
	return *from ? rcpt_normalize(from, maildomain, "-f") : mp_xstrdup("");
}

/* -bp, --drop, --retry-dead, -q: the exit code */
static int queue_command(const struct options *o, const struct settings *s)
{
	if (o->listq)
		return queue_list(s, stdout);
	if (o->drop)
		return queue_drop(s, o->drop);
	if (o->retry_dead)
		queue_revive(s, o->retry_dead);
	return queue_flush(s);
}

/* after the spool: with --read-envelope-from (read_envelope_from on) and
 * neither -f nor force_from, the message's From: address; a warning when
 * an unqualified sender goes straight to MX hosts */
static char *header_sender(const struct options *o, const struct envcfg *ec,
                           const struct settings *s, const struct message *m, char *from)
{
	if ((o->read_envelope_from || ec->read_envelope_from) && !o->from &&
	    !(ec->force_from && ec->from)) {
		if (m->hdr_from[0]) {
			free(from);
			from = rcpt_normalize(m->hdr_from, s->maildomain, "From:");
		} else {
			mp_warn("--read-envelope-from: the message has no From: address; sending "
			        "as <%s>",
			        from);
		}
	}
	const char *at = strrchr(from, '@');
	if (s->direct && *from && (!at || !strchr(at + 1, '.')))
		mp_warn("warning: the envelope sender <%s> is not fully qualified: MX hosts may "
		        "refuse it (-f, --maildomain or --read-envelope-from)",
		        from);
	return from;
}

/* compose mode (-s, -A, --cc, --bcc, --reply-to): the new message made
 * from stdin takes stdin's place; its --cc and --bcc are recipients */
static void compose_step(struct options *o, const char *from, struct addrs *rc)
{
	struct compose *cm = &o->cm;
	struct mp_err e;

	if (!(cm->subject || cm->natt || cm->ncc || o->nbcc || cm->reply_to || cm->list_id ||
	      cm->nunsub || cm->precedence))
		return;
	mp_err_clear(&e);
	if (o->tflag)
		mp_die(EX_USAGE, "-t reads the recipients of a message; -s and -A make one");
	if (!cm->subject)
		cm->subject = "";
	for (size_t i = 0; i < cm->ncc; i++)
		rcpt_arg(rc, cm->cc[i], "--cc");
	for (size_t i = 0; i < o->nbcc; i++)
		rcpt_arg(rc, o->bcc[i], "--bcc");
	if (cm->reply_to) /* "Name <a@b>" or a@b: checked, not a recipient */
		rcpt_arg(NULL, cm->reply_to, "--reply-to");
	/* the new message, then read as if it came on stdin */
	char path[4096];
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/msend-new.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		mp_die(EX_TEMPFAIL, "spool %s: %s", path, strerror(errno));
	unlink(path);
	cm->from = *from ? from : "MAILER-DAEMON";
	cm->from_name = o->full_name;
	cm->to = o->args;
	cm->nto = (size_t)o->nargs;
	if (compose(cm, STDIN_FILENO, fd, &e) < 0)
		mp_die_err(NULL, &e);
	if (lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, STDIN_FILENO) < 0)
		mp_die(EX_TEMPFAIL, "spool: %s", strerror(errno));
	close(fd);
}

/* a recipient's fate, as -j and the list report name it */
static const char *status_of(const struct rcpt *r, const char *qid)
{
	return r->done && r->code / 100 == 2 ? "delivered"
	       : r->done                     ? "refused"
	       : qid && *qid                 ? "queued"
	                                     : "deferred";
}

/* -j: one line for the message sent: each recipient's fate, the queue id */
static void json_result(const struct message *m, const char *from, const char *server,
                        const struct rcpt *r, size_t n, const char *qid)
{
	struct mp_json j;

	mp_json_init(&j, stdout, 0);
	mp_json_begin_object(&j, NULL);
	mp_json_string(&j, "type", "result");
	mp_json_string(&j, "message_id", m->msgid[0] ? m->msgid : NULL);
	mp_json_string(&j, "from", from);
	mp_json_string(&j, "server", server);
	mp_json_int(&j, "bytes", m->wiresize);
	mp_json_begin_array(&j, "recipients");
	for (size_t i = 0; i < n; i++) {
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "address", r[i].addr);
		mp_json_string(&j, "status", status_of(&r[i], qid));
		if (r[i].code)
			mp_json_int(&j, "code", r[i].code);
		else
			mp_json_string(&j, "code", NULL);
		mp_json_string(&j, "reply", r[i].text[0] ? r[i].text : NULL);
		mp_json_end_object(&j);
	}
	mp_json_end_array(&j);
	mp_json_string(&j, "queued_as", qid && *qid ? qid : NULL);
	mp_json_end_object(&j);
	mp_json_finish(&j);
	fflush(stdout);
}

/* --rcpt-file: each recipient's fate on stdout, in the order of the
 * input (first appearance): "STATUS <ADDR> CODE REPLY", or with -j a JSON
 * line each ({"type":"recipient",...}) and one {"type":"summary",...} */
static void report_each(const struct settings *s, const struct rcpt *r, size_t n, const char *qid,
                        size_t ok, size_t perm, size_t waiting)
{
	for (size_t i = 0; i < n; i++) {
		const char *st = status_of(&r[i], qid);
		if (!s->json) {
			mp_term_printf(stdout, "%s <%s> %d %s\n", st, r[i].addr, r[i].code,
			               r[i].text);
			continue;
		}
		struct mp_json j;
		mp_json_init(&j, stdout, 0);
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "type", "recipient");
		mp_json_string(&j, "address", r[i].addr);
		mp_json_string(&j, "status", st);
		if (r[i].code)
			mp_json_int(&j, "code", r[i].code);
		else
			mp_json_string(&j, "code", NULL);
		mp_json_string(&j, "reply", r[i].text[0] ? r[i].text : NULL);
		mp_json_string(&j, "queued_as", !r[i].done && qid && *qid ? qid : NULL);
		mp_json_end_object(&j);
		mp_json_finish(&j);
	}
	if (s->json) {
		struct mp_json j;
		mp_json_init(&j, stdout, 0);
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "type", "summary");
		mp_json_int(&j, "recipients", (long long)n);
		mp_json_int(&j, "delivered", (long long)ok);
		mp_json_int(&j, "refused", (long long)perm);
		mp_json_int(&j, "queued", (long long)waiting);
		mp_json_string(&j, "queued_as", qid && *qid ? qid : NULL);
		mp_json_end_object(&j);
		mp_json_finish(&j);
	}
	fflush(stdout);
}

/* what deliver() left: refusals said (and mailed with -oem), the rest
 * queued (or 75 with --no-queue), -j and the log told; the exit code */
static int outcome(const struct settings *s, struct message *m, const char *from, struct rcpt *r,
                   size_t nr, int each)
{
	const char *server = s->direct ? "mx" : s->server;
	struct mp_err e;

	mp_err_clear(&e);
	size_t ok = 0, perm = 0, waiting = 0, unknown = 0, baddata = 0;
	for (size_t i = 0; i < nr; i++) {
		if (r[i].done && r[i].code / 100 == 2) {
			ok++;
			continue;
		}
		if (r[i].done) {
			perm++;
			unknown += r[i].code == 550 && strstr(r[i].text, "5.1.1") != NULL;
			baddata +=
			    strstr(r[i].text, "5.6.") != NULL; /* the message or an address */
			mp_warn("<%s>: refused: %d %s", r[i].addr, r[i].code, r[i].text);
		} else {
			waiting++;
		}
	}
	if (perm && s->mail_errors) {
		struct rcpt *bad = mp_xmalloc(perm * sizeof *bad);
		size_t nb = 0;
		for (size_t i = 0; i < nr; i++)
			if (r[i].done && r[i].code / 100 != 2)
				bad[nb++] = r[i];
		if (queue_notice(s, NULL, m->fd, from, bad, nb, 0, m->msgid, &e) < 0)
			mp_warn("failure notice: %s", e.msg);
		free(bad);
	}
	char qid[128] = "";
	if (waiting) {
		char id[128];
		const char *why = "";
		for (size_t i = 0; i < nr; i++)
			if (!r[i].done)
				why = r[i].text;
		/* those that have it, when some do: a retry sends it to them again */
		char not_sent[96] = "not sent";
		if (ok)
			snprintf(not_sent, sizeof not_sent,
			         "sent to %zu recipient%s; not sent to %zu", ok, ok == 1 ? "" : "s",
			         waiting);
		if (s->no_queue) {
			msend_log(s, from, r, nr, m->wiresize, m->msgid, server, "not sent");
			if (each)
				report_each(s, r, nr, NULL, ok, perm, waiting);
			else if (s->json)
				json_result(m, from, server, r, nr, NULL);
			mp_die(EX_TEMPFAIL, "%s, try later: %s", not_sent, why);
		}
		if (queue_add(s, m, from, r, nr, id, sizeof id, &e) < 0) {
			msend_log(s, from, r, nr, m->wiresize, m->msgid, server, "not sent");
			mp_die(EX_TEMPFAIL, "%s, and could not queue it%s: %s (%s)", not_sent,
			       ok ? " for them" : "", e.msg, why);
		}
		mp_warn("queued as %s for %zu recipient%s (msend -q sends it): %s", id, waiting,
		        waiting == 1 ? "" : "s", why);
		snprintf(qid, sizeof qid, "%s", id);
	}
	if (each)
		report_each(s, r, nr, qid, ok, perm, waiting);
	else if (s->json)
		json_result(m, from, server, r, nr, qid);
	if (s->verbose)
		fprintf(stderr, "%s: %zu delivered, %zu refused, %zu queued\n", mp_progname(), ok,
		        perm, waiting);
	if (s->log) {
		char res[1400];
		const char *why = "";
		for (size_t i = 0; i < nr; i++)
			if (r[i].code / 100 != 2 && r[i].text[0])
				why = r[i].text;
		snprintf(res, sizeof res, "%zu delivered, %zu refused, %zu queued%s%.1200s", ok,
		         perm, waiting, *why ? ": " : "", why);
		msend_log(s, from, r, nr, m->wiresize, m->msgid, server, res);
	}
	if (!perm)
		return 0;
	int code = unknown == perm ? EX_NOUSER : baddata == perm ? EX_DATAERR : EX_UNAVAILABLE;
	if (s->json) {
		char msg[80];
		snprintf(msg, sizeof msg, "%zu recipient%s refused", perm, perm == 1 ? "" : "s");
		mp_json_error_line(stdout, code, msg);
		fflush(stdout);
	}
	return code;
}

int main(int argc, char **argv)
{
	struct options o;
	struct settings s;
	struct envcfg ec;
	struct mp_err e;

	mp_setprogname(argv[0]);
	mp_err_clear(&e);
	/* a peer that hangs up is an error to handle (EPIPE), not death */
	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv, &o);
	/* an error that ends it (a configuration's too): an error line as well,
	 * where -j writes JSON (not -q or --drop, which write text) */
	if (o.s.json && (o.listq || !(o.drop || o.retry_dead || o.flush)))
		mp_json_report_fatal();
	/* the configuration file, then the account, under the command line */
	settings_init(&o, &s, &ec);
	rcpt_aliases(ec.aliases);
	if (!o.listq && !o.drop)
		dkim_check(&s); /* a key that cannot sign: 78 before anything is sent */
	if (o.listq || o.drop || o.retry_dead || o.flush)
		return queue_command(&o, &s);

	/* the envelope, the message */
	struct addrs rc = {.maildomain = s.maildomain};
	char *from = envelope_from(&o, &ec, s.maildomain);
	for (int i = 0; i < o.nargs; i++)
		rcpt_arg(&rc, o.args[i], "recipient");
	if (o.rcpt_file)
		rcpt_file(&rc, o.rcpt_file);
	compose_step(&o, from, &rc);
	struct message m = {.fd = -1, .dsn = o.dsn, .verp = o.verp, .dkim = &s};
	spool(o.tflag, from, &rc, &m);
	from = header_sender(&o, &ec, &s, &m, from);
	if (rc.n == 0)
		mp_die(EX_USAGE, "no recipients (give them as arguments, --rcpt-file or -t)");
	if (m.verp.on && !strchr(from, '@'))
		mp_die(EX_USAGE, "--verp needs an envelope sender with a domain (-f)");
	if (msg_scan(&m, &e) < 0)
		mp_die_err("stdin", &e);

	/* send, then what is left */
	size_t nr;
	struct rcpt *r = rcpt_unique(&rc, &nr);
	if (deliver(&s, &m, from, r, nr, &e) < 0) {
		msend_log(&s, from, r, nr, m.wiresize, m.msgid, s.direct ? "mx" : s.server, e.msg);
		mp_die_err(NULL, &e);
	}
	int code = outcome(&s, &m, from, r, nr, o.rcpt_file != NULL);
	settings_free();
	close(m.fd);
	mp_buf_free(&m.sig8);
	mp_buf_free(&m.sig7);
	rcpt_free(&rc);
	free(r);
	free(from);
	free(o.cm.attach);
	free(o.cm.cc);
	free(o.cm.unsub);
	free(o.bcc);
	return code;
}
