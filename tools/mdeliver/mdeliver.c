/* mdeliver: deliver one message (or every message of an mbox) into a
 * Maildir or an mbox, durably; the exit code says whether it is there. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	int verbose, json, split, split_fd, burst;
	long skip;
	double lock_timeout;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [-cp] [-v] [-f ADDR] [--folder NAME] [--flags FLAGS] [--dedup]\n"
	        "          [--delivered-to ADDR [--loop-check]] [TARGET] < message\n"
	        "       %s --split [--skip N] [options] [FILE] TARGET\n"
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
	        "      --skip N          with --split: skip the first N messages\n"
	        "      --burst           deliver each message of a digest (FILE or stdin): a\n"
	        "                        multipart/digest or an RFC 1153 text digest\n"
	        "      --lock-timeout S  mbox: seconds to wait for the lock (default 30)\n"
	        "  -v, --verbose         say where each message went\n"
	        "  -j, --json            JSON Lines on stdout: each message, the --split summary\n"
	        "  -h, --help            this help\n"
	        "  -V, --version         version\n",
	        mp_progname(), mp_progname(), mp_progname());
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

/* --json: {"type":"message","path":...} and what else is known */
static void json_line(const char *path, const struct mp_store *s, const struct mp_delivered *r)
{
	struct mp_json j;

	mp_json_init(&j, stdout, 0);
	mp_json_begin_object(&j, NULL);
	mp_json_string(&j, "type", "message");
	mp_json_string(&j, "path", path);
	if (r) {
		if (s->kind == MP_STORE_MBOX)
			mp_json_int(&j, "offset", r->offset);
		mp_json_int(&j, "bytes", r->size);
		mp_json_string(&j, "message_id", r->msgid[0] ? r->msgid : NULL);
		mp_json_bool(&j, "skipped", r->skipped);
	}
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
	struct mp_delivered *held; /* an mbox's, reported once it is synced */
	size_t nheld;
};

static int burst_one(void *ctx, const char *msg, size_t n)
{
	struct burst *b = ctx;
	struct mp_memsrc m;
	struct mp_msgsrc src = mp_memsrc(&m, msg, n);
	struct mp_delivered res;
	struct mp_err *e = b->sp.e;

	b->n++;
	if (mp_store_deliver(b->s, &src, &b->d, &res, e) < 0)
		return -1;
	b->bytes += res.size;
	if (b->s->kind == MP_STORE_MBOX) {
		b->held = mp_xrealloc(b->held, (b->nheld + 1) * sizeof *b->held);
		b->held[b->nheld++] = res;
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
	/* one batch: a Maildir's written to tmp/, then synced and linked;
	 * an mbox locked once, appended to, fsynced once */
	b.d.batch = 1;
	long rc = mp_digest_burst(buf, n, burst_one, &b, &e);
	free(buf);
	if (rc >= 0 && mp_store_sync(s, split_done, &b.sp, &e) == 0) {
		burst_held(&b);
		split_summary(o, b.sp.done, b.bytes);
		return 0;
	}
	if (!b.n) /* no digest */
		mp_die(e.code ? e.code : EX_DATAERR, "%s: %s", name, e.msg);
	/* those before the failed one are whole: made durable, then said */
	mp_err_clear(&e2);
	if (mp_store_sync(s, split_done, &b.sp, &e2) == 0)
		burst_held(&b);
	mp_store_close(s);
	mp_warn("%s: message %ld: %s", name, b.n, e.msg);
	mp_die(e.code ? e.code : EX_SOFTWARE, "delivered %ld messages before message %ld",
	       b.sp.done, b.n);
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

enum {
	OPT_FOLDER = 256,
	OPT_FLAGS,
	OPT_DTO,
	OPT_LOOP,
	OPT_DEDUP,
	OPT_SPLIT,
	OPT_SKIP,
	OPT_LOCKT,
	OPT_BURST
};

int main(int argc, char **argv)
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
	    {"skip", required_argument, NULL, OPT_SKIP},
	    {"burst", no_argument, NULL, OPT_BURST},
	    {"lock-timeout", required_argument, NULL, OPT_LOCKT},
	    {"verbose", no_argument, NULL, 'v'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	struct opts o = {.lock_timeout = 30, .split_fd = STDIN_FILENO};
	struct mp_store s;
	struct mp_err e;
	const char *target;
	int c;

	mp_setprogname(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":cpf:vjhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.storeflags |= MP_STORE_CREATE; break;
		case 'p': o.storeflags |= MP_STORE_PARENTS; break;
		case 'f': o.d.from = optarg; break;
		case OPT_FOLDER: o.folder = optarg; break;
		case OPT_FLAGS: o.d.flags = optarg; break;
		case OPT_DTO: o.d.delivered_to = optarg; break;
		case OPT_LOOP: o.d.loop_check = 1; break;
		case OPT_DEDUP: o.d.dedup = 1; break;
		case OPT_SPLIT: o.split = 1; break;
		case OPT_BURST: o.burst = 1; break;
		case OPT_SKIP: o.skip = parse_long(optarg, "--skip count"); break;
		case OPT_LOCKT: o.lock_timeout = (double)parse_long(optarg, "lock timeout"); break;
		case 'v': o.verbose = 1; break;
		case 'j': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("%s (mailpipe) %s\n", mp_progname(), MP_VERSION); return 0;
		default: mp_getopt_fail(c, argv, optind, optopt);
		}
	}
	argc -= optind;
	argv += optind;
	if (o.split && o.burst)
		mp_die(EX_USAGE, "--split and --burst: one at a time");
	int two = o.split || o.burst; /* [FILE] TARGET */
	if (argc > (two ? 2 : 1))
		mp_die(EX_USAGE, "extra operand '%s'", argv[two ? 2 : 1]);
	if (o.d.loop_check && !o.d.delivered_to)
		mp_die(EX_USAGE, "--loop-check needs --delivered-to");
	if (o.skip && !o.split)
		mp_die(EX_USAGE, "--skip needs --split");
	if (two && argc == 2)
		o.split_file = *argv++, argc--;
	/* a missing FILE is reported before the target is opened (and created) */
	if (o.split_file && (o.split_fd = open(o.split_file, O_RDONLY | O_CLOEXEC)) < 0)
		mp_die(EX_NOINPUT, "%s: %s", o.split_file, strerror(errno));
	target = argc ? argv[0] : default_target();
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
