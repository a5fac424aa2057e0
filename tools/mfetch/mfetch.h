/* mfetch: dedup.c still includes this name; each module has its own
 * header now (fopts.h, deliver.h, state.h, session.h, report.h, imap.h,
 * pop3.h, watch.h, dedup.h). This goes once dedup.c includes dedup.h. */
#ifndef MFETCH_H
#define MFETCH_H

#include "dedup.h"

#endif
