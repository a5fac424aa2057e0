/* lock: the locks of a mailbox file: an fcntl lock waited for at most
 * so long, and FILE.lock (O_EXCL) with its owner's pid and host, broken
 * when that owner is known to be gone, or cannot be checked and the lock
 * is stale; never while its owner lives. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "store_int.h"

#define MBOX_STALE_LOCK 300 /* seconds */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap(int *ms)
{
	struct timespec ts = {0, (long)*ms * 1000000L};

	nanosleep(&ts, NULL);
	if (*ms < 200)
		*ms *= 2;
}

static int lock_code(int err)
{
	/* a missing or unusable directory cannot be fixed by retrying */
	return err == ENOENT || err == ENOTDIR ? EX_CANTCREAT : mp_errno_code(err);
}

/* the lock file cannot be made: when its directory is missing (or is no
 * directory), name that directory, which is the mailbox's, not the lock */
static int lock_fail(const char *lock, struct mp_err *e)
{
	int err = errno;
	const char *slash = strrchr(lock, '/');

	if ((err == ENOENT || err == ENOTDIR) && slash) {
		int n = slash == lock ? 1 : (int)(slash - lock);
		mp_err_set(e, EX_CANTCREAT, "%.*s: %s", n, lock, strerror(err));
		errno = err;
		return -1;
	}
	return mp_err_sys(e, lock_code(err), "%s", lock);
}

/* seconds after which a lock whose owner cannot be checked is stale:
 * MBOX_STALE_LOCK, or MAILPIPE_STALE_LOCK_SECONDS (for tests) */
static long stale_age(void)
{
	const char *v = getenv("MAILPIPE_STALE_LOCK_SECONDS");
	char *end;
	long n;

	if (v && *v && (n = strtol(v, &end, 10)) >= 0 && !*end)
		return n;
	return MBOX_STALE_LOCK;
}

/* who holds a lock, by what it says: "PID SIZE HOST" (ours, SIZE -1
 * before it is known), "PID SIZE" (ours before hosts were recorded), or
 * "PID" or nothing (other programs') */
struct owner {
	long pid;
	long long size;
	char host[256]; /* "" when it does not say */
};

enum { OWNER_UNKNOWN, OWNER_ALIVE, OWNER_DEAD };

static void parse_owner(const char *buf, struct owner *o)
{
	o->pid = 0;
	o->size = -1;
	o->host[0] = '\0';
	if (sscanf(buf, "%ld %lld %255s", &o->pid, &o->size, o->host) < 1)
		o->pid = 0;
}

/* A process of this host (a lock naming no host is taken to be of this
 * host, as locks were before hosts were recorded) is alive or dead by
 * its pid; of another host, or without a pid, it cannot be known. A
 * stopped process lives. */
static int owner_state(const struct owner *o, const char *host)
{
	if (o->pid <= 0 || (o->host[0] && strcmp(o->host, host) != 0))
		return OWNER_UNKNOWN;
	return kill((pid_t)o->pid, 0) < 0 && errno == ESRCH ? OWNER_DEAD : OWNER_ALIVE;
}

static void my_host(char *host, size_t n)
{
	if (gethostname(host, n - 1) < 0 || !host[0])
		snprintf(host, n, "localhost");
	host[n - 1] = '\0';
	host[strcspn(host, " \t\n")] = '\0';
}

/* what a lock file says, NUL-terminated; -1 if it cannot be read */
static int read_lock(const char *path, char *buf, size_t n, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	buf[0] = '\0';
	if (fd < 0)
		return -1;
	got = fstat(fd, st) == 0 ? read(fd, buf, n - 1) : -1;
	buf[got > 0 ? got : 0] = '\0';
	close(fd);
	return 0;
}

/* FILE.lock with O_EXCL, holding "PID SIZE HOST": our pid, once known the
 * mbox size before our append, and our host. A lock is broken when its
 * owner is known to be dead (this host, pid gone): the size it recorded
 * is returned in *recover so that its half-written append can be cut
 * off. A lock whose owner cannot be checked (no pid, another host) is
 * broken once older than stale_age(), and nothing is cut: its owner may
 * still be writing, or have finished and reported the message
 * delivered. A live owner's lock is never broken, however old: it is
 * waited for. Returns 1 when taken, 0 when a dotlock is not possible here
 * (directory not writable: fcntl alone then), -1 on time-out or failure. */
int mp_store_dotlock(const char *lock, double timeout, long long *recover, struct mp_err *e)
{
	double t0 = now_s();
	long stale = stale_age();
	char host[256];
	int ms = 5;

	*recover = -1;
	my_host(host, sizeof host);
	for (;;) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			char me[320];
			int n = snprintf(me, sizeof me, "%ld -1 %s\n", (long)getpid(), host);
			if (mp_write_full(fd, me, (size_t)n) < 0) {
				close(fd);
				unlink(lock);
				return mp_err_sys(e, lock_code(errno), "%s", lock);
			}
			close(fd);
			return 1;
		}
		if (errno == EACCES || errno == EROFS)
			return 0;
		if (errno != EEXIST)
			return lock_fail(lock, e);
		char buf[320];
		struct stat seen = {0};
		struct owner o;
		int readable = read_lock(lock, buf, sizeof buf, &seen) == 0;
		parse_owner(buf, &o);
		int state = readable ? owner_state(&o, host) : OWNER_ALIVE;
		if (state == OWNER_DEAD ||
		    (state == OWNER_UNKNOWN && time(NULL) - seen.st_mtime > stale)) {
			/* Break the lock we read, and only that one: its owner may
			 * have finished and another writer taken a new lock since
			 * (breaking that one, and cutting the mbox back to the size
			 * the old lock recorded, would lose mail). The lock is
			 * renamed away first, then checked to be the file we read. */
			char away[4200], buf2[320];
			struct stat st;
			struct owner o2;
			snprintf(away, sizeof away, "%s.broken.%ld", lock, (long)getpid());
			if (rename(lock, away) == 0) {
				/* the same owner as the one judged (an inode number
				 * says nothing: a new lock may reuse the old one's) */
				read_lock(away, buf2, sizeof buf2, &st);
				parse_owner(buf2, &o2);
				if (strcmp(buf2, buf) == 0 &&
				    (state == OWNER_DEAD
				         ? owner_state(&o2, host) == OWNER_DEAD
				         : owner_state(&o2, host) == OWNER_UNKNOWN &&
				               time(NULL) - st.st_mtime > stale)) {
					unlink(away);
					if (state == OWNER_DEAD && o.size >= 0)
						*recover = o.size; /* its owner is gone */
				} else {
					/* a live lock: given back, unless a new one is there */
					if (link(away, lock) < 0 && errno != EEXIST)
						(void)rename(away, lock);
					unlink(away);
				}
			}
			continue;
		}
		if (now_s() - t0 > timeout)
			return mp_err_set(e, EX_TEMPFAIL, "%s: still locked after %.0f s", lock,
			                  timeout);
		nap(&ms);
	}
}

/* note the size the mbox had before our append, for whoever finds our
 * lock if we die mid-append: written over the old note in one write,
 * padded with blanks to its length, never truncated first (a lock read
 * empty would be waited for until stale, and nothing cut) */
void mp_store_dotlock_note(const char *lock, long long size)
{
	char buf[320], host[256];
	int fd = open(lock, O_WRONLY | O_CLOEXEC), n;
	struct stat st;

	if (fd < 0)
		return;
	my_host(host, sizeof host);
	n = snprintf(buf, sizeof buf, "%ld %lld %s\n", (long)getpid(), size, host);
	if (n > 0 && fstat(fd, &st) == 0)
		while (n < st.st_size && n < (int)sizeof buf - 1)
			buf[n++] = ' ';
	if (n > 0 && pwrite(fd, buf, (size_t)n, 0) == n)
		(void)mp_fsync_fd(fd);
	close(fd);
}

int mp_store_lock_fd(int fd, const char *path, double timeout, struct mp_err *e)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	double t0 = now_s();
	int ms = 5;

	while (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return mp_err_sys(e, EX_TEMPFAIL, "lock %s", path);
		if (now_s() - t0 > timeout)
			return mp_err_set(e, EX_TEMPFAIL, "%s: still locked after %.0f s", path,
			                  timeout);
		nap(&ms);
	}
	return 0;
}
