/* jbody: a part's decoded body as members of its JSON object, for mparse
 * -j --bodies: text in UTF-8 after charset conversion, anything else in
 * base64; read back from a spool file in pieces, never held whole. */
#ifndef MPARSE_JBODY_H
#define MPARSE_JBODY_H

#include <stdio.h>

#include "json.h"

#define JBODY_CHUNK (48 * 1024) /* a multiple of 3: no base64 padding between pieces */

/* "body" and "body_encoding" ("utf-8" or "base64") of a part of type
 * and charset, from f (rewound here). Returns 0, 1 when the charset is
 * not known (the text was read as UTF-8), -1 on a read error (errno). */
int jbody_write(struct mp_json *j, FILE *f, const char *type, const char *charset);

#endif
