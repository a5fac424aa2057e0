/* Durability, in the order the steps happen:
 * Maildir  tmp/NAME (O_EXCL) <- message; fsync; close; link to new/NAME
 *          (never over an existing name); unlink tmp; fsync new/. Only
 *          then is the message reported delivered.
 * mbox     dotlock (O_EXCL, stale after 5 minutes) + fcntl lock; append
 *          From_ line, mboxrd-quoted message, blank line; fsync; on any
 *          error truncate back to the old size before unlocking. */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "io.h"

#define MBOX_STALE_LOCK 300 /* seconds */
#define WBUF            (64 * 1024)
#define DEDUP_INDEX     ".mdeliver-msgids"

struct mp_pending {
	char name[320]; /* the name in tmp/ */
	char flags[32]; /* info flags, "" for new/ */
	int cur;        /* goes into cur/ */
	int synced;     /* fsynced already (a single delivery) */
	long long size;
	char msgid[256];      /* to record in the dedup index, or "" */
	char final[PATH_MAX]; /* where it was linked */
};

/* a batch being made durable by a thread of its own (mp_store_sync_bg) */
struct mp_bg {
	pthread_t thread;
	struct mp_store *s;
	struct mp_pending *p;
	size_t n, cap, linked;
	int busy, threaded, rc;
	struct mp_err e;
};

/* ---------------------------------------------------------------- segments */

int mp_segr_init(struct mp_segr *r, int fd, size_t bufsize, struct mp_err *e)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->cap = bufsize;
	r->bol = 1;
	r->base = lseek(fd, 0, SEEK_CUR); /* -1 for pipes: no reading ahead */
	r->buf = malloc(bufsize);
	if (!r->buf)
		return mp_err_sys(e, EX_TEMPFAIL, "read buffer");
	return 0;
}

int mp_segr_next(struct mp_segr *r, const char **seg, size_t *len, int *bol, struct mp_err *e)
{
	for (;;) {
		size_t avail = r->end - r->start;
		char *s = r->buf + r->start, *nl = memchr(s, '\n', avail);

		/* a whole line, a full buffer's worth, or what is left at EOF */
		if (nl || avail == r->cap || (r->eof && avail)) {
			size_t n = nl ? (size_t)(nl - s) + 1 : avail;
			*seg = s;
			*len = n;
			*bol = r->bol;
			r->bol = nl != NULL;
			r->start += n;
			r->off += (long long)n;
			return 1;
		}
		if (r->eof)
			return 0;
		if (r->start) {
			memmove(r->buf, s, avail);
			r->start = 0;
			r->end = avail;
		}
		ssize_t got;
		do
			got = read(r->fd, r->buf + r->end, r->cap - r->end);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return mp_err_sys(e, mp_errno_code(errno), "read");
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
}

void mp_segr_free(struct mp_segr *r)
{
	free(r->buf);
	r->buf = NULL;
}

static int segr_src_next(void *ctx, const char **seg, size_t *len, int *bol, struct mp_err *e)
{
	return mp_segr_next(ctx, seg, len, bol, e);
}

struct mp_msgsrc mp_segr_src(struct mp_segr *r)
{
	struct mp_msgsrc s = {segr_src_next, r};

	return s;
}

/* ---------------------------------------------------------------- mbox splitting */

static int is_from_line(const char *s, size_t n, int bol)
{
	return bol && n >= 5 && memcmp(s, "From ", 5) == 0;
}

static int is_blank(const char *s, size_t n, int bol)
{
	return bol && ((n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n'));
}

void mp_mboxsplit_init(struct mp_mboxsplit *m, struct mp_segr *r)
{
	memset(m, 0, sizeof *m);
	m->r = r;
}

static int split_read(struct mp_mboxsplit *m, struct mp_err *e)
{
	int r = mp_segr_next(m->r, &m->cur, &m->curlen, &m->curbol, e);

	m->have = r == 1;
	if (r == 0)
		m->eof = 1;
	return r;
}

int mp_mboxsplit_begin(struct mp_mboxsplit *m, struct mp_err *e)
{
	int r;

	if (!m->have) {
		if (m->eof)
			return 0;
		if ((r = split_read(m, e)) <= 0)
			return r;
	}
	/* blank lines before the first message are tolerated */
	while (m->count == 0 && is_blank(m->cur, m->curlen, m->curbol))
		if ((r = split_read(m, e)) <= 0)
			return r;
	if (!is_from_line(m->cur, m->curlen, m->curbol)) {
		mp_err_set(e, EX_DATAERR, "not an mbox: no \"From \" line at byte %lld",
		           m->r->off - (long long)m->curlen + 1);
		return -1;
	}
	m->msgstart = m->r->off - (long long)m->curlen;
	m->count++;
	m->first = 1;
	m->in_header = 1;
	m->clen = -1;
	m->left = 0;
	m->held_blank = 0;
	return 1;
}

static long long parse_clen(const char *s, size_t n)
{
	long long v = 0;
	size_t i = 15; /* after "Content-Length:" */

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n || !isdigit((unsigned char)s[i]))
		return -1;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		if (v > (1LL << 50))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* mboxcl2: trust Content-Length only where it can be checked (a file we
 * can read ahead in) and it ends exactly before a From_ line or the end;
 * a stale length must not swallow the next message. */
static int clen_fits(struct mp_mboxsplit *m, long long body)
{
	char buf[8];
	ssize_t got;
	off_t pos;
	struct stat st;

	if (m->clen < 0 || m->r->base < 0)
		return 0;
	pos = (off_t)(m->r->base + body + m->clen);
	if (fstat(m->r->fd, &st) < 0 || !S_ISREG(st.st_mode) || pos > st.st_size)
		return 0;
	got = pread(m->r->fd, buf, sizeof buf, pos);
	if (got < 0)
		return 0;
	if (got == 0 || (got == 1 && buf[0] == '\n'))
		return 1; /* exactly at the end */
	if (got >= 5 && memcmp(buf, "From ", 5) == 0)
		return 1;
	if (got >= 6 && memcmp(buf, "\nFrom ", 6) == 0)
		return 1;
	return got >= 7 && memcmp(buf, "\r\nFrom ", 7) == 0;
}

static int split_next(void *ctx, const char **seg, size_t *len, int *bol, struct mp_err *e)
{
	struct mp_mboxsplit *m = ctx;

	if (m->first) { /* the message's own From_ line */
		m->first = 0;
		m->have = 0;
		*seg = m->cur;
		*len = m->curlen;
		*bol = m->curbol;
		return 1;
	}
	for (;;) {
		if (!m->have) {
			int r = split_read(m, e);
			if (r < 0)
				return -1;
			if (r == 0) {
				m->held_blank = 0; /* the mbox's blank line before the end */
				return 0;
			}
		}
		const char *s = m->cur;
		size_t n = m->curlen;
		int b = m->curbol;

		if (m->left > 0) { /* mboxcl2 body: raw bytes */
			if ((long long)n > m->left) {
				/* give the rest of the segment back */
				size_t back = n - (size_t)m->left;
				n = (size_t)m->left;
				m->r->start -= back;
				m->r->off -= (long long)back;
				m->r->bol = 0;
			}
			m->left -= (long long)n;
			m->have = 0;
			goto out;
		}
		if (m->held_blank) {
			m->held_blank = 0;
			if (m->in_header) {
				/* the blank line ends the header, unless it is the
				 * mbox's own before the next From_ (no body at all) */
				long long body = m->r->off - (long long)n;
				m->in_header = 0;
				if (clen_fits(m, body)) {
					m->left = m->clen;
					goto blank;
				}
			}
			if (is_from_line(s, n, b))
				return 0; /* the blank line was the mbox's */
		blank:
			*seg = m->blank; /* the message's own; s comes next */
			*len = m->blanklen;
			*bol = 1;
			return 1;
		}
		if (is_from_line(s, n, b))
			return 0; /* stays in cur for mp_mboxsplit_begin */
		m->have = 0;
		if (m->in_header && !is_blank(s, n, b)) {
			if (b && n > 15 && strncasecmp(s, "Content-Length:", 15) == 0)
				m->clen = parse_clen(s, n);
			goto out;
		}
		if (is_blank(s, n, b)) {
			memcpy(m->blank, s, n);
			m->blanklen = n;
			m->held_blank = 1;
			continue;
		}
		/* mboxrd: one level of quoting comes off ">From ", ">>From ", ... */
		if (b && n > 5 && s[0] == '>') {
			size_t k = 0;
			while (k < n && s[k] == '>')
				k++;
			if (n - k >= 5 && memcmp(s + k, "From ", 5) == 0) {
				s++;
				n--;
			}
		}
	out:
		*seg = s;
		*len = n;
		*bol = b;
		return 1;
	}
}

struct mp_msgsrc mp_mboxsplit_src(struct mp_mboxsplit *m)
{
	struct mp_msgsrc src = {split_next, m};

	return src;
}

/* ---------------------------------------------------------------- writing */

struct wout {
	int fd;
	size_t n;
	long long total;
	int last;       /* last byte written, -1 before any */
	int pending_cr; /* mbox: a CR at a segment's end, waiting for LF */
	char buf[WBUF];
};

static int w_flush(struct wout *w, struct mp_err *e)
{
	if (w->n && mp_write_full(w->fd, w->buf, w->n) < 0)
		return mp_err_sys(e, mp_errno_code(errno), "write");
	w->n = 0;
	return 0;
}

static int w_put(struct wout *w, const void *p, size_t n, struct mp_err *e)
{
	if (n == 0)
		return 0;
	w->total += (long long)n;
	w->last = ((const unsigned char *)p)[n - 1];
	if (w->n + n > sizeof w->buf) {
		if (w_flush(w, e) < 0)
			return -1;
		if (n > sizeof w->buf) {
			if (mp_write_full(w->fd, p, n) < 0)
				return mp_err_sys(e, mp_errno_code(errno), "write");
			return 0;
		}
	}
	memcpy(w->buf + w->n, p, n);
	w->n += n;
	return 0;
}

static int w_puts(struct wout *w, const char *s, struct mp_err *e)
{
	return w_put(w, s, strlen(s), e);
}

/* "Name:" at the start of a header line, name printable and no space */
static size_t field_name_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] > ' ' && s[i] < 127 && s[i] != ':')
		i++;
	return (i > 0 && i < n && s[i] == ':') ? i : 0;
}

static int field_is(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);

	return field_name_len(s, n) == k && strncasecmp(s, name, k) == 0;
}

/* the field's value, blanks and line end trimmed, '<' '>' kept */
static void field_value(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i = field_name_len(s, n) + 1, j = n, k;

	while (i < j && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (j > i &&
	       (s[j - 1] == '\n' || s[j - 1] == '\r' || s[j - 1] == ' ' || s[j - 1] == '\t'))
		j--;
	k = j - i < outsz - 1 ? j - i : outsz - 1;
	memcpy(out, s + i, k);
	out[k] = '\0';
}

static int same_addr(const char *a, const char *b)
{
	size_t la, lb;

	if (*a == '<')
		a++;
	if (*b == '<')
		b++;
	la = strcspn(a, ">");
	lb = strcspn(b, ">");
	return la == lb && strncasecmp(a, b, la) == 0;
}

struct copyctx {
	const struct mp_delivery *d;
	int mbox;
	int has_sender;   /* sender holds the envelope sender ("" for <>) */
	char sender[512]; /* envelope sender (-f, else the From_ line) */
	char msgid[256];
	time_t date;
};

/* Read the first segment; take a From_ line as the envelope. Returns 1
 * with the first header line in *seg, or -1. */
static int read_start(const struct mp_msgsrc *src, struct copyctx *c, const char **seg, size_t *len,
                      int *bol, struct mp_err *e)
{
	int r = src->next(src->ctx, seg, len, bol, e);

	if (r < 0)
		return -1;
	if (r > 0 && is_from_line(*seg, *len, *bol)) {
		if (!c->d->from) {
			size_t i = 5, k = 0;
			c->has_sender = 1;
			while (i < *len && (*seg)[i] == ' ')
				i++;
			while (i < *len && (*seg)[i] > ' ' && k < sizeof c->sender - 1)
				c->sender[k++] = (*seg)[i++];
			c->sender[k] = '\0';
			if (strcmp(c->sender, "MAILER-DAEMON") == 0)
				c->sender[0] = '\0'; /* how mboxes write the null sender <> */
		}
		/* the rest of an overlong From_ line goes too */
		do
			r = src->next(src->ctx, seg, len, bol, e);
		while (r > 0 && !*bol);
		if (r < 0)
			return -1;
	}
	if (r == 0)
		return mp_err_set(e, EX_DATAERR, "empty message");
	if (!field_name_len(*seg, *len))
		return mp_err_set(e, EX_DATAERR, "not a message: line 1 is not a header field");
	return 1;
}

static int put_line_end(struct wout *w, int crlf, struct mp_err *e)
{
	return w_puts(w, crlf ? "\r\n" : "\n", e);
}

/* Copy the message from its first header line on: added fields first,
 * loop check and Message-ID while in the header, mboxrd quoting and LF
 * line ends for an mbox, and a final line break. */
static int copy_body(const struct mp_msgsrc *src, struct copyctx *c, struct wout *w,
                     const char *seg, size_t len, int bol, struct mp_err *e)
{
	const struct mp_delivery *d = c->d;
	int crlf = !c->mbox && len >= 2 && seg[len - 2] == '\r' && seg[len - 1] == '\n';
	int header = 1, skipping = 0, want_id = 0, r = 1;

	if (c->has_sender) {
		if (w_puts(w, "Return-Path: <", e) || w_puts(w, c->sender, e) ||
		    w_puts(w, ">", e) || put_line_end(w, crlf, e))
			return -1;
	}
	if (d->delivered_to && (w_puts(w, "Delivered-To: ", e) || w_puts(w, d->delivered_to, e) ||
	                        put_line_end(w, crlf, e)))
		return -1;
	for (; r > 0; r = src->next(src->ctx, &seg, &len, &bol, e)) {
		if (header && bol) {
			if (is_blank(seg, len, bol)) {
				header = 0;
				skipping = 0;
			} else if (seg[0] == ' ' || seg[0] == '\t') {
				if (want_id && !c->msgid[0])
					field_value(seg - 0, len, c->msgid, sizeof c->msgid);
			} else {
				want_id = 0;
				skipping = c->has_sender && field_is(seg, len, "Return-Path");
				if (d->loop_check && d->delivered_to &&
				    field_is(seg, len, "Delivered-To")) {
					char v[512];
					field_value(seg, len, v, sizeof v);
					if (same_addr(v, d->delivered_to))
						return mp_err_set(
						    e, EX_NOUSER,
						    "mail loop: already delivered to %s",
						    d->delivered_to);
				}
				if (field_is(seg, len, "Message-ID")) {
					field_value(seg, len, c->msgid, sizeof c->msgid);
					want_id = 1;
				}
			}
			if (header && memchr(seg, '\0', len))
				return mp_err_set(e, EX_DATAERR,
				                  "not a message: NUL byte in the header");
		}
		if (skipping)
			continue;
		if (c->mbox) {
			if (w->pending_cr) {
				w->pending_cr = 0;
				if (!(len && seg[0] == '\n') && w_put(w, "\r", 1, e))
					return -1;
			}
			if (bol) { /* mboxrd: any ^>*From gains one '>' */
				size_t k = 0;
				while (k < len && seg[k] == '>')
					k++;
				if (len - k >= 5 && memcmp(seg + k, "From ", 5) == 0 &&
				    w_put(w, ">", 1, e))
					return -1;
			}
			if (len >= 2 && seg[len - 1] == '\n' && seg[len - 2] == '\r') {
				if (w_put(w, seg, len - 2, e) || w_put(w, "\n", 1, e))
					return -1;
				continue;
			}
			if (len && seg[len - 1] == '\r') {
				w->pending_cr = 1;
				len--;
			}
		}
		if (w_put(w, seg, len, e))
			return -1;
	}
	if (r < 0)
		return -1;
	if (w->pending_cr && w_put(w, "\r", 1, e))
		return -1;
	if (w->last != '\n' && put_line_end(w, crlf, e))
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- opening */

static int mkdirs(const char *path, struct mp_err *e)
{
	char *p = mp_xstrdup(path), *s;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			mp_err_sys(e, EX_CANTCREAT, "%s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST) {
		mp_err_sys(e, EX_CANTCREAT, "%s", p);
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_subdirs(const char *md)
{
	static const char *const sub[] = {"cur", "new", "tmp"};
	char p[PATH_MAX];

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", md, sub[i]);
		if (!is_dir(p))
			return 0;
	}
	return 1;
}

/* cur/ new/ tmp/ (and the folder marker), then make the names durable */
static int make_maildir(const char *md, int folder, struct mp_err *e)
{
	static const char *const sub[] = {"cur", "new", "tmp"};
	char p[PATH_MAX], *parent;

	if (mkdirs(md, e) < 0)
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
	if (mp_fsync_dir(md, e) < 0)
		return -1;
	parent = mp_xstrdup(md);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else
		strcpy(parent, slash ? "/" : ".");
	int rc = mp_fsync_dir(parent, e);
	free(parent);
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
	if (!is_dir(s->path) && !slash && !(flags & MP_STORE_CREATE)) {
		if (folder)
			return mp_err_set(e, EX_USAGE, "%s: --folder needs a Maildir", target);
		s->kind = MP_STORE_MBOX; /* a new mbox file */
		return 0;
	}
	s->kind = MP_STORE_MAILDIR;
	if (!has_subdirs(s->path)) {
		if (is_dir(s->path) && !slash && !(flags & MP_STORE_CREATE))
			return mp_err_set(e, EX_CANTCREAT,
			                  "%s: a directory without cur/, new/, tmp/ (-c makes it a "
			                  "Maildir)",
			                  target);
		if (make_maildir(s->path, 0, e) < 0)
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
		if (!has_subdirs(s->path) && make_maildir(s->path, 1, e) < 0)
			return -1;
	}
	return 0;
}

static void take_back(struct mp_store *s, struct mp_pending *p, size_t n, size_t linked);

void mp_store_close(struct mp_store *s)
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
			take_back(s, b->p, b->n, b->n);
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
	if (s->dedup_lock >= 0)
		close(s->dedup_lock);
	free(s->path);
	memset(s, 0, sizeof *s);
	s->dedup_lock = -1;
}

/* ---------------------------------------------------------------- Maildir */

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

/* Maildir info flags: known letters, ASCII order, each once */
static int norm_flags(const char *in, char *out, struct mp_err *e)
{
	int seen[26] = {0}, k = 0;

	for (const char *f = in; *f; f++) {
		if (*f < 'A' || *f > 'Z')
			return mp_err_set(e, EX_USAGE,
			                  "invalid Maildir flag '%c' (A-Z: D F P R S T)", *f);
		seen[*f - 'A'] = 1;
	}
	for (int i = 0; i < 26; i++)
		if (seen[i])
			out[k++] = (char)('A' + i);
	out[k] = '\0';
	return 0;
}

static int fcntl_lock(int fd, const char *path, double timeout, struct mp_err *e);

static int dedup_lock(struct mp_store *s, struct mp_err *e)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof p, "%s/%s.lock", s->path, DEDUP_INDEX);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "%s", p);
	/* bounded, like the mbox locks: a stuck holder means try later */
	if (fcntl_lock(fd, p, s->lock_timeout, e) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 if id is in the index, 0 if not, -1 on error */
static int dedup_seen(struct mp_store *s, const char *id, struct mp_err *e)
{
	char p[PATH_MAX], *line;
	struct mp_lr lr;
	size_t len, idl = strlen(id);
	int fd, r, found = 0;

	snprintf(p, sizeof p, "%s/%s", s->path, DEDUP_INDEX);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : mp_err_sys(e, mp_errno_code(errno), "%s", p);
	if (mp_lr_init(&lr, fd, 1024, e) < 0) {
		close(fd);
		return -1;
	}
	/* a last line without its newline is a torn append: not counted */
	while (!found && (r = mp_lr_next(&lr, &line, &len, NULL)) != 0) {
		if (r < 0)
			break; /* an overlong line is no Message-ID of ours */
		found = len == idl + 1 && line[idl] == '\n' && memcmp(line, id, idl) == 0;
	}
	mp_lr_free(&lr);
	close(fd);
	return found;
}

static int dedup_add(struct mp_store *s, const char *id, struct mp_err *e)
{
	char p[PATH_MAX];
	struct mp_buf l = MP_BUF_INIT;
	int fd, rc = 0;

	snprintf(p, sizeof p, "%s/%s", s->path, DEDUP_INDEX);
	fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "%s", p);
	/* one write(2) of the whole line: appends never interleave */
	mp_buf_printf(&l, "%s\n", id);
	if (mp_write_full(fd, l.data, l.len) < 0 || mp_fsync_fd(fd) < 0)
		rc = mp_err_sys(e, mp_errno_code(errno), "%s", p);
	close(fd);
	mp_buf_free(&l);
	return rc;
}

/* 1 if id is waiting in the current batch */
static int pending_has(const struct mp_store *s, const char *id)
{
	for (size_t i = 0; i < s->npending; i++)
		if (strcmp(s->pending[i].msgid, id) == 0)
			return 1;
	return 0;
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
		if (p->cur)
			snprintf(dst, dstsz, "%s/cur/%s,S=%lld:2,%s", s->path, name, p->size,
			         p->flags);
		else
			snprintf(dst, dstsz, "%s/new/%s,S=%lld", s->path, name, p->size);
		if (link(tmp, dst) == 0)
			break;
		if (errno == EEXIST && tries < 100) {
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

/* Make the batch p[0..n) durable and put it in place: the files synced,
 * linked into new/ or cur/, the directories fsynced; *linked says how
 * many were linked. It reads only what no other call of the store
 * changes (the path, the host name, the atomic counter), so that it can
 * run on a thread of its own. */
static int commit_batch(struct mp_store *s, struct mp_pending *p, size_t n, size_t *linked,
                        struct mp_err *e)
{
	int newdir = 0, curdir = 0;

	*linked = 0;
	if (n == 0)
		return 0;
	if (sync_files(s, p, n, e) < 0)
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
static void take_back(struct mp_store *s, struct mp_pending *p, size_t n, size_t linked)
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

/* the size of the --dedup index before a batch's lines were added, so
 * that a batch taken back takes its lines too; -1 if it cannot be known */
static off_t dedup_size(struct mp_store *s)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", s->path, DEDUP_INDEX);
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

	snprintf(p, sizeof p, "%s/%s", s->path, DEDUP_INDEX);
	if (size < 0 || (fd = open(p, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (ftruncate(fd, size) == 0)
		(void)mp_fsync_fd(fd);
	close(fd);
}

static void *bg_run(void *arg)
{
	struct mp_bg *b = arg;

	b->rc = commit_batch(b->s, b->p, b->n, &b->linked, &b->e);
	if (b->rc < 0)
		take_back(b->s, b->p, b->n, b->linked);
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
	take_back(s, s->pending, s->npending, 0);
	s->npending = 0;
	s->pending_bytes = 0;
	if (s->dedup_lock >= 0) {
		close(s->dedup_lock);
		s->dedup_lock = -1;
	}
}

int mp_store_sync(struct mp_store *s, void (*done)(void *ctx, const char *path), void *ctx,
                  struct mp_err *e)
{
	size_t linked = 0;
	int rc = 0;

	if (s->kind != MP_STORE_MAILDIR)
		return 0;
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
	rc = commit_batch(s, s->pending, s->npending, &linked, e);
	for (size_t k = 0; rc == 0 && k < s->npending; k++)
		if (s->pending[k].msgid[0] && dedup_add(s, s->pending[k].msgid, e) < 0)
			rc = -1;
	if (rc < 0) {
		/* the index first: lines left for messages taken back would
		 * make a rerun skip them */
		dedup_cut(s, isize);
		take_back(s, s->pending, s->npending, linked);
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
	if (s->dedup_lock >= 0) {
		close(s->dedup_lock);
		s->dedup_lock = -1;
	}
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

static int deliver_maildir(struct mp_store *s, const struct mp_msgsrc *src, struct copyctx *c,
                           struct mp_delivered *out, struct mp_err *e)
{
	const struct mp_delivery *d = c->d;
	struct mp_pending p;
	char tmp[PATH_MAX];
	const char *seg;
	size_t len;
	int bol, fd = -1, tries;
	struct wout *w = NULL;

	memset(&p, 0, sizeof p);
	if (d->flags && norm_flags(d->flags, p.flags, e) < 0)
		return -1;
	p.cur = d->flags != NULL;
	p.synced = !d->batch;
	/* the header is checked before anything is created */
	if (read_start(src, c, &seg, &len, &bol, e) < 0)
		return -1;
	for (tries = 0;; tries++) {
		uniq_name(s, p.name, sizeof p.name);
		snprintf(tmp, sizeof tmp, "%s/tmp/%s", s->path, p.name);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 100)
			return mp_err_sys(
			    e, errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_CANTCREAT,
			    "%s", tmp);
	}
	w = malloc(sizeof *w);
	if (!w) {
		mp_err_sys(e, EX_TEMPFAIL, "write buffer");
		goto fail;
	}
	memset(w, 0, offsetof(struct wout, buf));
	w->fd = fd;
	w->last = -1;
	if (copy_body(src, c, w, seg, len, bol, e) < 0 || w_flush(w, e) < 0)
		goto fail;
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
	fd = -1;
	p.size = out->size = w->total;
	free(w);
	w = NULL;
	snprintf(out->msgid, sizeof out->msgid, "%s", c->msgid);
	if (d->dedup && c->msgid[0]) {
		/* the lock is held until the message is linked and recorded */
		if (s->dedup_lock < 0 && (s->dedup_lock = dedup_lock(s, e)) < 0)
			goto fail;
		int seen = dedup_seen(s, c->msgid, e);
		if (seen < 0)
			goto fail;
		if (seen || pending_has(s, c->msgid)) {
			out->skipped = 1;
			unlink(tmp);
			if (!d->batch && !s->npending) {
				close(s->dedup_lock);
				s->dedup_lock = -1;
			}
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
		snprintf(out->path, sizeof out->path, "%s/tmp/%s", s->path, p.name);
		return 0;
	}
	/* alone: link, fsync the directory, record; only then delivered */
	return mp_store_sync(s, copy_path, out, e);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	if (s->dedup_lock >= 0 && !s->npending) {
		close(s->dedup_lock);
		s->dedup_lock = -1;
	}
	free(w);
	return -1;
}

/* ---------------------------------------------------------------- mbox */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap(int *ms)
{
	struct timespec ts = {0, (long)*ms * 1000000L};

	nanosleep(&ts, NULL);
	if (*ms < 200)
		*ms *= 2;
}

static int lock_code(int err)
{
	/* a missing or unusable directory cannot be fixed by retrying */
	return err == ENOENT || err == ENOTDIR ? EX_CANTCREAT : mp_errno_code(err);
}

/* FILE.lock with O_EXCL, holding "PID SIZE": our pid and, once known, the
 * mbox size before our append. A lock whose process is gone (or older
 * than 5 minutes) is broken, and the size it recorded is returned in
 * *recover so that a half-written append can be cut off. Returns 1 when
 * taken, 0 when a dotlock is not possible here (directory not writable:
 * fcntl alone then), -1 on time-out or failure. */
static int dotlock(const char *lock, double timeout, long long *recover, struct mp_err *e)
{
	double t0 = now_s();
	int ms = 5;

	*recover = -1;
	for (;;) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		struct stat st;
		if (fd >= 0) {
			char pid[32];
			int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
			if (mp_write_full(fd, pid, (size_t)n) < 0) {
				close(fd);
				unlink(lock);
				return mp_err_sys(e, lock_code(errno), "%s", lock);
			}
			close(fd);
			return 1;
		}
		if (errno == EACCES || errno == EROFS)
			return 0;
		if (errno != EEXIST)
			return mp_err_sys(e, lock_code(errno), "%s", lock);
		char buf[64] = "";
		long pid = 0;
		long long size = -1;
		struct stat seen = {0};
		int rfd = open(lock, O_RDONLY | O_CLOEXEC);
		if (rfd >= 0) {
			ssize_t n = fstat(rfd, &seen) == 0 ? read(rfd, buf, sizeof buf - 1) : -1;
			buf[n > 0 ? n : 0] = '\0';
			close(rfd);
			if (sscanf(buf, "%ld %lld", &pid, &size) < 1)
				pid = 0;
		}
		int dead = rfd >= 0 && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
		if (dead || (rfd >= 0 && time(NULL) - seen.st_mtime > MBOX_STALE_LOCK)) {
			/* Break the lock we read, and only that one: its owner may
			 * have finished and another writer taken a new lock since
			 * (breaking that one, and cutting the mbox back to the size
			 * the old lock recorded, would lose mail). The lock is
			 * renamed away first, then checked to be the file we read. */
			char away[4200], buf2[64] = "";
			long pid2 = 0;
			long long size2 = -1;
			snprintf(away, sizeof away, "%s.broken.%ld", lock, (long)getpid());
			if (rename(lock, away) == 0) {
				/* the same owner as the one found dead (an inode number
				 * says nothing: a new lock may reuse the old one's) */
				int afd = open(away, O_RDONLY | O_CLOEXEC);
				if (afd >= 0) {
					ssize_t n = read(afd, buf2, sizeof buf2 - 1);
					buf2[n > 0 ? n : 0] = '\0';
					close(afd);
					if (sscanf(buf2, "%ld %lld", &pid2, &size2) < 1)
						pid2 = 0;
				}
				if (strcmp(buf2, buf) == 0 &&
				    (dead ? kill((pid_t)pid2, 0) < 0 && errno == ESRCH
				          : stat(away, &st) == 0 &&
				                time(NULL) - st.st_mtime > MBOX_STALE_LOCK)) {
					unlink(away);
					if (size >= 0)
						*recover = size; /* its owner is gone */
				} else {
					/* a live lock: given back, unless a new one is there */
					if (link(away, lock) < 0 && errno != EEXIST)
						(void)rename(away, lock);
					unlink(away);
				}
			}
			continue;
		}
		if (now_s() - t0 > timeout)
			return mp_err_set(e, EX_TEMPFAIL, "%s: still locked after %.0f s", lock,
			                  timeout);
		nap(&ms);
	}
}

/* note the size the mbox had before our append, for whoever finds our
 * lock if we die mid-append */
static void dotlock_note(const char *lock, long long size)
{
	char buf[64];
	int fd = open(lock, O_WRONLY | O_TRUNC | O_CLOEXEC), n;

	if (fd < 0)
		return;
	n = snprintf(buf, sizeof buf, "%ld %lld\n", (long)getpid(), size);
	if (mp_write_full(fd, buf, (size_t)n) == 0)
		(void)mp_fsync_fd(fd);
	close(fd);
}

static int fcntl_lock(int fd, const char *path, double timeout, struct mp_err *e)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	double t0 = now_s();
	int ms = 5;

	while (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return mp_err_sys(e, EX_TEMPFAIL, "lock %s", path);
		if (now_s() - t0 > timeout)
			return mp_err_set(e, EX_TEMPFAIL, "%s: still locked after %.0f s", path,
			                  timeout);
		nap(&ms);
	}
	return 0;
}

/* the message, quoted and with LF line ends, into an unlinked temporary
 * file: the mbox is locked only for the quick copy, never while a slow
 * sender is still sending */
static int spool(const struct mp_msgsrc *src, struct copyctx *c, const char *seg, size_t len,
                 int bol, long long *size, struct mp_err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	struct wout *w;
	int fd;

	snprintf(path, sizeof path, "%s/mdeliver.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "spool file %s", path);
	unlink(path);
	w = malloc(sizeof *w);
	if (!w) {
		close(fd);
		return mp_err_sys(e, EX_TEMPFAIL, "write buffer");
	}
	memset(w, 0, offsetof(struct wout, buf));
	w->fd = fd;
	w->last = -1;
	c->mbox = 1;
	if (copy_body(src, c, w, seg, len, bol, e) < 0 || w_flush(w, e) < 0) {
		if (!e || e->code == EX_IOERR)
			mp_err_sys(e, EX_TEMPFAIL, "spool file");
		free(w);
		close(fd);
		return -1;
	}
	*size = w->total;
	free(w);
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return mp_err_sys(e, EX_TEMPFAIL, "spool file");
	}
	return fd;
}

static int deliver_mbox(struct mp_store *s, const struct mp_msgsrc *src, struct copyctx *c,
                        struct mp_delivered *out, struct mp_err *e)
{
	char lock[PATH_MAX], head[5], tail[2], date[64], sep[3] = "", buf[65536];
	const char *seg;
	size_t len;
	int bol, fd = -1, sfd, dot = 0, rc = -1;
	long long msgsize = 0, recover = -1;
	struct stat st;
	off_t size = 0, pos;
	struct tm tm;
	time_t t = c->d->date ? c->d->date : time(NULL);

	if (read_start(src, c, &seg, &len, &bol, e) < 0)
		return -1;
	if ((sfd = spool(src, c, seg, len, bol, &msgsize, e)) < 0)
		return -1;
	snprintf(lock, sizeof lock, "%s.lock", s->path);
	if ((dot = dotlock(lock, s->lock_timeout, &recover, e)) < 0)
		goto out;
	fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		mp_err_sys(e, errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_CANTCREAT, "%s",
		           s->path);
		goto out;
	}
	if (fcntl_lock(fd, s->path, s->lock_timeout, e) < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		mp_err_sys(e, EX_IOERR, "%s", s->path);
		goto out;
	}
	/* a writer died mid-append under the lock we broke: cut its part off */
	if (recover >= 0 && recover < st.st_size) {
		if (ftruncate(fd, (off_t)recover) < 0 || mp_fsync_fd(fd) < 0) {
			mp_err_sys(e, mp_errno_code(errno), "%s: undo an unfinished append",
			           s->path);
			goto out;
		}
		st.st_size = (off_t)recover;
	}
	size = st.st_size;
	if (size > 0 && (pread(fd, head, 5, 0) != 5 || memcmp(head, "From ", 5) != 0)) {
		mp_err_set(e, EX_CANTCREAT, "%s: not an mbox (does not start with \"From \")",
		           s->path);
		goto out;
	}
	if (dot > 0)
		dotlock_note(lock, (long long)size);
	/* a From_ line must follow a blank line */
	if (size >= 2 && pread(fd, tail, 2, size - 2) == 2 && !(tail[0] == '\n' && tail[1] == '\n'))
		strcpy(sep, tail[1] == '\n' ? "\n" : "\n\n");
	else if (size == 1)
		strcpy(sep, "\n");
	localtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	int hl = snprintf(buf, sizeof buf, "%sFrom %s %s\n", sep,
	                  c->sender[0] ? c->sender : "MAILER-DAEMON", date);
	if (hl < 0 || (size_t)hl >= sizeof buf) {
		mp_err_set(e, EX_DATAERR, "envelope sender too long");
		goto out;
	}
	out->offset = (long long)size + (long long)strlen(sep);
	pos = size;
	if (pwrite(fd, buf, (size_t)hl, pos) != hl) {
		mp_err_sys(e, mp_errno_code(errno), "write %s", s->path);
		goto undo;
	}
	pos += hl;
	for (;;) {
		ssize_t n = read(sfd, buf, sizeof buf);
		if (n < 0) {
			mp_err_sys(e, EX_TEMPFAIL, "spool file");
			goto undo;
		}
		if (n == 0)
			break;
		for (ssize_t k = 0; k < n;) {
			ssize_t w = pwrite(fd, buf + k, (size_t)(n - k), pos);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				mp_err_sys(e, mp_errno_code(errno), "write %s", s->path);
				goto undo;
			}
			k += w;
			pos += w;
		}
	}
	if (pwrite(fd, "\n", 1, pos) != 1) {
		mp_err_sys(e, mp_errno_code(errno), "write %s", s->path);
		goto undo;
	}
	if (mp_fsync_fd(fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "fsync %s", s->path);
		goto undo;
	}
	/* From_ line, message, blank line */
	out->size = (long long)hl - (long long)strlen(sep) + msgsize + 1;
	snprintf(out->path, sizeof out->path, "%s", s->path);
	snprintf(out->msgid, sizeof out->msgid, "%s", c->msgid);
	rc = 0;
	goto out;
undo:
	/* leave the mbox as it was: no partial message, ever */
	if (ftruncate(fd, size) == 0)
		(void)mp_fsync_fd(fd);
out:
	if (fd >= 0)
		close(fd); /* drops the fcntl lock */
	if (dot > 0)
		unlink(lock);
	close(sfd);
	return rc;
}

int mp_store_deliver(struct mp_store *s, const struct mp_msgsrc *src, const struct mp_delivery *d,
                     struct mp_delivered *out, struct mp_err *e)
{
	struct copyctx c;

	memset(out, 0, sizeof *out);
	memset(&c, 0, sizeof c);
	c.d = d;
	if (d->from) {
		snprintf(c.sender, sizeof c.sender, "%s", d->from);
		c.has_sender = 1;
	}
	if (s->kind == MP_STORE_MAILDIR)
		return deliver_maildir(s, src, &c, out, e);
	if (d->flags || d->dedup)
		return mp_err_set(e, EX_USAGE, "--flags and --dedup need a Maildir");
	return deliver_mbox(s, src, &c, out, e);
}
