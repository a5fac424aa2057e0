/* mfetch: --idle, and running several at once (watch.c) */
#ifndef MFETCH_WATCH_H
#define MFETCH_WATCH_H

#include "fopts.h"
#include "util.h"

/* --idle: the whole loop, reconnects with back-off included */
int watch(struct fopts *o, struct mp_err *e);
/* Run child(i, ctx) in a process of its own for each i < n: all at once
 * (concurrent) or one after the other; SIGTERM and SIGINT are passed on
 * to them and stop further starts. The first non-zero exit status, or 0. */
int fork_each(int n, int concurrent, int (*child)(int i, void *ctx), void *ctx, struct mp_err *e);

#endif
