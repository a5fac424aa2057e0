/* mfetch: IMAP retrieval (imap.c; the folders chosen in imapfolders.c,
 * the state line kept in imapstate.c) */
#ifndef MFETCH_IMAP_H
#define MFETCH_IMAP_H

#include "fopts.h"
#include "util.h"

/* every folder of o (INBOX by default), or --list-folders: 0, or -1
 * with e filled */
int imap_fetch(struct fopts *o, struct fstats *st, struct mp_err *e);
/* The folders of o (its --folder names and patterns, INBOX without) into
 * o->sel, over a connection of its own (--idle with a pattern, before it
 * forks): 0, or -1 with e filled */
int imap_select(struct fopts *o, struct mp_err *e);
/* o->sel freed, when the run is over */
void imap_select_free(struct fopts *o);
/* --idle over one connection: fetch o->sel[i], then IDLE (or poll every
 * interval) and fetch again, until told to stop (0) or an error (-1).
 * *logged_in says whether the login got through, for the back-off. */
int imap_watch(struct fopts *o, size_t i, int *logged_in, struct mp_err *e);

#endif
