#include "date.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int mp_date_form_parse(const char *name)
{
	static const char *const names[] = {"iso", "epoch", "rfc"};

	for (int i = 0; i < 3; i++)
		if (strcmp(name, names[i]) == 0)
			return MP_DATE_ISO + i;
	return -1;
}

/* white space and (nested) comments */
static const char *cfws(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		int depth = 0;
		for (; *s; s++) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
		}
	}
}

/* 1 to max digits; -1 when there is none */
static long number(const char **s, int max, int *ndig)
{
	long v = 0;
	int k = 0;

	while (k < max && **s >= '0' && **s <= '9')
		v = v * 10 + (*(*s)++ - '0'), k++;
	if (ndig)
		*ndig = k;
	return k ? v : -1;
}

/* a name of three letters or more whose first three are one of list */
static int name(const char **s, const char *const *list, int n)
{
	size_t k = 0;

	while (((*s)[k] >= 'A' && (*s)[k] <= 'Z') || ((*s)[k] >= 'a' && (*s)[k] <= 'z'))
		k++;
	if (k < 3 || k > 9)
		return -1;
	for (int i = 0; i < n; i++)
		if (strncasecmp(*s, list[i], 3) == 0) {
			*s += k;
			return i;
		}
	return -1;
}

/* +hhmm, -hhmm, or an obsolete name (RFC 5322 4.3); military letters and
 * other names are -0000 */
static int zone(const char *s, struct mp_date *d)
{
	static const struct {
		const char *name;
		int hours;
	} names[] = {{"UT", 0},   {"GMT", 0},  {"EST", -5}, {"EDT", -4}, {"CST", -6},
	             {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
	size_t n = 0;

	if (*s == '+' || *s == '-') {
		const char *p = s + 1;
		int k;
		long v = number(&p, 4, &k);
		if (k != 4 || v % 100 > 59)
			return -1;
		d->off = (*s == '-' ? -1 : 1) * (v / 100 * 3600 + v % 100 * 60);
		d->local = !(*s == '-' && v == 0);
		return 0;
	}
	while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))
		n++;
	if (!n)
		return -1;
	d->off = 0;
	d->local = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0) {
			d->off = names[i].hours * 3600L;
			d->local = 1;
		}
	return 0;
}

int mp_date_parse(const char *s, struct mp_date *d)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct tm tm;
	int k;

	memset(&tm, 0, sizeof tm);
	memset(d, 0, sizeof *d);
	s = cfws(s);
	if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
		if (name(&s, days, 7) < 0)
			return -1;
		s = cfws(s);
		if (*s == ',')
			s = cfws(s + 1);
	}
	long day = number(&s, 2, NULL);
	s = cfws(s);
	int mon = name(&s, months, 12);
	s = cfws(s);
	long year = number(&s, 4, &k);
	if (day < 1 || mon < 0 || year < 0)
		return -1;
	if (k == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (k == 3)
		year += 1900;
	if (day > mdays[mon] ||
	    (mon == 1 && day == 29 && (year % 4 || (year % 100 == 0 && year % 400))))
		return -1;
	s = cfws(s);
	long hh = number(&s, 2, NULL), mm = -1, ss = 0;
	s = cfws(s);
	if (*s == ':') {
		s = cfws(s + 1);
		mm = number(&s, 2, NULL);
		s = cfws(s);
	}
	if (*s == ':') {
		s = cfws(s + 1);
		ss = number(&s, 2, NULL);
		s = cfws(s);
	}
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return -1;
	if (zone(s, d) < 0)
		return -1;
	tm.tm_year = (int)year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = (int)day;
	tm.tm_hour = (int)hh;
	tm.tm_min = (int)mm;
	tm.tm_sec = (int)ss;
	d->t = timegm(&tm) - d->off;
	return 0;
}

void mp_date_format(const struct mp_date *d, enum mp_date_form f, char *out, size_t n)
{
	time_t local = d->t + d->off;
	long a = d->off < 0 ? -d->off : d->off;
	char sign = d->off < 0 || !d->local ? '-' : '+';
	struct tm tm;

	if (f == MP_DATE_EPOCH) {
		snprintf(out, n, "%lld", (long long)d->t);
		return;
	}
	if (!gmtime_r(&local, &tm)) {
		snprintf(out, n, "%lld", (long long)d->t);
		return;
	}
	if (f == MP_DATE_ISO)
		snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
		         a / 3600, a % 3600 / 60);
	else
		snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
		         tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		         tm.tm_sec, sign, a / 3600, a % 3600 / 60);
}
