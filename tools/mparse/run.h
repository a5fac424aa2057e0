/* mparse: what every mode shares: the options of --show, --scan, the
 * picks and the part filters (set by args.c), a field's value as -f
 * prints it, and the run's problems and exit status. */
#ifndef MPARSE_RUN_H
#define MPARSE_RUN_H

#include "date.h"
#include "mime.h"
#include "util.h"

/* the options of show.c, scan.c and pick.c (set by args.c, threads by main) */
struct mp_xopts {
	int show, scan, json, reverse;
	long width;              /* --width: cut --scan lines there; -1 never, 0 the terminal's */
	const char *sort;        /* --sort: date (NULL), file, from, subject */
	const char *type, *name; /* --type, --name: globs a part must match */
	const char *html_filter; /* --html-filter CMD */
	const char *const *fields;
	int nfields;
	enum mp_date_form date;
	int threads; /* MPARSE_THREADS: threads reading a folder's messages */
};
extern struct mp_xopts X;

/* an input or a message that could not be read: one line on stderr, with
 * an error line too once mp_problems_json() was called; a sticky code is
 * the exit status even when other messages were read (an input that
 * cannot be opened, 66, before anything else) */
void mp_problem(int code, int sticky, const char *fmt, ...) MP_PRINTF(3, 4);
/* -j: problems are JSON error lines too */
void mp_problems_json(void);
/* -j: a line that is not an error was written after the last error line */
void mp_problem_passed(void);
/* the run's exit status once every input is done (ok: some message was
 * read); -j: a failed run ends with its error line */
int mp_run_status(int ok);

/* a field's value as -f prints it: decoded, a date in the --date form */
void mp_field_value(const char *msg, const struct mp_field *f, struct mp_buf *out);
/* a value with its RFC 2047 words decoded (what cannot be, as it stands) */
void mp_value_decoded(const char *v, struct mp_buf *out);

#endif
