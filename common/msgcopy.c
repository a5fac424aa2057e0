/* msgcopy: one message copied into a mailbox file: the fields the
 * delivery adds (Return-Path, Delivered-To) first, a Return-Path of its
 * own dropped, the loop check, the Message-ID noted, and for an mbox
 * mboxrd quoting and LF line ends. An mbox's Status: and X-Status: are
 * the Maildir flags, in both directions. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "hdr.h"
#include "io.h"
#include "store_int.h"

#define WBUF (64 * 1024)

struct wout {
	int fd;
	size_t n;
	long long total;
	int last;       /* last byte written, -1 before any */
	int pending_cr; /* mbox: a CR at a segment's end, waiting for LF */
	struct mp_hdr_reader hr;
	char buf[WBUF];
};

static int w_flush(struct wout *w, struct mp_err *e)
{
	if (w->n && mp_write_full(w->fd, w->buf, w->n) < 0)
		return mp_err_sys(e, mp_errno_code(errno), "write");
	w->n = 0;
	return 0;
}

static int w_put(struct wout *w, const void *p, size_t n, struct mp_err *e)
{
	if (n == 0)
		return 0;
	w->total += (long long)n;
	w->last = ((const unsigned char *)p)[n - 1];
	if (w->n + n > sizeof w->buf) {
		if (w_flush(w, e) < 0)
			return -1;
		if (n > sizeof w->buf) {
			if (mp_write_full(w->fd, p, n) < 0)
				return mp_err_sys(e, mp_errno_code(errno), "write");
			return 0;
		}
	}
	memcpy(w->buf + w->n, p, n);
	w->n += n;
	return 0;
}

static int w_puts(struct wout *w, const char *s, struct mp_err *e)
{
	return w_put(w, s, strlen(s), e);
}

/* 1 if the Delivered-To value names the address we deliver to */
static int same_addr(const char *value, const char *to)
{
	struct mp_addrlist l, t;
	int same = 0;

	mp_addr_parse(value, &l);
	mp_addr_parse(to, &t);
	for (size_t i = 0; i < l.n && !same; i++)
		for (size_t k = 0; k < t.n && !same; k++)
			same = strcasecmp(l.v[i].addr, t.v[k].addr) == 0;
	mp_addr_free(&l);
	mp_addr_free(&t);
	return same;
}

/* The letters of an mbox's Status: and X-Status: fields and the Maildir
 * flags they are (mdeliver(1), FLAGS IN AN MBOX); besides, Status: O
 * (old) or any of these says cur/. */
static const struct {
	const char *field;
	char letter, flag;
} status_map[] = {
    {"Status", 'R', 'S'},   /* read: seen */
    {"X-Status", 'A', 'R'}, /* answered: replied */
    {"X-Status", 'F', 'F'}, /* flagged */
    {"X-Status", 'D', 'T'}, /* deleted: trashed */
    {"X-Status", 'T', 'D'}, /* draft, as Dovecot writes it */
};

/* the Status: or X-Status: field just read: its letters noted */
static void note_status(struct mp_store_copy *c, struct mp_hdr_reader *hr)
{
	static const char *const fields[] = {"Status", "X-Status"};

	for (size_t f = 0; f < 2; f++) {
		const char *v = mp_hdr_reader_get(hr, fields[f]);
		for (; v && *v; v++) {
			if (f == 0 && *v == 'O')
				c->status_cur = 1;
			for (size_t i = 0; i < sizeof status_map / sizeof *status_map; i++)
				if (status_map[i].letter == *v &&
				    strcmp(status_map[i].field, fields[f]) == 0) {
					c->status_flag[status_map[i].flag - 'A'] = 1;
					c->status_cur = 1;
				}
		}
	}
}

/* Maildir flags as a name carries them: upper-case letters, sorted, each
 * once (here with the Status: mapping that reads and writes them) */
int mp_store_norm_flags(const char *in, char *out, struct mp_err *e)
{
	int seen[26] = {0}, k = 0;

	for (const char *f = in; *f; f++) {
		if (*f < 'A' || *f > 'Z')
			return mp_err_set(e, EX_USAGE,
			                  "invalid Maildir flag '%c' (A-Z: D F P R S T)", *f);
		seen[*f - 'A'] = 1;
	}
	for (int i = 0; i < 26; i++)
		if (seen[i])
			out[k++] = (char)('A' + i);
	out[k] = '\0';
	return 0;
}

void mp_store_status_flags(const struct mp_store_copy *c, char *out, size_t n)
{
	size_t k = 0;

	for (int i = 0; i < 26 && k + 1 < n; i++)
		if (c->status_flag[i])
			out[k++] = (char)('A' + i);
	if (n)
		out[k] = '\0';
}

/* an mbox with --flags: Status: and X-Status: for the Maildir flags
 * (normalized already); S is read, and a message with flags is old */
static int put_status(struct wout *w, const char *flags, struct mp_err *e)
{
	char x[8];
	size_t k = 0;

	for (size_t i = 0; i < sizeof status_map / sizeof *status_map; i++)
		if (strcmp(status_map[i].field, "X-Status") == 0 &&
		    strchr(flags, status_map[i].flag))
			x[k++] = status_map[i].letter;
	x[k] = '\0';
	if (w_puts(w, strchr(flags, 'S') ? "Status: RO\n" : "Status: O\n", e))
		return -1;
	if (k && (w_puts(w, "X-Status: ", e) || w_puts(w, x, e) || w_puts(w, "\n", e)))
		return -1;
	return 0;
}

/* a field of the header read whole: the loop check, the Message-ID */
static int on_field(struct mp_store_copy *c, struct mp_hdr_reader *hr, struct mp_err *e)
{
	const struct mp_delivery *d = c->d;
	const char *v;

	if (d->loop_check && d->delivered_to && (v = mp_hdr_reader_get(hr, "Delivered-To")) &&
	    same_addr(v, d->delivered_to))
		return mp_err_set(e, EX_NOUSER, "mail loop: already delivered to %s",
		                  d->delivered_to);
	if (!c->msgid[0] && (v = mp_hdr_reader_get(hr, "Message-ID")))
		mp_hdr_msgid(v, strlen(v), c->msgid, sizeof c->msgid);
	if (d->mbox_status)
		note_status(c, hr);
	/* the first Return-Path: names the sender of the From_ line */
	if (d->sender_rp && !c->has_sender && !c->rp_seen &&
	    (v = mp_hdr_reader_get(hr, "Return-Path"))) {
		struct mp_addrlist l;
		c->rp_seen = 1;
		mp_addr_parse(v, &l);
		/* one word, as a From_ line needs it, or none (MAILER-DAEMON) */
		int word = l.n && strlen(l.v[0].addr) < sizeof c->sender;
		for (const char *a = word ? l.v[0].addr : ""; *a; a++)
			if ((unsigned char)*a <= ' ' || *a == 0x7f)
				word = 0;
		if (word)
			snprintf(c->sender, sizeof c->sender, "%s", l.v[0].addr);
		mp_addr_free(&l);
	}
	return 0;
}

void mp_store_copy_init(struct mp_store_copy *c, const struct mp_delivery *d)
{
	memset(c, 0, sizeof *c);
	c->d = d;
	if (d->from) {
		snprintf(c->sender, sizeof c->sender, "%s", d->from);
		c->has_sender = 1;
	}
}

int mp_store_copy_start(const struct mp_msgsrc *src, struct mp_store_copy *c, const char **seg,
                        size_t *len, int *bol, struct mp_err *e)
{
	int r = src->next(src->ctx, seg, len, bol, e);

	if (r < 0)
		return -1;
	if (r > 0 && mp_store_from_line(*seg, *len, *bol)) {
		if (!c->d->from) {
			size_t i = 5, k = 0;
			c->has_sender = 1;
			while (i < *len && (*seg)[i] == ' ')
				i++;
			while (i < *len && (*seg)[i] > ' ' && k < sizeof c->sender - 1)
				c->sender[k++] = (*seg)[i++];
			c->sender[k] = '\0';
			if (strcmp(c->sender, "MAILER-DAEMON") == 0)
				c->sender[0] = '\0'; /* how mboxes write the null sender <> */
		}
		/* the rest of an overlong From_ line goes too */
		do
			r = src->next(src->ctx, seg, len, bol, e);
		while (r > 0 && !*bol);
		if (r < 0)
			return -1;
	}
	if (r == 0)
		return mp_err_set(e, EX_DATAERR, "empty message");
	if (!mp_hdr_field_name(*seg, *len, NULL))
		return mp_err_set(e, EX_DATAERR, "not a message: line 1 is not a header field");
	return 1;
}

static int put_line_end(struct wout *w, int crlf, struct mp_err *e)
{
	return w_puts(w, crlf ? "\r\n" : "\n", e);
}

/* 1 if the field the line starts is left out: a Return-Path when there
 * is an envelope sender, Status: and X-Status: where they become flags
 * or are replaced */
static int dropped(const struct mp_store_copy *c, const char *line, size_t n)
{
	if (c->has_sender && mp_hdr_field_name_is(line, n, "Return-Path"))
		return 1;
	return (c->d->mbox_status || (c->mbox && (c->d->flags || c->d->mbox_flags))) &&
	       (mp_hdr_field_name_is(line, n, "Status") ||
	        mp_hdr_field_name_is(line, n, "X-Status"));
}

static int copy_body(const struct mp_msgsrc *src, struct mp_store_copy *c, struct wout *w,
                     const char *seg, size_t len, int bol, struct mp_err *e)
{
	const struct mp_delivery *d = c->d;
	int crlf = !c->mbox && len >= 2 && seg[len - 2] == '\r' && seg[len - 1] == '\n';
	int header = 1, skipping = 0, r = 1;
	struct mp_hdr_reader *hr = &w->hr;

	mp_hdr_reader_init(hr);
	if (c->has_sender) {
		if (w_puts(w, "Return-Path: <", e) || w_puts(w, c->sender, e) ||
		    w_puts(w, ">", e) || put_line_end(w, crlf, e))
			return -1;
	}
	if (d->delivered_to && (w_puts(w, "Delivered-To: ", e) || w_puts(w, d->delivered_to, e) ||
	                        put_line_end(w, crlf, e)))
		return -1;
	if (c->mbox && d->flags) {
		char f[32];
		if (mp_store_norm_flags(d->flags, f, e) < 0 || put_status(w, f, e) < 0)
			return -1;
	}
	for (; r > 0; r = src->next(src->ctx, &seg, &len, &bol, e)) {
		if (header) {
			int k = mp_hdr_reader_feed(hr, seg, len, bol);
			if (on_field(c, hr, e) < 0)
				return -1;
			/* a field left out goes, folded lines and all */
			if (bol && k != MP_HDR_MORE)
				skipping = k == MP_HDR_FIELD && dropped(c, seg, len);
			header = k != MP_HDR_END;
			if (header && bol && memchr(seg, '\0', len))
				return mp_err_set(e, EX_DATAERR,
				                  "not a message: NUL byte in the header");
		}
		if (skipping)
			continue;
		if (c->mbox) {
			if (w->pending_cr) {
				w->pending_cr = 0;
				if (!(len && seg[0] == '\n') && w_put(w, "\r", 1, e))
					return -1;
			}
			if (bol) { /* mboxrd: any ^>*From gains one '>' */
				size_t k = 0;
				while (k < len && seg[k] == '>')
					k++;
				if (len - k >= 5 && memcmp(seg + k, "From ", 5) == 0 &&
				    w_put(w, ">", 1, e))
					return -1;
			}
			if (len >= 2 && seg[len - 1] == '\n' && seg[len - 2] == '\r') {
				if (w_put(w, seg, len - 2, e) || w_put(w, "\n", 1, e))
					return -1;
				continue;
			}
			if (len && seg[len - 1] == '\r') {
				w->pending_cr = 1;
				len--;
			}
		}
		if (w_put(w, seg, len, e))
			return -1;
	}
	if (r < 0)
		return -1;
	if (header) { /* a message that is all header */
		mp_hdr_reader_end(hr);
		if (on_field(c, hr, e) < 0)
			return -1;
	}
	if (w->pending_cr && w_put(w, "\r", 1, e))
		return -1;
	if (w->last != '\n' && put_line_end(w, crlf, e))
		return -1;
	return 0;
}

int mp_store_copy_out(const struct mp_msgsrc *src, struct mp_store_copy *c, int fd, const char *seg,
                      size_t len, int bol, long long *size, struct mp_err *e)
{
	struct wout *w = malloc(sizeof *w);
	int rc;

	if (!w)
		return mp_err_sys(e, EX_TEMPFAIL, "write buffer");
	memset(w, 0, offsetof(struct wout, buf));
	w->fd = fd;
	w->last = -1;
	rc = copy_body(src, c, w, seg, len, bol, e) < 0 || w_flush(w, e) < 0 ? -1 : 0;
	*size = w->total;
	free(w);
	return rc;
}
