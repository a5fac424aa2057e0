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

#endif
