/* store_int: what the files of the store share and nothing else sees.
 * The calls go one way:
 *   store.c (open, close, deliver) -> batch.c, maildir.c, mbox.c, msgcopy.c
 *   batch.c (batches, sync thread) -> maildir.c, lock.c, msgids.c
 *   msgids.c (Message-IDs of a Maildir's files, the --dedup index)
 *   mbox.c (append) -> lock.c, msgcopy.c, maildir.c (its directory)
 *   maildir.c -> msgcopy.c
 *   msgcopy.c (a message copied with the added fields) -> msgsrc.c
 * lock.c and msgsrc.c call no other file of the store. */
#ifndef MP_STORE_INT_H
#define MP_STORE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "store.h"

#define MP_STORE_DEDUP_INDEX ".mdeliver-msgids"

/* a message written to tmp/, not yet linked into new/ or cur/ */
struct mp_pending {
	char name[320]; /* the name in tmp/ */
	char flags[32]; /* info flags, "" for new/ */
	int cur;        /* goes into cur/ */
	int synced;     /* fsynced already (a single delivery) */
	long long size;
	char msgid[256];      /* to record in the dedup index, or "" */
	char final[PATH_MAX]; /* where it was linked */
};

/* a batch being made durable by a thread of its own (mp_store_sync_bg) */
struct mp_bg {
	pthread_t thread;
	struct mp_store *s;
	struct mp_pending *p;
	size_t n, cap, linked;
	int busy, threaded, rc;
	struct mp_err e;
};

/* msgsrc.c: a "From " line (the start of a line) */
int mp_store_from_line(const char *s, size_t n, int bol);
/* msgsrc.c: an empty line, LF or CRLF (the start of a line) */
int mp_store_blank_line(const char *s, size_t n, int bol);

/* msgcopy.c: one message on its way into a mailbox */
struct mp_store_copy {
	const struct mp_delivery *d;
	int mbox;
	int has_sender;   /* sender holds the envelope sender ("" for <>) */
	char sender[512]; /* envelope sender (-f, else the From_ line) */
	char msgid[256];
	int status_cur;       /* d->mbox_status: Status: or X-Status: say cur/ */
	char status_flag[26]; /* and these Maildir flags ('A' + i) */
	int rp_seen;          /* d->sender_rp: a Return-Path: was read */
};

void mp_store_copy_init(struct mp_store_copy *c, const struct mp_delivery *d);
/* Read the first segment; take a From_ line as the envelope. Returns 1
 * with the first header line in *seg, or -1. */
int mp_store_copy_start(const struct mp_msgsrc *src, struct mp_store_copy *c, const char **seg,
                        size_t *len, int *bol, struct mp_err *e);
/* Copy the message from its first header line (seg) on into fd: added
 * fields first, loop check and Message-ID while in the header, mboxrd
 * quoting and LF line ends for an mbox (c->mbox), and a final line
 * break. *size gets the bytes written. */
int mp_store_copy_out(const struct mp_msgsrc *src, struct mp_store_copy *c, int fd, const char *seg,
                      size_t len, int bol, long long *size, struct mp_err *e);

/* msgcopy.c: the Maildir flags of c->status_* (known letters, in order) */
void mp_store_status_flags(const struct mp_store_copy *c, char *out, size_t n);

/* maildir.c */
/* Maildir info flags: upper-case letters, each once, in ASCII order (64) */
int mp_store_norm_flags(const char *in, char *out, struct mp_err *e);
int mp_store_is_dir(const char *path);
int mp_store_maildir_has_subdirs(const char *md);
/* A directory made durable in its parent; a missing parent is created
 * likewise with parents, else it is EX_CANTCREAT naming it. */
int mp_store_mkdir(const char *path, int parents, struct mp_err *e);
/* md (its parents too with parents), cur/ new/ tmp/ (and the folder
 * marker), then make the names durable */
int mp_store_maildir_make(const char *md, int folder, int parents, struct mp_err *e);
/* The message into tmp/ under a new unique name: p gets the name, the
 * flags (d->flags normalized), its size; the file fsynced unless
 * d->batch. The header is checked before anything is created. */
int mp_store_maildir_write(struct mp_store *s, const struct mp_msgsrc *src, struct mp_store_copy *c,
                           struct mp_pending *p, struct mp_err *e);
/* Make p[0..n) durable and put it in place: the files synced, linked
 * into new/ or cur/, the directories fsynced; *linked says how many were
 * linked. Reads only what no other call of the store changes (the path,
 * the host name, the atomic counter): it may run on a thread of its own. */
int mp_store_maildir_commit(struct mp_store *s, struct mp_pending *p, size_t n, size_t *linked,
                            struct mp_err *e);
/* p[0..n) taken back, the first linked of them from new/ or cur/ too,
 * and durably */
void mp_store_maildir_take_back(struct mp_store *s, struct mp_pending *p, size_t n, size_t linked);

/* tmp/ files older than 36 hours removed (those of killed runs) */
void mp_store_maildir_sweep(const char *md);

/* lock.c */
/* an fcntl write lock on fd, waiting at most timeout seconds (EX_TEMPFAIL) */
int mp_store_lock_fd(int fd, const char *path, double timeout, struct mp_err *e);
/* FILE.lock: 1 taken, 0 not possible here (fcntl alone then), -1 failed;
 * *recover is the size a dead writer's lock recorded, else -1 */
int mp_store_dotlock(const char *lock, double timeout, long long *recover, struct mp_err *e);
/* note in our lock the mbox's size before our append */
void mp_store_dotlock_note(const char *lock, long long size);

/* batch.c */
/* A message into a Maildir: written to tmp/, checked against the
 * --dedup index, added to the batch in hand; alone (no d->batch) made
 * durable and linked at once. */
int mp_store_batch_deliver(struct mp_store *s, const struct mp_msgsrc *src, struct mp_store_copy *c,
                           struct mp_delivered *out, struct mp_err *e);
/* what mp_store_close does with batches: those never reported go */
void mp_store_batch_close(struct mp_store *s);

/* msgids.c: the --dedup index, under its lock */
/* read it, then add the files of new/ and cur/ it does not name yet */
int mp_store_dedup_load(struct mp_store *s, struct mp_err *e);
/* 1 if id is in the index read */
int mp_store_dedup_has(const struct mp_store *s, const char *id);
/* record id, of the message file path, durably */
int mp_store_dedup_add(struct mp_store *s, const char *id, const char *path, struct mp_err *e);
void mp_store_dedup_free(struct mp_store *s);

/* mbox.c */
int mp_store_mbox_deliver(struct mp_store *s, const struct mp_msgsrc *src, struct mp_store_copy *c,
                          struct mp_delivered *out, struct mp_err *e);
/* a held mbox: what was appended fsynced, the dotlock noting its end */
int mp_store_mbox_sync(struct mp_store *s, struct mp_err *e);
/* a held mbox: what was never synced cut off, the locks dropped */
void mp_store_mbox_release(struct mp_store *s);

#endif
