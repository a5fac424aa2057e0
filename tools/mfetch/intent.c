/* intent: before a batch is linked into the Maildir, the state records
 * what it is about to become: each message's UID and the name it will
 * have; before a message is appended to an mbox, its UID and where the
 * append starts, its size and its SHA-256. A run killed after that and
 * before the batch's own record leaves the intent pending; the next run
 * looks in the Maildir for each name (or in the mbox at that offset),
 * records the UIDs whose message is there as delivered, and fetches the
 * rest again. So no kill, at any instant, delivers a message twice or
 * loses one. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "intent.h"
#include "store.h"

static void put_enc(struct mp_buf *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '%' || c == 0x7f)
			mp_buf_printf(out, "%%%02X", c);
		else
			mp_buf_putc(out, c);
	}
}

/* %XX undone in place */
static void decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		unsigned x;
		if (*s == '%' && sscanf(s + 1, "%2x", &x) == 1 && x) {
			*w++ = (char)x;
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

void intent_format(struct mp_buf *out, const char *maildir, const char *pre,
                   const char *const *uids, const char *const *names, size_t n)
{
	mp_buf_reset(out);
	put_enc(out, maildir);
	mp_buf_printf(out, "\t%s\t", pre && *pre ? pre : "-");
	for (size_t i = 0; i < n; i++) {
		mp_buf_printf(out, "%s%s ", i ? " " : "", uids[i]);
		put_enc(out, names[i]);
	}
}

struct item {
	char *uid, *name; /* name: "new/BASE,S=SIZE" */
	char base[320];   /* the unique part */
	int found;
};

/* the unique part of a final name: after the directory, before ",S=" */
static void base_of(const char *name, char *base, size_t n)
{
	const char *slash = strchr(name, '/'), *b = slash ? slash + 1 : name;

	snprintf(base, n, "%.*s", (int)strcspn(b, ",:"), b);
}

/* the messages not found by name: moved into cur/ (NAME, then ",..." or
 * ":2,FLAGS") by a reader meanwhile? One look through cur/. */
static void look_in_cur(const char *md, struct item *it, size_t n)
{
	char p[4200];
	struct dirent *de;
	DIR *d;

	snprintf(p, sizeof p, "%s/cur", md);
	if (!(d = opendir(p)))
		return;
	while ((de = readdir(d)))
		for (size_t i = 0; i < n; i++) {
			size_t bl = strlen(it[i].base);
			if (!it[i].found && bl && strncmp(de->d_name, it[i].base, bl) == 0 &&
			    (de->d_name[bl] == ',' || de->d_name[bl] == ':'))
				it[i].found = 1;
		}
	closedir(d);
}

/* an mbox append's name "@OFFSET,SIZE,SHA256": 1 when the mbox md holds
 * it, whole, 0 when not, -1 with e filled */
static int mbox_holds(const char *md, const char *name, struct mp_err *e)
{
	struct mp_mbox_append a;

	if (sscanf(name, "@%lld,%lld,%64[0-9a-f]", &a.offset, &a.size, a.sha256) != 3 ||
	    strlen(a.sha256) != 64)
		return mp_err_set(e, EX_TEMPFAIL, "the state: an intent not understood");
	return mp_store_mbox_holds(md, &a, 30, e);
}

int intent_pre(const char *text, struct mp_buf *pre, struct mp_err *e)
{
	const char *a = strchr(text, '\t'), *b = a ? strchr(a + 1, '\t') : NULL;

	mp_buf_reset(pre);
	if (!b)
		return mp_err_set(e, EX_TEMPFAIL, "the state: an intent not understood");
	mp_buf_append(pre, a + 1, (size_t)(b - a - 1));
	return 0;
}

int intent_settle(const char *text, void (*cb)(void *ctx, const char *uid, int delivered),
                  void *ctx, struct mp_err *e)
{
	char *t = mp_xstrdup(text), *md = t, *pr, *list, *save = NULL, p[4200];
	struct item *it = NULL;
	size_t n = 0, cap = 0, missing = 0;
	struct stat st;

	pr = strchr(md, '\t');
	list = pr ? strchr(pr + 1, '\t') : NULL;
	if (!list) {
		free(t);
		return mp_err_set(e, EX_TEMPFAIL, "the state: an intent not understood");
	}
	*pr++ = '\0';
	*list++ = '\0';
	decode(md);
	for (char *u = strtok_r(list, " ", &save); u; u = strtok_r(NULL, " ", &save)) {
		char *name = strtok_r(NULL, " ", &save);
		if (!name)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			it = mp_xrealloc(it, cap * sizeof *it);
		}
		decode(name);
		it[n] = (struct item){.uid = u, .name = name};
		if (name[0] == '@') { /* an mbox append (intent.h) */
			int held = mbox_holds(md, name, e);
			if (held < 0) {
				free(it);
				free(t);
				return -1;
			}
			it[n].found = held;
			it[n].base[0] = '\0'; /* nothing in a tmp/ */
			n++;
			continue;
		}
		base_of(name, it[n].base, sizeof it[n].base);
		snprintf(p, sizeof p, "%s/%s", md, name);
		if (lstat(p, &st) == 0)
			it[n].found = 1;
		snprintf(p, sizeof p, "%s/tmp/%s", md, it[n].base);
		if (!it[n].found && lstat(p, &st) == 0 && st.st_nlink > 1)
			it[n].found = 1; /* linked, moved or renamed since */
		missing += !it[n].found;
		n++;
	}
	if (missing)
		look_in_cur(md, it, n);
	for (size_t i = 0; i < n; i++) {
		/* linked ones and those never linked alike: tmp/ is done with */
		snprintf(p, sizeof p, "%s/tmp/%s", md, it[i].base);
		if (it[i].base[0])
			unlink(p);
		cb(ctx, it[i].uid, it[i].found);
	}
	free(it);
	free(t);
	return 0;
}
