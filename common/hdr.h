/* hdr: RFC 5322 header values; for now RFC 2047 encoded-words (the rest
 * of the header block parser grows here with mparse). */
#ifndef MP_HDR_H
#define MP_HDR_H

#include <stddef.h>

#include "util.h"

#define MP_HDR_Q      0x1u /* encode with the Q encoding instead of B */
#define MP_HDR_IGNORE 0x2u /* decode: keep what cannot be converted as it is */

/* Encode UTF-8 text as RFC 2047 encoded-words, each at most 75
 * characters and never splitting a character, folded with "\n ".
 * Fails (EX_DATAERR, e->offset) when the text is not UTF-8. */
int mp_hdr_encode_words(const char *s, size_t n, unsigned flags, struct mp_buf *out,
                        struct mp_err *e);
/* Decode the encoded-words of an unfolded header value to UTF-8. Text
 * around them is kept; whitespace between two encoded-words goes; a
 * malformed encoded-word stays as it is (RFC 2047 §6.3). An unknown
 * charset or bytes invalid in it fail with EX_DATAERR unless
 * MP_HDR_IGNORE, which reads such text as UTF-8 with U+FFFD for what
 * is not. */
int mp_hdr_decode_words(const char *s, size_t n, unsigned flags, struct mp_buf *out,
                        struct mp_err *e);

/* Append s to out with each maximal subpart of an ill-formed sequence
 * made U+FFFD; -1 when out of memory. */
int mp_utf8_repair(const char *s, size_t n, struct mp_buf *out);
/* Convert n bytes from charset to UTF-8, appending to out. With
 * MP_HDR_IGNORE invalid sequences become U+FFFD. */
int mp_charset_to_utf8(const char *charset, const char *s, size_t n, unsigned flags,
                       struct mp_buf *out, struct mp_err *e);

/* ---- header fields one line at a time: the one reader of field names
 * and values for those who pass a message on as it comes (the store,
 * mfetch's --dedup); bounded, one field in hand. */

#define MP_HDR_FIELD_MAX 4000 /* bytes of one field kept, unfolded */

/* The length of the field name a header line starts with (printable
 * ASCII but ':'; blanks before the colon, the obsolete syntax, are not
 * counted), 0 when the line starts no field. *value (if not NULL) gets
 * the offset just past the colon. */
size_t mp_hdr_field_name(const char *line, size_t n, size_t *value);
/* 1 if the line starts the field NAME (any case) */
int mp_hdr_field_name_is(const char *line, size_t n, const char *name);

enum mp_hdr_line {
	MP_HDR_FIELD = 1, /* the segment starts a field */
	MP_HDR_MORE,      /* it goes on with the field in hand: a folded line, the
	                   * rest of a line longer than a segment */
	MP_HDR_BAD,       /* a line that is no field (no name and colon): skipped */
	MP_HDR_END        /* the blank line: the header ends (later calls too) */
};

struct mp_hdr_reader {
	char cur[MP_HDR_FIELD_MAX + 1];  /* the field being read */
	char done[MP_HDR_FIELD_MAX + 1]; /* the field the last call completed */
	size_t curlen, donelen;
	int curcut, have, end, in_bad;
};

void mp_hdr_reader_init(struct mp_hdr_reader *r);
/* Feed the next segment of a header (bol: it starts a line). Returns what
 * it is (enum mp_hdr_line). A field is complete when the next one
 * starts or the header ends; mp_hdr_reader_get then sees it, until the
 * next call. */
int mp_hdr_reader_feed(struct mp_hdr_reader *r, const char *seg, size_t n, int bol);
/* the input ended without a blank line: the last field is complete */
void mp_hdr_reader_end(struct mp_hdr_reader *r);
/* The value of the field just completed when its name is NAME:
 * unfolded, blanks and line ends trimmed at both ends; NULL for another
 * field, none, or one longer than MP_HDR_FIELD_MAX (never half of one). */
const char *mp_hdr_reader_get(struct mp_hdr_reader *r, const char *name);

/* The value of the first field NAME in the header at buf (n bytes, that
 * may end anywhere: the header ends at its blank line or at n) into
 * value (replacing what was there): 1 found, 0 not (or too long), -1 out
 * of memory. */
int mp_hdr_find(const char *buf, size_t n, const char *name, struct mp_buf *value);
/* The same for the field NAME after nth others (nth 0: the first). */
int mp_hdr_find_nth(const char *buf, size_t n, const char *name, int nth, struct mp_buf *value);

/* The msg-id of a Message-ID (or In-Reply-To, References) value: "<"
 * to ">" with comments and blanks around and folding blanks inside
 * dropped; without angle brackets, the first word. 1 found, 0 none, or
 * longer than out can hold (a cut id could match another). */
int mp_hdr_msgid(const char *value, size_t n, char *out, size_t outn);

#endif
