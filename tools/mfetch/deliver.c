/* mfetch: a fetched message to its destination: a Maildir or an mbox
 * (with the group commit), mboxrd on stdout, or an MDA; --dedup's check
 * after a UIDVALIDITY change first. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dedup.h"
#include "deliver.h"
#include "intent.h"
#include "io.h"
#include "report.h"
#include "state.h"

/* mboxrd quoting as a stream: a line that is ">*From " gets one more
 * '>'. The '>'s and "From" letters at a line start are held back until
 * the line shows what it is, so a chunk boundary changes nothing. */
struct rdq {
	int pfx;   /* still at the start of a line */
	size_t gt; /* '>' held */
	size_t fm; /* letters of "From " held */
};

static void rdq_flush(struct rdq *q, struct mp_buf *out)
{
	for (; q->gt; q->gt--)
		mp_buf_putc(out, '>');
	mp_buf_append(out, "From ", q->fm);
	q->fm = 0;
	q->pfx = 0;
}

static void rdq_put(struct rdq *q, struct mp_buf *out, char c)
{
	if (q->pfx) {
		if (q->fm == 0 && c == '>') {
			q->gt++;
			return;
		}
		if (c == "From "[q->fm]) {
			if (++q->fm == 5) {
				mp_buf_putc(out, '>');
				rdq_flush(q, out);
			}
			return;
		}
		rdq_flush(q, out);
	}
	mp_buf_putc(out, c);
	if (c == '\n')
		*q = (struct rdq){.pfx = 1};
}

static int to_stdout(int fd, struct mp_err *e)
{
	/* mboxrd: From_ line, ^>*From quoted, LF line ends, blank line */
	char buf[65536], date[64];
	time_t t = time(NULL);
	struct tm tm;
	ssize_t n;
	int cr = 0, last = '\n';
	struct rdq q = {.pfx = 1};
	struct mp_buf out = MP_BUF_INIT;

	localtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	mp_buf_printf(&out, "From MAILER-DAEMON %s\n", date);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];
			if (cr && c != '\n')
				rdq_put(&q, &out, '\r');
			cr = c == '\r';
			if (cr)
				continue;
			rdq_put(&q, &out, c);
			last = c;
		}
		if (mp_write_full(STDOUT_FILENO, out.data, out.len) < 0) {
			mp_buf_free(&out);
			return mp_err_sys(e, EX_IOERR, "stdout");
		}
		mp_buf_reset(&out);
	}
	if (n < 0) {
		mp_buf_free(&out);
		return mp_err_sys(e, EX_TEMPFAIL, "spool");
	}
	if (cr)
		rdq_put(&q, &out, '\r'), last = '\r';
	if (q.pfx)
		rdq_flush(&q, &out);
	mp_buf_puts(&out, last == '\n' ? "\n" : "\n\n");
	int rc = mp_write_full(STDOUT_FILENO, out.data, out.len);
	mp_buf_free(&out);
	return rc < 0 ? mp_err_sys(e, EX_IOERR, "stdout") : 0;
}

static int to_mda(const struct fopts *o, int fd, const char *uid, const char *folder,
                  struct mp_err *e)
{
	pid_t pid;
	int st;

	lseek(fd, 0, SEEK_SET);
	pid = fork();
	if (pid < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "fork");
	if (pid == 0) {
		dup2(fd, STDIN_FILENO);
		signal(SIGPIPE, SIG_DFL);
		setenv("MFETCH_UID", uid, 1);
		setenv("MFETCH_FOLDER", folder, 1);
		setenv("MFETCH_SERVER", o->server, 1);
		execl("/bin/sh", "sh", "-c", o->dest_arg, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return mp_err_sys(e, EX_TEMPFAIL, "wait");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return mp_err_set(
		    e, WEXITSTATUS(st) == EX_TEMPFAIL ? EX_TEMPFAIL : EX_UNAVAILABLE,
		    "the MDA '%s' exited %d for UID %s: the message stays on the server",
		    o->dest_arg, WEXITSTATUS(st), uid);
	return mp_err_set(e, EX_TEMPFAIL, "the MDA '%s' died (signal %d) for UID %s", o->dest_arg,
	                  WTERMSIG(st), uid);
}

static void json_message(const struct fopts *o, int fd, const char *uid, const char *folder,
                         const char *where)
{
	struct stat st;

	report_message(o, fstat(fd, &st) == 0 ? (long long)st.st_size : -1, uid, folder, where);
}

/* a Maildir delivery waiting for its commit, for the --json line */
struct pending_msg {
	char uid[80];
	const char *folder;
	long long bytes;
};

int per_message(const struct fopts *o)
{
	/* an mbox append is flushed by itself: recorded at once, its intent
	 * recorded before it (record_append_intent) */
	return o->dest != DEST_STORE || o->store.kind == MP_STORE_MBOX;
}

int mbox_intent(const struct fopts *o)
{
	return o->dest == DEST_STORE && o->store.kind == MP_STORE_MBOX && o->jkey && !o->peek;
}

/* a delivery's UID, for its intent */
static void note_uid(struct fopts *o, const char *uid)
{
	if (o->njuid == o->capjuid) {
		o->capjuid = o->capjuid ? o->capjuid * 2 : BATCH_MSGS;
		o->juid = mp_xrealloc(o->juid, o->capjuid * sizeof *o->juid);
	}
	snprintf(o->juid[o->njuid++], sizeof *o->juid, "%s", uid);
}

int commit_due(const struct fopts *o)
{
	return o->uncommitted >= BATCH_MSGS || o->uncommitted_bytes >= BATCH_BYTES;
}

static void json_linked(void *ctx, const char *path)
{
	struct fopts *o = ctx;

	/* mp_store_sync reports the batch in the order it was delivered */
	if (o->json && o->npend) {
		const struct pending_msg *m = &o->pend[0];
		report_message(o, m->bytes, m->uid, m->folder, path);
		memmove(o->pend, o->pend + 1, --o->npend * sizeof *o->pend);
	}
}

int commit(struct fopts *o, struct mp_err *e)
{
	int rc = 0;

	if (o->commit_failed)
		return mp_err_set(e, EX_TEMPFAIL, "a batch could not be made durable");
	if (o->dest == DEST_STORE && o->store.kind == MP_STORE_MAILDIR && o->uncommitted &&
	    mp_store_sync(&o->store, json_linked, o, e) < 0) {
		o->commit_failed = 1;
		rc = -1;
	}
	o->npend = 0;
	o->njuid = 0;
	o->uncommitted = 0;
	o->uncommitted_bytes = 0;
	return rc;
}

int deliver_file(struct fopts *o, int fd, const char *uid, const char *folder, struct mp_err *e)
{
	if (o->dedup) { /* a folder's new UIDVALIDITY: what is there already stays once */
		char id[1000];
		if (mp_store_file_msgid(fd, id, sizeof id)) {
			if (msgids_has(o->dedup, id)) {
				o->dedup->skipped++;
				return 0; /* as good as delivered: it is there */
			}
			msgids_add(o->dedup, id);
		}
		o->dedup->kept++;
	}
	if (o->dest == DEST_STDOUT)
		return to_stdout(fd, e);
	if (o->dest == DEST_MDA) {
		int rc = to_mda(o, fd, uid, folder, e);
		if (rc == 0 && o->json)
			json_message(o, fd, uid, folder, NULL); /* no path of its own */
		return rc;
	}
	if (o->commit_failed)
		return mp_err_set(e, EX_TEMPFAIL, "a batch could not be made durable");
	struct mp_segr r;
	struct mp_delivery d = {.batch = o->store.kind == MP_STORE_MAILDIR};
	struct mp_delivered res;
	lseek(fd, 0, SEEK_SET);
	if (mp_segr_init(&r, fd, 64 * 1024, e) < 0)
		return -1;
	if (!d.batch) { /* the one UID of an mbox append's intent */
		o->njuid = 0;
		note_uid(o, uid);
	}
	struct mp_msgsrc src = mp_segr_src(&r);
	int rc = mp_store_deliver(&o->store, &src, &d, &res, e);
	mp_segr_free(&r);
	if (rc < 0)
		return -1;
	o->uncommitted++;
	o->uncommitted_bytes += res.size;
	if (d.batch) /* its UID for the intent */
		note_uid(o, uid);
	if (!o->json)
		return 0;
	if (!d.batch) {
		json_message(o, fd, uid, folder, res.path);
		return 0;
	}
	/* the path it will have is known once it is linked */
	if (o->npend == o->cappend) {
		o->cappend = o->cappend ? o->cappend * 2 : BATCH_MSGS;
		o->pend = mp_xrealloc(o->pend, o->cappend * sizeof *o->pend);
	}
	struct pending_msg *m = &o->pend[o->npend++];
	struct stat sb;
	snprintf(m->uid, sizeof m->uid, "%s", uid);
	m->folder = folder;
	m->bytes = fstat(fd, &sb) == 0 ? (long long)sb.st_size : -1;
	return 0;
}

/* the store's before_link: the batch's intent recorded, durably, before
 * the first of it is linked (intent.h) */
static int record_intent(void *ctx, const char *const *names, size_t n, struct mp_err *e)
{
	struct fopts *o = ctx;
	struct mp_buf text = MP_BUF_INIT;
	const char **uids;
	char *md;
	int rc;

	if (!o->jkey || o->peek)
		return 0;
	if (n != o->njuid)
		return mp_err_set(e, EX_SOFTWARE, "a batch of %zu messages with %zu UIDs", n,
		                  o->njuid);
	uids = mp_xmalloc((n ? n : 1) * sizeof *uids);
	for (size_t i = 0; i < n; i++)
		uids[i] = o->juid[i];
	md = realpath(o->store.path, NULL);
	intent_format(&text, md ? md : o->store.path, o->jpre, uids, names, n);
	rc = state_intent(o, o->jkey, text.data, e);
	o->intent_open = rc == 0;
	free(md);
	free(uids);
	mp_buf_free(&text);
	return rc;
}

/* the store's before_append: an mbox message's intent recorded, durably,
 * before the first of its bytes is appended (intent.h) */
static int record_append_intent(void *ctx, const struct mp_mbox_append *a, struct mp_err *e)
{
	struct fopts *o = ctx;
	struct mp_buf text = MP_BUF_INIT;
	char name[120], *mb;
	const char *uid, *nm = name;
	int rc;

	if (!mbox_intent(o))
		return 0;
	if (o->njuid != 1)
		return mp_err_set(e, EX_SOFTWARE, "an mbox append with %zu UIDs", o->njuid);
	uid = o->juid[0];
	snprintf(name, sizeof name, "@%lld,%lld,%s", a->offset, a->size, a->sha256);
	mb = realpath(o->store.path, NULL); /* there: the append made it */
	intent_format(&text, mb ? mb : o->store.path, o->jpre, &uid, &nm, 1);
	rc = state_intent(o, o->jkey, text.data, e);
	o->intent_open = rc == 0;
	free(mb);
	mp_buf_free(&text);
	return rc;
}

int deliver_open(struct fopts *o, const char *to, struct mp_err *e)
{
	const char *t = to;
	unsigned flags = 0;
	char tbuf[4096];

	if (o->dest == DEST_MDA || o->list_folders)
		return 0;
	if (strcmp(to, "-") == 0) {
		o->dest = DEST_STDOUT;
		return 0;
	}
	if (strncmp(t, "maildir:", 8) == 0) {
		snprintf(tbuf, sizeof tbuf, "%s/", t + 8);
		t = tbuf;
		flags = MP_STORE_CREATE;
	} else if (strncmp(t, "mbox:", 5) == 0) {
		t += 5;
		if (o->per_folder) { /* a directory: DIR/NAME for each folder */
			if (mkdir(t, 0700) < 0 && errno != EEXIST)
				return mp_err_sys(e, EX_CANTCREAT, "%s", t);
			struct stat sb;
			if (stat(t, &sb) < 0 || !S_ISDIR(sb.st_mode))
				return mp_err_set(e, EX_CANTCREAT,
				                  "%s: not a directory (a --folder pattern puts "
				                  "each folder's mbox in it)",
				                  t);
			o->store.kind = MP_STORE_MBOX;
			return 0;
		}
	}
	/* a Maildir is created with its parents (mfetch(1)) */
	if (*t && t[strlen(t) - 1] == '/')
		flags |= MP_STORE_PARENTS;
	if (mp_store_open(&o->store, t, NULL, flags, e) < 0)
		return -1;
	o->store.before_link = record_intent;
	o->store.before_link_ctx = o;
	o->store.before_append = record_append_intent;
	o->store.before_append_ctx = o;
	return 0;
}

int deliver_folder(struct fopts *o, const char *name, char delim, struct mp_err *e)
{
	struct mp_buf sub = MP_BUF_INIT, path = MP_BUF_INIT;
	const char *t = o->to;
	int rc = -1;

	if (o->dest != DEST_STORE)
		return 0;
	/* the hierarchy as '/', which the store makes Maildir++'s '.' */
	for (const char *p = name; *p; p++)
		mp_buf_putc(&sub, *p == delim ? '/' : *p);
	if (!sub.len || sub.data[0] == '.' || sub.data[0] == '/' || strstr(sub.data, "..") ||
	    strstr(sub.data, "//") || sub.data[sub.len - 1] == '/' || strpbrk(sub.data, "\n\r\t")) {
		mp_err_set(e, EX_DATAERR, "folder %s: no local name can be made of it", name);
		goto out;
	}
	int inbox = strcasecmp(sub.data, "INBOX") == 0;
	int mbox = o->store.kind == MP_STORE_MBOX;
	if (mbox) { /* DIR/NAME, one mbox a folder */
		if (strncmp(t, "mbox:", 5) == 0)
			t += 5;
		mp_buf_printf(&path, "%s/", t);
		for (const char *p = sub.data; *p; p++)
			mp_buf_putc(&path, *p == '/' ? '.' : *p);
		t = path.data;
	} else if (strncmp(t, "maildir:", 8) == 0) {
		mp_buf_printf(&path, "%s/", t + 8);
		t = path.data;
	}
	mp_store_close(&o->store);
	if (mp_store_open(&o->store, t, mbox || inbox ? NULL : sub.data, 0, e) < 0)
		goto out;
	if (mbox && o->store.kind != MP_STORE_MBOX) {
		mp_err_set(e, EX_CANTCREAT, "%s: a directory, not an mbox", t);
		goto out;
	}
	o->store.before_link = record_intent;
	o->store.before_link_ctx = o;
	rc = 0;
out:
	mp_buf_free(&sub);
	mp_buf_free(&path);
	return rc;
}

void deliver_close(struct fopts *o)
{
	if (o->dest == DEST_STORE && !o->list_folders)
		mp_store_close(&o->store);
	free(o->pend);
	o->pend = NULL;
	free(o->juid);
	o->juid = NULL;
	o->njuid = o->capjuid = 0;
}
