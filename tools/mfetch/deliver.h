/* mfetch: a fetched message to its destination (deliver.c) */
#ifndef MFETCH_DELIVER_H
#define MFETCH_DELIVER_H

#include "fopts.h"
#include "util.h"

/* The destination opened: TO is DIR/ or maildir:DIR (a Maildir),
 * mbox:FILE or FILE (an mbox), or - (stdout); nothing to open for --mda
 * and --list-folders. 0, or -1 with e filled. */
int deliver_open(struct fopts *o, const char *to, struct mp_err *e);
/* A folder a --folder pattern selected, NAME as the server gives it with
 * its hierarchy delimiter delim (0 for none): the destination becomes
 * its own, the Maildir++ folder of that name below the Maildir given
 * (".a.b" for a/b, as mdeliver --folder a/b; INBOX the Maildir itself),
 * or DIR/a.b when --to names a directory for mboxes. Nothing for an MDA
 * or stdout. 0, or -1 with e filled (73, or 65 for a name that would
 * leave the directory or start with a dot). */
int deliver_folder(struct fopts *o, const char *name, char delim, struct mp_err *e);
/* the destination closed, when the run is over */
void deliver_close(struct fopts *o);

/* A message that arrived whole in a temporary file: deliver it. Returns
 * 0 when it is delivered, -1 with e filled (e->code 75 for "try
 * later"). Delivered is not yet durable: see commit(). */
int deliver_file(struct fopts *o, int fd, const char *uid, const char *folder, struct mp_err *e);

/* The group commit. Into a Maildir, deliver_file only writes the
 * message into tmp/; commit() makes every message delivered since the
 * last commit durable at once (one sync for the files, the links into
 * new/, the directory fsyncs). An mbox append is flushed by deliver_file
 * itself; an MDA's exit, and stdout, are their own commit. The order for
 * a batch is always: deliver each, commit(), one record in the state for
 * all, then the server may flag or delete them. Into a Maildir, commit()
 * records the batch's intent (o->jkey, o->jpre) once its files are
 * durable and before the first is linked (intent.h). commit() returns 0, or -1
 * with e filled once the batch was taken back (none of it delivered);
 * after that it fails every time, so that nothing of it is recorded. */
#define BATCH_MSGS  64                   /* messages a commit covers at most */
#define BATCH_BYTES (16LL * 1024 * 1024) /* and bytes, when more come at once */
int commit(struct fopts *o, struct mp_err *e);
/* 1 when the deliveries since the last commit fill a batch */
int commit_due(const struct fopts *o);
/* 1 when each message is recorded as soon as it is delivered (an MDA,
 * stdout, an mbox): a crash then delivers at most that one twice with an
 * MDA or on stdout; an mbox append records its intent first */
int per_message(const struct fopts *o);
/* 1 when deliver_file records an intent before it appends to an mbox
 * (with o->jkey and o->jpre as they are then): a settling finds the
 * append in the mbox by its offset, size and SHA-256 */
int mbox_intent(const struct fopts *o);

#endif
