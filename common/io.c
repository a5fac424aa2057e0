#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t mp_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int mp_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int mp_lr_init(struct mp_lr *lr, int fd, size_t maxline, struct mp_err *e)
{
	memset(lr, 0, sizeof *lr);
	lr->fd = fd;
	lr->cap = maxline + 1;
	lr->buf = malloc(lr->cap);
	if (!lr->buf)
		return mp_err_sys(e, EX_TEMPFAIL, "line buffer");
	return 0;
}

int mp_lr_next(struct mp_lr *lr, char **line, size_t *len, struct mp_err *e)
{
	size_t scanned = 0;

	for (;;) {
		char *s = lr->buf + lr->start;
		size_t avail = lr->end - lr->start;
		char *nl = memchr(s + scanned, '\n', avail - scanned);

		if (nl || (lr->eof && avail)) {
			size_t n = nl ? (size_t)(nl - s) + 1 : avail;
			*line = s;
			*len = n;
			lr->start += n;
			lr->line++;
			lr->off += (long long)n;
			return 1;
		}
		if (lr->eof)
			return 0;
		scanned = avail;
		if (avail == lr->cap - 1 && lr->start == 0) {
			mp_err_set(e, EX_DATAERR, "line %ld longer than %zu bytes", lr->line + 1,
			           lr->cap - 1);
			if (e)
				e->line = lr->line + 1;
			return -1;
		}
		if (lr->start > 0) {
			memmove(lr->buf, s, avail);
			lr->start = 0;
			lr->end = avail;
		}
		ssize_t r;
		do
			r = read(lr->fd, lr->buf + lr->end, lr->cap - 1 - lr->end);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return mp_err_sys(e, mp_errno_code(errno), "read");
		if (r == 0)
			lr->eof = 1;
		lr->end += (size_t)r;
	}
}

void mp_lr_free(struct mp_lr *lr)
{
	free(lr->buf);
	lr->buf = NULL;
}

int mp_fsync_fd(int fd)
{
	if (fsync(fd) == 0 || errno == EINVAL || errno == EROFS)
		return 0;
	return -1;
}

int mp_fsync_dir(const char *path, struct mp_err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "%s", path);
	if (mp_fsync_fd(fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "fsync %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int mp_atomic_write(const char *path, const void *data, size_t n, int mode, struct mp_err *e)
{
	struct mp_buf tmp = MP_BUF_INIT, dir = MP_BUF_INIT;
	const char *slash = strrchr(path, '/');
	int fd = -1, rc = -1;

	if (slash)
		rc = mp_buf_append(&dir, path, slash == path ? 1 : (size_t)(slash - path));
	else
		rc = mp_buf_puts(&dir, ".");
	if (rc || mp_buf_printf(&tmp, "%s.tmp.%ld.XXXXXX", path, (long)getpid())) {
		mp_err_sys(e, EX_TEMPFAIL, "%s", path);
		goto out;
	}
	rc = -1;
	fd = mkstemp(tmp.data);
	if (fd < 0) {
		mp_err_sys(e, mp_errno_code(errno), "%s", tmp.data);
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || mp_write_full(fd, data, n) < 0 || mp_fsync_fd(fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "%s", tmp.data);
		goto unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		mp_err_sys(e, mp_errno_code(errno), "%s", tmp.data);
		goto unlink;
	}
	fd = -1;
	if (rename(tmp.data, path) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "rename to %s", path);
		goto unlink;
	}
	rc = mp_fsync_dir(dir.data, e);
	goto out;
unlink:
	unlink(tmp.data);
out:
	if (fd >= 0)
		close(fd);
	mp_buf_free(&tmp);
	mp_buf_free(&dir);
	return rc;
}

int mp_mkdirs(const char *path, int whole, struct mp_err *e)
{
	char *p = strdup(path);
	size_t n = strlen(path);
	int rc = 0;

	if (!p)
		return mp_err_sys(e, EX_TEMPFAIL, "%s", path);
	for (size_t i = 1; i <= n; i++) {
		if ((i < n ? p[i] != '/' : !whole) || p[i - 1] == '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			rc = mp_err_sys(e, EX_CANTCREAT, "%s", p);
			break;
		}
		p[i] = i < n ? '/' : '\0';
	}
	free(p);
	return rc;
}

int mp_tmpfd(const char *name, struct mp_err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/%s.XXXXXX", dir && *dir ? dir : "/tmp", name);
	if ((fd = mkstemp(path)) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "temporary file %s", path);
	unlink(path);
	return fd;
}
