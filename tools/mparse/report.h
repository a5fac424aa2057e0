/* mparse --dsn and --digest: delivery reports read (common/dsn.c), and a
 * digest made of messages (common/digest.c). */
#ifndef MPARSE_REPORT_H
#define MPARSE_REPORT_H

#include "json.h"
#include "store.h"

/* --dsn: a line per recipient of the report in src (name before it when
 * names), or with j a JSON object each; 0, or -1 when it is no report
 * (said on stderr) */
int report_dsn(const char *name, const struct mp_msgsrc *src, int names, struct mp_json *j);
/* --dsn: the VERP form to decode, as msend --verp=LOCAL --verp-delimiters
 * DELIM makes it (NULL: any local part; separators "+=") */
void report_verp_form(const char *local, const char *delim);
/* --digest: the message in src taken in (0, or -1 on a read error) */
int report_digest_add(const char *name, const struct mp_msgsrc *src);
/* --digest: the digest of the messages taken in, on stdout */
void report_digest_write(void);

#endif
