/* lock: the locks of a mailbox file: an fcntl lock waited for at most
 * so long, and FILE.lock (O_EXCL) with its owner's pid, broken when that
 * owner is gone or the lock is stale. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
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

/* FILE.lock with O_EXCL, holding "PID SIZE": our pid and, once known, the
 * mbox size before our append. A lock whose process is gone (or older
 * than 5 minutes) is broken, and the size it recorded is returned in
 * *recover so that a half-written append can be cut off. Returns 1 when
 * taken, 0 when a dotlock is not possible here (directory not writable:
 * fcntl alone then), -1 on time-out or failure. */
int mp_store_dotlock(const char *lock, double timeout, long long *recover, struct mp_err *e)
{
	double t0 = now_s();
	int ms = 5;

	*recover = -1;
	for (;;) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		struct stat st;
		if (fd >= 0) {
			char pid[32];
			int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
			if (mp_write_full(fd, pid, (size_t)n) < 0) {
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
			return mp_err_sys(e, lock_code(errno), "%s", lock);
		char buf[64] = "";
		long pid = 0;
		long long size = -1;
		struct stat seen = {0};
		int rfd = open(lock, O_RDONLY | O_CLOEXEC);
		if (rfd >= 0) {
			ssize_t n = fstat(rfd, &seen) == 0 ? read(rfd, buf, sizeof buf - 1) : -1;
			buf[n > 0 ? n : 0] = '\0';
			close(rfd);
			if (sscanf(buf, "%ld %lld", &pid, &size) < 1)
				pid = 0;
		}
		int dead = rfd >= 0 && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
		if (dead || (rfd >= 0 && time(NULL) - seen.st_mtime > MBOX_STALE_LOCK)) {
			/* Break the lock we read, and only that one: its owner may
			 * have finished and another writer taken a new lock since
			 * (breaking that one, and cutting the mbox back to the size
			 * the old lock recorded, would lose mail). The lock is
			 * renamed away first, then checked to be the file we read. */
			char away[4200], buf2[64] = "";
			long pid2 = 0;
			long long size2 = -1;
			snprintf(away, sizeof away, "%s.broken.%ld", lock, (long)getpid());
			if (rename(lock, away) == 0) {
				/* the same owner as the one found dead (an inode number
				 * says nothing: a new lock may reuse the old one's) */
				int afd = open(away, O_RDONLY | O_CLOEXEC);
				if (afd >= 0) {
					ssize_t n = read(afd, buf2, sizeof buf2 - 1);
					buf2[n > 0 ? n : 0] = '\0';
					close(afd);
					if (sscanf(buf2, "%ld %lld", &pid2, &size2) < 1)
						pid2 = 0;
				}
				if (strcmp(buf2, buf) == 0 &&
				    (dead ? kill((pid_t)pid2, 0) < 0 && errno == ESRCH
				          : stat(away, &st) == 0 &&
				                time(NULL) - st.st_mtime > MBOX_STALE_LOCK)) {
					unlink(away);
					if (size >= 0)
						*recover = size; /* its owner is gone */
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
 * lock if we die mid-append */
void mp_store_dotlock_note(const char *lock, long long size)
{
	char buf[64];
	int fd = open(lock, O_WRONLY | O_TRUNC | O_CLOEXEC), n;

	if (fd < 0)
		return;
	n = snprintf(buf, sizeof buf, "%ld %lld\n", (long)getpid(), size);
	if (mp_write_full(fd, buf, (size_t)n) == 0)
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
