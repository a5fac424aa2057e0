/* date: RFC 5322 date-times (section 3.3, and the obsolete forms of 4.3)
 * read by a bounded parser, and written as RFC 3339, seconds since the
 * epoch, or the canonical RFC 5322 form, for mparse --date. */
#ifndef MPARSE_DATE_H
#define MPARSE_DATE_H

#include <stddef.h>
#include <time.h>

enum date_form { DATE_ASIS, DATE_ISO, DATE_EPOCH, DATE_RFC };

struct date {
	time_t t;  /* the instant, seconds since 1970 UTC */
	long off;  /* the zone of the original, seconds east of UTC */
	int local; /* 0 when the zone is -0000 or an unknown name: UTC, place unknown */
};

/* "iso", "epoch", "rfc": the form, or -1 */
int date_form_parse(const char *name);
/* 0, or -1 when s holds no date-time that can be read */
int date_parse(const char *s, struct date *d);
/* the date in a form other than DATE_ASIS; out has room for 40 bytes */
void date_format(const struct date *d, enum date_form f, char *out, size_t n);

#endif
