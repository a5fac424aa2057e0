/* msend's log: one line per message (a file, or syslog) saying what
 * happened to it; used by the send and the queue flush alike. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "msend.h"

void msend_log(const struct settings *s, const char *from, const struct rcpt *r, size_t n,
               long long size, const char *msgid, const char *server, const char *result)
{
	struct mp_buf b = MP_BUF_INIT;
	char when[64];
	time_t t = time(NULL);
	struct tm tm;

	if (!s->log)
		return;
	mp_buf_printf(&b, "account=%s from=<%s> to=", s->account ? s->account : "-", from);
	for (size_t i = 0; i < n; i++)
		mp_buf_printf(&b, "%s<%s>", i ? "," : "", r[i].addr);
	mp_buf_printf(&b, " server=%s size=%lld msgid=%s result=", server, size,
	              msgid && *msgid ? msgid : "-");
	for (const char *p = result; *p; p++) /* one line, whatever the server said */
		mp_buf_putc(&b, *p == '\n' || *p == '\r' ? ' ' : *p);
	if (strcmp(s->log, "syslog") == 0) {
		openlog("msend", LOG_PID, LOG_MAIL);
		syslog(LOG_INFO, "%s", b.data);
		closelog();
	} else {
		struct mp_err e;
		int fd = -1;
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
		mp_buf_putc(&b, '\n');
		/* its directories as mfetch makes those of its state (0700) */
		if (mp_mkdirs(s->log, 0, &e) < 0)
			mp_warn("log %s: %s", s->log, e.msg);
		else if ((fd = open(s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
		         dprintf(fd, "%s ", when) < 0 || mp_write_full(fd, b.data, b.len) < 0)
			mp_warn("log %s: %s", s->log, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	mp_buf_free(&b);
}
