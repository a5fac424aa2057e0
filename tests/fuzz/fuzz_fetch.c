/* libFuzzer target: mfetch's IMAP and POP3 clients against a server
 * that says whatever the input says: greetings, capabilities, SASL
 * challenges, SELECT, SEARCH, LIST, FETCH literals, UIDL and LIST
 * answers, multi-line RETR. The first byte picks the protocol and the
 * options; the rest is the server's side of the dialogue. The client
 * must end (success or a documented error), never read out of bounds,
 * and never deliver a message it did not get whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "deliver.h"
#include "imap.h"
#include "pop3.h"
#include "session.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int server_fd = -1;
static char saved[8192];

/* the parts of session.c, deliver.c and state.c the protocol modules
 * use, for the fuzzer (report.c is the real one) */
int connect_session(struct fopts *o, struct mp_proto *p, struct mp_err *e)
{
	(void)o, (void)e;
	mp_proto_init(p, dup(server_fd), 1000, 0);
	return 0;
}

char *password(const struct fopts *o, struct mp_err *e)
{
	(void)o, (void)e;
	return strdup("secret");
}

int deliver_file(struct fopts *o, int fd, const char *uid, const char *folder, struct mp_err *e)
{
	char buf[4096];
	(void)e;
	if (!uid || !folder || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	while (read(fd, buf, sizeof buf) > 0)
		;
	o->uncommitted++;
	return 0;
}

/* the group commit: every fourth one taken back, as a failed sync would */
static unsigned commits;

int commit(struct fopts *o, struct mp_err *e)
{
	if (o->commit_failed || (++commits % 4 == 0 && o->uncommitted)) {
		o->commit_failed = 1;
		return mp_err_set(e, EX_TEMPFAIL, "a batch could not be made durable");
	}
	o->uncommitted = 0;
	return 0;
}

int commit_due(const struct fopts *o)
{
	return o->uncommitted >= 3;
}

int per_message(const struct fopts *o)
{
	return o->dest != DEST_STORE;
}

int state_load(const struct fopts *o, const char *key, struct mp_buf *value, struct mp_buf *intent)
{
	(void)o, (void)key;
	mp_buf_reset(value);
	if (intent)
		mp_buf_reset(intent);
	if (!saved[0])
		return -1;
	mp_buf_puts(value, saved);
	return 0;
}

/* POP3: the UIDLs of a batch appended to the state */
int state_add(const struct fopts *o, const char *key, const char *items, struct mp_err *e)
{
	size_t n = strlen(saved);
	(void)o, (void)key, (void)e;
	snprintf(saved + n, sizeof saved - n, "%s%s", n ? " " : "", items);
	return 0;
}

/* patterns and --move are not fuzzed: every folder goes to the one
 * destination, and no mbox append records an intent */
int deliver_folder(struct fopts *o, const char *name, char delim, struct mp_err *e)
{
	(void)o, (void)name, (void)delim, (void)e;
	return 0;
}

int mbox_intent(const struct fopts *o)
{
	(void)o;
	return 0;
}

int state_save(const struct fopts *o, const char *key, const char *value, struct mp_err *e)
{
	(void)o, (void)key, (void)e;
	snprintf(saved, sizeof saved, "%s", value);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	struct fopts o;
	struct fstats st = {0};
	struct mp_err e;

	if (size < 1 || size > 8192 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	for (size_t off = 1; off < size;) {
		ssize_t n = write(sv[1], data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	server_fd = sv[0];

	unsigned mode = data[0];
	memset(&o, 0, sizeof o);
	o.server = "fuzz.test";
	o.user = "bob";
	o.imap = !(mode & 1);
	o.delete_ = !!(mode & 2);
	o.max_size = mode & 4 ? 100 : 0;
	o.mark_seen = o.imap && (mode & 8);
	o.list_folders = o.imap && (mode & 16);
	o.limit = mode & 32 ? 2 : 0;
	o.auth = mode & 64 ? "auto" : NULL;
	o.timeout_ms = 1000;
	o.dest = size & 1 ? DEST_STORE : DEST_STDOUT; /* batches too: by the length */
	saved[0] = '\0';
	if (mode & 128)
		snprintf(saved, sizeof saved, o.imap ? "1 5 s=2,3" : " a b ");
	mp_err_clear(&e);
	int rc = o.imap ? imap_fetch(&o, &st, &e) : pop3_fetch(&o, &st, &e);
	if (o.imap) /* the folders of the run, as mfetch frees them at its end */
		imap_select_free(&o);
	if (rc < 0 && (e.code == 0 || e.code == EX_SOFTWARE || !e.msg[0])) {
		fprintf(stderr, "rc %d, exit %d: %s\n", rc, e.code, e.msg);
		abort();
	}
	if (st.fetched < 0 || st.bytes < 0 || (o.limit && st.fetched > o.limit))
		abort();
	close(sv[0]);
	close(sv[1]);
	return 0;
}
