#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "tap.h"

static int pipe_with(const char *s, size_t n)
{
	int p[2];

	if (pipe(p) < 0)
		return -1;
	if (mp_write_full(p[1], s, n) < 0)
		return -1;
	close(p[1]);
	return p[0];
}

int main(void)
{
	struct mp_lr lr;
	struct mp_err e;
	char *line, buf[64], dir[] = "/tmp/mp-test-io.XXXXXX", path[128];
	size_t len;
	int fd;

	mp_err_clear(&e);
	fd = pipe_with("one\ntwo\r\n\nlast", 14);
	mp_lr_init(&lr, fd, 16, &e);
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), 1, "first line");
	tap_is_mem(line, len, "one\n", 4, "with its LF");
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), 1, "second line");
	tap_is_mem(line, len, "two\r\n", 5, "CRLF kept");
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), 1, "empty line");
	tap_is_mem(line, len, "\n", 1, "just LF");
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), 1, "last line without LF");
	tap_is_mem(line, len, "last", 4, "unterminated tail");
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), 0, "EOF");
	tap_is_int(lr.line, 4, "4 lines counted");
	mp_lr_free(&lr);
	close(fd);

	fd = pipe_with("short\n0123456789abcdefXYZ\n", 26);
	mp_lr_init(&lr, fd, 16, &e);
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), 1, "line under the bound");
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), -1, "line over the bound refused");
	tap_is_int(e.code, EX_DATAERR, "as bad data");
	tap_is_int(e.line, 2, "naming line 2");
	mp_lr_free(&lr);
	close(fd);

	fd = pipe_with("0123456789abcdef\n", 17);
	mp_lr_init(&lr, fd, 17, &e);
	tap_is_int(mp_lr_next(&lr, &line, &len, &e), 1, "line exactly at the bound");
	mp_lr_free(&lr);
	close(fd);

	fd = pipe_with("hello", 5);
	tap_is_int(mp_read_full(fd, buf, sizeof buf), 5, "read_full stops at EOF");
	close(fd);

	tap_ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof path, "%s/f", dir);
	tap_is_int(mp_atomic_write(path, "data\n", 5, 0600, &e), 0, "atomic write");
	fd = open(path, O_RDONLY);
	tap_is_int(mp_read_full(fd, buf, sizeof buf), 5, "content length");
	close(fd);
	struct stat st;
	stat(path, &st);
	tap_is_int(st.st_mode & 0777, 0600, "mode applied");
	tap_is_int(mp_atomic_write(path, "new", 3, 0644, &e), 0, "atomic replace");
	fd = open(path, O_RDONLY);
	tap_is_mem(buf, (size_t)mp_read_full(fd, buf, sizeof buf), "new", 3, "replaced content");
	close(fd);
	tap_is_int(mp_fsync_dir(dir, &e), 0, "fsync dir");
	tap_is_int(mp_fsync_dir("/nonexistent/dir", &e), -1, "fsync of a missing dir fails");
	snprintf(path, sizeof path, "%s/missing/f", dir);
	tap_is_int(mp_atomic_write(path, "x", 1, 0600, &e), -1, "atomic write into missing dir");
	snprintf(path, sizeof path, "%s/f", dir);
	unlink(path);

	/* mp_mkdirs: the parents only, or the whole path, 0700 */
	char want[160];
	snprintf(path, sizeof path, "%s/a//b/log", dir);
	tap_is_int(mp_mkdirs(path, 0, &e), 0, "mkdirs: the parents of a file");
	snprintf(path, sizeof path, "%s/a/b", dir);
	tap_ok(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "a/b made");
	tap_is_int(st.st_mode & 0777, 0700, "mode 0700");
	snprintf(path, sizeof path, "%s/a/b/log", dir);
	tap_ok(stat(path, &st) < 0, "not the file's own name");
	snprintf(path, sizeof path, "%s/a/b/c/", dir);
	tap_is_int(mp_mkdirs(path, 1, &e), 0, "mkdirs: the whole path, a final slash");
	snprintf(path, sizeof path, "%s/a/b/c", dir);
	tap_ok(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "a/b/c made");
	tap_is_int(mp_mkdirs(path, 1, &e), 0, "again: already there");
	snprintf(path, sizeof path, "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(path, sizeof path, "%s/f/x/y", dir);
	tap_is_int(mp_mkdirs(path, 0, &e), -1, "a file in the way");
	tap_is_int(e.code, EX_CANTCREAT, "as 73");
	snprintf(want, sizeof want, "%s/f/x: Not a directory", dir);
	tap_is_mem(e.msg, strlen(e.msg), want, strlen(want), "naming the directory");
	unlink(path);
	snprintf(path, sizeof path, "%s/f", dir);
	unlink(path);
	const char *const made[] = {"a/b/c", "a/b", "a"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, made[i]);
		rmdir(path);
	}
	rmdir(dir);
	return tap_done();
}
