/* mfetch: internal interfaces between the tool and its protocol modules. */
#ifndef MFETCH_H
#define MFETCH_H

#include <poll.h>
#include <signal.h>
#include <stdio.h>

#include "net.h"
#include "proto.h"
#include "store.h"
#include "util.h"

enum dest_kind { DEST_STORE, DEST_STDOUT, DEST_MDA };

struct fstats;

/* the Message-IDs a destination holds (dedup.c), after a UIDVALIDITY
 * change */
struct msgids {
	unsigned char (*v)[16]; /* SHA-256 of each ID, 16 bytes of it */
	size_t n, cap;
	int sorted;
	long skipped, kept; /* messages not delivered again, and delivered */
};
void msgids_add(struct msgids *m, const char *id);
int msgids_has(struct msgids *m, const char *id);
void msgids_free(struct msgids *m);
/* the Message-ID of a spooled message (its first 64 KiB): 1, or 0 none */
int msgid_from_fd(int fd, char *out, size_t n);
struct mp_store;
int msgids_of_dest(const struct mp_store *st, struct msgids *m, struct mp_err *e);

struct fopts {
	const char *server;
	int port, imap, tls, starttls;
	const char *ca_file, *user, *password_eval, *auth, *fingerprint;
	const char *password;             /* from the configuration file */
	const char *cert_file, *key_file; /* a client certificate */
	int all, delete_, mark_seen, list_folders, quiet, verbose;
	int json;             /* --json: JSON Lines on stdout */
	struct msgids *dedup; /* set: what the destination has is not delivered again */
	/* progress on a terminal's stderr: messages done of the total known */
	int progress;
	long pg_total;
	double pg_t0, pg_last;
	char since[16]; /* --since: an IMAP date (26-Nov-2026), or empty */
	long limit;
	long long max_size;
	const char *folders[16];
	int nfolders;
	const char *state;
	int timeout_ms;
	/* where to */
	enum dest_kind dest;
	const char *dest_arg;
	struct mp_store store;
	/* --idle: keep watching; the self-pipe stop_fd becomes readable and
	 * *stop non-zero once SIGTERM or SIGINT came (-1 and NULL without) */
	int idle, interval_s, idle_refresh_s;
	int stop_fd;
	volatile sig_atomic_t *stop;
	/* after each round of an --idle run: the summary of that round */
	void (*on_round)(const struct fopts *o, const struct fstats *st, double t0_ms);
	/* the group commit: messages delivered since the last commit() */
	struct pending_msg *pend; /* Maildir: for --json once they are linked */
	size_t npend, cappend;
	long uncommitted;
	long long uncommitted_bytes;
	int commit_failed; /* a batch was taken back: nothing more is recorded */
};

struct fstats {
	long fetched, skipped_big;
	long long bytes;
};

/* A message that arrived whole in a temporary file: deliver it. Returns
 * 0 when it is delivered, -1 with e filled (e->code 75 for "try
 * later"). Delivered is not yet durable: see commit(). */
int deliver_file(struct fopts *o, int fd, const char *uid, const char *folder, struct mp_err *e);

/* The group commit. Into a Maildir, deliver_file only writes the
 * message into tmp/; commit() makes every message delivered since the
 * last commit durable at once (one sync for the files, the links into
 * new/, the directory fsyncs). An mbox append is flushed by deliver_file
 * itself; an MDA's exit, and stdout, are their own commit. The order for
 * a batch is always: deliver each, commit(), one state_save() for all,
 * then the server may flag or delete them. commit() returns 0, or -1
 * with e filled once the batch was taken back (none of it delivered);
 * after that it fails every time, so that nothing of it is recorded. */
#define BATCH_MSGS  64                   /* messages a commit covers at most */
#define BATCH_BYTES (16LL * 1024 * 1024) /* and bytes, when more come at once */
#define PIPE_WINDOW 32                   /* POP3: RETRs sent ahead of their replies */
int commit(struct fopts *o, struct mp_err *e);
/* 1 when the deliveries since the last commit fill a batch */
int commit_due(const struct fopts *o);
/* 1 when each message is recorded as soon as it is delivered (an MDA,
 * stdout): a crash then never delivers one twice there */
int per_message(const struct fopts *o);

/* the only-new state: one line per folder or server ("KEY VALUE...") */
int state_load(const struct fopts *o, const char *key, struct mp_buf *value);
int state_save(const struct fopts *o, const char *key, const char *value, struct mp_err *e);

char *password(const struct fopts *o, struct mp_err *e);
/* A SASL challenge as the server sent it (base64, after "+ ") to the
 * response to send (base64, in out): 0, or -1 with e filled. */
struct mp_sasl;
int sasl_respond(struct mp_sasl *c, const char *ch64, struct mp_buf *out, struct mp_err *e);
int connect_session(struct fopts *o, struct mp_proto *p, struct mp_err *e);

/* A line the dialogue needs: the end of the connection is an error too
 * (75: worth retrying). 1, or -1 with e filled. */
static inline int need_line(struct mp_proto *p, char **l, size_t *len, struct mp_err *e)
{
	int r = mp_proto_readline(p, l, len, e);

	if (r == 0)
		mp_err_set(e, EX_TEMPFAIL, "the server closed the connection");
	return r > 0 ? 1 : -1;
}

/* the progress line, at most ten times a second (done: the last one,
 * then the line is cleared) */
void progress(struct fopts *o, const struct fstats *st, int done);
int imap_fetch(struct fopts *o, struct fstats *st, struct mp_err *e);
int pop3_fetch(struct fopts *o, struct fstats *st, struct mp_err *e);
/* --idle over one connection: fetch FOLDER, then IDLE (or poll every
 * interval) and fetch again, until told to stop (0) or an error (-1).
 * *logged_in says whether the login got through, for the back-off. */
int imap_watch(struct fopts *o, const char *folder, int *logged_in, struct mp_err *e);
/* --idle: the whole loop, reconnects with back-off included (watch.c) */
int watch(struct fopts *o, struct mp_err *e);
/* Run child(i, ctx) in a process of its own for each i < n: all at once
 * (concurrent) or one after the other; SIGTERM and SIGINT are passed on
 * to them and stop further starts. The first non-zero exit status, or 0
 * (watch.c). */
int fork_each(int n, int concurrent, int (*child)(int i, void *ctx), void *ctx, struct mp_err *e);

static inline int stopping(const struct fopts *o)
{
	return o->stop && *o->stop;
}

/* Sleep ms milliseconds unless told to stop first: 1 when told. */
static inline int nap(const struct fopts *o, int ms)
{
	struct pollfd pf = {o->stop_fd, POLLIN, 0};

	while (!stopping(o) && ms > 0) {
		double t0 = mp_net_now_ms();
		if (poll(&pf, o->stop_fd >= 0 ? 1 : 0, ms) > 0)
			break;
		ms -= (int)(mp_net_now_ms() - t0) + 1;
	}
	return stopping(o);
}

#endif
