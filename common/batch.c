/* batch: the Maildir messages in hand until they are made durable (at
 * once for a single delivery, together for a batch, or on a thread of
 * their own while the next batch is written), and the lock of the
 * --dedup index (msgids.c) of the Message-IDs a Maildir holds. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "store_int.h"

/* the lock goes, and the index read under it */
static void dedup_unlock(struct mp_store *s)
{
	if (s->dedup_lock >= 0)
		close(s->dedup_lock);
	s->dedup_lock = -1;
	mp_store_dedup_free(s);
}

static int dedup_lock(struct mp_store *s, struct mp_err *e)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof p, "%s/%s.lock", s->path, MP_STORE_DEDUP_INDEX);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "%s", p);
	/* bounded, like the mbox locks: a stuck holder means try later */
	if (mp_store_lock_fd(fd, p, s->lock_timeout, e) < 0) {
		close(fd);
		return -1;
	}
	/* what the Maildir holds: the index, and the files not in it yet */
	s->dedup_lock = fd;
	if (mp_store_dedup_load(s, e) < 0) {
		dedup_unlock(s);
		return -1;
	}
	return fd;
}

/* 1 if id is waiting in the current batch */
static int pending_has(const struct mp_store *s, const char *id)
{
	for (size_t i = 0; i < s->npending; i++)
		if (strcmp(s->pending[i].msgid, id) == 0)
			return 1;
	return 0;
}

/* the size of the --dedup index before a batch's lines were added, so
 * that a batch taken back takes its lines too; -1 if it cannot be known */
static off_t dedup_size(struct mp_store *s)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", s->path, MP_STORE_DEDUP_INDEX);
	if (stat(p, &st) == 0)
		return st.st_size;
	return errno == ENOENT ? 0 : -1;
}

/* 1 if a message in hand has a Message-ID to record (--dedup) */
static int has_ids(const struct mp_store *s)
{
	for (size_t k = 0; k < s->npending; k++)
		if (s->pending[k].msgid[0])
			return 1;
	return 0;
}

static void dedup_cut(struct mp_store *s, off_t size)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof p, "%s/%s", s->path, MP_STORE_DEDUP_INDEX);
	if (size < 0 || (fd = open(p, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (ftruncate(fd, size) == 0)
		(void)mp_fsync_fd(fd);
	close(fd);
}

static void *bg_run(void *arg)
{
	struct mp_bg *b = arg;

	b->rc = mp_store_maildir_commit(b->s, b->p, b->n, &b->linked, &b->e);
	if (b->rc < 0)
		mp_store_maildir_take_back(b->s, b->p, b->n, b->linked);
	return NULL;
}

/* wait for the batch in the background, then report it; -1 (e filled) if
 * it failed: it was taken back */
static int bg_wait(struct mp_store *s, void (*done)(void *ctx, const char *path), void *ctx,
                   struct mp_err *e)
{
	struct mp_bg *b = s->bg;

	if (!b || !b->busy)
		return 0;
	if (b->threaded)
		pthread_join(b->thread, NULL);
	b->busy = 0;
	if (b->rc < 0) {
		*e = b->e;
		return -1;
	}
	for (size_t k = 0; done && k < b->n; k++)
		done(ctx, b->p[k].final);
	return 0;
}

/* the batch in hand taken back, for a failure before it was committed */
static void drop_pending(struct mp_store *s)
{
	mp_store_maildir_take_back(s, s->pending, s->npending, 0);
	s->npending = 0;
	s->pending_bytes = 0;
	dedup_unlock(s);
}

int mp_store_sync(struct mp_store *s, void (*done)(void *ctx, const char *path), void *ctx,
                  struct mp_err *e)
{
	size_t linked = 0;
	int rc = 0;

	if (s->kind != MP_STORE_MAILDIR)
		return mp_store_mbox_sync(s, e);
	if (bg_wait(s, done, ctx, e) < 0) {
		drop_pending(s);
		return -1;
	}
	if (!s->npending) {
		drop_pending(s); /* a duplicate's lock, if any, goes */
		return 0;
	}
	/* under the lock: no one else appends */
	off_t isize = has_ids(s) ? dedup_size(s) : -1;
	rc = mp_store_maildir_commit(s, s->pending, s->npending, &linked, e);
	for (size_t k = 0; rc == 0 && k < s->npending; k++)
		if (s->pending[k].msgid[0] &&
		    mp_store_dedup_add(s, s->pending[k].msgid, s->pending[k].final, e) < 0)
			rc = -1;
	if (rc < 0) {
		/* the index first: lines left for messages taken back would
		 * make a rerun skip them */
		dedup_cut(s, isize);
		mp_store_maildir_take_back(s, s->pending, s->npending, linked);
	}
	for (size_t k = 0; rc == 0 && done && k < s->npending; k++)
		done(ctx, s->pending[k].final);
	s->npending = 0;
	drop_pending(s); /* nothing left to take back: the lock goes */
	return rc;
}

int mp_store_sync_bg(struct mp_store *s, void (*done)(void *ctx, const char *path), void *ctx,
                     struct mp_err *e)
{
	struct mp_bg *b;

	if (s->kind != MP_STORE_MAILDIR)
		return 0;
	if (bg_wait(s, done, ctx, e) < 0) {
		drop_pending(s);
		return -1;
	}
	/* a --dedup batch is recorded in the index in order, under its lock */
	if (has_ids(s))
		return mp_store_sync(s, done, ctx, e);
	if (!s->npending)
		return 0;
	/* no Message-ID to record: a duplicate's lock is not needed */
	dedup_unlock(s);
	if (!s->bg && !(s->bg = calloc(1, sizeof *s->bg)))
		return mp_store_sync(s, done, ctx, e);
	b = s->bg;
	/* the arrays change hands, so each keeps its allocation */
	struct mp_pending *p = b->p;
	size_t cap = b->cap;
	b->p = s->pending;
	b->cap = s->cappending;
	b->n = s->npending;
	s->pending = p;
	s->cappending = cap;
	s->npending = 0;
	s->pending_bytes = 0;
	b->s = s;
	b->busy = 1;
	b->threaded = pthread_create(&b->thread, NULL, bg_run, b) == 0;
	if (!b->threaded)
		bg_run(b);
	return 0;
}

static void copy_path(void *ctx, const char *path)
{
	struct mp_delivered *out = ctx;

	snprintf(out->path, sizeof out->path, "%s", path);
}

int mp_store_batch_deliver(struct mp_store *s, const struct mp_msgsrc *src, struct mp_store_copy *c,
                           struct mp_delivered *out, struct mp_err *e)
{
	const struct mp_delivery *d = c->d;
	struct mp_pending p;
	char tmp[PATH_MAX] = "";

	if (mp_store_maildir_write(s, src, c, &p, e) < 0)
		goto fail;
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", s->path, p.name);
	out->size = p.size;
	snprintf(out->msgid, sizeof out->msgid, "%s", c->msgid);
	if (d->dedup && c->msgid[0]) {
		/* the lock is held until the message is linked and recorded */
		if (s->dedup_lock < 0 && (s->dedup_lock = dedup_lock(s, e)) < 0)
			goto fail;
		if (mp_store_dedup_has(s, c->msgid) || pending_has(s, c->msgid)) {
			out->skipped = 1;
			unlink(tmp);
			if (!d->batch && !s->npending)
				dedup_unlock(s);
			return 0;
		}
		snprintf(p.msgid, sizeof p.msgid, "%s", c->msgid);
	}
	if (s->npending == s->cappending) {
		size_t cap = s->cappending ? s->cappending * 2 : 16;
		struct mp_pending *np = realloc(s->pending, cap * sizeof *np);
		if (!np) {
			mp_err_sys(e, EX_TEMPFAIL, "batch");
			goto fail;
		}
		s->pending = np;
		s->cappending = cap;
	}
	s->pending[s->npending++] = p;
	s->pending_bytes += p.size;
	if (d->batch) {
		snprintf(out->path, sizeof out->path, "%s", tmp);
		return 0;
	}
	/* alone: link, fsync the directory, record; only then delivered */
	return mp_store_sync(s, copy_path, out, e);
fail:
	if (tmp[0])
		unlink(tmp);
	if (!s->npending)
		dedup_unlock(s);
	return -1;
}

void mp_store_batch_close(struct mp_store *s)
{
	char tmp[PATH_MAX];

	/* a batch never synced was never reported: its files go, and so
	 * do those of a batch made durable in the background but not
	 * reported */
	if (s->bg && s->bg->busy) {
		struct mp_bg *b = s->bg;
		if (b->threaded)
			pthread_join(b->thread, NULL);
		if (b->rc == 0)
			mp_store_maildir_take_back(s, b->p, b->n, b->n);
		b->busy = 0;
	}
	for (size_t i = 0; i < s->npending; i++) {
		snprintf(tmp, sizeof tmp, "%s/tmp/%s", s->path, s->pending[i].name);
		unlink(tmp);
	}
	if (s->bg)
		free(s->bg->p);
	free(s->bg);
	free(s->pending);
	dedup_unlock(s);
}
