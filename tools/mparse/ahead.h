/* mparse: a header mode's messages done by the threads that read a
 * Maildir's headers ahead (common/msgsrc.c's pool): what one message
 * prints and warns is kept as records with it, and written out by the
 * main thread in the order of the files (ahead.c) */
#ifndef MPARSE_AHEAD_H
#define MPARSE_AHEAD_H

#include <stdio.h>

#include "mime.h"
#include "pick.h"
#include "store.h"

/* in a thread working ahead: the stream a message's lines go to (NULL in
 * the main thread, which writes to stdout) */
extern _Thread_local FILE *mp_ahead_out;

/* in a thread working ahead: a record of no bytes at this point of the
 * message's output ('s': the summary's blank line, written when a message
 * came before) */
void mp_ahead_mark(char kind);

/* what the threads do with each header: the walk of the mode (its
 * on_header and fields; header_only is set) over a folder's messages */
struct mp_ahead {
	const struct mp_folder *f;
	struct mp_walker walk;
};
/* the pool's work: ctx is a struct mp_ahead */
void mp_ahead_work(void *ctx, size_t i, struct mp_hdrbuf *h);

/* a Maildir's file whose header was read ahead can be read from memory
 * (not: an error, a header over the bound, an empty file or an mbox) */
int mp_ahead_whole(const struct mp_hdrbuf *h);

/* in the main thread: a message's output kept by mp_ahead_work written
 * out, *messages counted, *ok set when its walk went well; 0 when nothing
 * was kept (it is read again) */
int mp_ahead_replay(const struct mp_hdrbuf *h, long *messages, int *ok);

#endif
