#include "jbody.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

static char in[JBODY_CHUNK];

/* up to JBODY_CHUNK - have more bytes; 0 at the end, -1 on an error */
static size_t fill(FILE *f, size_t have, int *err)
{
	size_t n = fread(in + have, 1, sizeof in - have, f);

	if (n == 0 && ferror(f))
		*err = 1;
	return n;
}

static int base64_body(struct mp_json *j, FILE *f)
{
	static char out[JBODY_CHUNK / 3 * 4 + 4];
	int err = 0;
	size_t n;

	mp_json_begin_string(j, "body");
	while ((n = fill(f, 0, &err)) > 0)
		mp_json_string_more(j, out, mp_b64_encode(in, n, out, 0));
	mp_json_end_string(j);
	mp_json_string(j, "body_encoding", "base64");
	return err ? -1 : 0;
}

static void put(struct mp_json *j, const char *s, size_t n)
{
	if (n)
		mp_json_string_more(j, s, n);
}

int jbody_write(struct mp_json *j, FILE *f, const char *type, const char *charset)
{
	iconv_t cd = (iconv_t)-1;
	int unknown = 0, err = 0, eof = 0;
	size_t have = 0;

	rewind(f);
	if (strncmp(type, "text/", 5) != 0)
		return base64_body(j, f);
	if (charset[0] && strcasecmp(charset, "utf-8") && strcasecmp(charset, "utf8") &&
	    strcasecmp(charset, "us-ascii")) {
		cd = iconv_open("UTF-8", charset);
		unknown = cd == (iconv_t)-1;
	}
	mp_json_begin_string(j, "body");
	while (!eof) {
		size_t n = fill(f, have, &err);
		eof = n == 0;
		have += n;
		if (cd == (iconv_t)-1) {
			/* UTF-8, or read as such: the writer makes bad bytes U+FFFD */
			put(j, in, have);
			have = 0;
			continue;
		}
		char *ip = in;
		size_t left = have;
		while (left) {
			char ob[16384], *op = ob;
			size_t room = sizeof ob, r = iconv(cd, &ip, &left, &op, &room);
			int e = errno;
			put(j, ob, (size_t)(op - ob));
			if (r != (size_t)-1 || e == E2BIG)
				continue;
			if (e == EINVAL && !eof && left < 16)
				break; /* a character cut at the end of the piece: read on */
			put(j, "\xef\xbf\xbd", 3);
			ip++;
			left--;
		}
		memmove(in, ip, left);
		have = left;
	}
	if (cd != (iconv_t)-1) {
		char ob[64], *op = ob;
		size_t room = sizeof ob;
		iconv(cd, NULL, NULL, &op, &room); /* the end of a stateful encoding */
		put(j, ob, (size_t)(op - ob));
		iconv_close(cd);
	}
	mp_json_end_string(j);
	mp_json_string(j, "body_encoding", "utf-8");
	if (err)
		return -1;
	return unknown;
}
