/* mfetch: what an IMAP folder's run records: the lists of UIDs, the
 * state line "UIDVALIDITY LAST [s=U,U,...]", the record of a batch once
 * it is durable, and the settling of a batch's intent that a killed run
 * left. The state file itself is state.c's; fetching is imap.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "imapstate.h"
#include "intent.h"
#include "state.h"

#define UIDS_MAX 10000000 /* UIDs one SEARCH may give: 80 MB at most */

int imap_uids_add(struct uids *u, unsigned long x, struct mp_err *e)
{
	if (u->n == u->cap) {
		if (u->n >= UIDS_MAX)
			return mp_err_set(e, EX_PROTOCOL, "more than %d UIDs in a folder",
			                  UIDS_MAX);
		u->cap = u->cap ? u->cap * 2 : 256;
		u->v = mp_xrealloc(u->v, u->cap * sizeof *u->v);
	}
	u->v[u->n++] = x;
	return 0;
}

int imap_cmp_ul(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

static int record(struct fopts *o, struct frun *f, struct mp_err *e)
{
	if (o->all)
		return 0;
	imap_state_format(f->val, f->uidvalidity, f->last, f->last, f->u->v, f->u->n);
	/* recorded already (a batch's commit came due before its end), and
	 * no intent to close */
	if (!o->intent_open && f->rec->data && strcmp(f->rec->data, f->val->data) == 0)
		return 0;
	if (state_save(o, f->key, f->val->data, e) < 0)
		return -1;
	o->intent_open = 0;
	f->rec_last = f->last;
	mp_buf_reset(f->rec);
	mp_buf_puts(f->rec, f->val->data);
	return 0;
}

/* What was delivered since the last record made durable, then recorded.
 * A Maildir batch's intent carries the state as recorded before it, with
 * the candidates below the batch's highest UID not delivered listed as
 * left: whatever part of the batch a settling finds in the Maildir, the
 * rest is left too (imap_settle()). */
int imap_commit_record(struct fopts *o, struct frun *f, struct mp_err *e)
{
	int rc;

	imap_state_format(f->val, f->uidvalidity, f->rec_last, f->last, f->u->v, f->u->n);
	o->jpre = f->val->data;
	rc = commit(o, e);
	o->jpre = NULL;
	return rc < 0 ? -1 : record(o, f, e);
}

/* The folder's state: "UIDVALIDITY LAST [s=U,U,...]": every UID up to
 * LAST was delivered except those listed (left for --max-size). */
#define MAX_LEFT 10000

void imap_state_format(struct mp_buf *out, unsigned long uv, unsigned long last,
                       unsigned long below, const unsigned long *left, size_t nleft)
{
	size_t k = 0;

	mp_buf_reset(out);
	mp_buf_printf(out, "%lu %lu", uv, last);
	for (size_t i = 0; i < nleft && k < MAX_LEFT; i++)
		if (left[i] && left[i] < below)
			mp_buf_printf(out, k++ ? ",%lu" : " s=%lu", left[i]);
}

/* the UIDs of " s=U,U,..." into u */
int imap_parse_left(const char *sl, struct uids *u, struct mp_err *e)
{
	for (const char *p = sl + 3; *p && *p != ' ';) {
		char *end;
		unsigned long x = strtoul(p, &end, 10);
		if (end == p)
			break;
		if (imap_uids_add(u, x, e) < 0)
			return -1;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

struct settling {
	unsigned long last;
	struct uids left;
	struct mp_err *e;
	int failed;
};

static void on_settled(void *ctx, const char *uid, int delivered)
{
	struct settling *z = ctx;
	unsigned long x = strtoul(uid, NULL, 10);

	if (!delivered) {
		if (imap_uids_add(&z->left, x, z->e) < 0)
			z->failed = 1;
		return;
	}
	if (x > z->last)
		z->last = x;
	for (size_t i = 0; i < z->left.n; i++)
		if (z->left.v[i] == x)
			z->left.v[i] = 0;
}

/* A batch's intent that a killed run left pending, settled: the state
 * before the batch (the intent's PRE), with the UIDs whose message is in
 * the Maildir delivered and the others left. The result is recorded and
 * becomes state. 0, or -1 with e filled. */
int imap_settle(const struct fopts *o, const char *key, const char *intent, struct mp_buf *state,
                struct mp_err *e)
{
	struct settling z = {.e = e};
	struct mp_buf pre = MP_BUF_INIT;
	unsigned long uv = 0;
	const char *sl;
	int rc = -1;

	if (intent_pre(intent, &pre, e) < 0)
		goto out;
	sl = strstr(pre.data, " s=");
	if (sscanf(pre.data, "%lu %lu", &uv, &z.last) != 2 ||
	    (sl && imap_parse_left(sl, &z.left, e) < 0)) {
		if (!e->code)
			mp_err_set(e, EX_TEMPFAIL, "the state: an intent not understood");
		goto out;
	}
	if (intent_settle(intent, on_settled, &z, e) < 0 || z.failed)
		goto out;
	imap_state_format(state, uv, z.last, z.last, z.left.v, z.left.n);
	rc = state_save(o, key, state->data, e);
out:
	free(z.left.v);
	mp_buf_free(&pre);
	return rc;
}

int imap_in_list(const unsigned long *v, size_t n, unsigned long x)
{
	return n && bsearch(&x, v, n, sizeof *v, imap_cmp_ul) != NULL;
}
