/* io: full reads and writes, a bounded line reader over an fd, and the
 * fsync / atomic-write steps that durable delivery is built from. */
#ifndef MP_IO_H
#define MP_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "util.h"

/* Read until n bytes or end of file; retries EINTR and short reads.
 * Returns the bytes read (less than n only at EOF), or -1 with errno. */
ssize_t mp_read_full(int fd, void *buf, size_t n);
/* Write all n bytes; returns 0, or -1 with errno. */
int mp_write_full(int fd, const void *buf, size_t n);
/* An unlinked temporary file in $TMPDIR (else /tmp), read and write, its
 * name starting with name: the descriptor, or -1 (e: EX_TEMPFAIL...). */
int mp_tmpfd(const char *name, struct mp_err *e);

/* Buffered line reader with a hard bound on the line length. */
struct mp_lr {
	int fd;
	char *buf;
	size_t cap;    /* buffer size: max line + 1 */
	size_t start;  /* first unread byte */
	size_t end;    /* one past the last buffered byte */
	long line;     /* lines returned so far */
	long long off; /* bytes returned so far */
	int eof;
};

int mp_lr_init(struct mp_lr *lr, int fd, size_t maxline, struct mp_err *e);
/* Next line, terminator ("\n") included; the last line of a file may lack
 * it. Returns 1 with *line and *len (valid until the next call), 0 at EOF, -1
 * on a read error or a line longer than maxline (e->line says which). */
int mp_lr_next(struct mp_lr *lr, char **line, size_t *len, struct mp_err *e);
void mp_lr_free(struct mp_lr *lr);

/* fsync an fd, treating EINVAL (pipes, special files) as success. */
int mp_fsync_fd(int fd);
/* fsync a directory so a rename/link inside it survives a power cut. */
int mp_fsync_dir(const char *path, struct mp_err *e);
/* Write data to path via a unique temp file in the same directory,
 * fsync, rename over path, fsync the directory. */
int mp_atomic_write(const char *path, const void *data, size_t n, int mode, struct mp_err *e);
/* Make the directories above path's last component as needed, mode 0700,
 * and with whole path itself too (mkdir -p). 0, or -1 with errno and e (may
 * be NULL) naming the directory that could not be made (EX_CANTCREAT). */
int mp_mkdirs(const char *path, int whole, struct mp_err *e);

#endif
