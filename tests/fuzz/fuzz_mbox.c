/* libFuzzer target: the mbox splitter and the delivery parser (From_
 * line, header checks, Return-Path and Delivered-To handling, mboxrd
 * quoting) on arbitrary input. Messages go into a Maildir under
 * /dev/shm in batch mode and are dropped unsynced, so no fsync is paid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char target[96];

static void cleanup(void)
{
	static const char *const sub[] = {"tmp", "new", "cur", ""};
	char p[128];

	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", target, sub[i]);
		rmdir(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_delivery d = {.batch = 1, .delivered_to = "bob@hamburger.test", .loop_check = 1};
	struct mp_delivered out;
	struct mp_mboxsplit m;
	struct mp_msgsrc src;
	struct mp_store s;
	struct mp_segr r;
	struct mp_err e;
	long long total = 0;
	int fd, rc;

	if (!target[0]) {
		/* memory-backed when there is /dev/shm, else the temp dir */
		snprintf(target, sizeof target, "%s/mp-fuzz-mbox.%ld/",
		         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
		if (mp_store_open(&s, target, NULL, 0, &e) < 0)
			abort();
		mp_store_close(&s);
		atexit(cleanup);
	}
	fd = memfd_create("mbox", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	mp_err_clear(&e);
	if (mp_store_open(&s, target, NULL, 0, &e) < 0)
		abort();
	/* a small buffer so that lines come in pieces too */
	mp_segr_init(&r, fd, 64, &e);
	mp_mboxsplit_init(&m, &r);
	src = mp_mboxsplit_src(&m);
	while ((rc = mp_mboxsplit_begin(&m, &e)) > 0) {
		if (m.msgstart < 0 || m.msgstart > (long long)size)
			abort();
		mp_err_clear(&e);
		if (mp_store_deliver(&s, &src, &d, &out, &e) == 0) {
			total += out.size;
		} else {
			/* a refused message is skipped to its end */
			const char *seg;
			size_t len;
			int bol;
			while (src.next(src.ctx, &seg, &len, &bol, &e) > 0)
				;
		}
		if (e.code == EX_SOFTWARE)
			abort();
	}
	(void)total;
	mp_store_close(&s); /* unsynced: the batch's files go */
	mp_segr_free(&r);
	close(fd);
	return 0;
}
