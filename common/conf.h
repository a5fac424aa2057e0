/* conf: what msend and mfetch share about accounts; for now the password
 * (a passwordeval command, or an environment variable). The account file
 * format of man/mailpipe.5 grows here. */
#ifndef MP_CONF_H
#define MP_CONF_H

#include "util.h"

/* The password: the first line printed by cmd (run with sh -c), else the
 * value of the environment variable env. NULL with e filled (EX_CONFIG)
 * when neither gives one. The caller wipes and frees it. */
char *mp_password(const char *cmd, const char *env, struct mp_err *e);

#endif
