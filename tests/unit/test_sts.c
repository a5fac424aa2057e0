#include <stdlib.h>
#include <string.h>

#include "sts.h"
#include "tap.h"

static struct mp_sts_policy pol;

static int parse(const char *s, struct mp_err *e)
{
	mp_err_clear(e);
	return mp_sts_parse(s, strlen(s), &pol, e);
}

/* policies that must be refused, and why */
static const struct {
	const char *text, *why;
} bad[] = {
    {"mode: enforce\nmx: a.test\nmax_age: 1\n", "no version"},
    {"version: STSv1\nmx: a.test\nmax_age: 1\n", "no mode"},
    {"version: STSv1\nmode: enforce\nmx: a.test\n", "no max_age"},
    {"version: STSv1\nmode: enforce\nmax_age: 1\n", "enforce without mx"},
    {"version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "version STSv2"},
    {"version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 1\n", "mode is case-sensitive"},
    {"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n", "negative max_age"},
    {"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n", "11-digit max_age"},
    {"version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 1\n", "wildcard not leading"},
    {"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n", "bare wildcard"},
    {"version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n", "empty label"},
    {"version: STSv1\nmode: enforce\nmode: none\nmx: a.test\nmax_age: 1\n", "mode twice"},
    {"version: STSv1\nmode: enforce\nmx a.test\nmax_age: 1\n", "no colon"},
    {"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\n\001x: y\n", "control byte"},
    {"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\nfoo:\n", "extension without value"},
};

int main(void)
{
	struct mp_err e;
	char id[MP_STS_IDMAX + 1];

	tap_is_int(parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	                 "mx: *.example.net\r\nmax_age: 604800\r\n",
	                 &e),
	           0, "the RFC 8461 example parses");
	tap_is_int(pol.mode, MP_STS_ENFORCE, "mode enforce");
	tap_is_int(pol.max_age, 604800, "max_age");
	tap_is_int(pol.nmx, 2, "two mx patterns");
	tap_ok(mp_sts_mx_match(&pol, "mail.example.com."), "exact name, final dot");
	tap_ok(mp_sts_mx_match(&pol, "MX1.Example.NET"), "wildcard, any case");
	tap_ok(!mp_sts_mx_match(&pol, "a.b.example.net"), "wildcard is one label only");
	tap_ok(!mp_sts_mx_match(&pol, "example.net"), "wildcard needs a label");
	tap_ok(!mp_sts_mx_match(&pol, "xmail.example.com"), "no suffix match");
	tap_is_int(parse("version: STSv1\nmode:testing  \nmx: a.test\nmax_age: 99999999\n"
	                 "future: value with spaces\n",
	                 &e),
	           0, "LF lines, no space after ':', trailing blanks, an extension");
	tap_is_int(pol.mode, MP_STS_TESTING, "mode testing");
	tap_is_int(pol.max_age, MP_STS_MAXAGE, "max_age capped at a year");
	tap_is_int(parse("version: STSv1\nmode: none\nmax_age: 0", &e), 0,
	           "mode none needs no mx; no final line end");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i].text, &e);
		tap_ok(rc == -1 && e.code == EX_DATAERR, "refused: %s (%s)", bad[i].why, e.msg);
	}
	struct mp_buf b = MP_BUF_INIT;
	mp_buf_puts(&b, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i <= MP_STS_MAXMX; i++)
		mp_buf_printf(&b, "mx: m%d.test\n", i);
	tap_is_int(parse(b.data, &e), -1, "more than %d mx lines refused", MP_STS_MAXMX);
	mp_buf_free(&b);
	char *big = malloc(MP_STS_MAX + 2);
	memset(big, 'x', MP_STS_MAX + 1);
	big[MP_STS_MAX + 1] = '\0';
	tap_is_int(parse(big, &e), -1, "over 64 KiB refused");
	free(big);

	mp_err_clear(&e);
	tap_is_int(mp_sts_txt("v=STSv1; id=20160831085700Z;", 28, id, sizeof id, &e), 1,
	           "TXT record of RFC 8461");
	tap_ok(strcmp(id, "20160831085700Z") == 0, "its id");
	tap_is_int(mp_sts_txt("v=STSv1;id=1;ext=x", 18, id, sizeof id, &e), 1,
	           "no spaces, an extension");
	tap_is_int(mp_sts_txt("v=spf1 -all", 11, id, sizeof id, &e), 0, "not an STS record");
	tap_is_int(mp_sts_txt("v=STSv10; id=1", 14, id, sizeof id, &e), 0,
	           "v=STSv10 is not v=STSv1");
	tap_is_int(mp_sts_txt("v=STSv1;", 8, id, sizeof id, &e), -1, "no id");
	tap_is_int(mp_sts_txt("v=STSv1; id=a-b", 15, id, sizeof id, &e), -1, "id with a dash");
	tap_is_int(
	    mp_sts_txt("v=STSv1; id=123456789012345678901234567890123", 45, id, sizeof id, &e), -1,
	    "33-character id");
	return tap_done();
}
