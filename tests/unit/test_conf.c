/* conf: the accounts file format, with README.md's own example read from
 * the file itself (argv[1]), so that the documented example cannot drift
 * from what the parser takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "io.h"
#include "tap.h"

static const char *get(const struct mp_conf *c, const char *acc, const char *key)
{
	const struct mp_account *a = mp_conf_account(c, acc);
	const struct mp_conf_kv *kv = a ? mp_conf_get(a, key) : NULL;
	return kv ? kv->val : NULL;
}

static int parse(struct mp_conf *c, const char *text, struct mp_err *e)
{
	return mp_conf_parse(c, "t.conf", text, strlen(text), e);
}

static int is(const char *got, const char *want)
{
	return got && strcmp(got, want) == 0;
}

/* the values of key in the account that count (not shadowed), in order,
 * joined by ',' */
static const char *live(const struct mp_conf *c, const char *acc, const char *key)
{
	static char out[256];
	const struct mp_account *a = mp_conf_account(c, acc);

	out[0] = '\0';
	for (size_t i = 0; a && i < a->n; i++)
		if (!a->kv[i].shadowed && strcmp(a->kv[i].key, key) == 0)
			snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s",
			         out[0] ? "," : "", a->kv[i].val);
	return out;
}

/* what a later line replaces (mailpipe(5)): one value per setting, two
 * names of one setting count as one, and two lists */
static void shadowing(void)
{
	struct mp_conf c;
	struct mp_err e;

	mp_err_clear(&e);
	tap_is_int(parse(&c,
	                 "defaults\n  folder D\n  host d\n"
	                 "account p\n  host p\n  host p2\n  direct on\n  passwordeval x\n"
	                 "  tls_ca_file /p\n  folder P1\n  folder P2\n  dkim_key /k1\n"
	                 "account q\n  folder Q\n  dkim_key /k2\n"
	                 "account c : p, q\n  direct off\n  password pw\n  tls_trust_file /c\n"
	                 "  dkim_key /k3\n"
	                 "account d : p\n  user u\n"
	                 "account e : q, p\n  folder E1\n  folder E2\n",
	                 &e),
	           0, "a file with parents parses: %s", e.msg);
	tap_ok(is(live(&c, "p", "host"), "p2"), "twice in one account: the last line");
	tap_ok(is(live(&c, "p", "folder"), "P1,P2"), "an account's folders replace the defaults'");
	tap_ok(is(live(&c, "c", "direct"), "off"), "an own on/off over the parent's");
	tap_ok(is(live(&c, "c", "passwordeval"), "") && is(live(&c, "c", "password"), "pw"),
	       "an own password over an inherited passwordeval: one setting");
	tap_ok(is(live(&c, "c", "tls_ca_file"), "") && is(live(&c, "c", "tls_trust_file"), "/c"),
	       "tls_trust_file over an inherited tls_ca_file: one setting");
	tap_ok(is(live(&c, "c", "folder"), "Q"),
	       "the later parent's folders replace the earlier's");
	tap_ok(is(live(&c, "c", "dkim_key"), "/k1,/k2,/k3"), "dkim_key adds up");
	tap_ok(is(live(&c, "c", "host"), "d"),
	       "each parent's settings in turn, what it took from the defaults too");
	tap_ok(is(live(&c, "d", "folder"), "P1,P2"), "no folder of its own: the parent's, all");
	tap_ok(is(live(&c, "e", "folder"), "E1,E2"), "its own folders replace every parent's");
	tap_ok(is(live(&c, "e", "host"), "p2"), "the later parent's host over the defaults'");
	mp_conf_free(&c);
}

/* The first ``` block after "### Accounts" in README.md. */
static char *readme_accounts(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	struct mp_buf b = MP_BUF_INIT;
	int state = 0; /* 0 before the heading, 1 before the fence, 2 inside */

	if (!f)
		return NULL;
	while (fgets(line, sizeof line, f)) {
		if (state == 0 && strncmp(line, "### Accounts", 12) == 0)
			state = 1;
		else if (state == 1 && strncmp(line, "```", 3) == 0)
			state = 2;
		else if (state == 2 && strncmp(line, "```", 3) == 0)
			break;
		else if (state == 2)
			mp_buf_append(&b, line, strlen(line));
	}
	fclose(f);
	if (state != 2 || !b.len) {
		mp_buf_free(&b);
		return NULL;
	}
	mp_buf_putc(&b, '\0');
	return (char *)b.data;
}

int main(int argc, char **argv)
{
	struct mp_conf c;
	struct mp_err e;
	char *readme = argc > 1 ? readme_accounts(argv[1]) : NULL;

	tap_ok(readme != NULL, "README.md has an accounts example");
	if (readme) {
		int rc = parse(&c, readme, &e);
		tap_is_int(rc, 0, "README's accounts file parses: %s", rc ? e.msg : "ok");
		if (rc == 0) {
			tap_ok(mp_conf_account(&c, "work") && mp_conf_account(&c, "work-in") &&
			           mp_conf_account(&c, "default"),
			       "its three accounts are there");
			tap_ok(is(get(&c, "work", "host"), "smtp.example.org"),
			       "a comment after the account name is not part of it");
			tap_ok(is(get(&c, "work-in", "host"), "imap.example.org"),
			       "work-in has its own host");
			tap_ok(is(get(&c, "work-in", "passwordeval"), "pass show mail/example.org"),
			       "work-in inherits passwordeval through work");
			mp_conf_free(&c);
		}
		free(readme);
	}

	tap_is_int(parse(&c,
	                 "account a   # first\n"
	                 "  host h.example\t# tab before it\n"
	                 "  password ab#c\n"
	                 "  user \"x # y\"   # quoted keeps it\n"
	                 "  from #only a comment\n",
	                 &e),
	           0, "comments after values parse");
	tap_ok(is(get(&c, "a", "host"), "h.example"), "comment after a tab cut");
	tap_ok(is(get(&c, "a", "password"), "ab#c"), "'#' inside a word stays");
	tap_ok(is(get(&c, "a", "user"), "x # y"), "'#' inside quotes stays");
	tap_ok(is(get(&c, "a", "from"), ""), "a value that is only a comment is empty");
	mp_conf_free(&c);

	tap_is_int(parse(&c, "account b # see: parent\n  host h\n", &e), 0,
	           "a ':' inside the comment does not name a parent");
	tap_ok(mp_conf_account(&c, "b") != NULL, "account b defined");
	mp_conf_free(&c);

	tap_is_int(parse(&c, "account c\n  host \"h # x\n", &e), -1,
	           "an unbalanced quote is still an error");
	tap_is_int(e.code, EX_CONFIG, "as EX_CONFIG");
	shadowing();
	return tap_done();
}
