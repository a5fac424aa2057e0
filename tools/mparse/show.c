/* show: mparse --show, one readable view of a message: the chosen
 * header fields decoded, a blank line, the text (text/plain, else the
 * HTML made text by common/html.c or by the user's --html-filter), then
 * the other parts by number, for -p and -x. Everything from the mail
 * goes out through mp_term_write. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hdr.h"
#include "html.h"
#include "pick.h"
#include "run.h"
#include "show.h"

struct show {
	struct mp_buf out;     /* the view, escaped at the end */
	struct mp_buf text[2]; /* the first text/plain and text/html bodies */
	char num[2][256], charset[2][64];
	int have[2], cur;    /* cur: 1 text, 2 HTML, 0 neither */
	struct mp_buf parts; /* the other parts: "num\tline\n" */
};

static const char *const defaults[] = {"From", "To", "Cc", "Date", "Subject"};

static int on_header(struct mp_walker *w, struct mp_header *h)
{
	struct show *s = w->ctx;
	const char *const *want = X.nfields ? X.fields : defaults;
	int n = X.nfields ? X.nfields : 5;
	struct mp_buf d = MP_BUF_INIT;

	for (int k = 0; k < n; k++)
		for (size_t i = 0; i < h->n; i++)
			if (strcasecmp(h->f[i].name, want[k]) == 0) {
				mp_field_value(w->name, &h->f[i], &d);
				mp_buf_printf(&s->out, "%s: %s\n", h->f[i].name,
				              d.data ? d.data : "");
			}
	mp_buf_free(&d);
	return 0;
}

static int on_part(struct mp_walker *w, struct mp_part *p)
{
	struct show *s = w->ctx;

	s->cur = 0;
	if (p->container || strcmp(p->disposition, "attachment") == 0)
		return 0;
	int k = strcmp(p->type, "text/plain") == 0 ? 0 : strcmp(p->type, "text/html") == 0 ? 1 : -1;
	if (k >= 0 && !s->have[k]) {
		s->have[k] = 1;
		s->cur = k + 1;
		snprintf(s->num[k], sizeof s->num[k], "%s", p->num);
		snprintf(s->charset[k], sizeof s->charset[k], "%s", p->charset);
	}
	return 0;
}

static int on_data(struct mp_walker *w, struct mp_part *p, const char *d, size_t n)
{
	struct show *s = w->ctx;

	(void)p;
	if (s->cur && mp_buf_append(&s->text[s->cur - 1], d, n) < 0)
		mp_die(EX_TEMPFAIL, "out of memory");
	return 0;
}

static int on_end(struct mp_walker *w, struct mp_part *p)
{
	struct show *s = w->ctx;

	s->cur = 0;
	if (p->container)
		return 0;
	mp_buf_printf(&s->parts, "%s\t%-8s %s  %lld bytes", p->num, p->num[0] ? p->num : ".",
	              p->type, p->decsize);
	if (p->filename[0])
		mp_buf_printf(&s->parts, "  \"%s\"", p->filename);
	mp_buf_putc(&s->parts, '\n');
	return 0;
}

/* the body in UTF-8 */
static void to_utf8(const char *name, const struct mp_buf *b, const char *charset, struct mp_buf *u)
{
	struct mp_err e;

	mp_err_clear(&e);
	if (mp_charset_to_utf8(charset[0] ? charset : "us-ascii", b->data ? b->data : "", b->len,
	                       MP_HDR_IGNORE, u, &e) < 0) {
		mp_warn("%s: unknown charset \"%s\": the text is read as UTF-8", name, charset);
		mp_buf_reset(u);
		mp_utf8_repair(b->data ? b->data : "", b->len, u);
	}
}

/* what the filter's environment keeps: no password, token or the like */
static char **filter_env(void)
{
	static const char *const keep[] = {"PATH",        "HOME", "LANG",    "LC_ALL", "LC_CTYPE",
	                                   "LC_MESSAGES", "TERM", "COLUMNS", "TZ",     "TMPDIR"};
	static char *env[sizeof keep / sizeof keep[0] + 2];
	size_t n = 0;

	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		const char *v = getenv(keep[i]);
		if (!v)
			continue;
		struct mp_buf b = MP_BUF_INIT;
		mp_buf_printf(&b, "%s=%s", keep[i], v);
		env[n++] = b.data;
	}
	if (!getenv("PATH"))
		env[n++] = mp_xstrdup("PATH=/usr/bin:/bin");
	env[n] = NULL;
	return env;
}

/* --html-filter: CMD (sh -c) reads the HTML on its standard input; what
 * it prints is the text. 0, or -1 when it could not run or failed. */
static int html_filter(const char *name, const struct mp_buf *html, struct mp_buf *text)
{
	FILE *in = tmpfile();
	int fds[2];

	if (!in || (html->len && fwrite(html->data, 1, html->len, in) != html->len) ||
	    fflush(in) == EOF || fseek(in, 0, SEEK_SET) < 0)
		mp_die(EX_CANTCREAT, "a temporary file for --html-filter: %s", strerror(errno));
	if (pipe(fds) < 0)
		mp_die(EX_OSERR, "pipe: %s", strerror(errno));
	char **env = filter_env();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		mp_die(EX_OSERR, "fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = {"sh", "-c", (char *)X.html_filter, NULL};
		if (dup2(fileno(in), 0) < 0 || dup2(fds[1], 1) < 0)
			_exit(126);
		close(fds[0]);
		close(fds[1]);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	for (char **e = env; *e; e++)
		free(*e);
	close(fds[1]);
	fclose(in);
	char buf[65536];
	ssize_t got;
	while ((got = read(fds[0], buf, sizeof buf)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (mp_buf_append(text, buf, (size_t)got) < 0)
			mp_die(EX_TEMPFAIL, "out of memory");
	}
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			mp_die(EX_OSERR, "waitpid: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		mp_warn("%s: --html-filter \"%s\" exited with %d", name, X.html_filter,
		        WEXITSTATUS(st));
	else
		mp_warn("%s: --html-filter \"%s\" was killed by signal %d", name, X.html_filter,
		        WTERMSIG(st));
	return -1;
}

int mp_show_one(const char *name, const struct mp_msgsrc *src)
{
	static long shown;
	struct show s;
	struct mp_walker w = {.on_header = on_header,
	                      .on_part = on_part,
	                      .on_data = on_data,
	                      .on_end = on_end,
	                      .ctx = &s,
	                      .decode = 1,
	                      .name = name};
	struct mp_err e;
	int rc = 0;

	memset(&s, 0, sizeof s);
	mp_err_clear(&e);
	if (mp_mime_walk(&w, src, &e) < 0) {
		mp_warn("%s: %s", name, e.msg[0] ? e.msg : "read error");
		rc = -1;
	}
	if (shown++)
		putchar('\n');
	mp_buf_putc(&s.out, '\n');
	int k = s.have[0] ? 0 : s.have[1] ? 1 : -1;
	if (k >= 0) {
		struct mp_buf u = MP_BUF_INIT, t = MP_BUF_INIT;
		to_utf8(name, &s.text[k], s.charset[k], &u);
		if (k == 0)
			mp_buf_append(&t, u.data ? u.data : "", u.len);
		else if (X.html_filter)
			html_filter(name, &u, &t); /* a failure is told; what it printed stays */
		else if (mp_html_text(u.data ? u.data : "", u.len, &t) < 0)
			mp_die(EX_TEMPFAIL, "out of memory");
		mp_buf_append(&s.out, t.data ? t.data : "", t.len);
		if (t.len && t.data[t.len - 1] != '\n')
			mp_buf_putc(&s.out, '\n');
		mp_buf_free(&u);
		mp_buf_free(&t);
	}
	/* the other parts, for -p N and -x */
	int head = 0;
	for (char *l = s.parts.data; l && *l;) {
		char *tab = strchr(l, '\t'), *nl = strchr(tab, '\n');
		*tab = '\0';
		if (k < 0 || strcmp(l, s.num[k]) != 0) {
			if (!head++)
				mp_buf_puts(&s.out, k >= 0 ? "\nparts:\n" : "parts:\n");
			mp_buf_append(&s.out, tab + 1, (size_t)(nl + 1 - (tab + 1)));
		}
		l = nl + 1;
	}
	if (mp_term_write(stdout, s.out.data ? s.out.data : "", s.out.len) < 0)
		mp_die(EX_IOERR, "write: %s", strerror(errno));
	mp_buf_free(&s.out);
	mp_buf_free(&s.text[0]);
	mp_buf_free(&s.text[1]);
	mp_buf_free(&s.parts);
	return rc;
}
