/* mfetch: the folders of an IMAP run, chosen and listed (imapfolders.c) */
#ifndef MFETCH_IMAPFOLDERS_H
#define MFETCH_IMAPFOLDERS_H

#include <stddef.h>

#include "fopts.h"
#include "imapio.h"
#include "util.h"

/* The folders of the run into o->sel: each --folder, INBOX without one;
 * a pattern's, over s, with LIST. 0, or -1 with e filled. */
int select_folders(struct imap *s, struct fopts *o, struct mp_err *e);
/* o->sel's v[0..n) freed */
void fsels_free(struct fsel *v, size_t n);
/* --list-folders: one folder, as a person reads it (or a --json line) */
void print_folder(const struct fopts *o, const struct fsel *f);

#endif
