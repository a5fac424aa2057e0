/* mfetch: a batch's intent, recorded in the state before its messages
 * are linked into the Maildir, and settled by the next run when the run
 * that recorded it did not live to record the batch (intent.c) */
#ifndef MFETCH_INTENT_H
#define MFETCH_INTENT_H

#include <stddef.h>

#include "util.h"

/* An intent's text: "MAILDIR\tPRE\tUID NAME UID NAME ...": the Maildir
 * (its real path), what the protocol needs to know when it settles (PRE,
 * "-" for nothing), and each message's UID (or UIDL) with the name it
 * will have there ("new/NAME,S=SIZE"). MAILDIR and the names carry %XX
 * for the bytes up to the space, '%' and DEL. For an mbox, MAILDIR is
 * the mbox file and there is one message, its NAME "@OFFSET,SIZE,SHA256":
 * where its append starts (its From_ line), how many bytes it has, and
 * their SHA-256 in hex (struct mp_mbox_append). */
void intent_format(struct mp_buf *out, const char *maildir, const char *pre,
                   const char *const *uids, const char *const *names, size_t n);

/* An intent's PRE into pre: 0, or -1 with e filled for a text that is
 * no intent */
int intent_pre(const char *text, struct mp_buf *pre, struct mp_err *e);
/* Settle an intent: for each of its messages, in order, cb says whether
 * it is in its Maildir: under its name in new/, or moved since by a mail
 * reader into cur/ (the same name, flags added), or linked and its tmp/
 * name not yet gone. The tmp/ files of the batch are removed. An mbox
 * append is there when the mbox holds its bytes at its offset, looked at
 * under the mbox's locks (mp_store_mbox_holds). 0, or -1 with e filled
 * for a text that is no intent, or an mbox that cannot be looked at. */
int intent_settle(const char *text, void (*cb)(void *ctx, const char *uid, int delivered),
                  void *ctx, struct mp_err *e);

#endif
