/* msend: internal interfaces between its modules (message spool and
 * SMTP sending, the queue). */
#ifndef MSEND_H
#define MSEND_H

#include <stdio.h>
#include <sys/types.h>

#include "dns.h"
#include "smtp.h"
#include "util.h"

/* mime7.c: the 7-bit form of an 8-bit message (quoted-printable parts),
 * for a server without 8BITMIME; a learn pass fills plan (a byte per
 * leaf part), the second rewrites by it; lines in, CR LF, unstuffed */
#define MIME7_PARTS   1024
#define MIME7_8BIT    0x1u /* the part has 8-bit bytes */
#define MIME7_NOTUTF8 0x2u /* ... and they are not UTF-8 */
#define MIME7_ENCODED 0x4u /* it says base64 or quoted-printable already */
struct mime7;
struct mime7 *mime7_new(unsigned char *plan, int learn);
int mime7_feed(struct mime7 *x, const char *p, size_t n, struct mp_buf *out, struct mp_err *e);
int mime7_end(struct mime7 *x, struct mp_buf *out, struct mp_err *e);
void mime7_free(struct mime7 *x);

/* DSN (RFC 3461) as -N, -R and -V asked for it; empty strings: not */
struct dsn {
	char notify[32]; /* NEVER, or SUCCESS, FAILURE and DELAY joined by ',' */
	char ret[8];     /* FULL or HDRS */
	char envid[101]; /* printable ASCII, xtext on the wire */
};

/* VERP (--verp): each recipient its own envelope sender, the sender's
 * local part (or local), delim[0], the recipient with delim[1] for its
 * '@', then '@' and the sender's domain: list+bob=example.org@host */
struct verp {
	int on;
	char local[65]; /* "": the sender's own */
	char delim[3];  /* "+=" by default */
};
/* the envelope sender of recipient rcpt under v (from itself when off or
 * null): 0, or -1 when it does not fit out */
int verp_sender(const struct verp *v, const char *from, const char *rcpt, char *out, size_t n);

/* the message as it will go on the wire */
struct message {
	int fd;             /* the message as received (a spool or queue file) */
	long long wiresize; /* size after CRLF normalisation and dot-stuffing */
	long long dots;     /* the stuffed dots in it: BDAT sends none */
	int chunking;       /* BDAT when offered (not --no-chunking) */
	/* the 7-bit form, for a server without 8BITMIME: worked out when
	 * first needed (state 1), or found impossible (-1, why in err7) */
	int state7;
	long long wiresize7, dots7;
	unsigned char plan7[MIME7_PARTS];
	char err7[256];
	int eightbit;  /* 8-bit bytes in it */
	int hdr8bit;   /* ... in its header (RFC 6532: SMTPUTF8) */
	int strip_bcc; /* -t: Bcc: lines are not sent */
	struct dsn dsn;
	struct verp verp;
	char msgid[256];
	char hdr_from[512]; /* the first address of its From: field, or "" */
	/* DKIM: the settings whose keys sign it (NULL: none), and the
	 * DKIM-Signature fields of its 8-bit and 7-bit forms (sign.c),
	 * made when the form is first scanned and put before it on the wire */
	const struct settings *dkim;
	struct mp_buf sig8, sig7;
};

struct rcpt {
	char *addr;
	int code; /* 0 not tried, else the SMTP code of its last answer */
	char text[1024];
	int done; /* delivered, or failed for good */
};

struct settings {
	/* relay */
	const char *server;
	int port;
	int tls;          /* implicit TLS */
	int starttls;     /* STARTTLS (default for a relay) */
	int tls_required; /* direct: refuse hosts without STARTTLS or a valid cert */
	int no_tls;       /* --no-tls, tls off: a relay session in clear, even where
	                   * the server offers STARTTLS */
	const char *ca_file, *fingerprint, *cert_file, *key_file;
	const char *auth, *user, *password_eval;
	const char *password; /* from the configuration file, never from argv */
	/* MSEND_PASSWORD, taken out of the environment at the start, so that
	 * no child (a passwordeval command) sees it */
	const char *env_password;
	int auth_plaintext;
	/* direct */
	int direct;
	int mx_port;
	const char *dns_server;
	int dns_port;
	const char *sts_addr; /* MTA-STS policies fetched from here (tests) */
	/* both */
	const char *helo;
	int timeout_ms;
	int verbose;
	int json;        /* -j: JSON lines on stdout */
	int no_chunking; /* DATA even where BDAT is offered */
	int parallel;    /* direct: domains delivered at once (worker processes) */
	/* queue */
	const char *queue;
	int no_queue;
	long max_age;
	/* the account these come from (NULL: the command line alone) */
	const char *account;
	const char *log;        /* a file, or "syslog" */
	const char *maildomain; /* of MAILER-DAEMON, in failure notices */
	int mail_errors;        /* -oem, -oee: refusals are mailed to the sender */
	                        /* DKIM signing (sign.c): key files and their selectors, paired in
	                         * order; the d= domain (NULL: the From: address's) and c= */
#define DKIM_KEYS 8
	const char *dkim_key[DKIM_KEYS], *dkim_selector[DKIM_KEYS];
	int ndkim_key, ndkim_selector;
	const char *dkim_domain, *dkim_canon;
};

/* sign.c: the settings' keys are usable (mode, type), else exit 78 naming
 * the file; signers for the message m: the DKIM-Signature fields of the
 * wire form that emit passes through feed (CR LF lines, unstuffed) */
void dkim_check(const struct settings *s);
struct dkimset;
struct dkimset *dkim_start(const struct settings *s, struct mp_err *e);
int dkim_feed(void *set, const char *p, size_t n, struct mp_err *e);
int dkim_finish(struct dkimset *d, struct mp_buf *out, struct mp_err *e);
/* done with d: kept (with the few sets used last), for dkim_start to hand
 * out again to a later message signed with the same settings (the keys
 * are not read again) */
void dkim_free(struct dkimset *d);

/* compose mode (-s, -A): a new message from the text on in, to out */
struct compose {
	const char *subject, *from, *from_name, *reply_to;
	/* list mail (RFC 2369, 2919, 8058): only when asked for */
	const char *list_id, *precedence;
	char **unsub;
	size_t nunsub;
	char **to, **cc, **attach;
	size_t nto, ncc, natt;
};
int compose(const struct compose *c, int in, int out, struct mp_err *e);

/* options.c: the command line, as it was given */
struct options {
	struct settings s; /* what it says of the settings */
	struct dsn dsn;
	const char *from, *maildomain, *account, *config, *aliases_file, *full_name;
	struct compose cm;
	char **bcc;
	size_t nbcc;
	char **args; /* the recipients */
	int nargs;
	const char *rcpt_file; /* --rcpt-file: more, one a line */
	struct verp verp;
	int tflag, flush, listq, no_tls;
	int read_envelope_from;        /* the envelope sender is the message's From: */
	const char *retry_dead, *drop; /* queue IDs */
};
/* exits for --help, --version and a usage error */
void parse_options(int argc, char **argv, struct options *o);

/* settings.c: the configuration file and its account under the command
 * line; what is per message (not per connection) goes to ec */
struct envcfg {
	const char *from, *maildomain, *aliases;
	int force_from;
	int read_envelope_from; /* read_envelope_from on */
};
void settings_init(const struct options *o, struct settings *s, struct envcfg *ec);
/* the settings of account name (for a queued entry): 0, or -1 when the
 * configuration has no such account */
int settings_account(const char *name, struct settings *out);
/* exits (64 or, from the file at where, 78) when a is no mechanism */
void settings_check_auth(const char *a, const char *where);
void settings_free(void);
/* the way a message sent without an account goes (relay, port, TLS, AUTH
 * settings; no password), as route-KEY lines for its queue entry */
void settings_route_write(const struct settings *s, struct mp_buf *b);
/* out: the flush's settings flush with the route of an entry's lines (a
 * CA file, fingerprint, client certificate, user, passwordeval of the
 * flush's command line win); 1 when it has none, or the flush's command
 * line names the way (-a, --server, --direct): flush's settings stand */
int settings_route(const struct settings *flush, const char *lines, struct settings *out);
/* the DKIM keys a queued entry's route lines name (a message sent without
 * an account signs with the keys it was sent with, whatever way the flush
 * sends it): use with them, in out; use itself when the lines name none
 * or the flush's command line gives --dkim-key */
const struct settings *settings_dkim(const struct settings *use, const char *lines,
                                     struct settings *out);
/* the route-dkim lines alone (the keys of a message sent with an account
 * whose command line gave --dkim-key) */
void settings_dkim_write(const struct settings *s, struct mp_buf *b);
/* the command line gave --dkim-key */
int settings_dkim_cmdline(void);

/* rcpt.c: envelope addresses, read with common's address parser */
struct addrs {
	char **v; /* qualified, IDN domains as A-labels */
	size_t n;
	const char *maildomain;
};
/* the aliases file (NULL: none); exits on an error */
void rcpt_aliases(const char *file);
/* a's address qualified and checked; exits naming what otherwise */
char *rcpt_normalize(const char *a, const char *maildomain, const char *what);
/* the addresses of an argument (l NULL: only checked), or of a header
 * field's value, appended to l */
void rcpt_arg(struct addrs *l, const char *v, const char *what);
void rcpt_header(struct addrs *l, const char *v);
/* --rcpt-file: one address a line, '#' comment lines and blank lines
 * skipped; a bad one exits 65 naming the file and line */
void rcpt_file(struct addrs *l, const char *path);
/* each address of l once; the addresses stay l's */
struct rcpt *rcpt_unique(const struct addrs *l, size_t *n);
void rcpt_free(struct addrs *l);

/* spool.c: stdin into an unlinked file (m->fd), Date: and Message-ID:
 * added when missing; with tflag the recipients of its header into l */
int spool(int tflag, const char *from, struct addrs *l, struct message *m);

/* log.c: one line per message in s->log: what happened to it */
void msend_log(const struct settings *s, const char *from, const struct rcpt *r, size_t n,
               long long size, const char *msgid, const char *server, const char *result);

/* Check and set a DSN request: what is 'N' (-N), 'R' (-R) or 'V' (-V);
 * -1 and EX_USAGE when v is not valid. */
int dsn_set(struct dsn *d, int what, const char *v, struct mp_err *e);
/* Read a message (fd), check it can be sent, fill wiresize/eightbit. */
int msg_scan(struct message *m, struct mp_err *e);
/* Send the message to each recipient not yet done; codes in r[]. Returns
 * 0 when every recipient has its verdict (delivered or permanently
 * refused), 1 when some must wait (temporary), -1 on an error of ours. */
int deliver(const struct settings *s, struct message *m, const char *from, struct rcpt *r, size_t n,
            struct mp_err *e);

/* Connection reuse for a queue flush: a pool of sessions (the relay, or
 * one per recipient domain in direct mode) that carries one message after
 * another. pool_deliver answers as deliver() does. */
struct pool;
struct pool *pool_new(const struct settings *s);
int pool_deliver(struct pool *pl, struct message *m, const char *from, struct rcpt *r, size_t n,
                 struct mp_err *e);
/* QUIT and close every session; NULL is fine */
void pool_free(struct pool *pl);

/* The failure notice (RFC 3464) of a delivery from sender from to from <>,
 * about r: the refused ones, or with given_up those the queue gave up on;
 * msgfd is the message (its header is quoted). Built as a spooled message
 * in m (m->fd, scanned): 1, or 0 when none is due (from empty), -1 with e. */
int dsn_message(const struct settings *s, int msgfd, const char *from, const struct rcpt *r,
                size_t n, int given_up, const char *msgid, struct message *m, struct mp_err *e);

/* queue */
int queue_add(const struct settings *s, struct message *m, const char *from, struct rcpt *r,
              size_t n, char *id, size_t idsz, struct mp_err *e);
/* dsn_message's notice sent over pl's sessions when given, else as
 * deliver() does; queued when it cannot go now. 0, 1 (why in e) when it was
 * refused, -1 with e. */
int queue_notice(const struct settings *s, struct pool *pl, int msgfd, const char *from,
                 const struct rcpt *r, size_t n, int given_up, const char *msgid, struct mp_err *e);
int queue_list(const struct settings *s, FILE *out);
int queue_flush(const struct settings *s);
/* dead letters (QUEUE/dead: their failure notice could not go): id back
 * in the queue, due now (exits 66 when there is no such entry) */
void queue_revive(const struct settings *s, const char *id);
/* an entry, queued or dead, removed: the exit code */
int queue_drop(const struct settings *s, const char *id);
const char *queue_dir(const struct settings *s);

#endif
