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
	return tap_done();
}
