#include "uu.h"

#include <string.h>

/* Transport may strip the trailing blanks of a data line (a blank stands
 * for zero bits), and some encoders append a check character: a line may
 * fall short of its length character by one group and exceed it by two
 * characters. Anything else is no data line. */
#define UU_SHORT 4
#define UU_EXTRA 2

enum { S_TEXT, S_DATA, S_AFTER };

void mp_uu_init(struct mp_uu *u, mp_uu_cb cb, void *ctx)
{
	memset(u, 0, sizeof *u);
	u->cb = cb;
	u->ctx = ctx;
}

int mp_uu_decode_line(const char *s, size_t n, unsigned char *out)
{
	if (n == 0)
		return 0;
	unsigned char c0 = (unsigned char)s[0];
	if (c0 < 32 || c0 > 96)
		return -1;
	size_t len = (size_t)((c0 - 32) & 63), need = (len + 2) / 3 * 4, have = n - 1;
	if (have + UU_SHORT < need || have > need + UU_EXTRA)
		return -1;
	for (size_t i = 1; i < n; i++)
		if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 96)
			return -1;
	size_t o = 0;
	for (size_t g = 0; g < need && o < len; g += 4) {
		unsigned v[4];
		for (int k = 0; k < 4; k++) {
			size_t i = 1 + g + (size_t)k;
			v[k] = i < n ? (unsigned)((unsigned char)s[i] - 32) & 63 : 0;
		}
		unsigned char b[3] = {(unsigned char)(v[0] << 2 | v[1] >> 4),
		                      (unsigned char)(v[1] << 4 | v[2] >> 2),
		                      (unsigned char)(v[2] << 6 | v[3])};
		for (int k = 0; k < 3 && o < len; k++)
			out[o++] = b[k];
	}
	return (int)o;
}

static int warn(struct mp_uu *u, const char *msg)
{
	u->warnings++;
	u->msg = msg;
	u->warnline = u->lineno;
	return u->cb(u->ctx, u, MP_UU_WARN, msg, strlen(msg));
}

/* "begin MODE NAME": MODE in octal, NAME the rest without its blanks */
static int begin_line(struct mp_uu *u, const char *s, size_t n)
{
	size_t i = 6, d;
	unsigned mode = 0;

	if (n < 6 || memcmp(s, "begin ", 6) != 0)
		return 0;
	for (d = 0; i < n && s[i] >= '0' && s[i] <= '7' && d < 6; i++, d++)
		mode = mode * 8 + (unsigned)(s[i] - '0');
	if (!d || i >= n || (s[i] != ' ' && s[i] != '\t'))
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (i == n || memchr(s + i, '\0', n - i))
		return 0;
	memcpy(u->name, s + i, n - i);
	u->name[n - i] = '\0';
	u->mode = mode;
	return 1;
}

static int is_end(const char *s, size_t n)
{
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n == 3 && memcmp(s, "end", 3) == 0;
}

static int end_block(struct mp_uu *u)
{
	u->state = S_TEXT;
	return u->cb(u->ctx, u, MP_UU_END, NULL, 0);
}

static int line(struct mp_uu *u, const char *s, size_t n, int overlong)
{
	unsigned char out[64];
	int rc, k;

	switch (u->state) {
	case S_TEXT:
		if (!overlong && begin_line(u, s, n)) {
			u->state = S_DATA;
			u->size = 0;
			u->badrun = 0;
			u->blocks++;
			return u->cb(u->ctx, u, MP_UU_BEGIN, u->name, strlen(u->name));
		}
		return 0;
	case S_DATA:
		if (!overlong && is_end(s, n))
			return end_block(u); /* the zero-length line left out */
		k = overlong ? -1 : mp_uu_decode_line(s, n, out);
		if (k < 0) {
			if (++u->badrun >= MP_UU_BADRUN) {
				if ((rc = warn(u, "too many bad lines: the block ends here")) < 0)
					return rc;
				return end_block(u);
			}
			return warn(u, "not a line of uuencoded data: skipped");
		}
		u->badrun = 0;
		if (k == 0) {
			u->state = S_AFTER;
			return 0;
		}
		u->size += k;
		return u->cb(u->ctx, u, MP_UU_DATA, out, (size_t)k);
	default: /* S_AFTER */
		if (!overlong && is_end(s, n))
			return end_block(u);
		if (!overlong && n == 0)
			return 0;
		if ((rc = warn(u, "no \"end\" line after the data: the block ends here")) < 0 ||
		    (rc = end_block(u)) < 0)
			return rc;
		return line(u, s, n, overlong); /* may begin the next block */
	}
}

static int complete(struct mp_uu *u)
{
	size_t n = u->n;

	if (n && u->line[n - 1] == '\r')
		n--;
	int rc = line(u, u->line, n, u->overlong);
	u->n = 0;
	u->overlong = 0;
	return rc;
}

int mp_uu_feed(struct mp_uu *u, const char *s, size_t n)
{
	int rc;

	while (n) {
		if (u->n == 0 && !u->overlong)
			u->lineno++;
		const char *nl = memchr(s, '\n', n);
		size_t take = nl ? (size_t)(nl - s) : n;
		if (!u->overlong) {
			if (u->n + take > sizeof u->line)
				u->overlong = 1;
			else {
				memcpy(u->line + u->n, s, take);
				u->n += take;
			}
		}
		if (!nl)
			return 0;
		if ((rc = complete(u)) < 0)
			return rc;
		s = nl + 1;
		n -= take + 1;
	}
	return 0;
}

int mp_uu_finish(struct mp_uu *u)
{
	int rc;

	if ((u->n || u->overlong) && (rc = complete(u)) < 0)
		return rc;
	if (u->state == S_TEXT)
		return 0;
	if ((rc = warn(u, "the text ends inside the block: no \"end\" line")) < 0)
		return rc;
	return end_block(u);
}
