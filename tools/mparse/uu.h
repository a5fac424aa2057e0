/* uu: old-style uuencoded blocks ("begin 644 name", lines of data, the
 * zero-length line "`", "end") found line by line in a text; a push
 * decoder with a bounded line buffer, fed bytes in chunks of any size. */
#ifndef MPARSE_UU_H
#define MPARSE_UU_H

#include <stddef.h>

#define UU_LINE    256 /* the longest line taken for a begin or data line */
#define UU_BADRUN  8   /* bad lines in a row that end a block */
#define UU_MAXWARN 20  /* warnings per text, the rest are counted only */

enum uu_event {
	UU_BEGIN, /* a block starts: name, mode */
	UU_DATA,  /* decoded bytes of the block */
	UU_END,   /* the block ends (complete, or cut short after a warning) */
	UU_WARN,  /* a bad line: line, msg */
};

struct uu;
typedef int (*uu_cb)(void *ctx, struct uu *u, enum uu_event ev, const void *s, size_t n);

struct uu {
	int state;          /* outside a block, in its data, after the zero line */
	char line[UU_LINE]; /* the current line so far */
	size_t n;           /* its length */
	int overlong;       /* it is longer than UU_LINE: no begin or data line */
	long lineno;        /* 1-based number of the current line */
	int badrun;         /* bad lines in a row */
	long warnings;      /* UU_WARN events, given or not */
	unsigned mode;      /* of the block in hand */
	char name[UU_LINE]; /* its file name as written */
	long long size;     /* its decoded bytes so far */
	long blocks;        /* blocks begun */
	const char *msg;    /* UU_WARN: the sentence */
	long warnline;      /* UU_WARN: the line it is about */
	uu_cb cb;
	void *ctx;
};

void uu_init(struct uu *u, uu_cb cb, void *ctx);
/* Feed n more bytes of the text; returns 0, or the first negative value a
 * callback returned. */
int uu_feed(struct uu *u, const char *s, size_t n);
/* The end of the text: a block still open ends with a warning. */
int uu_finish(struct uu *u);
/* Decode one data line (without its line end) into out (room for 64
 * bytes); returns the byte count, or -1 when the line is no uuencoded
 * data. Exposed for the fuzz target. */
int uu_decode_line(const char *s, size_t n, unsigned char *out);

#endif
