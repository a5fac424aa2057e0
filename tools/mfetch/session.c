/* mfetch: the connection to the server (TLS at once with --tls) and the
 * password for the login */
#include "conf.h"
#include "session.h"

char *password(const struct fopts *o, struct mp_err *e)
{
	return mp_password2(o->password, o->password_eval, "MFETCH_PASSWORD", e);
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
