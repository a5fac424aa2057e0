#include "json.h"

#include <math.h>
#include <string.h>

#include "hdr.h"
#include "util.h"

void mp_json_init(struct mp_json *j, FILE *f, int pretty)
{
	memset(j, 0, sizeof *j);
	j->f = f;
	j->pretty = pretty;
}

/* the inside of a string: escaped, invalid UTF-8 as U+FFFD; DEL and the C1
 * controls (U+0080..U+009F) as \u00XX too, which JSON allows and does not
 * ask for: a JSON line on a terminal cannot drive it */
static void escaped(struct mp_json *j, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		if (c == '"' || c == '\\') {
			fputc('\\', j->f);
			fputc((int)c, j->f);
			i++;
		} else if (c < 0x20) {
			static const char esc[] = "btn\0fr";
			if (c >= 8 && c <= 13 && c != 11)
				fprintf(j->f, "\\%c", esc[c - 8]);
			else
				fprintf(j->f, "\\u%04x", c);
			i++;
		} else if (c == 0x7f) {
			fputs("\\u007f", j->f);
			i++;
		} else if (c < 0x80) {
			fputc((int)c, j->f);
			i++;
		} else if (c == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] < 0xa0) {
			fprintf(j->f, "\\u%04x", u[i + 1]);
			i += 2;
		} else {
			/* a maximal subpart of a bad sequence is one U+FFFD */
			int bad;
			size_t l = mp_utf8_next(u + i, n - i, &bad);
			if (bad)
				fputs("\xef\xbf\xbd", j->f);
			else
				fwrite(u + i, 1, l, j->f);
			i += l;
		}
	}
}

static void raw_string(struct mp_json *j, const char *s, size_t n)
{
	fputc('"', j->f);
	escaped(j, s, n);
	fputc('"', j->f);
}

static void member(struct mp_json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->count[j->depth - 1]++)
			fputc(',', j->f);
		if (j->pretty) {
			fputc('\n', j->f);
			for (int i = 0; i < j->depth; i++)
				fputs("  ", j->f);
		}
	}
	if (key) {
		raw_string(j, key, strlen(key));
		fputs(j->pretty ? ": " : ":", j->f);
	}
}

static void open_level(struct mp_json *j, const char *key, int c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth < MP_JSON_DEPTH)
		j->count[j->depth] = 0;
	j->depth++;
}

static void close_level(struct mp_json *j, int c)
{
	int had = j->depth > 0 && j->depth <= MP_JSON_DEPTH ? j->count[j->depth - 1] : 0;

	j->depth--;
	if (j->pretty && had) {
		fputc('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(c, j->f);
}

void mp_json_begin_object(struct mp_json *j, const char *key)
{
	open_level(j, key, '{');
}

void mp_json_end_object(struct mp_json *j)
{
	close_level(j, '}');
}

void mp_json_begin_array(struct mp_json *j, const char *key)
{
	open_level(j, key, '[');
}

void mp_json_end_array(struct mp_json *j)
{
	close_level(j, ']');
}

void mp_json_stringn(struct mp_json *j, const char *key, const char *value, size_t n)
{
	member(j, key);
	raw_string(j, value, n);
}

void mp_json_string(struct mp_json *j, const char *key, const char *value)
{
	if (!value) {
		member(j, key);
		fputs("null", j->f);
		return;
	}
	mp_json_stringn(j, key, value, strlen(value));
}

void mp_json_int(struct mp_json *j, const char *key, long long value)
{
	member(j, key);
	fprintf(j->f, "%lld", value);
}

void mp_json_bool(struct mp_json *j, const char *key, int value)
{
	member(j, key);
	fputs(value ? "true" : "false", j->f);
}

void mp_json_fixed(struct mp_json *j, const char *key, double value, int decimals)
{
	member(j, key);
	if (isfinite(value))
		fprintf(j->f, "%.*f", decimals, value);
	else
		fputs("null", j->f);
}

void mp_json_error(struct mp_json *j, const char *key, int code, const char *message)
{
	if (!code) {
		mp_json_string(j, key, NULL);
		return;
	}
	mp_json_begin_object(j, key);
	mp_json_int(j, "code", code);
	mp_json_string(j, "name", mp_exit_name(code));
	mp_json_string(j, "message", message ? message : "");
	mp_json_end_object(j);
}

void mp_json_error_line(FILE *f, int code, const char *message)
{
	struct mp_json j;

	mp_json_init(&j, f, 0);
	mp_json_begin_object(&j, NULL);
	mp_json_string(&j, "type", "error");
	mp_json_error(&j, "error", code, message);
	mp_json_end_object(&j);
	mp_json_finish(&j);
}

static void fatal_line(int code, const char *msg)
{
	if (code != EX_USAGE) /* the command line: for whoever wrote it, on stderr */
		mp_json_error_line(stdout, code, msg);
}

void mp_json_report_fatal(void)
{
	mp_set_die_hook(fatal_line);
}

void mp_json_finish(struct mp_json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

/* the length a UTF-8 lead byte announces; 0 for anything else */
static size_t lead_len(unsigned char c)
{
	return c >= 0xc2 && c <= 0xdf   ? 2
	       : c >= 0xe0 && c <= 0xef ? 3
	       : c >= 0xf0 && c <= 0xf4 ? 4
	                                : 0;
}

void mp_json_begin_string(struct mp_json *j, const char *key)
{
	member(j, key);
	fputc('"', j->f);
	j->npend = 0;
}

void mp_json_string_more(struct mp_json *j, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	/* first the character the last piece began */
	while (j->npend && n) {
		if ((*u & 0xc0) != 0x80) {
			escaped(j, (const char *)j->pend, j->npend); /* cut short: U+FFFD */
			j->npend = 0;
			break;
		}
		j->pend[j->npend++] = *u++;
		n--;
		if (j->npend == lead_len(j->pend[0])) {
			escaped(j, (const char *)j->pend, j->npend);
			j->npend = 0;
		}
	}
	if (j->npend)
		return; /* all of this piece went into it */
	/* a character this piece begins but does not end waits for the next */
	size_t keep = 0;
	for (size_t i = 1; i <= 3 && i <= n; i++) {
		unsigned char c = u[n - i];
		if ((c & 0xc0) == 0x80)
			continue;
		if (lead_len(c) > i)
			keep = i;
		break;
	}
	escaped(j, (const char *)u, n - keep);
	memcpy(j->pend, u + n - keep, keep);
	j->npend = keep;
}

void mp_json_end_string(struct mp_json *j)
{
	escaped(j, (const char *)j->pend, j->npend);
	j->npend = 0;
	fputc('"', j->f);
}
