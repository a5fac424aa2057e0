/* mparse --show (show.c) */
#ifndef MPARSE_SHOW_H
#define MPARSE_SHOW_H

#include "store.h"

int mp_show_one(const char *name, const struct mp_msgsrc *src);

#endif
