/* mfetch: the only-new state, one line per folder or server
 * ("KEY\tVALUE") in one file (state.c) */
#ifndef MFETCH_STATE_H
#define MFETCH_STATE_H

#include "fopts.h"
#include "util.h"

/* KEY's value into value: 0, or -1 when there is none */
int state_load(const struct fopts *o, const char *key, struct mp_buf *value);
/* One run at a time for an account and its state file: an fcntl lock on
 * one byte of STATE.run, held until the process ends. 0, or -1 with e
 * filled (75: "another mfetch (pid N) is fetching WHO"). */
int state_lock(const struct fopts *o, const char *who, struct mp_err *e);
/* KEY's line replaced, durably: 0, or -1 with e filled */
int state_save(const struct fopts *o, const char *key, const char *value, struct mp_err *e);

#endif
