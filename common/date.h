/* date: RFC 5322 date-times (section 3.3, and the obsolete forms of 4.3)
 * read by a bounded parser, and written as RFC 3339, seconds since the
 * epoch, or the canonical RFC 5322 form, for mparse --date. */
#ifndef MP_DATE_H
#define MP_DATE_H

#include <stddef.h>
#include <time.h>

enum mp_date_form { MP_DATE_ASIS, MP_DATE_ISO, MP_DATE_EPOCH, MP_DATE_RFC };

struct mp_date {
	time_t t;  /* the instant, seconds since 1970 UTC */
	long off;  /* the zone of the original, seconds east of UTC */
	int local; /* 0 when the zone is -0000 or an unknown name: UTC, place unknown */
};

/* "iso", "epoch", "rfc": the form, or -1 */
int mp_date_form_parse(const char *name);
/* 0, or -1 when s holds no date-time that can be read */
int mp_date_parse(const char *s, struct mp_date *d);
/* the date in a form other than MP_DATE_ASIS; out has room for 40 bytes */
void mp_date_format(const struct mp_date *d, enum mp_date_form f, char *out, size_t n);

#endif
