/* pick: the messages of a folder (a Maildir, an mbox, a message file)
 * numbered, FOLDER:SPEC picks among them, and the part filters of -p
 * and -x (--type, --name). Messages are read by the store's segment
 * reader and mbox splitter (common/msgsrc.c). */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pick.h"
#include "run.h"

/* ---------------------------------------------------------------- folders */

int mp_threads_env(void)
{
	const char *s = getenv("MPARSE_THREADS");

	if (s) {
		if (strlen(s) != 1 || *s < '1' || *s > '8')
			mp_die(EX_USAGE, "MPARSE_THREADS: '%s' is no number of threads (1 to 8)",
			       s);
		return *s - '0';
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 4 ? 4 : cpus < 1 ? 1 : (int)cpus;
}

/* a message into f, path its own malloc'd name (f keeps it) */
static void add_owned(struct mp_folder *f, char *path, long long off, int isnew)
{
	/* room for 16, then twice as many each time n reaches a power of two */
	if (f->n == 0 || (f->n >= 16 && (f->n & (f->n - 1)) == 0))
		f->v = mp_xrealloc(f->v, (f->n ? 2 * f->n : 16) * sizeof *f->v);
	struct mp_msgref *m = &f->v[f->n++];
	memset(m, 0, sizeof *m);
	m->path = path;
	m->off = off;
	m->num = (long)f->n;
	m->isnew = isnew;
	const char *base = strrchr(m->path, '/'), *info = strstr(base ? base : m->path, ":2,");
	m->info = off < 0 && info ? info + 3 : "";
}

static void add(struct mp_folder *f, const char *path, long long off, int isnew)
{
	add_owned(f, mp_xstrdup(path), off, isnew);
}

/* a Maildir file, listed: its path, where its name starts in it, and
 * the name's first 16 bytes as two numbers (big-endian, zeros past its
 * end), which order two names as strcmp does when they differ there:
 * most comparisons of a sort end on them */
struct entry {
	char *path;
	uint64_t key[2];
	unsigned name;
	int isnew;
};

static int cmp_name(const struct entry *x, const struct entry *y)
{
	for (int k = 0; k < 2; k++)
		if (x->key[k] != y->key[k])
			return x->key[k] < y->key[k] ? -1 : 1;
	return strcmp(x->path + x->name, y->path + y->name);
}

static int cmp_entry(const struct entry *x, const struct entry *y, int cur_first)
{
	if (cur_first && x->isnew != y->isnew)
		return x->isnew - y->isnew;
	int c = cmp_name(x, y);
	return c ? c : x->isnew - y->isnew;
}

/* a stable merge sort, bottom up, the comparison inlined: qsort's calls
 * through a pointer took 9M of the 16M instructions listing 10,000
 * files, all of it before the first header can be read */
static void sort_entries(struct entry *v, size_t n, int cur_first)
{
	struct entry *t = mp_xmalloc(n * sizeof *t), *a = v, *b = t;

	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				b[k++] = cmp_entry(&a[j], &a[i], cur_first) < 0 ? a[j++] : a[i++];
			while (i < mid)
				b[k++] = a[i++];
			while (j < hi)
				b[k++] = a[j++];
		}
		struct entry *x = a;
		a = b;
		b = x;
	}
	if (a != v)
		memcpy(v, a, n * sizeof *v);
	free(t);
}

struct each_ctx {
	mp_folder_each each;
	void *ctx;
};

static int each_file(void *ctx, const struct mp_msgref *m, const char *name,
                     const struct mp_msgsrc *src)
{
	struct each_ctx *c = ctx;
	(void)name;
	return c->each(c->ctx, m, src);
}

static int maildir_read(const char *path, struct mp_folder *f, mp_folder_each each, void *ctx,
                        int cur_first)
{
	struct entry *v = NULL;
	size_t n = 0;
	int dirs = 0;
	size_t pl = strlen(path);

	while (pl > 1 && path[pl - 1] == '/')
		pl--;
	for (int s = 0; s < 2; s++) {
		char d[4096];
		snprintf(d, sizeof d, "%.*s/%s", (int)(pl < 4000 ? pl : 4000), path,
		         s ? "new" : "cur");
		DIR *dp = opendir(d);
		if (!dp) {
			if (errno != ENOENT && errno != ENOTDIR) {
				mp_problem(EX_NOINPUT, 1, "%s: %s", d, strerror(errno));
				dirs++;
			}
			continue;
		}
		dirs++;
		struct dirent *de;
		while ((de = readdir(dp)))
			if (de->d_name[0] != '.') {
				if (n == 0 || (n >= 64 && (n & (n - 1)) == 0))
					v = mp_xrealloc(v, (n ? 2 * n : 64) * sizeof *v);
				/* PATH/cur/NAME, made once (no snprintf: 10,000
				 * names cost 5M instructions) */
				size_t nl = strlen(de->d_name);
				char *fp = mp_xmalloc(pl + 5 + nl + 1);
				memcpy(fp, path, pl);
				memcpy(fp + pl, s ? "/new/" : "/cur/", 5);
				memcpy(fp + pl + 5, de->d_name, nl + 1);
				unsigned char kb[16] = {0};
				memcpy(kb, de->d_name, nl < 16 ? nl : 16);
				struct entry *e = &v[n++];
				e->path = fp;
				e->name = (unsigned)(pl + 5);
				e->isnew = s;
				memcpy(e->key, kb, 16);
				e->key[0] = be64toh(e->key[0]);
				e->key[1] = be64toh(e->key[1]);
			}
		closedir(dp);
	}
	if (!dirs) {
		mp_problem(EX_DATAERR, 0, "%s: a directory, but not a Maildir (no cur/ or new/)",
		           path);
		return -1;
	}
	if (n > 1)
		sort_entries(v, n, cur_first);
	f->maildir = 1;
	for (size_t i = 0; i < n; i++)
		add_owned(f, v[i].path, -1, v[i].isnew); /* its size: when it is read */
	free(v);
	struct each_ctx ec = {each, ctx};
	for (size_t i = 0; each && i < f->n; i++)
		mp_msgref_read(&f->v[i], each_file, &ec);
	return 0;
}

/* a source that counts the bytes it hands out */
struct counted {
	struct mp_msgsrc in;
	long long n;
};

static int counted_next(void *ctx, const char **seg, size_t *len, int *bol, struct mp_err *e)
{
	struct counted *c = ctx;
	int r = c->in.next(c->in.ctx, seg, len, bol, e);
	if (r > 0)
		c->n += (long long)*len;
	return r;
}

static int mbox_read(const char *path, int fd, struct mp_folder *f, mp_folder_each each, void *ctx)
{
	struct mp_segr r;
	struct mp_mboxsplit m;
	struct mp_err e;
	const char *seg;
	size_t len;
	int bol, k;

	mp_err_clear(&e);
	if (mp_segr_init(&r, fd, 64 * 1024, &e) < 0)
		mp_die_err(path, &e);
	mp_mboxsplit_init(&m, &r);
	f->mbox = 1;
	while ((k = mp_mboxsplit_begin(&m, &e)) > 0) {
		struct counted c = {mp_mboxsplit_src(&m), 0};
		struct mp_msgsrc src = {counted_next, &c};
		add(f, path, m.msgstart, 0);
		if (each)
			each(ctx, &f->v[f->n - 1], &src);
		while ((k = src.next(src.ctx, &seg, &len, &bol, &e)) > 0)
			;
		f->v[f->n - 1].size = c.n;
		if (k < 0)
			break;
	}
	mp_segr_free(&r);
	if (k < 0) {
		mp_problem(e.code ? e.code : EX_DATAERR, 1, "%s: %s", path, e.msg);
		return -1;
	}
	return 0;
}

static int is_mbox(int fd)
{
	char peek[5];
	return pread(fd, peek, 5, 0) == 5 && memcmp(peek, "From ", 5) == 0;
}

/* an mbox, or one message, open on fd */
static int file_read(const char *path, int fd, struct mp_folder *f, mp_folder_each each, void *ctx)
{
	struct stat st;

	if (is_mbox(fd))
		return mbox_read(path, fd, f, each, ctx);
	add(f, path, -1, 0);
	f->v[0].size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
	if (each) {
		struct mp_segr r;
		struct mp_err e;
		mp_err_clear(&e);
		if (mp_segr_init(&r, fd, 16 * 1024, &e) < 0)
			mp_die_err(path, &e);
		struct mp_msgsrc src = mp_segr_src(&r);
		each(ctx, &f->v[0], &src);
		mp_segr_free(&r);
	}
	return 0;
}

int mp_folder_read(const char *path, struct mp_folder *f, mp_folder_each each, void *ctx)
{
	struct stat st;

	memset(f, 0, sizeof *f);
	if (strcmp(path, "-") == 0) {
		/* stdin: spooled, to be read like a file */
		FILE *t = tmpfile();
		char buf[65536];
		ssize_t got;
		if (!t)
			mp_die(EX_CANTCREAT, "a temporary file for stdin: %s", strerror(errno));
		while ((got = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0 || fwrite(buf, 1, (size_t)got, t) != (size_t)got)
				mp_die(EX_IOERR, "stdin: %s", strerror(errno));
		}
		if (fflush(t) == EOF || lseek(fileno(t), 0, SEEK_SET) < 0)
			mp_die(EX_IOERR, "a temporary file for stdin: %s", strerror(errno));
		int rc = file_read("stdin", fileno(t), f, each, ctx);
		fclose(t);
		return rc;
	}
	if (stat(path, &st) < 0) {
		mp_problem(EX_NOINPUT, 1, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return maildir_read(path, f, each, ctx, 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mp_problem(EX_NOINPUT, 1, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = file_read(path, fd, f, each, ctx);
	close(fd);
	return rc;
}

int mp_maildir_files(const char *path, struct mp_folder *f)
{
	memset(f, 0, sizeof *f);
	return maildir_read(path, f, NULL, NULL, 1);
}

void mp_folder_free(struct mp_folder *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].path);
	free(f->v);
	memset(f, 0, sizeof *f);
}

int mp_msgref_read(const struct mp_msgref *m, mp_msg_fn fn, void *ctx)
{
	struct mp_segr r;
	struct mp_err e;
	char name[4200];
	int rc = -1;

	mp_err_clear(&e);
	int fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mp_warn("%s: %s", m->path, strerror(errno));
		return -1;
	}
	if (m->off >= 0 && lseek(fd, (off_t)m->off, SEEK_SET) < 0) {
		mp_warn("%s: %s", m->path, strerror(errno));
		close(fd);
		return -1;
	}
	/* --scan reads headers alone: small reads */
	if (mp_segr_init(&r, fd, X.scan ? 4096 : 65536, &e) < 0)
		mp_die_err(m->path, &e);
	if (m->off < 0) {
		struct mp_msgsrc src = mp_segr_src(&r);
		struct mp_msgref mm = *m;
		struct stat st;
		if (fstat(fd, &st) == 0)
			mm.size = (long long)st.st_size;
		rc = fn(ctx, &mm, m->path, &src);
	} else {
		struct mp_mboxsplit s;
		mp_mboxsplit_init(&s, &r);
		if (mp_mboxsplit_begin(&s, &e) > 0) {
			struct mp_msgsrc src = mp_mboxsplit_src(&s);
			snprintf(name, sizeof name, "%s:%ld", m->path, m->num);
			rc = fn(ctx, m, name, &src);
		} else {
			mp_warn("%s: message %ld is gone (the mbox changed?)", m->path, m->num);
		}
	}
	mp_segr_free(&r);
	close(fd);
	return rc;
}

/* ---------------------------------------------------------------- picks */

/* one item of a spec: "N", "N-M", "last", "N-last"; -1 stands for last */
static int item(const char *s, size_t n, long *lo, long *hi)
{
	char buf[64];
	if (!n || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	for (int k = 0; k < (dash ? 2 : 1); k++) {
		const char *w = k ? dash + 1 : buf;
		long *v = k ? hi : lo;
		if (strcmp(w, "last") == 0) {
			*v = -1;
			continue;
		}
		if (!*w || strspn(w, "0123456789") != strlen(w) || strlen(w) > 9)
			return -1;
		*v = strtol(w, NULL, 10);
		if (*v == 0)
			return -1;
	}
	if (!dash)
		*hi = *lo;
	return 0;
}

static int spec_ok(const char *spec)
{
	long lo, hi;
	for (const char *s = spec;;) {
		size_t n = strcspn(s, ",");
		if (item(s, n, &lo, &hi) < 0)
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

void mp_pick_spec(const char *arg, const char *folder, const char *spec, struct mp_folder *f)
{
	struct mp_folder all;
	long lo, hi;

	if (!spec_ok(spec))
		mp_die(EX_USAGE,
		       "%s: '%s' picks no message: give a number, a range N-M, 'last', or a "
		       "list of them with commas",
		       arg, spec);
	if (mp_folder_read(folder, &all, NULL, NULL) < 0)
		exit(EX_NOINPUT);
	memset(f, 0, sizeof *f);
	f->mbox = all.mbox;
	f->maildir = all.maildir;
	for (const char *s = spec;;) {
		size_t n = strcspn(s, ",");
		item(s, n, &lo, &hi);
		long last = (long)all.n;
		if (!last)
			mp_die(EX_NOINPUT, "%s: no message in %s", arg, folder);
		if (lo < 0)
			lo = last;
		if (hi < 0)
			hi = last;
		if (lo > last || hi > last)
			mp_die(EX_NOINPUT, "%s: no message %ld: %s holds %ld", arg,
			       lo > last ? lo : hi, folder, last);
		if (lo > hi)
			mp_die(EX_USAGE, "%s: the range %.*s goes backwards", arg, (int)n, s);
		for (long k = lo; k <= hi; k++) {
			f->v = mp_xrealloc(f->v, (f->n + 1) * sizeof *f->v);
			f->v[f->n] = all.v[k - 1];
			f->v[f->n++].path = mp_xstrdup(all.v[k - 1].path);
		}
		if (!s[n])
			break;
		s += n + 1;
	}
	/* info points into a path: point it into the copy */
	for (size_t i = 0; i < f->n; i++) {
		const char *base = strrchr(f->v[i].path, '/'),
		           *info = strstr(base ? base : f->v[i].path, ":2,");
		f->v[i].info = f->v[i].off < 0 && info ? info + 3 : "";
	}
	mp_folder_free(&all);
}

int mp_pick(const char *arg, struct mp_folder *f)
{
	struct stat st;
	const char *colon = strrchr(arg, ':');

	if (!colon || colon == arg || stat(arg, &st) == 0)
		return 0;
	char *folder = mp_xstrdup(arg);
	folder[colon - arg] = '\0';
	if (stat(folder, &st) < 0) {
		free(folder);
		return 0;
	}
	mp_pick_spec(arg, folder, colon + 1, f);
	free(folder);
	return 1;
}

int mp_pick_input(const char *arg, int show, mp_msg_fn fn, int *ok)
{
	struct mp_folder f;
	struct stat st;

	if (mp_pick(arg, &f)) {
		/* a message file picked whole may still be an mbox: as without a pick */
	} else if (show && stat(arg, &st) == 0) {
		int folder = S_ISDIR(st.st_mode);
		if (!folder && S_ISREG(st.st_mode)) {
			int fd = open(arg, O_RDONLY | O_CLOEXEC);
			folder = fd >= 0 && is_mbox(fd);
			if (fd >= 0)
				close(fd);
		}
		if (!folder)
			return 0;
		mp_pick_spec(arg, arg, "last", &f);
	} else {
		return 0;
	}
	for (size_t i = 0; i < f.n; i++)
		*ok |= mp_msgref_read(&f.v[i], fn, NULL) == 0;
	mp_folder_free(&f);
	return 1;
}

/* ---------------------------------------------------------------- filters */

int mp_part_filtered(void)
{
	return X.type || X.name;
}

int mp_part_wanted(const struct mp_part *p)
{
	if (p->container || p->external)
		return 0;
	if (X.type) {
		char pat[256];
		size_t k = 0;
		for (; X.type[k] && k + 1 < sizeof pat; k++)
			pat[k] = (char)(X.type[k] >= 'A' && X.type[k] <= 'Z' ? X.type[k] + 32
			                                                     : X.type[k]);
		pat[k] = '\0';
		if (fnmatch(pat, p->type, 0) != 0)
			return 0;
	}
	if (X.name && (!p->filename[0] || fnmatch(X.name, p->filename, FNM_CASEFOLD) != 0))
		return 0;
	return 1;
}
