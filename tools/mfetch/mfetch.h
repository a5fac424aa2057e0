/* mfetch: internal interfaces between the tool and its protocol modules. */
#ifndef MFETCH_H
#define MFETCH_H

#include <stdio.h>

#include "proto.h"
#include "store.h"
#include "util.h"

enum dest_kind { DEST_STORE, DEST_STDOUT, DEST_MDA };

struct fopts {
	const char *server;
	int port, imap, tls, starttls;
	const char *ca_file, *user, *password_eval, *auth, *fingerprint;
	int all, delete_, mark_seen, list_folders, quiet, verbose;
	long limit;
	long long max_size;
	const char *folders[16];
	int nfolders;
	const char *state;
	int timeout_ms;
	/* where to */
	enum dest_kind dest;
	const char *dest_arg;
	struct mp_store store;
};

struct fstats {
	long fetched, skipped_big;
	long long bytes;
};

/* A message that arrived whole in a temporary file: deliver it. Returns
 * 0 when it is durably delivered (then the server may forget it), -1
 * with e filled (e->code 75 for "try later"). */
int deliver_file(struct fopts *o, int fd, const char *uid, const char *folder, struct mp_err *e);

/* the only-new state: one line per folder or server ("KEY VALUE...") */
int state_load(const struct fopts *o, const char *key, struct mp_buf *value);
int state_save(const struct fopts *o, const char *key, const char *value, struct mp_err *e);

char *password(const struct fopts *o, struct mp_err *e);
int connect_session(struct fopts *o, struct mp_proto *p, struct mp_err *e);

/* A line the dialogue needs: the end of the connection is an error too
 * (75: worth retrying). 1, or -1 with e filled. */
static inline int need_line(struct mp_proto *p, char **l, size_t *len, struct mp_err *e)
{
	int r = mp_proto_readline(p, l, len, e);

	if (r == 0)
		mp_err_set(e, EX_TEMPFAIL, "the server closed the connection");
	return r > 0 ? 1 : -1;
}

int imap_fetch(struct fopts *o, struct fstats *st, struct mp_err *e);
int pop3_fetch(struct fopts *o, struct fstats *st, struct mp_err *e);

#endif
