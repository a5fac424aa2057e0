/* msend's settings: the command line over the configuration file's
 * account (mailpipe(5)) over the defaults; also for the queue, which asks
 * for the settings of the account an entry was sent with. */
#include <fnmatch.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "msend.h"
#include "sasl.h"

static const char *default_domain(void)
{
	static char h[256];

	if (gethostname(h, sizeof h - 1) < 0 || !h[0])
		strcpy(h, "localhost");
	return h;
}

static struct mp_conf conf;
static struct settings cmdline; /* what the command line said */
static int cl_notls;
static char *o_env_password; /* MSEND_PASSWORD */
static int cl_route;         /* the command line names an account or a way */

void settings_check_auth(const char *a, const char *where)
{
	if (strcasecmp(a, "auto") != 0 && mp_sasl_parse(a) == MP_SASL_NONE)
		mp_die(where ? EX_CONFIG : EX_USAGE,
		       "%s%sauth: '%s' is not one of plain, login, cram-md5, scram-sha-256, "
		       "xoauth2, oauthbearer, auto",
		       where ? where : "", where ? ": " : "", a);
}

/* fill what the command line left open from account a */
static void apply_account(const struct mp_account *a, struct settings *s, int *notls,
                          struct envcfg *ec)
{
	int tls_set = s->tls || s->starttls || *notls;
	int user_set = s->user != NULL, port_set = s->port != 0, to_set = s->timeout_ms != 0;
	int age_set = s->max_age >= 0;
	int dkim_set = s->ndkim_key > 0; /* the command line's keys replace the account's */

	s->account = a->name;
	for (size_t i = 0; i < a->n; i++) {
		struct mp_conf_kv *kv = &a->kv[i];
		const char *k = kv->key, *v = kv->val;
		if (kv->shadowed)
			continue; /* a later line gives this setting */
		if (strcmp(k, "protocol") == 0) {
			if (strcasecmp(v, "smtp") != 0)
				mp_die(EX_CONFIG, "%s:%d: account '%s' is for %s, not SMTP",
				       conf.path, kv->line, a->name, v);
		} else if (strcmp(k, "host") == 0) {
			if (!cmdline.server)
				s->server = v;
		} else if (strcmp(k, "port") == 0) {
			if (!port_set)
				s->port = (int)mp_conf_num(&conf, kv, 1, 65535);
		} else if (strcmp(k, "tls") == 0) {
			int on = strcasecmp(v, "starttls") == 0 ? 2 : mp_conf_bool(v);
			if (on < 0)
				mp_conf_fail(&conf, kv,
				             "'%s': expected on (implicit TLS), starttls or off",
				             v);
			if (!tls_set)
				s->tls = on == 1, s->starttls = on == 2, *notls = on == 0;
		} else if (strcmp(k, "auth") == 0) {
			char where[300];
			snprintf(where, sizeof where, "%s:%d", conf.path, kv->line);
			settings_check_auth(v, where);
			if (!cmdline.auth)
				s->auth = v;
		} else if (strcmp(k, "user") == 0) {
			if (!user_set)
				s->user = v;
		} else if (strcmp(k, "password") == 0) {
			s->password = v;
		} else if (strcmp(k, "passwordeval") == 0) {
			if (!cmdline.password_eval)
				s->password_eval = v;
		} else if (strcmp(k, "tls_ca_file") == 0 || strcmp(k, "tls_trust_file") == 0) {
			if (!cmdline.ca_file)
				s->ca_file = mp_conf_path(kv);
		} else if (strcmp(k, "tls_fingerprint") == 0) {
			if (!cmdline.fingerprint)
				s->fingerprint = v;
		} else if (strcmp(k, "tls_cert_file") == 0) {
			if (!cmdline.cert_file)
				s->cert_file = mp_conf_path(kv);
		} else if (strcmp(k, "tls_key_file") == 0) {
			if (!cmdline.key_file)
				s->key_file = mp_conf_path(kv);
		} else if (strcmp(k, "timeout") == 0) {
			if (!to_set)
				s->timeout_ms = (int)mp_conf_num(&conf, kv, 1, 3600) * 1000;
		} else if (strcmp(k, "domain") == 0) {
			if (!cmdline.helo)
				s->helo = v;
		} else if (strcmp(k, "queue") == 0) {
			if (!cmdline.queue)
				s->queue = mp_conf_path(kv);
		} else if (strcmp(k, "auth_plaintext") == 0) {
			s->auth_plaintext |= mp_conf_onoff(&conf, kv);
		} else if (strcmp(k, "direct") == 0) {
			s->direct |= mp_conf_onoff(&conf, kv);
		} else if (strcmp(k, "max_age") == 0) {
			if (!age_set)
				s->max_age = mp_conf_num(&conf, kv, 0, 10L * 365 * 86400);
		} else if (strcmp(k, "log") == 0) {
			if (!cmdline.log)
				s->log = strcmp(v, "syslog") == 0 ? v : mp_conf_path(kv);
		} else if (strcmp(k, "dkim_key") == 0 || strcmp(k, "dkim_selector") == 0) {
			int key = k[5] == 'k';
			int *n = key ? &s->ndkim_key : &s->ndkim_selector;
			if (dkim_set)
				continue;
			if (*n == DKIM_KEYS)
				mp_conf_fail(&conf, kv, "at most %d %s", DKIM_KEYS, k);
			if (key)
				s->dkim_key[(*n)++] = mp_conf_path(kv);
			else
				s->dkim_selector[(*n)++] = v;
		} else if (strcmp(k, "dkim_domain") == 0) {
			if (!cmdline.dkim_domain)
				s->dkim_domain = v;
		} else if (strcmp(k, "dkim_canon") == 0) {
			if (!cmdline.dkim_canon)
				s->dkim_canon = v;
		} else if (ec && strcmp(k, "from") == 0) {
			/* a pattern (*@example.org) only chooses the account */
			ec->from = strpbrk(v, "*?[") ? NULL : v;
		} else if (ec && strcmp(k, "read_envelope_from") == 0) {
			ec->read_envelope_from = mp_conf_onoff(&conf, kv);
		} else if (ec && strcmp(k, "force_from") == 0) {
			ec->force_from = mp_conf_onoff(&conf, kv);
		} else if (ec && strcmp(k, "maildomain") == 0) {
			ec->maildomain = v;
		} else if (ec && strcmp(k, "aliases") == 0) {
			ec->aliases = mp_conf_path(kv);
		}
		/* the rest (folder, to, mda, ...) is mfetch's */
	}
}

/* what no one set */
static void finish_settings(struct settings *s, int notls)
{
	if (!s->timeout_ms)
		s->timeout_ms = 300000;
	if (s->max_age < 0)
		s->max_age = 5 * 86400;
	if (!s->server && !s->direct)
		s->direct = 1;
	if (s->server && !s->tls && !notls)
		s->starttls = 1; /* a relay session never goes without TLS unless asked */
	if (notls && (s->tls || s->starttls))
		mp_die(EX_USAGE, "--no-tls goes with neither --tls nor --starttls");
	s->no_tls = notls;
	if (!s->helo)
		s->helo = default_domain();
	if (s->key_file && !s->cert_file)
		mp_die(EX_USAGE, "a key file without a certificate file");
}

int settings_account(const char *name, struct settings *out)
{
	const struct mp_account *a = mp_conf_account(&conf, name);
	int notls = cl_notls;

	if (!a)
		return -1;
	*out = cmdline;
	apply_account(a, out, &notls, NULL);
	finish_settings(out, notls);
	return 0;
}

/* ------------------------------------------------------------ the route */

/* what a queued message sent without an account remembers of how it was
 * to go: the relay, TLS and AUTH settings (never a password) */
enum { R_STR, R_INT };
static const struct {
	const char *key;
	int type;
	size_t off;
	int cmdline_wins; /* the flush's command line may replace it (a CA file) */
} route_keys[] = {
#define RS(k, f, w)                                                                                \
	{                                                                                          \
		k, R_STR, offsetof(struct settings, f), w                                          \
	}
#define RI(k, f)                                                                                   \
	{                                                                                          \
		k, R_INT, offsetof(struct settings, f), 0                                          \
	}
    RS("server", server, 0),
    RI("port", port),
    RI("tls", tls),
    RI("starttls", starttls),
    RI("no-tls", no_tls),
    RI("tls-required", tls_required),
    RI("direct", direct),
    RI("mx-port", mx_port),
    RS("dns-server", dns_server, 0),
    RI("auth-plaintext", auth_plaintext),
    RS("ca-file", ca_file, 1),
    RS("fingerprint", fingerprint, 1),
    RS("cert-file", cert_file, 1),
    RS("key-file", key_file, 1),
    RS("auth", auth, 1),
    RS("user", user, 1),
    RS("password-eval", password_eval, 1),
    RS("helo", helo, 1),
    RS("dkim-domain", dkim_domain, 0),
    RS("dkim-canon", dkim_canon, 0),
#undef RS
#undef RI
};
#define ROUTE_N (sizeof route_keys / sizeof route_keys[0])
static const char *route_file_keys[] = {"ca-file", "cert-file", "key-file"};
static char **route_mem; /* the strings of settings_route's answers */
static size_t route_nmem;

void settings_route_write(const struct settings *s, struct mp_buf *b)
{
	for (size_t i = 0; i < ROUTE_N; i++) {
		const char *p = (const char *)s + route_keys[i].off;
		if (route_keys[i].type == R_INT) {
			mp_buf_printf(b, "route-%s %d\n", route_keys[i].key, *(const int *)p);
			continue;
		}
		const char *v = *(const char *const *)p;
		char abs[4096];
		if (!v || strpbrk(v, "\r\n"))
			continue;
		for (size_t k = 0; k < 3; k++) /* a flush may run elsewhere */
			if (strcmp(route_keys[i].key, route_file_keys[k]) == 0 && v[0] != '/' &&
			    realpath(v, abs))
				v = abs;
		mp_buf_printf(b, "route-%s %s\n", route_keys[i].key, v);
	}
	settings_dkim_write(s, b);
}

void settings_dkim_write(const struct settings *s, struct mp_buf *b)
{
	/* the DKIM keys (absolute: a flush may run elsewhere) and selectors */
	for (int i = 0; i < s->ndkim_key && i < s->ndkim_selector; i++) {
		char abs[4096];
		const char *k = s->dkim_key[i];
		if (k[0] != '/' && realpath(k, abs))
			k = abs;
		if (!strpbrk(k, "\r\n") && !strpbrk(s->dkim_selector[i], " \r\n"))
			mp_buf_printf(b, "route-dkim %s %s\n", s->dkim_selector[i], k);
	}
}

/* the "route-dkim SELECTOR FILE" lines into out's keys; 1 when there were */
static int route_dkim(const char *lines, struct settings *out)
{
	int n = 0;

	for (const char *l = lines; *l;) {
		size_t len = strcspn(l, "\n");
		if (len > 11 && strncmp(l, "route-dkim ", 11) == 0 && n < DKIM_KEYS) {
			char *v = mp_xmalloc(len - 10);
			memcpy(v, l + 11, len - 11);
			v[len - 11] = '\0';
			char *sp = strchr(v, ' ');
			route_mem = mp_xrealloc(route_mem, (route_nmem + 1) * sizeof *route_mem);
			route_mem[route_nmem++] = v;
			if (sp) {
				*sp = '\0';
				out->dkim_selector[n] = v;
				out->dkim_key[n++] = sp + 1;
			}
		}
		l += len + (l[len] == '\n');
	}
	out->ndkim_key = out->ndkim_selector = n;
	return n > 0;
}

const struct settings *settings_dkim(const struct settings *use, const char *lines,
                                     struct settings *out)
{
	if (!lines || !strstr(lines, "route-dkim ") || cmdline.ndkim_key)
		return use; /* none recorded, or the flush's own --dkim-key win */
	*out = *use;
	out->dkim_domain = out->dkim_canon = NULL;
	for (const char *l = lines; *l;) {
		size_t len = strcspn(l, "\n");
		const char **f =
		    len > 18 && strncmp(l, "route-dkim-domain ", 18) == 0  ? &out->dkim_domain
		    : len > 17 && strncmp(l, "route-dkim-canon ", 17) == 0 ? &out->dkim_canon
		                                                           : NULL;
		if (f) {
			size_t k = strcspn(l, " ") + 1;
			char *v = mp_xmalloc(len - k + 1);
			memcpy(v, l + k, len - k);
			v[len - k] = '\0';
			route_mem = mp_xrealloc(route_mem, (route_nmem + 1) * sizeof *route_mem);
			route_mem[route_nmem++] = v;
			*f = v;
		}
		l += len + (l[len] == '\n');
	}
	route_dkim(lines, out);
	return out;
}

int settings_dkim_cmdline(void)
{
	return cmdline.ndkim_key > 0;
}

int settings_route(const struct settings *flush, const char *lines, struct settings *out)
{
	if (!lines || !*lines || cl_route)
		return 1; /* the flush's command line names the way: all go so */
	*out = *flush;
	out->account = NULL;
	out->password = NULL; /* no account's password goes elsewhere */
	for (size_t i = 0; i < ROUTE_N; i++) {
		char *p = (char *)out + route_keys[i].off;
		const char *c = (const char *)&cmdline + route_keys[i].off;
		if (route_keys[i].type == R_INT)
			*(int *)p = 0;
		else
			*(const char **)p =
			    route_keys[i].cmdline_wins ? *(const char *const *)c : NULL;
	}
	route_dkim(lines, out);
	for (const char *l = lines; *l;) {
		size_t len = strcspn(l, "\n");
		for (size_t i = 0; i < ROUTE_N; i++) {
			size_t kl = strlen(route_keys[i].key);
			if (len < 7 + kl || strncmp(l, "route-", 6) != 0 ||
			    strncmp(l + 6, route_keys[i].key, kl) != 0 || l[6 + kl] != ' ')
				continue;
			char *v = mp_xmalloc(len - 6 - kl);
			memcpy(v, l + 7 + kl, len - 7 - kl);
			v[len - 7 - kl] = '\0';
			char *p = (char *)out + route_keys[i].off;
			if (route_keys[i].type == R_INT) {
				*(int *)p = atoi(v);
				free(v);
			} else if (*(const char **)p) {
				free(v); /* the command line's */
			} else {
				*(const char **)p = v;
				route_mem =
				    mp_xrealloc(route_mem, (route_nmem + 1) * sizeof *route_mem);
				route_mem[route_nmem++] = v;
			}
		}
		l += len + (l[len] == '\n');
	}
	if (!out->helo)
		out->helo = flush->helo;
	return 0;
}

/* the account for this message: -a NAME, else the first whose from
 * matches the -f sender (a pattern: *@example.org), else "default" */
static const struct mp_account *choose_account(const char *name, const char *from)
{
	if (name)
		return mp_conf_need(&conf, name);
	for (size_t i = 0; from && i < conf.nacc; i++) {
		const struct mp_account *a = &conf.acc[i];
		const struct mp_conf_kv *f = mp_conf_get(a, "from"),
		                        *p = mp_conf_get(a, "protocol");
		if (strcmp(a->name, "default") == 0 || (p && strcasecmp(p->val, "smtp") != 0))
			continue;
		if (f && fnmatch(f->val, from, FNM_CASEFOLD) == 0)
			return a;
	}
	return mp_conf_account(&conf, "default");
}

void settings_init(const struct options *o, struct settings *s, struct envcfg *ec)
{
	struct mp_err e;
	int no_tls = o->no_tls;

	mp_err_clear(&e);
	memset(ec, 0, sizeof *ec);
	const char *pw = getenv("MSEND_PASSWORD");
	o_env_password = pw && *pw ? mp_xstrdup(pw) : NULL;
	unsetenv("MSEND_PASSWORD");
	if (mp_conf_load(&conf, o->config, &e) < 0)
		mp_die_err(NULL, &e);
	*s = o->s;
	s->env_password = o_env_password;
	cmdline = *s;
	cl_notls = no_tls;
	cl_route = o->account || o->s.server || o->s.direct;
	const struct mp_account *acct = choose_account(o->account, o->from);
	if (acct)
		apply_account(acct, s, &no_tls, ec);
	finish_settings(s, no_tls);
	s->maildomain = o->maildomain    ? o->maildomain
	                : ec->maildomain ? ec->maildomain
	                                 : default_domain();
	cmdline.maildomain = s->maildomain;
	if (o->aliases_file)
		ec->aliases = o->aliases_file;
}

void settings_free(void)
{
	if (o_env_password)
		memset(o_env_password, 0, strlen(o_env_password));
	free(o_env_password);
	o_env_password = NULL;
	for (size_t i = 0; i < route_nmem; i++)
		free(route_mem[i]);
	free(route_mem);
	route_mem = NULL;
	route_nmem = 0;
	mp_conf_free(&conf);
}
