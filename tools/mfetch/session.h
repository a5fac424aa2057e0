/* mfetch: the connection to the server and the login's secrets
 * (session.c, auth.c) */
#ifndef MFETCH_SESSION_H
#define MFETCH_SESSION_H

#include "fopts.h"
#include "proto.h"
#include "util.h"

/* connect to o->server, TLS at once with --tls: 0, or -1 with e filled */
int connect_session(struct fopts *o, struct mp_proto *p, struct mp_err *e);
/* At the start: MFETCH_PASSWORD moves out of the environment into
 * memory, so that no child mfetch starts (the MDA, --password-eval's
 * command) sees it. */
void session_take_secrets(void);
/* the password (--password-eval, else the configuration's, else
 * MFETCH_PASSWORD), malloc'd for the caller to wipe and free; NULL with
 * e filled */
char *password(const struct fopts *o, struct mp_err *e);

/* A SASL challenge as the server sent it (base64, after "+ ") to the
 * response to send (base64, in out): 0, or -1 with e filled (auth.c). */
struct mp_sasl;
int sasl_respond(struct mp_sasl *c, const char *ch64, struct mp_buf *out, struct mp_err *e);

/* A line the dialogue needs: the end of the connection is an error too
 * (75: worth retrying). 1, or -1 with e filled. */
static inline int need_line(struct mp_proto *p, char **l, size_t *len, struct mp_err *e)
{
	int r = mp_proto_readline(p, l, len, e);

	if (r == 0)
		mp_err_set(e, EX_TEMPFAIL, "the server closed the connection");
	return r > 0 ? 1 : -1;
}

#endif
