/* addr: address lists of header fields, for mparse -a. */
#ifndef MPARSE_ADDR_H
#define MPARSE_ADDR_H

#include <stddef.h>

struct address {
	char *name; /* display name, decoded to UTF-8 ("" if none) */
	char *addr; /* local@domain as written */
};

struct addrlist {
	struct address *v;
	size_t n;
};

/* 0, or 1 when quotes, brackets or comments were unbalanced (what could
 * be recovered is in l anyway) */
int addr_parse(const char *value, struct addrlist *l);
void addr_free(struct addrlist *l);
void addr_display(const char *addr, char *out, size_t n);

#endif
