/* mfetch: the connection to the server (TLS at once with --tls) and the
 * password for the login */
#include <stdlib.h>

#include "conf.h"
#include "session.h"

/* MFETCH_PASSWORD, taken out of the environment: no child (the MDA, the
 * password command) inherits it */
static char *env_password;

void session_take_secrets(void)
{
	const char *p = getenv("MFETCH_PASSWORD");

	if (p && *p && !env_password)
		env_password = mp_xstrdup(p);
	unsetenv("MFETCH_PASSWORD");
}

char *password(const struct fopts *o, struct mp_err *e)
{
	/* as mp_password2(), with the variable as it was at the start */
	if (o->password && !o->password_eval)
		return mp_xstrdup(o->password);
	if (o->password_eval)
		return mp_password(o->password_eval, NULL, e);
	if (env_password)
		return mp_xstrdup(env_password);
	mp_err_set(e, EX_CONFIG, "no password: give --password-eval or MFETCH_PASSWORD");
	return NULL;
}

int connect_session(struct fopts *o, struct mp_proto *p, struct mp_err *e)
{
	char peer[128];
	int fd = mp_net_connect(o->server, o->port, 0, o->timeout_ms, peer, sizeof peer, e);

	if (fd < 0)
		return -1;
	mp_proto_init(p, fd, o->timeout_ms, o->verbose);
	if (o->tls) {
		struct mp_tls_opts to = {.ca_file = o->ca_file,
		                         .verify_name = o->server,
		                         .fingerprint = o->fingerprint,
		                         .cert_file = o->cert_file,
		                         .key_file = o->key_file,
		                         .timeout_ms = o->timeout_ms};
		if (mp_proto_starttls(p, &to, e) < 0) {
			mp_proto_close(p);
			return -1;
		}
	}
	return 0;
}
