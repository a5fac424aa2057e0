/* msgsrc: where the store's messages come from: a stream handed out in
 * segments (whole lines, or pieces of an overlong one), a block of
 * memory handed out the same way, the headers of message files read
 * ahead on threads, and an mbox split into its messages (mboxo, mboxrd,
 * mboxcl2). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdr.h"
#include "store_int.h"

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

/* ---------------------------------------------------------------- memory */

static int memsrc_next(void *ctx, const char **seg, size_t *len, int *bol, struct mp_err *e)
{
	struct mp_memsrc *m = ctx;
	size_t avail = m->n - m->pos, n = avail < m->cap ? avail : m->cap;
	const char *s = m->p + m->pos, *nl = memchr(s, '\n', n);

	(void)e;
	if (!avail)
		return 0;
	if (nl)
		n = (size_t)(nl - s) + 1;
	*seg = s;
	*len = n;
	*bol = m->bol;
	m->bol = nl != NULL;
	m->pos += n;
	return 1;
}

struct mp_msgsrc mp_memsrc(struct mp_memsrc *m, const char *p, size_t n)
{
	return mp_memsrc_cap(m, p, n, SIZE_MAX);
}

struct mp_msgsrc mp_memsrc_cap(struct mp_memsrc *m, const char *p, size_t n, size_t cap)
{
	struct mp_msgsrc s = {memsrc_next, m};

	m->p = p;
	m->n = n;
	m->pos = 0;
	m->cap = cap ? cap : 1;
	m->bol = 1;
	return s;
}

/* ---------------------------------------------------------------- headers read ahead */

/* past the blank line that ends the header in b[0..n), or 0 when it is
 * not there yet; *k: the first line start not looked at (a line start is
 * where a segment with bol starts: the start, or after a line feed) */
static size_t header_end(const char *b, size_t n, size_t *k)
{
	size_t i = *k;

	while (i < n) {
		if (b[i] == '\n')
			return i + 1;
		if (b[i] == '\r') {
			if (i + 1 >= n)
				break;
			if (b[i + 1] == '\n')
				return i + 2;
		}
		const char *nl = memchr(b + i, '\n', n - i);
		if (!nl)
			break;
		i = (size_t)(nl - b) + 1;
	}
	*k = i;
	return 0;
}

int mp_hdrbuf_read(struct mp_hdrbuf *h, const char *path, size_t max, unsigned flags)
{
	size_t look = 0, end = 0;
	struct stat st;

	h->len = 0;
	h->whole = h->eof = h->err = 0;
	h->size = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		h->err = errno;
		return -1;
	}
	while (!end && h->len < max) {
		if (h->len >= h->cap) {
			size_t cap = h->cap ? h->cap * 2 : MP_HDRBUF_FIRST;
			char *b = realloc(h->buf, cap < max ? cap : max);
			if (!b) {
				h->err = ENOMEM;
				break;
			}
			h->buf = b;
			h->cap = cap < max ? cap : max;
		}
		size_t room = (h->cap < max ? h->cap : max) - h->len;
		ssize_t got = read(fd, h->buf + h->len, room);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			h->err = errno;
			break;
		}
		if (got == 0) {
			h->eof = h->whole = 1;
			break;
		}
		h->len += (size_t)got;
		if ((end = header_end(h->buf, h->len, &look)) != 0) {
			h->len = end;
			h->whole = 1;
		}
	}
	if (!h->err && (flags & MP_HDRBUF_SIZE))
		h->size = h->eof                ? (long long)h->len
		          : fstat(fd, &st) == 0 ? (long long)st.st_size
		                                : -1;
	close(fd);
	if (h->err) {
		h->whole = 0;
		return -1;
	}
	return 0;
}

void mp_hdrbuf_free(struct mp_hdrbuf *h)
{
	free(h->buf);
	mp_buf_free(&h->out);
	memset(h, 0, sizeof *h);
}

#define POOL_WINDOW 64
#define POOL_BATCH  16 /* below POOL_WINDOW / 2: always within reach of the threads */

struct mp_hdrpool {
	size_t n, max;
	unsigned flags;
	mp_hdrpool_path path;
	void *ctx;
	mp_hdrpool_work work;
	void *wctx;
	struct mp_hdrbuf slot[POOL_WINDOW];
	size_t done[POOL_WINDOW]; /* the index read into the slot, plus 1; 0: none yet */
	size_t claimed;           /* the next index for a thread to read */
	size_t taken;             /* indexes below it were handed out and are done with */
	int stop;
	size_t want;      /* the index the reader waits for, plus 1; 0: none */
	int room_waiters; /* threads waiting for a free slot */
	pthread_mutex_t lock;
	pthread_cond_t ready, room;
	pthread_t t[8];
	int nt;
};

/* with the lock held: the next index claimed, read and worked on without
 * the lock, and marked done */
static void pool_read_next(struct mp_hdrpool *p)
{
	size_t i = p->claimed++;
	struct mp_hdrbuf *h = &p->slot[i % POOL_WINDOW];

	pthread_mutex_unlock(&p->lock);
	mp_hdrbuf_read(h, p->path(p->ctx, i), p->max, p->flags);
	if (p->work)
		p->work(p->wctx, i, h);
	pthread_mutex_lock(&p->lock);
	p->done[i % POOL_WINDOW] = i + 1;
	if (p->want == i + 1)
		pthread_cond_signal(&p->ready);
}

static void *pool_worker(void *arg)
{
	struct mp_hdrpool *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop && p->claimed < p->n) {
		if (p->claimed >= p->taken + POOL_WINDOW) {
			p->room_waiters++;
			pthread_cond_wait(&p->room, &p->lock);
			p->room_waiters--;
			continue;
		}
		pool_read_next(p);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct mp_hdrpool *mp_hdrpool_start(size_t n, mp_hdrpool_path path, void *ctx, int threads,
                                    size_t max, unsigned flags)
{
	return mp_hdrpool_start_work(n, path, ctx, threads, max, flags, NULL, NULL);
}

struct mp_hdrpool *mp_hdrpool_start_work(size_t n, mp_hdrpool_path path, void *ctx, int threads,
                                         size_t max, unsigned flags, mp_hdrpool_work work,
                                         void *wctx)
{
	struct mp_hdrpool *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->n = n;
	p->work = work;
	p->wctx = wctx;
	p->path = path;
	p->ctx = ctx;
	p->max = max;
	p->flags = flags;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->ready, NULL);
	pthread_cond_init(&p->room, NULL);
	if (threads > (int)(sizeof p->t / sizeof p->t[0]))
		threads = (int)(sizeof p->t / sizeof p->t[0]);
	/* the reader of the pool is one of the threads: threads - 1 more */
	for (int k = 1; k < threads && (size_t)k < n; k++)
		if (pthread_create(&p->t[p->nt], NULL, pool_worker, p) == 0)
			p->nt++;
	return p;
}

const struct mp_hdrbuf *mp_hdrpool_get(struct mp_hdrpool *p, size_t i)
{
	struct mp_hdrbuf *h = &p->slot[i % POOL_WINDOW];

	if (i >= p->n)
		return NULL;
	if (!p->nt) { /* no thread: read it now, into one slot */
		mp_hdrbuf_read(&p->slot[0], p->path(p->ctx, i), p->max, p->flags);
		if (p->work)
			p->work(p->wctx, i, &p->slot[0]);
		return &p->slot[0];
	}
	pthread_mutex_lock(&p->lock);
	p->taken = i; /* those before it are done with: their slots are free */
	/* the threads are woken when half the window is free, not at every
	 * slot: a switch of threads costs more than reading a header */
	if (p->room_waiters && p->claimed <= p->taken + POOL_WINDOW / 2)
		pthread_cond_broadcast(&p->room);
	/* when it must wait, the reader waits for a batch: the header it
	 * needs and the one POOL_BATCH further on (a wake-up for each header
	 * cost more system time than reading it); once that one is in, for
	 * the one it needs alone */
	size_t hi = i + POOL_BATCH < p->n ? i + POOL_BATCH : p->n - 1;
	while (p->done[i % POOL_WINDOW] != i + 1) {
		/* rather than wait, the reader reads one itself (the one it
		 * needs, when no thread has taken it yet): it is one of the
		 * threads, and sleeping and waking cost more than a header */
		if (p->claimed < p->n && p->claimed < p->taken + POOL_WINDOW) {
			pool_read_next(p);
			continue;
		}
		p->want = p->done[hi % POOL_WINDOW] == hi + 1 ? i + 1 : hi + 1;
		pthread_cond_wait(&p->ready, &p->lock);
	}
	p->want = 0;
	pthread_mutex_unlock(&p->lock);
	return h;
}

void mp_hdrpool_end(struct mp_hdrpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->lock);
	for (int k = 0; k < p->nt; k++)
		pthread_join(p->t[k], NULL);
	for (size_t k = 0; k < POOL_WINDOW; k++)
		mp_hdrbuf_free(&p->slot[k]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->ready);
	pthread_cond_destroy(&p->room);
	free(p);
}

/* ---------------------------------------------------------------- mbox splitting */

int mp_store_from_line(const char *s, size_t n, int bol)
{
	return bol && n >= 5 && memcmp(s, "From ", 5) == 0;
}

int mp_store_blank_line(const char *s, size_t n, int bol)
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
	while (m->count == 0 && mp_store_blank_line(m->cur, m->curlen, m->curbol))
		if ((r = split_read(m, e)) <= 0)
			return r;
	if (!mp_store_from_line(m->cur, m->curlen, m->curbol)) {
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

/* the value of a Content-Length line, -1 if it is no number */
static long long parse_clen(const char *s, size_t n)
{
	long long v = 0;
	size_t i = 0;

	mp_hdr_field_name(s, n, &i);
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
			if (mp_store_from_line(s, n, b))
				return 0; /* the blank line was the mbox's */
		blank:
			*seg = m->blank; /* the message's own; s comes next */
			*len = m->blanklen;
			*bol = 1;
			return 1;
		}
		if (mp_store_from_line(s, n, b))
			return 0; /* stays in cur for mp_mboxsplit_begin */
		m->have = 0;
		if (m->in_header && !mp_store_blank_line(s, n, b)) {
			if (b && mp_hdr_field_name_is(s, n, "Content-Length"))
				m->clen = parse_clen(s, n);
			goto out;
		}
		if (mp_store_blank_line(s, n, b)) {
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
