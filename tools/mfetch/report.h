/* mfetch: what a run tells: the progress line, a --json line for each
 * message, the summary (report.c) */
#ifndef MFETCH_REPORT_H
#define MFETCH_REPORT_H

#include "fopts.h"

/* the progress line, at most ten times a second (done: the last one,
 * then the line is cleared) */
void progress(struct fopts *o, const struct fstats *st, int done);
/* --json: the line for a message delivered (bytes -1: unknown) */
void report_message(const struct fopts *o, long long bytes, const char *uid, const char *folder,
                    const char *where);
/* the summary of a run begun at t0 (ms): a line on stderr, or JSON */
void report_summary(const struct fopts *o, const struct fstats *st, double t0);
/* --idle: the summary of a round, when it brought something */
void report_round(const struct fopts *o, const struct fstats *st, double t0);

#endif
