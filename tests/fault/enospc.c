/* LD_PRELOAD shim: a disk that fills up. write(2), writev(2), pwrite(2)
 * and pwritev(2) to regular files succeed for the first ENOSPC_AFTER bytes
 * in all (the write that crosses the limit is cut short there), then fail
 * with ENOSPC, or with the errno named by ENOSPC_ERRNO (ENOSPC, EDQUOT,
 * EIO, or a number). Pipes, terminals, sockets and file descriptors 0, 1
 * and 2 are left alone, so the program's messages still arrive even when
 * they are redirected to a file. Without ENOSPC_AFTER nothing changes.
 * LINK_FAIL_AFTER=N: link(2) succeeds N times, then fails the same way
 * (a directory that cannot grow), from any thread.
 * STOP_AT_FSYNC=PATH: fsync(2) of the file PATH stops the process
 * (SIGSTOP) first, to be caught holding its locks, its writes not flushed.
 * STOP_AFTER_LINK=N: the Nth link(2) that succeeds stops the process
 * (SIGSTOP) once it is done, to be caught between two steps of a commit.
 * STOP_AFTER_STEP=N: the same after the Nth step of any kind: a write to
 * a regular file (beyond fd 2), a link(2), an fsync(2), a syncfs(2), or
 * the unlink(2) of a dotlock (a name ending in ".lock") done: a kill
 * point chosen by what the process has done, not by a clock.
 * STOP_AFTER_UNLINK=PATH: the Nth unlink(2) of PATH that succeeds (N is
 * STOP_AFTER_UNLINK_N, 1 without) stops the process once it is done: an
 * mbox's dotlock gone, its append done and not yet recorded.
 * GAI_AGAIN=NAME: getaddrinfo(3) of the host NAME fails with EAI_AGAIN,
 * as when the DNS answers SERVFAIL or not at all (a name that may resolve
 * later, unlike one that does not exist).
 *
 *   cc -shared -fPIC -O2 -o enospc.so enospc.c -ldl
 *   ENOSPC_AFTER=4096 LD_PRELOAD=./enospc.so prog ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long long budget = -1; /* bytes still allowed; -1: no limit */
static int fail_errno = ENOSPC;
static atomic_long links = -1; /* links still allowed; -1: no limit */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static long stop_step;    /* STOP_AFTER_STEP, 0 for none */
static atomic_long steps; /* steps done */

static void read_env(void)
{
	const char *a, *e;

	a = getenv("LINK_FAIL_AFTER");
	if (a && *a)
		links = strtol(a, NULL, 10);
	a = getenv("STOP_AFTER_STEP");
	if (a && *a)
		stop_step = strtol(a, NULL, 10);
	a = getenv("ENOSPC_AFTER");
	if (a && *a)
		budget = strtoll(a, NULL, 10);
	e = getenv("ENOSPC_ERRNO");
	if (!e || !*e || strcmp(e, "ENOSPC") == 0)
		fail_errno = ENOSPC;
	else if (strcmp(e, "EDQUOT") == 0)
		fail_errno = EDQUOT;
	else if (strcmp(e, "EIO") == 0)
		fail_errno = EIO;
	else
		fail_errno = atoi(e) > 0 ? atoi(e) : ENOSPC;
}

static void init(void)
{
	pthread_once(&once, read_env);
}

static int limited(int fd)
{
	struct stat st;
	int saved = errno, r;

	init();
	r = budget >= 0 && fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	errno = saved;
	return r;
}

/* how many of n bytes may go; -1 with errno set when none */
static ssize_t allow(size_t n)
{
	if (n == 0)
		return 0;
	if (budget <= 0) {
		errno = fail_errno;
		return -1;
	}
	return (long long)n > budget ? (ssize_t)budget : (ssize_t)n;
}

static void spent(ssize_t r)
{
	if (r > 0)
		budget -= r;
}

/* one more step done (STOP_AFTER_STEP): the Nth stops the process */
static void step(void)
{
	init();
	if (stop_step > 0 && atomic_fetch_add(&steps, 1) + 1 == stop_step)
		raise(SIGSTOP);
}

/* r bytes written to fd: a step when fd is a regular file */
static ssize_t wrote(int fd, ssize_t r)
{
	struct stat st;
	int saved = errno;

	init();
	if (stop_step > 0 && r > 0 && fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		step();
	errno = saved;
	return r;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);

/* the next definition of name (libc's, or a sanitizer's interceptor) */
#define REAL(name, type)                                                                           \
	static type real_##name;                                                                   \
	if (!real_##name)                                                                          \
	real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write, write_fn);
	ssize_t k, r;

	if (!limited(fd))
		return wrote(fd, real_write(fd, buf, n));
	if ((k = allow(n)) < 0)
		return -1;
	r = real_write(fd, buf, (size_t)k);
	spent(r);
	return wrote(fd, r);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite, pwrite_fn);
	ssize_t k, r;

	if (!limited(fd))
		return wrote(fd, real_pwrite(fd, buf, n, off));
	if ((k = allow(n)) < 0)
		return -1;
	r = real_pwrite(fd, buf, (size_t)k, off);
	spent(r);
	return wrote(fd, r);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

/* the first iovcnt entries cut down to at most k bytes in all */
static int clip(const struct iovec *iov, int cnt, size_t k, struct iovec *out)
{
	int i;

	for (i = 0; i < cnt && i < 64 && k > 0; i++) {
		out[i] = iov[i];
		if (out[i].iov_len > k)
			out[i].iov_len = k;
		k -= out[i].iov_len;
	}
	return i;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;

	for (int i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev, writev_fn);
	struct iovec v[64];
	ssize_t k, r;

	if (!limited(fd))
		return wrote(fd, real_writev(fd, iov, cnt));
	if ((k = allow(iov_total(iov, cnt))) < 0)
		return -1;
	r = real_writev(fd, v, clip(iov, cnt, (size_t)k, v));
	spent(r);
	return wrote(fd, r);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev, pwritev_fn);
	struct iovec v[64];
	ssize_t k, r;

	if (!limited(fd))
		return wrote(fd, real_pwritev(fd, iov, cnt, off));
	if ((k = allow(iov_total(iov, cnt))) < 0)
		return -1;
	r = real_pwritev(fd, v, clip(iov, cnt, (size_t)k, v), off);
	spent(r);
	return wrote(fd, r);
}

typedef int (*link_fn)(const char *, const char *);

int link(const char *from, const char *to)
{
	REAL(link, link_fn);

	init();
	if (links >= 0 && atomic_fetch_sub(&links, 1) <= 0) {
		errno = fail_errno;
		return -1;
	}
	int r = real_link(from, to);
	const char *stop = getenv("STOP_AFTER_LINK");
	static atomic_long linked;
	if (r == 0 && stop && *stop && atomic_fetch_add(&linked, 1) + 1 == strtol(stop, NULL, 10))
		raise(SIGSTOP);
	if (r == 0)
		step();
	return r;
}

typedef int (*fsync_fn)(int);

int fsync(int fd)
{
	REAL(fsync, fsync_fn);
	const char *p = getenv("STOP_AT_FSYNC");
	struct stat a, b;

	if (p && *p && fstat(fd, &a) == 0 && stat(p, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		raise(SIGSTOP);
	int r = real_fsync(fd);
	step();
	return r;
}

typedef int (*syncfs_fn)(int);

int syncfs(int fd)
{
	REAL(syncfs, syncfs_fn);
	int r = real_syncfs(fd);

	step();
	return r;
}

typedef int (*unlink_fn)(const char *);

int unlink(const char *path)
{
	REAL(unlink, unlink_fn);
	const char *p = getenv("STOP_AFTER_UNLINK"), *nth = getenv("STOP_AFTER_UNLINK_N");
	static atomic_long unlinked;
	int r = real_unlink(path);
	size_t n = strlen(path);

	if (r == 0 && p && *p && strcmp(path, p) == 0 &&
	    atomic_fetch_add(&unlinked, 1) + 1 == (nth && *nth ? strtol(nth, NULL, 10) : 1))
		raise(SIGSTOP);
	if (r == 0 && n > 5 && strcmp(path + n - 5, ".lock") == 0)
		step();
	return r;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
	const char *fail = getenv("GAI_AGAIN");

	if (fail && *fail && node && strcmp(node, fail) == 0)
		return EAI_AGAIN;
	if (!real)
		real = (int (*)(const char *, const char *, const struct addrinfo *,
		                struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
	return real ? real(node, service, hints, res) : EAI_SYSTEM;
}
