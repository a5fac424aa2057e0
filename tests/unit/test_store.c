#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "store.h"
#include "tap.h"

/* a message from memory, one line per segment */
struct memsrc {
	const char *s;
	size_t n, i;
};

static int mem_next(void *ctx, const char **seg, size_t *len, int *bol, struct mp_err *e)
{
	struct memsrc *m = ctx;
	const char *nl;

	(void)e;
	if (m->i >= m->n)
		return 0;
	*seg = m->s + m->i;
	nl = memchr(*seg, '\n', m->n - m->i);
	*len = nl ? (size_t)(nl - *seg) + 1 : m->n - m->i;
	*bol = 1;
	m->i += *len;
	return 1;
}

static char *slurp(const char *path, size_t *n)
{
	int fd = open(path, O_RDONLY);
	char *buf = malloc(1 << 20);
	ssize_t r = fd < 0 ? -1 : read(fd, buf, 1 << 20);

	if (fd >= 0)
		close(fd);
	*n = r < 0 ? 0 : (size_t)r;
	buf[*n] = '\0';
	return buf;
}

static int deliver_str(struct mp_store *s, const char *msg, const struct mp_delivery *d,
                       struct mp_delivered *out, struct mp_err *e)
{
	struct memsrc m = {msg, strlen(msg), 0};
	struct mp_msgsrc src = {mem_next, &m};

	mp_err_clear(e);
	return mp_store_deliver(s, &src, d, out, e);
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* before_append: the append noted in ctx; a refusal when its offset is
 * the one in fail_at */
static long long fail_at = -1;
static int note_append(void *ctx, const struct mp_mbox_append *a, struct mp_err *e)
{
	*(struct mp_mbox_append *)ctx = *a;
	return a->offset == fail_at ? mp_err_set(e, EX_TEMPFAIL, "refused") : 0;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int pipe_of(const char *s)
{
	int p[2];

	if (pipe(p) < 0 || write(p[1], s, strlen(s)) < 0)
		return -1;
	close(p[1]);
	return p[0];
}

/* split an mbox held in fd; returns the messages joined by "|" */
static void split_all(int fd, size_t bufsize, char *out, size_t outsz, long *count)
{
	struct mp_segr r;
	struct mp_mboxsplit m;
	struct mp_msgsrc src;
	struct mp_err e;
	const char *seg;
	size_t len, o = 0;
	int bol, k;

	mp_err_clear(&e);
	mp_segr_init(&r, fd, bufsize, &e);
	mp_mboxsplit_init(&m, &r);
	src = mp_mboxsplit_src(&m);
	while (mp_mboxsplit_begin(&m, &e) > 0) {
		while ((k = src.next(src.ctx, &seg, &len, &bol, &e)) > 0 && o + len < outsz) {
			memcpy(out + o, seg, len);
			o += len;
		}
		out[o++] = '|';
	}
	out[o] = '\0';
	*count = m.count;
	mp_segr_free(&r);
}

/* every segment of src, each as "bol|bytes" on a line of its own */
static void segments(struct mp_msgsrc src, struct mp_buf *out)
{
	const char *seg;
	size_t len;
	int bol;
	struct mp_err e;

	mp_err_clear(&e);
	while (src.next(src.ctx, &seg, &len, &bol, &e) > 0) {
		mp_buf_printf(out, "%d|", bol);
		mp_buf_append(out, seg, len);
		mp_buf_putc(out, '\n');
	}
}

static const char *pool_path(void *ctx, size_t i)
{
	static char p[64][512];
	snprintf(p[i % 64], sizeof p[0], "%s/m%zu", (const char *)ctx, i);
	return p[i % 64];
}

/* a header read into memory: cut as the file reader cuts it; up to its
 * blank line; read ahead on threads, handed out in order */
static void test_hdrbuf(const char *dir)
{
	char path[512];
	struct mp_buf big = MP_BUF_INIT, a = MP_BUF_INIT, b = MP_BUF_INIT;
	struct mp_hdrbuf h;
	struct mp_memsrc m;
	struct mp_segr r;
	struct mp_err e;

	mp_err_clear(&e);
	memset(&h, 0, sizeof h);
	/* a line of 10,000 bytes, one of exactly 4096 and its line feed, CRLF
	 * lines, then the blank line (CRLF) and a body */
	mp_buf_puts(&big, "Subject: ");
	for (int i = 0; i < 10000; i++)
		mp_buf_putc(&big, 'a' + i % 26);
	mp_buf_puts(&big, "\nX: ");
	for (int i = 0; i < 4093; i++)
		mp_buf_putc(&big, 'b');
	mp_buf_puts(&big, "\nTo: x\r\n \r\n\r\nbody\n\nmore\n");
	snprintf(path, sizeof path, "%s/hdr", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	tap_ok(fd >= 0 && write(fd, big.data, big.len) == (ssize_t)big.len && close(fd) == 0,
	       "a message with long lines written");
	tap_is_int(mp_hdrbuf_read(&h, path, 1 << 20, MP_HDRBUF_SIZE), 0, "its header read");
	size_t hl = strstr(big.data, "\r\n\r\n") - big.data + 4;
	tap_ok(h.whole && !h.eof && h.len == hl && !memcmp(h.buf, big.data, hl),
	       "up to and with its blank line, no further");
	tap_is_int(h.size, (long long)big.len, "and the file's size");
	fd = open(path, O_RDONLY);
	mp_segr_init(&r, fd, 4096, &e);
	segments(mp_segr_src(&r), &a);
	mp_buf_reset(&b);
	segments(mp_memsrc_cap(&m, big.data, big.len, 4096), &b);
	tap_ok(a.len == b.len && !memcmp(a.data, b.data, a.len),
	       "memory cut in the segments a reader of 4096 bytes cuts (lines over it in pieces)");
	mp_segr_free(&r);
	close(fd);
	tap_is_int(mp_hdrbuf_read(&h, path, 8192, 0), 0, "read with a bound of 8 KiB");
	tap_ok(!h.whole && h.len == 8192 && h.size == -1, "a header over the bound: not whole");

	/* a file without a blank line: whole at its end; an empty one */
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	tap_ok(fd >= 0 && write(fd, "A: b\n\rC: d", 11) == 11 && close(fd) == 0, "no blank line");
	tap_ok(mp_hdrbuf_read(&h, path, 1 << 20, MP_HDRBUF_SIZE) == 0 && h.whole && h.eof &&
	           h.len == 11 && h.size == 11,
	       "read to its end, its size without fstat");
	snprintf(path, sizeof path, "%s/nonesuch", dir);
	tap_ok(mp_hdrbuf_read(&h, path, 1 << 20, 0) == -1 && h.err == ENOENT && !h.whole,
	       "a file that is not there: -1 and ENOENT");
	mp_hdrbuf_free(&h);

	/* 500 files, read ahead on 1, 2 and 4 threads (the reader being one of
	 * them): the same, in order */
	for (size_t i = 0; i < 500; i++) {
		fd = open(pool_path((void *)dir, i), O_CREAT | O_WRONLY | O_TRUNC, 0600);
		dprintf(fd, "N: %zu\n%s\nbody %zu\n", i, i % 7 ? "" : "X: y", i);
		close(fd);
	}
	for (int t = 1; t <= 4; t *= 2) {
		struct mp_hdrpool *p = mp_hdrpool_start(500, pool_path, (void *)dir, t, 1 << 16, 0);
		int good = p != NULL;
		for (size_t i = 0; good && i < 500; i++) {
			const struct mp_hdrbuf *g = mp_hdrpool_get(p, i);
			char want[64];
			int n = snprintf(want, sizeof want, "N: %zu\n%s\n", i, i % 7 ? "" : "X: y");
			if (i % 7 == 0) /* no blank line: the whole file */
				n = snprintf(want, sizeof want, "N: %zu\nX: y\nbody %zu\n", i, i);
			good =
			    g && g->whole && g->len == (size_t)n && !memcmp(g->buf, want, g->len);
		}
		tap_ok(good, "500 headers read ahead on %d thread(s), each in its turn", t);
		mp_hdrpool_end(p);
	}
	mp_buf_free(&big);
	mp_buf_free(&a);
	mp_buf_free(&b);
}

int main(void)
{
	char dir[] = "/tmp/mp-test-store.XXXXXX", path[512], buf[4096];
	struct mp_store s;
	struct mp_delivery d = {0};
	struct mp_delivered out;
	struct mp_err e;
	struct stat st;
	size_t n;
	char *c;
	long count;
	int fd;

	mp_err_clear(&e);
	tap_ok(mkdtemp(dir) != NULL, "temp dir");

	/* segments: whole lines, and pieces of a line longer than the buffer */
	struct mp_segr r;
	const char *seg;
	int bol;
	fd = pipe_of("short\n0123456789abcdefghij\nend");
	mp_segr_init(&r, fd, 8, &e);
	mp_segr_next(&r, &seg, &n, &bol, &e);
	tap_is_mem(seg, n, "short\n", 6, "segment: a whole line");
	tap_ok(bol, "at a line start");
	mp_segr_next(&r, &seg, &n, &bol, &e);
	tap_is_mem(seg, n, "01234567", 8, "segment: a buffer's worth of a long line");
	mp_segr_next(&r, &seg, &n, &bol, &e);
	tap_ok(!bol, "the next piece is not at a line start");
	mp_segr_next(&r, &seg, &n, &bol, &e);
	mp_segr_next(&r, &seg, &n, &bol, &e);
	tap_is_mem(seg, n, "end", 3, "segment: unterminated last line");
	tap_is_int(mp_segr_next(&r, &seg, &n, &bol, &e), 0, "segment: EOF");
	mp_segr_free(&r);
	close(fd);

	/* mbox splitting */
	fd = pipe_of("From a@b Thu Jan  1 00:00:00 2026\nSubject: one\n\nbody\n>From quoted\n"
	             ">>From twice\n\nFrom c@d Thu Jan  1 00:00:00 2026\nSubject: two\n\nx\n\n");
	split_all(fd, 16, buf, sizeof buf, &count); /* lines come in pieces */
	close(fd);
	tap_is_int(count, 2, "mboxrd: two messages");
	tap_ok(strcmp(buf,
	              "From a@b Thu Jan  1 00:00:00 2026\nSubject: one\n\nbody\nFrom quoted\n"
	              ">From twice\n|From c@d Thu Jan  1 00:00:00 2026\nSubject: two\n\nx\n|") == 0,
	       "mboxrd: unquoted one level, separating blank lines dropped");
	if (strcmp(buf, "") == 0)
		tap_diag("%s", buf);
	fd = pipe_of("garbage\n");
	mp_segr_init(&r, fd, 64, &e);
	struct mp_mboxsplit m;
	mp_mboxsplit_init(&m, &r);
	tap_is_int(mp_mboxsplit_begin(&m, &e), -1, "not an mbox refused");
	mp_segr_free(&r);
	close(fd);

	/* mboxcl2: a body with an unquoted From_ line, honoured in a file */
	const char *cl2 = "From a@b Thu Jan  1 00:00:00 2026\nContent-Length: 21\n\n"
	                  "x\n\nFrom inside body\n\nFrom c@d Thu Jan  1 00:00:00 2026\n\ny\n";
	snprintf(path, sizeof path, "%s/cl2", dir);
	mp_atomic_write(path, cl2, strlen(cl2), 0600, &e);
	fd = open(path, O_RDONLY);
	split_all(fd, 64, buf, sizeof buf, &count);
	close(fd);
	tap_is_int(count, 2, "mboxcl2 from a file: Content-Length keeps the body whole");
	/* from a pipe the length cannot be checked: From_ lines split */
	fd = pipe_of(cl2);
	split_all(fd, 64, buf, sizeof buf, &count);
	close(fd);
	tap_is_int(count, 3, "mboxcl2 from a pipe: falls back to From_ lines");
	/* a stale Content-Length must not swallow the next message */
	const char *stale = "From a@b Thu Jan  1 00:00:00 2026\nContent-Length: 9999\n\n"
	                    "x\n\nFrom c@d Thu Jan  1 00:00:00 2026\n\ny\n";
	mp_atomic_write(path, stale, strlen(stale), 0600, &e);
	fd = open(path, O_RDONLY);
	split_all(fd, 64, buf, sizeof buf, &count);
	close(fd);
	tap_is_int(count, 2, "mboxcl2: a wrong Content-Length is ignored");

	/* Maildir delivery */
	snprintf(path, sizeof path, "%s/md/", dir);
	tap_is_int(mp_store_open(&s, path, NULL, 0, &e), 0, "open a new Maildir (trailing /)");
	tap_is_int(s.kind, MP_STORE_MAILDIR, "it is a Maildir");
	d.from = "alice@crepes.test";
	tap_is_int(
	    deliver_str(&s, "Return-Path: <old@x>\nFrom: a\nMessage-ID: <1@x>\n\nhi", &d, &out, &e),
	    0, "deliver into Maildir");
	tap_ok(strstr(out.path, "/new/") && strstr(out.path, ",S="), "lands in new/ with S=: %s",
	       out.path);
	c = slurp(out.path, &n);
	tap_ok(strcmp(c, "Return-Path: <alice@crepes.test>\nFrom: a\nMessage-ID: <1@x>\n\nhi\n") ==
	           0,
	       "Return-Path replaced, final newline added");
	free(c);
	tap_ok(strcmp(out.msgid, "<1@x>") == 0, "Message-ID seen");
	snprintf(buf, sizeof buf, "%s/md/tmp", dir);
	tap_is_int(count_dir(buf), 0, "tmp/ is left empty");
	d.from = NULL;
	d.flags = "SF";
	tap_is_int(deliver_str(&s, "From: a\n\nflagged\n", &d, &out, &e), 0, "deliver with flags");
	n = strlen(out.path);
	tap_ok(strstr(out.path, "/cur/") && n > 5 && strcmp(out.path + n - 5, ":2,FS") == 0,
	       "flags sorted into cur/: %s", out.path);
	d.flags = NULL;
	d.dedup = 1;
	tap_is_int(deliver_str(&s, "Message-ID: <dup@x>\n\na\n", &d, &out, &e), 0, "dedup first");
	tap_ok(!out.skipped, "first one delivered");
	tap_is_int(deliver_str(&s, "Message-ID: <dup@x>\n\nb\n", &d, &out, &e), 0, "dedup again");
	tap_ok(out.skipped, "second one skipped");
	d.dedup = 0;
	d.delivered_to = "bob@hamburger.test";
	d.loop_check = 1;
	tap_is_int(deliver_str(&s, "Delivered-To: <Bob@Hamburger.test>\n\nloop\n", &d, &out, &e),
	           -1, "loop refused");
	tap_is_int(e.code, EX_NOUSER, "with EX_NOUSER");
	d.delivered_to = NULL;
	d.loop_check = 0;
	tap_is_int(deliver_str(&s, "", &d, &out, &e), -1, "empty message refused");
	tap_is_int(e.code, EX_DATAERR, "as bad data");
	tap_is_int(deliver_str(&s, "\x01\x02garbage\n", &d, &out, &e), -1, "garbage refused");
	tap_is_int(deliver_str(&s, "A: b\nC\0: d\n", &d, &out, &e), 0, "NUL after the C is cut");
	snprintf(buf, sizeof buf, "%s/md/new", dir);
	tap_is_int(count_dir(buf), 3, "new/ holds exactly the 3 delivered plain messages");
	d.batch = 1;
	tap_is_int(deliver_str(&s, "A: b\n\nbatched\n", &d, &out, &e), 0, "batched delivery");
	tap_is_int(deliver_str(&s, "A: b\n\nbatched 2\n", &d, &out, &e), 0, "second in batch");
	tap_is_int((long long)s.npending, 2, "two messages waiting");
	snprintf(buf, sizeof buf, "%s/md/new", dir);
	tap_is_int(count_dir(buf), 3, "nothing linked before the sync");
	tap_is_int(mp_store_sync(&s, NULL, NULL, &e), 0, "sync");
	tap_is_int((long long)s.npending, 0, "nothing pending");
	tap_is_int(count_dir(buf), 5, "both linked after the sync");
	tap_is_int(deliver_str(&s, "A: b\n\nnever synced\n", &d, &out, &e), 0, "a third, unsynced");
	d.batch = 0;
	mp_store_close(&s);
	tap_is_int(count_dir(buf), 5, "close drops a batch that was never synced");
	snprintf(buf, sizeof buf, "%s/md/tmp", dir);
	tap_is_int(count_dir(buf), 0, "and leaves tmp/ clean");

	tap_is_int(mp_store_open(&s, path, "lists/debian", 0, &e), 0, "open a folder");
	tap_ok(strstr(s.path, "/.lists.debian") != NULL, "Maildir++ name .lists.debian");
	snprintf(buf, sizeof buf, "%s/maildirfolder", s.path);
	tap_is_int(stat(buf, &st), 0, "maildirfolder marker");
	mp_store_close(&s);
	tap_is_int(mp_store_open(&s, path, "../evil", 0, &e), -1, "folder with .. refused");
	mp_store_close(&s);

	/* mbox delivery */
	snprintf(path, sizeof path, "%s/mbox", dir);
	tap_is_int(mp_store_open(&s, path, NULL, 0, &e), 0, "open a new mbox");
	tap_is_int(s.kind, MP_STORE_MBOX, "it is an mbox");
	d.date = 1767225600; /* fixed From_ date */
	tap_is_int(deliver_str(&s,
	                       "From x@y Mon Jan  1 00:00:00 2024\r\nSubject: a\r\n\r\n"
	                       "From here\r\n>From there\r\nno newline",
	                       &d, &out, &e),
	           0, "deliver into mbox");
	tap_is_int(out.offset, 0, "at offset 0");
	tap_is_int(deliver_str(&s, "Subject: b\n\nsecond\n", &d, &out, &e), 0, "second message");
	c = slurp(path, &n);
	tap_ok(strncmp(c, "From x@y ", 9) == 0, "From_ line with the envelope sender");
	tap_ok(strstr(c, "\nReturn-Path: <x@y>\nSubject: a\n\n>From here\n>>From there\n"
	                 "no newline\n\nFrom MAILER-DAEMON ") != NULL,
	       "LF line ends, mboxrd quoting, blank line between messages");
	tap_is_int(out.offset, (long long)(strstr(c, "From MAILER") - c), "offset of the second");
	tap_is_int(stat(path, &st), 0, "mbox exists");
	tap_is_int(st.st_mode & 0777, 0600, "mode 0600");
	free(c);
	snprintf(buf, sizeof buf, "%s.lock", path);
	tap_ok(access(buf, F_OK) != 0, "dotlock removed");
	size_t before = (size_t)st.st_size;
	tap_is_int(deliver_str(&s, "", &d, &out, &e), -1, "empty refused");
	stat(path, &st);
	tap_is_int(st.st_size, before, "mbox unchanged after a refusal");
	/* a stale dotlock is broken, a fresh one times out with EX_TEMPFAIL */
	fd = open(buf, O_CREAT | O_WRONLY, 0600);
	close(fd);
	s.lock_timeout = 0.2;
	tap_is_int(deliver_str(&s, "A: b\n\nx\n", &d, &out, &e), -1, "held lock: timeout");
	tap_is_int(e.code, EX_TEMPFAIL, "as EX_TEMPFAIL");
	struct timespec old[2] = {{time(NULL) - 600, 0}, {time(NULL) - 600, 0}};
	utimensat(AT_FDCWD, buf, old, 0);
	tap_is_int(deliver_str(&s, "A: b\n\nx\n", &d, &out, &e), 0, "stale lock broken");
	mp_store_close(&s);
	snprintf(path, sizeof path, "%s/notmbox", dir);
	mp_atomic_write(path, "hello\n", 6, 0600, &e);
	mp_store_open(&s, path, NULL, 0, &e);
	tap_is_int(deliver_str(&s, "A: b\n\nx\n", &d, &out, &e), -1, "not an mbox refused");
	tap_is_int(e.code, EX_CANTCREAT, "as EX_CANTCREAT");
	mp_store_close(&s);

	/* an append's intent, and whether the mbox holds it */
	struct mp_mbox_append a1, a2, seen;
	snprintf(path, sizeof path, "%s/ibox", dir);
	tap_is_int(mp_store_mbox_holds(path, &(struct mp_mbox_append){0, 10, ""}, 1, &e), 0,
	           "a missing mbox holds nothing");
	mp_store_open(&s, path, NULL, 0, &e);
	s.before_append = note_append;
	s.before_append_ctx = &seen;
	tap_is_int(deliver_str(&s, "Subject: one\n\n1\n", &d, &out, &e), 0, "an append, noted");
	a1 = seen;
	tap_is_int(deliver_str(&s, "Subject: two\n\n2\n", &d, &out, &e), 0, "another");
	a2 = seen;
	tap_is_int(a2.offset, out.offset, "noted where its From_ line went");
	tap_is_int(a2.size, out.size, "and its size");
	tap_is_int(file_size(path), a2.offset + a2.size, "the last bytes of the mbox");
	tap_is_int(mp_store_mbox_holds(path, &a1, 1, &e), 1, "the first is held");
	tap_is_int(mp_store_mbox_holds(path, &a2, 1, &e), 1, "the second is held");
	seen = a2;
	seen.sha256[0] = seen.sha256[0] == '0' ? '1' : '0';
	tap_is_int(mp_store_mbox_holds(path, &seen, 1, &e), 0, "other bytes there: not held");
	fail_at = file_size(path);
	tap_is_int(deliver_str(&s, "Subject: three\n\n3\n", &d, &out, &e), -1,
	           "a refused intent stops the append");
	tap_is_int(file_size(path), fail_at, "nothing appended");
	mp_store_close(&s);
	tap_is_int(truncate(path, a2.offset + a2.size - 1), 0, "cut short");
	tap_is_int(mp_store_mbox_holds(path, &a2, 1, &e), 0, "a torn append is not held");
	tap_is_int(mp_store_mbox_holds(path, &a1, 1, &e), 1, "the one before still is");
	/* a writer that died under its dotlock after a whole append: the next
	 * append would cut it off, and so does the look */
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	host[strcspn(host, " \t\n")] = '\0';
	snprintf(buf, sizeof buf, "%s.lock", path);
	fd = open(buf, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	dprintf(fd, "%ld %lld %s\n", (long)dead, a2.offset, host[0] ? host : "localhost");
	close(fd);
	tap_is_int(mp_store_mbox_holds(path, &a1, 1, &e), 1, "the first held, a dead lock there");
	tap_is_int(file_size(path), a2.offset, "its writer's append cut off");
	tap_ok(access(buf, F_OK) != 0, "and the lock gone");

	test_hdrbuf(dir);

	snprintf(buf, sizeof buf, "rm -rf '%s'", dir);
	tap_is_int(system(buf), 0, "clean up");
	return tap_done();
}
