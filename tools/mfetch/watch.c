/* mfetch --idle: fetch, wait for new mail, fetch again, for as long as
 * it runs. IMAP waits in IDLE (RFC 2177), re-issued every
 * --idle-refresh seconds, or looks every --interval seconds when the
 * server has no IDLE; POP3 looks every --interval seconds over a new
 * connection (a POP3 session never sees mail that came after its
 * login). A lost connection comes back after 1 s, then 2, 4, ... up to
 * 5 minutes; an error no retry can fix (a refused login, an untrusted
 * certificate, a folder that does not exist) ends the run with its exit
 * code.
 *
 * Several folders: one process and one connection per folder (IDLE
 * watches the selected folder only), forked from this one, which waits
 * for them and passes SIGTERM/SIGINT on. They share the state file
 * (state_save locks it) and the target (Maildir names are unique, mbox
 * appends are locked).
 *
 * SIGTERM/SIGINT set a flag and write to a self-pipe: IDLE and the
 * sleeps wake at once; a message being fetched is delivered, recorded
 * and flagged first, never cut off; then LOGOUT and exit 0. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imap.h"
#include "pop3.h"
#include "report.h"
#include "watch.h"

#define BACKOFF_MAX 300 /* seconds */

static volatile sig_atomic_t stop_flag;
static int stop_pipe[2] = {-1, -1};
static pid_t kids[16];
static volatile sig_atomic_t nkids;

static void on_signal(int sig)
{
	int saved = errno;

	stop_flag = 1;
	if (write(stop_pipe[1], "x", 1) < 0) {
		/* full already: it is readable, which is all that counts */
	}
	for (sig_atomic_t i = 0; i < nkids; i++)
		kill(kids[i], sig);
	errno = saved;
}

static int catch_signals(struct mp_err *e)
{
	struct sigaction sa;

	if (stop_pipe[0] >= 0)
		return 0; /* once per process tree: children share the pipe */
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return mp_err_sys(e, EX_OSERR, "pipe");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART; /* a read or write in progress goes on */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	return 0;
}

/* one folder (IMAP) or the maildrop (POP3), reconnecting: 0 when told
 * to stop, -1 on an error retrying cannot fix */
static int watch_one(struct fopts *o, size_t folder, struct mp_err *e)
{
	int backoff = 1;

	for (;;) {
		int settled = 0, rc;
		if (o->imap) {
			rc = imap_watch(o, folder, &settled, e);
		} else {
			struct fstats round = {0};
			double t0 = mp_net_now_ms();
			rc = pop3_fetch(o, &round, e);
			if (rc == 0)
				report_round(o, &round, t0);
			settled = rc == 0;
		}
		if (stopping(o))
			return 0;
		if (rc == 0 && !o->imap) {
			backoff = 1;
			if (nap(o, o->interval_s * 1000))
				return 0;
			continue;
		}
		if (rc == 0)
			return 0;
		if (e->code != EX_TEMPFAIL && e->code != EX_PROTOCOL)
			return -1;
		if (settled)
			backoff = 1; /* it worked for a while: a fresh start */
		if (!o->quiet)
			mp_warn("%s: %s; reconnecting in %d s", o->server, e->msg, backoff);
		mp_err_clear(e);
		if (nap(o, backoff * 1000))
			return 0;
		backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
	}
}

/* the folder kids of watch() */
static int watch_child(int i, void *ctx)
{
	struct fopts *o = ctx;
	struct mp_err e;

	mp_err_clear(&e);
	if (watch_one(o, (size_t)i, &e) < 0)
		mp_die_err(o->server, &e);
	return 0;
}

int fork_each(int n, int concurrent, int (*child)(int i, void *ctx), void *ctx, struct mp_err *e)
{
	sigset_t block, old;
	int code = 0;

	if (n > (int)(sizeof kids / sizeof kids[0]))
		return mp_err_set(e, EX_USAGE, "at most %zu at once", sizeof kids / sizeof kids[0]);
	if (catch_signals(e) < 0)
		return -1;
	/* a signal between fork and kids[] would miss a child: hold them */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	for (int i = 0; i < n && !stop_flag; i++) {
		sigprocmask(SIG_BLOCK, &block, &old);
		pid_t pid = fork();
		if (pid < 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			mp_err_sys(e, EX_OSERR, "fork");
			for (sig_atomic_t k = 0; k < nkids; k++)
				kill(kids[k], SIGTERM);
			code = EX_OSERR;
			break;
		}
		if (pid == 0) {
			nkids = 0;
			sigprocmask(SIG_SETMASK, &old, NULL);
			exit(child(i, ctx));
		}
		kids[nkids] = pid;
		nkids = nkids + 1;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (concurrent)
			continue;
		/* one after the other: this one ends before the next starts */
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		nkids = 0;
		int c = WIFEXITED(st) ? WEXITSTATUS(st) : EX_TEMPFAIL;
		if (c && !code)
			code = c;
	}
	/* the first failure is the exit code; the others go on */
	for (sig_atomic_t left = nkids; concurrent && left > 0;) {
		int st;
		if (waitpid(-1, &st, 0) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		left--;
		int c = WIFEXITED(st) ? WEXITSTATUS(st) : EX_SOFTWARE;
		if (c && !code)
			code = c;
	}
	return code;
}

int watch(struct fopts *o, struct mp_err *e)
{
	if (catch_signals(e) < 0)
		return -1;
	o->stop = &stop_flag;
	o->stop_fd = stop_pipe[0];
	/* the folders: a pattern is asked for once, at the start */
	if (o->imap && imap_select(o, e) < 0)
		return -1;
	if (o->imap && !o->nsel)
		return mp_err_set(e, EX_UNAVAILABLE, "--idle: no folder matches");
	if (!o->imap || o->nsel <= 1)
		return watch_one(o, 0, e) < 0 ? -1 : 0;
	if (o->nsel > sizeof kids / sizeof kids[0])
		return mp_err_set(e, EX_USAGE,
		                  "--idle watches at most %zu folders, one process each; the "
		                  "patterns select %zu",
		                  sizeof kids / sizeof kids[0], o->nsel);
	int code = fork_each((int)o->nsel, 1, watch_child, o, e);
	if (code == EX_OSERR && e->code)
		mp_warn("%s: %s", o->server, e->msg);
	return code;
}
