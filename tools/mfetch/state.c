/* mfetch: the only-new state. One file of lines "KEY\tVALUE", one line
 * per IMAP folder or POP3 maildrop; each change rewrites it atomically
 * under a lock, as the processes of --idle share it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "state.h"

static const char *state_path(const struct fopts *o)
{
	static char buf[4096];
	const char *d;

	if (o->state)
		return o->state;
	if ((d = getenv("XDG_STATE_HOME")) && *d)
		snprintf(buf, sizeof buf, "%s/mailpipe/mfetch.state", d);
	else
		snprintf(buf, sizeof buf, "%s/.local/state/mailpipe/mfetch.state",
		         getenv("HOME") ? getenv("HOME") : "/tmp");
	return buf;
}

/* the file: lines "KEY\tVALUE" */
int state_load(const struct fopts *o, const char *key, struct mp_buf *value)
{
	FILE *f = fopen(state_path(o), "re");
	char *line = NULL;
	size_t cap = 0, kl = strlen(key);
	ssize_t n;
	int rc = -1;

	mp_buf_reset(value);
	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		if ((size_t)n > kl && strncmp(line, key, kl) == 0 && line[kl] == '\t') {
			line[strcspn(line, "\n")] = '\0';
			mp_buf_puts(value, line + kl + 1);
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

int state_lock(const struct fopts *o, const char *who, struct mp_err *e)
{
	static int fd = -1; /* open, and so locked, until the process ends */
	const char *path = state_path(o);
	char lock[4200], key[600];
	unsigned h = 2166136261u; /* FNV-1a */

	snprintf(lock, sizeof lock, "%s.run", path);
	mp_mkdirs(path, 0, NULL);
	if (fd < 0 && (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "%s", lock);
	/* one byte of the file per account: other accounts go on */
	snprintf(key, sizeof key, "%s %s@%s", o->imap ? "imap" : "pop3", o->user, o->server);
	for (const char *k = key; *k; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	struct flock fl = {
	    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = h & 0x3fffffff, .l_len = 1};
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	if (errno != EACCES && errno != EAGAIN)
		return mp_err_sys(e, EX_TEMPFAIL, "lock %s", lock);
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		return mp_err_set(e, EX_TEMPFAIL, "another mfetch (pid %ld) is fetching %s",
		                  (long)fl.l_pid, who);
	return mp_err_set(e, EX_TEMPFAIL, "another mfetch is fetching %s", who);
}

int state_save(const struct fopts *o, const char *key, const char *value, struct mp_err *e)
{
	if (o->peek)
		return 0; /* what was shown is still new for the next run */
	const char *path = state_path(o);
	struct mp_buf out = MP_BUF_INIT;
	FILE *f;
	char *line = NULL, lock[4200];
	size_t cap = 0, kl = strlen(key);
	ssize_t n;
	int rc, lfd;

	mp_mkdirs(path, 0, NULL);
	/* read, change one line, replace: one writer at a time (the
	 * processes of --idle with several folders share the file) */
	snprintf(lock, sizeof lock, "%s.lock", path);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return mp_err_sys(e, EX_TEMPFAIL, "%s", lock);
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(lfd);
			return mp_err_sys(e, EX_TEMPFAIL, "lock %s", lock);
		}
	f = fopen(path, "re");
	while (f && (n = getline(&line, &cap, f)) > 0)
		if (!((size_t)n > kl && strncmp(line, key, kl) == 0 && line[kl] == '\t'))
			mp_buf_append(&out, line, (size_t)n);
	if (f)
		fclose(f);
	free(line);
	mp_buf_printf(&out, "%s\t%s\n", key, value);
	/* tmp, fsync, rename, fsync the directory */
	rc = mp_atomic_write(path, out.data, out.len, 0600, e);
	close(lfd);
	mp_buf_free(&out);
	return rc;
}
