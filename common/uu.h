/* uu: old-style uuencoded blocks ("begin 644 name", lines of data, the
 * zero-length line "`", "end") found line by line in a text; a push
 * decoder with a bounded line buffer, fed bytes in chunks of any size. */
#ifndef MP_UU_H
#define MP_UU_H

#include <stddef.h>

#define MP_UU_LINE    256 /* the longest line taken for a begin or data line */
#define MP_UU_BADRUN  8   /* bad lines in a row that end a block */
#define MP_UU_MAXWARN 20  /* warnings per text, the rest are counted only */

enum mp_uu_event {
	MP_UU_BEGIN, /* a block starts: name, mode */
	MP_UU_DATA,  /* decoded bytes of the block */
	MP_UU_END,   /* the block ends (complete, or cut short after a warning) */
	MP_UU_WARN,  /* a bad line: line, msg */
};

struct mp_uu;
typedef int (*mp_uu_cb)(void *ctx, struct mp_uu *u, enum mp_uu_event ev, const void *s, size_t n);

struct mp_uu {
	int state;          /* outside a block, in its data, after the zero line */
	char line[MP_UU_LINE]; /* the current line so far */
	size_t n;           /* its length */
	int overlong;       /* it is longer than MP_UU_LINE: no begin or data line */
	long lineno;        /* 1-based number of the current line */
	int badrun;         /* bad lines in a row */
	long warnings;      /* MP_UU_WARN events, given or not */
	unsigned mode;      /* of the block in hand */
	char name[MP_UU_LINE]; /* its file name as written */
	long long size;     /* its decoded bytes so far */
	long blocks;        /* blocks begun */
	const char *msg;    /* MP_UU_WARN: the sentence */
	long warnline;      /* MP_UU_WARN: the line it is about */
	mp_uu_cb cb;
	void *ctx;
};

void mp_uu_init(struct mp_uu *u, mp_uu_cb cb, void *ctx);
/* Feed n more bytes of the text; returns 0, or the first negative value a
 * callback returned. */
int mp_uu_feed(struct mp_uu *u, const char *s, size_t n);
/* The end of the text: a block still open ends with a warning. */
int mp_uu_finish(struct mp_uu *u);
/* Decode one data line (without its line end) into out (room for 64
 * bytes); returns the byte count, or -1 when the line is no uuencoded
 * data. Exposed for the fuzz target. */
int mp_uu_decode_line(const char *s, size_t n, unsigned char *out);

#endif
