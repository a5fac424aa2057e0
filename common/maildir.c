/* maildir: a Maildir's directories, unique names, a message written to
 * tmp/ and fsynced, then linked into new/ or cur/ (never over an existing
 * name), the tmp name unlinked and the directory fsynced. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "store_int.h"

#define MAILDIR_TMP_AGE (36 * 3600) /* seconds */

/* the directory that holds path: "/" or "." for a path without one */
static void parent_of(const char *path, char *out, size_t n)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, n, ".");
	else if (slash == path)
		snprintf(out, n, "/");
	else
		snprintf(out, n, "%.*s", (int)(slash - path), path);
}

int mp_store_mkdir(const char *path, int parents, struct mp_err *e)
{
	char parent[PATH_MAX];

	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		goto made;
	if (errno != ENOENT)
		return mp_err_sys(e, EX_CANTCREAT, "%s", path);
	parent_of(path, parent, sizeof parent);
	if (!parents)
		return mp_err_set(e, EX_CANTCREAT, "%s: no directory %s", path,
		                  parent);
	/* the parents first, each made durable in its own parent */
	if (mp_store_mkdir(parent, 1, e) < 0)
		return -1;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return mp_err_sys(e, EX_CANTCREAT, "%s", path);
made:
	if (!mp_store_is_dir(path)) {
		errno = ENOTDIR;
		return mp_err_sys(e, EX_CANTCREAT, "%s", path);
	}
	parent_of(path, parent, sizeof parent);
	return mp_fsync_dir(parent, e);
}

int mp_store_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mp_store_maildir_has_subdirs(const char *md)
{
	static const char *const sub[] = {"cur", "new", "tmp"};
	char p[PATH_MAX];

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", md, sub[i]);
		if (!mp_store_is_dir(p))
			return 0;
	}
	return 1;
}

int mp_store_maildir_make(const char *md, int folder, int parents, struct mp_err *e)
{
	static const char *const sub[] = {"cur", "new", "tmp"};
	char p[PATH_MAX];

	if (mp_store_mkdir(md, parents, e) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", md, sub[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return mp_err_sys(e, EX_CANTCREAT, "%s", p);
	}
	if (folder) {
		int fd;
		snprintf(p, sizeof p, "%s/maildirfolder", md);
		fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return mp_err_sys(e, EX_CANTCREAT, "%s", p);
		close(fd);
	}
	return mp_fsync_dir(md, e);
}

static void uniq_name(struct mp_store *s, char *buf, size_t n)
{
	struct timeval tv;
	uint32_t rnd = 0;

	gettimeofday(&tv, NULL);
	if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)(tv.tv_usec * 2654435761u) ^ (uint32_t)getpid();
	snprintf(buf, n, "%lld.M%ldP%ldQ%luR%08x.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	         (long)getpid(), atomic_fetch_add(&s->counter, 1) + 1, rnd, s->host);
}

/* where a message of the name goes, relative to the Maildir */
static void final_name(const struct mp_pending *p, const char *name, char *buf, size_t n)
{
	if (p->cur)
		snprintf(buf, n, "cur/%s,S=%lld:2,%s", name, p->size, p->flags);
	else
		snprintf(buf, n, "new/%s,S=%lld", name, p->size);
}

/* tmp/NAME -> new/NAME,S=SIZE or cur/NAME,S=SIZE:2,FLAGS, never over an
 * existing message; the tmp name goes */
static int link_into_place(struct mp_store *s, const struct mp_pending *p, char *dst, size_t dstsz,
                           struct mp_err *e)
{
	char tmp[PATH_MAX], name[320];

	snprintf(tmp, sizeof tmp, "%s/tmp/%s", s->path, p->name);
	snprintf(name, sizeof name, "%s", p->name);
	for (int tries = 0;; tries++) {
		char rel[400];
		final_name(p, name, rel, sizeof rel);
		snprintf(dst, dstsz, "%s/%s", s->path, rel);
		if (link(tmp, dst) == 0)
			break;
		if (errno == EEXIST && tries < 100 && !s->before_link) {
			uniq_name(s, name, sizeof name);
			continue;
		}
		if ((errno == EPERM || errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP) &&
		    access(dst, F_OK) < 0 && rename(tmp, dst) == 0)
			return 0; /* a file system without hard links */
		return mp_err_sys(e, mp_errno_code(errno), "link %s", dst);
	}
	unlink(tmp);
	return 0;
}

/* fsync new/ and cur/, each only when something was linked into it */
static int sync_dirs(struct mp_store *s, int newdir, int curdir, struct mp_err *e)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/new", s->path);
	if (newdir && mp_fsync_dir(p, e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/cur", s->path);
	return curdir ? mp_fsync_dir(p, e) : 0;
}

/* fsync the files of a batch: one sync of the file system rather than one
 * fsync per file; a single file, or where syncfs is refused, file by file */
static int sync_files(struct mp_store *s, struct mp_pending *p, size_t n, struct mp_err *e)
{
	char tmp[PATH_MAX];
	size_t todo = 0, last = 0;
	int dfd;

	for (size_t i = 0; i < n; i++)
		if (!p[i].synced)
			todo++, last = i;
	if (todo == 0)
		return 0;
	snprintf(tmp, sizeof tmp, "%s/tmp", s->path);
	if (todo > 1 && (dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		int r = syncfs(dfd);
		close(dfd);
		if (r == 0)
			return 0;
	}
	for (size_t i = todo == 1 ? last : 0; i < n; i++) {
		if (p[i].synced)
			continue;
		snprintf(tmp, sizeof tmp, "%s/tmp/%s", s->path, p[i].name);
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || mp_fsync_fd(fd) < 0) {
			mp_err_sys(e, mp_errno_code(errno), "fsync %s", tmp);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* the names p[0..n) will have, told to s->before_link */
static int announce(struct mp_store *s, const struct mp_pending *p, size_t n, struct mp_err *e)
{
	char **names = mp_xmalloc(n * sizeof *names), rel[400];
	int rc;

	for (size_t i = 0; i < n; i++) {
		final_name(&p[i], p[i].name, rel, sizeof rel);
		names[i] = mp_xstrdup(rel);
	}
	rc = s->before_link(s->before_link_ctx, (const char *const *)names, n, e);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int mp_store_maildir_commit(struct mp_store *s, struct mp_pending *p, size_t n, size_t *linked,
                            struct mp_err *e)
{
	int newdir = 0, curdir = 0;

	*linked = 0;
	if (n == 0)
		return 0;
	if (sync_files(s, p, n, e) < 0)
		return -1;
	if (s->before_link && announce(s, p, n, e) < 0)
		return -1;
	for (; *linked < n; ++*linked) {
		if (link_into_place(s, &p[*linked], p[*linked].final, sizeof p[*linked].final, e) <
		    0)
			return -1;
		*(p[*linked].cur ? &curdir : &newdir) = 1;
	}
	return sync_dirs(s, newdir, curdir, e);
}

/* not reported delivered: take every one back rather than risk a
 * duplicate when the sender tries again */
void mp_store_maildir_take_back(struct mp_store *s, struct mp_pending *p, size_t n, size_t linked)
{
	char tmp[PATH_MAX];
	int newdir = 0, curdir = 0;
	struct mp_err e;

	for (size_t k = 0; k < n; k++) {
		if (k < linked) {
			unlink(p[k].final);
			*(p[k].cur ? &curdir : &newdir) = 1;
		}
		snprintf(tmp, sizeof tmp, "%s/tmp/%s", s->path, p[k].name);
		unlink(tmp);
	}
	/* durably gone, or a crash could bring back what a rerun delivers
	 * again; if this fails there is nothing better to do */
	mp_err_clear(&e);
	(void)sync_dirs(s, newdir, curdir, &e);
}

int mp_store_maildir_write(struct mp_store *s, const struct mp_msgsrc *src, struct mp_store_copy *c,
                           struct mp_pending *p, struct mp_err *e)
{
	const struct mp_delivery *d = c->d;
	char tmp[PATH_MAX];
	const char *seg;
	size_t len;
	int bol, fd = -1, tries;

	memset(p, 0, sizeof *p);
	if (d->flags && mp_store_norm_flags(d->flags, p->flags, e) < 0)
		return -1;
	p->cur = d->flags != NULL;
	p->synced = !d->batch;
	/* the header is checked before anything is created */
	if (mp_store_copy_start(src, c, &seg, &len, &bol, e) < 0)
		return -1;
	for (tries = 0;; tries++) {
		uniq_name(s, p->name, sizeof p->name);
		snprintf(tmp, sizeof tmp, "%s/tmp/%s", s->path, p->name);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 100)
			return mp_err_sys(
			    e, errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_CANTCREAT,
			    "%s", tmp);
	}
	if (mp_store_copy_out(src, c, fd, seg, len, bol, &p->size, e) < 0)
		goto fail;
	/* an mbox's Status: and X-Status: said it was seen (--flags wins) */
	if (!d->flags && c->status_cur) {
		p->cur = 1;
		mp_store_status_flags(c, p->flags, sizeof p->flags);
	}
	/* alone, the file is synced now; in a batch, all at once later */
	if (!d->batch && mp_fsync_fd(fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "fsync %s", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		mp_err_sys(e, mp_errno_code(errno), "close %s", tmp);
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* tmp/ files left by runs that were killed: gone after 36 hours without
 * access or change (the Maildir rule); nothing to report if it fails */
void mp_store_maildir_sweep(const char *md)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	time_t old = time(NULL) - MAILDIR_TMP_AGE;
	DIR *d;

	snprintf(p, sizeof p, "%s/tmp", md);
	if (!(d = opendir(p)))
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (st.st_mtime < old && st.st_atime < old)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}
