#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "tap.h"

static void bl(const char *line, const char *b, int want, int wantclose)
{
	int close = -1;
	int got = mp_mime_boundary_line(line, strlen(line), b, &close);

	tap_ok(got == want && (!got || close == wantclose), "boundary \"%s\" in \"%s\"", b,
	       tap_esc(line));
	if (got != want || (got && close != wantclose))
		tap_diag("got %d close %d, want %d close %d", got, close, want, wantclose);
}

static void tok(const char *v, const char *want)
{
	char out[64];

	mp_mime_token(v, out, sizeof out);
	tap_ok(strcmp(out, want) == 0, "token of \"%s\"", v ? v : "(null)");
	if (strcmp(out, want))
		tap_diag("got [%s] want [%s]", out, want);
}

int main(void)
{
	bl("--abc\r\n", "abc", 1, 0);
	bl("--abc--\r\n", "abc", 1, 1);
	bl("--abc", "abc", 1, 0);
	bl("--abc-- \t\r\n", "abc", 1, 1);
	bl("--abc \r\n", "abc", 1, 0);
	bl("--abcd\r\n", "abc", 0, 0);
	bl("--abc--x\r\n", "abc", 0, 0);
	bl("-abc\r\n", "abc", 0, 0);
	bl("--ab\r\n", "abc", 0, 0);
	bl("--\r\n", "", 1, 0);

	tok(" Text/Plain; charset=utf-8", "text/plain");
	tok("quoted-printable (a comment)", "quoted-printable");
	tok("BASE64", "base64");
	tok(NULL, "");
	tok("", "");

	struct mp_header h;
	const char *block =
	    "Content-Type: multipart/mixed;\r\n\tboundary=\"x y\"\r\n"
	    "Subject : folded\r\n  twice\r\nno field here\r\n\r\nBody: not a field\r\n";
	tap_is_int(mp_mime_header_parse(block, strlen(block), &h), 1,
	           "a line without a colon said");
	tap_is_int(h.n, 2, "two fields, the body left alone");
	const char *ct = mp_field_get(&h, "content-type");
	tap_ok(ct && strcmp(ct, "multipart/mixed;\tboundary=\"x y\"") == 0,
	       "unfolded Content-Type");
	char b[64];
	tap_ok(ct && mp_param_get(ct, "boundary", b, sizeof b) == 0 && strcmp(b, "x y") == 0,
	       "its boundary");
	const char *s = mp_field_get(&h, "Subject");
	tap_ok(s && strcmp(s, "folded  twice") == 0, "obsolete 'Subject :' and a fold");
	tap_ok(mp_field_get(&h, "Body") == NULL, "nothing after the blank line");
	mp_header_free(&h);
	tap_is_int(mp_mime_header_parse("", 0, &h), 0, "an empty block");
	tap_is_int(h.n, 0, "has no fields");
	mp_header_free(&h);
	return tap_done();
}
