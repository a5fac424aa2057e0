/* scan: mparse --scan, one line per message of Maildirs, mboxes and
 * files: number, flags, date, sender, size, subject; sorted; cut to the
 * terminal's width on one; -j the same as JSON Lines. The header of each
 * message is read by the MIME walker (header only), the mbox split by
 * the store's splitter (through pick.c). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "addr.h"
#include "hdr.h"
#include "json.h"
#include "pick.h"
#include "run.h"
#include "scan.h"

/* what a line (or a JSON line) needs of a message, and no more: 10,000
 * of them are a few MiB */
struct row {
	const char *file; /* the message file, the mbox, or "stdin": its folder's */
	char *text;       /* "FROM\0ADDRESS\0SUBJECT\0", those that has says */
	char *tail;       /* its line from the flags on, when made by a reader */
	char *warn;       /* the warnings of a reader about it, written in order */
	long long off;    /* mbox: its From_ line; -1 */
	long long size;
	long num;
	unsigned order; /* as read */
	unsigned isnew : 1, seen : 1, replied : 1, flagged : 1, trashed : 1, dated : 1;
	unsigned has : 3; /* HAS_FROM, HAS_ADDR, HAS_SUBJECT */
	struct mp_date date;
};

#define HAS_FROM    1u
#define HAS_ADDR    2u
#define HAS_SUBJECT 4u

/* the row's sender, address or subject; NULL when it has none */
static const char *text_of(const struct row *r, unsigned which)
{
	const char *t = r->text;

	if (!(r->has & which))
		return NULL;
	for (unsigned k = 1; k < which; k <<= 1)
		if (r->has & k)
			t += strlen(t) + 1;
	return t;
}

struct scan {
	struct row *v;
	size_t n, cap;
	struct mp_folder *folders; /* kept: the rows' file names are theirs */
	size_t nfolders;
};

/* the room a thread makes lines in */
struct scratch {
	struct mp_buf e, t;
};

static void tail(const struct row *r, struct mp_buf *b, struct scratch *sc);

static void set_flags(struct row *r, const struct mp_msgref *m, const struct mp_header *h)
{
	if (m->off < 0 && m->info[0] && !m->isnew) {
		/* Maildir info: 2,FLAGS */
		r->seen = strchr(m->info, 'S') != NULL;
		r->replied = strchr(m->info, 'R') != NULL;
		r->flagged = strchr(m->info, 'F') != NULL;
		r->trashed = strchr(m->info, 'T') != NULL;
		return;
	}
	if (m->isnew) {
		r->isnew = 1;
		return;
	}
	if (strchr(m->path, '/') && strstr(m->path, "/cur/"))
		return; /* a Maildir message without info */
	/* an mbox's (or a file's) Status: R read, O old (an mbox message
	 * without it is new); X-Status: A answered, F flagged, D deleted */
	const char *st = mp_field_get(h, "Status"), *xs = mp_field_get(h, "X-Status");
	r->isnew = m->off >= 0 ? !st || !strchr(st, 'O') : st && !strchr(st, 'O');
	r->seen = st && strchr(st, 'R');
	r->replied = xs && strchr(xs, 'A');
	r->flagged = xs && strchr(xs, 'F');
	r->trashed = xs && strchr(xs, 'D');
}

struct hctx {
	struct row *r;
	const struct mp_msgref *m;
};

static int on_header(struct mp_walker *w, struct mp_header *h)
{
	struct hctx *c = w->ctx;
	struct row *r = c->r;
	const char *v;
	struct mp_buf d = MP_BUF_INIT, t = MP_BUF_INIT;

	set_flags(r, c->m, h);
	if ((v = mp_field_get(h, "Date")) && mp_date_parse(v, &r->date) == 0)
		r->dated = 1;
	if ((v = mp_field_get(h, "From"))) {
		struct mp_addrlist l;
		mp_addr_parse(v, &l);
		if (l.n) {
			char ad[1024];
			mp_addr_display(l.v[0].addr, ad, sizeof ad);
			mp_buf_puts(&t, l.v[0].name[0] ? l.v[0].name : ad);
			mp_buf_putc(&t, '\0');
			mp_buf_puts(&t, ad);
			mp_buf_putc(&t, '\0');
			r->has |= HAS_FROM | HAS_ADDR;
		}
		mp_addr_free(&l);
	}
	if ((v = mp_field_get(h, "Subject"))) {
		mp_hdr_decode_words(v, strlen(v), MP_HDR_IGNORE, &d, NULL);
		mp_buf_puts(&t, d.data ? d.data : "");
		mp_buf_putc(&t, '\0');
		r->has |= HAS_SUBJECT;
	}
	free(r->text);
	r->text = t.len ? mp_xmalloc(t.len) : NULL;
	if (t.len)
		memcpy(r->text, t.data, t.len);
	mp_buf_free(&t);
	mp_buf_free(&d);
	return 0;
}

/* a row for the message, its facts to be read */
static struct row *add_row(struct scan *s, const struct mp_msgref *m)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = mp_xrealloc(s->v, s->cap * sizeof *s->v);
	}
	struct row *r = &s->v[s->n++];
	memset(r, 0, sizeof *r);
	r->file = m->path;
	r->off = m->off;
	r->num = m->num;
	r->order = (unsigned)s->n;
	r->size = m->size;
	return r;
}

/* the header of the message into its row */
static int fill(struct row *r, const struct mp_msgref *m, const struct mp_msgsrc *src)
{
	/* what on_header and set_flags look at: the walk keeps no other field */
	static const char *const want[] = {"Date", "From", "Subject", "Status", "X-Status"};
	struct hctx c = {r, m};
	struct mp_walker w = {.on_header = on_header, .ctx = &c, .header_only = 1};
	struct mp_err e;

	w.fields = want;
	w.nfields = (int)(sizeof want / sizeof want[0]);

	r->size = m->size;
	w.name = m->path;
	mp_err_clear(&e);
	if (mp_mime_walk(&w, src, &e) < 0) {
		mp_warn("%s: %s", m->path, e.msg[0] ? e.msg : "read error");
		return -1;
	}
	return 0;
}

/* an mbox, or a file, as it is read */
static int each(void *ctx, const struct mp_msgref *m, const struct mp_msgsrc *src)
{
	return fill(add_row(ctx, m), m, src);
}

static int fill_ref(void *ctx, const struct mp_msgref *m, const char *name,
                    const struct mp_msgsrc *src)
{
	(void)name;
	return fill(ctx, m, src);
}

/* the messages of a Maildir, or those picked, are read on a few threads:
 * each message is a file of its own (or a place in an mbox) */
struct job {
	const struct mp_folder *f;
	struct row *rows;
	atomic_size_t next;
	atomic_int bad;
};

/* a message file's header from memory, read in one go mostly (common/
 * msgsrc.c); an mbox's message, or a header too large for that, through
 * mp_msgref_read */
static int read_one(const struct mp_msgref *m, struct row *r, struct mp_hdrbuf *h)
{
	if (m->off < 0 && mp_hdrbuf_read(h, m->path, MP_HDR_MAX, MP_HDRBUF_SIZE) == 0 && h->whole) {
		struct mp_memsrc ms;
		struct mp_msgsrc src = mp_memsrc_cap(&ms, h->buf, h->len, 4096);
		struct mp_msgref mm = *m;
		if (h->size >= 0)
			mm.size = h->size;
		return fill(r, &mm, &src);
	}
	return mp_msgref_read(m, fill_ref, r);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct mp_hdrbuf h;
	struct scratch sc = {MP_BUF_INIT, MP_BUF_INIT};
	struct mp_buf b = MP_BUF_INIT;
	/* the warnings about a message are kept with its row, to be written
	 * in the order of the files once all are read */
	char *wbuf = NULL;
	size_t wlen = 0, wseen = 0;
	FILE *wf = open_memstream(&wbuf, &wlen);

	if (wf)
		mp_warn_to(wf);
	memset(&h, 0, sizeof h);
	for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->f->n;) {
		struct row *r = &j->rows[i];
		if (read_one(&j->f->v[i], r, &h) < 0)
			atomic_store(&j->bad, 1);
		if (wf && fflush(wf) == 0 && wlen > wseen) {
			r->warn = mp_xmalloc(wlen - wseen + 1);
			memcpy(r->warn, wbuf + wseen, wlen - wseen);
			r->warn[wlen - wseen] = '\0';
			wseen = wlen;
		}
		if (X.json)
			continue;
		/* its line, but for the number, made here: on this thread; and
		 * what only the sort still needs of the text */
		mp_buf_reset(&b);
		tail(r, &b, &sc);
		r->tail = mp_xstrdup(b.data ? b.data : "");
		if (!X.sort || !strcmp(X.sort, "date") || !strcmp(X.sort, "file")) {
			free(r->text);
			r->text = NULL;
			r->has = 0;
		}
	}
	if (wf) {
		mp_warn_to(NULL);
		fclose(wf);
	}
	free(wbuf);
	mp_hdrbuf_free(&h);
	mp_buf_free(&b);
	mp_buf_free(&sc.e);
	mp_buf_free(&sc.t);
	return NULL;
}

static int read_refs(struct scan *s, const struct mp_folder *f)
{
	size_t first = s->n;
	int nt = f->n < 64 ? 1 : X.threads < 1 ? 1 : X.threads > 8 ? 8 : X.threads;
	pthread_t t[8];
	int started = 0;

	if (s->n + f->n > s->cap) { /* room for them all at once: no slack */
		s->cap = s->n + f->n;
		s->v = mp_xrealloc(s->v, s->cap * sizeof *s->v);
	}
	for (size_t i = 0; i < f->n; i++)
		add_row(s, &f->v[i]);
	struct job j = {f, s->v + first, 0, 0};
	for (int k = 1; k < nt; k++)
		if (pthread_create(&t[started], NULL, worker, &j) == 0)
			started++;
	worker(&j);
	for (int k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	for (size_t i = first; i < s->n; i++)
		if (s->v[i].warn) {
			fputs(s->v[i].warn, stderr);
			free(s->v[i].warn);
			s->v[i].warn = NULL;
		}
	return atomic_load(&j.bad) ? -1 : 0;
}

/* ---------------------------------------------------------------- order */

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c = 0;

	if (!X.sort || strcmp(X.sort, "date") == 0) {
		time_t tx = x->dated ? x->date.t : 0, ty = y->dated ? y->date.t : 0;
		c = (tx > ty) - (tx < ty);
	} else if (strcmp(X.sort, "from") == 0) {
		const char *fx = text_of(x, HAS_FROM), *fy = text_of(y, HAS_FROM);
		c = strcasecmp(fx ? fx : "", fy ? fy : "");
	} else if (strcmp(X.sort, "subject") == 0) {
		const char *sx = text_of(x, HAS_SUBJECT), *sy = text_of(y, HAS_SUBJECT);
		c = strcasecmp(sx ? sx : "", sy ? sy : "");
	}
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* ---------------------------------------------------------------- output */

/* the columns of escaped (printable) UTF-8 text */
static size_t cols(const char *s, size_t n, size_t max, size_t *bytes)
{
	mbstate_t ps;
	size_t w = 0, i = 0;

	memset(&ps, 0, sizeof ps);
	while (i < n) {
		wchar_t wc;
		size_t k;
		int cw = 1;
		if (s[i] >= 0x20 && s[i] < 0x7f) { /* printable ASCII: one column */
			if (w + 1 > max)
				break;
			w++;
			i++;
			continue;
		}
		k = mbrtowc(&wc, s + i, n - i, &ps);
		if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
			k = 1;
			memset(&ps, 0, sizeof ps);
		} else {
			cw = wcwidth(wc);
			if (cw < 0)
				cw = 1;
		}
		if (w + (size_t)cw > max)
			break;
		w += (size_t)cw;
		i += k;
	}
	*bytes = i;
	return w;
}

/* s escaped, in width columns: cut, and padded when pad */
static void column(struct mp_buf *b, const char *s, size_t width, int pad, struct scratch *sc)
{
	struct mp_buf *e = &sc->e, *t = &sc->t;
	size_t bytes, n = strlen(s);

	/* blanks and line ends of a header are one space in a line */
	mp_buf_reset(e);
	mp_buf_append(e, s, n);
	for (size_t i = 0; i < n; i++)
		if (e->data[i] == '\t' || e->data[i] == '\n' || e->data[i] == '\r')
			e->data[i] = ' ';
	mp_buf_reset(t);
	mp_term_escape(e->data ? e->data : "", e->len, t);
	size_t w = cols(t->data ? t->data : "", t->len, width, &bytes);
	mp_buf_append(b, t->data ? t->data : "", bytes);
	for (; pad && w < width; w++)
		mp_buf_putc(b, ' ');
}

static void human(long long n, char *out, size_t sz)
{
	if (n < 1000)
		snprintf(out, sz, "%lld", n);
	else if (n < 10 * 1024)
		snprintf(out, sz, "%.1fK", (double)n / 1024);
	else if (n < 1000 * 1024)
		snprintf(out, sz, "%lldK", (n + 512) / 1024);
	else if (n < 10LL * 1024 * 1024)
		snprintf(out, sz, "%.1fM", (double)n / (1024 * 1024));
	else
		snprintf(out, sz, "%lldM", (n + 512 * 1024) / (1024 * 1024));
}

static size_t term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	long v = c ? strtol(c, NULL, 10) : 0;
	return v > 0 && v < 10000 ? (size_t)v : 80;
}

/* a line from the flags on: the same whatever the number's width and the
 * line's, so that the readers make it as they read */
static void tail(const struct row *r, struct mp_buf *b, struct scratch *sc)
{
	char date[32] = "----------", size[32];
	struct tm tm;

	if (r->dated && localtime_r(&r->date.t, &tm))
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
	human(r->size, size, sizeof size);
	/* "%c%c%c%c%c %s  " and " %5s  ", put together without formatting:
	 * a printf was a tenth of --scan's instructions */
	char flags[6] = {r->isnew ? 'N' : '.',   r->seen ? 'S' : '.',    r->replied ? 'R' : '.',
	                 r->flagged ? 'F' : '.', r->trashed ? 'T' : '.', ' '};
	mp_buf_append(b, flags, sizeof flags);
	mp_buf_puts(b, date);
	mp_buf_puts(b, "  ");
	const char *from = text_of(r, HAS_FROM), *subject = text_of(r, HAS_SUBJECT);
	column(b, from ? from : "", 20, 1, sc);
	mp_buf_putc(b, ' ');
	for (size_t k = strlen(size); k < 5; k++)
		mp_buf_putc(b, ' ');
	mp_buf_puts(b, size);
	mp_buf_puts(b, "  ");
	column(b, subject ? subject : "", (size_t)-1 / 2, 0, sc);
}

static void line(const struct row *r, int numw, size_t width, struct mp_buf *b, struct scratch *sc)
{
	mp_buf_reset(b);
	mp_buf_printf(b, "%*ld ", numw, r->num);
	if (r->tail)
		mp_buf_puts(b, r->tail);
	else
		tail(r, b, sc);
	if (width) {
		size_t bytes;
		cols(b->data, b->len, width, &bytes);
		while (bytes && b->data[bytes - 1] == ' ')
			bytes--;
		b->len = bytes;
	}
	mp_buf_putc(b, '\n');
}

static void json(struct mp_json *j, const struct row *r)
{
	char date[64];

	mp_json_begin_object(j, NULL);
	mp_json_int(j, "n", r->num);
	mp_json_string(j, "file", r->file);
	if (r->off >= 0)
		mp_json_int(j, "offset", r->off);
	else
		mp_json_string(j, "offset", NULL);
	mp_json_bool(j, "new", r->isnew);
	mp_json_bool(j, "seen", r->seen);
	mp_json_bool(j, "replied", r->replied);
	mp_json_bool(j, "flagged", r->flagged);
	mp_json_bool(j, "trashed", r->trashed);
	if (r->dated)
		mp_date_format(&r->date, MP_DATE_ISO, date, sizeof date);
	mp_json_string(j, "date", r->dated ? date : NULL);
	mp_json_string(j, "from", text_of(r, HAS_FROM));
	mp_json_string(j, "address", text_of(r, HAS_ADDR));
	mp_json_string(j, "subject", text_of(r, HAS_SUBJECT));
	mp_json_int(j, "size", r->size);
	mp_json_end_object(j);
	mp_json_finish(j);
}

long mp_width_arg(const char *s)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		mp_die(EX_USAGE, "--width: '%s' is no number of columns (0: never cut)", s);
	long v = strtol(s, NULL, 10);
	return v ? v : -1;
}

int mp_scan_main(char **args, int nargs)
{
	struct scan s;
	int bad = 0;
	char *stdin_arg[] = {"-"};

	memset(&s, 0, sizeof s);
	setlocale(LC_CTYPE, "");
	if (!nargs) {
		args = stdin_arg;
		nargs = 1;
	}
	for (int i = 0; i < nargs; i++) {
		struct mp_folder f;
		size_t first = s.n;
		struct stat st;
		if (mp_pick(args[i], &f)) {
			if (read_refs(&s, &f) < 0)
				bad = 1;
		} else if (strcmp(args[i], "-") && stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (mp_folder_read(args[i], &f, NULL, NULL) < 0)
				bad = 1;
			else if (read_refs(&s, &f) < 0)
				bad = 1;
		} else if (mp_folder_read(args[i], &f, each, &s) < 0) {
			bad = 1; /* the rows read before the error stay, and name f's */
		} else if (f.mbox) {
			/* an mbox message's size is known once it was read through */
			for (size_t k = 0; k < f.n && first + k < s.n; k++)
				s.v[first + k].size = f.v[k].size;
		}
		/* kept: the rows' file names are its messages' */
		s.folders = mp_xrealloc(s.folders, (s.nfolders + 1) * sizeof *s.folders);
		s.folders[s.nfolders++] = f;
	}
	if (s.n > 1 && (!X.sort || strcmp(X.sort, "file") != 0))
		qsort(s.v, s.n, sizeof *s.v, cmp_row);
	if (X.reverse)
		for (size_t i = 0; i < s.n / 2; i++) {
			struct row t = s.v[i];
			s.v[i] = s.v[s.n - 1 - i];
			s.v[s.n - 1 - i] = t;
		}
	long maxnum = 1;
	for (size_t i = 0; i < s.n; i++)
		if (s.v[i].num > maxnum)
			maxnum = s.v[i].num;
	int numw = snprintf(NULL, 0, "%ld", maxnum);
	size_t width = X.width > 0             ? (size_t)X.width
	               : X.width < 0           ? 0
	               : isatty(STDOUT_FILENO) ? term_width()
	                                       : 0;
	struct mp_json j;
	struct mp_buf b = MP_BUF_INIT;
	struct scratch sc = {MP_BUF_INIT, MP_BUF_INIT};
	mp_json_init(&j, stdout, 0);
	for (size_t i = 0; i < s.n; i++) {
		if (X.json)
			json(&j, &s.v[i]);
		else {
			line(&s.v[i], numw, width, &b, &sc);
			fwrite(b.data, 1, b.len, stdout);
		}
		free(s.v[i].text);
		free(s.v[i].tail);
	}
	free(s.v);
	mp_buf_free(&sc.e);
	mp_buf_free(&sc.t);
	for (size_t i = 0; i < s.nfolders; i++)
		mp_folder_free(&s.folders[i]);
	free(s.folders);
	mp_buf_free(&b);
	if (fflush(stdout) == EOF)
		mp_die(EX_IOERR, "stdout: %s", strerror(errno));
	return bad ? EX_NOINPUT : 0;
}
