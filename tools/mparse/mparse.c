/* mparse: read mail (a message, an mbox, a Maildir, stdin) and answer:
 * who sent it, the subject in UTF-8, its parts, the PDF, its path. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "date.h"
#include "dsn.h"
#include "jbody.h"
#include "hdr.h"
#include "html.h"
#include "json.h"
#include "mime.h"
#include "pick.h"
#include "report.h"
#include "run.h"
#include "scan.h"
#include "show.h"
#include "store.h"
#include "util.h"
#include "verify.h"

enum mode { M_SUMMARY, M_FIELDS, M_ADDR, M_TREE, M_PART, M_TEXT, M_EXTRACT, M_RECEIVED, M_JSON };

struct opts {
	enum mode mode;
	const char *fields[32];
	int nfields, raw, addr_only, mbox, bodies, verify, dsn, digest;
	int names;              /* -H 1, --no-filename 0, else -1: shown for several inputs */
	int tsv;                /* --tsv: a line a message, a column a field */
	enum mp_date_form date; /* --date */
	const char *addr_field, *part, *dir;
	long messages;
	int printed;
	struct mp_json j;
	/* --text: the best candidate */
	int text_found, html_fd;
	char text_charset[64], html_charset[64];
	/* -p / -x: where the current part goes, and a uuencoded block in it */
	FILE *out, *uuout;
	struct mp_buf uutree; /* -t: the lines of a text part's blocks, shown after it */
	int part_seen;        /* -p: 0 no such part, 1 a leaf, 2 a container */
	char part_type[128];  /* -p: the container's type */
	struct mp_buf conv;   /* charset conversion of --text */
};

static struct opts O;

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

/* ---------------------------------------------------------------- per mode */

/* where the header modes write a message's lines: stdout, or in a thread
 * that reads a Maildir's headers ahead, what it keeps of the message for
 * the main thread to write in order (ahead_work) */
static _Thread_local FILE *out_file;
#define OUT (out_file ? out_file : stdout)

/* What a reading thread keeps of a message: records of a kind ('o' bytes
 * for stdout, 'e' for stderr, 's' the summary's blank line, written when
 * a message came before, 'c' and 'p' a problem's code and line, 'r' the
 * walk's result), each a kind byte, a length and its bytes, in the order
 * they were written; an empty buffer: nothing kept, the message is read
 * again by the main thread */
struct ahead_cap {
	struct mp_buf *b;
	char kind;
	int *broken;  /* a record could not be kept */
	FILE *before; /* flushed first: stdout's bytes before a warning */
};
static _Thread_local struct ahead_cap *cap_now;

static void cap_add(const struct ahead_cap *c, char kind, const void *p, size_t n)
{
	if (mp_buf_putc(c->b, kind) < 0 || mp_buf_append(c->b, &n, sizeof n) < 0 ||
	    (n && mp_buf_append(c->b, p, n) < 0))
		*c->broken = 1;
}

static ssize_t cap_write(void *cookie, const char *p, size_t n)
{
	const struct ahead_cap *c = cookie;
	if (!c->b) /* between messages: never, as each ends flushed */
		return -1;
	if (c->before)
		fflush(c->before);
	cap_add(c, c->kind, p, n);
	return (ssize_t)n;
}

/* a record of no bytes at this point of the message's output */
static void ahead_mark(char kind)
{
	fflush(out_file);
	cap_add(cap_now, kind, NULL, 0);
}

/* -H: the message's name before a line of it */
static void name_prefix(const char *name)
{
	char b[512];
	size_t n = strlen(name);

	if (O.names <= 0)
		return;
	if (n + 1 > sizeof b) {
		mp_term_printf(OUT, "%s:", name);
		return;
	}
	/* as mp_term_printf("%s:") writes it, without formatting */
	memcpy(b, name, n);
	b[n] = ':';
	mp_term_write(OUT, b, n + 1);
}

/* --tsv: a value in a column: what would break the record, visibly */
static void tsv_escape(const char *s, struct mp_buf *out)
{
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r') {
			mp_buf_putc(out, '\\');
			mp_buf_putc(out, *s == '\t'   ? 't'
			                 : *s == '\n' ? 'n'
			                 : *s == '\r' ? 'r'
			                              : '\\');
		} else {
			mp_buf_putc(out, *s);
		}
	}
}

/* --tsv: the line of one message; a field's column holds what -f prints
 * for it, its lines joined by \n */
static void tsv_line(const char *name, const struct mp_header *h)
{
	struct mp_buf line = MP_BUF_INIT, d = MP_BUF_INIT;

	if (O.names > 0)
		tsv_escape(name, &line);
	for (int k = 0; k < O.nfields; k++) {
		int n = 0;
		if (k || O.names > 0)
			mp_buf_putc(&line, '\t');
		for (size_t i = 0; i < h->n; i++) {
			if (strcasecmp(h->f[i].name, O.fields[k]) != 0)
				continue;
			if (n++)
				mp_buf_puts(&line, "\\n");
			if (O.raw) {
				tsv_escape(h->f[i].value, &line);
			} else {
				mp_field_value(name, &h->f[i], &d);
				tsv_escape(d.data, &line);
			}
		}
	}
	mp_buf_putc(&line, '\n');
	if (O.raw) /* as written, byte for byte, as -f --raw */
		fwrite(line.data, 1, line.len, OUT);
	else
		mp_term_write(OUT, line.data, line.len);
	mp_buf_free(&line);
	mp_buf_free(&d);
}

static int on_header(struct mp_walker *w, struct mp_header *h)
{
	struct mp_buf d = MP_BUF_INIT;
	(void)w;

	switch (O.mode) {
	case M_SUMMARY: {
		static const char *const sum[] = {"From", "To", "Cc", "Date", "Subject"};
		if (out_file) /* the main thread knows whether one came before */
			ahead_mark('s');
		else if (O.messages > 1)
			putchar('\n');
		for (size_t i = 0; i < 5; i++) {
			for (size_t k = 0; k < h->n; k++)
				if (strcasecmp(h->f[k].name, sum[i]) == 0) {
					mp_field_value(w->name, &h->f[k], &d);
					name_prefix(w->name);
					mp_term_printf(OUT, "%s: %s\n", sum[i],
					               d.data ? d.data : "");
					break;
				}
		}
		break;
	}
	case M_FIELDS:
		if (O.tsv) {
			tsv_line(w->name, h);
			break;
		}
		for (int k = 0; k < O.nfields; k++)
			for (size_t i = 0; i < h->n; i++)
				if (strcasecmp(h->f[i].name, O.fields[k]) == 0) {
					name_prefix(w->name);
					if (O.raw) {
						fprintf(OUT, "%s\n",
						        h->f[i].value); /* raw: as written,
						                     byte for byte */
					} else {
						mp_field_value(w->name, &h->f[i], &d);
						/* as "%s\n" would print it: up to a NUL */
						d.len = d.data ? strlen(d.data) : 0;
						mp_buf_putc(&d, '\n');
						mp_term_write(OUT, d.data, d.len);
					}
				}
		break;
	case M_ADDR: {
		static const char *const def[] = {"From", "To", "Cc", "Bcc"};
		for (size_t k = 0; k < (O.addr_field ? 1 : 4); k++)
			for (size_t i = 0; i < h->n; i++) {
				if (strcasecmp(h->f[i].name,
				               O.addr_field ? O.addr_field : def[k]) != 0)
					continue;
				struct mp_addrlist l;
				if (mp_addr_parse(h->f[i].value, &l))
					mp_warn("%s: %s: unbalanced quotes or brackets; what could "
					        "be read follows",
					        w->name, h->f[i].name);
				for (size_t a = 0; a < l.n; a++) {
					char ad[1024];
					mp_addr_display(l.v[a].addr, ad, sizeof ad);
					name_prefix(w->name);
					if (O.addr_only || !l.v[a].name[0])
						mp_term_printf(OUT, "%s\n", ad);
					else
						mp_term_printf(OUT, "%s <%s>\n", l.v[a].name, ad);
				}
				mp_addr_free(&l);
			}
		break;
	}
	case M_RECEIVED: {
		/* the fields come newest first: print them oldest first */
		time_t prev = 0;
		int hop = 0, have_prev = 0;
		for (size_t i = h->n; i-- > 0;) {
			if (strcasecmp(h->f[i].name, "Received") != 0)
				continue;
			const char *v = h->f[i].value, *semi = strrchr(v, ';');
			char from[256] = "", by[256] = "", with[64] = "", id[128] = "", clean[2048];
			size_t cl = 0;
			int depth = 0;
			/* the clauses without their comments, blanks made single */
			for (const char *p = v; *p && (!semi || p < semi) && cl + 2 < sizeof clean;
			     p++) {
				if (*p == '(')
					depth++;
				else if (*p == ')' && depth)
					depth--;
				else if (!depth) {
					char ch =
					    (*p == '\t' || *p == '\r' || *p == '\n') ? ' ' : *p;
					if (ch != ' ' || (cl && clean[cl - 1] != ' '))
						clean[cl++] = ch;
				}
			}
			clean[cl] = '\0';
			char *save = NULL, *prevw = NULL;
			for (char *wd = strtok_r(clean, " ", &save); wd;
			     wd = strtok_r(NULL, " ", &save)) {
				if (prevw) {
					if (!strcasecmp(prevw, "from"))
						snprintf(from, sizeof from, "%s", wd);
					else if (!strcasecmp(prevw, "by"))
						snprintf(by, sizeof by, "%s", wd);
					else if (!strcasecmp(prevw, "with"))
						snprintf(with, sizeof with, "%s", wd);
					else if (!strcasecmp(prevw, "id"))
						snprintf(id, sizeof id, "%s", wd);
				}
				prevw = wd;
			}
			struct mp_date dt;
			int known = semi && mp_date_parse(semi + 1, &dt) == 0;
			name_prefix(w->name);
			mp_term_printf(OUT, "%d. from %s by %s%s%s%s%s", ++hop,
			               from[0] ? from : "?", by[0] ? by : "?",
			               with[0] ? " with " : "", with, id[0] ? " id " : "", id);
			if (known) {
				char buf[64];
				struct tm g;
				if (O.date != MP_DATE_ASIS) {
					mp_date_format(&dt, O.date, buf, sizeof buf);
				} else {
					gmtime_r(&dt.t, &g);
					strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &g);
				}
				mp_term_printf(OUT, " at %s", buf);
				if (have_prev)
					mp_term_printf(OUT, " (%+llds)", (long long)(dt.t - prev));
				prev = dt.t;
				have_prev = 1;
			} else if (semi && O.date != MP_DATE_ASIS) {
				const char *ds = semi + 1;
				while (*ds == ' ' || *ds == '\t' || *ds == '\r' || *ds == '\n')
					ds++;
				mp_warn(
				    "%s: Received (hop %d): cannot read the date \"%s\": shown as "
				    "it stands",
				    w->name, hop, ds);
				mp_term_printf(OUT, " at %s", ds);
			}
			fputc('\n', OUT);
		}
		break;
	}
	case M_JSON:
		mp_json_begin_object(&O.j, NULL);
		mp_json_string(&O.j, "type", "message");
		mp_json_begin_array(&O.j, "headers");
		for (size_t i = 0; i < h->n; i++) {
			mp_json_begin_object(&O.j, NULL);
			mp_json_string(&O.j, "name", h->f[i].name);
			mp_json_string(&O.j, "value", h->f[i].value);
			mp_field_value(w->name, &h->f[i], &d);
			mp_json_string(&O.j, "decoded", d.data ? d.data : "");
			mp_json_end_object(&O.j);
		}
		mp_json_end_array(&O.j);
		mp_json_begin_array(&O.j, "parts");
		break;
	default: break;
	}
	mp_buf_free(&d);
	return 0;
}

/* "name (1).pdf": a file name that stays inside DIR and overwrites
 * nothing; a long name is cut in its stem, at a UTF-8 character boundary,
 * so that the stem, " (N)" and the extension fit in NAME_MAX (255) bytes */
static FILE *safe_create(const char *dir, const char *want, char *path, size_t n)
{
	char base[1024];
	size_t k = 0;

	for (const char *s = want; *s && k + 1 < sizeof base; s++) {
		unsigned char c = (unsigned char)*s;
		base[k++] = (c < 32 || c == 127 || c == '/' || c == '\\') ? '_' : (char)c;
	}
	base[k] = '\0';
	if (!k || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		snprintf(base, sizeof base, "attachment");
	if (base[0] == '.')
		base[0] = '_';
	const char *dot = strrchr(base, '.');
	if (dot && (dot == base || strlen(dot) > 64))
		dot = NULL; /* no extension, or one too long to keep */
	size_t stem = dot ? (size_t)(dot - base) : strlen(base);
	const char *ext = dot ? dot : "";
	for (int i = 0; i < 1000; i++) {
		char suffix[16] = "";
		if (i)
			snprintf(suffix, sizeof suffix, " (%d)", i);
		size_t room = 255 - strlen(suffix) - strlen(ext), sl = stem;
		if (sl > room) {
			sl = room;
			/* not inside a UTF-8 sequence */
			while (sl && ((unsigned char)base[sl] & 0xc0) == 0x80)
				sl--;
		}
		size_t dl = strlen(dir); /* "out/" names "out/name", not "out//name" */
		while (dl > 1 && dir[dl - 1] == '/')
			dl--;
		snprintf(path, n, "%.*s/%.*s%s%s", (int)dl, dir, (int)sl, base, suffix, ext);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fdopen(fd, "w");
		if (errno != EEXIST)
			return NULL;
	}
	return NULL;
}

static char xpath[4096];

static void tree_line(struct mp_buf *b, const struct mp_part *p)
{
	const char *num = p->num[0] ? p->num : ".";

	mp_buf_printf(b, "%-*s%-8s %s", p->depth * 2, "", num, p->type);
	if (p->charset[0] && strncmp(p->type, "text/", 5) == 0)
		mp_buf_printf(b, "; charset=%s", p->charset);
	if (!p->container)
		mp_buf_printf(b, "  %s  %lld bytes", p->encoding[0] ? p->encoding : "7bit",
		              p->decsize);
	if (p->filename[0])
		mp_buf_printf(b, "  \"%s\"", p->filename);
	mp_buf_putc(b, '\n');
}

static void tree_print(const struct mp_part *p)
{
	struct mp_buf b = MP_BUF_INIT;

	tree_line(&b, p);
	mp_term_write(stdout, b.data, b.len);
	mp_buf_free(&b);
}

/* -j --bodies: a part's body waits in a temporary file until the part
 * ends and its object is written */
static FILE *spool(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	FILE *f = NULL;

	if (!dir || !*dir)
		dir = "/tmp";
	if (snprintf(path, sizeof path, "%s/mparse.XXXXXX", dir) >= (int)sizeof path)
		mp_die(EX_CANTCREAT, "TMPDIR: too long a path");
	int fd = mkstemp(path);
	if (fd >= 0) {
		unlink(path);
		f = fdopen(fd, "w+");
	}
	if (!f)
		mp_die(EX_CANTCREAT, "%s: a temporary file for a body: %s", dir, strerror(errno));
	return f;
}

/* -p: is this the part asked for (N, or "all" leaves), and does it pass
 * --type and --name? One that has the number but not the type or name
 * is noted for the warning. */
static int part_match(const struct mp_part *p)
{
	int all = strcmp(O.part, "all") == 0;
	if (all ? p->container : strcmp(p->num, O.part) != 0)
		return 0;
	if (p->container || !mp_part_filtered() || mp_part_wanted(p))
		return 1;
	if (!all && !O.part_seen) {
		O.part_seen = 3;
		snprintf(O.part_type, sizeof O.part_type, "%s", p->type);
	}
	return 0;
}

/* a uuencoded block starts inside the text part in hand */
static void on_uupart(struct mp_walker *w, struct mp_part *p)
{
	O.uuout = NULL;
	if (O.mode == M_JSON && O.bodies)
		O.uuout = spool();
	if (O.mode == M_PART && part_match(p)) {
		O.uuout = stdout;
		O.part_seen = 1;
	} else if (O.mode == M_EXTRACT && (!mp_part_filtered() || mp_part_wanted(p))) {
		O.uuout = safe_create(O.dir, p->filename, xpath, sizeof xpath);
		if (!O.uuout)
			mp_warn("%s: part %s: %s: %s", w->name, p->num, xpath, strerror(errno));
	}
}

static int on_part(struct mp_walker *w, struct mp_part *p)
{
	if (p->uuencode) {
		on_uupart(w, p);
		return 0;
	}
	O.out = NULL;
	switch (O.mode) {
	case M_TREE:
		if (p->container)
			tree_print(p); /* before its children */
		break;
	case M_PART:
		if (part_match(p)) {
			if (!p->container) {
				O.out = stdout;
				O.part_seen = 1;
			} else if (!O.part_seen) {
				O.part_seen = 2;
				snprintf(O.part_type, sizeof O.part_type, "%s", p->type);
			}
		}
		break;
	case M_TEXT:
		if (p->container || strcmp(p->disposition, "attachment") == 0)
			break;
		if (!O.text_found && strcmp(p->type, "text/plain") == 0) {
			O.text_found = 1;
			snprintf(O.text_charset, sizeof O.text_charset, "%s", p->charset);
			O.out = tmpfile(); /* converted at the end */
		} else if (!O.text_found && O.html_fd < 0 && strcmp(p->type, "text/html") == 0) {
			snprintf(O.html_charset, sizeof O.html_charset, "%s", p->charset);
			O.out = tmpfile();
			O.html_fd = -2; /* the FILE is kept below */
		}
		break;
	case M_JSON:
		if (O.bodies && !p->container)
			O.out = spool();
		break;
	case M_EXTRACT:
		if (p->external)
			mp_warn("%s: part %s: message/external-body names data kept elsewhere: "
			        "nothing to extract",
			        w->name, p->num);
		if (mp_part_filtered() ? mp_part_wanted(p) : mp_mime_attachment(p)) {
			O.out = safe_create(O.dir, p->filename[0] ? p->filename : "attachment",
			                    xpath, sizeof xpath);
			if (!O.out)
				mp_warn("%s: part %s: %s: %s", w->name, p->num, xpath,
				        strerror(errno));
		}
		break;
	default: break;
	}
	return 0;
}

static int on_data(struct mp_walker *w, struct mp_part *p, const char *s, size_t n)
{
	FILE *f = p->uuencode ? O.uuout : O.out;

	(void)w;
	if (f && fwrite(s, 1, n, f) != n)
		mp_die(EX_IOERR, "write: %s", strerror(errno));
	return 0;
}

static FILE *text_file, *html_file;

static int on_end(struct mp_walker *w, struct mp_part *p)
{
	(void)w;
	if (p->uuencode && O.mode == M_TREE) {
		tree_line(&O.uutree, p); /* shown after its text part */
		return 0;
	}
	if (p->uuencode && O.mode == M_EXTRACT) {
		if (O.uuout) {
			if (fclose(O.uuout) != 0)
				mp_die(EX_IOERR, "%s: %s", xpath, strerror(errno));
			mp_term_printf(stdout, "%s\n", xpath);
		}
		O.uuout = NULL;
		return 0;
	}
	switch (O.mode) {
	case M_TREE:
		if (!p->container) {
			tree_print(p); /* its size is known now */
			if (O.uutree.len)
				fwrite(O.uutree.data, 1, O.uutree.len, stdout);
			mp_buf_reset(&O.uutree);
		}
		break;
	case M_JSON:
		mp_json_begin_object(&O.j, NULL);
		mp_json_string(&O.j, "part", p->num);
		mp_json_string(&O.j, "type", p->type);
		mp_json_string(&O.j, "charset", p->charset[0] ? p->charset : NULL);
		mp_json_string(&O.j, "encoding", p->encoding[0] ? p->encoding : "7bit");
		mp_json_string(&O.j, "filename", p->filename[0] ? p->filename : NULL);
		mp_json_int(&O.j, "offset", p->offset);
		if (!p->container)
			mp_json_int(&O.j, "size", p->decsize);
		FILE *body = p->uuencode ? O.uuout : O.out;
		if (body) {
			int rc = jbody_write(&O.j, body, p->type, p->charset);
			if (rc < 0)
				mp_die(EX_IOERR, "a temporary file for a body: %s",
				       strerror(errno));
			if (rc > 0)
				mp_warn("%s: part %s: unknown charset \"%s\": the body is read as "
				        "UTF-8",
				        w->name, p->num, p->charset);
			fclose(body);
		}
		mp_json_end_object(&O.j);
		break;
	case M_TEXT:
		if (O.out && O.html_fd == -2 && !html_file) {
			html_file = O.out;
			O.html_fd = -3;
		} else if (O.out && !text_file) {
			text_file = O.out;
		}
		break;
	case M_EXTRACT:
		if (O.out) {
			if (fclose(O.out) != 0)
				mp_die(EX_IOERR, "%s: %s", xpath, strerror(errno));
			mp_term_printf(stdout, "%s\n", xpath);
		}
		break;
	default: break;
	}
	if (p->uuencode)
		O.uuout = NULL;
	else
		O.out = NULL;
	return 0;
}

/* the text in UTF-8; HTML made text by common/html.c */
static void print_text(const char *name, FILE *f, const char *charset, int html)
{
	struct mp_buf raw = MP_BUF_INIT, u = MP_BUF_INIT;
	char buf[65536];
	size_t n;
	struct mp_err e;

	mp_err_clear(&e);
	if (charset[0] && mp_charset_to_utf8(charset, "", 0, 0, &u, &e) < 0)
		mp_warn("%s: unknown charset \"%s\": the text is read as UTF-8", name, charset);
	mp_buf_reset(&u);

	rewind(f);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		mp_buf_append(&raw, buf, n);
	if (mp_charset_to_utf8(charset[0] ? charset : "us-ascii", raw.data ? raw.data : "", raw.len,
	                       MP_HDR_IGNORE, &u, NULL) < 0)
		mp_buf_append(&u, raw.data ? raw.data : "", raw.len);
	if (html) {
		/* common/html.c: the one reader of HTML */
		struct mp_buf t = MP_BUF_INIT;
		if (mp_html_text(u.data ? u.data : "", u.len, &t) < 0)
			mp_die(EX_TEMPFAIL, "out of memory");
		mp_buf_free(&u);
		u = t;
	}
	fwrite(u.data ? u.data : "", 1, u.len, stdout);
	if (u.len && u.data[u.len - 1] != '\n')
		putchar('\n');
	mp_buf_free(&raw);
	mp_buf_free(&u);
}

/* ---------------------------------------------------------------- inputs */

/* the summary, -f, -a and -r need a message's header alone */
static int header_mode(void)
{
	return O.mode == M_SUMMARY || O.mode == M_FIELDS || O.mode == M_ADDR ||
	       O.mode == M_RECEIVED;
}

/* the fields a header mode prints, the only ones its walk keeps */
static const char *const *header_fields(int *n)
{
	static const char *const sum[] = {"From", "To", "Cc", "Date", "Subject"};
	static const char *const addr[] = {"From", "To", "Cc", "Bcc"};
	static const char *const rcvd[] = {"Received"};

	switch (O.mode) {
	case M_SUMMARY: *n = 5; return sum;
	case M_FIELDS: *n = O.nfields; return O.fields;
	case M_ADDR:
		*n = O.addr_field ? 1 : 4;
		return O.addr_field ? (const char *const *)&O.addr_field : addr;
	case M_RECEIVED: *n = 1; return rcvd;
	default: *n = 0; return NULL;
	}
}

static int one(const char *name, const struct mp_msgsrc *src)
{
	struct mp_walker w = {.on_header = on_header,
	                      .on_part = on_part,
	                      .on_data = on_data,
	                      .on_end = on_end,
	                      .name = name};
	struct mp_err e;

	if (X.show) { /* show.c */
		O.messages++;
		return mp_show_one(name, src);
	}
	if (O.dsn || O.digest) { /* report.c */
		O.messages++;
		return O.digest ? report_digest_add(name, src)
		                : report_dsn(name, src, O.names, O.mode == M_JSON ? &O.j : NULL);
	}
	if (O.verify) {
		O.messages++;
		return verify_message(name, src, O.mode == M_JSON ? &O.j : NULL);
	}
	w.decode = O.mode == M_PART || O.mode == M_TEXT || O.mode == M_EXTRACT ||
	           O.mode == M_TREE || O.mode == M_JSON;
	w.uu = w.decode && O.mode != M_TEXT;
	/* the header modes read no further than the header */
	w.header_only = header_mode();
	w.fields = header_fields(&w.nfields);
	O.messages++;
	O.text_found = 0;
	O.html_fd = -1;
	O.part_seen = 0;
	text_file = html_file = NULL;
	mp_err_clear(&e);
	if (O.mode == M_TREE && O.messages > 1)
		putchar('\n');
	int rc = mp_mime_walk(&w, src, &e);
	if (O.mode == M_JSON) {
		mp_json_end_array(&O.j);
		mp_json_string(&O.j, "file", name);
		mp_json_end_object(&O.j);
		mp_json_finish(&O.j);
		mp_problem_passed();
	}
	if (O.mode == M_PART && rc >= 0) {
		if (O.part_seen == 2)
			mp_problem(EX_DATAERR, 1, "%s: part %s is a %s: no bytes of its own", name,
			           O.part, O.part_type);
		else if (O.part_seen == 3)
			mp_warn("%s: part %s is a %s: not what --type and --name ask for", name,
			        O.part, O.part_type);
		else if (!O.part_seen && mp_part_filtered())
			mp_warn("%s: no part%s%s of the --type and --name asked for", name,
			        strcmp(O.part, "all") ? " " : "",
			        strcmp(O.part, "all") ? O.part : "");
		else if (!O.part_seen)
			mp_problem(EX_DATAERR, 1, "%s: no part %s", name, O.part);
	}
	if (O.mode == M_TEXT) {
		if (text_file)
			print_text(name, text_file, O.text_charset, 0);
		else if (html_file)
			print_text(name, html_file, O.html_charset, 1);
		else
			mp_warn("%s: no text part", name);
		if (text_file)
			fclose(text_file);
		if (html_file)
			fclose(html_file);
	}
	if (rc < 0)
		mp_problem(e.code ? e.code : EX_DATAERR, 0, "%s: %s", name,
		           e.msg[0] ? e.msg : "read error");
	return rc;
}

/* force: --mbox, for a FILE or stdin (never a Maildir's messages) */
static int fd_input(const char *name, int fd, int force)
{
	struct mp_segr r;
	struct mp_err e;
	const char *seg;
	size_t len;
	int bol, read_ok = 0;

	mp_err_clear(&e);
	/* the header modes read little of a file of one message: small reads
	 * then (an mbox, or a pipe, which may be one, keeps the large ones) */
	char peek[5];
	int one_msg = !force && pread(fd, peek, 5, 0) == 5 && memcmp(peek, "From ", 5) != 0;
	if (mp_segr_init(&r, fd, header_mode() && one_msg ? 8 * 1024 : 64 * 1024, &e) < 0)
		mp_die_err(name, &e);
	/* peek: a From_ line means an mbox */
	int k = mp_segr_next(&r, &seg, &len, &bol, &e);
	if (k <= 0) {
		mp_problem(k < 0 && e.code ? e.code : EX_DATAERR, 0, "%s: %s", name,
		           k < 0 ? e.msg : "empty input");
		mp_segr_free(&r);
		return 0;
	}
	int mbox = force || (len >= 5 && memcmp(seg, "From ", 5) == 0);
	r.start -= len; /* give it back */
	r.off -= (long long)len;
	r.bol = 1;
	if (!mbox) {
		struct mp_msgsrc src = mp_segr_src(&r);
		read_ok = one(name, &src) == 0;
	} else {
		struct mp_mboxsplit m;
		mp_mboxsplit_init(&m, &r);
		struct mp_msgsrc src = mp_mboxsplit_src(&m);
		while ((k = mp_mboxsplit_begin(&m, &e)) > 0) {
			char nm[4200];
			snprintf(nm, sizeof nm, "%s:%ld", name, m.count);
			read_ok |= one(nm, &src) == 0;
			/* whatever the walk left of this message */
			while (src.next(src.ctx, &seg, &len, &bol, &e) > 0)
				;
		}
		if (k < 0)
			mp_problem(EX_DATAERR, 0, "%s: %s", name,
			           e.msg); /* --mbox on what is none */
	}
	mp_segr_free(&r);
	return read_ok;
}

/* a message of a pick (pick.c) */
static int picked(void *ctx, const struct mp_msgref *m, const char *name,
                  const struct mp_msgsrc *src)
{
	(void)ctx;
	(void)m;
	return one(name, src);
}

static const char *ref_path(void *ctx, size_t i)
{
	return ((const struct mp_folder *)ctx)->v[i].path;
}

/* a Maildir's file whose header was read ahead: read from memory as
 * fd_input reads a file of one message in a header mode; 0 when it must
 * be read from its file after all (an error, a header over the bound, an
 * empty file or an mbox) */
static int ahead_whole(const struct mp_hdrbuf *h)
{
	return h && h->whole && h->len && !(h->len >= 5 && memcmp(h->buf, "From ", 5) == 0);
}

/* in a reading thread: what one() does with a message in a header mode,
 * its output kept in h->out (ahead_cap) */
/* a reading thread's two streams into the records of the message it is
 * on, made once a thread (two fopencookie and fclose a message cost a
 * tenth of the work) and closed when the thread ends */
struct ahead_files {
	FILE *o, *er;
	struct ahead_cap co, ce;
	int broken;
	char obuf[4096];
};
static pthread_key_t ahead_key;
static pthread_once_t ahead_once = PTHREAD_ONCE_INIT;
static _Thread_local struct ahead_files *ahead_mine;

static void ahead_files_free(void *p)
{
	struct ahead_files *a = p;
	fclose(a->o);
	fclose(a->er);
	free(a);
}

static void ahead_key_make(void)
{
	if (pthread_key_create(&ahead_key, ahead_files_free) != 0)
		ahead_key = (pthread_key_t)-1;
}

static struct ahead_files *ahead_files(void)
{
	static const cookie_io_functions_t io = {.write = cap_write};
	struct ahead_files *a = ahead_mine;

	if (a)
		return a;
	pthread_once(&ahead_once, ahead_key_make);
	if (ahead_key == (pthread_key_t)-1 || !(a = calloc(1, sizeof *a)))
		return NULL;
	a->o = fopencookie(&a->co, "w", io);
	a->er = a->o ? fopencookie(&a->ce, "w", io) : NULL;
	if (!a->o || !a->er) {
		if (a->o)
			fclose(a->o);
		free(a);
		return NULL;
	}
	/* the records come in the order of the writes: stdout's bytes are
	 * kept in obuf until a warning comes, or the end */
	setvbuf(a->o, a->obuf, _IOFBF, sizeof a->obuf);
	setvbuf(a->er, NULL, _IONBF, 0);
	if (pthread_setspecific(ahead_key, a) != 0) {
		ahead_files_free(a);
		return NULL;
	}
	return ahead_mine = a;
}

static void ahead_work(void *ctx, size_t i, struct mp_hdrbuf *h)
{
	const struct mp_folder *f = ctx;
	struct mp_walker w = {.on_header = on_header, .header_only = 1, .name = f->v[i].path};
	w.fields = header_fields(&w.nfields);
	struct mp_memsrc m;
	struct mp_err e;

	mp_buf_reset(&h->out);
	if (!ahead_whole(h))
		return;
	struct ahead_files *a = ahead_files();
	if (!a)
		return; /* the main thread reads it */
	a->broken = 0;
	a->co = (struct ahead_cap){&h->out, 'o', &a->broken, NULL};
	a->ce = (struct ahead_cap){&h->out, 'e', &a->broken, a->o};
	clearerr(a->o);
	clearerr(a->er);
	out_file = a->o;
	cap_now = &a->co;
	mp_warn_to(a->er);
	struct mp_msgsrc src = mp_memsrc_cap(&m, h->buf, h->len, 8 * 1024);
	mp_err_clear(&e);
	int rc = mp_mime_walk(&w, &src, &e);
	out_file = NULL;
	cap_now = NULL;
	mp_warn_to(NULL);
	fflush(a->o);
	if (rc < 0) {
		char line[1024];
		int code = e.code ? e.code : EX_DATAERR;
		snprintf(line, sizeof line, "%s: %s", f->v[i].path,
		         e.msg[0] ? e.msg : "read error");
		cap_add(&a->co, 'c', &code, sizeof code);
		cap_add(&a->co, 'p', line, strlen(line) + 1);
	}
	cap_add(&a->co, 'r', &rc, sizeof rc);
	/* nothing of it stays with the streams for the next message */
	a->co.b = a->ce.b = NULL;
	if (a->broken)
		mp_buf_reset(&h->out);
}

/* in the main thread: a message's output kept by ahead_work, written
 * out; 0 when nothing was kept */
static int ahead_replay(const struct mp_hdrbuf *h, int *ok)
{
	const char *p = h->out.data, *end = p + h->out.len;
	int code = 0;

	if (!h->out.len)
		return 0;
	O.messages++;
	while (p < end) {
		char kind = *p++;
		size_t n;
		memcpy(&n, p, sizeof n);
		p += sizeof n;
		if (kind == 'o')
			fwrite(p, 1, n, stdout);
		else if (kind == 'e')
			fwrite(p, 1, n, stderr);
		else if (kind == 's' && O.messages > 1)
			putchar('\n');
		else if (kind == 'c')
			memcpy(&code, p, sizeof code);
		else if (kind == 'p')
			mp_problem(code, 0, "%s", p);
		else if (kind == 'r') {
			int rc;
			memcpy(&rc, p, sizeof rc);
			*ok |= rc == 0;
		}
		p += n;
	}
	return 1;
}

static int ahead_input(const struct mp_hdrbuf *h, const char *name, int *ok)
{
	if (!ahead_whole(h))
		return 0;
	if (ahead_replay(h, ok))
		return 1;
	struct mp_memsrc m;
	struct mp_msgsrc src = mp_memsrc_cap(&m, h->buf, h->len, 8 * 1024);
	*ok |= one(name, &src) == 0;
	return 1;
}

static int path_input(const char *path)
{
	struct stat st;
	int ok = 0;

	if (strcmp(path, "-") == 0)
		return fd_input("stdin", STDIN_FILENO, O.mbox);
	if (mp_pick_input(path, X.show, picked, &ok))
		return ok;
	if (stat(path, &st) < 0) {
		mp_problem(EX_NOINPUT, 1, "%s: %s", path, strerror(errno));
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		struct mp_folder f; /* pick.c */
		if (mp_maildir_files(path, &f) < 0)
			return 0;
		/* the header modes read the headers ahead, on X.threads threads;
		 * what they print comes in the order of the files all the same */
		struct mp_hdrpool *pool = NULL;
		if (header_mode() && !X.show && !O.dsn && !O.digest && !O.verify)
			pool = mp_hdrpool_start_work(f.n, ref_path, &f, X.threads, MP_HDR_MAX, 0,
			                             ahead_work, &f);
		for (size_t i = 0; i < f.n; i++) {
			if (pool && ahead_input(mp_hdrpool_get(pool, i), f.v[i].path, &ok))
				continue;
			int fd = open(f.v[i].path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) { /* gone since the listing, or unreadable */
				mp_problem(EX_NOINPUT, 0, "%s: %s", f.v[i].path, strerror(errno));
				continue;
			}
			ok |= fd_input(f.v[i].path, fd, 0);
			close(fd);
		}
		mp_hdrpool_end(pool);
		mp_folder_free(&f);
		return ok;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mp_problem(EX_NOINPUT, 1, "%s: %s", path, strerror(errno));
		return 0;
	}
	ok = fd_input(path, fd, O.mbox);
	close(fd);
	return ok;
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

/* the options into O; returns the index of the first input */
static int parse_args(int argc, char **argv)
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

/* what the mode needs before the first input */
static void prepare(void)
{
	if (O.mode == M_EXTRACT) {
		struct stat st;
		if (stat(O.dir, &st) < 0 && mkdir(O.dir, 0755) < 0)
			mp_die(EX_CANTCREAT, "%s: %s", O.dir, strerror(errno));
	}
	if (O.mode == M_JSON) {
		mp_json_init(&O.j, stdout, 0);
		mp_json_report_fatal();
	}
}

int main(int argc, char **argv)
{
	int first, ok = 0;

	mp_setprogname(argv[0]);
	O.names = -1;
	first = parse_args(argc, argv);
	X.threads = mp_threads_env();
	/* as grep: the names when there are several inputs (a Maildir is) */
	if (O.names < 0) {
		struct stat st;
		O.names = argc - first > 1;
		for (int i = first; i < argc && !O.names; i++)
			O.names = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);
	}
	if (X.scan)
		return mp_scan_main(argv + first, argc - first);
	prepare();
	if (first == argc)
		ok = path_input("-");
	for (int i = first; i < argc; i++)
		ok |= path_input(argv[i]);
	if (O.digest && ok)
		report_digest_write();
	mp_buf_free(&O.uutree);
	return mp_run_status(ok);
}
