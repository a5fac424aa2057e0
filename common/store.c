/* Durability, in the order the steps happen:
 * Maildir  tmp/NAME (O_EXCL) <- message; fsync; close; link to new/NAME
 *          (never over an existing name); unlink tmp; fsync new/. Only
 *          then is the message reported delivered.
 * mbox     dotlock (O_EXCL; broken only when its owner is dead, or cannot
 *          be checked and is 5 minutes old) + fcntl lock; append
 *          From_ line, mboxrd-quoted message, blank line; fsync; on any
 *          error truncate back to the old size before unlocking.
 * The store's files (store_int.h says which calls which):
 *   store.c    opening a mailbox, delivering into it, closing it
 *   msgsrc.c   messages read in segments, an mbox split into messages
 *   msgcopy.c  a message copied with the fields the delivery adds
 *   maildir.c  Maildir directories, unique names, tmp/ -> new/ or cur/
 *   batch.c    batches, the background sync thread, the --dedup lock
 *   msgids.c   Message-IDs of a Maildir's files, the --dedup index
 *   lock.c     fcntl locks and dotlocks, stale and dead owners' locks
 *   mbox.c     the mbox append and its undo */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

/* a new mbox: its directory must be there, or be made with -p (when the
 * first message is delivered) */
static int mbox_dir(struct mp_store *s, unsigned flags, struct mp_err *e)
{
	char *dir = mp_xstrdup(s->path), *slash = strrchr(dir, '/');
	int rc = 0;

	s->parents = (flags & MP_STORE_PARENTS) != 0;
	if (slash && slash != dir) {
		*slash = '\0';
		if (!s->parents && access(dir, F_OK) < 0 && errno == ENOENT)
			rc = mp_err_set(e, EX_CANTCREAT, "%s: no directory %s",
			                s->path, dir);
	}
	free(dir);
	return rc;
}

int mp_store_open(struct mp_store *s, const char *target, const char *folder, unsigned flags,
                  struct mp_err *e)
{
	size_t n = strlen(target);
	int slash = n > 1 && target[n - 1] == '/';
	struct stat st;
	char *p;

	memset(s, 0, sizeof *s);
	s->lock_timeout = 30;
	s->dedup_lock = -1;
	s->mbox_fd = -1;
	if (n == 0)
		return mp_err_set(e, EX_USAGE, "empty target");
	while (n > 1 && target[n - 1] == '/')
		n--;
	s->path = malloc(n + 1);
	if (!s->path)
		return mp_err_sys(e, EX_TEMPFAIL, "%s", target);
	memcpy(s->path, target, n);
	s->path[n] = '\0';
	if (gethostname(s->host, sizeof s->host - 1) < 0 || !s->host[0])
		strcpy(s->host, "localhost");
	/* '/' and ':' cannot be in a Maildir name: escape them as qmail does */
	p = mp_xstrdup(s->host);
	s->host[0] = '\0';
	for (char *h = p; *h && strlen(s->host) < sizeof s->host - 8; h++) {
		if (*h == '/')
			strcat(s->host, "\\057");
		else if (*h == ':')
			strcat(s->host, "\\072");
		else
			strncat(s->host, h, 1);
	}
	free(p);

	if (stat(s->path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		if (folder)
			return mp_err_set(e, EX_USAGE, "%s: --folder needs a Maildir", target);
		s->kind = MP_STORE_MBOX;
		return 0;
	}
	if (!mp_store_is_dir(s->path) && !slash && !(flags & MP_STORE_CREATE)) {
		if (folder)
			return mp_err_set(e, EX_USAGE, "%s: --folder needs a Maildir", target);
		s->kind = MP_STORE_MBOX; /* a new mbox file */
		return mbox_dir(s, flags, e);
	}
	s->kind = MP_STORE_MAILDIR;
	if (!mp_store_maildir_has_subdirs(s->path)) {
		if (mp_store_is_dir(s->path) && !slash && !(flags & MP_STORE_CREATE))
			return mp_err_set(e, EX_CANTCREAT,
			                  "%s: a directory without cur/, new/, tmp/ (-c makes it a "
			                  "Maildir)",
			                  target);
		if (mp_store_maildir_make(s->path, 0, flags & MP_STORE_PARENTS, e) < 0)
			return -1;
	}
	if (folder) {
		struct mp_buf fp = MP_BUF_INIT;
		if (!*folder || folder[0] == '.' || strstr(folder, "..") ||
		    strpbrk(folder, "\n\r\t") || folder[strlen(folder) - 1] == '/')
			return mp_err_set(e, EX_USAGE, "invalid folder name '%s'", folder);
		/* Maildir++: ".a.b" for the folder a/b */
		mp_buf_printf(&fp, "%s/.", s->path);
		for (const char *f = folder; *f; f++)
			mp_buf_putc(&fp, *f == '/' ? '.' : *f);
		free(s->path);
		s->path = fp.data;
		if (!mp_store_maildir_has_subdirs(s->path) &&
		    mp_store_maildir_make(s->path, 1, 0, e) < 0)
			return -1;
	}
	mp_store_maildir_sweep(s->path); /* once an open: a readdir of tmp/ */
	return 0;
}

void mp_store_close(struct mp_store *s)
{
	if (s->kind == MP_STORE_MBOX)
		mp_store_mbox_release(s);
	mp_store_batch_close(s);
	free(s->path);
	memset(s, 0, sizeof *s);
	s->dedup_lock = -1;
	s->mbox_fd = -1;
}

int mp_store_deliver(struct mp_store *s, const struct mp_msgsrc *src, const struct mp_delivery *d,
                     struct mp_delivered *out, struct mp_err *e)
{
	struct mp_store_copy c;

	memset(out, 0, sizeof *out);
	mp_store_copy_init(&c, d);
	if (s->kind == MP_STORE_MAILDIR)
		return mp_store_batch_deliver(s, src, &c, out, e);
	if (d->dedup)
		return mp_err_set(e, EX_USAGE, "--dedup needs a Maildir");
	if (d->flags) {
		char f[32];
		if (mp_store_norm_flags(d->flags, f, e) < 0)
			return -1;
	}
	return mp_store_mbox_deliver(s, src, &c, out, e);
}
