#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "util.h"

int main(void)
{
	struct mp_buf b = MP_BUF_INIT;
	struct mp_err e;
	size_t r;

	mp_err_clear(&e);
	tap_is_int(e.code, 0, "cleared error has code 0");
	tap_is_int(mp_err_set(&e, EX_DATAERR, "bad %s at %d", "thing", 7), -1,
	           "mp_err_set returns -1");
	tap_is_int(e.code, EX_DATAERR, "code kept");
	tap_ok(strcmp(e.msg, "bad thing at 7") == 0, "message formatted");
	tap_is_int(mp_err_set(NULL, EX_USAGE, "x"), -1, "NULL error is allowed");
	errno = ENOENT;
	mp_err_sys(&e, EX_NOINPUT, "open %s", "f");
	tap_ok(strcmp(e.msg, "open f: No such file or directory") == 0, "strerror appended: %s",
	       e.msg);
	tap_is_int(mp_errno_code(ENOSPC), EX_TEMPFAIL, "disk full is temporary");
	tap_is_int(mp_errno_code(EIO), EX_TEMPFAIL, "EIO is worth a retry");
	tap_is_int(mp_errno_code(EISDIR), EX_IOERR, "EISDIR is an I/O error");
	tap_is_int(mp_errno_code(EACCES), EX_NOPERM, "EACCES is a permission error");

	mp_setprogname("/usr/bin/b64");
	tap_ok(strcmp(mp_progname(), "b64") == 0, "progname is the basename");

	tap_is_int(mp_size_add(SIZE_MAX, 1, &r), -1, "size_add overflow caught");
	tap_is_int(mp_size_add(2, 3, &r), 0, "size_add ok");
	tap_is_int(r, 5, "size_add result");
	tap_is_int(mp_size_mul(SIZE_MAX / 2, 3, &r), -1, "size_mul overflow caught");
	tap_is_int(mp_size_mul(0, 3, &r), 0, "size_mul by zero ok");

	tap_is_int(mp_buf_append(&b, "abc", 3), 0, "append");
	tap_is_int(mp_buf_putc(&b, 0), 0, "putc NUL");
	tap_is_int(mp_buf_printf(&b, "%d-%s", 42, "x"), 0, "printf");
	tap_is_mem(b.data, b.len,
	           "abc\0"
	           "42-x",
	           8, "contents with embedded NUL");
	tap_is_int(b.data[b.len], 0, "always NUL-terminated");
	for (int i = 0; i < 10000; i++)
		mp_buf_putc(&b, 'a' + i % 26);
	tap_is_int(b.len, 10008, "grows past many doublings");
	tap_ok(b.cap > b.len, "capacity above length");
	mp_buf_reset(&b);
	tap_is_int(b.len, 0, "reset empties");
	tap_is_int(mp_buf_reserve(&b, SIZE_MAX), -1, "absurd reserve refused");
	mp_buf_free(&b);
	tap_ok(b.data == NULL && b.cap == 0, "free resets");
	{
		struct mp_buf t = MP_BUF_INIT;
		static const char in[] =
		    "a\tb\n\033]0;x\007 \302\233 \302\240 \r\177 \377 \xe2\x82 \xe2\x82\xac";
		static const char want[] = "a\tb\n\\x1b]0;x\\x07 \\u009b \302\240 \\x0d\\x7f \\xff "
		                           "\\xe2\\x82 \xe2\x82\xac";
		tap_is_int(mp_term_escape(in, sizeof in - 1, &t), 0, "term escape");
		tap_is_mem(
		    t.data, t.len, want, sizeof want - 1,
		    "C0 but TAB/LF, C1, DEL, bad UTF-8 visible; NBSP and the euro sign kept");
		mp_buf_free(&t);
	}
	return tap_done();
}
