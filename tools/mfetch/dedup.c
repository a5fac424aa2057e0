/* dedup: after an IMAP folder's UIDVALIDITY changed, the UIDs recorded
 * mean nothing, and every message comes again. What the destination
 * already holds is known by its Message-ID: those are not delivered a
 * second time. The IDs are kept as SHA-256 digests (16 bytes of each),
 * sorted, so that memory is 16 bytes a message whatever the IDs' length. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mfetch.h"

#define HEAD_MAX (64 * 1024) /* the header looked at for the Message-ID */

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

/* The Message-ID in the header at buf (n bytes, maybe cut short): the
 * part between < and >, else the value trimmed; 1 found, 0 none. */
static int find_msgid(const char *buf, size_t n, char *out, size_t outn)
{
	size_t i = 0;

	while (i < n) {
		const char *l = buf + i, *nl = memchr(l, '\n', n - i);
		size_t len = nl ? (size_t)(nl - l) : n - i;
		if (len == 0 || (len == 1 && l[0] == '\r'))
			return 0; /* the end of the header */
		if (len > 11 && strncasecmp(l, "Message-ID:", 11) == 0) {
			/* the value, with its continuation lines */
			size_t o = 0, j = 11;
			const char *p = l;
			for (;;) {
				for (; j < len && o + 1 < outn; j++)
					if (p[j] != '\r')
						out[o++] = p[j];
				const char *next = p + len + 1;
				if (!nl || next >= buf + n || (*next != ' ' && *next != '\t'))
					break;
				p = next;
				nl = memchr(p, '\n', (size_t)(buf + n - p));
				len = nl ? (size_t)(nl - p) : (size_t)(buf + n - p);
				j = 0;
			}
			out[o] = '\0';
			char *lt = strchr(out, '<'), *gt = lt ? strchr(lt, '>') : NULL;
			if (lt && gt) {
				memmove(out, lt, (size_t)(gt - lt) + 1);
				out[gt - lt + 1] = '\0';
			} else {
				char *s = out + strspn(out, " \t");
				memmove(out, s, strlen(s) + 1);
				for (size_t k = strlen(out);
				     k && (out[k - 1] == ' ' || out[k - 1] == '\t');)
					out[--k] = '\0';
			}
			return out[0] != '\0';
		}
		i += len + 1;
	}
	return 0;
}

int msgid_from_fd(int fd, char *out, size_t outn)
{
	char *buf = mp_xmalloc(HEAD_MAX);
	ssize_t got = pread(fd, buf, HEAD_MAX, 0);
	int found = got > 0 && find_msgid(buf, (size_t)got, out, outn);

	free(buf);
	return found;
}

static int scan_maildir(const char *root, struct msgids *m, struct mp_err *e)
{
	static const char *const sub[] = {"cur", "new"};
	char path[4200], id[1000];

	for (size_t s = 0; s < 2; s++) {
		snprintf(path, sizeof path, "%s/%s", root, sub[s]);
		DIR *d = opendir(path);
		struct dirent *de;
		if (!d)
			return mp_err_sys(e, EX_TEMPFAIL, "%s", path);
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s/%s", root, sub[s], de->d_name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue; /* gone meanwhile, or not a file */
			if (msgid_from_fd(fd, id, sizeof id))
				msgids_add(m, id);
			close(fd);
		}
		closedir(d);
	}
	return 0;
}

/* an mbox: the Message-ID of each header (after a From_ line), read in
 * lines of at most 8 KiB (a longer one is taken in pieces) */
static int scan_mbox(const char *file, struct msgids *m, struct mp_err *e)
{
	FILE *f = fopen(file, "re");
	char line[8192], hdr[HEAD_MAX], id[1000];
	size_t hl = 0;
	int bol = 1, in_header = 0, prev_blank = 1;

	if (!f)
		return errno == ENOENT ? 0 : mp_err_sys(e, EX_TEMPFAIL, "%s", file);
	while (fgets(line, sizeof line, f)) {
		size_t len = strlen(line);
		int starts = bol;
		bol = len && line[len - 1] == '\n';
		if (starts && prev_blank && strncmp(line, "From ", 5) == 0) {
			in_header = 1, hl = 0;
			continue;
		}
		if (starts)
			prev_blank = line[0] == '\n';
		if (!in_header)
			continue;
		if (starts && line[0] == '\n') { /* the header ends */
			if (find_msgid(hdr, hl, id, sizeof id))
				msgids_add(m, id);
			in_header = 0;
			continue;
		}
		size_t k = len < sizeof hdr - hl ? len : sizeof hdr - hl;
		memcpy(hdr + hl, line, k);
		hl += k;
	}
	int bad = ferror(f);
	fclose(f);
	return bad ? mp_err_sys(e, EX_TEMPFAIL, "%s", file) : 0;
}

int msgids_of_dest(const struct mp_store *st, struct msgids *m, struct mp_err *e)
{
	return st->kind == MP_STORE_MAILDIR ? scan_maildir(st->path, m, e)
	                                    : scan_mbox(st->path, m, e);
}
