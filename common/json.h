/* json: a small streaming JSON writer (RFC 8259) for --json output;
 * strings are escaped and made valid UTF-8 (U+FFFD for bad bytes). */
#ifndef MP_JSON_H
#define MP_JSON_H

#include <stdio.h>

#define MP_JSON_DEPTH 32

struct mp_json {
	FILE *f;
	int depth;
	int count[MP_JSON_DEPTH]; /* members written at each level */
	int pretty;
	unsigned char pend[4]; /* a string written in pieces: a character cut between two */
	size_t npend;
};

void mp_json_init(struct mp_json *j, FILE *f, int pretty);
/* key is NULL inside arrays and at the top */
void mp_json_begin_object(struct mp_json *j, const char *key);
void mp_json_end_object(struct mp_json *j);
void mp_json_begin_array(struct mp_json *j, const char *key);
void mp_json_end_array(struct mp_json *j);
void mp_json_string(struct mp_json *j, const char *key, const char *value); /* NULL: null */
void mp_json_stringn(struct mp_json *j, const char *key, const char *value, size_t n);
/* a string written in pieces of any size (a body): a UTF-8 character may
 * be cut between two pieces; what is no UTF-8 becomes U+FFFD */
void mp_json_begin_string(struct mp_json *j, const char *key);
void mp_json_string_more(struct mp_json *j, const char *s, size_t n);
void mp_json_end_string(struct mp_json *j);
void mp_json_int(struct mp_json *j, const char *key, long long value);
void mp_json_bool(struct mp_json *j, const char *key, int value);
/* ends the document with a newline */
void mp_json_finish(struct mp_json *j);

#endif
