/* mfetch: POP3 retrieval (pop3.c) */
#ifndef MFETCH_POP3_H
#define MFETCH_POP3_H

#include "fopts.h"
#include "util.h"

/* what is new in the maildrop: 0, or -1 with e filled */
int pop3_fetch(struct fopts *o, struct fstats *st, struct mp_err *e);

#endif
