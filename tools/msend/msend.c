/* msend: send a message with SMTP, to a relay or straight to the
 * recipients' MX hosts; what cannot go now is queued, never lost. Also a
 * sendmail(8) stand-in for cron, mutt, git send-email and PHP. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "hdr.h"
#include "io.h"
#include "json.h"
#include "msend.h"
#include "mx.h"
#include "sasl.h"

#define HEADER_MAX (1024 * 1024)

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: %s [options] [-f FROM] [-t] [--] RCPT ... < message\n"
	    "       %s -q | --flush        send what waits in the queue\n"
	    "       %s -bp | --list-queue  show the queue\n"
	    "Send a message with SMTP: to a relay (--server), else straight to each\n"
	    "recipient domain's MX hosts. What cannot go now is queued (exit 0).\n\n"
	    "  -a, --account NAME     an account of the configuration file (mailpipe(5))\n"
	    "  -C, --config FILE      that file (default: $MAILPIPE_CONFIG,\n"
	    "                         ~/.config/mailpipe/config, /etc/mailpipe.conf)\n"
	    "  -f, --from ADDR        envelope sender (default: the account's from, $EMAIL,\n"
	    "                         else USER@maildomain); picks the account whose from\n"
	    "                         matches it when no -a is given\n"
	    "  -t                     recipients from To:, Cc:, Bcc: (Bcc: is not sent)\n"
	    "  -s, --subject TEXT     compose: stdin is the text of a new message\n"
	    "  -A, --attach FILE      compose: attach FILE (repeatable)\n"
	    "      --cc ADDR, --bcc ADDR, --reply-to ADDR   compose: more header fields\n"
	    "  -F NAME                compose: the sender's full name\n"
	    "      --server HOST[:P]  relay (smarthost); port 587 STARTTLS, 465 with --tls\n"
	    "      --port PORT        its port\n"
	    "      --tls              implicit TLS (RFC 8314)\n"
	    "      --starttls         STARTTLS, required (default for a relay)\n"
	    "      --no-tls           a relay in clear (a local one); AUTH then needs\n"
	    "                         --auth-plaintext\n"
	    "      --tls-required     direct: only hosts with STARTTLS and a valid certificate\n"
	    "                         (DANE and MTA-STS apply without it: msend(1))\n"
	    "      --ca-file FILE     CA certificates (default: the system store)\n"
	    "      --fingerprint FP   pin the relay's certificate (SHA-256, hex)\n"
	    "      --cert-file FILE   client certificate (PEM), --key-file FILE its key\n"
	    "      --auth MECH        plain, login, cram-md5, scram-sha-256, xoauth2,\n"
	    "                         oauthbearer or auto (default)\n"
	    "      --user NAME        authenticate as NAME (only under TLS)\n"
	    "      --password-eval C  run C for the password (or MSEND_PASSWORD)\n"
	    "      --auth-plaintext   allow AUTH without TLS (warns)\n"
	    "      --direct           deliver to the MX hosts even with --server\n"
	    "      --mx-port PORT     port of the MX hosts (tests only; default 25)\n"
	    "      --dns-server ADDR  DNS server for --direct ([v6]:port or v4:port)\n"
	    "      --sts-addr H:P     fetch MTA-STS policies from H:P (tests only)\n"
	    "      --maildomain DOM   qualifies bare names (root -> root@DOM)\n"
	    "      --aliases FILE     local names to addresses (\"root: ops@example.org\")\n"
	    "      --helo NAME        EHLO name (default: this host)\n"
	    "      --no-chunking      DATA even where the server offers BDAT (RFC 3030)\n"
	    "      --timeout SEC      per network step (default 300, RFC 5321 4.5.3.2)\n"
	    "      --queue DIR        queue directory\n"
	    "      --no-queue         exit 75 instead of queueing\n"
	    "      --max-age SEC      give up on queued mail after this long (5 days)\n"
	    "      --log FILE         one line per message in FILE (--syslog: to syslog)\n"
	    "  -N, --notify WHEN      DSN: never, or success,failure,delay (RFC 3461)\n"
	    "  -R, --ret full|hdrs    DSN: what a bounce returns of the message\n"
	    "      --envid ID         DSN: the envelope ID (also -VID)\n"
	    "  -q, --flush            send the queued messages that are due (all with --now)\n"
	    "      --list-queue       list the queue (also -bp)\n"
	    "  -j, --json             a JSON line: each recipient's fate (also --list-queue)\n"
	    "  -v, --verbose          the SMTP dialogue on stderr (passwords as ***)\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          version\n"
	    "sendmail options accepted: -i -oi -oem -oee -B TYPE -Ac -Am\n"
	    "-bm -bp, -C FILE as --config, and -oX/-X ignored with no effect.\n",
	    mp_progname(), mp_progname(), mp_progname());
}

/* refuse what could smuggle a command: CR, LF, NUL, a leading '-',
 * brackets, white space outside a quoted local part ("a b"@x.org) */
static void check_addr(const char *a, const char *what)
{
	size_t q = 0;

	if (!*a)
		mp_die(EX_USAGE, "%s: empty address", what);
	if (a[0] == '"') {
		for (q = 1; a[q] && a[q] != '"'; q++)
			if (a[q] == '\\' && a[q + 1])
				q++;
		q += a[q] == '"';
	}
	if (strpbrk(a, "\r\n<>") || strpbrk(a + q, " \t") || a[0] == '-')
		mp_die(EX_USAGE, "%s: '%s' is not an address", what, a);
}

static char *normalize_addr(const char *a, const char *maildomain, const char *what)
{
	const char *at = strrchr(a, '@');
	char al[MP_DNS_NAMEMAX], ul[MP_DNS_NAMEMAX];
	struct mp_err e;
	char *out;

	check_addr(a, what);
	for (size_t i = 0, l = strlen(a), k; i < l; i += k) {
		k = (unsigned char)a[i] < 0x80 ? 1
		                               : mp_utf8_len((const unsigned char *)a + i, l - i);
		if (!k)
			mp_die(EX_DATAERR, "%s: '%s' is not UTF-8", what, a);
	}
	if (!at) {
		out = mp_xmalloc(strlen(a) + strlen(maildomain) + 2);
		sprintf(out, "%s@%s", a, maildomain);
		return out;
	}
	mp_err_clear(&e);
	if (mp_mx_idn(at + 1, al, sizeof al, ul, sizeof ul, &e) < 0)
		mp_die(EX_DATAERR, "%s: '%s': %s", what, a, e.msg);
	out = mp_xmalloc((size_t)(at - a) + strlen(al) + 2);
	sprintf(out, "%.*s@%s", (int)(at - a), a, al);
	return out;
}

static struct mp_aliases aliases; /* --aliases, or the account's */

/* a recipient: a local name the aliases know becomes its addresses
 * (msmtp's rule: not expanded further), the rest qualified */
static void add_rcpt(char ***list, size_t *n, const char *a, const char *maildomain)
{
	const struct mp_alias *al = strchr(a, '@') ? NULL : mp_aliases_find(&aliases, a);
	size_t k = al ? al->n : 1;

	*list = mp_xrealloc(*list, (*n + k) * sizeof **list);
	for (size_t i = 0; i < k; i++)
		(*list)[(*n)++] = normalize_addr(al ? al->to[i] : a, maildomain, "recipient");
}

/* the addresses of a header value, as common's parser reads them ("Name
 * <a@b>, c@d (comment), g: x@y;"); what cannot be read whole is said */
static void header_addrs(const char *v, char ***list, size_t *n, const char *maildomain)
{
	struct mp_addrlist l;

	if (mp_addr_parse(v, &l) != 0)
		mp_warn("unbalanced quote, bracket or comment in '%.200s'", v);
	for (size_t i = 0; i < l.n; i++)
		add_rcpt(list, n, l.v[i].addr, maildomain);
	mp_addr_free(&l);
}

/* the addresses of an argument (RCPT, --cc, --bcc, --reply-to; "a, b" as
 * one, as mutt may pass): a line break or an unbalanced quote, bracket or
 * comment is refused before anything is parsed further */
static void arg_addrs(const char *v, const char *what, char ***list, size_t *n,
                      const char *maildomain)
{
	struct mp_addrlist l;

	if (strpbrk(v, "\r\n"))
		mp_die(EX_USAGE, "%s: CR or LF in '%.200s' is not an address", what, v);
	if (mp_addr_parse(v, &l) != 0)
		mp_die(EX_USAGE, "%s: unbalanced quote, bracket or comment in '%.200s'", what, v);
	if (!l.n && !list)
		mp_die(EX_USAGE, "%s: empty address", what);
	for (size_t i = 0; i < l.n; i++) {
		if (list)
			add_rcpt(list, n, l.v[i].addr, maildomain);
		else
			check_addr(l.v[i].addr, what);
	}
	mp_addr_free(&l);
}

/* stdin into an unlinked spool file, with Date: and Message-ID: added
 * when missing; with -t, the recipients read from the header */
static int spool(int tflag, const char *maildomain, const char *from, char ***rcpts, size_t *nr,
                 struct message *m)
{
	const char *dir = getenv("TMPDIR");
	char path[4096], buf[65536];
	struct mp_buf hdr = MP_BUF_INIT;
	int fd, in_hdr = 1, have_date = 0, have_id = 0;
	ssize_t got;

	snprintf(path, sizeof path, "%s/msend.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		mp_die(EX_TEMPFAIL, "spool %s: %s", path, strerror(errno));
	unlink(path);
	/* the header block, bounded */
	while (in_hdr && (got = read(STDIN_FILENO, buf, sizeof buf)) > 0) {
		if (mp_buf_append(&hdr, buf, (size_t)got) < 0)
			mp_die(EX_TEMPFAIL, "out of memory");
		if (strstr(hdr.data, "\n\n") || strstr(hdr.data, "\r\n\r\n") ||
		    hdr.len > HEADER_MAX)
			in_hdr = 0;
	}
	/* unfold and look at the fields */
	size_t hend = hdr.len;
	char *blank = strstr(hdr.data ? hdr.data : "", "\n\n"),
	     *blank2 = strstr(hdr.data ? hdr.data : "", "\r\n\r\n");
	if (blank2 && (!blank || blank2 < blank))
		hend = (size_t)(blank2 - hdr.data) + 2;
	else if (blank)
		hend = (size_t)(blank - hdr.data) + 1;
	for (size_t i = 0; i < hend;) {
		size_t j = i;
		struct mp_buf field = MP_BUF_INIT;
		do { /* one field with its continuation lines */
			size_t e = j;
			while (e < hend && hdr.data[e] != '\n')
				e++;
			mp_buf_append(&field, hdr.data + j, e - j);
			j = e + 1;
		} while (j < hend && (hdr.data[j] == ' ' || hdr.data[j] == '\t'));
		char *f = field.data ? field.data : (char *)"";
		for (char *c = f; *c; c++)
			if (*c == '\r')
				*c = ' ';
		if (strncasecmp(f, "Date:", 5) == 0)
			have_date = 1;
		else if (strncasecmp(f, "Message-ID:", 11) == 0) {
			have_id = 1;
			snprintf(m->msgid, sizeof m->msgid, "%s", f + 11 + strspn(f + 11, " \t"));
		} else if (tflag &&
		           (strncasecmp(f, "To:", 3) == 0 || strncasecmp(f, "Cc:", 3) == 0 ||
		            strncasecmp(f, "Bcc:", 4) == 0))
			header_addrs(strchr(f, ':') + 1, rcpts, nr, maildomain);
		mp_buf_free(&field);
		i = j;
	}
	struct mp_buf add = MP_BUF_INIT;
	int crlf = hdr.len && strstr(hdr.data, "\r\n") != NULL;
	if (!have_date) {
		char d[64];
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S %z", &tm);
		mp_buf_printf(&add, "Date: %s%s", d, crlf ? "\r\n" : "\n");
	}
	if (!have_id) {
		unsigned r = 0;
		(void)!getentropy(&r, sizeof r);
		const char *dom = strrchr(from, '@');
		snprintf(m->msgid, sizeof m->msgid, "<%ld.%ld.%08x@%s>", (long)time(NULL),
		         (long)getpid(), r, dom ? dom + 1 : maildomain);
		mp_buf_printf(&add, "Message-ID: %s%s", m->msgid, crlf ? "\r\n" : "\n");
	}
	if ((add.len && mp_write_full(fd, add.data, add.len) < 0) ||
	    (hdr.len && mp_write_full(fd, hdr.data, hdr.len) < 0))
		mp_die(EX_TEMPFAIL, "spool: %s", strerror(errno));
	while ((got = read(STDIN_FILENO, buf, sizeof buf)) > 0)
		if (mp_write_full(fd, buf, (size_t)got) < 0)
			mp_die(EX_TEMPFAIL, "spool: %s", strerror(errno));
	if (got < 0)
		mp_die(EX_IOERR, "stdin: %s", strerror(errno));
	mp_buf_free(&add);
	mp_buf_free(&hdr);
	m->fd = fd;
	m->strip_bcc = tflag;
	return 0;
}

static const char *default_domain(void)
{
	static char h[256];

	if (gethostname(h, sizeof h - 1) < 0 || !h[0])
		strcpy(h, "localhost");
	return h;
}

enum {
	OPT_SERVER = 256,
	OPT_PORT,
	OPT_TLS,
	OPT_STARTTLS,
	OPT_TLSREQ,
	OPT_CAFILE,
	OPT_AUTH,
	OPT_USER,
	OPT_PWEVAL,
	OPT_AUTHPLAIN,
	OPT_DIRECT,
	OPT_MXPORT,
	OPT_DNS,
	OPT_STSADDR,
	OPT_MAILDOMAIN,
	OPT_HELO,
	OPT_TIMEOUT,
	OPT_QUEUE,
	OPT_NOQUEUE,
	OPT_MAXAGE,
	OPT_LISTQ,
	OPT_NOW,
	OPT_NOTLS,
	OPT_FP,
	OPT_CERT,
	OPT_KEY,
	OPT_ALIASES,
	OPT_LOG,
	OPT_SYSLOG,
	OPT_CC,
	OPT_BCC,
	OPT_REPLYTO,
	OPT_ENVID,
	OPT_NOCHUNK
};

static long num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max)
		mp_die(EX_USAGE, "invalid %s: '%s'", what, s);
	return v;
}

/* ---------------------------------------------------------------- accounts */

static struct mp_conf conf;
static struct settings cmdline; /* what the command line said */
static int cl_notls;

/* per message, not per connection */
struct envcfg {
	const char *from, *maildomain, *aliases;
	int force_from;
};

static void check_auth(const char *a, const char *where)
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

	s->account = a->name;
	for (size_t i = 0; i < a->n; i++) {
		struct mp_conf_kv *kv = &a->kv[i];
		const char *k = kv->key, *v = kv->val;
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
			check_auth(v, where);
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
		} else if (ec && strcmp(k, "from") == 0) {
			/* a pattern (*@example.org) only chooses the account */
			ec->from = strpbrk(v, "*?[") ? NULL : v;
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
	if (!s->helo)
		s->helo = default_domain();
	if (s->key_file && !s->cert_file)
		mp_die(EX_USAGE, "a key file without a certificate file");
}

/* the queue asks for the settings of the account an entry was sent with */
static int resolve(const char *name, struct settings *out)
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

void msend_log(const struct settings *s, const char *from, const struct rcpt *r, size_t n,
               long long size, const char *msgid, const char *server, const char *result)
{
	struct mp_buf b = MP_BUF_INIT;
	char when[64];
	time_t t = time(NULL);
	struct tm tm;

	if (!s->log)
		return;
	mp_buf_printf(&b, "account=%s from=<%s> to=", s->account ? s->account : "-", from);
	for (size_t i = 0; i < n; i++)
		mp_buf_printf(&b, "%s<%s>", i ? "," : "", r[i].addr);
	mp_buf_printf(&b, " server=%s size=%lld msgid=%s result=", server, size,
	              msgid && *msgid ? msgid : "-");
	for (const char *p = result; *p; p++) /* one line, whatever the server said */
		mp_buf_putc(&b, *p == '\n' || *p == '\r' ? ' ' : *p);
	if (strcmp(s->log, "syslog") == 0) {
		openlog("msend", LOG_PID, LOG_MAIL);
		syslog(LOG_INFO, "%s", b.data);
		closelog();
	} else {
		int fd = open(s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm);
		mp_buf_putc(&b, '\n');
		if (fd < 0 || dprintf(fd, "%s ", when) < 0 || mp_write_full(fd, b.data, b.len) < 0)
			mp_warn("log %s: %s", s->log, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	mp_buf_free(&b);
}

/* -j: one line for the message sent: each recipient's fate, the queue id */
static void json_result(const struct message *m, const char *from, const char *server,
                        const struct rcpt *r, size_t n, const char *qid)
{
	struct mp_json j;

	mp_json_init(&j, stdout, 0);
	mp_json_begin_object(&j, NULL);
	mp_json_string(&j, "type", "result");
	mp_json_string(&j, "message_id", m->msgid[0] ? m->msgid : NULL);
	mp_json_string(&j, "from", from);
	mp_json_string(&j, "server", server);
	mp_json_int(&j, "bytes", m->wiresize);
	mp_json_begin_array(&j, "recipients");
	for (size_t i = 0; i < n; i++) {
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "address", r[i].addr);
		mp_json_string(&j, "status",
		               r[i].done && r[i].code / 100 == 2 ? "delivered"
		               : r[i].done                       ? "refused"
		               : qid && *qid                     ? "queued"
		                                                 : "deferred");
		if (r[i].code)
			mp_json_int(&j, "code", r[i].code);
		else
			mp_json_string(&j, "code", NULL);
		mp_json_string(&j, "reply", r[i].text[0] ? r[i].text : NULL);
		mp_json_end_object(&j);
	}
	mp_json_end_array(&j);
	mp_json_string(&j, "queued_as", qid && *qid ? qid : NULL);
	mp_json_end_object(&j);
	mp_json_finish(&j);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"from", required_argument, NULL, 'f'},
	                                   {"account", required_argument, NULL, 'a'},
	                                   {"config", required_argument, NULL, 'C'},
	                                   {"fingerprint", required_argument, NULL, OPT_FP},
	                                   {"cert-file", required_argument, NULL, OPT_CERT},
	                                   {"key-file", required_argument, NULL, OPT_KEY},
	                                   {"aliases", required_argument, NULL, OPT_ALIASES},
	                                   {"log", required_argument, NULL, OPT_LOG},
	                                   {"syslog", no_argument, NULL, OPT_SYSLOG},
	                                   {"subject", required_argument, NULL, 's'},
	                                   {"attach", required_argument, NULL, 'A'},
	                                   {"cc", required_argument, NULL, OPT_CC},
	                                   {"bcc", required_argument, NULL, OPT_BCC},
	                                   {"reply-to", required_argument, NULL, OPT_REPLYTO},
	                                   {"notify", required_argument, NULL, 'N'},
	                                   {"ret", required_argument, NULL, 'R'},
	                                   {"envid", required_argument, NULL, OPT_ENVID},
	                                   {"no-chunking", no_argument, NULL, OPT_NOCHUNK},
	                                   {"server", required_argument, NULL, OPT_SERVER},
	                                   {"port", required_argument, NULL, OPT_PORT},
	                                   {"tls", no_argument, NULL, OPT_TLS},
	                                   {"starttls", no_argument, NULL, OPT_STARTTLS},
	                                   {"no-tls", no_argument, NULL, OPT_NOTLS},
	                                   {"tls-required", no_argument, NULL, OPT_TLSREQ},
	                                   {"ca-file", required_argument, NULL, OPT_CAFILE},
	                                   {"auth", required_argument, NULL, OPT_AUTH},
	                                   {"user", required_argument, NULL, OPT_USER},
	                                   {"password-eval", required_argument, NULL, OPT_PWEVAL},
	                                   {"auth-plaintext", no_argument, NULL, OPT_AUTHPLAIN},
	                                   {"direct", no_argument, NULL, OPT_DIRECT},
	                                   {"mx-port", required_argument, NULL, OPT_MXPORT},
	                                   {"dns-server", required_argument, NULL, OPT_DNS},
	                                   {"sts-addr", required_argument, NULL, OPT_STSADDR},
	                                   {"maildomain", required_argument, NULL, OPT_MAILDOMAIN},
	                                   {"helo", required_argument, NULL, OPT_HELO},
	                                   {"timeout", required_argument, NULL, OPT_TIMEOUT},
	                                   {"queue", required_argument, NULL, OPT_QUEUE},
	                                   {"no-queue", no_argument, NULL, OPT_NOQUEUE},
	                                   {"max-age", required_argument, NULL, OPT_MAXAGE},
	                                   {"flush", no_argument, NULL, 'q'},
	                                   {"now", no_argument, NULL, OPT_NOW},
	                                   {"list-queue", no_argument, NULL, OPT_LISTQ},
	                                   {"verbose", no_argument, NULL, 'v'},
	                                   {"json", no_argument, NULL, 'j'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {"version", no_argument, NULL, 'V'},
	                                   {NULL, 0, NULL, 0}};
	struct settings s = {.max_age = -1};
	struct dsn dsn = {0};
	struct mp_err e;
	const char *from = NULL, *maildomain = NULL, *account = NULL, *config = NULL;
	const char *aliases_file = NULL, *full_name = NULL;
	struct compose cm = {0};
	char **bcc = NULL;
	size_t nbcc = 0;
	char **rcpts = NULL;
	size_t nr = 0;
	int c, tflag = 0, flush = 0, listq = 0, no_tls = 0;

	mp_setprogname(argv[0]);
	mp_err_clear(&e);
	/* a peer that hangs up is an error to handle (EPIPE), not death */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	/* sendmail's letters first, then our own long options */
	while ((c = getopt_long(argc, argv, ":f:r:a:s:A:tiF:o:b:B:N:R:V::C:X:q::vjh", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
		case 'r': from = optarg; break;
		case 't': tflag = 1; break;
		case 'F': full_name = optarg; break;
		case 's': cm.subject = optarg; break;
		case 'A':
			/* sendmail's -Ac and -Am (which .cf to use) mean nothing here */
			if ((strcmp(optarg, "c") == 0 || strcmp(optarg, "m") == 0) &&
			    access(optarg, F_OK) < 0)
				break;
			cm.attach = mp_xrealloc(cm.attach, (cm.natt + 1) * sizeof *cm.attach);
			cm.attach[cm.natt++] = optarg;
			break;
		case OPT_CC:
			cm.cc = mp_xrealloc(cm.cc, (cm.ncc + 1) * sizeof *cm.cc);
			cm.cc[cm.ncc++] = optarg;
			break;
		case OPT_BCC:
			bcc = mp_xrealloc(bcc, (nbcc + 1) * sizeof *bcc);
			bcc[nbcc++] = optarg;
			break;
		case OPT_REPLYTO: cm.reply_to = optarg; break;
		case 'o':
			/* -oem, -oee: mail errors back; -oep, -oeq: print only */
			if (strcmp(optarg, "em") == 0 || strcmp(optarg, "ee") == 0)
				s.mail_errors = 1;
			else if (strcmp(optarg, "ep") == 0 || strcmp(optarg, "eq") == 0)
				s.mail_errors = 0;
			break;
		case 'i':
		case 'B':
		case 'X': break;
		case 'N':
		case 'R':
		case OPT_ENVID:
			if (dsn_set(&dsn, c == OPT_ENVID ? 'V' : c, optarg, &e) < 0)
				mp_die_err(NULL, &e);
			break;
		case 'a': account = optarg; break;
		case 'C': config = optarg; break;
		case OPT_FP: s.fingerprint = optarg; break;
		case OPT_CERT: s.cert_file = optarg; break;
		case OPT_KEY: s.key_file = optarg; break;
		case OPT_ALIASES: aliases_file = optarg; break;
		case OPT_LOG: s.log = optarg; break;
		case OPT_SYSLOG: s.log = "syslog"; break;
		case 'b':
			if (strcmp(optarg, "p") == 0)
				listq = 1;
			else if (strcmp(optarg, "m") != 0)
				mp_die(EX_USAGE, "-b%s is not supported (only -bm and -bp)",
				       optarg);
			break;
		case 'V':
			if (!optarg) {
				printf("%s (mailpipe) %s\n", mp_progname(), MP_VERSION);
				return 0;
			}
			if (dsn_set(&dsn, 'V', optarg, &e) < 0) /* -VENVID */
				mp_die_err(NULL, &e);
			break;
		case 'q': flush = 1; break;
		case 'v': s.verbose = 1; break;
		case 'j': s.json = 1; break;
		case 'h': usage(stdout); return 0;
		case OPT_SERVER: s.server = optarg; break;
		case OPT_PORT: s.port = (int)num(optarg, "port", 1, 65535); break;
		case OPT_TLS: s.tls = 1; break;
		case OPT_STARTTLS: s.starttls = 1; break;
		case OPT_NOTLS: no_tls = 1; break;
		case OPT_TLSREQ: s.tls_required = 1; break;
		case OPT_CAFILE: s.ca_file = optarg; break;
		case OPT_AUTH:
			check_auth(optarg, NULL);
			s.auth = optarg;
			break;
		case OPT_USER: s.user = optarg; break;
		case OPT_PWEVAL: s.password_eval = optarg; break;
		case OPT_AUTHPLAIN: s.auth_plaintext = 1; break;
		case OPT_DIRECT: s.direct = 1; break;
		case OPT_MXPORT: s.mx_port = (int)num(optarg, "port", 1, 65535); break;
		case OPT_DNS: s.dns_server = optarg; break;
		case OPT_STSADDR: s.sts_addr = optarg; break;
		case OPT_MAILDOMAIN: maildomain = optarg; break;
		case OPT_HELO: s.helo = optarg; break;
		case OPT_TIMEOUT: s.timeout_ms = (int)num(optarg, "timeout", 1, 3600) * 1000; break;
		case OPT_QUEUE: s.queue = optarg; break;
		case OPT_NOQUEUE: s.no_queue = 1; break;
		case OPT_MAXAGE: s.max_age = num(optarg, "max-age", 0, 10L * 365 * 86400); break;
		case OPT_LISTQ: listq = 1; break;
		case OPT_NOCHUNK: s.no_chunking = 1; break;
		case OPT_NOW: s.no_queue = 1; break;
		default: mp_getopt_fail(c, argv, optind, optopt);
		}
	}
	argc -= optind;
	argv += optind;

	/* the configuration file, then the account, under the command line */
	struct envcfg ec = {0};
	if (mp_conf_load(&conf, config, &e) < 0)
		mp_die_err(NULL, &e);
	cmdline = s;
	cl_notls = no_tls;
	s.resolve = resolve;
	cmdline.resolve = resolve;
	const struct mp_account *acct = choose_account(account, from);
	if (acct)
		apply_account(acct, &s, &no_tls, &ec);
	finish_settings(&s, no_tls);
	if (!maildomain)
		maildomain = ec.maildomain ? ec.maildomain : default_domain();
	if (!aliases_file)
		aliases_file = ec.aliases;
	if (aliases_file && mp_aliases_load(&aliases, aliases_file, &e) < 0)
		mp_die_err(NULL, &e);
	s.maildomain = cmdline.maildomain = maildomain;
	if (listq)
		return queue_list(&s, stdout);
	if (flush)
		return queue_flush(&s);

	/* envelope */
	char *env_from;
	if (ec.from && (ec.force_from || !from))
		from = ec.from;
	if (!from)
		from = getenv("EMAIL");
	if (!from) {
		struct passwd *pw = getpwuid(getuid());
		from = pw ? pw->pw_name : "nobody";
	}
	env_from = *from ? normalize_addr(from, maildomain, "-f") : mp_xstrdup("");
	for (int i = 0; i < argc; i++) {
		arg_addrs(argv[i], "recipient", &rcpts, &nr, maildomain);
	}
	int composing = cm.subject || cm.natt || cm.ncc || nbcc || cm.reply_to;
	if (composing) {
		if (tflag)
			mp_die(EX_USAGE,
			       "-t reads the recipients of a message; -s and -A make one");
		if (!cm.subject)
			cm.subject = "";
		for (size_t i = 0; i < cm.ncc; i++)
			arg_addrs(cm.cc[i], "--cc", &rcpts, &nr, maildomain);
		for (size_t i = 0; i < nbcc; i++)
			arg_addrs(bcc[i], "--bcc", &rcpts, &nr, maildomain);
		if (cm.reply_to) /* "Name <a@b>" or a@b: checked, not a recipient */
			arg_addrs(cm.reply_to, "--reply-to", NULL, NULL, maildomain);
		/* the new message, then read as if it came on stdin */
		char path[4096];
		const char *dir = getenv("TMPDIR");
		snprintf(path, sizeof path, "%s/msend-new.XXXXXX", dir && *dir ? dir : "/tmp");
		int fd = mkstemp(path);
		if (fd < 0)
			mp_die(EX_TEMPFAIL, "spool %s: %s", path, strerror(errno));
		unlink(path);
		cm.from = *env_from ? env_from : "MAILER-DAEMON";
		cm.from_name = full_name;
		cm.to = argv;
		cm.nto = (size_t)argc;
		if (compose(&cm, STDIN_FILENO, fd, &e) < 0)
			mp_die_err(NULL, &e);
		if (lseek(fd, 0, SEEK_SET) < 0 || dup2(fd, STDIN_FILENO) < 0)
			mp_die(EX_TEMPFAIL, "spool: %s", strerror(errno));
		close(fd);
	}
	free(cm.attach);
	free(cm.cc);
	free(bcc);
	struct message m = {.fd = -1, .dsn = dsn};
	spool(tflag, maildomain, env_from, &rcpts, &nr, &m);
	if (nr == 0)
		mp_die(EX_USAGE, "no recipients (give them as arguments, or -t)");
	if (msg_scan(&m, &e) < 0)
		mp_die_err("stdin", &e);

	struct rcpt *r = mp_xmalloc(nr * sizeof *r);
	size_t nu = 0, nnamed = nr;
	memset(r, 0, nr * sizeof *r);
	for (size_t i = 0; i < nr; i++) {
		size_t k = 0;
		while (k < nu && strcasecmp(r[k].addr, rcpts[i]) != 0)
			k++;
		if (k == nu) /* each recipient once */
			r[nu++].addr = rcpts[i];
	}
	nr = nu;
	int rc = deliver(&s, &m, env_from, r, nr, &e);
	const char *server = s.direct ? "mx" : s.server;
	if (rc < 0) {
		msend_log(&s, env_from, r, nr, m.wiresize, m.msgid, server, e.msg);
		mp_die_err(NULL, &e);
	}
	size_t ok = 0, perm = 0, waiting = 0, unknown = 0, baddata = 0;
	for (size_t i = 0; i < nr; i++) {
		if (r[i].done && r[i].code / 100 == 2) {
			ok++;
			continue;
		}
		if (r[i].done) {
			perm++;
			unknown += r[i].code == 550 && strstr(r[i].text, "5.1.1") != NULL;
			baddata +=
			    strstr(r[i].text, "5.6.") != NULL; /* the message or an address */
			mp_warn("<%s>: refused: %d %s", r[i].addr, r[i].code, r[i].text);
		} else {
			waiting++;
		}
	}
	if (perm && s.mail_errors) {
		struct rcpt *bad = mp_xmalloc(perm * sizeof *bad);
		size_t nb = 0;
		for (size_t i = 0; i < nr; i++)
			if (r[i].done && r[i].code / 100 != 2)
				bad[nb++] = r[i];
		if (dsn_notify(&s, NULL, m.fd, env_from, bad, nb, 0, m.msgid, &e) < 0)
			mp_warn("failure notice: %s", e.msg);
		free(bad);
	}
	char qid[128] = "";
	if (waiting) {
		char id[128];
		const char *why = "";
		for (size_t i = 0; i < nr; i++)
			if (!r[i].done)
				why = r[i].text;
		if (s.no_queue) {
			msend_log(&s, env_from, r, nr, m.wiresize, m.msgid, server, "not sent");
			if (s.json)
				json_result(&m, env_from, server, r, nr, NULL);
			mp_die(EX_TEMPFAIL, "not sent, try later: %s", why);
		}
		if (queue_add(&s, &m, env_from, r, nr, id, sizeof id, &e) < 0) {
			msend_log(&s, env_from, r, nr, m.wiresize, m.msgid, server, "not sent");
			mp_die(EX_TEMPFAIL, "not sent, and could not queue it: %s (%s)", e.msg,
			       why);
		}
		mp_warn("queued as %s for %zu recipient%s (msend -q sends it): %s", id, waiting,
		        waiting == 1 ? "" : "s", why);
		snprintf(qid, sizeof qid, "%s", id);
	}
	if (s.json)
		json_result(&m, env_from, server, r, nr, qid);
	if (s.verbose)
		fprintf(stderr, "%s: %zu delivered, %zu refused, %zu queued\n", mp_progname(), ok,
		        perm, waiting);
	if (s.log) {
		char res[1400];
		const char *why = "";
		for (size_t i = 0; i < nr; i++)
			if (r[i].code / 100 != 2 && r[i].text[0])
				why = r[i].text;
		snprintf(res, sizeof res, "%zu delivered, %zu refused, %zu queued%s%.1200s", ok,
		         perm, waiting, *why ? ": " : "", why);
		msend_log(&s, env_from, r, nr, m.wiresize, m.msgid, server, res);
	}
	mp_conf_free(&conf);
	mp_aliases_free(&aliases);
	close(m.fd);
	for (size_t i = 0; i < nnamed; i++)
		free(rcpts[i]);
	free(rcpts);
	free(r);
	free(env_from);
	if (perm)
		return unknown == perm ? EX_NOUSER : baddata == perm ? EX_DATAERR : EX_UNAVAILABLE;
	return 0;
}
