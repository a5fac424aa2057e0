/* dsn: mp_verp_decode, the VERP forms msend --verp makes (common/dsn.c). */
#include <string.h>

#include "dsn.h"
#include "tap.h"

/* addr decoded under local and delim: the subscriber, or "" when none */
static const char *verp(const char *addr, const char *local, const char *delim)
{
	static char out[320];

	if (!mp_verp_decode(addr, local, delim, out, sizeof out))
		out[0] = '\0';
	return out;
}

static void is(const char *addr, const char *local, const char *delim, const char *want)
{
	const char *got = verp(addr, local, delim);

	tap_ok(strcmp(got, want) == 0, "%s (local %s, delimiters %s): [%s]", tap_esc(addr),
	       local ? local : "any", delim ? delim : "default", got);
	if (strcmp(got, want) != 0)
		tap_diag("want [%s]", want);
}

int main(void)
{
	/* msend's default form: the first '+', the last '=' after it */
	is("list+bob=example.org@lists.test", NULL, NULL, "bob@example.org");
	is("list+bob=example.org@lists.test", "", "", "bob@example.org");
	is("list+bob+tag=example.org@lists.test", NULL, NULL, "bob+tag@example.org");
	is("list+a=b=example.org@lists.test", NULL, NULL, "a=b@example.org");
	is("list@lists.test", NULL, NULL, "");
	is("+bob=example.org@lists.test", NULL, NULL, "");
	is("list+=example.org@lists.test", NULL, NULL, "");
	is("list+bob=@lists.test", NULL, NULL, "");
	is("list+bob.example.org@lists.test", NULL, NULL, "");
	is("list+bob=example.org", NULL, NULL, "");
	/* the separator in the domain part is not taken */
	is("list@a+b=c.test", NULL, NULL, "");
	/* --verp=LOCAL: the list's part is LOCAL and its separator, even
	 * when LOCAL holds the separator itself */
	is("list-news-bounces-carol=a.test@lists.test", "list-news-bounces", "-=", "carol@a.test");
	is("list-news-bounces-carol=a.test@lists.test", NULL, "-=", "news-bounces-carol@a.test");
	is("LIST-News-Bounces-carol=a.test@lists.test", "list-news-bounces", "-=", "carol@a.test");
	is("other-carol=a.test@lists.test", "list", "-=", "");
	is("list+carol=a.test@lists.test", "list-news", "+=", "");
	is("list@lists.test", "list", "+=", "");
	/* one character for both: the last one before '@' is the subscriber's */
	is("bounces-ok-a.test@lists.test", "bounces", "--", "ok@a.test");
	is("bounces-ok-a.test@lists.test", NULL, "--", "ok@a.test");
	is("bounces-ok@lists.test", NULL, "--", "");
	/* a delimiter string of one character decodes nothing */
	is("list+bob=example.org@lists.test", NULL, "+", "");
	/* too small an output: 0 */
	char small[8];
	tap_ok(!mp_verp_decode("list+bob=example.org@lists.test", NULL, NULL, small, sizeof small),
	       "an output too small for the subscriber: 0");
	return tap_done();
}
