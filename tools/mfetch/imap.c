/* IMAP4rev1 (RFC 3501) retrieval: SELECT, UID SEARCH for what is new
 * since the last UID (per UIDVALIDITY), UID FETCH BODY.PEEK[] into a
 * spool file, delivery, and only then \Seen or \Deleted + (UID)
 * EXPUNGE, or --move's MOVE; the runs of imap.h (a fetch, --idle's
 * watch). The dialogue itself is imapio.c's, the folders a run takes
 * imapfolders.c's, what the state records of a folder imapstate.c's. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dedup.h"
#include "deliver.h"
#include "imap.h"
#include "imapfolders.h"
#include "imapio.h"
#include "imapstate.h"
#include "report.h"
#include "session.h"
#include "state.h"

struct selectinfo {
	unsigned long uidvalidity;
	long exists;
};

static int on_select(struct imap *s, char *l, size_t len, void *ctx, struct mp_err *e)
{
	struct selectinfo *si = ctx;
	const char *v = strcasestr(l, "[UIDVALIDITY ");

	(void)s, (void)len, (void)e;
	if (v)
		si->uidvalidity = strtoul(v + 13, NULL, 10);
	if (strstr(l, " EXISTS"))
		si->exists = atol(l + 2);
	return 0;
}

static int on_search(struct imap *s, char *l, size_t len, void *ctx, struct mp_err *e)
{
	struct uids *u = ctx;
	char *p;

	(void)len;
	if (!s->continued && strncasecmp(l, "* SEARCH", 8) != 0)
		return 0;
	for (p = s->continued ? l : l + 8; *p;) {
		char *end;
		unsigned long x = strtoul(p, &end, 10);
		if (end == p) {
			p++;
			continue;
		}
		if (imap_uids_add(u, x, e) < 0)
			return -1;
		p = end;
	}
	return 0;
}

/* --move: the server must move without a bare EXPUNGE (MOVE, or COPY
 * and UID EXPUNGE of UIDPLUS), and the folder must be there, before
 * anything is fetched. 0, or -1 with e filled. */
static int move_check(struct imap *s, const struct fopts *o, struct mp_err *e)
{
	char cmd[1100], q[1030];

	if (!o->move)
		return 0;
	if (!imap_has_cap(s, "MOVE") && !imap_has_cap(s, "UIDPLUS"))
		return mp_err_set(e, EX_UNAVAILABLE,
		                  "--move: the server has neither MOVE (RFC 6851) nor UIDPLUS "
		                  "(RFC 4315): it could only move with an EXPUNGE of every "
		                  "message flagged \\Deleted");
	imap_quote(q, sizeof q, o->move);
	snprintf(cmd, sizeof cmd, "STATUS %s (MESSAGES)", q);
	int r = imap_command(s, cmd, NULL, NULL, NULL, e);
	if (r > 0)
		mp_err_set(e, EX_UNAVAILABLE, "--move %s: %.200s", o->move, s->last);
	return r == 0 ? 0 : -1;
}

/* The UIDs u (ascending), delivered and recorded, moved to --move's
 * folder: UID MOVE (RFC 6851), else UID COPY, \Deleted and UID EXPUNGE
 * of exactly those UIDs. A refusal leaves them where they are, with a
 * warning (the next run moves them); 0, or -1 when the connection is
 * lost. */
static int move_uids(struct imap *s, const struct fopts *o, const char *folder,
                     const unsigned long *u, size_t n, struct mp_err *e)
{
	char q[1030];
	int r;

	if (!n)
		return 0;
	imap_quote(q, sizeof q, o->move);
	if (imap_has_cap(s, "MOVE")) {
		r = imap_uid_command(s, "UID MOVE", u, n, q, NULL, NULL, e);
	} else {
		r = imap_uid_command(s, "UID COPY", u, n, q, NULL, NULL, e);
		if (r == 0)
			r = imap_uid_command(s, "UID STORE", u, n, "+FLAGS.SILENT (\\Deleted)",
			                     NULL, NULL, e);
		if (r == 0)
			r = imap_uid_command(s, "UID EXPUNGE", u, n, NULL, NULL, NULL, e);
	}
	if (r > 0)
		mp_warn("%s: UIDs %lu to %lu: not moved to %s (delivered and recorded; the next "
		        "run tries again): %.200s",
		        folder, u[0], u[n - 1], o->move, s->last);
	return r < 0 ? -1 : 0;
}

/* One FETCH response, its first line l: a BODY[] literal is spooled and
 * delivered (bu, the batch's UIDs ascending, idx their places in f->u;
 * got marks each delivered one), any other literal skipped, and every
 * one with drain set. 0, -1 (the connection is lost to the dialogue), or
 * -2 when the delivery failed after the whole response was read. */
static int fetch_response(struct imap *s, struct fopts *o, struct frun *f, char *l, size_t len,
                          const unsigned long *bu, const size_t *idx, size_t nb, char *got,
                          int drain, struct fstats *st, struct mp_err *e)
{
	int is_fetch = strncmp(l, "* ", 2) == 0 && isdigit((unsigned char)l[2]) &&
	               strcasestr(l, " FETCH (") != NULL;
	unsigned long uid = 0;
	long long size = -1;
	int fd = -1, rc = -1;

	for (;;) {
		if (is_fetch && !uid)
			uid = imap_uid_item(l);
		long long n = imap_literal_at_end(l, len);
		if (n == -2) {
			mp_err_set(e, EX_PROTOCOL, "a literal too big or malformed: %.60s", l);
			goto out;
		}
		if (n < 0)
			break;
		const char *br = strrchr(l, '{'); /* the literal's own */
		int body = is_fetch && !drain && fd < 0 && br - l >= 7 &&
		           strncasecmp(br - 7, "BODY[] ", 7) == 0;
		if (body && o->max_size && n > o->max_size) {
			mp_err_set(e, EX_PROTOCOL, "a message of %lld bytes, over --max-size", n);
			goto out;
		}
		if (body) {
			const char *dir = getenv("TMPDIR");
			char path[4096];
			snprintf(path, sizeof path, "%s/mfetch.XXXXXX", dir && *dir ? dir : "/tmp");
			if ((fd = mkstemp(path)) < 0) {
				mp_err_sys(e, EX_TEMPFAIL, "spool %s", path);
				goto out;
			}
			unlink(path);
			size = n;
		}
		if (imap_take_literal(s, n, body ? fd : -1, e) < 0)
			goto out;
		if (s->p.trace)
			fprintf(stderr, "S: (%lld octets%s)\n", n, body ? " of message" : "");
		/* the rest of the response, after the literal */
		if (need_line(&s->p, &l, &len, e) <= 0)
			goto out;
	}
	if (imap_is_exists(l))
		s->new_mail = 1;
	if (fd < 0)
		return 0; /* FLAGS of another session's change, and the like */
	size_t k = 0, lo = 0, hi = nb;
	while (lo < hi) {
		k = lo + (hi - lo) / 2;
		if (bu[k] == uid)
			break;
		if (bu[k] < uid)
			lo = k + 1;
		else
			hi = k;
	}
	if (!uid || lo >= hi) {
		mp_err_set(e, EX_PROTOCOL, "a message in the answer, UID %lu, not asked for", uid);
		goto out;
	}
	if (got[k]) {
		rc = 0; /* the same one twice: the first was delivered */
		goto out;
	}
	char uidtxt[32];
	snprintf(uidtxt, sizeof uidtxt, "%lu", uid);
	rc = -2;
	if (mbox_intent(o)) { /* its intent's PRE: the state with it left out */
		f->u->v[idx[k]] = 0;
		imap_state_format(f->val, f->uidvalidity, f->rec_last,
		                  uid > f->last ? uid : f->last, f->u->v, f->u->n);
		f->u->v[idx[k]] = uid;
		o->jpre = f->val->data;
	}
	int dr = deliver_file(o, fd, uidtxt, f->folder, e);
	o->jpre = NULL;
	if (dr < 0)
		goto out; /* kept on the server, and not recorded */
	got[k] = 1;
	st->fetched++;
	st->bytes += size;
	progress(o, st, 0);
	f->u->v[idx[k]] = 0;
	if (uid > f->last)
		f->last = uid;
	if ((per_message(o) || commit_due(o)) && imap_commit_record(o, f, e) < 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* UID FETCH of a batch's bodies, one command for all of them: each
 * literal spooled and delivered as it comes. 0, -1, or -2: a delivery
 * failed, and the dialogue can go on. */
static int fetch_batch(struct imap *s, struct fopts *o, struct frun *f, const unsigned long *bu,
                       const size_t *idx, size_t nb, char *got, struct fstats *st, struct mp_err *e)
{
	struct mp_buf cmd = MP_BUF_INIT;
	struct mp_err first;
	char tag[16];
	int rc = -1, drain = 0;

	mp_err_clear(&first);
	snprintf(tag, sizeof tag, "a%u", ++s->tag);
	mp_buf_printf(&cmd, "%s UID FETCH ", tag);
	imap_uid_set(&cmd, bu, nb, 0, (size_t)-1); /* BATCH_MSGS UIDs: a short line */
	mp_buf_puts(&cmd, " (BODY.PEEK[])");
	if (mp_proto_send(&s->p, cmd.data, NULL, e) < 0)
		goto out;
	for (;;) {
		char *l;
		size_t len;
		if (need_line(&s->p, &l, &len, e) <= 0)
			goto out;
		if (strncmp(l, tag, strlen(tag)) == 0 && l[strlen(tag)] == ' ') {
			if (strncasecmp(l + strlen(tag) + 1, "OK", 2) != 0) {
				mp_err_set(e, EX_TEMPFAIL, "UID FETCH: %.200s",
				           l + strlen(tag) + 1);
				goto out;
			}
			break;
		}
		int r = fetch_response(s, o, f, l, len, bu, idx, nb, got, drain, st, e);
		if (r == -1)
			goto out;
		if (r == -2 && !drain) {
			/* the rest of the answer is read, so that the dialogue can
			 * go on (to flag what was delivered before) */
			drain = 1;
			first = *e;
			mp_err_clear(e);
		}
	}
	if (drain) {
		*e = first;
		rc = -2;
		goto out;
	}
	rc = 0;
out:
	mp_buf_free(&cmd);
	return rc;
}

/* the RFC822.SIZE of each UID of a batch (bu ascending), -1 when none came */
struct sizes {
	const unsigned long *bu;
	size_t nb;
	long long *size;
};

static int on_sizes(struct imap *s, char *l, size_t len, void *ctx, struct mp_err *e)
{
	struct sizes *z = ctx;
	const char *v = strcasestr(l, "RFC822.SIZE ");
	unsigned long uid = imap_uid_item(l);

	(void)s, (void)len, (void)e;
	if (!v || !uid || !strcasestr(l, " FETCH ("))
		return 0;
	const unsigned long *k = bsearch(&uid, z->bu, z->nb, sizeof *z->bu, imap_cmp_ul);
	if (k && isdigit((unsigned char)v[12]))
		z->size[k - z->bu] = atoll(v + 12);
	return 0;
}

/* Remove what this run flagged \Deleted, and nothing else: UID EXPUNGE
 * of exactly those UIDs with UIDPLUS (RFC 4315); without it a bare
 * EXPUNGE would take every message another client flagged \Deleted too,
 * so it is sent only when UID SEARCH DELETED finds none but ours. */
static int expunge(struct imap *s, const struct fopts *o, const char *folder, struct uids *done,
                   struct mp_err *e)
{
	int r;

	if (!done->n)
		return 0;
	qsort(done->v, done->n, sizeof *done->v, imap_cmp_ul);
	if (imap_has_cap(s, "UIDPLUS")) {
		r = imap_uid_command(s, "UID EXPUNGE", done->v, done->n, NULL, NULL, NULL, e);
	} else {
		struct uids del = {0};
		size_t foreign = 0;
		r = imap_command(s, "UID SEARCH DELETED", NULL, on_search, &del, e);
		for (size_t i = 0; r == 0 && i < del.n; i++)
			if (!imap_in_list(done->v, done->n, del.v[i]))
				foreign++;
		free(del.v);
		if (r < 0)
			return -1;
		if (r > 0 || foreign) {
			if (!o->quiet)
				mp_warn("%s: no EXPUNGE (the server has no UIDPLUS, and %s): the "
				        "%zu message%s fetched stay flagged \\Deleted",
				        folder,
				        r > 0
				            ? "could not tell which messages are flagged \\Deleted"
				            : "other messages flagged \\Deleted would go too",
				        done->n, done->n == 1 ? "" : "s");
			return 0;
		}
		r = imap_command(s, "EXPUNGE", NULL, NULL, NULL, e);
	}
	if (r > 0)
		mp_err_set(e, EX_TEMPFAIL, "EXPUNGE: %.200s", s->last);
	return r == 0 ? 0 : -1;
}

static int fetch_folder(struct imap *s, struct fopts *o, const char *folder, struct fstats *st,
                        struct mp_err *e)
{
	struct selectinfo si = {0};
	struct uids u = {0}, old = {0}, skip = {0}, done = {0};
	struct mp_buf state = MP_BUF_INIT, val = MP_BUF_INIT, intent = MP_BUF_INIT;
	struct msgids ids = {0};
	char cmd[600], q[512], key[600];
	unsigned long last = 0, sv = 0;
	int r, rc = -1;

	imap_quote(q, sizeof q, folder);
	snprintf(cmd, sizeof cmd, "SELECT %s", q);
	if ((r = imap_command(s, cmd, NULL, on_select, &si, e)) != 0)
		return r < 0 ? -1
		             : mp_err_set(e, EX_UNAVAILABLE, "SELECT %s: %.200s", folder, s->last);
	snprintf(key, sizeof key, "imap %s@%s %s", o->user, o->server, folder);
	/* a batch a killed run left between its intent and its record is
	 * settled first, whatever this run does */
	if (state_load(o, key, &state, &intent) == 0 && intent.len &&
	    imap_settle(o, key, intent.data, &state, e) < 0)
		goto out;
	o->jkey = o->all ? NULL : key;
	if (!o->all && state.len && sscanf(state.data, "%lu %lu", &sv, &last) == 2) {
		const char *sl = strstr(state.data, " s=");
		if (sv != si.uidvalidity) {
			last = 0; /* a new UIDVALIDITY: the old UIDs mean nothing */
			if (o->dest == DEST_STORE) {
				/* so the destination's Message-IDs say what came already */
				if (msgids_of_dest(&o->store, &ids, e) < 0)
					goto out;
				o->dedup = &ids;
			} else {
				mp_warn(
				    "%s: UIDVALIDITY changed (%lu, now %lu): every message comes "
				    "again (what went to %s before cannot be seen)",
				    folder, sv, si.uidvalidity,
				    o->dest == DEST_MDA ? "the MDA" : "stdout");
			}
		} else if (sl) {
			if (imap_parse_left(sl, &skip, e) < 0)
				goto out;
			if (skip.n)
				qsort(skip.v, skip.n, sizeof *skip.v, imap_cmp_ul);
		}
	}
	/* what is still there of what came before: left (too big) ones are
	 * candidates again; delivered ones go now with --delete (a run that
	 * was interrupted before its EXPUNGE) */
	if (last) {
		snprintf(cmd, sizeof cmd, "UID SEARCH UID 1:%lu", last);
		if ((r = imap_command(s, cmd, NULL, on_search, &old, e)) != 0) {
			if (r > 0)
				mp_err_set(e, EX_UNAVAILABLE, "UID SEARCH: %.200s", s->last);
			goto out;
		}
		for (size_t i = 0; i < old.n; i++) {
			if (old.v[i] > last)
				continue;
			if (imap_in_list(skip.v, skip.n, old.v[i])) {
				if (imap_uids_add(&u, old.v[i], e) < 0)
					goto out;
			} else if (o->delete_ || o->move) {
				if (imap_uids_add(&done, old.v[i], e) < 0)
					goto out;
			}
		}
		if (done.n && o->move) {
			qsort(done.v, done.n, sizeof *done.v, imap_cmp_ul);
			if (!o->quiet)
				mp_warn("%s: %zu message%s fetched before still here: moving to %s",
				        folder, done.n, done.n == 1 ? "" : "s", o->move);
			if (move_uids(s, o, folder, done.v, done.n, e) < 0)
				goto out;
			done.n = 0;
		}
		if (done.n) {
			qsort(done.v, done.n, sizeof *done.v, imap_cmp_ul);
			if (!o->quiet)
				mp_warn("%s: %zu message%s fetched before still on the server: "
				        "deleting",
				        folder, done.n, done.n == 1 ? "" : "s");
			if ((r = imap_uid_command(s, "UID STORE", done.v, done.n,
			                          "+FLAGS.SILENT (\\Deleted \\Seen)", NULL, NULL,
			                          e)) != 0) {
				if (r > 0)
					mp_err_set(e, EX_TEMPFAIL, "UID STORE: %.200s", s->last);
				goto out;
			}
		}
	}
	if (o->all)
		snprintf(cmd, sizeof cmd, "UID SEARCH ALL");
	else
		snprintf(cmd, sizeof cmd, "UID SEARCH UID %lu:*", last + 1);
	if (o->since[0]) /* the server's INTERNALDATE, the day of arrival */
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " SINCE %s", o->since);
	size_t before = u.n;
	s->new_mail = 0; /* what comes from now on, the next round takes */
	if ((r = imap_command(s, cmd, NULL, on_search, &u, e)) != 0) {
		if (r > 0)
			mp_err_set(e, EX_UNAVAILABLE, "UID SEARCH: %.200s", s->last);
		goto out;
	}
	/* "n:*" always returns the highest UID, even when it is below n */
	for (size_t i = before; i < u.n; i++)
		if (!o->all && u.v[i] <= last)
			u.v[i] = 0;
	if (u.n)
		qsort(u.v, u.n, sizeof *u.v, imap_cmp_ul);
	size_t nu = 0; /* each candidate once, ascending */
	for (size_t i = 0; i < u.n; i++)
		if (u.v[i] && (nu == 0 || u.v[i] != u.v[nu - 1]))
			u.v[nu++] = u.v[i];
	u.n = nu;
	o->pg_total += (long)(o->limit && (long)nu > o->limit ? (size_t)o->limit : nu);
	struct frun f = {folder, key, si.uidvalidity, last, &u, &val, last, &state};
	unsigned long bu[BATCH_MSGS];
	size_t idx[BATCH_MSGS];
	long long sizes[BATCH_MSGS];
	char got[BATCH_MSGS];
	/* in batches: one UID FETCH for the bodies of a batch, each message
	 * delivered as it comes; then the batch made durable, recorded, and
	 * only then flagged on the server */
	for (size_t i = 0; i < u.n;) {
		size_t nb = 0;
		if (stopping(o))
			break; /* SIGTERM under --idle: between two batches */
		for (; i < u.n && nb < BATCH_MSGS &&
		       !(o->limit && st->fetched + (long)nb >= o->limit);
		     i++)
			bu[nb] = u.v[i], idx[nb++] = i;
		if (!nb)
			break;
		if (o->max_size) {
			/* the sizes first: a big one is never downloaded */
			struct sizes z = {bu, nb, sizes};
			for (size_t k = 0; k < nb; k++)
				sizes[k] = -1;
			if ((r = imap_uid_command(s, "UID FETCH", bu, nb, "(RFC822.SIZE)", on_sizes,
			                          &z, e)) != 0) {
				if (r > 0)
					mp_err_set(e, EX_TEMPFAIL, "UID FETCH: %.200s", s->last);
				goto fail;
			}
			size_t kept = 0;
			for (size_t k = 0; k < nb; k++) {
				if (sizes[k] > o->max_size) {
					if (!o->quiet)
						mp_warn("%s: UID %lu: %lld bytes, over --max-size: "
						        "left on the server",
						        folder, bu[k], sizes[k]);
					st->skipped_big++;
					continue; /* stays in u: recorded as left */
				}
				if (sizes[k] < 0)
					continue; /* gone meanwhile */
				bu[kept] = bu[k], idx[kept++] = idx[k];
			}
			nb = kept;
			if (!nb)
				continue;
		}
		memset(got, 0, nb);
		struct mp_err failed;
		int fr = fetch_batch(s, o, &f, bu, idx, nb, got, st, e);
		if (fr == -1)
			goto fail;
		/* one asked for and not in the answer was expunged meanwhile:
		 * it stays in u, left for the next run to look for */
		failed = *e;
		mp_err_clear(e);
		if (imap_commit_record(o, &f, e) < 0)
			goto out;
		size_t nf = 0;
		for (size_t k = 0; (o->delete_ || o->mark_seen || o->move) && k < nb; k++)
			if (got[k])
				bu[nf++] = bu[k];
		const char *flags = o->delete_     ? "+FLAGS.SILENT (\\Deleted \\Seen)"
		                    : o->mark_seen ? "+FLAGS.SILENT (\\Seen)"
		                                   : NULL;
		r = !nf || !flags ? 0
		                  : imap_uid_command(s, "UID STORE", bu, nf, flags, NULL, NULL, e);
		if (r < 0)
			goto out;
		if (r > 0) /* delivered and recorded: the next run retries */
			mp_warn("%s: UIDs %lu to %lu: the server refused the flags: %.200s", folder,
			        bu[0], bu[nf - 1], s->last);
		else if (o->delete_)
			for (size_t k = 0; k < nf; k++)
				if (imap_uids_add(&done, bu[k], e) < 0)
					goto out;
		/* and moved, once durable and recorded */
		if (o->move && move_uids(s, o, folder, bu, nf, e) < 0)
			goto out;
		if (fr == -2) { /* what was delivered before is flagged: now stop */
			*e = failed;
			goto out;
		}
	}
	last = f.last;
	/* the left ones may have changed even with nothing delivered */
	if (!o->all && last) {
		imap_state_format(&val, si.uidvalidity, last, last, u.v, u.n);
		if (strcmp(val.data, state.data ? state.data : "") != 0 &&
		    state_save(o, key, val.data, e) < 0)
			goto out;
	}
	rc = 0;
	goto out;
fail:
	/* what came whole before the failure is kept: durable, then
	 * recorded; flagged by the next run */
	{
		struct mp_err e2;
		mp_err_clear(&e2);
		imap_commit_record(o, &f, &e2);
	}
out:
	o->jkey = NULL;
	/* what was delivered goes, even when a later message failed */
	if (o->delete_ && done.n) {
		struct mp_err e2;
		mp_err_clear(&e2);
		if (expunge(s, o, folder, &done, rc == 0 ? e : &e2) < 0)
			rc = -1;
	}
	if (o->dedup == &ids) {
		if (ids.skipped || !o->quiet)
			mp_warn(
			    "%s: UIDVALIDITY changed (%lu, now %lu): %ld message%s already in %s "
			    "(the same Message-ID) not delivered again, %ld delivered",
			    folder, sv, si.uidvalidity, ids.skipped, ids.skipped == 1 ? "" : "s",
			    o->store.path, ids.kept);
		o->dedup = NULL;
	}
	msgids_free(&ids);
	free(u.v);
	free(old.v);
	free(skip.v);
	free(done.v);
	mp_buf_free(&state);
	mp_buf_free(&val);
	mp_buf_free(&intent);
	return rc;
}

int imap_select(struct fopts *o, struct mp_err *e)
{
	struct imap s;
	int rc;

	if (!o->per_folder) /* the names as given: nothing to ask */
		return select_folders(NULL, o, e);
	if (imap_open(&s, o, e) < 0)
		return -1;
	rc = select_folders(&s, o, e);
	imap_close(&s);
	return rc;
}

void imap_select_free(struct fopts *o)
{
	fsels_free(o->sel, o->nsel);
	o->sel = NULL;
	o->nsel = 0;
}

/* the folder sel[i] fetched, into its own destination in a pattern's
 * run: 0, -1, or -2 when its name can be no local one (e filled) */
static int fetch_sel(struct imap *s, struct fopts *o, size_t i, struct fstats *st, struct mp_err *e)
{
	if (o->per_folder && deliver_folder(o, o->sel[i].name, o->sel[i].delim, e) < 0)
		return e->code == EX_DATAERR ? -2 : -1;
	return fetch_folder(s, o, o->sel[i].name, st, e);
}

int imap_fetch(struct fopts *o, struct fstats *st, struct mp_err *e)
{
	struct imap s;
	int rc = -1;

	if (imap_open(&s, o, e) < 0)
		return -1;
	if (select_folders(&s, o, e) < 0)
		goto out;
	if (o->list_folders) {
		for (size_t i = 0; i < o->nsel; i++)
			print_folder(o, &o->sel[i]);
		rc = 0;
		goto out;
	}
	if (move_check(&s, o, e) < 0)
		goto out;
	size_t bad = 0; /* folders with a name that cannot be a local one */
	for (size_t i = 0; i < o->nsel && !stopping(o); i++) {
		int r = fetch_sel(&s, o, i, st, e);
		if (r == 0)
			continue;
		if (r != -2)
			goto out;
		mp_warn("%s; skipped", e->msg);
		mp_err_clear(e);
		bad++;
	}
	if (bad) {
		mp_err_set(e, EX_DATAERR, "%zu folder%s skipped", bad, bad == 1 ? "" : "s");
		goto out;
	}
	rc = 0;
out:
	imap_close(&s);
	return rc;
}

int imap_watch(struct fopts *o, size_t i, int *logged_in, struct mp_err *e)
{
	const char *folder = o->sel[i].name;
	struct imap s;
	int rc = -1;

	*logged_in = 0;
	if (imap_open(&s, o, e) < 0)
		return -1;
	*logged_in = 1;
	if (move_check(&s, o, e) < 0)
		goto out;
	int idle = imap_has_cap(&s, "IDLE");
	if (!idle && !o->quiet)
		mp_warn("%s: no IDLE here: looking every %d s", folder, o->interval_s);
	for (;;) {
		struct fstats round = {0};
		double t0 = mp_net_now_ms();
		if (fetch_sel(&s, o, i, &round, e) < 0)
			goto out;
		report_round(o, &round, t0);
		if (stopping(o))
			break;
		if (s.new_mail)
			continue; /* it came while we were fetching */
		if (!idle) {
			if (nap(o, o->interval_s * 1000))
				break;
			continue;
		}
		int w = imap_idle(&s, o, e);
		if (w < 0)
			goto out;
		if (w == WAKE_STOP)
			break;
	}
	rc = 0;
out:
	if (rc == 0)
		imap_close(&s);
	else
		mp_proto_close(&s.p);
	return rc;
}
