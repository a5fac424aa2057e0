/* mfetch: fetch mail over IMAP or POP3 into a Maildir, an mbox, stdout or
 * an MDA; only what is new; a message leaves the server (or is marked
 * seen) only after it is durably delivered. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "deliver.h"
#include "imap.h"
#include "json.h"
#include "net.h"
#include "pop3.h"
#include "report.h"
#include "sasl.h"
#include "session.h"
#include "state.h"
#include "watch.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s --server HOST[:PORT] --user NAME [--imap | --pop3] [--tls] [options]\n"
	        "       %s -a ACCOUNT [options]\n"
	        "Fetch mail over IMAP or POP3 (TLS or STARTTLS) into a Maildir, an mbox, stdout\n"
	        "or an MDA; only what is new; nothing leaves the server before it is safe.\n\n"
	        "  -a, --account NAME     an IMAP or POP3 account of the configuration file\n"
	        "                         (repeatable: each in turn, or all at once with --idle)\n"
	        "  -C, --config FILE      that file (see mailpipe(5))\n"
	        "      --server HOST[:P]  the server (ports: IMAP 143/993, POP3 110/995)\n"
	        "      --port PORT        its port\n"
	        "      --imap, --pop3     protocol (default: by port, else IMAP)\n"
	        "      --tls              implicit TLS (993, 995)\n"
	        "      --starttls         STARTTLS/STLS, required (the default without --tls)\n"
	        "      --ca-file FILE     CA certificates (default: the system store)\n"
	        "      --fingerprint FP   pin the server certificate's SHA-256\n"
	        "      --cert-file FILE   client certificate (PEM), --key-file FILE its key\n"
	        "      --user NAME        login name\n"
	        "      --password-eval C  run C for the password (or MFETCH_PASSWORD)\n"
	        "      --auth MECH        scram-sha-256, cram-md5, plain, login, xoauth2,\n"
	        "                         oauthbearer, user, apop (POP3), auto\n"
	        "      --new              only what this client has not fetched (default)\n"
	        "      --all              everything\n"
	        "      --peek             what is new, recording, deleting and flagging nothing\n"
	        "      --folder NAME      IMAP folder (repeatable; default INBOX), or a pattern\n"
	        "                         or pattern ('*', 'Lists/*'): each folder into its own\n"
	        "      --list-folders     list the IMAP folders (those --folder selects)\n"
	        "      --move FOLDER      IMAP: move them there once delivered\n"
	        "      --since DATE       IMAP: only what arrived since DATE (YYYY-MM-DD, or Nd)\n"
	        "      --limit N          at most N messages\n"
	        "      --max-size BYTES   leave larger messages on the server\n"
	        "      --to DEST          DIR/ or maildir:DIR, mbox:FILE, or - (mboxrd on stdout)\n"
	        "      --mda CMD          pipe each message to CMD (sh -c)\n"
	        "      --keep             leave messages on the server (default)\n"
	        "      --delete           delete them once delivered\n"
	        "      --mark-seen        IMAP: mark fetched messages \\Seen\n"
	        "      --state FILE       where the only-new state lives\n"
	        "      --timeout SEC      per network step (default 60)\n"
	        "      --idle             keep running: fetch whenever new mail comes (IMAP\n"
	        "                         IDLE; else look every --interval); SIGTERM ends it\n"
	        "      --interval SEC     --idle without IDLE, and POP3: how often (default 300)\n"
	        "      --idle-refresh SEC renew IDLE this often (default 1500)\n"
	        "  -j, --json             JSON Lines on stdout: each message, the summary\n"
	        "  -q, --quiet            no summary line\n"
	        "  -v, --verbose          the protocol dialogue on stderr (password as ***)\n"
	        "  -h, --help             this help\n"
	        "  -V, --version          version\n",
	        mp_progname(), mp_progname());
}

/* ---------------------------------------------------------------- main */

enum {
	OPT_SERVER = 256,
	OPT_PORT,
	OPT_IMAP,
	OPT_POP3,
	OPT_TLS,
	OPT_STARTTLS,
	OPT_CAFILE,
	OPT_FP,
	OPT_USER,
	OPT_PWEVAL,
	OPT_AUTH,
	OPT_NEW,
	OPT_ALL,
	OPT_PEEK,
	OPT_FOLDER,
	OPT_LISTF,
	OPT_LIMIT,
	OPT_MAXSIZE,
	OPT_TO,
	OPT_MDA,
	OPT_KEEP,
	OPT_DELETE,
	OPT_SEEN,
	OPT_STATE,
	OPT_TIMEOUT,
	OPT_IDLE,
	OPT_INTERVAL,
	OPT_REFRESH,
	OPT_CERT,
	OPT_KEY,
	OPT_SINCE,
	OPT_MOVE
};

static int auth_known(const char *m)
{
	return strcasecmp(m, "auto") == 0 || strcasecmp(m, "user") == 0 ||
	       strcasecmp(m, "apop") == 0 || mp_sasl_parse(m) != MP_SASL_NONE;
}

/* a count or a size (k and M suffixes): -1 when it is neither */
static long long size_val(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	return !*s || *end || errno || v < 0 ? -1 : v;
}

static long long num(const char *s, const char *what)
{
	long long v = size_val(s);

	if (v < 0)
		mp_die(EX_USAGE, "invalid %s: '%s'", what, s);
	return v;
}

/* ---------------------------------------------------------------- accounts */

static struct mp_conf conf;

/* what the command line set, so that the account fills only the rest */
struct given {
	int port, tls, delete_, seen, limit, max_size, timeout, interval, to, folders, move;
};

static void apply_account(const struct mp_account *a, struct fopts *o, const struct given *g,
                          const char **to)
{
	/* the command line wins over the file; in the file, an account's kv
	 * has the inherited settings first and its own last, and the last
	 * value of a key counts: each is tested against what the command
	 * line gave (cl), never against what an earlier line set */
	const struct fopts cl = *o;
	int cl_dest = g->to || o->dest == DEST_MDA;
	int nfolders = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct mp_conf_kv *kv = &a->kv[i];
		const char *k = kv->key, *v = kv->val;
		if (kv->shadowed)
			continue; /* a later line gives this setting */
		if (strcmp(k, "protocol") == 0) {
			if (strcasecmp(v, "imap") != 0 && strcasecmp(v, "pop3") != 0)
				mp_die(EX_CONFIG, "%s:%d: account '%s' is for %s, not IMAP or POP3",
				       conf.path, kv->line, a->name, v);
			if (cl.imap < 0)
				o->imap = strcasecmp(v, "imap") == 0;
		} else if (strcmp(k, "host") == 0) {
			if (!cl.server)
				o->server = v;
		} else if (strcmp(k, "port") == 0) {
			if (!g->port)
				o->port = (int)mp_conf_num(&conf, kv, 1, 65535);
		} else if (strcmp(k, "tls") == 0) {
			int on = strcasecmp(v, "starttls") == 0 ? 2 : mp_conf_bool(v);
			if (on < 0)
				mp_conf_fail(&conf, kv,
				             "'%s': expected on (implicit TLS) or starttls", v);
			if (on == 0)
				mp_conf_fail(&conf, kv, "mfetch never logs in without TLS");
			if (!g->tls)
				o->tls = on == 1, o->starttls = on == 2;
		} else if (strcmp(k, "auth") == 0) {
			if (!auth_known(v))
				mp_conf_fail(
				    &conf, kv,
				    "'%s' is not one of scram-sha-256, cram-md5, plain, login, "
				    "xoauth2, oauthbearer, user, apop, auto",
				    v);
			if (!cl.auth)
				o->auth = v;
		} else if (strcmp(k, "user") == 0) {
			if (!cl.user)
				o->user = v;
		} else if (strcmp(k, "password") == 0) {
			o->password = v;
		} else if (strcmp(k, "passwordeval") == 0) {
			if (!cl.password_eval)
				o->password_eval = v;
		} else if (strcmp(k, "tls_ca_file") == 0 || strcmp(k, "tls_trust_file") == 0) {
			if (!cl.ca_file)
				o->ca_file = mp_conf_path(kv);
		} else if (strcmp(k, "tls_fingerprint") == 0) {
			if (!cl.fingerprint)
				o->fingerprint = v;
		} else if (strcmp(k, "tls_cert_file") == 0) {
			if (!cl.cert_file)
				o->cert_file = mp_conf_path(kv);
		} else if (strcmp(k, "tls_key_file") == 0) {
			if (!cl.key_file)
				o->key_file = mp_conf_path(kv);
		} else if (strcmp(k, "timeout") == 0) {
			if (!g->timeout)
				o->timeout_ms = (int)mp_conf_num(&conf, kv, 1, 3600) * 1000;
		} else if (strcmp(k, "folder") == 0) {
			if (g->folders)
				continue;
			if (nfolders == 16)
				mp_conf_fail(&conf, kv, "at most 16 folders");
			o->folders[nfolders++] = v;
			o->nfolders = nfolders;
		} else if (strcmp(k, "to") == 0) {
			if (!cl_dest) {
				*to = mp_conf_path(kv);
				o->dest = cl.dest;
				o->dest_arg = cl.dest_arg;
			}
		} else if (strcmp(k, "mda") == 0) {
			if (!cl_dest) {
				*to = NULL;
				o->dest = DEST_MDA;
				o->dest_arg = v;
			}
		} else if (strcmp(k, "delete") == 0) {
			if (!g->delete_ && !g->move)
				o->delete_ = mp_conf_onoff(&conf, kv);
		} else if (strcmp(k, "move") == 0) {
			if (!*v || strpbrk(v, "*%"))
				mp_conf_fail(&conf, kv, "'%s': a folder name, not a pattern", v);
			if (!g->move && !g->delete_)
				o->move = v;
		} else if (strcmp(k, "mark_seen") == 0) {
			if (!g->seen)
				o->mark_seen = mp_conf_onoff(&conf, kv);
		} else if (strcmp(k, "max_size") == 0 || strcmp(k, "limit") == 0) {
			long long n = size_val(v);
			if (n < 0)
				mp_conf_fail(&conf, kv, "'%s' is not a number (k and M allowed)",
				             v);
			if (k[0] == 'm' && !g->max_size)
				o->max_size = n;
			else if (k[0] == 'l' && !g->limit)
				o->limit = (long)n;
		} else if (strcmp(k, "state") == 0) {
			if (!cl.state)
				o->state = mp_conf_path(kv);
		} else if (strcmp(k, "interval") == 0) {
			if (!g->interval)
				o->interval_s = (int)mp_conf_num(&conf, kv, 1, 86400);
		}
		/* the rest (from, aliases, queue, ...) is msend's */
	}
}

/* --since YYYY-MM-DD, or Nd (N days ago): the IMAP date of that day */
static void parse_since(const char *s, char *out, size_t n)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm = {0};
	char *end;
	int y, m, d, used = 0;

	errno = 0;
	long days = strtol(s, &end, 10);
	if (end > s && *end == 'd' && !end[1] && !errno && days >= 0 && days <= 100000) {
		time_t t = time(NULL) - (time_t)days * 86400;
		localtime_r(&t, &tm);
	} else if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) == 3 && !s[used] && y >= 1970 &&
	           y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
		tm.tm_year = y - 1900, tm.tm_mon = m - 1, tm.tm_mday = d, tm.tm_hour = 12;
		time_t t = mktime(&tm); /* normalises 2026-02-31 into March, so check */
		if (t == (time_t)-1 || tm.tm_mday != d)
			mp_die(EX_USAGE, "--since %s: no such day", s);
	} else {
		mp_die(EX_USAGE, "--since %s: give YYYY-MM-DD or Nd (N days ago)", s);
	}
	snprintf(out, n, "%d-%s-%d", tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900);
}

/* a number of seconds for --interval, --idle-refresh: 1 to a day */
static long long secs(const char *s, const char *what)
{
	long long v = num(s, what);

	if (v < 1 || v > 86400)
		mp_die(EX_USAGE, "--%s %s: from 1 to 86400 seconds", what, s);
	return v;
}

/* the command line: the options, what of them it gave (so that an
 * account fills only the rest), where to, and the accounts */
struct cli {
	struct fopts o;
	struct given g;
	const char *to, *config;
	const char *accounts[16];
	size_t naccounts;
};

static const struct option longopts[] = {{"server", required_argument, NULL, OPT_SERVER},
                                         {"port", required_argument, NULL, OPT_PORT},
                                         {"imap", no_argument, NULL, OPT_IMAP},
                                         {"pop3", no_argument, NULL, OPT_POP3},
                                         {"tls", no_argument, NULL, OPT_TLS},
                                         {"starttls", no_argument, NULL, OPT_STARTTLS},
                                         {"ca-file", required_argument, NULL, OPT_CAFILE},
                                         {"fingerprint", required_argument, NULL, OPT_FP},
                                         {"user", required_argument, NULL, OPT_USER},
                                         {"password-eval", required_argument, NULL, OPT_PWEVAL},
                                         {"auth", required_argument, NULL, OPT_AUTH},
                                         {"new", no_argument, NULL, OPT_NEW},
                                         {"all", no_argument, NULL, OPT_ALL},
                                         {"peek", no_argument, NULL, OPT_PEEK},
                                         {"folder", required_argument, NULL, OPT_FOLDER},
                                         {"list-folders", no_argument, NULL, OPT_LISTF},
                                         {"limit", required_argument, NULL, OPT_LIMIT},
                                         {"max-size", required_argument, NULL, OPT_MAXSIZE},
                                         {"to", required_argument, NULL, OPT_TO},
                                         {"mda", required_argument, NULL, OPT_MDA},
                                         {"keep", no_argument, NULL, OPT_KEEP},
                                         {"delete", no_argument, NULL, OPT_DELETE},
                                         {"move", required_argument, NULL, OPT_MOVE},
                                         {"mark-seen", no_argument, NULL, OPT_SEEN},
                                         {"state", required_argument, NULL, OPT_STATE},
                                         {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                         {"idle", no_argument, NULL, OPT_IDLE},
                                         {"interval", required_argument, NULL, OPT_INTERVAL},
                                         {"idle-refresh", required_argument, NULL, OPT_REFRESH},
                                         {"account", required_argument, NULL, 'a'},
                                         {"config", required_argument, NULL, 'C'},
                                         {"cert-file", required_argument, NULL, OPT_CERT},
                                         {"key-file", required_argument, NULL, OPT_KEY},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"since", required_argument, NULL, OPT_SINCE},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};

static void parse_options(int argc, char **argv, struct cli *c)
{
	struct fopts *o = &c->o;
	struct given *g = &c->g;
	int ch;

	*c = (struct cli){.o = {.timeout_ms = 60000,
	                        .imap = -1,
	                        .dest = DEST_STORE,
	                        .interval_s = 300,
	                        .idle_refresh_s = 25 * 60,
	                        .stop_fd = -1}};
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":a:C:jqvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (c->naccounts == sizeof c->accounts / sizeof c->accounts[0])
				mp_die(EX_USAGE, "at most 16 accounts");
			c->accounts[c->naccounts++] = optarg;
			break;
		case 'C': c->config = optarg; break;
		case OPT_CERT: o->cert_file = optarg; break;
		case OPT_KEY: o->key_file = optarg; break;
		case OPT_SERVER: o->server = optarg; break;
		case OPT_PORT:
			o->port = (int)num(optarg, "port");
			g->port = 1;
			break;
		case OPT_IMAP: o->imap = 1; break;
		case OPT_POP3: o->imap = 0; break;
		case OPT_TLS: o->tls = g->tls = 1; break;
		case OPT_STARTTLS: o->starttls = g->tls = 1; break;
		case OPT_CAFILE: o->ca_file = optarg; break;
		case OPT_FP: o->fingerprint = optarg; break;
		case OPT_USER: o->user = optarg; break;
		case OPT_PWEVAL: o->password_eval = optarg; break;
		case OPT_AUTH:
			o->auth = optarg;
			if (!auth_known(optarg))
				mp_die(EX_USAGE,
				       "--auth %s: unknown (scram-sha-256, cram-md5, plain, login, "
				       "xoauth2, oauthbearer, user, apop, auto)",
				       optarg);
			break;
		case OPT_NEW: o->all = 0; break;
		case OPT_ALL: o->all = 1; break;
		case OPT_PEEK: o->peek = 1; break;
		case OPT_FOLDER:
			if (o->nfolders == 16)
				mp_die(EX_USAGE, "at most 16 folders");
			o->folders[o->nfolders++] = optarg;
			g->folders = 1;
			break;
		case OPT_LISTF: o->list_folders = 1; break;
		case OPT_LIMIT:
			o->limit = (long)num(optarg, "limit");
			g->limit = 1;
			break;
		case OPT_MAXSIZE:
			o->max_size = num(optarg, "size");
			g->max_size = 1;
			break;
		case OPT_TO:
			c->to = optarg;
			g->to = 1;
			break;
		case OPT_MDA:
			o->dest = DEST_MDA;
			o->dest_arg = optarg;
			g->to = 1;
			break;
		case OPT_KEEP: o->delete_ = 0, g->delete_ = 1, o->move = NULL, g->move = 1; break;
		case OPT_DELETE: o->delete_ = g->delete_ = 1; break;
		case OPT_SEEN: o->mark_seen = g->seen = 1; break;
		case OPT_MOVE:
			if (!*optarg || strpbrk(optarg, "*%\r\n"))
				mp_die(EX_USAGE, "--move '%s': a folder name, not a pattern",
				       optarg);
			o->move = optarg;
			g->move = 1;
			break;
		case OPT_STATE: o->state = optarg; break;
		case OPT_TIMEOUT:
			o->timeout_ms = (int)num(optarg, "timeout") * 1000;
			g->timeout = 1;
			break;
		case OPT_IDLE: o->idle = 1; break;
		case OPT_INTERVAL:
			o->interval_s = (int)secs(optarg, "interval");
			g->interval = 1;
			break;
		case OPT_REFRESH: o->idle_refresh_s = (int)secs(optarg, "idle-refresh"); break;
		case 'q': o->quiet = 1; break;
		case 'j': o->json = 1; break;
		case OPT_SINCE: parse_since(optarg, o->since, sizeof o->since); break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("%s (mailpipe) %s\n", mp_progname(), MP_VERSION); exit(0);
		default: mp_getopt_fail(ch, argv, optind, optopt);
		}
	}
	if (optind < argc)
		mp_die(EX_USAGE, "extra operand '%s'", argv[optind]);
}

/* an account: -a NAME, or without --server the one named default; it
 * fills in what the command line left */
static void take_account(struct fopts *o, struct given *g, const char **to, const char *account)
{
	if (!account && o->server)
		return;
	const struct mp_account *a =
	    account ? mp_conf_need(&conf, account) : mp_conf_account(&conf, "default");
	const struct mp_conf_kv *p = a ? mp_conf_get(a, "protocol") : NULL;
	if (account && a && !p)
		mp_die(EX_CONFIG,
		       "%s:%d: account '%s' says neither 'protocol imap' nor 'protocol pop3'",
		       conf.path, a->line, account);
	/* the default account of a shared file may be msend's */
	if (a && (account || (p && strcasecmp(p->val, "smtp") != 0)))
		apply_account(a, o, g, to);
}

/* the server, port and protocol settled (the host name into host), and
 * the options checked against each other */
static void check_options(struct fopts *o, const char *to, char *host, size_t hostlen)
{
	struct mp_err e;
	int sport = 0;

	mp_err_clear(&e);
	if (!o->server || !o->user)
		mp_die(EX_USAGE, "--server and --user are needed (see -h), or an account (-a)");
	if (o->key_file && !o->cert_file)
		mp_die(EX_USAGE, "a key file without a certificate file");
	if (mp_net_split(o->server, host, hostlen, &sport, &e) < 0)
		mp_die_err(NULL, &e);
	if (sport && o->port && sport != o->port)
		mp_die(EX_USAGE, "--server %s and --port %d disagree", o->server, o->port);
	if (sport)
		o->port = sport;
	o->server = host;
	if (o->imap < 0)
		o->imap = !(o->port == 110 || o->port == 995);
	if (!o->port)
		o->port = o->imap ? (o->tls ? 993 : 143) : (o->tls ? 995 : 110);
	if (!o->tls)
		o->starttls = 1; /* never in clear unless... never */
	if (!o->imap && (o->nfolders || o->list_folders || o->mark_seen || o->since[0] || o->move))
		mp_die(EX_USAGE,
		       "--folder, --list-folders, --mark-seen, --move and --since are IMAP only");
	if (o->move && o->delete_)
		mp_die(EX_USAGE, "--move or --delete: not both");
	for (int i = 0; o->move && i < (o->nfolders ? o->nfolders : 1); i++)
		if (strcmp(o->nfolders ? o->folders[i] : "INBOX", o->move) == 0)
			mp_die(EX_USAGE, "--move %s: the folder fetched from", o->move);
	if (o->imap && o->auth && strcasecmp(o->auth, "apop") == 0)
		mp_die(EX_USAGE, "--auth apop is POP3 only");
	if (o->idle && (o->list_folders || o->all))
		mp_die(EX_USAGE, "--idle fetches what is new: not with --list-folders or --all");
	for (int i = 0; i < o->nfolders; i++)
		if (strpbrk(o->folders[i], "*%"))
			o->per_folder = 1;
	if (o->idle && (o->nfolders > 1 || o->per_folder) && to && strcmp(to, "-") == 0)
		mp_die(EX_USAGE,
		       "--idle with several folders runs one process each: not with --to -");
	if (o->json && to && strcmp(to, "-") == 0 && !o->list_folders)
		mp_die(EX_USAGE, "--json and --to - would share stdout");
	if (o->dest != DEST_MDA && !o->list_folders && !to)
		mp_die(EX_USAGE, "where to? --to DIR/, --to mbox:FILE, --to - or --mda CMD");
}

/* one account (or the command line alone): fetch, or watch with --idle;
 * the exit status (errors that end it die here) */
static int run(const struct cli *c, const char *account)
{
	struct fopts o = c->o;
	struct given g = c->g;
	const char *to = c->to;
	struct fstats st = {0};
	struct mp_err e;
	char host[256];
	int rc;

	mp_err_clear(&e);
	take_account(&o, &g, &to, account);
	o.account = account;
	if (o.peek && g.delete_ && o.delete_)
		mp_die(EX_USAGE, "--peek deletes nothing: not with --delete");
	if (o.peek && g.seen)
		mp_die(EX_USAGE, "--peek flags nothing: not with --mark-seen");
	if (o.peek && g.move && o.move)
		mp_die(EX_USAGE, "--peek moves nothing: not with --move");
	if (o.peek) /* an account's delete on or mark_seen on too, and move */
		o.delete_ = o.mark_seen = 0, o.move = NULL;
	check_options(&o, to, host, sizeof host);
	/* two runs at once would both deliver what is new: a second run of
	 * the account ends at once (75) */
	if (!o.all && !o.peek && !o.list_folders) { /* --all and --peek record nothing */
		char who[600];
		snprintf(who, sizeof who, "%s@%s", o.user, o.server);
		if (state_lock(&o, account ? account : who, &e) < 0)
			mp_die_err(NULL, &e);
	}
	o.to = to;
	if (deliver_open(&o, to, &e) < 0)
		mp_die_err(account, &e);
	/* what failed: the account's name with the server's, or the server's */
	char where[600];
	snprintf(where, sizeof where, "%s%s%s", account ? account : "", account ? ": " : "",
	         o.server);
	if (o.idle) {
		rc = watch(&o, &e);
		deliver_close(&o);
		imap_select_free(&o);
		if (rc < 0)
			mp_die_err(where, &e);
		return rc;
	}
	double t0 = mp_net_now_ms();
	/* a terminal watching: how far it got (MFETCH_PROGRESS=1 forces it) */
	const char *fp = getenv("MFETCH_PROGRESS");
	o.progress = !o.quiet && !o.verbose && !o.list_folders &&
	             (fp && *fp ? strcmp(fp, "1") == 0 : isatty(STDERR_FILENO));
	rc = o.imap ? imap_fetch(&o, &st, &e) : pop3_fetch(&o, &st, &e);
	progress(&o, &st, 1);
	/* the summary says what a run did: after an error, only when it
	 * delivered something first (the error line says what failed) */
	if ((!o.quiet || o.json) && !o.list_folders &&
	    (rc >= 0 || o.json || st.fetched || st.skipped_big))
		report_summary(&o, &st, t0);
	deliver_close(&o);
	imap_select_free(&o);
	if (rc < 0)
		mp_die_err(where, &e);
	return 0;
}

/* -a given more than once: each account in a process of its own */
static int account_child(int i, void *ctx)
{
	const struct cli *c = ctx;

	if (!c->o.idle) { /* a plain run stops as it always does */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
	}
	return run(c, c->accounts[i]);
}

int main(int argc, char **argv)
{
	struct cli c;
	struct mp_err e;
	int rc;

	mp_setprogname(argv[0]);
	/* a peer that hangs up is an error to handle (EPIPE), not death */
	signal(SIGPIPE, SIG_IGN);
	session_take_secrets();
	parse_options(argc, argv, &c);
	if (c.o.json) /* an error that ends a run (a configuration's too): an error line */
		mp_json_report_fatal();
	mp_err_clear(&e);
	if (mp_conf_load(&conf, c.config, &e) < 0)
		mp_die_err(NULL, &e);
	if (c.naccounts <= 1)
		return run(&c, c.naccounts ? c.accounts[0] : NULL);
	/* one process each: one after the other, or all at once */
	rc = fork_each((int)c.naccounts, c.o.idle, account_child, &c, &e);
	if (rc < 0)
		mp_die_err(NULL, &e);
	return rc;
}
