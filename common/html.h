/* html: the text of an HTML body for a reader, by a small bounded
 * converter: tags dropped, block elements made line breaks, script,
 * style and title content dropped, character references decoded (the
 * common named ones and numeric ones), links kept as [N] with a
 * numbered list of their targets at the end. One pass, linear in the
 * input; no DOM, no state but a few bytes and the list of links. */
#ifndef MP_HTML_H
#define MP_HTML_H

#include <stddef.h>

#include "util.h"

#define MP_HTML_LINKS   1000 /* links numbered; later ones keep their text only */
#define MP_HTML_LINKMAX 2048 /* bytes of a link target; a longer one is not numbered */

/* Append the text of the HTML at s (n bytes, UTF-8 or any ASCII
 * superset: bytes >= 0x80 pass as they are) to out: 0, or -1 when out
 * of memory. The text ends with one line end unless it is empty; it may
 * hold any byte of the input (print it with mp_term_write). */
int mp_html_text(const char *s, size_t n, struct mp_buf *out);

#endif
