/* addr: address lists of header fields, for mparse -a. */
#ifndef MP_ADDR_H
#define MP_ADDR_H

#include <stddef.h>

struct mp_address {
	char *name; /* display name, decoded to UTF-8 ("" if none) */
	char *addr; /* local@domain as written */
};

struct mp_addrlist {
	struct mp_address *v;
	size_t n;
};

/* 0, or 1 when quotes, brackets or comments were unbalanced (what could
 * be recovered is in l anyway) */
int mp_addr_parse(const char *value, struct mp_addrlist *l);
void mp_addr_free(struct mp_addrlist *l);
void mp_addr_display(const char *addr, char *out, size_t n);

#endif
