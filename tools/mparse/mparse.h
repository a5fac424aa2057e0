/* mparse: what its files share: the options of --show, --scan, picks
 * and part filters, the messages of a folder, and the entry points of
 * mparse.c that run the mode in hand on one message. */
#ifndef MPARSE_H
#define MPARSE_H

#include "date.h"
#include "mime.h"
#include "store.h"

/* the options of show.c, scan.c and pick.c (set by mparse.c) */
struct mp_xopts {
	int show, scan, json, reverse;
	long width;              /* --width: cut --scan lines there; -1 never, 0 the terminal's */
	const char *sort;        /* --sort: date (NULL), file, from, subject */
	const char *type, *name; /* --type, --name: globs a part must match */
	const char *html_filter; /* --html-filter CMD */
	const char *const *fields;
	int nfields;
	enum mp_date_form date;
	int threads; /* MPARSE_THREADS: threads reading a folder's messages */
};
extern struct mp_xopts X;

/* ---- mparse.c: the mode in hand on one message */
/* one message from src: 0, or -1 on a read error */
int mparse_msg(const char *name, const struct mp_msgsrc *src);
/* an input or a message that could not be read: one line on stderr, with
 * -j an error line; a sticky code is the exit status (see mparse.c) */
void mp_problem(int code, int sticky, const char *fmt, ...) MP_PRINTF(3, 4);
/* a field's value as -f prints it: decoded, a date in the --date form */
void mparse_field_value(const char *msg, const struct mp_field *f, struct mp_buf *out);

/* ---- pick.c: the messages of a folder, picked by number */
/* MPARSE_THREADS (1 to 8), or as many as there are processors, 4 at most;
 * a value that is no such number exits 64 */
int mp_threads_env(void);

struct mp_msgref {
	char *path;       /* the message file, or the mbox */
	long long off;    /* mbox: the offset of its From_ line; -1: the whole file */
	long num;         /* its number in the folder, 1 first */
	int isnew;        /* a Maildir's new/ */
	const char *info; /* a Maildir name's flags (after ":2,"), or "" */
	long long size;   /* bytes (an mbox: once read) */
};

struct mp_folder {
	struct mp_msgref *v;
	size_t n;
	int mbox, maildir;
};

/* called for each message as it is read: src gives the message; what it
 * leaves unread is skipped (an mbox message's size is known after) */
typedef int (*mp_folder_each)(void *ctx, const struct mp_msgref *m, const struct mp_msgsrc *src);

/* The messages of a Maildir (new/ and cur/ together, in the order of
 * their names), of an mbox, or of a message file (one) at path ("-":
 * stdin), numbered from 1; each is given to each (may be NULL). 0, or
 * -1 with a warning printed. */
int mp_folder_read(const char *path, struct mp_folder *f, mp_folder_each each, void *ctx);
/* The files of a Maildir as mparse reads a whole one: cur/, then new/,
 * each in the order of the names (0, or -1 with a warning printed). */
int mp_maildir_files(const char *path, struct mp_folder *f);
void mp_folder_free(struct mp_folder *f);
/* Is arg FOLDER:SPEC, a pick of messages, FOLDER an existing path and
 * arg no existing path? Then the picked messages (a new folder list, in
 * the order of the spec) into f and 1; a bad spec or a number the folder
 * does not have exits (64, 66) with one line. 0: not a pick. */
int mp_pick(const char *arg, struct mp_folder *f);
/* The same for FOLDER and SPEC apart (--show's FOLDER:last). */
void mp_pick_spec(const char *arg, const char *folder, const char *spec, struct mp_folder *f);
/* Read one message of a folder: fn gets its name (the file; FILE:K for
 * the K-th of an mbox) and its source. fn's result, or -1 (a warning
 * printed) when it cannot be opened. */
typedef int (*mp_msg_fn)(void *ctx, const struct mp_msgref *m, const char *name,
                         const struct mp_msgsrc *src);
int mp_msgref_read(const struct mp_msgref *m, mp_msg_fn fn, void *ctx);
/* The mode in hand on the picked messages (for --show, a folder without
 * a spec is FOLDER:last): 1 when arg was a pick (*ok: some message was
 * read), 0 when it is no pick. */
int mp_pick_input(const char *arg, int show, int *ok);
/* Does the part pass --type and --name? */
int mp_part_wanted(const struct mp_part *p);
int mp_part_filtered(void);

/* ---- show.c */
int mp_show_one(const char *name, const struct mp_msgsrc *src);

/* ---- scan.c */
long mp_width_arg(const char *s); /* --width's number, or exit 64 */
int mp_scan_main(char **args, int nargs);

#endif
