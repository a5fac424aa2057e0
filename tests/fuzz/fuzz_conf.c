/* libFuzzer target: the configuration file of mailpipe(5) and the aliases
 * file, as a user (or an attacker with write access to /etc) may write
 * them. Whatever parses must be within the bounds the parser promises. */
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_conf c;
	struct mp_aliases al;
	struct mp_err e;

	mp_err_clear(&e);
	if (mp_conf_parse(&c, "fuzz", (const char *)data, size, &e) == 0) {
		for (size_t i = 0; i < c.nacc; i++) {
			const struct mp_account *a = &c.acc[i];
			if (!a->name[0] || strpbrk(a->name, " \t:") ||
			    mp_conf_account(&c, a->name) != a)
				abort();
			for (size_t k = 0; k < a->n; k++)
				if (strlen(a->kv[k].val) > MP_CONF_LINE_MAX || a->kv[k].line < 1)
					abort();
			mp_conf_get(a, "host");
		}
		mp_conf_free(&c);
	} else if (e.code != EX_CONFIG || !strstr(e.msg, "fuzz")) {
		abort();
	}
	mp_err_clear(&e);
	if (mp_aliases_parse(&al, "fuzz", (const char *)data, size, &e) == 0) {
		for (size_t i = 0; i < al.n; i++)
			if (!al.a[i].n || !al.a[i].name[0])
				abort();
		mp_aliases_find(&al, "root");
		mp_aliases_free(&al);
	} else if (e.code != EX_CONFIG) {
		abort();
	}
	return 0;
}
