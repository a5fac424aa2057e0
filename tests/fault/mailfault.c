/* mailfault: a scripted misbehaving IMAP/POP3 server for mfetch tests, on
 * 127.0.0.1 only, for the faults Dovecot will not make. It speaks just
 * enough of either protocol to reach the fault; every login is accepted.
 *   imap-inject  plain IMAP: STARTTLS is answered "OK" and, in the same
 *                write, an untagged line: a client must not go on
 *   pop-inject   plain POP3: STLS is answered "+OK" and another line
 *   imap-droplit implicit TLS: two messages; the first BODY[] literal
 *                announces 1000 bytes, 10 come, the connection closes
 *   imap-biglit  implicit TLS: a BODY[] literal of 2 GiB is announced,
 *                a few bytes come, the connection closes
 *   pop-dropretr implicit TLS: two messages; RETR 1 sends half a message
 *                and closes the connection
 *   pop-deleerr  implicit TLS: two whole messages; every DELE is -ERR
 *   imap-badlit  implicit TLS: the BODY[] literal announced is {-5}, and
 *                then nothing comes until the client closes
 *   pop-badsize  implicit TLS: two messages, LIST sizes -5 and
 *                99999999999999999999
 *   imap-caps    implicit TLS: a server that works, with two messages
 *                (UIDs 1 and 2), whose capabilities come only in untagged
 *                "* CAPABILITY" replies (none in the greeting or a tagged
 *                OK, whose text is "CAPABILITY completed"), $MF_CAPS before
 *                login ("IMAP4rev1 AUTH=PLAIN") and $MF_CAPS_AUTHED after
 *                ("IMAP4rev1 IDLE UIDPLUS"); "UID SEARCH DELETED" finds
 *                the UIDs in $MF_DELETED (another client's, say "9"), and
 *                those flagged \Deleted by this one; IDLE waits for DONE
 *   imap-caps-starttls  the same on a plain connection that STARTTLS turns
 *                into TLS: before it, "* CAPABILITY IMAP4rev1 STARTTLS
 *                LOGINDISABLED" (no AUTH=, no LOGIN); after it, $MF_CAPS;
 *                a client must ask again once TLS is up (RFC 9051 6.2.1)
 *   pop-many     implicit TLS: a working POP3 server with $MF_COUNT
 *                messages (2000 by default; Message-ID <mfN@mailfault.test>,
 *                UIDL uid-mfN), PIPELINING offered; a DELE takes effect at
 *                QUIT, and what is deleted stays deleted for the next
 *                connection (not each command logged: "mailfault: left N"
 *                when a session ends, before the answer to QUIT or LOGOUT)
 *   imap-many    the same over IMAP (UIDs 1 to $MF_COUNT, UIDPLUS): UID
 *                SEARCH, UID FETCH, UID STORE \Deleted, UID EXPUNGE, and
 *                UID COPY (to anywhere: "mailfault: copied N, M twice"
 *                before "left", when any were); the capabilities are
 *                $MF_CAPS ("IMAP4rev1 AUTH=PLAIN UIDPLUS"); no MOVE;
 *                LIST answers the lines of $MF_LIST (separated by '|'),
 *                whatever the pattern, and every folder SELECTs the one
 *                mailbox
 *   imap-ctl     implicit TLS: a hostile server's text (CTL_TEXT: an OSC
 *   pop-ctl      title sequence ESC ] 0 ; pwned BEL, a C1 CSI as U+009B and
 *                as a raw 0x9b byte, DEL and a CR inside the line) in the
 *                greeting and in the refusal of every login: a tagged NO
 *                to LOGIN or AUTHENTICATE, an -ERR to PASS
 * The POP3 modes offer no PIPELINING: a RETR or DELE with the next command
 * already behind it logs "pipelined without PIPELINING".
 * With -c CERT -k KEY (PEM) for the TLS modes. Logs one line per command
 * to stderr ("C: ..."; a PASS or LOGIN line as "C: <password>", so a test
 * can tell one came). Writes PIDFILE, prints "PORT=n", serves one
 * connection after another until killed.
 * usage: mailfault [-p PORT] [-P PIDFILE] [-c CERT -k KEY] MODE */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *mode;
static SSL *ssl;         /* NULL: plain */
static SSL_CTX *tls_ctx; /* for STARTTLS */
static int cfd;

static void say(const char *s)
{
	size_t n = strlen(s);

	if (ssl)
		SSL_write(ssl, s, (int)n);
	else
		while (n) {
			ssize_t w = write(cfd, s, n);
			if (w <= 0)
				return;
			s += w;
			n -= (size_t)w;
		}
}

/* one line without CR LF; 0 at the end of the connection */
static int readline(char *buf, size_t n)
{
	size_t k = 0;

	while (k + 1 < n) {
		char c;
		int r = ssl ? SSL_read(ssl, &c, 1) : (int)read(cfd, &c, 1);
		if (r <= 0)
			return 0;
		if (c == '\n')
			break;
		if (c != '\r')
			buf[k++] = c;
	}
	buf[k] = '\0';
	return 1;
}

/* the -ctl modes: what a hostile server puts in its greeting and refusals */
#define CTL_TEXT " \033]0;pwned\007 \302\233 \233 \177 \r "

static void logcmd(const char *l)
{
	const char *a = strcasestr(l, "AUTHENTICATE ");

	if (a) /* the mechanism is shown, the rest is not */
		fprintf(stderr, "C: <password> AUTHENTICATE %.*s\n", (int)strcspn(a + 13, " "),
		        a + 13);
	else if (strcasestr(l, " LOGIN "))
		fprintf(stderr, "C: <password> LOGIN\n");
	else if (strncasecmp(l, "PASS ", 5) == 0)
		fprintf(stderr, "C: <password>\n");
	else
		fprintf(stderr, "C: %s\n", l);
}

static const char msg1[] = "Subject: m1\r\nMessage-ID: <m1@mailfault.test>\r\n\r\none\r\n";
static const char msg2[] = "Subject: m2\r\nMessage-ID: <m2@mailfault.test>\r\n\r\ntwo\r\n";

/* the client sent more without waiting for the answer (after a pause,
 * so that a pipelined command has had time to arrive) */
static void pipelined(const char *l)
{
	struct pollfd pf = {cfd, POLLIN, 0};

	usleep(50000);
	if ((ssl && SSL_pending(ssl) > 0) || poll(&pf, 1, 0) > 0)
		fprintf(stderr, "mailfault: %s: pipelined without PIPELINING\n", l);
}

static void pop(void)
{
	char l[2048], out[4096];
	int ctl = strcmp(mode, "pop-ctl") == 0;

	say(ctl ? "+OK mailfault" CTL_TEXT "ready\r\n" : "+OK mailfault ready\r\n");
	while (readline(l, sizeof l)) {
		logcmd(l);
		if (ctl && strncasecmp(l, "PASS ", 5) == 0) {
			say("-ERR [AUTH] denied" CTL_TEXT "go away\r\n");
		} else if (strcasecmp(l, "CAPA") == 0) {
			say(strcmp(mode, "pop-inject") == 0 ? "+OK\r\nSTLS\r\nUIDL\r\nUSER\r\n.\r\n"
			                                    : "+OK\r\nUIDL\r\nUSER\r\n.\r\n");
		} else if (strcasecmp(l, "STLS") == 0) {
			say("+OK begin TLS\r\n+OK injected\r\n");
			sleep(1);
			return;
		} else if (strcasecmp(l, "UIDL") == 0) {
			say("+OK\r\n1 uid-m1\r\n2 uid-m2\r\n.\r\n");
		} else if (strcasecmp(l, "LIST") == 0) {
			if (strcmp(mode, "pop-badsize") == 0)
				snprintf(out, sizeof out,
				         "+OK\r\n1 -5\r\n2 99999999999999999999\r\n.\r\n");
			else
				snprintf(out, sizeof out, "+OK\r\n1 %zu\r\n2 %zu\r\n.\r\n",
				         sizeof msg1 - 1, sizeof msg2 - 1);
			say(out);
		} else if (strncasecmp(l, "RETR ", 5) == 0) {
			int n = atoi(l + 5);
			pipelined(l);
			if (strcmp(mode, "pop-dropretr") == 0 && n == 1) {
				say("+OK\r\nSubject: m1\r\nMessage-ID: <m1@mai");
				return;
			}
			snprintf(out, sizeof out, "+OK\r\n%s.\r\n", n == 1 ? msg1 : msg2);
			say(out);
		} else if (strncasecmp(l, "DELE ", 5) == 0) {
			pipelined(l);
			say("-ERR no deleting today\r\n");
		} else if (strcasecmp(l, "QUIT") == 0) {
			say("+OK bye\r\n");
			return;
		} else {
			say("+OK\r\n");
		}
	}
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v ? v : dflt;
}

/* the UIDs of an IMAP set ("1:2", "2", "1,2") that are 1 or 2 */
static void uid_set(const char *set, int want[3])
{
	want[1] = want[2] = 0;
	while (*set >= '0' && *set <= '9') {
		unsigned long a = strtoul(set, (char **)&set, 10), b = a;
		if (*set == ':') {
			set++;
			b = *set == '*' ? 2 : strtoul(set, (char **)&set, 10);
			if (*set == '*')
				set++;
		}
		for (unsigned long u = a; u <= b && u <= 2; u++)
			want[u] = 1;
		if (*set != ',')
			break;
		set++;
	}
}

static void imap(void)
{
	char l[2048], tag[64], out[4096];
	int st = strcmp(mode, "imap-caps-starttls") == 0;
	int caps = st || strcmp(mode, "imap-caps") == 0, authed = 0, deleted[3] = {0};
	int ctl = strcmp(mode, "imap-ctl") == 0;

	if (caps)
		say("* OK mailfault ready\r\n");
	else if (ctl)
		say("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailfault" CTL_TEXT "ready\r\n");
	else
		say(ssl ? "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailfault ready\r\n"
		        : "* OK [CAPABILITY IMAP4rev1 STARTTLS] mailfault ready\r\n");
	while (readline(l, sizeof l)) {
		logcmd(l);
		if (sscanf(l, "%63s", tag) != 1)
			continue;
		const char *c = l + strlen(tag) + (l[strlen(tag)] == ' ');
		if (st && !ssl && strncasecmp(c, "STARTTLS", 8) == 0) {
			snprintf(out, sizeof out, "%s OK begin TLS\r\n", tag);
			say(out);
			ssl = SSL_new(tls_ctx);
			SSL_set_fd(ssl, cfd);
			if (SSL_accept(ssl) != 1)
				return;
		} else if (strncasecmp(c, "STARTTLS", 8) == 0) {
			snprintf(out, sizeof out, "%s OK begin TLS\r\n* OK injected\r\n", tag);
			say(out);
			sleep(1);
			return;
		} else if (strncasecmp(c, "CAPABILITY", 10) == 0) {
			if (caps)
				snprintf(out, sizeof out,
				         "* CAPABILITY %s\r\n%s OK CAPABILITY completed\r\n",
				         st && !ssl ? "IMAP4rev1 STARTTLS LOGINDISABLED"
				         : authed
				             ? env_or("MF_CAPS_AUTHED", "IMAP4rev1 IDLE UIDPLUS")
				             : env_or("MF_CAPS", "IMAP4rev1 AUTH=PLAIN"),
				         tag);
			else
				snprintf(out, sizeof out, "* CAPABILITY IMAP4rev1 %s\r\n%s OK\r\n",
				         ssl ? "AUTH=PLAIN" : "STARTTLS", tag);
			say(out);
		} else if (ctl && (strncasecmp(c, "AUTHENTICATE", 12) == 0 ||
		                   strncasecmp(c, "LOGIN ", 6) == 0)) {
			if (strncasecmp(c, "AUTHENTICATE", 12) == 0) {
				say("+ \r\n");
				if (!readline(l, sizeof l))
					return;
			}
			snprintf(out, sizeof out,
			         "%s NO [AUTHENTICATIONFAILED] denied" CTL_TEXT "go away\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "AUTHENTICATE", 12) == 0) {
			say("+ \r\n");
			if (!readline(l, sizeof l))
				return;
			authed = 1;
			snprintf(out, sizeof out, "%s OK logged in\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "LOGIN ", 6) == 0) {
			authed = 1;
			snprintf(out, sizeof out, "%s OK LOGIN completed\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "SELECT", 6) == 0 || strncasecmp(c, "EXAMINE", 7) == 0) {
			snprintf(out, sizeof out,
			         "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n"
			         "%s OK [READ-WRITE] selected\r\n",
			         tag);
			say(out);
		} else if (strncasecmp(c, "UID SEARCH DELETED", 18) == 0) {
			snprintf(out, sizeof out, "* SEARCH%s%s%s%s\r\n%s OK\r\n",
			         deleted[1] ? " 1" : "", deleted[2] ? " 2" : "",
			         *env_or("MF_DELETED", "") ? " " : "", env_or("MF_DELETED", ""),
			         tag);
			say(out);
		} else if (strncasecmp(c, "UID SEARCH", 10) == 0) {
			snprintf(out, sizeof out, "* SEARCH 1 2\r\n%s OK\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "UID FETCH", 9) == 0 && strcasestr(c, "RFC822.SIZE") &&
		           !strcasestr(c, "BODY")) {
			snprintf(
			    out, sizeof out,
			    "* 1 FETCH (UID 1 RFC822.SIZE %zu)\r\n* 2 FETCH (UID 2 RFC822.SIZE "
			    "%zu)\r\n%s OK\r\n",
			    sizeof msg1 - 1, sizeof msg2 - 1, tag);
			say(out);
		} else if (strncasecmp(c, "UID FETCH", 9) == 0 && caps) {
			int want[3];
			uid_set(c + 10, want);
			for (int u = 1; u <= 2; u++)
				if (want[u]) {
					const char *m = u == 1 ? msg1 : msg2;
					snprintf(out, sizeof out,
					         "* %d FETCH (UID %d BODY[] {%zu}\r\n%s)\r\n", u, u,
					         strlen(m), m);
					say(out);
				}
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "UID FETCH", 9) == 0 &&
		           strcmp(mode, "imap-badlit") == 0) {
			say("* 1 FETCH (UID 1 BODY[] {-5}\r\n"); /* and waits */
		} else if (strncasecmp(c, "UID FETCH", 9) == 0) {
			if (strcmp(mode, "imap-biglit") == 0)
				say("* 1 FETCH (UID 1 BODY[] {2147483648}\r\nSubject: big\r\n\r\n");
			else
				say("* 1 FETCH (UID 1 BODY[] {1000}\r\nSubject: ");
			return; /* and gone */
		} else if (strncasecmp(c, "UID STORE", 9) == 0) {
			if (strcasestr(c, "\\Deleted")) {
				int want[3];
				uid_set(c + 10, want);
				deleted[1] |= want[1];
				deleted[2] |= want[2];
			}
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "IDLE", 4) == 0) {
			say("+ idling\r\n");
			if (!readline(l, sizeof l))
				return;
			logcmd(l);
			snprintf(out, sizeof out, "%s OK IDLE terminated\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "LOGOUT", 6) == 0) {
			snprintf(out, sizeof out, "* BYE\r\n%s OK\r\n", tag);
			say(out);
			return;
		} else {
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		}
	}
}

/* ---- the -many modes: a mailbox of $MF_COUNT messages that lasts from
 * one connection to the next */
static int nmany;
static char *gone;    /* [1..nmany]: deleted (POP3) or expunged (IMAP) */
static char *flagged; /* [1..nmany]: IMAP \Deleted */
static int *copied;   /* [1..nmany]: IMAP UID COPY, how many times */

static void many_init(void)
{
	nmany = atoi(env_or("MF_COUNT", "2000"));
	if (nmany < 1)
		nmany = 1;
	gone = calloc((size_t)nmany + 1, 1);
	flagged = calloc((size_t)nmany + 1, 1);
	copied = calloc((size_t)nmany + 1, sizeof *copied);
}

/* message i, CR LF line ends, no line starting with '.' */
static int many_msg(int i, char *out, size_t n)
{
	return snprintf(out, n,
	                "Subject: mf %d\r\nMessage-ID: <mf%d@mailfault.test>\r\n\r\nbody of %d\r\n"
	                "a line to give it some weight, a line to give it some weight\r\n"
	                "and another one, and another one, and another one\r\n",
	                i, i, i);
}

/* output gathered, then sent with one say(): a listing of 2,000 lines
 * is not 2,000 TLS records */
static char *ob;
static size_t obn, obcap;

static void put(const char *t)
{
	size_t n = strlen(t);

	if (obn + n + 1 > obcap) {
		obcap = (obn + n + 1) * 2;
		ob = realloc(ob, obcap);
		if (!ob)
			abort();
	}
	memcpy(ob + obn, t, n + 1);
	obn += n;
}

static void flush(void)
{
	if (obn)
		say(ob);
	obn = 0;
}

static void many_left(void)
{
	int left = 0, n = 0, twice = 0;

	for (int i = 1; i <= nmany; i++) {
		left += !gone[i];
		n += copied[i] > 0;
		twice += copied[i] > 1;
	}
	if (n)
		fprintf(stderr, "mailfault: copied %d, %d twice\n", n, twice);
	fprintf(stderr, "mailfault: left %d\n", left);
}

static void pop_many(void)
{
	char l[2048], out[4096];
	int *num = malloc(((size_t)nmany + 1) * sizeof *num), n = 0;
	char *dele = calloc((size_t)nmany + 1, 1);

	for (int i = 1; i <= nmany; i++) /* the session's numbers */
		if (!gone[i])
			num[++n] = i;
	say("+OK mailfault ready\r\n");
	while (readline(l, sizeof l)) {
		int k = atoi(l + (strlen(l) > 5 ? 5 : strlen(l)));
		if (strcasecmp(l, "CAPA") == 0) {
			say("+OK\r\nUIDL\r\nUSER\r\nPIPELINING\r\n.\r\n");
		} else if (strcasecmp(l, "UIDL") == 0 || strcasecmp(l, "LIST") == 0) {
			int uidl = toupper((unsigned char)l[0]) == 'U';
			put("+OK\r\n");
			for (int j = 1; j <= n; j++) {
				char m[1024];
				if (uidl)
					snprintf(out, sizeof out, "%d uid-mf%d\r\n", j, num[j]);
				else
					snprintf(out, sizeof out, "%d %d\r\n", j,
					         many_msg(num[j], m, sizeof m));
				put(out);
			}
			put(".\r\n");
			flush();
		} else if (strncasecmp(l, "RETR ", 5) == 0 && k >= 1 && k <= n) {
			char m[1024];
			many_msg(num[k], m, sizeof m);
			snprintf(out, sizeof out, "+OK\r\n%s.\r\n", m);
			say(out);
		} else if (strncasecmp(l, "DELE ", 5) == 0 && k >= 1 && k <= n) {
			dele[num[k]] = 1;
			say("+OK\r\n");
		} else if (strncasecmp(l, "RETR ", 5) == 0 || strncasecmp(l, "DELE ", 5) == 0) {
			say("-ERR no such message\r\n");
		} else if (strcasecmp(l, "QUIT") == 0) {
			for (int i = 1; i <= nmany; i++)
				gone[i] |= dele[i];
			many_left(); /* before the answer: the client ends after it */
			say("+OK bye\r\n");
			free(num);
			free(dele);
			return;
		} else {
			say("+OK\r\n");
		}
	}
	many_left();
	free(num);
	free(dele);
}

/* each UID of an IMAP set ("1:5,7,9:*") that is there, in want[] */
static void many_set(const char *set, char *want)
{
	int top = 0;

	for (int i = 1; i <= nmany; i++)
		if (!gone[i])
			top = i;
	memset(want, 0, (size_t)nmany + 1);
	while (*set == '*' || (*set >= '0' && *set <= '9')) {
		long a = *set == '*' ? top : strtol(set, (char **)&set, 10), b = a;
		if (*set == '*')
			set++;
		if (*set == ':') {
			set++;
			b = *set == '*' ? top : strtol(set, (char **)&set, 10);
			if (*set == '*')
				set++;
		}
		if (a > b) {
			long t = a;
			a = b;
			b = t;
		}
		for (long u = a < 1 ? 1 : a; u <= b && u <= nmany; u++)
			want[u] = !gone[u];
		if (*set != ',')
			break;
		set++;
	}
}

static void imap_many(void)
{
	char l[2048], tag[64], out[4096], m[1024];
	char *want = malloc((size_t)nmany + 1);

	const char *caps = env_or("MF_CAPS", "IMAP4rev1 AUTH=PLAIN UIDPLUS");

	snprintf(out, sizeof out, "* OK [CAPABILITY %s] mailfault ready\r\n", caps);
	say(out);
	while (readline(l, sizeof l)) {
		if (sscanf(l, "%63s", tag) != 1)
			continue;
		const char *c = l + strlen(tag) + (l[strlen(tag)] == ' ');
		if (strncasecmp(c, "CAPABILITY", 10) == 0) {
			snprintf(out, sizeof out, "* CAPABILITY %s\r\n%s OK\r\n", caps, tag);
			say(out);
		} else if (strncasecmp(c, "AUTHENTICATE", 12) == 0) {
			say("+ \r\n");
			if (!readline(l, sizeof l))
				break;
			snprintf(out, sizeof out, "%s OK logged in\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "SELECT", 6) == 0) {
			int n = 0;
			for (int i = 1; i <= nmany; i++)
				n += !gone[i];
			snprintf(out, sizeof out,
			         "* %d EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT %d] "
			         "ok\r\n%s OK [READ-WRITE] selected\r\n",
			         n, nmany + 1, tag);
			say(out);
		} else if (strncasecmp(c, "UID SEARCH", 10) == 0) {
			const char *a = c + 10;
			while (*a == ' ')
				a++;
			if (strncasecmp(a, "UID ", 4) == 0)
				many_set(a + 4, want);
			else
				many_set("1:*", want);
			int deleted = strncasecmp(a, "DELETED", 7) == 0;
			put("* SEARCH");
			for (int i = 1; i <= nmany; i++)
				if (want[i] && (!deleted || flagged[i])) {
					snprintf(out, sizeof out, " %d", i);
					put(out);
				}
			snprintf(out, sizeof out, "\r\n%s OK\r\n", tag);
			put(out);
			flush();
		} else if (strncasecmp(c, "UID FETCH ", 10) == 0) {
			many_set(c + 10, want);
			for (int i = 1, seq = 0; i <= nmany; i++) {
				seq += !gone[i];
				if (!want[i])
					continue;
				int n = many_msg(i, m, sizeof m);
				if (strcasestr(c, "BODY"))
					snprintf(out, sizeof out,
					         "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", seq,
					         i, n, m);
				else
					snprintf(out, sizeof out,
					         "* %d FETCH (UID %d RFC822.SIZE %d)\r\n", seq, i,
					         n);
				say(out);
			}
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "UID STORE ", 10) == 0) {
			many_set(c + 10, want);
			for (int i = 1; i <= nmany; i++)
				if (want[i] && strcasestr(c, "\\Deleted"))
					flagged[i] = 1;
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "LIST ", 5) == 0) {
			const char *ls = env_or("MF_LIST", "* LIST () \"/\" INBOX");
			for (const char *p = ls; *p;) {
				size_t k = strcspn(p, "|");
				snprintf(out, sizeof out, "%.*s\r\n", (int)k, p);
				put(out);
				p += k + (p[k] == '|');
			}
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			put(out);
			flush();
		} else if (strncasecmp(c, "UID COPY ", 9) == 0) {
			many_set(c + 9, want);
			for (int i = 1; i <= nmany; i++)
				if (want[i] && !gone[i])
					copied[i]++;
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "UID EXPUNGE ", 12) == 0 ||
		           strncasecmp(c, "EXPUNGE", 7) == 0) {
			many_set(strncasecmp(c, "UID ", 4) == 0 ? c + 12 : "1:*", want);
			for (int i = 1; i <= nmany; i++)
				if (want[i] && flagged[i])
					gone[i] = 1;
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		} else if (strncasecmp(c, "LOGOUT", 6) == 0) {
			many_left(); /* before the answer: the client ends after it */
			snprintf(out, sizeof out, "* BYE\r\n%s OK\r\n", tag);
			say(out);
			free(want);
			return;
		} else {
			snprintf(out, sizeof out, "%s OK\r\n", tag);
			say(out);
		}
	}
	many_left();
	free(want);
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

int main(int argc, char **argv)
{
	const char *pidfile = NULL, *cert = NULL, *key = NULL;
	int port = 0, c, lfd, one = 1;
	SSL_CTX *ctx = NULL;

	die_with_parent();
	while ((c = getopt(argc, argv, "p:P:c:k:")) != -1) {
		if (c == 'p')
			port = atoi(optarg);
		else if (c == 'P')
			pidfile = optarg;
		else if (c == 'c')
			cert = optarg;
		else if (c == 'k')
			key = optarg;
		else
			return 64;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: mailfault [-p PORT] [-P PIDFILE] [-c CERT -k KEY] MODE\n");
		return 64;
	}
	mode = argv[optind];
	if (strstr(mode, "-many"))
		many_init();
	int tls = strstr(mode, "inject") == NULL;
	int tls_now = tls && strcmp(mode, "imap-caps-starttls") != 0; /* else at STARTTLS */
	if (tls) {
		if (!cert || !key) {
			fprintf(stderr, "mailfault: %s needs -c CERT -k KEY\n", mode);
			return 64;
		}
		ctx = SSL_CTX_new(TLS_server_method());
		if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
			ERR_print_errors_fp(stderr);
			return 69;
		}
		tls_ctx = ctx;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 8) < 0) {
		perror("mailfault: bind");
		return 69;
	}
	socklen_t sl = sizeof sa;
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (f) {
			fprintf(f, "%ld\n", (long)getpid());
			fclose(f);
		}
	}
	printf("PORT=%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		cfd = accept(lfd, NULL, NULL);
		if (cfd < 0)
			continue;
		struct timeval tv = {30, 0};
		setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		fprintf(stderr, "mailfault: %s: connection\n", mode);
		ssl = NULL;
		if (tls_now) {
			ssl = SSL_new(ctx);
			SSL_set_fd(ssl, cfd);
			if (SSL_accept(ssl) != 1) {
				SSL_free(ssl);
				close(cfd);
				continue;
			}
		}
		if (strcmp(mode, "pop-many") == 0)
			pop_many();
		else if (strcmp(mode, "imap-many") == 0)
			imap_many();
		else if (strncmp(mode, "imap", 4) == 0)
			imap();
		else
			pop();
		if (ssl) {
			SSL_shutdown(ssl);
			SSL_free(ssl);
		}
		close(cfd);
	}
}
