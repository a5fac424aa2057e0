/* smtpfault: a scripted misbehaving SMTP server for mmx/msend tests, on
 * 127.0.0.1 only (or [::1], -6). It speaks just enough SMTP to reach the misbehaviour:
 *   inject      answers STARTTLS with "220" and, in the same write, a
 *               second line ("250 injected"): a client must refuse TLS
 *   tarpit      waits 2 s before the banner
 *   garbage     a banner that is not an SMTP reply
 *   close       closes the connection right after accepting it
 *   longline    a 10,000-byte banner line
 *   manylines   a 200-line EHLO reply
 *   nostarttls  no STARTTLS in the EHLO reply
 *   badcode     a banner with code 999
 * and, for msend, modes that speak SMTP properly (EHLO offers PIPELINING,
 * 8BITMIME, SIZE and ENHANCEDSTATUSCODES, no STARTTLS; commands are read
 * line by line from a buffer and answered one by one, in order):
 *   greet421    the banner "421 too busy", then close
 *   rcpt452     every RCPT gets "452 4.2.2 mailbox full"
 *   rcpt550one  RCPT for an address containing "bad" gets "550 5.1.1 no
 *               such user", others 250; DATA is then accepted
 *   rcpt452bad  RCPT for an address containing "bad" gets "452 4.2.2
 *               mailbox full", others 250
 *   dropdata    after DATA/354, reads some of the body (up to 64 KiB or its
 *               end) and closes the connection without a reply
 *   silence     accepts and never says anything (reads until the client
 *               goes, at most 60 s)
 *   accept      a well-behaved server that stores each message
 *   rcptmixed   RCPT for an address containing "bad" gets "550 5.1.1 no
 *               such user", one containing "defer" "452 4.2.2 mailbox
 *               full", others 250 (a mailing list's mixed fortunes)
 * With -d DIR, each accepted message is stored as DIR/N.eml: the raw bytes
 * received after 354 up to and including the final "\r\n.\r\n" (no
 * dot-unstuffing), and DIR/N.env beside it (written last, so it marks a
 * whole message): "helo", "mail" (the MAIL argument), one "rcpt ADDR CODE"
 * per RCPT, "pipelined" (the commands that had arrived when MAIL was
 * answered), "size" (octets before the final ".\r\n"), "bare" (bare CR or
 * LF octets in the data), "high" (octets above 127 in the data). -s N
 * advertises SIZE N (default 0: no limit). For the EHLO of these modes,
 * -7 leaves 8BITMIME out, -u offers SMTPUTF8, -n offers DSN and -c
 * offers CHUNKING: then "BDAT n [LAST]" is taken too (RFC 3030), the
 * chunks stored one after the other as N.eml (no final dot: the bytes
 * exactly as received), with "chunks K" (the BDAT commands) in N.env.
 * -e puts terminal control sequences (ESC ] 0 ; pwned BEL, a C1 CSI as
 * U+009B and as a raw 0x9b byte, DEL, a bare CR) into the banner, the
 * first line of the EHLO reply, the 421 and the 550 of these modes, and
 * into the banner and the first EHLO line of the modes for mmx.
 * -x K: after the K-th message accepted in all, the connection is closed
 * without another reply, and every later connection gets "421 too busy";
 * -X K: each connection is closed after its K-th accepted message (a
 * client must connect again for the rest).
 * -H K: after the K-th message accepted in all, the server goes silent:
 * "smtpfault: silent" to stderr, then no reply on that connection or any
 * later one (each is read until the client goes, 60 s at most): a client
 * caught in what it does after a message went.
 * -B K: the first K connections are all accepted before any is served
 * (then each in turn): a client that does not hold K open at once waits
 * for a banner that comes only after 60 s (a hang guard), with "421
 * barrier not reached"; it proves the connections were concurrent.
 * -C: each connection is served by a process of its own (at once, side
 * by side), and each time more connections are open at once than ever
 * before, "smtpfault: N connections open at once" goes to stderr. A
 * connection counts as open from its accept until the client said QUIT
 * (the child tells the server before it answers 221) or went away: a
 * client that opens its next connection only after the 221 is never seen
 * twice, however the processes are scheduled. Messages are numbered
 * 100000 * the connection's number + 1, 2, ... (-x counts per connection).
 * -6 listens on [::1] instead, and holds 127.0.0.1 on the same port
 * without listening, so that a connection there is refused (a client must
 * find the host's IPv6 address).
 * Every mode logs one line per connection to stderr.
 * usage: smtpfault [-67Ccnu] [-p PORT] [-P PIDFILE] [-d DIR] [-s SIZE] [-x K] [-X K]
 *                  [-H K] [-B K] MODE
 * (prints PORT=n) */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* read one command line (bounded); 0 at EOF */
static int readcmd(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char c;

	while (n + 1 < cap) {
		ssize_t r = read(fd, &c, 1);
		if (r <= 0)
			return 0;
		if (c == '\n')
			break;
		if (c != '\r')
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 1;
}

static int done_fd = -1; /* -C: where a child says its session is over */
static long number_base; /* -C: the connection's first message number - 1 */

/* -C: this connection is no longer open for the count (once) */
static void session_over(void)
{
	if (done_fd >= 0) {
		ssize_t w = write(done_fd, "x", 1);
		(void)w;
		close(done_fd);
		done_fd = -1;
	}
}

static int ctl; /* -e */
/* -e: what a hostile server puts in its replies: an OSC title sequence
 * (ESC ] 0 ; ... BEL), a C1 CSI (U+009B, and a raw 0x9b byte that is no
 * UTF-8), DEL and a bare CR */
#define CTL_TEXT " \033]0;pwned\007 \302\233 \233 \177 \r "

static void serve(int fd, const char *mode)
{
	char cmd[1024];

	if (strcmp(mode, "close") == 0)
		return;
	if (strcmp(mode, "tarpit") == 0)
		sleep(2);
	if (strcmp(mode, "garbage") == 0) {
		say(fd, "hello, this is not SMTP\r\n");
		return;
	}
	if (strcmp(mode, "badcode") == 0) {
		say(fd, "999 what\r\n");
		return;
	}
	if (strcmp(mode, "longline") == 0) {
		say(fd, "220 ");
		for (int i = 0; i < 1000; i++)
			say(fd, "xxxxxxxxxx");
		say(fd, "\r\n");
		return;
	}
	say(fd, ctl ? "220 smtpfault" CTL_TEXT "ESMTP\r\n" : "220 smtpfault ESMTP\r\n");
	while (readcmd(fd, cmd, sizeof cmd)) {
		if (strncasecmp(cmd, "EHLO", 4) == 0) {
			if (strcmp(mode, "manylines") == 0)
				for (int i = 0; i < 200; i++)
					say(fd, "250-X-LINE\r\n");
			say(fd, ctl ? "250-smtpfault" CTL_TEXT "hello\r\n250-PIPELINING\r\n"
			            : "250-smtpfault\r\n250-PIPELINING\r\n");
			if (strcmp(mode, "nostarttls") != 0)
				say(fd, "250-STARTTLS\r\n");
			say(fd, "250 8BITMIME\r\n");
		} else if (strncasecmp(cmd, "STARTTLS", 8) == 0) {
			if (strcmp(mode, "inject") == 0) {
				say(fd, "220 go ahead\r\n250 injected\r\n");
				sleep(1);
				return;
			}
			say(fd, "454 TLS not available\r\n");
		} else if (strncasecmp(cmd, "QUIT", 4) == 0) {
			session_over();
			say(fd, "221 bye\r\n");
			return;
		} else {
			say(fd, "250 ok\r\n");
		}
	}
}

/* ---------------------------------------------------------------- modes for msend */

static const char *store_dir;           /* -d */
static long adv_size;                   /* -s */
static int no8bit, utf8, dsn, chunking; /* -7, -u, -n, -c */
static long max_total;                  /* -x */
static long max_per_conn;               /* -X */

static long total_accepted;
static long hang_after;    /* -H */
static int barrier_failed; /* -B: fewer than K came within 60 s */

static const char *const modes2[] = {"greet421", "rcpt452", "rcpt550one", "rcpt452bad", "dropdata",
                                     "silence",  "accept",  "rcptmixed",  NULL};

static int is_mode2(const char *mode)
{
	for (int i = 0; modes2[i]; i++)
		if (strcmp(mode, modes2[i]) == 0)
			return 1;
	return 0;
}

/* buffered input: commands are lines, the message is raw bytes */
struct in {
	int fd;
	size_t start, end;
	char buf[65536];
};

/* more bytes into the buffer; 0 at EOF, an error or a timeout */
static int fill(struct in *in)
{
	ssize_t r;

	if (in->start == in->end)
		in->start = in->end = 0;
	if (in->end == sizeof in->buf) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
		if (in->end == sizeof in->buf)
			return 1; /* full: the caller takes what is there */
	}
	do
		r = read(in->fd, in->buf + in->end, sizeof in->buf - in->end);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 0;
	in->end += (size_t)r;
	return 1;
}

/* one line without its CR LF, cut to cap-1 bytes (the rest of an overlong
 * line is dropped); 0 at EOF */
static int getline2(struct in *in, char *line, size_t cap)
{
	size_t n = 0;

	for (;;) {
		char *s = in->buf + in->start;
		size_t avail = in->end - in->start;
		char *nl = memchr(s, '\n', avail);
		size_t take = nl ? (size_t)(nl - s) : avail;
		for (size_t i = 0; i < take; i++)
			if (n + 1 < cap)
				line[n++] = s[i];
		in->start += take + (nl != NULL);
		if (nl)
			break;
		if (!fill(in))
			return 0;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 1;
}

/* is there a complete line starting with word in the buffer? */
static int buffered_cmd(const struct in *in, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = in->start; i < in->end;) {
		const char *nl = memchr(in->buf + i, '\n', in->end - i);
		if (!nl)
			return 0;
		if ((size_t)(nl - (in->buf + i)) >= wl && strncasecmp(in->buf + i, word, wl) == 0)
			return 1;
		i = (size_t)(nl - in->buf) + 1;
	}
	return 0;
}

/* the verbs of the complete lines waiting in the buffer, space-separated */
static void buffered_verbs(const struct in *in, char *out, size_t cap)
{
	size_t o = strlen(out);

	for (size_t i = in->start; i < in->end;) {
		const char *p = in->buf + i, *nl = memchr(p, '\n', in->end - i);
		if (!nl)
			break;
		size_t k = 0;
		while (p + k < nl && isalpha((unsigned char)p[k]) && k < 12)
			k++;
		if (o + k + 2 < cap) {
			out[o++] = ' ';
			for (size_t j = 0; j < k; j++)
				out[o++] = (char)toupper((unsigned char)p[j]);
			out[o] = '\0';
		}
		i = (size_t)(nl - in->buf) + 1;
	}
}

/* wait (up to ms) for a pipelined DATA to arrive behind MAIL */
static void await_data(struct in *in, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!buffered_cmd(in, "DATA") && in->end < sizeof in->buf) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left =
		    ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = {in->fd, POLLIN, 0};
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return;
		if (in->start) {
			memmove(in->buf, in->buf + in->start, in->end - in->start);
			in->end -= in->start;
			in->start = 0;
		}
		ssize_t r = read(in->fd, in->buf + in->end, sizeof in->buf - in->end);
		if (r <= 0)
			return;
		in->end += (size_t)r;
	}
}

/* bare CR or LF and 8-bit octets in a piece of the data; prev_cr
 * carries over from the piece before */
static void count_octets(const char *s, size_t n, int *prev_cr, long long *bare, long long *high)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (*prev_cr && c != '\n')
			++*bare;
		if (c == '\n' && !*prev_cr)
			++*bare;
		*prev_cr = c == '\r';
		*high += (unsigned char)c >= 0x80;
	}
}

/* the message after 354, up to and including CR LF . CR LF (a CR LF
 * before the first byte counts: an empty message is ".\r\n"). Stored in
 * f when given, at most limit bytes read when limit > 0. Returns the
 * bytes before the final ".\r\n", -1 when the connection ended first, -2
 * when limit was reached. */
static long long read_data(struct in *in, FILE *f, long long limit, long long *bare,
                           long long *high)
{
	static const char pat[] = "\r\n.\r\n";
	long long total = 0;
	int match = 2;   /* as if a CR LF came before */
	int prev_cr = 0; /* the byte before was a CR */

	*bare = *high = 0;
	for (;;) {
		if (in->start == in->end && !fill(in))
			return -1;
		char *s = in->buf + in->start;
		size_t avail = in->end - in->start, i;
		for (i = 0; i < avail; i++) {
			char c = s[i];
			if (c == pat[match])
				match++;
			else
				match = c == '\r' ? 1 : 0;
			if (match == 5) {
				i++;
				break;
			}
		}
		count_octets(s, i, &prev_cr, bare, high);
		if (f && i)
			fwrite(s, 1, i, f);
		in->start += i;
		total += (long long)i;
		if (match == 5)
			return total - 3;
		if (limit > 0 && total >= limit)
			return -2;
	}
}

/* store the message just read; the .env file last */
static void store(long n, const char *env, FILE *msg, const char *tmpmsg)
{
	char path[4200], tmp[4200];

	fclose(msg);
	snprintf(path, sizeof path, "%s/%ld.eml", store_dir, n);
	rename(tmpmsg, path);
	snprintf(tmp, sizeof tmp, "%s/%ld.env.tmp", store_dir, n);
	snprintf(path, sizeof path, "%s/%ld.env", store_dir, n);
	FILE *f = fopen(tmp, "w");
	if (f) {
		fputs(env, f);
		fclose(f);
		rename(tmp, path);
	}
}

static long next_number(void)
{
	static long n;
	char path[4200];
	struct stat st;

	if (n < number_base)
		n = number_base;
	do {
		n++;
		snprintf(path, sizeof path, "%s/%ld.env", store_dir, n);
	} while (stat(path, &st) == 0);
	return n;
}

/* append strings (up to a NULL) to the bounded envelope text */
static void envf(char *env, size_t cap, ...)
{
	va_list ap;
	const char *a;
	size_t l = strlen(env);

	va_start(ap, cap);
	while ((a = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(a);
		if (l + n + 1 < cap) {
			memcpy(env + l, a, n + 1);
			l += n;
		}
	}
	va_end(ap);
}

/* no reply any more: read until the client goes (60 s at most) */
static void silent(int fd)
{
	time_t t0 = time(NULL);
	char junk[4096];
	ssize_t r;
	do
		r = read(fd, junk, sizeof junk);
	while ((r > 0 || (r < 0 && (errno == EINTR || errno == EAGAIN))) && time(NULL) - t0 < 60);
}

static void serve2(int fd, const char *mode)
{
	static struct in in;
	char cmd[1024], env[16384] = "", verbs[512], num[32];
	int in_mail = 0, accepted = 0, errors = 0;
	long taken = 0; /* messages accepted on this connection */
	struct timeval tv = {30, 0};
	struct { /* the message BDAT is putting together */
		FILE *f;
		char tmp[4200];
		long n;
		long long size, bare, high;
		int chunks, prev_cr;
	} bdat = {0};

	memset(&in, 0, sizeof in);
	in.fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (strcmp(mode, "silence") == 0 || (hang_after && total_accepted >= hang_after)) {
		silent(fd);
		return;
	}
	if (strcmp(mode, "greet421") == 0 || (max_total && total_accepted >= max_total)) {
		say(fd, ctl ? "421 too busy" CTL_TEXT "\r\n" : "421 too busy\r\n");
		return;
	}
	say(fd, ctl ? "220 smtpfault" CTL_TEXT "ESMTP\r\n" : "220 smtpfault ESMTP\r\n");
	while (getline2(&in, cmd, sizeof cmd)) {
		if (strncasecmp(cmd, "EHLO", 4) == 0 || strncasecmp(cmd, "HELO", 4) == 0) {
			in_mail = accepted = 0;
			if (bdat.f)
				fclose(bdat.f), unlink(bdat.tmp);
			memset(&bdat, 0, sizeof bdat);
			env[0] = '\0';
			envf(env, sizeof env, "helo ", cmd[4] ? cmd + 5 : "", "\n", (char *)NULL);
			if (toupper((unsigned char)cmd[0]) == 'H') {
				say(fd, "250 smtpfault\r\n");
				continue;
			}
			snprintf(num, sizeof num, "%ld", adv_size);
			say(fd, ctl ? "250-smtpfault" CTL_TEXT "hello\r\n250-PIPELINING\r\n"
			            : "250-smtpfault\r\n250-PIPELINING\r\n");
			say(fd, no8bit ? "" : "250-8BITMIME\r\n");
			say(fd, utf8 ? "250-SMTPUTF8\r\n" : "");
			say(fd, dsn ? "250-DSN\r\n" : "");
			say(fd, chunking ? "250-CHUNKING\r\n" : "");
			say(fd, "250-SIZE ");
			say(fd, num);
			say(fd, "\r\n250 ENHANCEDSTATUSCODES\r\n");
		} else if (strncasecmp(cmd, "MAIL FROM:", 10) == 0) {
			if (in_mail) {
				say(fd, "503 5.5.1 nested MAIL command\r\n");
				continue;
			}
			in_mail = 1;
			accepted = 0;
			/* what has arrived before the answer: pipelining shows here */
			await_data(&in, 1000);
			snprintf(verbs, sizeof verbs, "MAIL");
			buffered_verbs(&in, verbs, sizeof verbs);
			char *h = strstr(env, "helo ");
			size_t hl = h ? strcspn(h, "\n") + 1 : 0;
			env[hl] = '\0'; /* a new transaction: keep only helo */
			envf(env, sizeof env, "mail ", cmd + 10, "\npipelined ", verbs, "\n",
			     (char *)NULL);
			say(fd, "250 2.1.0 ok\r\n");
		} else if (strncasecmp(cmd, "RCPT TO:", 8) == 0) {
			const char *a = cmd + 8;
			if (!in_mail) {
				say(fd, "503 5.5.1 need MAIL first\r\n");
				continue;
			}
			if (strcmp(mode, "rcpt452") == 0 ||
			    (strcmp(mode, "rcpt452bad") == 0 && strstr(a, "bad")) ||
			    (strcmp(mode, "rcptmixed") == 0 && strstr(a, "defer"))) {
				envf(env, sizeof env, "rcpt ", a, " 452\n", (char *)NULL);
				say(fd, "452 4.2.2 mailbox full\r\n");
			} else if ((strcmp(mode, "rcpt550one") == 0 ||
			            strcmp(mode, "rcptmixed") == 0) &&
			           strstr(a, "bad")) {
				envf(env, sizeof env, "rcpt ", a, " 550\n", (char *)NULL);
				say(fd, ctl ? "550 5.1.1 no such user" CTL_TEXT "\r\n"
				            : "550 5.1.1 no such user\r\n");
			} else {
				envf(env, sizeof env, "rcpt ", a, " 250\n", (char *)NULL);
				accepted++;
				say(fd, "250 2.1.5 ok\r\n");
			}
		} else if (strcasecmp(cmd, "DATA") == 0) {
			if (!in_mail) {
				say(fd, "503 5.5.1 need MAIL first\r\n");
				continue;
			}
			if (!accepted) {
				say(fd, "554 5.5.1 no valid recipients\r\n");
				in_mail = 0;
				continue;
			}
			say(fd, "354 go ahead, end with <CRLF>.<CRLF>\r\n");
			long long bare, high, size;
			if (strcmp(mode, "dropdata") == 0) {
				read_data(&in, NULL, 65536, &bare, &high);
				return; /* no reply */
			}
			FILE *f = NULL;
			char tmp[4200];
			long n = 0;
			if (store_dir) {
				n = next_number();
				snprintf(tmp, sizeof tmp, "%s/%ld.eml.tmp", store_dir, n);
				f = fopen(tmp, "w");
			}
			size = read_data(&in, f, 0, &bare, &high);
			if (size < 0) {
				if (f)
					fclose(f), unlink(tmp);
				return;
			}
			in_mail = 0;
			if (f) {
				char sz[64];
				snprintf(sz, sizeof sz, "size %lld\nbare %lld\nhigh %lld\n", size,
				         bare, high);
				envf(env, sizeof env, sz, (char *)NULL);
				store(n, env, f, tmp);
			}
			snprintf(num, sizeof num, "%ld", n);
			say(fd, "250 2.0.0 ok: queued as ");
			say(fd, num);
			say(fd, "\r\n");
			total_accepted++;
			if (hang_after && total_accepted >= hang_after) {
				fputs("smtpfault: silent\n", stderr);
				silent(fd);
				return;
			}
			if ((max_total && total_accepted >= max_total) ||
			    (max_per_conn && ++taken >= max_per_conn))
				return; /* gone, whatever comes next */
		} else if (chunking && strncasecmp(cmd, "BDAT ", 5) == 0) {
			char *end;
			long long len = strtoll(cmd + 5, &end, 10);
			int last = strcasecmp(end, " LAST") == 0;
			if (end == cmd + 5 || len < 0 || (*end && !last)) {
				say(fd, "501 5.5.4 BDAT size [LAST]\r\n");
				continue;
			}
			if (!bdat.f && in_mail && accepted && store_dir) {
				bdat.n = next_number();
				snprintf(bdat.tmp, sizeof bdat.tmp, "%s/%ld.eml.tmp", store_dir,
				         bdat.n);
				bdat.f = fopen(bdat.tmp, "w");
			}
			/* the chunk is read whatever the answer (RFC 3030 §2) */
			for (long long left = len; left > 0;) {
				if (in.start == in.end && !fill(&in)) {
					if (bdat.f)
						fclose(bdat.f), unlink(bdat.tmp);
					return;
				}
				size_t k = in.end - in.start;
				if ((long long)k > left)
					k = (size_t)left;
				count_octets(in.buf + in.start, k, &bdat.prev_cr, &bdat.bare,
				             &bdat.high);
				if (bdat.f)
					fwrite(in.buf + in.start, 1, k, bdat.f);
				in.start += k;
				left -= (long long)k;
				bdat.size += (long long)k;
			}
			bdat.chunks++;
			if (!in_mail || !accepted) {
				say(fd, in_mail ? "554 5.5.1 no valid recipients\r\n"
				                : "503 5.5.1 need MAIL first\r\n");
				continue;
			}
			if (!last) {
				snprintf(num, sizeof num, "%lld", len);
				say(fd, "250 2.0.0 ");
				say(fd, num);
				say(fd, " octets received\r\n");
				continue;
			}
			in_mail = 0;
			if (bdat.f) {
				char sz[128];
				snprintf(sz, sizeof sz,
				         "size %lld\nbare %lld\nhigh %lld\nchunks %d\n", bdat.size,
				         bdat.bare, bdat.high, bdat.chunks);
				envf(env, sizeof env, sz, (char *)NULL);
				store(bdat.n, env, bdat.f, bdat.tmp);
			}
			snprintf(num, sizeof num, "%ld", bdat.n);
			memset(&bdat, 0, sizeof bdat);
			say(fd, "250 2.0.0 ok: queued as ");
			say(fd, num);
			say(fd, "\r\n");
			total_accepted++;
			if ((max_total && total_accepted >= max_total) ||
			    (max_per_conn && ++taken >= max_per_conn))
				return; /* gone, whatever comes next */
		} else if (strcasecmp(cmd, "RSET") == 0) {
			if (bdat.f)
				fclose(bdat.f), unlink(bdat.tmp);
			memset(&bdat, 0, sizeof bdat);
			in_mail = accepted = 0;
			say(fd, "250 2.0.0 ok\r\n");
		} else if (strcasecmp(cmd, "NOOP") == 0) {
			say(fd, "250 2.0.0 ok\r\n");
		} else if (strcasecmp(cmd, "QUIT") == 0) {
			session_over();
			say(fd, "221 2.0.0 bye\r\n");
			return;
		} else if (strncasecmp(cmd, "STARTTLS", 8) == 0) {
			say(fd, "454 4.7.0 TLS not available\r\n");
		} else {
			say(fd, "500 5.5.2 command not recognised\r\n");
			if (++errors > 50)
				return;
		}
	}
}

/* Die with the test that started us, even when it is SIGKILLed (meson kills
 * a bats file that runs past its timeout): the kernel sends SIGTERM when the
 * parent goes; a parent gone before we asked shows as a changed getppid(). */
static void die_with_parent(void)
{
	pid_t parent = getppid();

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1);
}

/* -6: a listener on [::1] and, on the same port, a socket bound to
 * 127.0.0.1 that does not listen; the port, or -1 */
static int listen_v6(int port, int *lfd, int *hold)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
		socklen_t sl = sizeof s4;
		int one = 1;

		s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*hold = socket(AF_INET, SOCK_STREAM, 0);
		*lfd = socket(AF_INET6, SOCK_STREAM, 0);
		setsockopt(*lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (*hold >= 0 && *lfd >= 0 &&
		    bind(*hold, (struct sockaddr *)&s4, sizeof s4) == 0 &&
		    getsockname(*hold, (struct sockaddr *)&s4, &sl) == 0) {
			s6.sin6_port = s4.sin_port;
			if (bind(*lfd, (struct sockaddr *)&s6, sizeof s6) == 0 &&
			    listen(*lfd, 16) == 0)
				return ntohs(s4.sin_port);
		}
		close(*hold), close(*lfd);
		if (port) /* asked for: no other to try */
			break;
	}
	return -1;
}

/* one connection, logged, in the mode */
static void serve_one(int fd, const char *mode)
{
	int one = 1;

	/* replies written line by line go at once (no delayed ACK wait) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	fprintf(stderr, "smtpfault: %s: connection\n", mode);
	if (is_mode2(mode))
		serve2(fd, mode);
	else
		serve(fd, mode);
}

/* -C: a process for each connection; the most open at once logged */
static void serve_concurrently(int lfd, const char *mode)
{
	int pfd[2], open_now = 0, most = 0;
	long conns = 0;
	char buf[256];

	if (pipe(pfd) < 0 || fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0) {
		perror("smtpfault: pipe");
		exit(71);
	}
	signal(SIGCHLD, SIG_DFL);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		ssize_t r;
		/* the sessions that ended before this connection came */
		while ((r = read(pfd[0], buf, sizeof buf)) > 0)
			open_now -= (int)r;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (++open_now > most) {
			most = open_now;
			fprintf(stderr, "smtpfault: %d connection%s open at once\n", most,
			        most == 1 ? "" : "s");
		}
		conns++;
		fflush(stderr);
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			close(pfd[0]);
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			done_fd = pfd[1];
			number_base = conns * 100000;
			serve_one(fd, mode);
			session_over();
			close(fd);
			_exit(0);
		}
		if (pid < 0) { /* served here, then */
			ssize_t w = write(pfd[1], "x", 1);
			(void)w;
			say(fd, "421 4.3.0 no process\r\n");
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof sa;
	const char *pidfile = NULL, *mode;
	int port = 0, c, lfd, one = 1, v6 = 0, hold = -1, barrier = 0, concurrent = 0;

	die_with_parent();
	while ((c = getopt(argc, argv, "67Ccenup:P:d:s:x:X:H:B:")) != -1) {
		if (c == 'C')
			concurrent = 1;
		else if (c == '6')
			v6 = 1;
		else if (c == '7')
			no8bit = 1;
		else if (c == 'c')
			chunking = 1;
		else if (c == 'n')
			dsn = 1;
		else if (c == 'e')
			ctl = 1;
		else if (c == 'u')
			utf8 = 1;
		else if (c == 'p')
			port = atoi(optarg);
		else if (c == 'P')
			pidfile = optarg;
		else if (c == 'd')
			store_dir = optarg;
		else if (c == 's')
			adv_size = atol(optarg);
		else if (c == 'x')
			max_total = atol(optarg);
		else if (c == 'X')
			max_per_conn = atol(optarg);
		else if (c == 'H')
			hang_after = atol(optarg);
		else if (c == 'B')
			barrier = atoi(optarg) > 0 && atoi(optarg) <= 64 ? atoi(optarg) : 0;
		else
			return 64;
	}
	if (optind + 1 != argc) {
		fprintf(stderr,
		        "usage: smtpfault [-67Ccenu] [-p PORT] [-P PIDFILE] [-d DIR] [-s SIZE] "
		        "[-x K] [-X K] [-H K] [-B K] MODE\n");
		return 64;
	}
	mode = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	if (v6) {
		if ((port = listen_v6(port, &lfd, &hold)) < 0) {
			perror("smtpfault: bind [::1]");
			return 71;
		}
		sa.sin_port = htons((uint16_t)port);
	} else {
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0) {
			perror("smtpfault: bind");
			return 71;
		}
		getsockname(lfd, (struct sockaddr *)&sa, &sl);
	}
	/* the pid file first: whoever sees PORT= may read it at once */
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (f) {
			fprintf(f, "%ld\n", (long)getpid());
			fclose(f);
		}
	}
	printf("PORT=%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	if (concurrent)
		serve_concurrently(lfd, mode);
	if (barrier) { /* -B K: K connections held at once, then served in turn */
		int held[64], nh = 0;
		time_t until = time(NULL) + 60;
		while (nh < barrier && time(NULL) < until) {
			struct pollfd pf = {.fd = lfd, .events = POLLIN};
			if (poll(&pf, 1, 1000) > 0 && (held[nh] = accept(lfd, NULL, NULL)) >= 0)
				setsockopt(held[nh++], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		}
		barrier_failed = nh < barrier;
		fprintf(stderr, "smtpfault: barrier %s with %d connection%s\n",
		        barrier_failed ? "not reached" : "reached", nh, nh == 1 ? "" : "s");
		for (int i = 0; i < nh; i++) {
			fprintf(stderr, "smtpfault: %s: connection\n", mode);
			if (barrier_failed)
				say(held[i], "421 barrier not reached\r\n");
			else if (is_mode2(mode))
				serve2(held[i], mode);
			else
				serve(held[i], mode);
			close(held[i]);
		}
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve_one(fd, mode);
		close(fd);
	}
}
