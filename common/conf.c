#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* every setting either tool knows; a name outside this list is a typo */
static const char *const known[] = {"host",
                                    "port",
                                    "protocol",
                                    "tls",
                                    "auth",
                                    "user",
                                    "password",
                                    "passwordeval",
                                    "tls_ca_file",
                                    "tls_trust_file",
                                    "tls_fingerprint",
                                    "tls_cert_file",
                                    "tls_key_file",
                                    "timeout",
                                    "domain",
                                    "from",
                                    "force_from",
                                    "read_envelope_from",
                                    "maildomain",
                                    "aliases",
                                    "queue",
                                    "auth_plaintext",
                                    "direct",
                                    "max_age",
                                    "log",
                                    "dkim_key",
                                    "dkim_selector",
                                    "dkim_domain",
                                    "dkim_canon",
                                    "folder",
                                    "move",
                                    "to",
                                    "mda",
                                    "delete",
                                    "mark_seen",
                                    "max_size",
                                    "state",
                                    "limit",
                                    "interval",
                                    NULL};

#define NKNOWN (sizeof known / sizeof known[0] - 1)

/* the setting a key gives: its place in known[], one for the two names
 * of one setting (tls_trust_file is msmtp's tls_ca_file; password and
 * passwordeval are two ways to give the password); -1 for a typo */
static int slot(const char *k)
{
	if (strcmp(k, "tls_trust_file") == 0)
		k = "tls_ca_file";
	else if (strcmp(k, "passwordeval") == 0)
		k = "password";
	for (size_t i = 0; known[i]; i++)
		if (strcmp(known[i], k) == 0)
			return (int)i;
	return -1;
}

static int is_known(const char *k)
{
	return slot(k) >= 0;
}

/* Mark what a later line of the account replaces (mailpipe(5)): one
 * value, the last, for every setting but two lists. dkim_key (with its
 * dkim_selector) adds to the keys inherited; the folder lines of one
 * level (the defaults, a parent, the account's own) replace those of the
 * levels before it. */
static void settle(struct mp_account *a)
{
	int last[NKNOWN]; /* the highest level seen below, per setting; -1 none */

	for (size_t k = 0; k < NKNOWN; k++)
		last[k] = -1;
	for (size_t i = a->n; i-- > 0;) {
		struct mp_conf_kv *kv = &a->kv[i];
		int k = slot(kv->key);
		if (strcmp(kv->key, "dkim_key") == 0 || strcmp(kv->key, "dkim_selector") == 0)
			kv->shadowed = 0;
		else if (strcmp(kv->key, "folder") == 0)
			kv->shadowed = last[k] > kv->level;
		else
			kv->shadowed = last[k] >= 0;
		if (kv->level > last[k])
			last[k] = kv->level;
	}
}

int mp_conf_bool(const char *v)
{
	static const char *const yes[] = {"on", "yes", "true", "1", NULL}, *const no[] = {
	                                                                       "off", "no", "false",
	                                                                       "0", NULL};
	for (size_t i = 0; yes[i]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
	for (size_t i = 0; no[i]; i++)
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	return -1;
}

static void kv_add(struct mp_account *a, const char *k, const char *v, int line, int level)
{
	a->kv = mp_xrealloc(a->kv, (a->n + 1) * sizeof *a->kv);
	a->kv[a->n].key = mp_xstrdup(k);
	a->kv[a->n].val = mp_xstrdup(v);
	a->kv[a->n].line = line;
	a->kv[a->n].level = level;
	a->kv[a->n].shadowed = 0;
	a->n++;
}

/* what from has in effect (settled: a parent's own lines over what it
 * inherited), as one level of to */
static void kv_copy(struct mp_account *to, const struct mp_account *from, int level)
{
	for (size_t i = 0; i < from->n; i++)
		if (!from->kv[i].shadowed)
			kv_add(to, from->kv[i].key, from->kv[i].val, from->kv[i].line, level);
}

static void account_free(struct mp_account *a)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->kv[i].key, "password") == 0)
			memset(a->kv[i].val, 0, strlen(a->kv[i].val));
		free(a->kv[i].key);
		free(a->kv[i].val);
	}
	free(a->kv);
	free(a->name);
	memset(a, 0, sizeof *a);
}

void mp_conf_free(struct mp_conf *c)
{
	for (size_t i = 0; i < c->nacc; i++)
		account_free(&c->acc[i]);
	free(c->acc);
	free(c->path);
	memset(c, 0, sizeof *c);
}

const struct mp_account *mp_conf_account(const struct mp_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nacc; i++)
		if (strcmp(c->acc[i].name, name) == 0)
			return &c->acc[i];
	return NULL;
}

const struct mp_account *mp_conf_need(const struct mp_conf *c, const char *name)
{
	const struct mp_account *a = mp_conf_account(c, name);

	if (a)
		return a;
	if (c->path)
		mp_die(EX_CONFIG, "%s: no account '%s'", c->path, name);
	mp_die(EX_CONFIG, "no configuration file for account '%s' (see mailpipe(5))", name);
}

const struct mp_conf_kv *mp_conf_get(const struct mp_account *a, const char *key)
{
	for (size_t i = a ? a->n : 0; i-- > 0;)
		if (strcmp(a->kv[i].key, key) == 0)
			return &a->kv[i];
	return NULL;
}

void mp_conf_fail(const struct mp_conf *c, const struct mp_conf_kv *kv, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	mp_die(EX_CONFIG, "%s:%d: %s: %s", c->path, kv->line, kv->key, msg);
}

long mp_conf_num(const struct mp_conf *c, const struct mp_conf_kv *kv, long min, long max)
{
	char *end;
	long v, mult = 1;

	errno = 0;
	v = strtol(kv->val, &end, 10);
	/* durations may carry a unit: 90s 30m 12h 5d */
	if (*end && !end[1] && end > kv->val && strchr("smhd", *end))
		mult = *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 1, end++;
	if (!kv->val[0] || *end || errno || v < min || v > max / mult)
		mp_conf_fail(c, kv, "'%s' is not a number from %ld to %ld", kv->val, min, max);
	return v * mult;
}

int mp_conf_onoff(const struct mp_conf *c, const struct mp_conf_kv *kv)
{
	int b = mp_conf_bool(kv->val);
	if (b < 0)
		mp_conf_fail(c, kv, "'%s': expected on or off", kv->val);
	return b;
}

const char *mp_conf_path(struct mp_conf_kv *kv)
{
	const char *h = getenv("HOME");
	if (kv->val[0] == '~' && kv->val[1] == '/' && h) {
		char *p = mp_xmalloc(strlen(h) + strlen(kv->val));
		sprintf(p, "%s%s", h, kv->val + 1);
		free(kv->val);
		kv->val = p;
	}
	return kv->val;
}

/* The value after the key: bare (to the end of the line, trailing blanks
 * cut) or "quoted" with \" and \\ escapes. Written into out (at least as
 * large as the line); -1 on a bad quote. */
static int value(const char *p, char *out)
{
	size_t k = 0;

	if (*p != '"') {
		size_t l = strlen(p);
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		memcpy(out, p, l);
		out[l] = '\0';
		return 0;
	}
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		out[k++] = *p;
	}
	out[k] = '\0';
	if (*p != '"')
		return -1;
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	return *p ? -1 : 0;
}

/* Cut a comment off the line: a '#' at the start or after a blank, outside
 * "quotes" (README-style "host mail.example.org   # the relay"). A '#'
 * inside a word or a quoted value stays: "password ab#c" keeps it. */
static void cut_comment(char *line)
{
	int quoted = 0;

	for (char *p = line; *p; p++) {
		if (quoted && *p == '\\' && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == ':' || *s == '"' || *s == 0x7f)
			return 0;
	return 1;
}

int mp_conf_parse(struct mp_conf *c, const char *name, const char *buf, size_t len,
                  struct mp_err *e)
{
	struct mp_account defaults = {0}, *cur = &defaults;
	int level = 0; /* that of cur's own lines */
	char *line = mp_xmalloc(MP_CONF_LINE_MAX + 1), *val = mp_xmalloc(MP_CONF_LINE_MAX + 1);
	int lineno = 0, rc = -1;

	memset(c, 0, sizeof *c);
	c->path = mp_xstrdup(name);
	if (len > MP_CONF_SIZE_MAX) {
		mp_err_set(e, EX_CONFIG, "%s: larger than %d bytes", name, MP_CONF_SIZE_MAX);
		goto out;
	}
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;
		size_t start = i;
		i = nl ? (size_t)(nl - buf) + 1 : len;
		lineno++;
		if (l > MP_CONF_LINE_MAX) {
			mp_err_set(e, EX_CONFIG, "%s:%d: line longer than %d bytes", name, lineno,
			           MP_CONF_LINE_MAX);
			goto out;
		}
		if (memchr(buf + start, '\0', l)) {
			mp_err_set(e, EX_CONFIG, "%s:%d: NUL byte", name, lineno);
			goto out;
		}
		memcpy(line, buf + start, l);
		line[l] = '\0';
		if (l && line[l - 1] == '\r')
			line[--l] = '\0';
		cut_comment(line);
		char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		char *k = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = '\0';
		p += strspn(p, " \t");
		if (strcmp(k, "defaults") == 0) {
			if (*p) {
				mp_err_set(e, EX_CONFIG, "%s:%d: 'defaults' takes no value", name,
				           lineno);
				goto out;
			}
			cur = &defaults;
			level = 0;
			continue;
		}
		if (strcmp(k, "account") == 0) {
			/* account NAME [: PARENT[, PARENT...]] */
			char *colon = strchr(p, ':'), *parents = NULL;
			if (colon) {
				*colon = '\0';
				parents = colon + 1;
			}
			if (value(p, val) < 0 || !valid_name(val)) {
				mp_err_set(e, EX_CONFIG,
				           "%s:%d: 'account' needs a name (no blanks or ':')", name,
				           lineno);
				goto out;
			}
			if (mp_conf_account(c, val)) {
				mp_err_set(e, EX_CONFIG, "%s:%d: account '%s' defined twice", name,
				           lineno, val);
				goto out;
			}
			c->acc = mp_xrealloc(c->acc, (c->nacc + 1) * sizeof *c->acc);
			cur = &c->acc[c->nacc++];
			memset(cur, 0, sizeof *cur);
			cur->name = mp_xstrdup(val);
			cur->line = lineno;
			kv_copy(cur, &defaults, 0);
			level = 1;
			for (char *tok = parents ? strtok(parents, ", \t") : NULL; tok;
			     tok = strtok(NULL, ", \t")) {
				struct mp_account *par = NULL;
				for (size_t j = 0; j + 1 < c->nacc; j++)
					if (strcmp(c->acc[j].name, tok) == 0)
						par = &c->acc[j];
				if (!par) {
					mp_err_set(e, EX_CONFIG,
					           "%s:%d: account '%s' is not defined above", name,
					           lineno, tok);
					goto out;
				}
				settle(par);
				kv_copy(cur, par, level++);
			}
			continue;
		}
		if (!is_known(k)) {
			mp_err_set(e, EX_CONFIG, "%s:%d: unknown setting '%.64s'", name, lineno, k);
			goto out;
		}
		if (value(p, val) < 0) {
			mp_err_set(e, EX_CONFIG, "%s:%d: %s: unbalanced quote", name, lineno, k);
			goto out;
		}
		if (strcmp(k, "password") == 0)
			c->has_password = 1;
		kv_add(cur, k, val, lineno, level);
	}
	for (size_t i = 0; i < c->nacc; i++)
		settle(&c->acc[i]);
	rc = 0;
out:
	account_free(&defaults);
	memset(line, 0, MP_CONF_LINE_MAX + 1);
	memset(val, 0, MP_CONF_LINE_MAX + 1);
	free(line);
	free(val);
	if (rc < 0)
		mp_conf_free(c);
	return rc;
}

/* the whole file, bounded */
static char *slurp(const char *path, size_t *len, struct stat *st, struct mp_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;

	if (fd < 0) {
		mp_err_sys(e, errno == ENOENT ? EX_CONFIG : EX_NOINPUT, "%s", path);
		return NULL;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		mp_err_set(e, EX_CONFIG, "%s: not a regular file", path);
		return NULL;
	}
	buf = mp_xmalloc(MP_CONF_SIZE_MAX + 1);
	*len = 0;
	while ((n = read(fd, buf + *len, MP_CONF_SIZE_MAX + 1 - *len)) > 0)
		*len += (size_t)n;
	close(fd);
	if (n < 0) {
		free(buf);
		mp_err_sys(e, EX_IOERR, "%s", path);
		return NULL;
	}
	return buf;
}

int mp_conf_load(struct mp_conf *c, const char *path, struct mp_err *e)
{
	char home[4096];
	const char *cand[3];
	size_t nc = 0, len;
	struct stat st;
	int must = 1;

	memset(c, 0, sizeof *c);
	if (!path && (path = getenv("MAILPIPE_CONFIG")) && !*path)
		path = NULL;
	if (!path) {
		const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
		must = 0;
		if (x && *x)
			snprintf(home, sizeof home, "%s/mailpipe/config", x);
		else
			snprintf(home, sizeof home, "%s/.config/mailpipe/config", h ? h : "/");
		cand[nc++] = home;
		cand[nc++] = "/etc/mailpipe.conf";
	} else {
		cand[nc++] = path;
	}
	for (size_t i = 0; i < nc; i++) {
		if (!must && access(cand[i], F_OK) < 0)
			continue;
		char *buf = slurp(cand[i], &len, &st, e);
		if (!buf)
			return -1;
		int rc = mp_conf_parse(c, cand[i], buf, len, e);
		memset(buf, 0, len);
		free(buf);
		if (rc < 0)
			return -1;
		if (c->has_password && (st.st_mode & 077)) {
			mp_err_set(e, EX_CONFIG,
			           "%s: holds a password and others can read it (chmod 600 %s)",
			           cand[i], cand[i]);
			mp_conf_free(c);
			return -1;
		}
		return 0;
	}
	return 0;
}

/* ---------------------------------------------------------------- aliases */

void mp_aliases_free(struct mp_aliases *al)
{
	for (size_t i = 0; i < al->n; i++) {
		for (size_t j = 0; j < al->a[i].n; j++)
			free(al->a[i].to[j]);
		free(al->a[i].to);
		free(al->a[i].name);
	}
	free(al->a);
	memset(al, 0, sizeof *al);
}

int mp_aliases_parse(struct mp_aliases *al, const char *name, const char *buf, size_t len,
                     struct mp_err *e)
{
	char line[MP_CONF_LINE_MAX + 1];
	int lineno = 0;

	memset(al, 0, sizeof *al);
	if (len > MP_CONF_SIZE_MAX)
		return mp_err_set(e, EX_CONFIG, "%s: larger than %d bytes", name, MP_CONF_SIZE_MAX);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (buf + i)) : len - i, start = i;
		i = nl ? (size_t)(nl - buf) + 1 : len;
		lineno++;
		if (l > MP_CONF_LINE_MAX || memchr(buf + start, '\0', l)) {
			mp_aliases_free(al);
			return mp_err_set(e, EX_CONFIG, "%s:%d: %s", name, lineno,
			                  l > MP_CONF_LINE_MAX ? "line too long" : "NUL byte");
		}
		memcpy(line, buf + start, l);
		line[l] = '\0';
		char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		char *colon = strchr(p, ':');
		size_t nl2 = colon ? (size_t)(colon - p) : 0;
		while (nl2 && (p[nl2 - 1] == ' ' || p[nl2 - 1] == '\t'))
			nl2--;
		if (!colon || !nl2) {
			mp_aliases_free(al);
			return mp_err_set(e, EX_CONFIG, "%s:%d: expected 'name: address, ...'",
			                  name, lineno);
		}
		p[nl2] = '\0';
		al->a = mp_xrealloc(al->a, (al->n + 1) * sizeof *al->a);
		struct mp_alias *a = &al->a[al->n++];
		memset(a, 0, sizeof *a);
		a->name = mp_xstrdup(p);
		for (char *tok = strtok(colon + 1, ", \t\r"); tok; tok = strtok(NULL, ", \t\r")) {
			if (strpbrk(tok, "<>\"()") || tok[0] == '-') {
				mp_aliases_free(al);
				return mp_err_set(e, EX_CONFIG, "%s:%d: '%.64s' is not an address",
				                  name, lineno, tok);
			}
			a->to = mp_xrealloc(a->to, (a->n + 1) * sizeof *a->to);
			a->to[a->n++] = mp_xstrdup(tok);
		}
		if (!a->n) {
			mp_aliases_free(al);
			return mp_err_set(e, EX_CONFIG, "%s:%d: no address for '%s'", name, lineno,
			                  p);
		}
	}
	return 0;
}

int mp_aliases_load(struct mp_aliases *al, const char *path, struct mp_err *e)
{
	struct stat st;
	size_t len;
	char *buf = slurp(path, &len, &st, e);

	memset(al, 0, sizeof *al);
	if (!buf)
		return -1;
	int rc = mp_aliases_parse(al, path, buf, len, e);
	free(buf);
	return rc;
}

const struct mp_alias *mp_aliases_find(const struct mp_aliases *al, const char *local)
{
	const struct mp_alias *def = NULL;

	for (size_t i = 0; i < al->n; i++) {
		if (strcasecmp(al->a[i].name, local) == 0)
			return &al->a[i];
		if (strcmp(al->a[i].name, "default") == 0)
			def = &al->a[i];
	}
	return def;
}

/* ---------------------------------------------------------------- password */

char *mp_password2(const char *given, const char *cmd, const char *env, struct mp_err *e)
{
	if (given && !cmd)
		return mp_xstrdup(given);
	return mp_password(cmd, env, e);
}

char *mp_password(const char *cmd, const char *env, struct mp_err *e)
{
	char buf[4096];
	size_t n;
	FILE *f;

	if (!cmd) {
		const char *p = env ? getenv(env) : NULL;
		if (p && *p)
			return mp_xstrdup(p);
		mp_err_set(e, EX_CONFIG, "no password: give --password-eval%s%s", env ? " or " : "",
		           env ? env : "");
		return NULL;
	}
	/* the command gets the default SIGPIPE, whatever its caller ignores */
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	f = popen(cmd, "r");
	signal(SIGPIPE, old);
	if (!f) {
		mp_err_sys(e, EX_CONFIG, "password command");
		return NULL;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	int st = pclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (st != 0 || !buf[0]) {
		memset(buf, 0, sizeof buf);
		mp_err_set(e, EX_CONFIG, "the password command failed or printed nothing");
		return NULL;
	}
	char *p = mp_xstrdup(buf);
	memset(buf, 0, sizeof buf);
	return p;
}
