/* run: what every mode of mparse shares: its options for show.c,
 * scan.c and pick.c, a field's value as -f prints it, and the problems
 * of the run and its exit status. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "hdr.h"
#include "json.h"
#include "run.h"

struct mp_xopts X;

static struct {
	int json;           /* -j: problems are error lines too */
	int errlines;       /* -j: error lines written */
	int last_error;     /* -j: the last line written is an error line */
	int fail;           /* an exit status whatever else was read (66, 65) */
	char failmsg[1024]; /* what gave fail */
} R;

void mp_problems_json(void)
{
	R.json = 1;
}

void mp_problem_passed(void)
{
	R.last_error = 0;
}

void mp_problem(int code, int sticky, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	mp_warn("%s", line);
	if (R.json) {
		mp_json_error_line(stdout, code, line);
		R.errlines++;
		R.last_error = 1;
	}
	if (sticky && R.fail != EX_NOINPUT) {
		R.fail = code;
		snprintf(R.failmsg, sizeof R.failmsg, "%s", line);
	}
}

int mp_run_status(int ok)
{
	if (fflush(stdout) == EOF)
		mp_die(EX_IOERR, "stdout: %s", strerror(errno));
	if (R.fail && R.json && !R.last_error) /* a failed run ends with it */
		mp_json_error_line(stdout, R.fail, R.failmsg);
	if (R.fail)
		return R.fail;
	if (ok)
		return 0;
	if (R.json && !R.errlines) /* an empty Maildir says nothing else */
		mp_json_error_line(stdout, EX_DATAERR, "no message could be read");
	return EX_DATAERR;
}

void mp_value_decoded(const char *v, struct mp_buf *out)
{
	mp_buf_reset(out);
	mp_hdr_decode_words(v, strlen(v), MP_HDR_IGNORE, out, NULL);
}

/* a Date or Resent-Date value in the form of --date; as it stands, with a
 * warning, when it cannot be read */
static int is_date_field(const char *name)
{
	return strcasecmp(name, "Date") == 0 || strcasecmp(name, "Resent-Date") == 0;
}

static void date_value(const char *msg, const char *field, const char *v, struct mp_buf *out)
{
	struct mp_date d;
	char buf[64];

	if (mp_date_parse(v, &d) < 0) {
		mp_warn("%s: %s: cannot read the date \"%s\": shown as it stands", msg, field, v);
		mp_value_decoded(v, out);
		return;
	}
	mp_date_format(&d, X.date, buf, sizeof buf);
	mp_buf_reset(out);
	mp_buf_puts(out, buf);
}

void mp_field_value(const char *msg, const struct mp_field *f, struct mp_buf *out)
{
	if (X.date != MP_DATE_ASIS && is_date_field(f->name))
		date_value(msg, f->name, f->value, out);
	else
		mp_value_decoded(f->value, out);
}
