/* libFuzzer target: mparse's streaming MIME walker (header blocks,
 * parameters, boundaries, nesting, transfer decodings, uuencoded blocks)
 * and its address and date parsers, on arbitrary input through a small
 * read buffer. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addr.h"
#include "date.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long long total;

static int on_header(struct mp_walker *w, struct mp_header *h)
{
	(void)w;
	for (size_t i = 0; i < h->n; i++) {
		struct mp_addrlist l;
		struct mp_date d;
		char buf[64];
		if (mp_date_parse(h->f[i].value, &d) == 0)
			for (int f = MP_DATE_ISO; f <= MP_DATE_RFC; f++) {
				mp_date_format(&d, (enum mp_date_form)f, buf, sizeof buf);
				if (strlen(buf) >= 40)
					abort();
			}
		mp_addr_parse(h->f[i].value, &l);
		for (size_t k = 0; k < l.n; k++)
			if (!l.v[k].addr || !l.v[k].name)
				abort();
		mp_addr_free(&l);
	}
	return 0;
}

static int on_data(struct mp_walker *w, struct mp_part *p, const char *s, size_t n)
{
	(void)w, (void)p, (void)s;
	total += (long long)n;
	return 0;
}

static int on_end(struct mp_walker *w, struct mp_part *p)
{
	(void)w;
	if (p->decsize < 0 || p->rawsize < 0 || strlen(p->num) >= sizeof p->num)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_walker w = {.on_header = on_header,
	                   .on_data = on_data,
	                   .on_end = on_end,
	                   .decode = 1,
	                   .uu = 1,
	                   .name = "fuzz"};
	struct mp_segr r;
	struct mp_err e;
	int fd = memfd_create("msg", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	mp_err_clear(&e);
	mp_segr_init(&r, fd, 97, &e);
	struct mp_msgsrc src = mp_segr_src(&r);
	if (mp_mime_walk(&w, &src, &e) < 0 && e.code == EX_SOFTWARE)
		abort();
	mp_segr_free(&r);
	close(fd);
	return 0;
}
