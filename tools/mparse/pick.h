/* mparse: the messages of a folder (a Maildir, an mbox, a message
 * file) numbered, FOLDER:SPEC picks among them, and the part filters of
 * -p and -x (pick.c). */
#ifndef MPARSE_PICK_H
#define MPARSE_PICK_H

#include "mime.h"
#include "store.h"

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
/* fn on the picked messages (for --show, a folder without a spec is
 * FOLDER:last): 1 when arg was a pick (*ok: fn gave 0 for some message),
 * 0 when it is no pick. */
int mp_pick_input(const char *arg, int show, mp_msg_fn fn, int *ok);
/* Does the part pass --type and --name? */
int mp_part_wanted(const struct mp_part *p);
int mp_part_filtered(void);

#endif
