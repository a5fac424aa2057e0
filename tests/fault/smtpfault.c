/* smtpfault: a scripted misbehaving SMTP server for mmx/msend tests, on
 * 127.0.0.1 only. It speaks just enough SMTP to reach the misbehaviour:
 *   inject      answers STARTTLS with "220" and, in the same write, a
 *               second line ("250 injected"): a client must refuse TLS
 *   tarpit      waits 2 s before the banner
 *   garbage     a banner that is not an SMTP reply
 *   close       closes the connection right after accepting it
 *   longline    a 10,000-byte banner line
 *   manylines   a 200-line EHLO reply
 *   nostarttls  no STARTTLS in the EHLO reply
 *   badcode     a banner with code 999
 * usage: smtpfault [-p PORT] [-P PIDFILE] MODE   (prints PORT=n) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
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
	say(fd, "220 smtpfault ESMTP\r\n");
	while (readcmd(fd, cmd, sizeof cmd)) {
		if (strncasecmp(cmd, "EHLO", 4) == 0) {
			if (strcmp(mode, "manylines") == 0)
				for (int i = 0; i < 200; i++)
					say(fd, "250-X-LINE\r\n");
			say(fd, "250-smtpfault\r\n250-PIPELINING\r\n");
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
			say(fd, "221 bye\r\n");
			return;
		} else {
			say(fd, "250 ok\r\n");
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof sa;
	const char *pidfile = NULL, *mode;
	int port = 0, c, lfd, one = 1;

	while ((c = getopt(argc, argv, "p:P:")) != -1) {
		if (c == 'p')
			port = atoi(optarg);
		else if (c == 'P')
			pidfile = optarg;
		else
			return 64;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: smtpfault [-p PORT] [-P PIDFILE] MODE\n");
		return 64;
	}
	mode = argv[optind];
	signal(SIGPIPE, SIG_IGN);
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
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fprintf(stderr, "smtpfault: %s: connection\n", mode);
		serve(fd, mode);
		close(fd);
	}
}
