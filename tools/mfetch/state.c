/* mfetch: the only-new state. One file, a journal of lines: "KEY\tVALUE"
 * (KEY's value, a line per IMAP folder or POP3 maildrop), "+KEY\tITEMS"
 * (POP3 UIDLs added to it) and "?KEY\tTEXT" (a batch's intent, see
 * intent.h). A change is one line appended and fsynced under a lock, as
 * the processes of --idle share the file, so that a batch costs what it
 * records and not the whole state; now and then the file is rewritten
 * compacted. A file of the old format, a line per key, is a journal
 * already compacted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "state.h"

static const char *state_path(const struct fopts *o)
{
	static char buf[4096];
	const char *d;

	if (o->state)
		return o->state;
	if ((d = getenv("XDG_STATE_HOME")) && *d)
		snprintf(buf, sizeof buf, "%s/mailpipe/mfetch.state", d);
	else
		snprintf(buf, sizeof buf, "%s/.local/state/mailpipe/mfetch.state",
		         getenv("HOME") ? getenv("HOME") : "/tmp");
	return buf;
}

/* The journal, read: each key's value and pending intent, in the
 * order the keys first came. A line without its '\n' is a torn append
 * of a run that was killed: it never counted, and is left out. */
enum { REC_SET, REC_ADD, REC_INTENT };

struct kv {
	char *key;
	struct mp_buf val, intent;
	int has_val;
};

struct journal {
	struct kv *v;
	size_t n, cap;
};

static void journal_free(struct journal *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->v[i].key);
		mp_buf_free(&j->v[i].val);
		mp_buf_free(&j->v[i].intent);
	}
	free(j->v);
	memset(j, 0, sizeof *j);
}

static struct kv *journal_key(struct journal *j, const char *key)
{
	for (size_t i = j->n; i-- > 0;)
		if (strcmp(j->v[i].key, key) == 0)
			return &j->v[i];
	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 8;
		j->v = mp_xrealloc(j->v, j->cap * sizeof *j->v);
	}
	struct kv *k = &j->v[j->n++];
	*k = (struct kv){.key = mp_xstrdup(key)};
	return k;
}

static void apply(struct kv *k, int kind, const char *text)
{
	if (kind == REC_INTENT) {
		mp_buf_reset(&k->intent);
		mp_buf_puts(&k->intent, text);
		return;
	}
	mp_buf_reset(&k->intent); /* a record closes the intent before it */
	if (kind == REC_SET) {
		mp_buf_reset(&k->val);
		mp_buf_puts(&k->val, text);
	} else if (*text) { /* the items between spaces, as "KEY\t a b " */
		if (!k->val.len || k->val.data[k->val.len - 1] != ' ')
			mp_buf_putc(&k->val, ' ');
		mp_buf_puts(&k->val, text);
		mp_buf_putc(&k->val, ' ');
	}
	k->has_val = 1;
}

/* path's records into j; the file's size into *size; 0, or -1 when
 * there is no file */
static int journal_read(const char *path, struct journal *j, long long *size)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*size = 0;
	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		*size += n;
		if (line[n - 1] != '\n')
			break; /* torn */
		line[n - 1] = '\0';
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		int kind = line[0] == '+' ? REC_ADD : line[0] == '?' ? REC_INTENT : REC_SET;
		const char *key = line + (kind != REC_SET);
		if (*key)
			apply(journal_key(j, key), kind, tab + 1);
	}
	free(line);
	fclose(f);
	return 0;
}

/* the journal compacted: a value line for each key, and its intent if
 * one is pending */
static void journal_format(const struct journal *j, struct mp_buf *out)
{
	for (size_t i = 0; i < j->n; i++) {
		const struct kv *k = &j->v[i];
		if (k->has_val)
			mp_buf_printf(out, "%s\t%s\n", k->key, k->val.data ? k->val.data : "");
		if (k->intent.len)
			mp_buf_printf(out, "?%s\t%s\n", k->key, k->intent.data);
	}
}

/* The size of the journal compacted, when it was last read. A journal
 * found at the start of a run to be more than twice that and 64 KiB is
 * compacted then; during a run, once it is more than eight times that
 * and 1 MiB. So the file stays in proportion to what it records, and a
 * batch's record is compacted O(1) times on average. */
static long long live_size = -1;
#define COMPACT_SLACK     (64 * 1024)
#define COMPACT_SLACK_RUN (1024 * 1024)

static void compact(const char *path);
static int change_lock(const char *path, struct mp_err *e);

int state_load(const struct fopts *o, const char *key, struct mp_buf *value, struct mp_buf *intent)
{
	struct journal j = {0};
	struct mp_buf all = MP_BUF_INIT;
	long long size;
	int rc = -1;

	mp_buf_reset(value);
	if (intent)
		mp_buf_reset(intent);
	if (journal_read(state_path(o), &j, &size) < 0) {
		live_size = 0;
		return -1;
	}
	journal_format(&j, &all);
	live_size = (long long)all.len;
	mp_buf_free(&all);
	if (!o->peek && size > 2 * live_size + COMPACT_SLACK) {
		struct mp_err e;
		int lfd = change_lock(state_path(o), &e);
		if (lfd >= 0) {
			compact(state_path(o));
			close(lfd);
		}
	}
	for (size_t i = 0; i < j.n; i++) {
		struct kv *k = &j.v[i];
		if (strcmp(k->key, key) != 0)
			continue;
		if (k->has_val)
			mp_buf_puts(value, k->val.data ? k->val.data : "");
		if (intent && k->intent.len)
			mp_buf_puts(intent, k->intent.data);
		rc = k->has_val || k->intent.len ? 0 : -1;
	}
	journal_free(&j);
	return rc;
}

int state_lock(const struct fopts *o, const char *who, struct mp_err *e)
{
	static int fd = -1; /* open, and so locked, until the process ends */
	const char *path = state_path(o);
	char lock[4200], key[600];
	unsigned h = 2166136261u; /* FNV-1a */

	snprintf(lock, sizeof lock, "%s.run", path);
	mp_mkdirs(path, 0, NULL);
	if (fd < 0 && (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "%s", lock);
	/* one byte of the file per account: other accounts go on */
	snprintf(key, sizeof key, "%s %s@%s", o->imap ? "imap" : "pop3", o->user, o->server);
	for (const char *k = key; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	struct flock fl = {
	    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = h & 0x3fffffff, .l_len = 1};
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	if (errno != EACCES && errno != EAGAIN)
		return mp_err_sys(e, EX_TEMPFAIL, "lock %s", lock);
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		return mp_err_set(e, EX_TEMPFAIL, "another mfetch (pid %ld) is fetching %s",
		                  (long)fl.l_pid, who);
	return mp_err_set(e, EX_TEMPFAIL, "another mfetch is fetching %s", who);
}

/* the lock of changes to the file, beside it: -1 with e filled */
static int change_lock(const char *path, struct mp_err *e)
{
	char lock[4200];
	int lfd;

	mp_mkdirs(path, 0, NULL);
	/* one writer at a time (the processes of --idle with several
	 * folders share the file) */
	snprintf(lock, sizeof lock, "%s.lock", path);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "%s", lock);
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(lfd);
			return mp_err_sys(e, EX_TEMPFAIL, "lock %s", lock);
		}
	return lfd;
}

/* under the change lock: the journal rewritten compacted (tmp, fsync,
 * rename, fsync the directory); nothing lost if it fails */
static void compact(const char *path)
{
	struct journal j = {0};
	struct mp_buf out = MP_BUF_INIT;
	struct mp_err e;
	long long size;

	mp_err_clear(&e);
	if (journal_read(path, &j, &size) == 0) {
		journal_format(&j, &out);
		if (mp_atomic_write(path, out.data ? out.data : "", out.len, 0600, &e) == 0)
			live_size = (long long)out.len;
	}
	mp_buf_free(&out);
	journal_free(&j);
}

/* one record appended and fsynced, under the change lock; a torn line a
 * killed run left at the end is cut off first, so that it never joins
 * the new record */
static int append(const struct fopts *o, int kind, const char *key, const char *text,
                  struct mp_err *e)
{
	if (o->peek)
		return 0; /* what was shown is still new for the next run */
	const char *path = state_path(o);
	struct mp_buf rec = MP_BUF_INIT;
	struct stat st;
	int lfd, fd, created = 0, rc = -1;

	if ((lfd = change_lock(path, e)) < 0)
		return -1;
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		created = 1;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		mp_err_sys(e, EX_TEMPFAIL, "%s", path);
		goto out;
	}
	off_t end = st.st_size;
	char c = '\n';
	while (end > 0 && pread(fd, &c, 1, end - 1) == 1 && c != '\n')
		end--;
	if (end < st.st_size && ftruncate(fd, end) < 0) {
		mp_err_sys(e, EX_TEMPFAIL, "%s", path);
		goto out;
	}
	mp_buf_printf(&rec, "%s%s\t%s\n",
	              kind == REC_ADD      ? "+"
	              : kind == REC_INTENT ? "?"
	                                   : "",
	              key, text);
	if (mp_write_full(fd, rec.data, rec.len) < 0 || mp_fsync_fd(fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "%s", path);
		goto out;
	}
	if (created) {
		/* a new file: its name made durable too */
		char dir[4096], *slash;
		snprintf(dir, sizeof dir, "%s", path);
		slash = strrchr(dir, '/');
		if (!slash)
			strcpy(dir, ".");
		else
			slash[slash == dir] = '\0';
		if (mp_fsync_dir(dir, e) < 0)
			goto out;
	}
	rc = 0;
	if (live_size >= 0 &&
	    (long long)end + (long long)rec.len > 8 * live_size + COMPACT_SLACK_RUN)
		compact(path);
out:
	if (fd >= 0)
		close(fd);
	close(lfd);
	mp_buf_free(&rec);
	return rc;
}

int state_save(const struct fopts *o, const char *key, const char *value, struct mp_err *e)
{
	return append(o, REC_SET, key, value, e);
}

int state_add(const struct fopts *o, const char *key, const char *items, struct mp_err *e)
{
	return append(o, REC_ADD, key, items, e);
}

int state_intent(const struct fopts *o, const char *key, const char *text, struct mp_err *e)
{
	return append(o, REC_INTENT, key, text, e);
}
