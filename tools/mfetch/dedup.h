/* mfetch: the Message-IDs a destination holds, after a UIDVALIDITY
 * change (dedup.c) */
#ifndef MFETCH_DEDUP_H
#define MFETCH_DEDUP_H

#include <stddef.h>

#include "store.h"
#include "util.h"

struct msgids {
	unsigned char (*v)[16]; /* SHA-256 of each ID, 16 bytes of it */
	size_t n, cap;
	int sorted;
	long skipped, kept; /* messages not delivered again, and delivered */
};
void msgids_add(struct msgids *m, const char *id);
int msgids_has(struct msgids *m, const char *id);
void msgids_free(struct msgids *m);
int msgids_of_dest(const struct mp_store *st, struct msgids *m, struct mp_err *e);

#endif
