/* dedup: after an IMAP folder's UIDVALIDITY changed, the UIDs recorded
 * mean nothing, and every message comes again. What the destination
 * already holds is known by its Message-ID: those are not delivered a
 * second time. The IDs are kept as SHA-256 digests (16 bytes of each),
 * sorted, so that memory is 16 bytes a message whatever the IDs' length. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup.h"
#include "hdr.h"

static void digest(const char *id, unsigned char out[16])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(id, strlen(id), md, &n, EVP_sha256(), NULL);
	memcpy(out, md, 16);
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

void msgids_add(struct msgids *m, const char *id)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->v = mp_xrealloc(m->v, m->cap * sizeof *m->v);
	}
	digest(id, m->v[m->n++]);
	m->sorted = 0;
}

int msgids_has(struct msgids *m, const char *id)
{
	unsigned char d[16];

	if (!m->sorted && m->n) {
		qsort(m->v, m->n, sizeof *m->v, cmp16);
		m->sorted = 1;
	}
	digest(id, d);
	return m->n && bsearch(d, m->v, m->n, sizeof *m->v, cmp16) != NULL;
}

void msgids_free(struct msgids *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

static void add_found(void *ctx, const char *key, const char *id)
{
	(void)key;
	if (*id)
		msgids_add(ctx, id);
}

static int scan_maildir(const char *root, struct msgids *m, struct mp_err *e)
{
	return mp_store_maildir_msgids(root, NULL, add_found, m, e);
}

/* the field the header reader just completed, when it is the Message-ID:
 * recorded; 1 when it was a Message-ID */
static int note_msgid(struct mp_hdr_reader *hr, struct msgids *m)
{
	const char *v = mp_hdr_reader_get(hr, "Message-ID");
	char id[1000];

	if (v && mp_hdr_msgid(v, strlen(v), id, sizeof id))
		msgids_add(m, id);
	return v != NULL;
}

/* an mbox: the Message-ID of each message's header */
static int scan_mbox(const char *file, struct msgids *m, struct mp_err *e)
{
	struct mp_hdr_reader *hr;
	struct mp_mboxsplit sp;
	struct mp_segr r;
	int fd = open(file, O_RDONLY | O_CLOEXEC), more, got = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : mp_err_sys(e, EX_TEMPFAIL, "%s", file);
	if (mp_segr_init(&r, fd, 64 * 1024, e) < 0) {
		close(fd);
		return -1;
	}
	hr = mp_xmalloc(sizeof *hr);
	mp_mboxsplit_init(&sp, &r);
	while ((more = mp_mboxsplit_begin(&sp, e)) > 0) {
		struct mp_msgsrc src = mp_mboxsplit_src(&sp);
		const char *seg;
		size_t len;
		int bol, done = 0;
		/* the header (its From_ line is no field to the reader), then
		 * the rest of the message read past */
		mp_hdr_reader_init(hr);
		while ((got = src.next(src.ctx, &seg, &len, &bol, e)) > 0) {
			if (done)
				continue;
			int k = mp_hdr_reader_feed(hr, seg, len, bol);
			done = note_msgid(hr, m) || k == MP_HDR_END;
		}
		if (got < 0)
			break;
		if (!done) {
			mp_hdr_reader_end(hr);
			note_msgid(hr, m);
		}
	}
	free(hr);
	mp_segr_free(&r);
	close(fd);
	if (more < 0 || got < 0) {
		struct mp_err in = *e;
		return mp_err_set(e, in.code == EX_DATAERR ? EX_DATAERR : EX_TEMPFAIL, "%s: %s",
		                  file, in.msg);
	}
	return 0;
}

int msgids_of_dest(const struct mp_store *st, struct msgids *m, struct mp_err *e)
{
	return st->kind == MP_STORE_MAILDIR ? scan_maildir(st->path, m, e)
	                                    : scan_mbox(st->path, m, e);
}
