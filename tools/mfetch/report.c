/* mfetch: what a run tells: the progress line on a terminal, a --json
 * line for each message, the summary */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "json.h"
#include "net.h"
#include "report.h"

void report_message(const struct fopts *o, long long bytes, const char *uid, const char *folder,
                    const char *where)
{
	struct mp_json j;

	mp_json_init(&j, stdout, 0);
	mp_json_begin_object(&j, NULL);
	mp_json_string(&j, "type", "message");
	mp_json_string(&j, "server", o->server);
	mp_json_string(&j, "protocol", o->imap ? "imap" : "pop3");
	mp_json_string(&j, "folder", o->imap ? folder : NULL);
	/* an IMAP UID is a number; a POP3 UIDL is a string */
	if (o->imap)
		mp_json_int(&j, "uid", strtoll(uid, NULL, 10));
	else
		mp_json_string(&j, "uid", NULL);
	mp_json_string(&j, "uidl", o->imap ? NULL : uid);
	if (bytes >= 0)
		mp_json_int(&j, "bytes", bytes);
	else
		mp_json_string(&j, "bytes", NULL);
	mp_json_string(&j, "path", where);
	mp_json_end_object(&j);
	mp_json_finish(&j);
	fflush(stdout);
}

void progress(struct fopts *o, const struct fstats *st, int done)
{
	double now = mp_net_now_ms();

	if (!o->progress)
		return;
	if (done) {
		if (o->pg_last > 0)
			fputs("\r\033[K", stderr); /* the summary takes the line */
		return;
	}
	if (now - o->pg_last < 100)
		return;
	if (o->pg_t0 <= 0)
		o->pg_t0 = now;
	o->pg_last = now;
	double s = (now - o->pg_t0) / 1000;
	fprintf(stderr, "\r\033[K%s: %ld/%ld messages, %.1f MB, %.0f/s", mp_progname(), st->fetched,
	        o->pg_total, (double)st->bytes / 1e6, s > 0 ? (double)st->fetched / s : 0.0);
}

void report_summary(const struct fopts *o, const struct fstats *st, double t0)
{
	if (o->json) {
		struct mp_json j;
		mp_json_init(&j, stdout, 0);
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "type", "summary");
		mp_json_string(&j, "server", o->server);
		mp_json_string(&j, "protocol", o->imap ? "imap" : "pop3");
		mp_json_int(&j, "fetched", st->fetched);
		mp_json_int(&j, "bytes", st->bytes);
		mp_json_int(&j, "left_too_big", st->skipped_big);
		mp_json_fixed(&j, "seconds", (mp_net_now_ms() - t0) / 1000, 3);
		mp_json_end_object(&j);
		mp_json_finish(&j);
		fflush(stdout);
		return;
	}
	fprintf(stderr, "%s: %s%sfetched %ld message%s (%lld bytes) from %s in %.1f s%s\n",
	        mp_progname(), o->account ? o->account : "", o->account ? ": " : "", st->fetched,
	        st->fetched == 1 ? "" : "s", st->bytes, o->server, (mp_net_now_ms() - t0) / 1000,
	        st->skipped_big ? " (some left: too big)" : "");
}

void report_round(const struct fopts *o, const struct fstats *st, double t0)
{
	if ((!o->quiet || o->json) && (st->fetched || st->skipped_big))
		report_summary(o, st, t0);
}
