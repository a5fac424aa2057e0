/* proto: lines of any length in pieces (mp_proto_readpiece), and the
 * word-list pieces of mp_proto_readpart, over a socket pair fed in full
 * before reading, so that each recv(2) returns what the buffer asks for. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "proto.h"
#include "tap.h"

static struct mp_proto *feed(const char *s, size_t n)
{
	static struct mp_proto p;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return NULL;
	int size = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (mp_write_full(sv[0], s, n) < 0)
		return NULL;
	close(sv[0]);
	mp_proto_init(&p, sv[1], 5000, 0);
	return &p;
}

/* the next whole line, put together from its pieces; the number of
 * pieces in *np; 1, 0 at the end, -1 on error */
static int whole(struct mp_proto *p, struct mp_buf *b, int *np)
{
	char *l;
	size_t len;
	int more = 1, r = 1;

	b->len = 0;
	*np = 0;
	while (more && (r = mp_proto_readpiece(p, &l, &len, &more, &(struct mp_err){0})) == 1) {
		mp_buf_append(b, l, len);
		++*np;
		if (len > MP_PROTO_LINE)
			return -1;
	}
	return r;
}

int main(void)
{
	struct mp_buf in = MP_BUF_INIT, got = MP_BUF_INIT;
	struct mp_proto *p;
	char *want[8];
	size_t wlen[8];
	int n = 0, np;

	/* a line of 4,095 bytes first: the buffer fills with its CR, which
	 * must wait for the LF rather than end the piece */
	size_t lens[] = {4095, 5, 10000, 0, 4096, 4094, 8192};
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++, n++) {
		want[n] = malloc(lens[i] + 1);
		for (size_t k = 0; k < lens[i]; k++)
			want[n][k] = (char)('a' + (i * 7 + k) % 26);
		if (i == 5)
			want[n][0] = '.';
		wlen[n] = lens[i];
		mp_buf_append(&in, want[n], wlen[n]);
		mp_buf_append(&in, "\r\n", 2);
	}
	p = feed(in.data, in.len);
	tap_ok(p != NULL, "socket pair");
	for (int i = 0; i < n; i++) {
		tap_is_int(whole(p, &got, &np), 1, "line %d (%zu bytes) read", i + 1, wlen[i]);
		tap_is_mem(got.data, got.len, want[i], wlen[i], "line %d whole, CR LF gone", i + 1);
		tap_ok(np >= 1 && np <= (int)(wlen[i] / (MP_PROTO_LINE - 1)) + 2,
		       "line %d in %d pieces", i + 1, np);
		if (i == 0)
			tap_is_int(np, 2, "the first: 4,095 bytes, then the CR LF alone");
	}
	tap_is_int(whole(p, &got, &np), 0, "then the end");
	close(p->fd);

	/* a line cut short by the peer is an error worth retrying */
	p = feed("abc", 3);
	struct mp_err e;
	char *l;
	size_t len;
	int more;
	mp_err_clear(&e);
	tap_is_int(mp_proto_readpiece(p, &l, &len, &more, &e), -1, "a line without its end");
	tap_is_int(e.code, 75, "is EX_TEMPFAIL");
	close(p->fd);

	/* readpart still cuts before a space, and only there */
	mp_buf_free(&in);
	mp_buf_append(&in, "* SEARCH", 8);
	for (int k = 0; k < 2000; k++)
		mp_buf_printf(&in, " %d", 100000 + k);
	mp_buf_append(&in, "\r\n", 2);
	p = feed(in.data, in.len);
	got.len = 0;
	more = 1;
	int pieces = 0;
	while (more && mp_proto_readpart(p, &l, &len, &more, &e) == 1) {
		tap_ok(!more || len < MP_PROTO_LINE, "piece %d short of a line", ++pieces);
		if (got.len)
			mp_buf_putc(&got, ' ');
		mp_buf_append(&got, l, len);
	}
	tap_is_mem(got.data, got.len, in.data, in.len - 2, "the words, whole, in %d pieces",
	           pieces);
	close(p->fd);

	for (int i = 0; i < n; i++)
		free(want[i]);
	mp_buf_free(&in);
	mp_buf_free(&got);
	return tap_done();
}
