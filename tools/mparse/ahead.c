/* ahead: a header mode's messages done by the threads that read them
 * ahead, kept as records and written out in the order of the files
 * (ahead.h) */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ahead.h"
#include "run.h"
#include "util.h"

/* What a reading thread keeps of a message: records of a kind ('o' bytes
 * for stdout, 'e' for stderr, 's' the summary's blank line, written when
 * a message came before, 'c' and 'p' a problem's code and line, 'r' the
 * walk's result), each a kind byte, a length and its bytes, in the order
 * they were written; an empty buffer: nothing kept, the message is read
 * again by the main thread */
struct ahead_cap {
	struct mp_buf *b;
	char kind;
	int *broken;  /* a record could not be kept */
	FILE *before; /* flushed first: stdout's bytes before a warning */
};
static _Thread_local struct ahead_cap *cap_now;
_Thread_local FILE *mp_ahead_out;

static void cap_add(const struct ahead_cap *c, char kind, const void *p, size_t n)
{
	if (mp_buf_putc(c->b, kind) < 0 || mp_buf_append(c->b, &n, sizeof n) < 0 ||
	    (n && mp_buf_append(c->b, p, n) < 0))
		*c->broken = 1;
}

static ssize_t cap_write(void *cookie, const char *p, size_t n)
{
	const struct ahead_cap *c = cookie;
	if (!c->b) /* between messages: never, as each ends flushed */
		return -1;
	if (c->before)
		fflush(c->before);
	cap_add(c, c->kind, p, n);
	return (ssize_t)n;
}

void mp_ahead_mark(char kind)
{
	fflush(mp_ahead_out);
	cap_add(cap_now, kind, NULL, 0);
}

/* read from memory as fd_input reads a file of one message in a header
 * mode */
int mp_ahead_whole(const struct mp_hdrbuf *h)
{
	return h && h->whole && h->len && !(h->len >= 5 && memcmp(h->buf, "From ", 5) == 0);
}

/* a reading thread's two streams into the records of the message it is
 * on, made once a thread (two fopencookie and fclose a message cost a
 * tenth of the work) and closed when the thread ends */
struct ahead_files {
	FILE *o, *er;
	struct ahead_cap co, ce;
	int broken;
	char obuf[4096];
};
static pthread_key_t ahead_key;
static pthread_once_t ahead_once = PTHREAD_ONCE_INIT;
static _Thread_local struct ahead_files *ahead_mine;

static void ahead_files_free(void *p)
{
	struct ahead_files *a = p;
	fclose(a->o);
	fclose(a->er);
	free(a);
}

static void ahead_key_make(void)
{
	if (pthread_key_create(&ahead_key, ahead_files_free) != 0)
		ahead_key = (pthread_key_t)-1;
}

static struct ahead_files *ahead_files(void)
{
	static const cookie_io_functions_t io = {.write = cap_write};
	struct ahead_files *a = ahead_mine;

	if (a)
		return a;
	pthread_once(&ahead_once, ahead_key_make);
	if (ahead_key == (pthread_key_t)-1 || !(a = calloc(1, sizeof *a)))
		return NULL;
	a->o = fopencookie(&a->co, "w", io);
	a->er = a->o ? fopencookie(&a->ce, "w", io) : NULL;
	if (!a->o || !a->er) {
		if (a->o)
			fclose(a->o);
		free(a);
		return NULL;
	}
	/* the records come in the order of the writes: stdout's bytes are
	 * kept in obuf until a warning comes, or the end */
	setvbuf(a->o, a->obuf, _IOFBF, sizeof a->obuf);
	setvbuf(a->er, NULL, _IONBF, 0);
	if (pthread_setspecific(ahead_key, a) != 0) {
		ahead_files_free(a);
		return NULL;
	}
	return ahead_mine = a;
}

/* in a reading thread: what one() does with a message in a header mode,
 * its output kept in h->out (ahead_cap) */
void mp_ahead_work(void *ctx, size_t i, struct mp_hdrbuf *h)
{
	const struct mp_ahead *ah = ctx;
	const struct mp_folder *f = ah->f;
	struct mp_walker w = ah->walk;
	w.header_only = 1;
	w.name = f->v[i].path;
	struct mp_memsrc m;
	struct mp_err e;

	mp_buf_reset(&h->out);
	if (!mp_ahead_whole(h))
		return;
	struct ahead_files *a = ahead_files();
	if (!a)
		return; /* the main thread reads it */
	a->broken = 0;
	a->co = (struct ahead_cap){&h->out, 'o', &a->broken, NULL};
	a->ce = (struct ahead_cap){&h->out, 'e', &a->broken, a->o};
	clearerr(a->o);
	clearerr(a->er);
	mp_ahead_out = a->o;
	cap_now = &a->co;
	mp_warn_to(a->er);
	struct mp_msgsrc src = mp_memsrc_cap(&m, h->buf, h->len, 8 * 1024);
	mp_err_clear(&e);
	int rc = mp_mime_walk(&w, &src, &e);
	mp_ahead_out = NULL;
	cap_now = NULL;
	mp_warn_to(NULL);
	fflush(a->o);
	if (rc < 0) {
		char line[1024];
		int code = e.code ? e.code : EX_DATAERR;
		snprintf(line, sizeof line, "%s: %s", f->v[i].path,
		         e.msg[0] ? e.msg : "read error");
		cap_add(&a->co, 'c', &code, sizeof code);
		cap_add(&a->co, 'p', line, strlen(line) + 1);
	}
	cap_add(&a->co, 'r', &rc, sizeof rc);
	/* nothing of it stays with the streams for the next message */
	a->co.b = a->ce.b = NULL;
	if (a->broken)
		mp_buf_reset(&h->out);
}

int mp_ahead_replay(const struct mp_hdrbuf *h, long *messages, int *ok)
{
	const char *p = h->out.data, *end = p + h->out.len;
	int code = 0;

	if (!h->out.len)
		return 0;
	++*messages;
	while (p < end) {
		char kind = *p++;
		size_t n;
		memcpy(&n, p, sizeof n);
		p += sizeof n;
		if (kind == 'o')
			fwrite(p, 1, n, stdout);
		else if (kind == 'e')
			fwrite(p, 1, n, stderr);
		else if (kind == 's' && *messages > 1)
			putchar('\n');
		else if (kind == 'c')
			memcpy(&code, p, sizeof code);
		else if (kind == 'p')
			mp_problem(code, 0, "%s", p);
		else if (kind == 'r') {
			int rc;
			memcpy(&rc, p, sizeof rc);
			*ok |= rc == 0;
		}
		p += n;
	}
	return 1;
}
