/* mfetch: the options of a run and what it carries from message to
 * message (the group commit, the progress count, the stop flag of
 * --idle). Types only: every module reads them, none owns them. */
#ifndef MFETCH_FOPTS_H
#define MFETCH_FOPTS_H

#include <poll.h>
#include <signal.h>

#include "net.h"
#include "store.h"

enum dest_kind { DEST_STORE, DEST_STDOUT, DEST_MDA };

struct msgids;      /* dedup.h */
struct pending_msg; /* deliver.c */

/* a folder to fetch: its name as the server gives it, and the server's
 * hierarchy delimiter (0: none, or not known) */
struct fsel {
	char *name;
	char delim;
};

struct fopts {
	const char *server;
	const char *account; /* -a NAME: the summary and the errors name it */
	int port, imap, tls, starttls;
	const char *ca_file, *user, *password_eval, *auth, *fingerprint;
	const char *password;             /* from the configuration file */
	const char *cert_file, *key_file; /* a client certificate */
	int all, delete_, mark_seen, list_folders, quiet, verbose;
	int peek;             /* --peek: what is new, shown; nothing recorded, deleted or flagged */
	int json;             /* --json: JSON Lines on stdout */
	struct msgids *dedup; /* set: what the destination has is not delivered again */
	/* progress on a terminal's stderr: messages done of the total known */
	int progress;
	long pg_total;
	double pg_t0, pg_last;
	char since[16]; /* --since: an IMAP date (26-Nov-2026), or empty */
	long limit;
	long long max_size;
	const char *folders[16]; /* names, or patterns with '*' or '%' */
	int nfolders;
	const char *move; /* --move: the folder delivered messages go to */
	struct fsel *sel; /* the folders the patterns selected (imap_select) */
	size_t nsel;
	const char *state;
	int timeout_ms;
	/* where to */
	enum dest_kind dest;
	const char *dest_arg;
	const char *to; /* --to as given: a pattern's folders go below it */
	int per_folder; /* a --folder is a pattern: each folder to its own */
	struct mp_store store;
	/* --idle: keep watching; the self-pipe stop_fd becomes readable and
	 * *stop non-zero once SIGTERM or SIGINT came (-1 and NULL without) */
	int idle, interval_s, idle_refresh_s;
	int stop_fd;
	volatile sig_atomic_t *stop;
	/* the group commit: messages delivered since the last commit() */
	struct pending_msg *pend; /* Maildir: for --json once they are linked */
	size_t npend, cappend;
	long uncommitted;
	long long uncommitted_bytes;
	int commit_failed; /* a batch was taken back: nothing more is recorded */
	/* the intent a Maildir batch records before it is linked: the state
	 * key (NULL: none, as with --all), what the protocol adds (PRE of
	 * intent.h), and the UIDs delivered into tmp/ since the last commit */
	const char *jkey, *jpre;
	char (*juid)[80];
	size_t njuid, capjuid;
	int intent_open; /* an intent recorded, its batch not yet */
};

struct fstats {
	long fetched, skipped_big;
	long long bytes;
};

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
