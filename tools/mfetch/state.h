/* mfetch: the only-new state, a journal of records, one a line, in one
 * file (state.c) */
#ifndef MFETCH_STATE_H
#define MFETCH_STATE_H

#include "fopts.h"
#include "util.h"

/* KEY's value into value, and into intent the text of an intent that
 * no record of KEY followed (empty when there is none; intent may be
 * NULL). The value is the last "KEY\tVALUE" line with the items of the
 * "+KEY\tITEMS" lines after it added, each between spaces. 0, or -1 when
 * KEY has neither value nor intent. */
int state_load(const struct fopts *o, const char *key, struct mp_buf *value, struct mp_buf *intent);
/* One run at a time for an account and its state file: an fcntl lock on
 * one byte of STATE.run, held until the process ends. 0, or -1 with e
 * filled (75: "another mfetch (pid N) is fetching WHO"). */
int state_lock(const struct fopts *o, const char *who, struct mp_err *e);
/* Appended durably (one line, fsynced), each closing an intent of KEY:
 * KEY's new value; items (space-separated) added to KEY's value. 0, or
 * -1 with e filled. Nothing with --peek. */
int state_save(const struct fopts *o, const char *key, const char *value, struct mp_err *e);
int state_add(const struct fopts *o, const char *key, const char *items, struct mp_err *e);
/* An intent for KEY, appended durably: what a batch is about to become
 * (intent.h says what the text holds). 0, or -1 with e filled. */
int state_intent(const struct fopts *o, const char *key, const char *text, struct mp_err *e);

#endif
