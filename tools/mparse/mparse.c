/* mparse: read mail (a message, an mbox, a Maildir, stdin) and answer:
 * who sent it, the subject in UTF-8, its parts, the PDF, its path. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "ahead.h"
#include "date.h"
#include "dsn.h"
#include "jbody.h"
#include "hdr.h"
#include "html.h"
#include "json.h"
#include "mime.h"
#include "opts.h"
#include "pick.h"
#include "report.h"
#include "run.h"
#include "scan.h"
#include "show.h"
#include "store.h"
#include "util.h"
#include "verify.h"

struct opts O;

/* ---------------------------------------------------------------- per mode */

/* where the header modes write a message's lines: stdout, or in a thread
 * that reads a Maildir's headers ahead, what it keeps of the message for
 * the main thread to write in order (ahead.c) */
#define OUT (mp_ahead_out ? mp_ahead_out : stdout)

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
		if (mp_ahead_out) /* the main thread knows whether one came before */
			mp_ahead_mark('s');
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

/* a Maildir's file whose header was read ahead (ahead.c): its output
 * kept, or read from memory here; 0 when it must be read from its file
 * after all */
static int ahead_input(const struct mp_hdrbuf *h, const char *name, int *ok)
{
	if (!mp_ahead_whole(h))
		return 0;
	if (mp_ahead_replay(h, &O.messages, ok))
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
		struct mp_ahead ah = {&f, {.on_header = on_header}};
		ah.walk.fields = header_fields(&ah.walk.nfields);
		if (header_mode() && !X.show && !O.dsn && !O.digest && !O.verify)
			pool = mp_hdrpool_start_work(f.n, ref_path, &f, X.threads, MP_HDR_MAX, 0,
			                             mp_ahead_work, &ah);
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
	first = mparse_args(argc, argv);
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
