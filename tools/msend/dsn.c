/* Failure notices: when a recipient is refused for good, or the queue
 * gives up on it, the envelope sender gets a delivery status notification
 * (RFC 3464): a multipart/report with a text for people, a
 * message/delivery-status part for programs, and the header of the
 * message as text/rfc822-headers. It comes from MAILER-DAEMON with the
 * null sender <>, so that it can never cause another notice (RFC 5321
 * 4.5.5), and a message whose sender is <> gets none. It goes out the
 * way the message went (relay or direct; in a flush over the flush's
 * connections), and is queued when it cannot go now. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "msend.h"

#define DSN_HEADER_MAX (256 * 1024) /* of the original header, quoted */

/* "5.1.1" at the start of a reply's text, else what the class says */
static void status_of(const struct rcpt *r, int given_up, char *out, size_t cap)
{
	const char *t = r->text;
	size_t a = strspn(t, "0123456789");

	if (a == 1 && t[1] == '.' && (t[0] == '4' || t[0] == '5')) {
		size_t b = strspn(t + 2, "0123456789");
		if (b >= 1 && b <= 3 && t[2 + b] == '.') {
			size_t c = strspn(t + 3 + b, "0123456789");
			if (c >= 1 && c <= 3) {
				snprintf(out, cap, "%.*s", (int)(3 + b + c), t);
				return;
			}
		}
	}
	if (given_up && r->code / 100 != 5)
		snprintf(out, cap, "4.4.7"); /* delivery time expired */
	else
		snprintf(out, cap, "5.0.0");
}

/* the reply on one line */
static void oneline(struct mp_buf *b, const char *s)
{
	for (; *s; s++)
		mp_buf_putc(b, *s == '\n' || *s == '\r' ? ' ' : *s);
}

/* the header of the message (up to its blank line), with LF line ends */
static int copy_header(int fd, struct mp_buf *b, struct mp_err *e)
{
	char buf[8192];
	ssize_t got;
	int bol = 1;
	size_t start = b->len;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return mp_err_sys(e, EX_IOERR, "message");
	while ((got = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < got; i++) {
			char c = buf[i];
			if (c == '\r')
				continue;
			if (c == '\n' && bol)
				return 0; /* the blank line */
			if (b->len - start >= DSN_HEADER_MAX) {
				if (!bol)
					mp_buf_putc(b, '\n');
				return 0;
			}
			mp_buf_putc(b, c);
			bol = c == '\n';
		}
	}
	if (got < 0)
		return mp_err_sys(e, EX_IOERR, "message");
	if (!bol)
		mp_buf_putc(b, '\n');
	return 0;
}

static int build(const struct settings *s, int msgfd, const char *from, const struct rcpt *r,
                 size_t n, int given_up, const char *msgid, struct mp_buf *b, struct mp_err *e)
{
	const char *dom = s->maildomain ? s->maildomain : s->helo;
	uint64_t rnd[2] = {0, 0};
	char date[64], bnd[80];
	time_t now = time(NULL);
	struct tm tm;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd[0] = (uint64_t)now, rnd[1] = (uint64_t)getpid();
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(bnd, sizeof bnd, "=_msend-%016llx%016llx", (unsigned long long)rnd[0],
	         (unsigned long long)rnd[1]);
	mp_buf_printf(b,
	              "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	              "To: <%s>\n"
	              "Subject: Undelivered Mail Returned to Sender\n"
	              "Date: %s\n"
	              "Message-ID: <%ld.%016llx.dsn@%s>\n"
	              "Auto-Submitted: auto-replied\n"
	              "MIME-Version: 1.0\n"
	              "Content-Type: multipart/report; report-type=delivery-status;\n"
	              "\tboundary=\"%s\"\n"
	              "\n"
	              "This is a MIME-encapsulated message.\n"
	              "\n--%s\n"
	              "Content-Type: text/plain; charset=us-ascii\n"
	              "Content-Description: Notification\n\n"
	              "This is msend on %s.\n\n"
	              "Your message%s%s could not be delivered to %s.\n\n",
	              dom, from, date, (long)now, (unsigned long long)rnd[0], dom, bnd, bnd,
	              s->helo, msgid && *msgid ? " " : "", msgid ? msgid : "",
	              n == 1 ? "this recipient" : "these recipients");
	for (size_t i = 0; i < n; i++) {
		mp_buf_printf(b, "<%s>: %s", r[i].addr,
		              given_up && r[i].code / 100 != 5 ? "gave up; the last reply: " : "");
		if (r[i].code)
			mp_buf_printf(b, "%d ", r[i].code);
		oneline(b, r[i].text[0] ? r[i].text : "no reply");
		mp_buf_puts(b, "\n");
	}
	mp_buf_printf(b,
	              "\n--%s\n"
	              "Content-Type: message/delivery-status\n"
	              "Content-Description: Delivery report\n\n"
	              "Reporting-MTA: dns; %s\n",
	              bnd, s->helo);
	for (size_t i = 0; i < n; i++) {
		char st[16];
		status_of(&r[i], given_up, st, sizeof st);
		mp_buf_printf(b, "\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: %s\n",
		              r[i].addr, st);
		if (r[i].code) {
			mp_buf_printf(b, "Diagnostic-Code: smtp; %d ", r[i].code);
			oneline(b, r[i].text);
			mp_buf_puts(b, "\n");
		}
	}
	mp_buf_printf(b,
	              "\n--%s\n"
	              "Content-Type: text/rfc822-headers\n"
	              "Content-Description: Undelivered message headers\n\n",
	              bnd);
	if (copy_header(msgfd, b, e) < 0)
		return -1;
	mp_buf_printf(b, "\n--%s--\n", bnd);
	return 0;
}

/* The failure notice to from about r (n of them) as a spooled message in m
 * (m->fd open and scanned, the caller closes it): 1 made, 0 none is due
 * (never a notice about a notice), -1 with e. Sending or queueing it is
 * queue.c's (queue_notice). */
int dsn_message(const struct settings *s, int msgfd, const char *from, const struct rcpt *r,
                size_t n, int given_up, const char *msgid, struct message *m, struct mp_err *e)
{
	struct mp_buf b = MP_BUF_INIT;
	char path[4096];
	const char *dir = getenv("TMPDIR");
	int rc = -1;

	m->fd = -1;
	if (!from || !*from || n == 0)
		return 0;
	if (build(s, msgfd, from, r, n, given_up, msgid, &b, e) < 0)
		goto out;
	snprintf(path, sizeof path, "%s/msend-dsn.XXXXXX", dir && *dir ? dir : "/tmp");
	if ((m->fd = mkstemp(path)) < 0) {
		mp_err_sys(e, EX_TEMPFAIL, "%s", path);
		goto out;
	}
	unlink(path);
	if (mp_write_full(m->fd, b.data, b.len) < 0) {
		mp_err_sys(e, EX_TEMPFAIL, "notice");
		goto out;
	}
	if (msg_scan(m, e) < 0)
		goto out;
	rc = 1;
out:
	if (rc < 0 && m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
	mp_buf_free(&b);
	return rc;
}
