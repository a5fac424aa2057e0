/* mdeliver: deliver one message (or every message of an mbox) into a
 * Maildir or an mbox, durably; the exit code says whether it is there. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "json.h"
#include "store.h"
#include "util.h"

#define SEGBUF (64 * 1024)
/* --split into a Maildir: a batch is synced once it has this many messages
 * or bytes in it */
#define SPLIT_BATCH       256
#define SPLIT_BATCH_BYTES (128LL * 1024 * 1024)

struct opts {
	struct mp_delivery d;
	const char *folder, *split_file;
	unsigned storeflags;
	int verbose, json, split, split_fd, join, burst;
	long skip;
	double lock_timeout;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [-cp] [-v] [-f ADDR] [--folder NAME] [--flags FLAGS] [--dedup]\n"
	        "          [--delivered-to ADDR [--loop-check]] [TARGET] < message\n"
	        "       %s --split [--skip N] [options] [FILE] TARGET\n"
	        "       %s --join [--skip N] [options] MAILDIR|FILE... MBOX\n"
	        "       %s --burst [options] [FILE] TARGET\n"
	        "Deliver a message into a Maildir (a directory, or a path ending in '/') or an\n"
	        "mbox file, durably. TARGET defaults to $MAILDIR, $MAIL, ~/Maildir/.\n\n"
	        "  -c, --create          create the Maildir when missing\n"
	        "  -p, --parents         create the target's missing parent directories\n"
	        "  -f, --from ADDR       envelope sender: Return-Path and the mbox From_ line\n"
	        "      --folder NAME     deliver into the Maildir++ folder .NAME\n"
	        "      --flags FLAGS     Maildir info flags (D F P R S T): into cur/; for an\n"
	        "                        mbox, Status: and X-Status: instead\n"
	        "      --delivered-to A  add Delivered-To: A\n"
	        "      --loop-check      refuse (exit 67) mail already delivered to A\n"
	        "      --dedup           skip a Message-ID this Maildir already got\n"
	        "      --split           deliver every message of an mbox (FILE or stdin)\n"
	        "      --join            append Maildirs' messages to an mbox, flags too\n"
	        "      --skip N          with --split or --join: skip the first N messages\n"
	        "      --burst           deliver each message of a digest (FILE or stdin): a\n"
	        "                        multipart/digest or an RFC 1153 text digest\n"
	        "      --lock-timeout S  mbox: seconds to wait for the lock (default 30)\n"
	        "  -v, --verbose         say where each message went\n"
	        "  -j, --json            JSON Lines on stdout: each message, the --split summary\n"
	        "  -h, --help            this help\n"
	        "  -V, --version         version\n",
	        mp_progname(), mp_progname(), mp_progname(), mp_progname());
}

static const char *default_target(void)
{
	static char buf[PATH_MAX];
	const char *v = getenv("MAILDIR"), *home;

	if (v && *v)
		return v;
	if ((v = getenv("MAIL")) && *v)
		return v;
	home = getenv("HOME");
	if (!home || !*home)
		mp_die(EX_USAGE, "no TARGET, and none of MAILDIR, MAIL, HOME is set");
	snprintf(buf, sizeof buf, "%s/Maildir/", home);
	return buf;
}

/* --json: {"type":"message","path":...}, the same keys every time, null for
 * what is not known (a message of --split is reported by its path) */
static void json_line(const char *path, const struct mp_store *s, const struct mp_delivered *r)
{
	struct mp_json j;

	mp_json_init(&j, stdout, 0);
	mp_json_begin_object(&j, NULL);
	mp_json_string(&j, "type", "message");
	mp_json_string(&j, "path", path);
	if (r && s->kind == MP_STORE_MBOX)
		mp_json_int(&j, "offset", r->offset);
	else
		mp_json_string(&j, "offset", NULL);
	if (r)
		mp_json_int(&j, "bytes", r->size);
	else
		mp_json_string(&j, "bytes", NULL);
	mp_json_string(&j, "message_id", r && r->msgid[0] ? r->msgid : NULL);
	mp_json_bool(&j, "skipped", r && r->skipped);
	mp_json_end_object(&j);
	mp_json_finish(&j);
	fflush(stdout);
}

static void report(const struct opts *o, const struct mp_store *s, const struct mp_delivered *r)
{
	if (o->json)
		json_line(r->skipped ? s->path : r->path, s, r);
	if (r->skipped) {
		mp_warn("%s: %s already delivered, skipped", s->path, r->msgid);
		return;
	}
	if (!o->verbose || o->json)
		return;
	if (s->kind == MP_STORE_MBOX)
		printf("%s: offset %lld, %lld bytes\n", r->path, r->offset, r->size);
	else
		printf("%s\n", r->path);
}

static int deliver_one(struct mp_store *s, const struct opts *o)
{
	struct mp_segr r;
	struct mp_msgsrc src;
	struct mp_delivered res;
	struct mp_err e;

	mp_err_clear(&e);
	if (mp_segr_init(&r, STDIN_FILENO, SEGBUF, &e) < 0)
		mp_die_err(s->path, &e);
	src = mp_segr_src(&r);
	if (mp_store_deliver(s, &src, &o->d, &res, &e) < 0)
		mp_die_err(s->path, &e);
	report(o, s, &res);
	mp_segr_free(&r);
	return 0;
}

static void say_path(void *ctx, const char *path)
{
	const struct opts *o = ctx;

	if (o->json)
		json_line(path, NULL, NULL);
	else if (o->verbose)
		printf("%s\n", path);
}

/* --split: the numbers of the messages delivered and not yet durable, in
 * order (at most the batch in hand and the one in the background); the
 * store reports durable ones in the same order */
#define SPLIT_RING (2 * SPLIT_BATCH + 2)
struct split {
	const struct opts *o;
	long seq[SPLIT_RING];
	unsigned long head, tail;
	long done;        /* messages made durable in this run */
	struct mp_err *e; /* --burst: the error in hand */
};

static void split_done(void *ctx, const char *path)
{
	struct split *sp = ctx;

	if (sp->head != sp->tail)
		sp->head++;
	sp->done++;
	say_path((void *)sp->o, path);
}

static void split_summary(const struct opts *o, long done, long long bytes)
{
	if (o->json) {
		struct mp_json j;
		mp_json_init(&j, stdout, 0);
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "type", "summary");
		mp_json_int(&j, "delivered", done);
		mp_json_int(&j, "bytes", bytes);
		mp_json_end_object(&j);
		mp_json_finish(&j);
	} else {
		mp_warn("delivered %ld messages (%lld bytes)", done, bytes);
	}
}

static int deliver_split(struct mp_store *s, const struct opts *o)
{
	const char *name = o->split_file ? o->split_file : "stdin";
	struct mp_delivery d = o->d;
	struct mp_delivered res;
	struct mp_mboxsplit m;
	struct mp_msgsrc src;
	struct mp_segr r;
	struct mp_err e, e2;
	struct split sp = {.o = o};
	long long bytes = 0;
	int fd = o->split_fd, rc, commit_failed = 0;

	mp_err_clear(&e);
	if (mp_segr_init(&r, fd, SEGBUF, &e) < 0)
		mp_die_err(name, &e);
	mp_mboxsplit_init(&m, &r);
	src = mp_mboxsplit_src(&m);
	/* a Maildir takes the messages in batches: written to tmp/, then one
	 * sync for all, then linked, then the directories fsynced, on a
	 * thread while the next batch is written; nothing is counted or
	 * reported before its batch is durable */
	d.batch = s->kind == MP_STORE_MAILDIR;
	/* the mbox's Status: and X-Status: are the flags (--flags wins) */
	d.mbox_status = s->kind == MP_STORE_MAILDIR;
	while ((rc = mp_mboxsplit_begin(&m, &e)) > 0) {
		if (m.count <= o->skip) {
			const char *seg;
			size_t len;
			int bol, k;
			while ((k = src.next(src.ctx, &seg, &len, &bol, &e)) > 0)
				;
			if (k < 0)
				break;
			continue;
		}
		if (mp_store_deliver(s, &src, &d, &res, &e) < 0)
			break;
		if (res.skipped || !d.batch) {
			report(o, s, &res);
			sp.done += !res.skipped;
		} else {
			sp.seq[sp.tail++ % SPLIT_RING] = m.count;
		}
		if (!res.skipped)
			bytes += res.size;
		if (d.batch &&
		    (s->npending >= SPLIT_BATCH || s->pending_bytes >= SPLIT_BATCH_BYTES) &&
		    mp_store_sync_bg(s, split_done, &sp, &e) < 0) {
			commit_failed = 1;
			break;
		}
	}
	if (rc >= 0 && !e.code && mp_store_sync(s, split_done, &sp, &e) < 0)
		commit_failed = 1;
	if (rc >= 0 && !e.code) {
		split_summary(o, sp.done, bytes);
		mp_segr_free(&r);
		return 0;
	}
	/* the messages before the failed one are whole: make them durable
	 * first, so that the count and --skip are exact; what a failed
	 * commit took back counts from its first message */
	mp_err_clear(&e2);
	if (!commit_failed && mp_store_sync(s, split_done, &sp, &e2) < 0)
		commit_failed = 2;
	long first = sp.head != sp.tail ? sp.seq[sp.head % SPLIT_RING] : m.count;
	long last = sp.head != sp.tail ? sp.seq[(sp.tail - 1) % SPLIT_RING] : m.count;
	/* an error while passing over --skip: those were delivered before */
	if (first <= o->skip)
		first = o->skip + 1;
	mp_store_close(s);
	if (commit_failed == 1) {
		mp_warn("%s: messages %ld to %ld: %s", name, first, last, e.msg);
	} else {
		mp_warn("%s: message %ld at byte %lld: %s", name, m.count, m.msgstart + 1, e.msg);
		if (commit_failed == 2)
			mp_warn("%s: messages %ld to %ld: %s", name, first, last, e2.msg);
	}
	mp_die(e.code ? e.code : EX_SOFTWARE,
	       "delivered %ld messages before message %ld; rerun with --skip %ld to continue",
	       sp.done, first, first > 0 ? first - 1 : 0);
}

/* --burst: each message of the digest, in order */
struct burst {
	struct mp_store *s;
	const struct opts *o;
	struct mp_delivery d;
	struct split sp;
	long n;
	long long bytes;
	struct mp_delivered *held; /* an mbox's, reported once they are synced */
	size_t nheld;
	long long heldbytes;
	int sync_failed; /* the last mp_store_sync failed: the held ones are gone */
};

static int burst_sync(struct burst *b, struct mp_err *e);

static int burst_one(void *ctx, const char *msg, size_t n)
{
	struct burst *b = ctx;
	struct mp_memsrc m;
	struct mp_msgsrc src = mp_memsrc(&m, msg, n);
	struct mp_delivered res;
	struct mp_err *e = b->sp.e;

	b->n++;
	/* an mbox: its locks once, at the first message, for the whole run
	 * (mp_store_mbox_hold, as --join); each message appended, made
	 * durable in batches by mp_store_sync */
	if (b->s->kind == MP_STORE_MBOX && b->s->mbox_fd < 0 && mp_store_mbox_hold(b->s, e) < 0)
		return -1;
	if (mp_store_deliver(b->s, &src, &b->d, &res, e) < 0)
		return -1;
	b->bytes += res.size;
	if (b->s->kind == MP_STORE_MBOX) {
		b->held = mp_xrealloc(b->held, (b->nheld + 1) * sizeof *b->held);
		b->held[b->nheld++] = res;
		b->heldbytes += res.size;
		if ((b->nheld >= SPLIT_BATCH || b->heldbytes >= SPLIT_BATCH_BYTES) &&
		    burst_sync(b, e) < 0)
			return -1;
		return 0;
	}
	if (res.skipped) {
		report(b->o, b->s, &res);
		return 0;
	}
	if (b->d.batch &&
	    (b->s->npending >= SPLIT_BATCH || b->s->pending_bytes >= SPLIT_BATCH_BYTES) &&
	    mp_store_sync_bg(b->s, split_done, &b->sp, e) < 0)
		return -1;
	return 0;
}

/* an mbox's messages, said once it is synced */
static void burst_held(struct burst *b)
{
	for (size_t i = 0; i < b->nheld; i++)
		report(b->o, b->s, &b->held[i]);
	b->sp.done += (long)b->nheld;
	free(b->held);
	b->held = NULL;
	b->nheld = 0;
	b->heldbytes = 0;
}

/* what was delivered made durable (a Maildir's linked, an mbox's fsynced
 * under its held locks), then said; when that fails, the mbox's held
 * ones were cut off by the store and are never said */
static int burst_sync(struct burst *b, struct mp_err *e)
{
	if (mp_store_sync(b->s, split_done, &b->sp, e) == 0) {
		burst_held(b);
		return 0;
	}
	b->sync_failed = 1;
	b->bytes -= b->heldbytes;
	free(b->held);
	b->held = NULL;
	b->nheld = 0;
	b->heldbytes = 0;
	return -1;
}

/* the whole digest in memory (at most MP_DIGEST_MAX bytes) */
static char *read_all(int fd, const char *name, size_t *n)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = mp_xmalloc(cap);
	ssize_t got;

	for (;;) {
		if (len == cap) {
			if ((long long)cap >= MP_DIGEST_MAX)
				mp_die(EX_DATAERR, "%s: larger than %lld MiB", name,
				       MP_DIGEST_MAX >> 20);
			cap *= 2;
			buf = mp_xrealloc(buf, cap);
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			mp_die(EX_IOERR, "%s: %s", name, strerror(errno));
		if (got == 0)
			break;
		len += (size_t)got;
	}
	*n = len;
	return buf;
}

static int deliver_burst(struct mp_store *s, const struct opts *o)
{
	const char *name = o->split_file ? o->split_file : "stdin";
	struct burst b = {.s = s, .o = o, .d = o->d, .sp = {.o = o}};
	struct mp_err e, e2;
	size_t n;
	char *buf = read_all(o->split_fd, name, &n);

	mp_err_clear(&e);
	b.sp.e = &e;
	/* batches: a Maildir's written to tmp/, then synced and linked; an
	 * mbox locked once (burst_one), appended to, fsynced by batch */
	b.d.batch = 1;
	long rc = mp_digest_burst(buf, n, burst_one, &b, &e);
	free(buf);
	if (rc >= 0 && burst_sync(&b, &e) == 0) {
		split_summary(o, b.sp.done, b.bytes);
		return 0;
	}
	if (!b.n) /* no digest */
		mp_die(e.code ? e.code : EX_DATAERR, "%s: %s", name, e.msg);
	/* those before the failed one are whole: made durable, then said
	 * (unless making them durable is what failed) */
	int synced = !b.sync_failed; /* the failure was a message's */
	mp_err_clear(&e2);
	if (synced)
		(void)burst_sync(&b, &e2);
	mp_store_close(s);
	if (synced)
		mp_warn("%s: message %ld: %s", name, b.n, e.msg);
	if (b.sync_failed)
		mp_warn("%s: messages %ld to %ld: %s", name, b.sp.done + 1, synced ? b.n - 1 : b.n,
		        synced ? e2.msg : e.msg);
	mp_die(e.code ? e.code : EX_SOFTWARE, "delivered %ld messages before message %ld",
	       b.sp.done, b.sp.done + 1);
}

/* --join: the messages to append, in order; flags NULL for a new one */
struct jmsg {
	char *path, *flags;
};

struct jlist {
	struct jmsg *v;
	size_t n, cap;
};

static void jlist_add(struct jlist *l, const char *path, const char *flags)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = mp_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n].path = mp_xstrdup(path);
	l->v[l->n].flags = flags ? mp_xstrdup(flags) : NULL;
	l->n++;
}

/* names compared with each run of digits taken as a number: for the
 * names that start with the delivery time (and go on with microseconds
 * and counters) that is delivery order */
static int namecmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			const char *x = a, *y = b;
			while (*x == '0')
				x++;
			while (*y == '0')
				y++;
			size_t nx = 0, ny = 0;
			while (isdigit((unsigned char)x[nx]))
				nx++;
			while (isdigit((unsigned char)y[ny]))
				ny++;
			if (nx != ny)
				return nx < ny ? -1 : 1;
			int c = memcmp(x, y, nx);
			if (c)
				return c;
			a = x + nx;
			b = y + ny;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++, b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int jmsg_cmp(const void *x, const void *y)
{
	const struct jmsg *a = x, *b = y;
	const char *na = strrchr(a->path, '/'), *nb = strrchr(b->path, '/');
	int c = namecmp(na ? na + 1 : a->path, nb ? nb + 1 : b->path);

	return c ? c : strcmp(a->path, b->path);
}

/* the flags of a Maildir name: the capital letters after ":2,", "" when
 * it has none (an old message all the same) */
static void name_flags(const char *name, char *out, size_t n)
{
	const char *info = strstr(name, ":2,");
	size_t k = 0;

	for (const char *f = info ? info + 3 : ""; *f && k + 1 < n; f++)
		if (*f >= 'A' && *f <= 'Z')
			out[k++] = *f;
	out[k] = '\0';
}

/* the messages of the Maildir md: cur/ and new/ together, by name */
static void join_maildir(struct jlist *l, const char *md)
{
	static const char *const sub[] = {"cur", "new"};
	size_t first = l->n;
	char p[PATH_MAX], f[64];
	struct stat st;

	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", md, sub[i]);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			mp_die(EX_NOINPUT, "%s: not a Maildir (no %s/)", md, sub[i]);
	}
	for (int i = 0; i < 2; i++) {
		struct dirent *de;
		DIR *d;
		snprintf(p, sizeof p, "%s/%s", md, sub[i]);
		if (!(d = opendir(p)))
			mp_die(EX_NOINPUT, "%s: %s", p, strerror(errno));
		while ((errno = 0, de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s/%s", md, sub[i], de->d_name);
			if (stat(p, &st) < 0)
				mp_die(EX_NOINPUT, "%s: %s", p, strerror(errno));
			if (!S_ISREG(st.st_mode))
				mp_die(EX_NOINPUT, "%s: not a message file", p);
			name_flags(de->d_name, f, sizeof f);
			jlist_add(l, p, i == 0 ? f : NULL);
		}
		if (errno)
			mp_die(EX_NOINPUT, "%s/%s: %s", md, sub[i], strerror(errno));
		closedir(d);
	}
	if (l->n > first)
		qsort(l->v + first, l->n - first, sizeof *l->v, jmsg_cmp);
}

/* each operand: a Maildir's messages, or one message file (its flags
 * from its name when it has ":2,", else a new one) */
static void join_list(struct jlist *l, char **src, int n)
{
	struct stat st;
	char f[64];

	for (int i = 0; i < n; i++) {
		const char *base = strrchr(src[i], '/');
		if (stat(src[i], &st) < 0)
			mp_die(EX_NOINPUT, "%s: %s", src[i], strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			join_maildir(l, src[i]);
			continue;
		}
		base = base ? base + 1 : src[i];
		name_flags(base, f, sizeof f);
		jlist_add(l, src[i], strstr(base, ":2,") ? f : NULL);
	}
}

/* a message of --join appended, not yet made durable */
struct jdone {
	long long offset, size;
	char msgid[256];
};

static void join_report(const struct opts *o, struct mp_store *s, struct jdone *p, size_t n)
{
	struct mp_delivered r;

	for (size_t k = 0; k < n; k++) {
		memset(&r, 0, sizeof r);
		snprintf(r.path, sizeof r.path, "%s", s->path);
		r.offset = p[k].offset;
		r.size = p[k].size;
		snprintf(r.msgid, sizeof r.msgid, "%s", p[k].msgid);
		report(o, s, &r);
	}
	fflush(stdout);
}

/* --join: every message appended to the mbox under one lock, in batches
 * made durable together; nothing reported before its batch is */
static int deliver_join(struct mp_store *s, const struct opts *o, const struct jlist *l)
{
	struct jdone *pend = mp_xmalloc(SPLIT_BATCH * sizeof *pend);
	struct mp_delivery d = o->d;
	struct mp_delivered res;
	struct mp_err e, e2;
	size_t npend = 0;
	long long pbytes = 0, bytes = 0;
	long done = 0, k = 0, lastp = 0;
	int commit_failed = 0;
	char mbox[PATH_MAX];

	mp_err_clear(&e);
	d.mbox_flags = 1;
	d.sender_rp = 1;
	for (k = o->skip + 1; k <= (long)l->n; k++) {
		const struct jmsg *m = &l->v[k - 1];
		struct mp_msgsrc src;
		struct mp_segr r;
		struct stat st;
		int fd, rc;

		/* the locks once, for the whole run (the store names the mbox) */
		if (s->mbox_fd < 0 && mp_store_mbox_hold(s, &e) < 0)
			mp_die_err(NULL, &e);
		if ((fd = open(m->path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
			mp_err_sys(&e, EX_NOINPUT, "open");
			if (fd >= 0)
				close(fd);
			break;
		}
		/* the From_ line's date: when the message was delivered */
		d.date = st.st_mtime;
		d.flags = m->flags;
		if ((rc = mp_segr_init(&r, fd, SEGBUF, &e)) == 0) {
			src = mp_segr_src(&r);
			rc = mp_store_deliver(s, &src, &d, &res, &e);
			mp_segr_free(&r);
		}
		close(fd);
		if (rc < 0)
			break;
		pend[npend].offset = res.offset;
		pend[npend].size = res.size;
		snprintf(pend[npend].msgid, sizeof pend[npend].msgid, "%s", res.msgid);
		npend++;
		pbytes += res.size;
		lastp = k;
		if (npend >= SPLIT_BATCH || pbytes >= SPLIT_BATCH_BYTES) {
			if (mp_store_sync(s, NULL, NULL, &e) < 0) {
				commit_failed = 1;
				break;
			}
			join_report(o, s, pend, npend);
			done += (long)npend, bytes += pbytes;
			npend = 0, pbytes = 0;
		}
	}
	if (!e.code && mp_store_sync(s, NULL, NULL, &e) < 0)
		commit_failed = 1;
	if (!e.code) {
		join_report(o, s, pend, npend);
		split_summary(o, done + (long)npend, bytes + pbytes);
		free(pend);
		return 0;
	}
	/* the messages before the failed one are whole: made durable first,
	 * so that the count and --skip are exact; a failed sync took back
	 * every message since the last one */
	mp_err_clear(&e2);
	if (!commit_failed && mp_store_sync(s, NULL, NULL, &e2) < 0)
		commit_failed = 2;
	if (!commit_failed) {
		join_report(o, s, pend, npend);
		done += (long)npend;
		npend = 0;
	}
	long first = npend ? lastp - (long)npend + 1 : k;
	snprintf(mbox, sizeof mbox, "%s", s->path);
	mp_store_close(s);
	if (commit_failed != 1)
		mp_warn("%s: message %ld: %s", l->v[k - 1].path, k, e.msg);
	if (commit_failed)
		mp_warn("%s: messages %ld to %ld: %s", mbox, first, lastp,
		        commit_failed == 1 ? e.msg : e2.msg);
	free(pend);
	mp_die(e.code,
	       "delivered %ld messages before message %ld; rerun with --skip %ld to continue", done,
	       first, first - 1);
}

static long parse_long(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end || errno || v < 0)
		mp_die(EX_USAGE, "invalid %s: '%s'", what, s);
	return v;
}

/* --join MAILDIR|FILE... MBOX */
static int join_main(struct opts *o, int argc, char **argv)
{
	struct jlist l = {0};
	struct mp_store s;
	struct mp_err e;

	if (o->split || o->burst)
		mp_die(EX_USAGE, "--join and %s cannot be used together",
		       o->split ? "--split" : "--burst");
	if (o->d.flags)
		mp_die(EX_USAGE, "--flags with --join: the flags come from the file names");
	if (o->folder || o->d.dedup)
		mp_die(EX_USAGE, "%s needs a Maildir; --join writes an mbox",
		       o->folder ? "--folder" : "--dedup");
	if (argc < 2)
		mp_die(EX_USAGE, "--join needs a MAILDIR or FILE and the MBOX");
	if (o->d.loop_check && !o->d.delivered_to)
		mp_die(EX_USAGE, "--loop-check needs --delivered-to");
	if (o->json)
		mp_json_report_fatal();
	const char *target = argv[argc - 1];
	size_t tn = strlen(target);
	struct stat st;
	if ((o->storeflags & MP_STORE_CREATE) || (tn && target[tn - 1] == '/') ||
	    (stat(target, &st) == 0 && S_ISDIR(st.st_mode)))
		mp_die(EX_USAGE, "%s: --join writes an mbox, not a Maildir", target);
	mp_err_clear(&e);
	if (mp_store_open(&s, target, NULL, o->storeflags, &e) < 0)
		mp_die_err(NULL, &e);
	s.lock_timeout = o->lock_timeout;
	/* every input is known to be there before the mbox is touched */
	join_list(&l, argv, argc - 1);
	deliver_join(&s, o, &l);
	mp_store_close(&s);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].path), free(l.v[i].flags);
	free(l.v);
	return 0;
}

enum {
	OPT_FOLDER = 256,
	OPT_FLAGS,
	OPT_DTO,
	OPT_LOOP,
	OPT_DEDUP,
	OPT_SPLIT,
	OPT_SKIP,
	OPT_LOCKT,
	OPT_JOIN,
	OPT_BURST
};

/* the command line into o: the index of its first operand */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"create", no_argument, NULL, 'c'},
	    {"parents", no_argument, NULL, 'p'},
	    {"from", required_argument, NULL, 'f'},
	    {"folder", required_argument, NULL, OPT_FOLDER},
	    {"flags", required_argument, NULL, OPT_FLAGS},
	    {"delivered-to", required_argument, NULL, OPT_DTO},
	    {"loop-check", no_argument, NULL, OPT_LOOP},
	    {"dedup", no_argument, NULL, OPT_DEDUP},
	    {"split", no_argument, NULL, OPT_SPLIT},
	    {"join", no_argument, NULL, OPT_JOIN},
	    {"skip", required_argument, NULL, OPT_SKIP},
	    {"burst", no_argument, NULL, OPT_BURST},
	    {"lock-timeout", required_argument, NULL, OPT_LOCKT},
	    {"verbose", no_argument, NULL, 'v'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":cpf:vjhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->storeflags |= MP_STORE_CREATE; break;
		case 'p': o->storeflags |= MP_STORE_PARENTS; break;
		case 'f': o->d.from = optarg; break;
		case OPT_FOLDER: o->folder = optarg; break;
		case OPT_FLAGS: o->d.flags = optarg; break;
		case OPT_DTO: o->d.delivered_to = optarg; break;
		case OPT_LOOP: o->d.loop_check = 1; break;
		case OPT_DEDUP: o->d.dedup = 1; break;
		case OPT_SPLIT: o->split = 1; break;
		case OPT_JOIN: o->join = 1; break;
		case OPT_BURST: o->burst = 1; break;
		case OPT_SKIP: o->skip = parse_long(optarg, "--skip count"); break;
		case OPT_LOCKT: o->lock_timeout = (double)parse_long(optarg, "lock timeout"); break;
		case 'v': o->verbose = 1; break;
		case 'j': o->json = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("%s (mailpipe) %s\n", mp_progname(), MP_VERSION); exit(0);
		default: mp_getopt_fail(c, argv, optind, optopt);
		}
	}
	return optind;
}

/* the operands of a delivery, [FILE] TARGET, checked with the options:
 * FILE opened (a missing one is reported before the target is opened,
 * and created); the target */
static const char *operands(struct opts *o, int argc, char **argv)
{
	if (o->split && o->burst)
		mp_die(EX_USAGE, "--split and --burst: one at a time");
	int two = o->split || o->burst; /* [FILE] TARGET */
	if (argc > (two ? 2 : 1))
		mp_die(EX_USAGE, "extra operand '%s'", argv[two ? 2 : 1]);
	if (o->d.loop_check && !o->d.delivered_to)
		mp_die(EX_USAGE, "--loop-check needs --delivered-to");
	if (o->skip && !o->split)
		mp_die(EX_USAGE, "--skip needs --split or --join");
	if (two && argc == 2)
		o->split_file = *argv++, argc--;
	if (o->json) /* an error that ends it: an error line too */
		mp_json_report_fatal();
	if (o->split_file && (o->split_fd = open(o->split_file, O_RDONLY | O_CLOEXEC)) < 0)
		mp_die(EX_NOINPUT, "%s: %s", o->split_file, strerror(errno));
	return argc ? argv[0] : default_target();
}

int main(int argc, char **argv)
{
	struct opts o = {.lock_timeout = 30, .split_fd = STDIN_FILENO};
	struct mp_store s;
	struct mp_err e;

	mp_setprogname(argv[0]);
	int first = parse_args(argc, argv, &o);
	argc -= first;
	argv += first;
	if (o.join)
		return join_main(&o, argc, argv);
	const char *target = operands(&o, argc, argv);
	mp_err_clear(&e);
	/* the store's messages name the target themselves */
	if (mp_store_open(&s, target, o.folder, o.storeflags, &e) < 0)
		mp_die_err(NULL, &e);
	s.lock_timeout = o.lock_timeout;
	if (o.burst)
		deliver_burst(&s, &o);
	else if (o.split)
		deliver_split(&s, &o);
	else
		deliver_one(&s, &o);
	mp_store_close(&s);
	return 0;
}
