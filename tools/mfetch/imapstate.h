/* mfetch: an IMAP folder's UIDs and the state line that records them
 * (imapstate.c) */
#ifndef MFETCH_IMAPSTATE_H
#define MFETCH_IMAPSTATE_H

#include <stddef.h>

#include "fopts.h"
#include "util.h"

struct uids {
	unsigned long *v;
	size_t n, cap;
};

/* x appended to u: 0, or -1 with e filled past the most a folder has */
int imap_uids_add(struct uids *u, unsigned long x, struct mp_err *e);
/* two unsigned longs, for qsort and bsearch */
int imap_cmp_ul(const void *a, const void *b);
/* 1 when x is in v (n of them, ascending) */
int imap_in_list(const unsigned long *v, size_t n, unsigned long x);

/* a folder being fetched: what the state records */
struct frun {
	const char *folder, *key;
	unsigned long uidvalidity, last;
	struct uids *u;         /* candidates, ascending; 0 once delivered */
	struct mp_buf *val;     /* the state line */
	unsigned long rec_last; /* the last UID the state has recorded */
	struct mp_buf *rec;     /* the line last recorded */
};

/* The state line into out: "UV LAST", then " s=U,U,..." with those of
 * left's UIDs that are below below (a 0 in left stands for none) */
void imap_state_format(struct mp_buf *out, unsigned long uv, unsigned long last,
                       unsigned long below, const unsigned long *left, size_t nleft);
/* the UIDs of a state line's " s=U,U,..." (sl) into u: 0 or -1 */
int imap_parse_left(const char *sl, struct uids *u, struct mp_err *e);
/* What was delivered of f made durable (commit()), then recorded: 0, or
 * -1 with e filled */
int imap_commit_record(struct fopts *o, struct frun *f, struct mp_err *e);
/* A batch's intent that a killed run left, settled into state and
 * recorded under key: 0, or -1 with e filled */
int imap_settle(const struct fopts *o, const char *key, const char *intent, struct mp_buf *state,
                struct mp_err *e);

#endif
