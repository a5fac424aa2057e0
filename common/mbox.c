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

#include <openssl/evp.h>

#include "io.h"
#include "store_int.h"

/* SHA-256: a context started, then its digest in hex (the context freed) */
static EVP_MD_CTX *sha_start(struct mp_err *e)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();

	if (h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1)
		return h;
	EVP_MD_CTX_free(h);
	mp_err_set(e, EX_TEMPFAIL, "SHA-256 not available");
	return NULL;
}

static int sha_hex(EVP_MD_CTX *h, char out[65], struct mp_err *e)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int ok = EVP_DigestFinal_ex(h, d, &n) == 1 && n == 32;

	EVP_MD_CTX_free(h);
	if (!ok)
		return mp_err_set(e, EX_TEMPFAIL, "SHA-256 failed");
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* what an append is about to write, for the caller's before_append: the
 * From_ line (from, fl bytes), the spooled message (sfd, read to its end
 * and rewound), a blank line */
static int append_digest(int sfd, const char *from, size_t fl, char out[65], struct mp_err *e)
{
	char buf[65536];
	EVP_MD_CTX *h = sha_start(e);
	ssize_t n;

	if (!h)
		return -1;
	EVP_DigestUpdate(h, from, fl);
	while ((n = read(sfd, buf, sizeof buf)) > 0)
		EVP_DigestUpdate(h, buf, (size_t)n);
	EVP_DigestUpdate(h, "\n", 1);
	if (n < 0 || lseek(sfd, 0, SEEK_SET) < 0) {
		EVP_MD_CTX_free(h);
		return mp_err_sys(e, EX_TEMPFAIL, "spool file");
	}
	return sha_hex(h, out, e);
}

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

/* the mbox's locks taken and the file opened: *size is where an append
 * goes (a dead writer's unfinished append cut off first); -1 (e filled)
 * with nothing held */
static int mbox_lock(struct mp_store *s, int *dot, off_t *size, struct mp_err *e)
{
	char lock[PATH_MAX], head[5];
	long long recover = -1;
	struct stat st;
	int fd = -1;

	*dot = 0;
	/* -p: its directories, now that the message is known to be one */
	if (s->parents && strrchr(s->path, '/') > s->path) {
		snprintf(lock, sizeof lock, "%.*s", (int)(strrchr(s->path, '/') - s->path),
		         s->path);
		if (mp_store_mkdir(lock, 1, e) < 0)
			return -1;
	}
	snprintf(lock, sizeof lock, "%s.lock", s->path);
	if ((*dot = mp_store_dotlock(lock, s->lock_timeout, &recover, e)) < 0)
		return -1;
	fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		mp_err_sys(e, errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_CANTCREAT, "%s",
		           s->path);
		goto fail;
	}
	if (mp_store_lock_fd(fd, s->path, s->lock_timeout, e) < 0)
		goto fail;
	if (fstat(fd, &st) < 0) {
		mp_err_sys(e, EX_IOERR, "%s", s->path);
		goto fail;
	}
	/* a writer died mid-append under the lock we broke: cut its part off */
	if (recover >= 0 && recover < st.st_size) {
		if (ftruncate(fd, (off_t)recover) < 0 || mp_fsync_fd(fd) < 0) {
			mp_err_sys(e, mp_errno_code(errno), "%s: undo an unfinished append",
			           s->path);
			goto fail;
		}
		st.st_size = (off_t)recover;
	}
	*size = st.st_size;
	if (*size > 0 && (pread(fd, head, 5, 0) != 5 || memcmp(head, "From ", 5) != 0)) {
		mp_err_set(e, EX_CANTCREAT, "%s: not an mbox (does not start with \"From \")",
		           s->path);
		goto fail;
	}
	if (*dot > 0)
		mp_store_dotlock_note(lock, (long long)*size);
	return fd;
fail:
	if (fd >= 0)
		close(fd); /* drops the fcntl lock */
	if (*dot > 0)
		unlink(lock);
	*dot = 0;
	return -1;
}

static void mbox_unlock(struct mp_store *s, int fd, int dot)
{
	char lock[PATH_MAX];

	if (fd >= 0)
		close(fd); /* drops the fcntl lock */
	snprintf(lock, sizeof lock, "%s.lock", s->path);
	if (dot > 0)
		unlink(lock);
}

int mp_store_mbox_holds(const char *path, const struct mp_mbox_append *a, double timeout,
                        struct mp_err *e)
{
	struct mp_store s = {.path = (char *)path, .lock_timeout = timeout, .mbox_fd = -1};
	char buf[65536], got[65];
	int fd, dot, rc = 0;
	off_t size;
	struct stat st;
	EVP_MD_CTX *h;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : mp_err_sys(e, EX_TEMPFAIL, "%s", path);
	if ((fd = mbox_lock(&s, &dot, &size, e)) < 0)
		return -1;
	/* appends never move the bytes before them: ours is where it began,
	 * or it is not there */
	if (a->offset < 0 || a->size <= 0 || (long long)size - a->offset < a->size)
		goto out;
	if (!(h = sha_start(e))) {
		rc = -1;
		goto out;
	}
	for (long long done = 0; done < a->size;) {
		size_t want =
		    a->size - done < (long long)sizeof buf ? (size_t)(a->size - done) : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)(a->offset + done));
		if (n <= 0) {
			EVP_MD_CTX_free(h);
			rc = mp_err_sys(e, EX_TEMPFAIL, "read %s", path);
			goto out;
		}
		EVP_DigestUpdate(h, buf, (size_t)n);
		done += n;
	}
	rc = sha_hex(h, got, e) < 0 ? -1 : strcmp(got, a->sha256) == 0;
out:
	mbox_unlock(&s, fd, dot);
	return rc;
}

/* the From_ line, the spooled message and a blank line written at size
 * (a blank line before, when the mbox does not end in one); *end gets
 * where they end. On failure the file is cut back to size. */
static int append(struct mp_store *s, int fd, off_t size, int sfd, struct mp_store_copy *c,
                  long long msgsize, off_t *end, struct mp_delivered *out, struct mp_err *e)
{
	char tail[2], date[64], sep[3] = "", buf[65536];
	off_t pos;
	struct tm tm;
	time_t t = c->d->date ? c->d->date : time(NULL);

	/* a From_ line must follow a blank line */
	if (size >= 2 && pread(fd, tail, 2, size - 2) == 2 && !(tail[0] == '\n' && tail[1] == '\n'))
		strcpy(sep, tail[1] == '\n' ? "\n" : "\n\n");
	else if (size == 1)
		strcpy(sep, "\n");
	localtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	int hl = snprintf(buf, sizeof buf, "%sFrom %s %s\n", sep,
	                  c->sender[0] ? c->sender : "MAILER-DAEMON", date);
	if (hl < 0 || (size_t)hl >= sizeof buf)
		return mp_err_set(e, EX_DATAERR, "envelope sender too long");
	out->offset = (long long)size + (long long)strlen(sep);
	if (s->before_append) {
		size_t fl = (size_t)hl - strlen(sep); /* the From_ line */
		struct mp_mbox_append a = {.offset = out->offset,
		                           .size = (long long)fl + msgsize + 1};
		if (append_digest(sfd, buf + strlen(sep), fl, a.sha256, e) < 0 ||
		    s->before_append(s->before_append_ctx, &a, e) < 0)
			return -1; /* nothing written */
	}
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
	*end = pos + 1;
	/* From_ line, message, blank line */
	out->size = (long long)hl - (long long)strlen(sep) + msgsize + 1;
	snprintf(out->path, sizeof out->path, "%s", s->path);
	snprintf(out->msgid, sizeof out->msgid, "%s", c->msgid);
	return 0;
undo:
	/* leave the mbox as it was: no partial message, ever */
	if (ftruncate(fd, size) == 0)
		(void)mp_fsync_fd(fd);
	return -1;
}

int mp_store_mbox_hold(struct mp_store *s, struct mp_err *e)
{
	off_t size;

	if (s->kind != MP_STORE_MBOX)
		return mp_err_set(e, EX_SOFTWARE, "%s: not an mbox", s->path);
	if (s->mbox_fd >= 0)
		return 0;
	if ((s->mbox_fd = mbox_lock(s, &s->mbox_dot, &size, e)) < 0)
		return -1;
	s->mbox_end = s->mbox_synced = (long long)size;
	return 0;
}

int mp_store_mbox_sync(struct mp_store *s, struct mp_err *e)
{
	char lock[PATH_MAX];

	if (s->mbox_fd < 0 || s->mbox_end == s->mbox_synced)
		return 0;
	if (mp_fsync_fd(s->mbox_fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "fsync %s", s->path);
		/* not durable: none of them is delivered */
		if (ftruncate(s->mbox_fd, (off_t)s->mbox_synced) == 0)
			(void)mp_fsync_fd(s->mbox_fd);
		s->mbox_end = s->mbox_synced;
		return -1;
	}
	s->mbox_synced = s->mbox_end;
	/* a crash from now on cuts back to here, not to where the run began */
	snprintf(lock, sizeof lock, "%s.lock", s->path);
	if (s->mbox_dot > 0)
		mp_store_dotlock_note(lock, s->mbox_synced);
	return 0;
}

void mp_store_mbox_release(struct mp_store *s)
{
	if (s->mbox_fd < 0)
		return;
	/* appended but never made durable, so never reported: they go */
	if (s->mbox_end > s->mbox_synced && ftruncate(s->mbox_fd, (off_t)s->mbox_synced) == 0)
		(void)mp_fsync_fd(s->mbox_fd);
	mbox_unlock(s, s->mbox_fd, s->mbox_dot);
	s->mbox_fd = -1;
	s->mbox_dot = 0;
}

int mp_store_mbox_deliver(struct mp_store *s, const struct mp_msgsrc *src, struct mp_store_copy *c,
                          struct mp_delivered *out, struct mp_err *e)
{
	const char *seg;
	size_t len;
	int bol, fd, sfd, dot, rc = -1;
	long long msgsize = 0;
	off_t size, end;

	if (mp_store_copy_start(src, c, &seg, &len, &bol, e) < 0)
		return -1;
	if ((sfd = spool(src, c, seg, len, bol, &msgsize, e)) < 0)
		return -1;
	if (s->mbox_fd >= 0) {
		/* held (mp_store_mbox_hold): appended now, made durable by
		 * mp_store_sync with the ones before it */
		rc = append(s, s->mbox_fd, (off_t)s->mbox_end, sfd, c, msgsize, &end, out, e);
		if (rc == 0)
			s->mbox_end = (long long)end;
		close(sfd);
		return rc;
	}
	if ((fd = mbox_lock(s, &dot, &size, e)) < 0) {
		close(sfd);
		return -1;
	}
	if (append(s, fd, size, sfd, c, msgsize, &end, out, e) == 0) {
		if (mp_fsync_fd(fd) == 0) {
			rc = 0;
		} else {
			mp_err_sys(e, mp_errno_code(errno), "fsync %s", s->path);
			if (ftruncate(fd, size) == 0)
				(void)mp_fsync_fd(fd);
		}
	}
	mbox_unlock(s, fd, dot);
	close(sfd);
	return rc;
}
