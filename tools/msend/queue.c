/* The queue: a message that could not go now waits in a directory as two
 * files, ID.msg (the message) and ID.env (sender, recipients, attempts,
 * next try), each written to a temporary name, fsynced, renamed; the
 * envelope last, so that an entry exists only once it is whole. A flush
 * takes an exclusive lock on the directory, so two never send the same
 * entry twice. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "json.h"
#include "msend.h"

const char *queue_dir(const struct settings *s)
{
	static char buf[4096];
	const char *d;

	if (s->queue)
		return s->queue;
	if ((d = getenv("MSEND_QUEUE")) && *d)
		return d;
	if ((d = getenv("XDG_DATA_HOME")) && *d)
		snprintf(buf, sizeof buf, "%s/mailpipe/queue", d);
	else
		snprintf(buf, sizeof buf, "%s/.local/share/mailpipe/queue",
		         getenv("HOME") ? getenv("HOME") : "/tmp");
	return buf;
}

static long backoff(int attempts)
{
	/* 1, 2, 4 ... minutes, then hourly */
	long m = 1L << (attempts < 6 ? attempts : 6);
	return (m > 60 ? 60 : m) * 60;
}

static int write_env(const char *dir, const char *id, const char *account, const char *route,
                     const char *from, const struct rcpt *r, size_t n, long created, int attempts,
                     long next, const char *last, int strip_bcc, const struct dsn *d,
                     const struct verp *v, struct mp_err *e)
{
	struct mp_buf b = MP_BUF_INIT;
	char path[4200];
	int rc;

	mp_buf_printf(&b, "from %s\ncreated %ld\nattempts %d\nnext %ld\nstrip-bcc %d\n", from,
	              created, attempts, next, strip_bcc);
	if (d->notify[0]) /* DSN: -N, -R, -V */
		mp_buf_printf(&b, "notify %s\n", d->notify);
	if (d->ret[0])
		mp_buf_printf(&b, "ret %s\n", d->ret);
	if (d->envid[0])
		mp_buf_printf(&b, "envid %s\n", d->envid);
	if (v->on) /* --verp: each recipient's own sender, again at the flush */
		mp_buf_printf(&b, "verp %s%s%s\n", v->delim, *v->local ? " " : "", v->local);
	if (account) /* its settings at the flush */
		mp_buf_printf(&b, "account %s\n", account);
	if (route) /* else the way it was to go; or its command line's DKIM keys */
		mp_buf_puts(&b, route);
	for (size_t i = 0; i < n; i++)
		if (!r[i].done)
			mp_buf_printf(&b, "rcpt %s\n", r[i].addr);
	if (last && *last) {
		mp_buf_puts(&b, "error ");
		for (const char *p = last; *p; p++)
			mp_buf_putc(&b, *p == '\n' ? ' ' : *p);
		mp_buf_putc(&b, '\n');
	}
	snprintf(path, sizeof path, "%s/%s.env", dir, id);
	rc = mp_atomic_write(path, b.data, b.len, 0600, e);
	mp_buf_free(&b);
	return rc;
}

int queue_add(const struct settings *s, struct message *m, const char *from, struct rcpt *r,
              size_t n, char *id, size_t idsz, struct mp_err *e)
{
	const char *dir = queue_dir(s);
	char path[4200], buf[65536];
	uint32_t rnd = 0;
	ssize_t got;
	int fd;

	if (mp_mkdirs(dir, 1, NULL) < 0)
		return mp_err_sys(e, EX_CANTCREAT, "queue %s", dir);
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)getpid();
	snprintf(id, idsz, "%ld.%ld.%08x", (long)time(NULL), (long)getpid(), rnd);
	/* the message: tmp name, fsync, rename */
	snprintf(path, sizeof path, "%s/%s.msg.tmp", dir, id);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return mp_err_sys(e, mp_errno_code(errno), "%s", path);
	lseek(m->fd, 0, SEEK_SET);
	while ((got = read(m->fd, buf, sizeof buf)) > 0)
		if (mp_write_full(fd, buf, (size_t)got) < 0)
			break;
	if (got != 0 || mp_fsync_fd(fd) < 0 || close(fd) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "%s", path);
		unlink(path);
		return -1;
	}
	char final[4200];
	snprintf(final, sizeof final, "%s/%s.msg", dir, id);
	if (rename(path, final) < 0) {
		mp_err_sys(e, mp_errno_code(errno), "%s", final);
		unlink(path);
		return -1;
	}
	/* the envelope makes the entry exist */
	const char *last = "";
	for (size_t i = 0; i < n; i++)
		if (!r[i].done && r[i].text[0])
			last = r[i].text;
	struct mp_buf route = MP_BUF_INIT;
	if (!s->account)
		settings_route_write(s, &route);
	else if (settings_dkim_cmdline())
		settings_dkim_write(s, &route);
	int rc = write_env(dir, id, s->account, route.data, from, r, n, (long)time(NULL), 1,
	                   (long)time(NULL) + backoff(0), last, m->strip_bcc, &m->dsn, &m->verp, e);
	mp_buf_free(&route);
	if (rc < 0)
		unlink(final);
	return rc;
}

/* The failure notice to from about r: sent now (through pl when given),
 * else queued; 0, 1 when it was refused (e says how), -1 with e. */
int queue_notice(const struct settings *s, struct pool *pl, int msgfd, const char *from,
                 const struct rcpt *r, size_t n, int given_up, const char *msgid, struct mp_err *e)
{
	struct message m = {.fd = -1};
	struct rcpt to = {0};
	char id[128];
	int rc = dsn_message(s, msgfd, from, r, n, given_up, msgid, &m, e);

	if (rc <= 0)
		return rc;
	rc = -1;
	to.addr = (char *)from;
	int d = pl ? pool_deliver(pl, &m, "", &to, 1, e) : deliver(s, &m, "", &to, 1, e);
	if (d < 0)
		goto out;
	if (!to.done) {
		if (queue_add(s, &m, "", &to, 1, id, sizeof id, e) < 0)
			goto out;
		mp_warn("the failure notice to <%s> is queued as %s: %s", from, id, to.text);
	} else if (to.code / 100 != 2) {
		mp_warn("the failure notice to <%s> was refused: %d %s", from, to.code, to.text);
		mp_err_set(e, EX_UNAVAILABLE, "the failure notice to <%s> was refused: %d %s", from,
		           to.code, to.text);
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	close(m.fd);
	return rc;
}

struct entry {
	char from[1024];
	struct rcpt *r;
	size_t n;
	long created, next;
	int attempts, strip_bcc;
	struct dsn dsn;
	struct verp verp;
	char error[512];
	char account[256];
	struct mp_buf route; /* route-KEY lines: how it was to go */
};

/* en written (back) into dir, its own or dead/: of r (en's recipients,
 * perhaps marked otherwise) those not done, and the times and error given */
static int entry_write(const char *dir, const char *id, const struct entry *en,
                       const struct rcpt *r, long created, int attempts, long next,
                       const char *last, struct mp_err *e)
{
	return write_env(dir, id, en->account[0] ? en->account : NULL, en->route.data, en->from, r,
	                 en->n, created, attempts, next, last, en->strip_bcc, &en->dsn, &en->verp,
	                 e);
}

static int read_env(const char *path, struct entry *en)
{
	FILE *f = fopen(path, "re");
	char line[2048];
	struct mp_err e;

	memset(en, 0, sizeof *en);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "from ", 5) == 0)
			snprintf(en->from, sizeof en->from, "%.1000s", line + 5);
		else if (strncmp(line, "created ", 8) == 0)
			en->created = atol(line + 8);
		else if (strncmp(line, "next ", 5) == 0)
			en->next = atol(line + 5);
		else if (strncmp(line, "attempts ", 9) == 0)
			en->attempts = atoi(line + 9);
		else if (strncmp(line, "account ", 8) == 0)
			snprintf(en->account, sizeof en->account, "%.250s", line + 8);
		else if (strncmp(line, "strip-bcc ", 10) == 0)
			en->strip_bcc = atoi(line + 10);   /* -t: Bcc: never goes out */
		else if (strncmp(line, "notify ", 7) == 0) /* checked as -N, -R, -V are */
			dsn_set(&en->dsn, 'N', line + 7, &e);
		else if (strncmp(line, "ret ", 4) == 0)
			dsn_set(&en->dsn, 'R', line + 4, &e);
		else if (strncmp(line, "envid ", 6) == 0)
			dsn_set(&en->dsn, 'V', line + 6, &e);
		else if (strncmp(line, "verp ", 5) == 0 && strlen(line) >= 7) {
			en->verp.on = 1;
			snprintf(en->verp.delim, sizeof en->verp.delim, "%.2s", line + 5);
			snprintf(en->verp.local, sizeof en->verp.local, "%.64s",
			         line[7] == ' ' ? line + 8 : "");
		} else if (strncmp(line, "route-", 6) == 0)
			mp_buf_printf(&en->route, "%s\n", line);
		else if (strncmp(line, "error ", 6) == 0)
			snprintf(en->error, sizeof en->error, "%.500s", line + 6);
		else if (strncmp(line, "rcpt ", 5) == 0) {
			en->r = mp_xrealloc(en->r, (en->n + 1) * sizeof *en->r);
			memset(&en->r[en->n], 0, sizeof *en->r);
			en->r[en->n++].addr = mp_xstrdup(line + 5);
		}
	}
	fclose(f);
	return en->n ? 0 : -1;
}

static void free_entry(struct entry *en)
{
	for (size_t i = 0; i < en->n; i++)
		free(en->r[i].addr);
	free(en->r);
	mp_buf_free(&en->route);
}

/* the IDs of the entries, sorted by name (= by age) */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_ids(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".env") == 0) {
			v = mp_xrealloc(v, (*n + 1) * sizeof *v);
			v[*n] = mp_xstrdup(de->d_name);
			v[(*n)++][l - 4] = '\0';
		}
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof *v, cmp_str);
	return v;
}

/* one entry of dir, as -bp shows it (type: "queued" or "dead") */
static void list_one(const struct settings *s, const char *dir, const char *id, const char *type,
                     FILE *out)
{
	char path[4400];
	struct entry en;
	struct stat st;

	snprintf(path, sizeof path, "%s/%s.env", dir, id);
	if (read_env(path, &en) < 0) {
		free_entry(&en);
		return;
	}
	snprintf(path, sizeof path, "%s/%s.msg", dir, id);
	long size = stat(path, &st) == 0 ? (long)st.st_size : -1;
	if (s->json) {
		struct mp_json j;
		mp_json_init(&j, out, 0);
		mp_json_begin_object(&j, NULL);
		mp_json_string(&j, "type", type);
		mp_json_string(&j, "id", id);
		if (size >= 0)
			mp_json_int(&j, "bytes", size);
		else
			mp_json_string(&j, "bytes", NULL);
		mp_json_string(&j, "from", en.from);
		mp_json_string(&j, "account", en.account[0] ? en.account : NULL);
		mp_json_int(&j, "attempts", en.attempts);
		mp_json_int(&j, "created", en.created);
		mp_json_int(&j, "next", en.next);
		mp_json_begin_array(&j, "recipients");
		for (size_t k = 0; k < en.n; k++)
			mp_json_string(&j, NULL, en.r[k].addr);
		mp_json_end_array(&j);
		mp_json_string(&j, "last_error", en.error[0] ? en.error : NULL);
		mp_json_end_object(&j);
		mp_json_finish(&j);
		free_entry(&en);
		return;
	}
	if (strcmp(type, "dead") == 0)
		fprintf(out, "%s  %ld bytes  from <%s>  %d attempt%s, a dead letter\n", id, size,
		        en.from, en.attempts, en.attempts == 1 ? "" : "s");
	else
		fprintf(out, "%s  %ld bytes  from <%s>  %d attempt%s, next in %lds\n", id, size,
		        en.from, en.attempts, en.attempts == 1 ? "" : "s",
		        en.next > time(NULL) ? en.next - (long)time(NULL) : 0);
	for (size_t k = 0; k < en.n; k++)
		fprintf(out, "    to <%s>\n", en.r[k].addr);
	if (en.error[0])
		fprintf(out, "    last error: %s\n", en.error);
	free_entry(&en);
}

int queue_list(const struct settings *s, FILE *out)
{
	const char *dir = queue_dir(s);
	char dead[4200];
	size_t n, nd;
	char **ids = list_ids(dir, &n);

	snprintf(dead, sizeof dead, "%s/dead", dir);
	char **dids = list_ids(dead, &nd);
	if (n == 0 && !s->json)
		fprintf(out, "the queue (%s) is empty\n", dir);
	for (size_t i = 0; i < n; i++) {
		list_one(s, dir, ids[i], "queued", out);
		free(ids[i]);
	}
	if (nd && !s->json)
		fprintf(out,
		        "dead letters in %s (their failure notice could not be delivered; "
		        "msend -q --retry-dead ID sends one again, msend --drop ID deletes it):\n",
		        dead);
	for (size_t i = 0; i < nd; i++) {
		list_one(s, dead, dids[i], "dead", out);
		free(dids[i]);
	}
	free(ids);
	free(dids);
	return 0;
}

/* an ID as queue_add makes them: nothing that leaves the directory */
static int valid_id(const char *id)
{
	if (!*id || strlen(id) > 100)
		return 0;
	for (const char *p = id; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f') && *p != '.')
			return 0;
	return id[0] != '.';
}

void queue_revive(const struct settings *s, const char *id)
{
	const char *dir = queue_dir(s);
	char env[4400], msg[4400], denv[4400], dmsg[4400];
	struct entry en;
	struct mp_err e;

	mp_err_clear(&e);
	if (!valid_id(id))
		mp_die(EX_USAGE, "--retry-dead: '%s' is not a queue ID", id);
	snprintf(denv, sizeof denv, "%s/dead/%s.env", dir, id);
	snprintf(dmsg, sizeof dmsg, "%s/dead/%s.msg", dir, id);
	snprintf(env, sizeof env, "%s/%s.env", dir, id);
	snprintf(msg, sizeof msg, "%s/%s.msg", dir, id);
	if (read_env(denv, &en) < 0)
		mp_die(EX_NOINPUT, "%s: no such dead letter (msend -bp lists them)", id);
	/* a new life: due now, and as young as a new message */
	if (rename(dmsg, msg) < 0 ||
	    entry_write(dir, id, &en, en.r, (long)time(NULL), 1, 0, en.error, &e) < 0)
		mp_die(EX_CANTCREAT, "%s: %s", id, e.msg[0] ? e.msg : strerror(errno));
	unlink(denv);
	mp_fsync_dir(dir, NULL);
	free_entry(&en);
}

int queue_drop(const struct settings *s, const char *id)
{
	const char *dir = queue_dir(s);
	char path[4400];
	const char *where[] = {"", "/dead"};

	if (!valid_id(id))
		mp_die(EX_USAGE, "--drop: '%s' is not a queue ID", id);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s%s/%s.env", dir, where[i], id);
		if (unlink(path) < 0)
			continue;
		snprintf(path, sizeof path, "%s%s/%s.msg", dir, where[i], id);
		unlink(path);
		printf("%s: deleted\n", id);
		return 0;
	}
	mp_warn("%s: no such entry in %s (msend -bp lists them)", id, dir);
	return EX_NOINPUT;
}

/* a due entry, with the settings it goes with and the destination it
 * shares a connection with others by */
struct due {
	char *id;
	struct entry en;
	struct settings as; /* its account's settings, when not the flush's */
	struct settings dk; /* ... with the DKIM keys of its route */
	const struct settings *use;
	char *key;
	int grouped;
};

static int cmp_icase(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* the destination: the account, then the relay, or in direct mode the
 * set of recipient domains (sorted, lower case) */
static char *dest_key(const struct due *d)
{
	struct mp_buf b = MP_BUF_INIT;
	const char **doms = mp_xmalloc(d->en.n * sizeof *doms);
	size_t nd = 0;

	mp_buf_printf(&b, "%s\n", d->en.account);
	if (!d->use->direct) {
		const struct settings *u = d->use;
		mp_buf_printf(&b, "relay %s %d %d %d %s %s %s", u->server, u->port, u->tls,
		              u->no_tls, u->ca_file ? u->ca_file : "",
		              u->fingerprint ? u->fingerprint : "", u->user ? u->user : "");
	} else {
		for (size_t i = 0; i < d->en.n; i++) {
			const char *at = strrchr(d->en.r[i].addr, '@');
			const char *dom = at ? at + 1 : "";
			size_t k = 0;
			while (k < nd && strcasecmp(doms[k], dom) != 0)
				k++;
			if (k == nd)
				doms[nd++] = dom;
		}
		qsort(doms, nd, sizeof *doms, cmp_icase);
		for (size_t k = 0; k < nd; k++) {
			if (k)
				mp_buf_putc(&b, ',');
			for (const char *p = doms[k]; *p; p++)
				mp_buf_putc(&b, (char)tolower((unsigned char)*p));
		}
	}
	free(doms);
	return b.data ? b.data : mp_xstrdup("");
}

/* the sender hears of what failed for good (and, when the queue gives
 * up, of what still waited): before the entry goes, so a crash between
 * the two may send a notice twice, never none */
static int notice(const struct settings *s, struct pool *pl, const char *id, struct message *m,
                  const struct entry *en, int give_up, char *why, size_t whysz)
{
	int rc = 0;
	struct rcpt *bad = mp_xmalloc((en->n ? en->n : 1) * sizeof *bad);
	size_t nb = 0;
	struct mp_err e;

	for (size_t k = 0; k < en->n; k++)
		if ((en->r[k].done && en->r[k].code / 100 != 2) || (give_up && !en->r[k].done))
			bad[nb++] = en->r[k];
	mp_err_clear(&e);
	if (nb &&
	    (rc = queue_notice(s, pl, m->fd, en->from, bad, nb, give_up, m->msgid, &e)) != 0) {
		if (rc < 0)
			mp_warn("%s: failure notice: %s", id, e.msg);
		snprintf(why, whysz, "%s", e.msg);
	}
	free(bad);
	return rc;
}

/* an entry whose failure notice could not go: kept in QUEUE/dead with the
 * recipients that did not get it, never deleted (-bp lists it) */
static int bury(const char *dir, const char *id, struct entry *en, const char *why)
{
	char dead[4200], from[4400], to[4400];
	struct mp_err e;

	mp_err_clear(&e);
	snprintf(dead, sizeof dead, "%s/dead", dir);
	for (size_t k = 0; k < en->n; k++)
		if (en->r[k].code / 100 != 2)
			en->r[k].done = 0;
	if (mp_mkdirs(dead, 1, NULL) < 0 ||
	    entry_write(dead, id, en, en->r, en->created, en->attempts, 0, why, &e) < 0) {
		mp_warn("%s: cannot keep it in %s (%s); left queued", id, dead,
		        e.msg[0] ? e.msg : strerror(errno));
		return -1;
	}
	snprintf(from, sizeof from, "%s/%s.msg", dir, id);
	snprintf(to, sizeof to, "%s/%s.msg", dead, id);
	if (rename(from, to) < 0) {
		mp_warn("%s: %s: %s; left queued", id, to, strerror(errno));
		snprintf(to, sizeof to, "%s/%s.env", dead, id);
		unlink(to);
		return -1;
	}
	snprintf(from, sizeof from, "%s/%s.env", dir, id);
	unlink(from);
	mp_fsync_dir(dead, NULL);
	mp_fsync_dir(dir, NULL);
	mp_warn("%s: kept as a dead letter in %s: %s (msend -q --retry-dead %s sends it again, "
	        "msend --drop %s deletes it)",
	        id, dead, why, id, id);
	return 0;
}

/* one entry over the group's connections: removed once every recipient
 * has its verdict, else rewritten for the next try */
/* the entry rewritten with the recipients that have no 250 yet (refused
 * or waiting): what a crash before its end must try again */
static void keep_unsent(const char *dir, const char *id, const struct entry *en)
{
	struct rcpt *r = mp_xmalloc((en->n ? en->n : 1) * sizeof *r);
	struct mp_err e;

	mp_err_clear(&e);
	for (size_t k = 0; k < en->n; k++) {
		r[k] = en->r[k];
		r[k].done = en->r[k].done && en->r[k].code / 100 == 2;
	}
	if (entry_write(dir, id, en, r, en->created, en->attempts + 1, (long)time(NULL), en->error,
	                &e) < 0)
		mp_warn("%s: the entry could not be updated (%s): if this flush stops before its "
		        "end, the recipients that have it may get it again",
		        id, e.msg);
	free(r);
}

static void flush_one(const struct settings *s, const char *dir, struct due *d, struct pool *pl,
                      int *worst)
{
	char env[4200], msg[4200];
	struct entry *en = &d->en;
	const struct settings *use = d->use;
	const char *id = d->id;
	struct message m = {0};
	struct mp_err e;

	snprintf(env, sizeof env, "%s/%s.env", dir, id);
	snprintf(msg, sizeof msg, "%s/%s.msg", dir, id);
	mp_err_clear(&e);
	m.fd = open(msg, O_RDONLY | O_CLOEXEC);
	m.strip_bcc = en->strip_bcc;
	m.dsn = en->dsn;
	m.verp = en->verp;
	/* the keys of the entry's account or route sign each try */
	m.dkim = settings_dkim(use, en->route.data, &d->dk);
	if (m.fd < 0 || msg_scan(&m, &e) < 0) {
		mp_warn("%s: %s", id, m.fd < 0 ? strerror(errno) : e.msg);
		if (m.fd >= 0)
			close(m.fd);
		return;
	}
	int rc = pool_deliver(pl, &m, en->from, en->r, en->n, &e);
	size_t sent = 0, failed = 0, waiting = 0;
	for (size_t k = 0; k < en->n; k++) {
		if (!en->r[k].done)
			waiting++;
		else if (en->r[k].code / 100 == 2)
			sent++;
		else
			failed++;
	}
	for (size_t k = 0; k < en->n; k++)
		if (en->r[k].done && en->r[k].code / 100 != 2)
			mp_warn("%s: <%s>: %d %s", id, en->r[k].addr, en->r[k].code, en->r[k].text);
	long age = (long)time(NULL) - en->created;
	if (use->log) {
		char res[700];
		snprintf(res, sizeof res,
		         "queue %s: %zu delivered, %zu failed, %zu waiting%s%.500s", id, sent,
		         failed, waiting, rc < 0 ? ": " : "", rc < 0 ? e.msg : "");
		msend_log(use, en->from, en->r, en->n, m.wiresize, m.msgid,
		          use->direct ? "mx" : use->server, res);
	}
	int give_up = waiting && age > s->max_age;
	if (rc == 0 || give_up) {
		if (waiting)
			mp_warn("%s: gave up after %ld s: %s", id, age, en->error);
		/* before the failure notice goes, the entry keeps only the
		 * recipients without a 250: a crash while it goes tries them
		 * again (and notices again), never those who have the message */
		if ((failed || waiting) && sent)
			keep_unsent(dir, id, en);
		char why[300] = "";
		int dead = notice(use, pl, id, &m, en, give_up, why, sizeof why) != 0;
		if (dead) {
			bury(dir, id, en, why);
		} else {
			/* the envelope first: a crash now leaves an orphan
			 * message, never a second delivery */
			int bad = unlink(env) < 0 && errno != ENOENT;
			int err = errno;
			unlink(msg);
			if (bad || (mp_fsync_dir(dir, NULL) < 0 && (err = errno)))
				mp_warn(
				    "%s: the entry could not be removed for good (%s): the next "
				    "flush may send it again",
				    id, strerror(err));
		}
		printf("%s: %zu delivered, %zu failed%s%s\n", id, sent, failed,
		       waiting ? ", the rest given up" : "", dead ? "; a dead letter" : "");
		if (failed || waiting)
			*worst = EX_UNAVAILABLE;
	} else {
		const char *last = en->error;
		for (size_t k = 0; k < en->n; k++)
			if (!en->r[k].done && en->r[k].text[0])
				last = en->r[k].text;
		if (entry_write(dir, id, en, en->r, en->created, en->attempts + 1,
		                (long)time(NULL) + backoff(en->attempts), last, &e) < 0 &&
		    sent)
			mp_warn("%s: the entry could not be updated (%s): the %zu recipients "
			        "that have it may get it again",
			        id, e.msg, sent);
		printf("%s: %zu delivered, %zu failed, %zu still waiting: %s\n", id, sent, failed,
		       waiting, last);
		if (!*worst)
			*worst = EX_TEMPFAIL;
	}
	fflush(stdout); /* one line per message as it goes, also into a pipe */
	close(m.fd);
	mp_buf_free(&m.sig8);
	mp_buf_free(&m.sig7);
}

int queue_flush(const struct settings *s)
{
	const char *dir = queue_dir(s);
	char lockpath[4200];
	size_t n, nd = 0;
	int lfd, worst = 0;

	snprintf(lockpath, sizeof lockpath, "%s/.flush.lock", dir);
	if (mp_mkdirs(dir, 1, NULL) < 0)
		mp_die(EX_CANTCREAT, "queue %s: %s", dir, strerror(errno));
	lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		mp_warn("%s: another flush is running", dir);
		return EX_TEMPFAIL;
	}
	char **ids = list_ids(dir, &n);
	struct due *due = mp_xmalloc((n ? n : 1) * sizeof *due);
	for (size_t i = 0; i < n; i++) {
		char env[4200];
		struct due *d = &due[nd];
		memset(d, 0, sizeof *d);
		snprintf(env, sizeof env, "%s/%s.env", dir, ids[i]);
		if (read_env(env, &d->en) < 0 || (d->en.next > time(NULL) && !s->no_queue)) {
			free_entry(&d->en);
			free(ids[i]);
			continue;
		}
		d->id = ids[i];
		/* with the settings of the account it was sent with */
		d->use = s;
		if (d->en.account[0] && (!s->account || strcmp(s->account, d->en.account) != 0)) {
			if (settings_account(d->en.account, &d->as) < 0) {
				mp_warn("%s: account '%s' is no longer configured; left queued",
				        ids[i], d->en.account);
				free_entry(&d->en);
				free(ids[i]);
				if (!worst)
					worst = EX_TEMPFAIL;
				continue;
			}
			d->use = &d->as;
		} else if (!d->en.account[0] && settings_route(s, d->en.route.data, &d->as) == 0) {
			d->use = &d->as; /* the relay (and TLS) it was sent for */
		}
		d->key = dest_key(d);
		nd++;
	}
	free(ids);
	/* oldest first; the entries for one destination share its connection */
	for (size_t i = 0; i < nd; i++) {
		if (due[i].grouped)
			continue;
		struct pool *pl = pool_new(due[i].use);
		for (size_t j = i; j < nd; j++)
			if (!due[j].grouped && strcmp(due[j].key, due[i].key) == 0) {
				due[j].grouped = 1;
				flush_one(s, dir, &due[j], pl, &worst);
			}
		pool_free(pl);
	}
	for (size_t i = 0; i < nd; i++) {
		free_entry(&due[i].en);
		free(due[i].key);
		free(due[i].id);
	}
	free(due);
	close(lfd);
	return worst == EX_TEMPFAIL ? 0 : worst;
}
