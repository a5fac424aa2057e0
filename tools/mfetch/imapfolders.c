/* mfetch: the folders of an IMAP run (RFC 3501 6.3.8): each --folder,
 * INBOX without one, a pattern's matches asked for with LIST and their
 * hierarchy delimiter, and the names --list-folders prints. Fetching
 * them is imap.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "imapfolders.h"
#include "imapio.h"
#include "json.h"

/* the folders a run selects, each once, in the order found */
struct fsels {
	const struct fopts *o;
	struct fsel *v;
	size_t n, cap;
	int listing;  /* --list-folders: the folder of --move too */
	size_t found; /* matches of the LIST in hand */
};

static void fsels_add(struct fsels *fs, const char *name, char delim)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].name, name) == 0)
			return;
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->v = mp_xrealloc(fs->v, fs->cap * sizeof *fs->v);
	}
	fs->v[fs->n++] = (struct fsel){mp_xstrdup(name), delim};
}

void fsels_free(struct fsel *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* "* LIST (flags) delim name": the name, quoted or not, whole; a folder
 * that cannot be selected is left out (unless listing), and so is the
 * folder of --move */
static int on_list(struct imap *s, char *l, size_t len, void *ctx, struct mp_err *e)
{
	char delim[16], name[1024];
	struct fsels *fs = ctx;
	const char *p, *fl;

	(void)s, (void)len, (void)e;
	if (strncasecmp(l, "* LIST ", 7) != 0)
		return 0;
	fl = l + 7;
	p = strchr(fl, ')');
	if (*fl != '(' || !p)
		goto bad;
	p++;
	if (imap_string(&p, delim, sizeof delim) < 0 || imap_string(&p, name, sizeof name) < 0)
		goto bad;
	if (strcasecmp(delim, "NIL") == 0 || strlen(delim) != 1)
		delim[0] = 0;
	/* a hierarchy's node that holds no messages */
	char flags[512];
	snprintf(flags, sizeof flags, "%.*s", (int)(p - fl), fl);
	if (strcasestr(flags, "\\Noselect") || strcasestr(flags, "\\NonExistent"))
		return 0;
	if (!fs->listing && fs->o->move && strcmp(name, fs->o->move) == 0)
		return 0;
	fs->found++;
	fsels_add(fs, name, delim[0]);
	return 0;
bad:
	mp_warn("warning: a LIST line not understood: %.200s", l);
	return 0;
}

/* --list-folders: each name, decoded from modified UTF-7 for a person
 * (as the server sent it when it is no such thing), made safe for a
 * terminal; with --json as the server gives it, for --folder */
void print_folder(const struct fopts *o, const struct fsel *f)
{
	if (o->json) {
		char d[2] = {f->delim, 0};
		struct mp_json j;
		mp_json_init(&j, stdout, 0);
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "type", "folder");
		mp_json_string(&j, "name", f->name);
		mp_json_string(&j, "delimiter", f->delim ? d : NULL);
		mp_json_end_object(&j);
		mp_json_finish(&j);
		return;
	}
	struct mp_buf u = MP_BUF_INIT;
	if (mp_mutf7_decode(f->name, &u) < 0) {
		mp_buf_reset(&u);
		mp_buf_puts(&u, f->name);
	}
	mp_term_write(stdout, u.data ? u.data : "", u.len);
	putchar('\n');
	mp_buf_free(&u);
}

static int has_wildcard(const char *name)
{
	return strpbrk(name, "*%") != NULL;
}

/* The folders of the run into o->sel: each --folder, INBOX without one;
 * a pattern ('*', '%'), and any folder of a run with one, asked for with
 * LIST "" (RFC 3501 6.3.8) for the folders it selects and their
 * delimiter. 0, or -1 with e filled. */
int select_folders(struct imap *s, struct fopts *o, struct mp_err *e)
{
	struct fsels fs = {.o = o, .listing = o->list_folders};
	int n = o->nfolders;

	for (int i = 0; i < (n ? n : 1); i++) {
		const char *f = n ? o->folders[i] : o->list_folders ? "*" : "INBOX";
		char cmd[1100], q[1030];
		if (!o->per_folder && !o->list_folders) {
			fsels_add(&fs, f, 0); /* as given: SELECT says whether it is there */
			continue;
		}
		imap_quote(q, sizeof q, f);
		snprintf(cmd, sizeof cmd, "LIST \"\" %s", q);
		fs.found = 0;
		int r = imap_command(s, cmd, NULL, on_list, &fs, e);
		if (r != 0) {
			if (r > 0)
				mp_err_set(e, EX_UNAVAILABLE, "LIST %s: %.200s", f, s->last);
			fsels_free(fs.v, fs.n);
			return -1;
		}
		if (!fs.found && !has_wildcard(f) && !o->list_folders)
			fsels_add(&fs, f, 0); /* SELECT will say it is not there */
		else if (!fs.found && !o->quiet && !o->list_folders)
			mp_warn("--folder %s: no folder matches", f);
	}
	fsels_free(o->sel, o->nsel);
	o->sel = fs.v;
	o->nsel = fs.n;
	return 0;
}
