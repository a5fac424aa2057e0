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
/* a number with that many decimals (seconds, milliseconds); null when it
 * is not finite */
void mp_json_fixed(struct mp_json *j, const char *key, double value, int decimals);
/* the error object every tool writes, mailpipe(7):
 * {"code":75,"name":"EX_TEMPFAIL","message":"..."}; null when code is 0 */
void mp_json_error(struct mp_json *j, const char *key, int code, const char *message);
/* a line of its own: {"type":"error","error":{...}} */
void mp_json_error_line(FILE *f, int code, const char *message);
/* From now on an error that ends the program (mp_die) also writes its
 * error line on stdout, for a tool run with --json; a usage error (64)
 * does not. */
void mp_json_report_fatal(void);
/* ends the document with a newline */
void mp_json_finish(struct mp_json *j);

#endif
