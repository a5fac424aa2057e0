/* A streaming MIME walker for mparse: header blocks (bounded, unfolded),
 * Content-Type/-Disposition parameters (RFC 2045, 2231), boundaries
 * (RFC 2046) on a bounded stack, message/rfc822 descended into, body
 * bytes decoded (base64, quoted-printable) as they pass. */
#ifndef MP_MIME_H
#define MP_MIME_H

#include <stddef.h>

#include "store.h"
#include "util.h"

#define MP_MIME_DEPTH 64           /* nested multiparts */
#define MP_MIME_PARTS 100000       /* parts per message */
#define MP_HDR_MAX    (256 * 1024) /* one header block */
#define MP_MIME_UU    1000         /* uuencoded blocks per text part */

struct mp_field {
	char *name, *value; /* value unfolded, raw (not decoded); it lies in
	                       name's block, freed with it */
};

struct mp_header {
	struct mp_field *f;
	size_t n;
	struct mp_buf raw; /* the block as read */
	int truncated;
};

struct mp_part {
	char num[256]; /* "1", "1.2", ... */
	int depth;
	char type[128]; /* "text/plain", lower case */
	char charset[64];
	char encoding[32];  /* lower case; "" = 7bit */
	char filename[512]; /* from Content-Disposition or Content-Type name */
	char disposition[32];
	char boundary[200]; /* multipart only */
	long long offset;   /* byte offset of the part's header in the input */
	long long rawsize, decsize;
	int uuencode;          /* a uuencoded block found inside a text part (num "N.uK"):
	                        * its events come between those of that part */
	int container;         /* a multipart or message/rfc822 node (no body of its own) */
	int external;          /* message/external-body: the body only names data kept
	                        * elsewhere (RFC 2046 5.2.3); nothing to extract */
	struct mp_header *hdr; /* valid during on_part */
};

struct mp_walker {
	/* callbacks: return < 0 to stop */
	int (*on_header)(struct mp_walker *w, struct mp_header *h); /* the message's own */
	/* a part starts (leaf or container) */
	int (*on_part)(struct mp_walker *w, struct mp_part *p);
	int (*on_data)(struct mp_walker *w, struct mp_part *p, const char *s, size_t n);
	int (*on_end)(struct mp_walker *w, struct mp_part *p); /* a part ends */
	void *ctx;
	int decode;      /* decode bodies for on_data */
	int uu;          /* with decode: uuencoded blocks in text/plain leaves are parts */
	int header_only; /* stop after the message's own header (nothing else is asked) */
	/* with header_only: the fields on_header looks at (NULL: all); the
	 * header it gets holds those alone, and no raw block */
	const char *const *fields;
	int nfields;
	const char *name; /* input name for warnings */
	long warnings;
};

const char *mp_field_get(const struct mp_header *h, const char *name);
void mp_header_free(struct mp_header *h);
/* parameter of a structured value (RFC 2045 and 2231, continuations and
 * charset'lang'value decoded to UTF-8) */
int mp_param_get(const char *value, const char *name, char *out, size_t n);

/* Is line (n octets, its line end included or not) "--boundary" or
 * "--boundary--" followed by nothing but white space? 1 (and *close set
 * for the closing one) or 0. RFC 2046 5.1.1; the walker's own test. */
int mp_mime_boundary_line(const char *line, size_t n, const char *boundary, int *close);
/* Parse a header block held in memory (lines up to the blank one, LF or
 * CR LF) into h, fields unfolded: 0, or 1 when a line was no field (it is
 * left out). Free h with mp_header_free. */
int mp_mime_header_parse(const char *block, size_t n, struct mp_header *h);
/* The leading token of a structured value (a media type, an encoding, a
 * disposition), lower case, without white space, parameters or comment;
 * "" for a NULL value. */
void mp_mime_token(const char *value, char *out, size_t n);
/* Is the part an attachment, whose bytes a reader would save: not a
 * container, not an external body; disposition attachment, or a named
 * part that is not text. */
int mp_mime_attachment(const struct mp_part *p);

/* Walk one message from its source; returns 0, or -1 on a read error. */
int mp_mime_walk(struct mp_walker *w, const struct mp_msgsrc *src, struct mp_err *e);

#endif
