/* conf: what msend and mfetch share about accounts: the configuration
 * file of man/mailpipe.5 (defaults, account blocks with inheritance, an
 * account named default), the aliases file msend reads, and the password
 * (given, from a command, or from an environment variable). */
#ifndef MP_CONF_H
#define MP_CONF_H

#include <stddef.h>

#include "util.h"

#define MP_CONF_LINE_MAX 4096      /* a longer line is an error */
#define MP_CONF_SIZE_MAX (1 << 20) /* so is a larger file */

struct mp_conf_kv {
	char *key, *val;
	int line;
	int level;    /* 0 the defaults, then each parent in turn, then its own */
	int shadowed; /* a later line of the account gives this setting: skip it */
};

struct mp_account {
	char *name;
	int line;              /* where its block starts */
	struct mp_conf_kv *kv; /* inherited settings first, its own last */
	size_t n;
};

struct mp_conf {
	char *path; /* the file, as named in messages; NULL when there is none */
	struct mp_account *acc;
	size_t nacc;
	int has_password; /* some account holds a password in the file */
};

/* Parse a configuration held in buf (name is the file for messages).
 * Errors are "NAME:LINE: what", code EX_CONFIG. */
int mp_conf_parse(struct mp_conf *c, const char *name, const char *buf, size_t len,
                  struct mp_err *e);
/* Load path, or when path is NULL the first file that exists of
 * $MAILPIPE_CONFIG, $XDG_CONFIG_HOME/mailpipe/config (~/.config/...),
 * /etc/mailpipe.conf. Without a file c->path stays NULL and 0 is returned,
 * except that a named path (argument or $MAILPIPE_CONFIG) must exist. A
 * file that holds a password must not be readable by group or others. */
int mp_conf_load(struct mp_conf *c, const char *path, struct mp_err *e);
void mp_conf_free(struct mp_conf *c);

const struct mp_account *mp_conf_account(const struct mp_conf *c, const char *name);
/* the account named by -a: exit 78 when the file has none (or there is
 * no file) */
const struct mp_account *mp_conf_need(const struct mp_conf *c, const char *name);
/* the last value of key in the account (its own over inherited), or NULL */
const struct mp_conf_kv *mp_conf_get(const struct mp_account *a, const char *key);
/* "on"/"off" (also yes/no, true/false, 1/0) -> 1/0; -1 otherwise */
int mp_conf_bool(const char *v);

/* For the tools, which stop at a bad value: exit 78 with "FILE:LINE: key:
 * what". A number (durations may end in s, m, h or d), on/off, a path
 * ("~/" is $HOME, rewritten in kv). */
MP_NORETURN void mp_conf_fail(const struct mp_conf *c, const struct mp_conf_kv *kv, const char *fmt,
                              ...) MP_PRINTF(3, 4);
long mp_conf_num(const struct mp_conf *c, const struct mp_conf_kv *kv, long min, long max);
int mp_conf_onoff(const struct mp_conf *c, const struct mp_conf_kv *kv);
const char *mp_conf_path(struct mp_conf_kv *kv);

/* aliases (msmtp's format): "name: addr, addr" lines, "default: addr" */
struct mp_alias {
	char *name;
	char **to;
	size_t n;
};
struct mp_aliases {
	struct mp_alias *a;
	size_t n;
};
int mp_aliases_parse(struct mp_aliases *al, const char *name, const char *buf, size_t len,
                     struct mp_err *e);
int mp_aliases_load(struct mp_aliases *al, const char *path, struct mp_err *e);
/* the addresses local expands to (its entry, else "default"), or NULL */
const struct mp_alias *mp_aliases_find(const struct mp_aliases *al, const char *local);
void mp_aliases_free(struct mp_aliases *al);

/* The password: given (a copy of it), else the first line printed by cmd
 * (run with sh -c), else the value of the environment variable env. NULL
 * with e filled (EX_CONFIG) when none gives one. The caller wipes and
 * frees it. */
char *mp_password2(const char *given, const char *cmd, const char *env, struct mp_err *e);
char *mp_password(const char *cmd, const char *env, struct mp_err *e);

#endif
