/* args: mparse's command line: the usage text, the options into O and
 * X (opts.h, run.h), and the checks of what goes with what */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "dsn.h"
#include "opts.h"
#include "report.h"
#include "run.h"
#include "scan.h"
#include "verify.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: %s [-f FIELD]... [--raw] [--tsv] [-a [FIELD] [--addr-only]] [-t] [-p N]\n"
	    "          [--text] [-x DIR] [-r] [-j [--bodies]] [--date iso|epoch|rfc] [--mbox]\n"
	    "          [-H|--no-filename]\n"
	    "          [FILE|DIR|FOLDER:PICK|-]...\n"
	    "       %s --verify [-j] [--dns-server ADDR] [--spf-ip IP --mail-from ADDR\n"
	    "          [--helo NAME]] [--authserv-id ID] [--add-results] [FILE|DIR|-]...\n"
	    "       %s --show [-f FIELD]... [--html-filter CMD] [FILE|DIR|FOLDER:PICK|-]...\n"
	    "       %s --scan [-j] [--sort date|file|from|subject] [-r] [--width N]\n"
	    "          [FILE|DIR|FOLDER:PICK|-]...\n"
	    "       %s --dsn [-j] [FILE|DIR|FOLDER:PICK|-]...\n"
	    "       %s --digest [FILE|DIR|FOLDER:PICK|-]...\n"
	    "Read a message, an mbox or a Maildir (stdin when no FILE) and show its header\n"
	    "summary, fields, addresses, MIME tree, parts, text, attachments or Received path.\n\n"
	    "  -f, --field NAME    that field, unfolded and decoded to UTF-8 (repeatable)\n"
	    "      --raw           fields as they stand\n"
	    "      --tsv           a line per message: its name (with -H) and a column per\n"
	    "                      -f field (the summary's without -f), empty when missing;\n"
	    "                      tab, newline, CR and \\ as \\t, \\n, \\r and \\\\\n"
	    "  -H, --with-filename the message's name before each line (-f, -a, -r, the\n"
	    "                      summary) or as the first column (--tsv); the default\n"
	    "                      with several FILEs or a DIR\n"
	    "      --no-filename   never the name\n"
	    "  -a, --addr[=FIELD]  addresses of From/To/Cc/Bcc (or FIELD), one per line\n"
	    "      --addr-only     just local@domain\n"
	    "  -t, --tree          the MIME tree: number, type, charset, encoding, size, name\n"
	    "  -p, --part N        the decoded bytes of part N (N.uK: a uuencoded block)\n"
	    "      --text          the best readable body as UTF-8 (text/plain, else HTML\n"
	    "                      with the tags stripped)\n"
	    "  -x, --extract DIR   write every attachment into DIR, print the paths\n"
	    "  -r, --received      the Received trace, oldest hop first\n"
	    "  -j, --json          headers and the MIME tree as JSON, one object per message\n"
	    "      --bodies        with the decoded body of each part (implies -j)\n"
	    "      --date FORM     dates as iso (RFC 3339), epoch (seconds) or rfc (RFC 5322)\n"
	    "      --mbox          read every FILE (and stdin) as an mbox\n"
	    "      --show          a readable view: the -f fields (From, To, Cc, Date,\n"
	    "                      Subject), the text, then the other parts\n"
	    "      --html-filter CMD  with --show: HTML-only mail made text by CMD\n"
	    "      --scan          one line per message: number, flags, date, sender,\n"
	    "                      size, subject (-j: JSON Lines, -r: reversed)\n"
	    "      --sort KEY      --scan's order: date, file, from or subject\n"
	    "      --reverse       with --scan (-r too): the order reversed\n"
	    "      --width N       cut --scan's lines at N columns (0: never; default:\n"
	    "                      the terminal's, when on one)\n"
	    "      --type GLOB     -p/-x: only parts whose type matches (image/*)\n"
	    "      --name GLOB     -p/-x: only parts whose file name matches (*.csv)\n"
	    "  FOLDER:PICK         messages of a Maildir or mbox by number: 3, 2-5, last,\n"
	    "                      2-last, 1,4\n"
	    "      --verify        DKIM, SPF and DMARC: a line as an Authentication-Results\n"
	    "                      field has it (-j: JSON)\n"
	    "      --dns-server A  that DNS server (v4:port or [v6]:port)\n"
	    "      --spf-ip IP     check SPF for the client at IP, with --mail-from ADDR\n"
	    "                      (\"\": the null sender) and --helo NAME\n"
	    "      --authserv-id ID  the results' authserv-id (default: the host name)\n"
	    "      --add-results   the message on stdout with the Authentication-Results\n"
	    "                      field on top (one message)\n"
	    "      --dsn           a delivery report (DSN, ARF, plain-text bounce): a line\n"
	    "                      (-j: an object) per recipient, VERP decoded\n"
	    "      --verp=LOCAL    --dsn: VERP addresses begin with LOCAL (default: any)\n"
	    "      --verp-delimiters XY  --dsn: the two VERP separators (default +=)\n"
	    "      --digest        a multipart/digest of the messages on stdout\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       version\n",
	    mp_progname(), mp_progname(), mp_progname(), mp_progname(), mp_progname(),
	    mp_progname());
}

/* --show and --scan take -f, -j and -r as their own */
static void xopts_check(void)
{
	if (X.show && X.scan)
		mp_die(EX_USAGE, "--show and --scan: one at a time");
	if (X.show && O.mode != M_SUMMARY && O.mode != M_FIELDS)
		mp_die(EX_USAGE, "--show: no other mode with it (only -f and --date)");
	if (X.scan && O.mode != M_SUMMARY && O.mode != M_JSON && O.mode != M_RECEIVED)
		mp_die(EX_USAGE, "--scan: no other mode with it (only -j, -r and --sort)");
	if (!X.scan && (X.sort || X.reverse == 2 || X.width))
		mp_die(EX_USAGE, "--sort, --reverse and --width go with --scan");
	if (!X.scan)
		X.json = X.reverse = 0;
	if (X.sort && strcmp(X.sort, "date") && strcmp(X.sort, "file") && strcmp(X.sort, "from") &&
	    strcmp(X.sort, "subject"))
		mp_die(EX_USAGE, "--sort: unknown key '%s' (date, file, from or subject)", X.sort);
	if ((X.type || X.name) && O.mode != M_PART && O.mode != M_EXTRACT)
		mp_die(EX_USAGE, "--type and --name go with -p or -x");
	if (X.html_filter && !X.show)
		mp_die(EX_USAGE, "--html-filter goes with --show");
	X.fields = O.fields;
	X.nfields = O.nfields;
	X.date = O.date;
}

/* long options without a short form, beyond any char */
enum {
	OPT_SHOW = 256,
	OPT_NAME,
	OPT_HTML_FILTER,
	OPT_SPF_IP,
	OPT_HELO,
	OPT_MAIL_FROM,
	OPT_AUTHSERV,
	OPT_ADD_RESULTS,
	OPT_DSN,
	OPT_VERP,
	OPT_VERPD,
	OPT_DIGEST
};

int mparse_args(int argc, char **argv)
{
	const char *verp_local = NULL, *verp_delim = NULL;
	static const struct option lo[] = {
	    {"field", required_argument, NULL, 'f'},
	    {"raw", no_argument, NULL, 'R'},
	    {"addr", optional_argument, NULL, 'a'},
	    {"addr-only", no_argument, NULL, 'A'},
	    {"tree", no_argument, NULL, 't'},
	    {"part", required_argument, NULL, 'p'},
	    {"text", no_argument, NULL, 'T'},
	    {"extract", required_argument, NULL, 'x'},
	    {"received", no_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"date", required_argument, NULL, 'D'},
	    {"mbox", no_argument, NULL, 'M'},
	    {"bodies", no_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"with-filename", no_argument, NULL, 'H'},
	    {"no-filename", no_argument, NULL, 'N'},
	    {"tsv", no_argument, NULL, 'S'},
	    {"show", no_argument, NULL, OPT_SHOW},
	    {"scan", no_argument, NULL, 'C'},
	    {"sort", required_argument, NULL, 'O'},
	    {"type", required_argument, NULL, 'Y'},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"width", required_argument, NULL, 'W'},
	    {"html-filter", required_argument, NULL, OPT_HTML_FILTER},
	    {"reverse", no_argument, NULL, 'v'},
	    {"verify", no_argument, NULL, 'K'},
	    {"dns-server", required_argument, NULL, '@'},
	    {"spf-ip", required_argument, NULL, OPT_SPF_IP},
	    {"helo", required_argument, NULL, OPT_HELO},
	    {"mail-from", required_argument, NULL, OPT_MAIL_FROM},
	    {"authserv-id", required_argument, NULL, OPT_AUTHSERV},
	    {"add-results", no_argument, NULL, OPT_ADD_RESULTS},
	    {"dsn", no_argument, NULL, OPT_DSN},
	    {"verp", required_argument, NULL, OPT_VERP},
	    {"verp-delimiters", required_argument, NULL, OPT_VERPD},
	    {"digest", no_argument, NULL, OPT_DIGEST},
	    {NULL, 0, NULL, 0}};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:a::tp:x:rjhVH", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (O.nfields == 32)
				mp_die(EX_USAGE, "at most 32 fields");
			O.fields[O.nfields++] = optarg;
			O.mode = M_FIELDS;
			break;
		case 'R': O.raw = 1; break;
		case 'a':
			O.mode = M_ADDR;
			O.addr_field = optarg;
			break;
		case 'A':
			O.addr_only = 1;
			O.mode = M_ADDR;
			break;
		case 't': O.mode = M_TREE; break;
		case 'p':
			O.mode = M_PART;
			O.part = optarg;
			break;
		case 'T': O.mode = M_TEXT; break;
		case 'x':
			O.mode = M_EXTRACT;
			O.dir = optarg;
			break;
		case 'r':
			O.mode = M_RECEIVED;
			X.reverse = 1; /* with --scan */
			break;
		case 'j':
			O.mode = M_JSON;
			X.json = 1; /* with --scan */
			break;
		case OPT_SHOW: X.show = 1; break;
		case 'v': X.reverse = 2; break;
		case 'W': X.width = mp_width_arg(optarg); break;
		case 'C': X.scan = 1; break;
		case 'O': X.sort = optarg; break;
		case 'Y': X.type = optarg; break;
		case OPT_NAME: X.name = optarg; break;
		case OPT_HTML_FILTER: X.html_filter = optarg; break;
		case 'M': O.mbox = 1; break;
		case 'H': O.names = 1; break;
		case 'N': O.names = 0; break;
		case 'S': O.tsv = 1; break;
		case 'B':
			O.bodies = 1;
			O.mode = M_JSON;
			break;
		case 'D':
			if ((c = mp_date_form_parse(optarg)) < 0)
				mp_die(EX_USAGE, "--date: unknown form '%s' (iso, epoch or rfc)",
				       optarg);
			O.date = (enum mp_date_form)c;
			break;
		case 'K': O.verify = 1; break;
		case '@': verify_opts.server = optarg; break;
		case OPT_SPF_IP: verify_opts.spf_ip = optarg; break;
		case OPT_HELO: verify_opts.helo = optarg; break;
		case OPT_MAIL_FROM: verify_opts.mail_from = optarg; break;
		case OPT_AUTHSERV: verify_opts.authserv_id = optarg; break;
		case OPT_ADD_RESULTS: verify_opts.add_results = 1; break;
		case OPT_DSN: O.dsn = 1; break;
		case OPT_VERP: verp_local = mp_verp_local_arg(optarg); break;
		case OPT_VERPD: verp_delim = mp_verp_delims_arg(optarg); break;
		case OPT_DIGEST: O.digest = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("%s (mailpipe) %s\n", mp_progname(), MP_VERSION); exit(0);
		default: mp_getopt_fail(c, argv, optind, optopt);
		}
	}
	if (O.tsv && O.mode == M_SUMMARY) { /* the summary's fields */
		static const char *const sum[] = {"From", "To", "Cc", "Date", "Subject"};
		for (O.nfields = 0; O.nfields < 5; O.nfields++)
			O.fields[O.nfields] = sum[O.nfields];
		O.mode = M_FIELDS;
	}
	if (O.tsv && O.mode != M_FIELDS)
		mp_die(EX_USAGE, "--tsv goes with -f (or the summary), not with another mode");
	xopts_check();
	if (O.mode == M_JSON)
		mp_problems_json();
	if ((verify_opts.spf_ip || verify_opts.helo || verify_opts.mail_from ||
	     verify_opts.authserv_id || verify_opts.add_results) &&
	    !O.verify)
		mp_die(EX_USAGE,
		       "--spf-ip, --helo, --mail-from, --authserv-id and --add-results go "
		       "with --verify");
	if (verify_opts.spf_ip && !verify_opts.mail_from)
		mp_die(EX_USAGE, "--spf-ip needs --mail-from (\"\" for the null sender)");
	if ((verify_opts.helo || verify_opts.mail_from) && !verify_opts.spf_ip)
		mp_die(EX_USAGE, "--helo and --mail-from go with --spf-ip");
	if (verify_opts.add_results && O.mode == M_JSON)
		mp_die(EX_USAGE, "--add-results writes the message: not with -j");
	struct stat st;
	if (verify_opts.add_results &&
	    (argc - optind > 1 || O.mbox ||
	     (argc - optind == 1 && stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))))
		mp_die(EX_USAGE, "--add-results: one message only (a FILE or stdin)");
	if ((verp_local || verp_delim) && !O.dsn)
		mp_die(EX_USAGE, "--verp and --verp-delimiters go with --dsn");
	report_verp_form(verp_local, verp_delim);
	if ((O.dsn || O.digest) && (X.show || X.scan || O.verify || O.dsn + O.digest > 1 ||
	                            (O.mode != M_SUMMARY && (O.mode != M_JSON || O.digest))))
		mp_die(EX_USAGE, "--dsn (with -j) and --digest go alone");
	return optind;
}
