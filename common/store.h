/* store: deliver one message into a Maildir or an mbox, durably: either
 * the message is in the mailbox, whole, or the call says it is not. */
#ifndef MP_STORE_H
#define MP_STORE_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util.h"

/* A message arrives as segments: whole lines, or pieces of a line too
 * long for the reader's buffer (bol says whether a segment starts a
 * line). next() returns 1 with a segment valid until the next call, 0 at
 * the end of the message, -1 on error (e filled). */
struct mp_msgsrc {
	int (*next)(void *ctx, const char **seg, size_t *len, int *bol, struct mp_err *e);
	void *ctx;
};

/* Segments from a file descriptor, for one message per stream. */
struct mp_segr {
	int fd;
	char *buf;
	size_t cap, start, end;
	int eof, bol;
	long long off;  /* bytes handed out so far */
	long long base; /* file offset where reading began, -1 if not seekable */
};

int mp_segr_init(struct mp_segr *r, int fd, size_t bufsize, struct mp_err *e);
int mp_segr_next(struct mp_segr *r, const char **seg, size_t *len, int *bol, struct mp_err *e);
void mp_segr_free(struct mp_segr *r);
/* an mp_msgsrc reading the whole stream as one message */
struct mp_msgsrc mp_segr_src(struct mp_segr *r);

/* Segments of the n bytes at p: a line a segment; with a cap, cut as an
 * mp_segr with a buffer of cap bytes cuts them (a line longer than cap in
 * pieces of cap bytes), so that a reader sees the same either way. */
struct mp_memsrc {
	const char *p;
	size_t n, pos, cap;
	int bol;
};

struct mp_msgsrc mp_memsrc(struct mp_memsrc *m, const char *p, size_t n);
struct mp_msgsrc mp_memsrc_cap(struct mp_memsrc *m, const char *p, size_t n, size_t cap);

/* The header of a message file, read into memory for the modes that read
 * no further: the file's bytes up to and including the blank line that
 * ends its header, in as few system calls as can be (open, one read of
 * MP_HDRBUF_FIRST bytes for most messages, close). */
#define MP_HDRBUF_FIRST 4096
#define MP_HDRBUF_SIZE  0x1u /* the file's size too (fstat, unless read to its end) */

struct mp_hdrbuf {
	char *buf; /* kept between reads: it is reused */
	size_t len, cap;
	int whole;         /* buf holds the header and its blank line, or the whole file */
	int eof;           /* buf holds the whole file */
	int err;           /* errno of open or read, or 0 */
	long long size;    /* with MP_HDRBUF_SIZE, the file's size; else -1 */
	struct mp_buf out; /* what a pool's work made of it (kept, reused) */
};

/* Read the header of the file at path, at most max bytes of it (not
 * whole past that: the caller reads the file as a stream then). 0, or
 * -1 with h->err set. */
int mp_hdrbuf_read(struct mp_hdrbuf *h, const char *path, size_t max, unsigned flags);
void mp_hdrbuf_free(struct mp_hdrbuf *h);

/* The headers of n files read ahead on threads (at most a window of them
 * ahead of the reader, so memory stays flat), handed out in order:
 * mp_hdrpool_get(p, 0), then 1, 2, ... Each is valid until the next get.
 * The caller is one of the threads: threads - 1 are started, and a get
 * whose header is not in yet reads the next one itself rather than wait.
 * threads <= 1, or no thread to be had: each is read by the get. */
struct mp_hdrpool;
typedef const char *(*mp_hdrpool_path)(void *ctx, size_t i);
struct mp_hdrpool *mp_hdrpool_start(size_t n, mp_hdrpool_path path, void *ctx, int threads,
                                    size_t max, unsigned flags);
/* The same, and work(ctx, i, h) run on each header once it is read, in
 * the thread that read it (or by the get, without threads): it may fill
 * h->out with what the reader of the pool is to have */
typedef void (*mp_hdrpool_work)(void *ctx, size_t i, struct mp_hdrbuf *h);
struct mp_hdrpool *mp_hdrpool_start_work(size_t n, mp_hdrpool_path path, void *ctx, int threads,
                                         size_t max, unsigned flags, mp_hdrpool_work work,
                                         void *wctx);
const struct mp_hdrbuf *mp_hdrpool_get(struct mp_hdrpool *p, size_t i);
void mp_hdrpool_end(struct mp_hdrpool *p);

/* Messages one by one out of an mbox (mboxo, mboxrd, mboxcl2): each ends
 * before the next "From " line, with the blank line before it dropped,
 * ">From " lines unquoted one level, and Content-Length honoured when it
 * points exactly at the next "From " line or the end. */
struct mp_mboxsplit {
	struct mp_segr *r;
	const char *cur; /* the segment in hand (valid until the next read) */
	size_t curlen;
	int curbol, have, first, held_blank, in_header, eof;
	char blank[2];
	size_t blanklen;
	long long clen, left; /* Content-Length, raw body bytes still to copy */
	long long msgstart;   /* byte offset of the current message's From_ line */
	long count;           /* messages started */
};

void mp_mboxsplit_init(struct mp_mboxsplit *m, struct mp_segr *r);
/* Start the next message: 1 if there is one, 0 at the end, -1 on error
 * (input that does not start with "From " is not an mbox). */
int mp_mboxsplit_begin(struct mp_mboxsplit *m, struct mp_err *e);
struct mp_msgsrc mp_mboxsplit_src(struct mp_mboxsplit *m);

enum mp_store_kind { MP_STORE_MAILDIR, MP_STORE_MBOX };

#define MP_STORE_CREATE  0x1u /* any missing target is a Maildir to create */
#define MP_STORE_PARENTS 0x2u /* create a Maildir's or mbox's missing parents */

struct mp_pending;
struct mp_bg;
struct mp_dedup;

/* an append to an mbox, as it is about to be made */
struct mp_mbox_append {
	long long offset; /* where its From_ line starts */
	long long size;   /* its bytes: From_ line, message, blank line */
	char sha256[65];  /* their SHA-256, in hex */
};

struct mp_store {
	enum mp_store_kind kind;
	char *path;           /* the Maildir (folder applied) or mbox file */
	atomic_ulong counter; /* unique-name counter of this process */
	char host[200];       /* hostname with '/' and ':' escaped */
	double lock_timeout;  /* mbox: seconds to wait for the locks */
	int parents;          /* mbox: create its missing directories */
	/* batch mode: messages written to tmp/, not yet synced and linked */
	struct mp_pending *pending;
	size_t npending, cappending;
	long long pending_bytes;
	int dedup_lock;   /* fd holding the --dedup index lock, or -1 */
	struct mp_dedup *dedup; /* the index read, while the lock is held */
	struct mp_bg *bg; /* a batch being made durable in the background */
	/* Maildir: called once a batch's files are durable and before the
	 * first of them is linked, with the names they will have (relative
	 * to path: "new/NAME,S=SIZE" or "cur/NAME,S=SIZE:2,FLAGS"), so that
	 * the caller can record its intent first; -1 (e filled) stops the
	 * commit, nothing linked. While it is set, a name is never changed
	 * for another on a clash: the link fails instead. */
	int (*before_link)(void *ctx, const char *const *names, size_t n, struct mp_err *e);
	void *before_link_ctx;
	/* mbox: called under the locks once an append's place and bytes are
	 * known and before the first of them is written (a, below), so that
	 * the caller can record its intent first; -1 (e filled) stops the
	 * append, nothing written */
	int (*before_append)(void *ctx, const struct mp_mbox_append *a, struct mp_err *e);
	void *before_append_ctx;
	/* mbox held for many deliveries (mp_store_mbox_hold): its fd, 1 with
	 * a dotlock, where the appends end and where the durable ones end */
	int mbox_fd, mbox_dot;
	long long mbox_end, mbox_synced;
};

struct mp_delivery {
	const char *from;         /* envelope sender: Return-Path and From_ line */
	const char *delivered_to; /* adds Delivered-To: */
	int loop_check;           /* a message already delivered there: EX_NOUSER */
	const char *flags;        /* Maildir info flags: cur/NAME:2,FLAGS; in an mbox,
	                           * Status: and X-Status: fields in place of the
	                           * message's own */
	int dedup;                /* Maildir: skip a Message-ID delivered before */
	int mbox_status;          /* Maildir: Status: and X-Status: (of an mbox) give the
	                           * flags when there are no flags, and are dropped */
	int batch;                /* Maildir: write to tmp/ only; mp_store_sync makes the
	                           * batch durable (one syncfs) and links it */
	time_t date;              /* From_ line date (0: now) */
	int mbox_flags;           /* mbox: flags (NULL: none, a new message) give the
	                           * Status: and X-Status: written, the message's own
	                           * dropped */
	int sender_rp;            /* mbox: without -f or a From_ line, the From_ line's
	                           * sender is the message's Return-Path: (kept) */
};

struct mp_delivered {
	char path[PATH_MAX]; /* the message file, or the mbox */
	long long offset;    /* mbox: offset of its From_ line */
	long long size;      /* bytes written */
	int skipped;         /* --dedup: it was there already */
	char msgid[256];
};

int mp_store_open(struct mp_store *s, const char *target, const char *folder, unsigned flags,
                  struct mp_err *e);
int mp_store_deliver(struct mp_store *s, const struct mp_msgsrc *src, const struct mp_delivery *d,
                     struct mp_delivered *out, struct mp_err *e);
/* Make every message delivered since the last call durable: a batch's
 * files are synced, then linked into new/ or cur/, then the directories
 * fsynced. done (may be NULL) is called with each final path after. */
int mp_store_sync(struct mp_store *s, void (*done)(void *ctx, const char *path), void *ctx,
                  struct mp_err *e);
/* The same, on a thread of its own: the batch in hand is handed over and
 * the call returns at once, after waiting for the one handed over before
 * and reporting it (done is called here, never on the thread). A failure
 * of the earlier batch is returned now, with both batches taken back. A
 * batch with --dedup Message-IDs is made durable at once. mp_store_sync
 * waits for the batch in the background first; mp_store_close takes a
 * batch back that was never reported. */
int mp_store_sync_bg(struct mp_store *s, void (*done)(void *ctx, const char *path), void *ctx,
                     struct mp_err *e);
void mp_store_close(struct mp_store *s);

/* 1 when the mbox path holds the append a, whole and byte for byte, 0
 * when it does not (a missing mbox holds nothing). Looked at under its
 * locks, after an append that a dead writer left unfinished is cut off,
 * as the next append would cut it. -1 with e filled (75: still locked
 * after timeout seconds, or not readable). */
int mp_store_mbox_holds(const char *path, const struct mp_mbox_append *a, double timeout,
                        struct mp_err *e);
/* An mbox locked once for the deliveries that follow (one run): each is
 * appended at once but made durable only by mp_store_sync, which fsyncs
 * them together and notes in the dotlock where they end, so that a crash
 * later cuts back no further. A failed delivery is cut off, the ones
 * before it kept for mp_store_sync; mp_store_close cuts off what was
 * never synced, then unlocks. */
int mp_store_mbox_hold(struct mp_store *s, struct mp_err *e);

/* The Message-ID of a message file (its first 64 KiB): 1, or 0 none
 * (out "") */
int mp_store_file_msgid(int fd, char *out, size_t outn);
/* Each regular file of the Maildir md's cur/ and new/ whose key (its
 * name up to the ':' of its flags) want (NULL: every one) takes: got
 * with its Message-ID, "" for none. A directory that cannot be read is
 * EX_TEMPFAIL. */
int mp_store_maildir_msgids(const char *md, int (*want)(void *ctx, const char *key),
                            void (*got)(void *ctx, const char *key, const char *id), void *ctx,
                            struct mp_err *e);

#endif
