/* msend's spool: the message from stdin into an unlinked file, Date:
 * and Message-ID: added when missing; with -t the recipients read from
 * its header. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "mime.h"
#include "msend.h"

#define HEADER_MAX (1024 * 1024)

/* stdin into an unlinked spool file, with Date: and Message-ID: added
 * when missing; with -t, the recipients read from the header */
int spool(int tflag, const char *from, struct addrs *rcpts, struct message *m)
{
	const char *dir = getenv("TMPDIR");
	char path[4096], buf[65536];
	struct mp_buf hdr = MP_BUF_INIT;
	int fd, in_hdr = 1, have_date = 0, have_id = 0;
	ssize_t got;

	snprintf(path, sizeof path, "%s/msend.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		mp_die(EX_TEMPFAIL, "spool %s: %s", path, strerror(errno));
	unlink(path);
	/* the header block, bounded */
	while (in_hdr && (got = read(STDIN_FILENO, buf, sizeof buf)) > 0) {
		if (mp_buf_append(&hdr, buf, (size_t)got) < 0)
			mp_die(EX_TEMPFAIL, "out of memory");
		if (strstr(hdr.data, "\n\n") || strstr(hdr.data, "\r\n\r\n") ||
		    hdr.len > HEADER_MAX)
			in_hdr = 0;
	}
	/* the fields, as common's header parser reads them */
	struct mp_header h;
	mp_mime_header_parse(hdr.data ? hdr.data : "", hdr.len, &h);
	for (size_t i = 0; i < h.n; i++) {
		const char *name = h.f[i].name, *v = h.f[i].value;
		if (strcasecmp(name, "Date") == 0)
			have_date = 1;
		else if (strcasecmp(name, "Message-ID") == 0) {
			have_id = 1;
			snprintf(m->msgid, sizeof m->msgid, "%s", v);
		} else if (strcasecmp(name, "From") == 0 && !m->hdr_from[0]) {
			struct mp_addrlist al = {0};
			mp_addr_parse(v, &al); /* the sender's address, as common reads it */
			if (al.n && strlen(al.v[0].addr) < sizeof m->hdr_from)
				snprintf(m->hdr_from, sizeof m->hdr_from, "%s", al.v[0].addr);
			mp_addr_free(&al);
		} else if (tflag && (strcasecmp(name, "To") == 0 || strcasecmp(name, "Cc") == 0 ||
		                     strcasecmp(name, "Bcc") == 0))
			rcpt_header(rcpts, v);
	}
	mp_header_free(&h);
	struct mp_buf add = MP_BUF_INIT;
	int crlf = hdr.len && strstr(hdr.data, "\r\n") != NULL;
	if (!have_date) {
		char d[64];
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S %z", &tm);
		mp_buf_printf(&add, "Date: %s%s", d, crlf ? "\r\n" : "\n");
	}
	if (!have_id) {
		unsigned r = 0;
		(void)!getentropy(&r, sizeof r);
		const char *dom = strrchr(from, '@');
		snprintf(m->msgid, sizeof m->msgid, "<%ld.%ld.%08x@%s>", (long)time(NULL),
		         (long)getpid(), r, dom ? dom + 1 : rcpts->maildomain);
		mp_buf_printf(&add, "Message-ID: %s%s", m->msgid, crlf ? "\r\n" : "\n");
	}
	if ((add.len && mp_write_full(fd, add.data, add.len) < 0) ||
	    (hdr.len && mp_write_full(fd, hdr.data, hdr.len) < 0))
		mp_die(EX_TEMPFAIL, "spool: %s", strerror(errno));
	while ((got = read(STDIN_FILENO, buf, sizeof buf)) > 0)
		if (mp_write_full(fd, buf, (size_t)got) < 0)
			mp_die(EX_TEMPFAIL, "spool: %s", strerror(errno));
	if (got < 0)
		mp_die(EX_IOERR, "stdin: %s", strerror(errno));
	mp_buf_free(&add);
	mp_buf_free(&hdr);
	m->fd = fd;
	m->strip_bcc = tflag;
	return 0;
}
