/* mbox: a message appended to an mbox file under its locks: spooled
 * first (quoted, LF line ends), then the From_ line, the message and a
 * blank line written and fsynced; on any error the file is cut back to
 * its old size before the locks go. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "store_int.h"

/* the message, quoted and with LF line ends, into an unlinked temporary
 * file: the mbox is locked only for the quick copy, never while a slow
 * sender is still sending */
static int spool(const struct mp_msgsrc *src, struct mp_store_copy *c, const char *seg, size_t len,
                 int bol, long long *size, struct mp_err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/mdeliver.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "spool file %s", path);
	unlink(path);
	c->mbox = 1;
	if (mp_store_copy_out(src, c, fd, seg, len, bol, size, e) < 0) {
		if (!e || e->code == EX_IOERR)
			mp_err_sys(e, EX_TEMPFAIL, "spool file");
		close(fd);
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return mp_err_sys(e, EX_TEMPFAIL, "spool file");
	}
	return fd;
}

int mp_store_mbox_deliver(struct mp_store *s, const struct mp_msgsrc *src, struct mp_store_copy *c,
                          struct mp_delivered *out, struct mp_err *e)
{
	char lock[PATH_MAX], head[5], tail[2], date[64], sep[3] = "", buf[65536];
	const char *seg;
	size_t len;
	int bol, fd = -1, sfd, dot = 0, rc = -1;
	long long msgsize = 0, recover = -1;
	struct stat st;
	off_t size = 0, pos;
	struct tm tm;
	time_t t = c->d->date ? c->d->date : time(NULL);

	if (mp_store_copy_start(src, c, &seg, &len, &bol, e) < 0)
		return -1;
	if ((sfd = spool(src, c, seg, len, bol, &msgsize, e)) < 0)
		return -1;
	if (s->mbox_fd >= 0) { /* a batch: locked already */
		fd = s->mbox_fd;
		if (fstat(fd, &st) < 0) {
			mp_err_sys(e, EX_IOERR, "%s", s->path);
			goto out;
		}
		size = st.st_size;
		goto append;
	}
	/* -p: its directories, now that the message is known to be one */
	if (s->parents && strrchr(s->path, '/') > s->path) {
		snprintf(lock, sizeof lock, "%.*s", (int)(strrchr(s->path, '/') - s->path),
		         s->path);
		if (mp_store_mkdir(lock, 1, e) < 0)
			goto out;
	}
	snprintf(lock, sizeof lock, "%s.lock", s->path);
	if ((dot = mp_store_dotlock(lock, s->lock_timeout, &recover, e)) < 0)
		goto out;
	fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		mp_err_sys(e, errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_CANTCREAT, "%s",
		           s->path);
		goto out;
	}
	if (mp_store_lock_fd(fd, s->path, s->lock_timeout, e) < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		mp_err_sys(e, EX_IOERR, "%s", s->path);
		goto out;
	}
	/* a writer died mid-append under the lock we broke: cut its part off */
	if (recover >= 0 && recover < st.st_size) {
		if (ftruncate(fd, (off_t)recover) < 0 || mp_fsync_fd(fd) < 0) {
			mp_err_sys(e, mp_errno_code(errno), "%s: undo an unfinished append",
			           s->path);
			goto out;
		}
		st.st_size = (off_t)recover;
	}
	size = st.st_size;
	if (size > 0 && (pread(fd, head, 5, 0) != 5 || memcmp(head, "From ", 5) != 0)) {
		mp_err_set(e, EX_CANTCREAT, "%s: not an mbox (does not start with \"From \")",
		           s->path);
		goto out;
	}
	if (dot > 0)
		mp_store_dotlock_note(lock, (long long)size);
	if (c->d->batch) { /* held until mp_store_sync */
		s->mbox_fd = fd;
		s->mbox_dot = dot > 0;
		s->mbox_start = (long long)size;
	}
append:
	/* a From_ line must follow a blank line */
	if (size >= 2 && pread(fd, tail, 2, size - 2) == 2 && !(tail[0] == '\n' && tail[1] == '\n'))
		strcpy(sep, tail[1] == '\n' ? "\n" : "\n\n");
	else if (size == 1)
		strcpy(sep, "\n");
	localtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	int hl = snprintf(buf, sizeof buf, "%sFrom %s %s\n", sep,
	                  c->sender[0] ? c->sender : "MAILER-DAEMON", date);
	if (hl < 0 || (size_t)hl >= sizeof buf) {
		mp_err_set(e, EX_DATAERR, "envelope sender too long");
		goto out;
	}
	out->offset = (long long)size + (long long)strlen(sep);
	pos = size;
	if (pwrite(fd, buf, (size_t)hl, pos) != hl) {
		mp_err_sys(e, mp_errno_code(errno), "write %s", s->path);
		goto undo;
	}
	pos += hl;
	for (;;) {
		ssize_t n = read(sfd, buf, sizeof buf);
		if (n < 0) {
			mp_err_sys(e, EX_TEMPFAIL, "spool file");
			goto undo;
		}
		if (n == 0)
			break;
		for (ssize_t k = 0; k < n;) {
			ssize_t w = pwrite(fd, buf + k, (size_t)(n - k), pos);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				mp_err_sys(e, mp_errno_code(errno), "write %s", s->path);
				goto undo;
			}
			k += w;
			pos += w;
		}
	}
	if (pwrite(fd, "\n", 1, pos) != 1) {
		mp_err_sys(e, mp_errno_code(errno), "write %s", s->path);
		goto undo;
	}
	if (!c->d->batch && mp_fsync_fd(fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "fsync %s", s->path);
		goto undo;
	}
	/* From_ line, message, blank line */
	out->size = (long long)hl - (long long)strlen(sep) + msgsize + 1;
	snprintf(out->path, sizeof out->path, "%s", s->path);
	snprintf(out->msgid, sizeof out->msgid, "%s", c->msgid);
	rc = 0;
	goto out;
undo:
	/* leave the mbox as it was: no partial message, ever */
	if (ftruncate(fd, size) == 0)
		(void)mp_fsync_fd(fd);
out:
	if (fd >= 0 && fd == s->mbox_fd)
		fd = -1, dot = 0; /* a batch's: kept */
	if (fd >= 0)
		close(fd); /* drops the fcntl lock */
	if (dot > 0)
		unlink(lock);
	close(sfd);
	return rc;
}

int mp_store_mbox_release(struct mp_store *s, int sync, struct mp_err *e)
{
	char lock[PATH_MAX];
	int rc = 0;

	if (s->mbox_fd < 0)
		return 0;
	if (sync && mp_fsync_fd(s->mbox_fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "fsync %s", s->path);
		rc = -1;
	}
	/* a batch never made durable was never reported: it goes */
	if ((!sync || rc < 0) && ftruncate(s->mbox_fd, (off_t)s->mbox_start) == 0)
		(void)mp_fsync_fd(s->mbox_fd);
	close(s->mbox_fd);
	if (s->mbox_dot) {
		snprintf(lock, sizeof lock, "%s.lock", s->path);
		unlink(lock);
	}
	s->mbox_fd = -1;
	s->mbox_dot = 0;
	return rc;
}
