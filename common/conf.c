#include "conf.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *mp_password(const char *cmd, const char *env, struct mp_err *e)
{
	char buf[4096];
	size_t n;
	FILE *f;

	if (!cmd) {
		const char *p = env ? getenv(env) : NULL;
		if (p && *p)
			return mp_xstrdup(p);
		mp_err_set(e, EX_CONFIG, "no password: give --password-eval%s%s", env ? " or " : "",
		           env ? env : "");
		return NULL;
	}
	/* the command gets the default SIGPIPE, whatever its caller ignores */
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	f = popen(cmd, "r");
	signal(SIGPIPE, old);
	if (!f) {
		mp_err_sys(e, EX_CONFIG, "password command");
		return NULL;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	int st = pclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (st != 0 || !buf[0]) {
		memset(buf, 0, sizeof buf);
		mp_err_set(e, EX_CONFIG, "the password command failed or printed nothing");
		return NULL;
	}
	char *p = mp_xstrdup(buf);
	memset(buf, 0, sizeof buf);
	return p;
}
