/* libFuzzer target: SMTP replies as a server sends them, through the
 * line reader of proto.c: the greeting, then EHLO answers (multi-line
 * replies, capabilities, SIZE and AUTH values) until the input ends.
 * Whatever parses must be within bounds and make sense. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct mp_smtp_reply *r)
{
	if (r->code < 200 || r->code > 599 || r->lines < 1 || r->lines > 100 ||
	    strnlen(r->text, sizeof r->text) >= sizeof r->text)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	struct mp_proto p;
	struct mp_smtp_reply r;
	struct mp_smtp_caps c;
	struct mp_err e;

	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	for (size_t off = 0; off < size;) {
		ssize_t n = write(sv[1], data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	mp_err_clear(&e);
	mp_proto_init(&p, sv[0], 1000, 0);
	if (mp_smtp_reply(&p, &r, &e) == 0) {
		check_reply(&r);
		for (int i = 0; i < 500; i++) {
			mp_err_clear(&e);
			if (mp_smtp_ehlo(&p, "fuzz.test", &c, &r, &e) < 0)
				break;
			check_reply(&r);
			if (strnlen(c.auth, sizeof c.auth) >= sizeof c.auth ||
			    strnlen(c.list, sizeof c.list) >= sizeof c.list || c.size < 0)
				abort();
		}
	}
	/* a failure is one of the documented kinds, with a message */
	if (e.code && (e.code != EX_TEMPFAIL && e.code != EX_PROTOCOL && e.code != EX_IOERR &&
	               e.code != EX_UNAVAILABLE))
		abort();
	mp_proto_close(&p);
	close(sv[1]);
	return 0;
}
