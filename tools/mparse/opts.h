/* mparse: the options (args.c sets them, mparse.c's modes read them) */
#ifndef MPARSE_OPTS_H
#define MPARSE_OPTS_H

#include <stdio.h>

#include "date.h"
#include "json.h"
#include "util.h"

enum mode { M_SUMMARY, M_FIELDS, M_ADDR, M_TREE, M_PART, M_TEXT, M_EXTRACT, M_RECEIVED, M_JSON };

struct opts {
	enum mode mode;
	const char *fields[32];
	int nfields, raw, addr_only, mbox, bodies, verify, dsn, digest;
	int names;              /* -H 1, --no-filename 0, else -1: shown for several inputs */
	int tsv;                /* --tsv: a line a message, a column a field */
	enum mp_date_form date; /* --date */
	const char *addr_field, *part, *dir;
	long messages;
	int printed;
	struct mp_json j;
	/* --text: the best candidate */
	int text_found, html_fd;
	char text_charset[64], html_charset[64];
	/* -p / -x: where the current part goes, and a uuencoded block in it */
	FILE *out, *uuout;
	struct mp_buf uutree; /* -t: the lines of a text part's blocks, shown after it */
	int part_seen;        /* -p: 0 no such part, 1 a leaf, 2 a container */
	char part_type[128];  /* -p: the container's type */
	struct mp_buf conv;   /* charset conversion of --text */
};

extern struct opts O;

/* the command line into O (and X, verify_opts, the report's VERP form),
 * checked: the index of the first input; -h and -V exit here, a usage
 * error exits 64 */
int mparse_args(int argc, char **argv);

#endif
