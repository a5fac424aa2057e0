#include "json.h"

#include <string.h>

#include "hdr.h"

void mp_json_init(struct mp_json *j, FILE *f, int pretty)
{
	memset(j, 0, sizeof *j);
	j->f = f;
	j->pretty = pretty;
}

static void raw_string(struct mp_json *j, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', j->f);
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
		} else if (c < 0x80) {
			fputc((int)c, j->f);
			i++;
		} else {
			size_t l = mp_utf8_len(u + i, n - i);
			if (l) {
				fwrite(u + i, 1, l, j->f);
				i += l;
			} else {
				fputs("\xef\xbf\xbd", j->f);
				i++;
			}
		}
	}
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

void mp_json_finish(struct mp_json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
