/* msgids: the Message-IDs a Maildir holds, read from the header of each
 * file of new/ and cur/ (its first 64 KiB, with hdr.c's reader); mfetch
 * reads them all after a UIDVALIDITY change. mdeliver --dedup keeps them
 * in its index, .mdeliver-msgids, one "ID\tNAME" line a file (NAME: the
 * file name up to the ':' of its flags, which a mail reader changes), so
 * that each file is read once; a line of the old form "ID" is an id
 * delivered before, whose file is read once more. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdr.h"
#include "io.h"
#include "store_int.h"

#define HEAD_MAX (64 * 1024) /* the header looked at for the Message-ID */

int mp_store_file_msgid(int fd, char *out, size_t outn)
{
	char *buf = mp_xmalloc(HEAD_MAX);
	struct mp_buf v = MP_BUF_INIT;
	ssize_t got = pread(fd, buf, HEAD_MAX, 0);
	int found = got > 0 && mp_hdr_find(buf, (size_t)got, "Message-ID", &v) == 1 &&
	            mp_hdr_msgid(v.data, v.len, out, outn);

	if (!found && outn)
		out[0] = '\0';
	mp_buf_free(&v);
	free(buf);
	return found;
}

int mp_store_maildir_msgids(const char *md, int (*want)(void *ctx, const char *key),
                            void (*got)(void *ctx, const char *key, const char *id), void *ctx,
                            struct mp_err *e)
{
	static const char *const sub[] = {"cur", "new"};
	char path[PATH_MAX], key[NAME_MAX + 1], id[1000];

	for (size_t s = 0; s < 2; s++) {
		snprintf(path, sizeof path, "%s/%s", md, sub[s]);
		DIR *d = opendir(path);
		struct dirent *de;
		if (!d)
			return mp_err_sys(e, EX_TEMPFAIL, "%s", path);
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(key, sizeof key, "%.*s", (int)strcspn(de->d_name, ":"),
			         de->d_name);
			if (want && !want(ctx, key))
				continue;
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue; /* gone meanwhile, or not a file */
			struct stat st;
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
				mp_store_file_msgid(fd, id, sizeof id);
				got(ctx, key, id);
			}
			close(fd);
		}
		closedir(d);
	}
	return 0;
}

/* ---- the --dedup index: ids and file names, each a set of strings */

struct strset {
	char **slot;
	size_t n, cap; /* cap: a power of 2, at most half full */
};

struct mp_dedup {
	struct strset ids, names;
	struct mp_buf add; /* lines for the files read, not yet appended */
};

static size_t str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211u;
	return (size_t)h;
}

static char **strset_slot(const struct strset *t, const char *s, size_t n)
{
	size_t i = str_hash(s, n) & (t->cap - 1);

	while (t->slot[i] && (strncmp(t->slot[i], s, n) != 0 || t->slot[i][n] != '\0'))
		i = (i + 1) & (t->cap - 1);
	return &t->slot[i];
}

static int strset_has(const struct strset *t, const char *s, size_t n)
{
	return t->cap && *strset_slot(t, s, n) != NULL;
}

static void strset_add(struct strset *t, const char *s, size_t n)
{
	if (strset_has(t, s, n))
		return;
	if (2 * (t->n + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 1024;
		struct strset g = {mp_xmalloc(cap * sizeof(char *)), t->n, cap};
		memset(g.slot, 0, cap * sizeof(char *));
		for (size_t i = 0; i < t->cap; i++)
			if (t->slot[i])
				*strset_slot(&g, t->slot[i], strlen(t->slot[i])) = t->slot[i];
		free(t->slot);
		*t = g;
	}
	char *c = mp_xmalloc(n + 1);
	memcpy(c, s, n);
	c[n] = '\0';
	*strset_slot(t, s, n) = c;
	t->n++;
}

static void strset_free(struct strset *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->slot[i]);
	free(t->slot);
	memset(t, 0, sizeof *t);
}

/* an index line: "ID\tNAME" or "ID" (ID may be empty: a file without one) */
static void index_line(struct mp_dedup *x, const char *l, size_t n)
{
	const char *tab = memchr(l, '\t', n);
	size_t idl = tab ? (size_t)(tab - l) : n;

	if (idl)
		strset_add(&x->ids, l, idl);
	if (tab)
		strset_add(&x->names, tab + 1, n - idl - 1);
}

/* a name that fits on a line of the index */
static int recordable(const char *key)
{
	return !strpbrk(key, "\t\n");
}

static int want_file(void *ctx, const char *key)
{
	const struct mp_dedup *x = ctx;

	return !strset_has(&x->names, key, strlen(key));
}

static void got_file(void *ctx, const char *key, const char *id)
{
	struct mp_dedup *x = ctx;

	if (strlen(id) >= sizeof((struct mp_delivered *)0)->msgid)
		id = ""; /* too long to be one of ours (as when delivered) */
	if (*id)
		strset_add(&x->ids, id, strlen(id));
	if (recordable(key)) {
		strset_add(&x->names, key, strlen(key));
		mp_buf_printf(&x->add, "%s\t%s\n", id, key);
	}
}

static void index_path(const struct mp_store *s, char *p, size_t n)
{
	snprintf(p, n, "%s/%s", s->path, MP_STORE_DEDUP_INDEX);
}

int mp_store_dedup_load(struct mp_store *s, struct mp_err *e)
{
	struct mp_dedup *x = mp_xmalloc(sizeof *x);
	struct mp_buf all = MP_BUF_INIT;
	char p[PATH_MAX], buf[65536];
	ssize_t k;
	int fd, rc = -1;

	memset(x, 0, sizeof *x);
	mp_store_dedup_free(s);
	s->dedup = x;
	index_path(s, p, sizeof p);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "%s", p);
	while ((k = read(fd, buf, sizeof buf)) > 0)
		mp_buf_append(&all, buf, (size_t)k);
	if (k < 0) {
		mp_err_sys(e, mp_errno_code(errno), "%s", p);
		goto out;
	}
	size_t whole = 0; /* up to the last line break */
	for (size_t i = 0; i < all.len;) {
		const char *nl = memchr(all.data + i, '\n', all.len - i);
		if (!nl)
			break;
		index_line(x, all.data + i, (size_t)(nl - all.data) - i);
		i = whole = (size_t)(nl - all.data) + 1;
	}
	/* a torn append (a crash in the middle of one) is cut off, so that
	 * the next line does not join it */
	if (whole < all.len && (ftruncate(fd, (off_t)whole) < 0 || mp_fsync_fd(fd) < 0)) {
		mp_err_sys(e, mp_errno_code(errno), "%s", p);
		goto out;
	}
	/* the files of new/ and cur/ not in the index yet: read, and added
	 * (no fsync: a line lost in a crash only has its file read again) */
	if (mp_store_maildir_msgids(s->path, want_file, got_file, x, e) < 0)
		goto out;
	if (x->add.len &&
	    (lseek(fd, 0, SEEK_END) < 0 || mp_write_full(fd, x->add.data, x->add.len) < 0)) {
		mp_err_sys(e, mp_errno_code(errno), "%s", p);
		goto out;
	}
	rc = 0;
out:
	mp_buf_free(&x->add);
	mp_buf_free(&all);
	close(fd);
	return rc;
}

int mp_store_dedup_has(const struct mp_store *s, const char *id)
{
	return s->dedup && strset_has(&s->dedup->ids, id, strlen(id));
}

int mp_store_dedup_add(struct mp_store *s, const char *id, const char *path, struct mp_err *e)
{
	char p[PATH_MAX];
	const char *base = strrchr(path, '/');
	struct mp_buf l = MP_BUF_INIT;
	int fd, rc = 0;

	base = base ? base + 1 : path;
	index_path(s, p, sizeof p);
	fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "%s", p);
	/* one write(2) of the whole line: appends never interleave */
	mp_buf_printf(&l, "%s\t%.*s\n", id, (int)strcspn(base, ":"), base);
	if (mp_write_full(fd, l.data, l.len) < 0 || mp_fsync_fd(fd) < 0)
		rc = mp_err_sys(e, mp_errno_code(errno), "%s", p);
	close(fd);
	if (rc == 0 && s->dedup)
		index_line(s->dedup, l.data, l.len - 1);
	mp_buf_free(&l);
	return rc;
}

void mp_store_dedup_free(struct mp_store *s)
{
	if (!s->dedup)
		return;
	strset_free(&s->dedup->ids);
	strset_free(&s->dedup->names);
	mp_buf_free(&s->dedup->add);
	free(s->dedup);
	s->dedup = NULL;
}
