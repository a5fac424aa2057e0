/* msend's command line: sendmail's letters and our own long options, into
 * struct options; nothing is read or resolved here (settings.c does). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "msend.h"

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
	    "      --read-envelope-from  the envelope sender is the message's From: address\n"
	    "                         (when neither -f nor force_from says)\n"
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
	    "      --list-queue       list the queue and its dead letters (also -bp)\n"
	    "      --retry-dead ID    a dead letter back in the queue, then -q\n"
	    "      --drop ID          delete a queued message or a dead letter\n"
	    "  -j, --json             a JSON line: each recipient's fate (also --list-queue)\n"
	    "  -v, --verbose          the SMTP dialogue on stderr (passwords as ***)\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          version\n",
	    mp_progname(), mp_progname(), mp_progname());
	fputs("Mailing lists (msend(1), LIST MAIL):\n"
	      "      --rcpt-file FILE   more recipients, one a line (# comments); each one's\n"
	      "                         result on stdout (a JSON line each with -j)\n"
	      "      --parallel N       direct: N domains at once (default 4; one\n"
	      "                         connection per MX host at a time)\n"
	      "      --verp[=LOCAL]     each recipient its own envelope sender,\n"
	      "                         list+bob=example.org@host (LOCAL instead of list)\n"
	      "      --verp-delimiters XY  the two VERP separators (default +=)\n"
	      "      --list-id ID, --list-unsubscribe URI, --precedence WORD\n"
	      "                         compose: List-Id:, List-Unsubscribe: (with\n"
	      "                         List-Unsubscribe-Post: for https), Precedence:\n",
	      f);
	fputs("DKIM signing (RFC 6376, RFC 8463), of the form the server receives:\n"
	      "      --dkim-key FILE    a private key (PEM, RSA or Ed25519, mode 600);\n"
	      "                         repeat it with --dkim-selector for several keys\n"
	      "      --dkim-selector S  its selector (S._domainkey.DOMAIN has the public key)\n"
	      "      --dkim-domain DOM  the signing domain (default: the From: domain)\n"
	      "      --dkim-canon C     relaxed/relaxed (default), simple/simple, ...\n"
	      "sendmail options accepted: -i -oi -oem -oee -B TYPE -Ac -Am\n"
	      "-bm -bp, -C FILE as --config, and -oX/-X ignored with no effect.\n",
	      f);
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
	OPT_NOCHUNK,
	OPT_RETRYDEAD,
	OPT_DROP,
	OPT_READFROM,
	OPT_DKIMKEY,
	OPT_DKIMSEL,
	OPT_DKIMDOM,
	OPT_DKIMCANON,
	OPT_RCPTFILE,
	OPT_PARALLEL,
	OPT_VERP,
	OPT_VERPD,
	OPT_LISTID,
	OPT_UNSUB,
	OPT_PRECEDENCE
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

void parse_options(int argc, char **argv, struct options *o)
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
	                                   {"retry-dead", required_argument, NULL, OPT_RETRYDEAD},
	                                   {"drop", required_argument, NULL, OPT_DROP},
	                                   {"read-envelope-from", no_argument, NULL, OPT_READFROM},
	                                   {"dkim-key", required_argument, NULL, OPT_DKIMKEY},
	                                   {"dkim-selector", required_argument, NULL, OPT_DKIMSEL},
	                                   {"dkim-domain", required_argument, NULL, OPT_DKIMDOM},
	                                   {"dkim-canon", required_argument, NULL, OPT_DKIMCANON},
	                                   {"rcpt-file", required_argument, NULL, OPT_RCPTFILE},
	                                   {"parallel", required_argument, NULL, OPT_PARALLEL},
	                                   {"verp", optional_argument, NULL, OPT_VERP},
	                                   {"verp-delimiters", required_argument, NULL, OPT_VERPD},
	                                   {"list-id", required_argument, NULL, OPT_LISTID},
	                                   {"list-unsubscribe", required_argument, NULL, OPT_UNSUB},
	                                   {"precedence", required_argument, NULL, OPT_PRECEDENCE},
	                                   {"verbose", no_argument, NULL, 'v'},
	                                   {"json", no_argument, NULL, 'j'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {"version", no_argument, NULL, 'V'},
	                                   {NULL, 0, NULL, 0}};
	struct mp_err e;
	int c;

	memset(o, 0, sizeof *o);
	o->s.max_age = -1;
	mp_err_clear(&e);
	opterr = 0;
	/* sendmail's letters first, then our own long options */
	while ((c = getopt_long(argc, argv, ":f:r:a:s:A:tiF:o:b:B:N:R:V::C:X:q::vjh", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
		case 'r': o->from = optarg; break;
		case 't': o->tflag = 1; break;
		case 'F': o->full_name = optarg; break;
		case 's': o->cm.subject = optarg; break;
		case 'A':
			/* sendmail's -Ac and -Am (which .cf to use) mean nothing here */
			if ((strcmp(optarg, "c") == 0 || strcmp(optarg, "m") == 0) &&
			    access(optarg, F_OK) < 0)
				break;
			o->cm.attach =
			    mp_xrealloc(o->cm.attach, (o->cm.natt + 1) * sizeof *o->cm.attach);
			o->cm.attach[o->cm.natt++] = optarg;
			break;
		case OPT_CC:
			o->cm.cc = mp_xrealloc(o->cm.cc, (o->cm.ncc + 1) * sizeof *o->cm.cc);
			o->cm.cc[o->cm.ncc++] = optarg;
			break;
		case OPT_BCC:
			o->bcc = mp_xrealloc(o->bcc, (o->nbcc + 1) * sizeof *o->bcc);
			o->bcc[o->nbcc++] = optarg;
			break;
		case OPT_REPLYTO: o->cm.reply_to = optarg; break;
		case 'o':
			/* -oem, -oee: mail errors back; -oep, -oeq: print only */
			if (strcmp(optarg, "em") == 0 || strcmp(optarg, "ee") == 0)
				o->s.mail_errors = 1;
			else if (strcmp(optarg, "ep") == 0 || strcmp(optarg, "eq") == 0)
				o->s.mail_errors = 0;
			break;
		case 'i':
		case 'B':
		case 'X': break;
		case 'N':
		case 'R':
		case OPT_ENVID:
			if (dsn_set(&o->dsn, c == OPT_ENVID ? 'V' : c, optarg, &e) < 0)
				mp_die_err(NULL, &e);
			break;
		case 'a': o->account = optarg; break;
		case 'C': o->config = optarg; break;
		case OPT_FP: o->s.fingerprint = optarg; break;
		case OPT_CERT: o->s.cert_file = optarg; break;
		case OPT_KEY: o->s.key_file = optarg; break;
		case OPT_ALIASES: o->aliases_file = optarg; break;
		case OPT_LOG: o->s.log = optarg; break;
		case OPT_SYSLOG: o->s.log = "syslog"; break;
		case 'b':
			if (strcmp(optarg, "p") == 0)
				o->listq = 1;
			else if (strcmp(optarg, "m") != 0)
				mp_die(EX_USAGE, "-b%s is not supported (only -bm and -bp)",
				       optarg);
			break;
		case 'V':
			if (!optarg) {
				printf("%s (mailpipe) %s\n", mp_progname(), MP_VERSION);
				exit(0);
			}
			if (dsn_set(&o->dsn, 'V', optarg, &e) < 0) /* -VENVID */
				mp_die_err(NULL, &e);
			break;
		case 'q': o->flush = 1; break;
		case 'v': o->s.verbose = 1; break;
		case 'j': o->s.json = 1; break;
		case 'h': usage(stdout); exit(0);
		case OPT_SERVER: o->s.server = optarg; break;
		case OPT_PORT: o->s.port = (int)num(optarg, "port", 1, 65535); break;
		case OPT_TLS: o->s.tls = 1; break;
		case OPT_STARTTLS: o->s.starttls = 1; break;
		case OPT_NOTLS: o->no_tls = 1; break;
		case OPT_TLSREQ: o->s.tls_required = 1; break;
		case OPT_CAFILE: o->s.ca_file = optarg; break;
		case OPT_AUTH:
			settings_check_auth(optarg, NULL);
			o->s.auth = optarg;
			break;
		case OPT_USER: o->s.user = optarg; break;
		case OPT_PWEVAL: o->s.password_eval = optarg; break;
		case OPT_AUTHPLAIN: o->s.auth_plaintext = 1; break;
		case OPT_DIRECT: o->s.direct = 1; break;
		case OPT_MXPORT: o->s.mx_port = (int)num(optarg, "port", 1, 65535); break;
		case OPT_DNS: o->s.dns_server = optarg; break;
		case OPT_STSADDR: o->s.sts_addr = optarg; break;
		case OPT_MAILDOMAIN: o->maildomain = optarg; break;
		case OPT_HELO: o->s.helo = optarg; break;
		case OPT_TIMEOUT:
			o->s.timeout_ms = (int)num(optarg, "timeout", 1, 3600) * 1000;
			break;
		case OPT_QUEUE: o->s.queue = optarg; break;
		case OPT_NOQUEUE: o->s.no_queue = 1; break;
		case OPT_MAXAGE: o->s.max_age = num(optarg, "max-age", 0, 10L * 365 * 86400); break;
		case OPT_LISTQ: o->listq = 1; break;
		case OPT_NOCHUNK: o->s.no_chunking = 1; break;
		case OPT_NOW: o->s.no_queue = 1; break;
		case OPT_RETRYDEAD: o->retry_dead = optarg; break;
		case OPT_DROP: o->drop = optarg; break;
		case OPT_READFROM: o->read_envelope_from = 1; break;
		case OPT_DKIMKEY:
			if (o->s.ndkim_key == DKIM_KEYS)
				mp_die(EX_USAGE, "at most %d --dkim-key", DKIM_KEYS);
			o->s.dkim_key[o->s.ndkim_key++] = optarg;
			break;
		case OPT_DKIMSEL:
			if (o->s.ndkim_selector == DKIM_KEYS)
				mp_die(EX_USAGE, "at most %d --dkim-selector", DKIM_KEYS);
			o->s.dkim_selector[o->s.ndkim_selector++] = optarg;
			break;
		case OPT_DKIMDOM: o->s.dkim_domain = optarg; break;
		case OPT_DKIMCANON: o->s.dkim_canon = optarg; break;
		case OPT_RCPTFILE:
			if (strcmp(optarg, "-") == 0)
				mp_die(EX_USAGE,
				       "--rcpt-file: stdin is the message; give a file or "
				       "/dev/fd/N");
			o->rcpt_file = optarg;
			break;
		case OPT_PARALLEL: o->s.parallel = (int)num(optarg, "--parallel", 1, 64); break;
		case OPT_VERP:
			o->verp.on = 1;
			if (optarg)
				mp_verp_local_arg(optarg);
			snprintf(o->verp.local, sizeof o->verp.local, "%s", optarg ? optarg : "");
			break;
		case OPT_VERPD:
			snprintf(o->verp.delim, sizeof o->verp.delim, "%s",
			         mp_verp_delims_arg(optarg));
			break;
		case OPT_LISTID: o->cm.list_id = optarg; break;
		case OPT_UNSUB:
			o->cm.unsub =
			    mp_xrealloc(o->cm.unsub, (o->cm.nunsub + 1) * sizeof *o->cm.unsub);
			o->cm.unsub[o->cm.nunsub++] = optarg;
			break;
		case OPT_PRECEDENCE: o->cm.precedence = optarg; break;
		default: mp_getopt_fail(c, argv, optind, optopt);
		}
	}
	if (o->s.ndkim_key != o->s.ndkim_selector)
		mp_die(EX_USAGE,
		       "--dkim-key and --dkim-selector go in pairs (%d keys, %d selectors)",
		       o->s.ndkim_key, o->s.ndkim_selector);
	if (!o->verp.delim[0])
		snprintf(o->verp.delim, sizeof o->verp.delim, "+=");
	o->args = argv + optind;
	o->nargs = argc - optind;
}
