/* dnsfault [-4|-6] [-p PORT] [-P PIDFILE] [-T DIR] MODE: a scripted misbehaving DNS
 * server for the stub resolver tests (the faults knot won't make; see README).
 * Loopback only, UDP and TCP on one port, a single-threaded poll loop. Writes
 * PIDFILE, prints "PORT=<n>", logs each query on stderr, and on SIGTERM or
 * SIGINT removes PIDFILE and exits 0.   cc -std=c17 -o dnsfault dnsfault.c */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* the modes up to M_TC send well-formed messages (set TC if too big for UDP) */
enum mode {
	M_OK,
	M_WRONGID,
	M_WRONGQ,
	M_WRONGSRC,
	M_SPOOF,
	M_SLOW,
	M_SERVFAIL,
	M_NXDOMAIN,
	M_ZONEORDER,
	M_CNAME8,
	M_CNAME9,
	M_PARTIALADD,
	M_BIGTXT,
	M_CNAMELOOP,
	M_TXT,
	M_TC,
	M_LOOP,
	M_FWDPTR,
	M_TRUNC,
	M_SHORT,
	M_SILENCE,
	M_MANYLABELS,
	M_BADLABEL,
	M_COUNTLIE,
	M_NMODES
};
static const char *const mode_names[] = {
    "ok",          "wrong-id",           "wrong-question", "wrong-source", "spoof-then-ok",
    "slow",        "servfail",           "nxdomain",       "zone-order",   "cname-8",
    "cname-9",     "partial-additional", "big-txt",        "cname-loop",   "txt",          "tc",
    "loop",        "forward-ptr",        "truncated",      "short",        "silence",
    "many-labels", "badlabel",           "count-lie"};
/* every mode has its name */
_Static_assert(sizeof mode_names / sizeof *mode_names == M_NMODES, "mode_names");

#define MAXMSG     16384 /* largest reply we build */
#define MAXQUERY   4096  /* largest TCP query we accept */
#define MAXCLIENTS 32
#define MAXPENDING 32
#define TTL        300
#define T_A        1
#define T_CNAME    5
#define T_SOA      6
#define T_PTR      12
#define T_MX       15
#define T_TXT      16
#define T_AAAA     28
#define T_OPT      41

struct query { /* qname: wire format, uncompressed, qnamelen includes the root */
	unsigned id, flags, qtype, qclass, udpsize, edns;
	size_t qnamelen;
	unsigned char qname[256];
};
struct wbuf {
	size_t len;
	int err;
	unsigned char b[MAXMSG];
};
struct peer {
	int fd, tcp;
	socklen_t salen;
	struct sockaddr_storage sa;
};
struct client {
	int fd;
	size_t have;
	struct peer pe;
	unsigned char buf[2 + MAXQUERY];
};
struct pending {
	int used;
	long long due;
	struct peer pe;
	size_t len;
	unsigned char pkt[MAXMSG];
};

static enum mode mode;
static const char *txt_dir; /* -T: txt mode's records, a file per name */
static int family = AF_INET, udp_fd = -1, udp2_fd = -1, lis_fd = -1;
static int sigpipe_fd[2] = {-1, -1};
static volatile sig_atomic_t stop;
static struct client cl[MAXCLIENTS];
static struct pending pend[MAXPENDING];
static struct wbuf wb;

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void put(struct wbuf *w, const void *p, size_t n)
{
	if (w->err || n > sizeof w->b - w->len)
		w->err = 1;
	else
		memcpy(w->b + w->len, p, n), w->len += n;
}
static void put8(struct wbuf *w, unsigned v)
{
	unsigned char c = (unsigned char)v;
	put(w, &c, 1);
}
static void put16(struct wbuf *w, unsigned v)
{
	put8(w, v >> 8 & 0xff);
	put8(w, v & 0xff);
}
static void put32(struct wbuf *w, unsigned long v)
{
	put16(w, v >> 16 & 0xffff);
	put16(w, v & 0xffff);
}
static void set16(struct wbuf *w, size_t off, unsigned v)
{
	if (off + 2 <= w->len)
		w->b[off] = (unsigned char)(v >> 8 & 0xff),
		w->b[off + 1] = (unsigned char)(v & 0xff);
}

/* "<pfx>.<name>", or just <name> if that would exceed 255 octets */
static void put_name(struct wbuf *w, const char *pfx, const unsigned char *name, size_t len)
{
	size_t pl = strlen(pfx);

	if (pl && pl <= 63 && pl + 1 + len <= 255)
		put8(w, (unsigned)pl), put(w, pfx, pl);
	put(w, name, len);
}

/* RR owned by the question name (pointer to offset 12); returns rdata start */
static size_t rr_begin(struct wbuf *w, unsigned type)
{
	put16(w, 0xC00C), put16(w, type), put16(w, 1), put32(w, TTL), put16(w, 0);
	return w->len;
}
static void rr_end(struct wbuf *w, size_t rdata)
{
	set16(w, rdata - 2, (unsigned)(w->len - rdata));
}

static void header(struct wbuf *w, const struct query *q, unsigned rcode)
{
	w->len = 0, w->err = 0;
	put16(w, q->id); /* QR, AA; opcode and RD echoed; no RA (like knot) */
	put16(w, 0x8000 | (q->flags & 0x7900) | 0x0400 | rcode);
	put16(w, 1), put16(w, 0), put16(w, 0), put16(w, 0);
	put(w, q->qname, q->qnamelen), put16(w, q->qtype), put16(w, q->qclass);
}

static void put_opt(struct wbuf *w, const struct query *q)
{
	if (q->edns) {
		put8(w, 0), put16(w, T_OPT), put16(w, 1232), put32(w, 0), put16(w, 0);
		set16(w, 10, get16(w->b + 10) + 1);
	}
}

/* the correct answer section; force: an MX answer even for other qtypes */
static void answers(struct wbuf *w, const struct query *q, int nmx, int force)
{
	static const unsigned char v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
	unsigned t = q->qtype, n = 0;
	size_t m;
	char pfx[16];

	if (force && t != T_A && t != T_AAAA)
		t = T_MX;
	if (t == T_MX) {
		for (int i = 1; i <= nmx; i++, n++) {
			m = rr_begin(w, T_MX);
			snprintf(pfx, sizeof pfx, "mx%d", i);
			put16(w, 10u * (unsigned)i), put_name(w, pfx, q->qname, q->qnamelen);
			rr_end(w, m);
		}
	} else if (t == T_A || t == T_AAAA) {
		m = rr_begin(w, t);
		put(w, t == T_A ? v4 : v6, t == T_A ? 4 : 16), rr_end(w, m), n = 1;
	}
	set16(w, 6, n);
}

/* MX in zone order, not by preference: 10 mx1..mx4, 20 mx5, 5 mx6 */
static void zone_order(struct wbuf *w, const struct query *q)
{
	static const unsigned pref[] = {10, 10, 10, 10, 20, 5};
	char pfx[16];

	if (q->qtype != T_MX) {
		answers(w, q, 0, 0);
		return;
	}
	for (unsigned i = 0; i < 6; i++) {
		size_t m = rr_begin(w, T_MX);
		snprintf(pfx, sizeof pfx, "mx%u", i + 1);
		put16(w, pref[i]), put_name(w, pfx, q->qname, q->qnamelen);
		rr_end(w, m);
	}
	set16(w, 6, 6);
}

/* qname CNAME c1.qname, c1 CNAME c2.qname, ... cN.qname MX 10 mx1.qname */
static void cname_chain(struct wbuf *w, const struct query *q, unsigned steps)
{
	char pfx[16];
	size_t m;

	if (q->qtype != T_MX) {
		answers(w, q, 0, 0);
		return;
	}
	for (unsigned i = 0; i <= steps; i++) {
		if (i == 0) {
			m = rr_begin(w, T_CNAME);
		} else {
			snprintf(pfx, sizeof pfx, "c%u", i);
			put_name(w, pfx, q->qname, q->qnamelen);
			put16(w, i == steps ? T_MX : T_CNAME), put16(w, 1), put32(w, TTL),
			    put16(w, 0);
			m = w->len;
		}
		if (i == steps) {
			put16(w, 10), put_name(w, "mx1", q->qname, q->qnamelen);
		} else {
			snprintf(pfx, sizeof pfx, "c%u", i + 1);
			put_name(w, pfx, q->qname, q->qnamelen);
		}
		rr_end(w, m);
	}
	set16(w, 6, steps + 1);
}

/* 17 MX hosts mxN.qname; the additional section holds A for mx1..mx8 only
 * and no AAAA, as an authoritative server fills it while 1,232 bytes last */
static void partial_additional(struct wbuf *w, const struct query *q)
{
	static const unsigned char v4[4] = {127, 0, 0, 1};
	char pfx[16];
	size_t m;

	if (q->qtype != T_MX) {
		answers(w, q, 0, 0);
		return;
	}
	for (unsigned i = 1; i <= 17; i++) {
		m = rr_begin(w, T_MX);
		snprintf(pfx, sizeof pfx, "mx%u", i);
		put16(w, 10 * i), put_name(w, pfx, q->qname, q->qnamelen);
		rr_end(w, m);
	}
	for (unsigned i = 1; i <= 8; i++) {
		snprintf(pfx, sizeof pfx, "mx%u", i);
		put_name(w, pfx, q->qname, q->qnamelen);
		put16(w, T_A), put16(w, 1), put32(w, TTL), put16(w, 4), put(w, v4, 4);
	}
	set16(w, 6, 17), set16(w, 10, 8);
}

/* the zone is the question name minus its first label */
static const unsigned char *zone_of(const struct query *q, size_t *zlen)
{
	const unsigned char *zone = q->qname;

	*zlen = q->qnamelen;
	if (zone[0])
		*zlen -= 1u + zone[0], zone += 1u + zone[0];
	return zone;
}

/* is the question name's first label s? */
static int first_label_is(const struct query *q, const char *s)
{
	size_t n = strlen(s);

	return q->qname[0] == n && strncasecmp((const char *)q->qname + 1, s, n) == 0;
}

/* a TXT record of 2,048 octets, head and tail around letters, in
 * character-strings of 255 at most */
static void put_big_txt(struct wbuf *w, const char *head, const char *tail)
{
	static char txt[2049];
	size_t len = sizeof txt - 1, hl = strlen(head), tl = strlen(tail), m;

	memcpy(txt, head, hl);
	for (size_t i = hl; i < len - tl; i++)
		txt[i] = (char)('a' + i % 26);
	memcpy(txt + len - tl, tail, tl);
	m = rr_begin(w, T_TXT);
	for (size_t off = 0; off < len; off += 255) {
		size_t n = len - off < 255 ? len - off : 255;
		put8(w, (unsigned)n), put(w, txt + off, n);
	}
	rr_end(w, m);
}

/* 2,048 octets of TXT: for _mta-sts.<zone> an STSv1 record whose id comes
 * last, for _dmarc.<zone> a DMARC record, for the zone's own name two SPF
 * records (a short one, then one of 2,048 octets: the second of them is
 * long); other names have none (NODATA); the rest is "ok" */
static void big_txt(struct wbuf *w, const struct query *q)
{
	static const char spf[] = "v=spf1 -all";
	size_t m;

	if (q->qtype != T_TXT) {
		answers(w, q, 2, 0);
		return;
	}
	if (first_label_is(q, "_mta-sts")) {
		put_big_txt(w, "v=STSv1; x-pad=", "; id=big2k");
	} else if (first_label_is(q, "_dmarc")) {
		put_big_txt(w, "v=DMARC1; p=none; x-pad=", "; x-end=yes");
	} else if (q->qname[0] && q->qname[1 + q->qname[0]] &&
	           q->qname[2 + q->qname[0] + q->qname[1 + q->qname[0]]] == 0) {
		m = rr_begin(w, T_TXT); /* a name of two labels: the zone's own */
		put8(w, sizeof spf - 1), put(w, spf, sizeof spf - 1);
		rr_end(w, m);
		put_big_txt(w, "v=spf1 x-pad=", " -all");
		set16(w, 6, 2);
		return;
	} else {
		return;
	}
	set16(w, 6, 1);
}

/* MX 10 mx1.<qname>, 20 mx2.<qname>; mx1.<zone> CNAME loop.<zone> and
 * loop.<zone> CNAME mx1.<zone>, both in each answer for either name;
 * everything else as in "ok" */
static void cname_loop(struct wbuf *w, const struct query *q)
{
	const unsigned char *zone;
	const char *other;
	size_t zlen, m;

	if (q->qtype == T_MX || !(first_label_is(q, "mx1") || first_label_is(q, "loop"))) {
		answers(w, q, 2, 0);
		return;
	}
	zone = zone_of(q, &zlen);
	other = first_label_is(q, "mx1") ? "loop" : "mx1";
	m = rr_begin(w, T_CNAME);
	put_name(w, other, zone, zlen), rr_end(w, m);
	put_name(w, other, zone, zlen), put16(w, T_CNAME), put16(w, 1), put32(w, TTL), put16(w, 0);
	m = w->len;
	put(w, q->qname, q->qnamelen), rr_end(w, m);
	set16(w, 6, 2);
}

/* the SOA of the zone, for an NXDOMAIN answer's authority section */
static void soa(struct wbuf *w, const struct query *q)
{
	size_t zlen, m;
	const unsigned char *zone = zone_of(q, &zlen);

	put(w, zone, zlen), put16(w, T_SOA), put16(w, 1), put32(w, TTL), put16(w, 0);
	m = w->len;
	put_name(w, "ns", zone, zlen), put_name(w, "hostmaster", zone, zlen);
	put32(w, 1), put32(w, 3600), put32(w, 600), put32(w, 86400), put32(w, TTL);
	rr_end(w, m), set16(w, 8, 1);
}

/* a name in presentation form, uncompressed; 0, or -1 if it is no name */
static int put_text_name(struct wbuf *w, const char *s)
{
	size_t total = 0;

	if (strcmp(s, ".") == 0)
		s = ""; /* the root: a null MX's host (RFC 7505) */
	while (*s) {
		size_t l = strcspn(s, ".");
		if (!l || l > 63 || (total += l + 1) > 254)
			return -1;
		put8(w, (unsigned)l), put(w, s, l);
		s += l;
		if (*s == '.')
			s++;
	}
	put8(w, 0);
	return 0;
}

/* a TXT rdata of text: 255-octet character-strings */
static void put_txt(struct wbuf *w, const unsigned char *text, size_t got)
{
	for (size_t o = 0; o < got || o == 0; o += 255) {
		size_t l = got - o < 255 ? got - o : 255;
		put8(w, (unsigned)l), put(w, text + o, l);
		if (!got)
			break;
	}
}

/* one record of type t from a line of DIR/TYPE/NAME; addresses must be
 * loopback (127.0.0.0/8, ::1): others are refused, not served */
static int put_line(struct wbuf *w, unsigned t, char *line)
{
	unsigned char a[16];
	size_t m, len = strlen(line);
	unsigned pref;
	char host[256];

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (t == T_A && (inet_pton(AF_INET, line, a) != 1 || a[0] != 127))
		return 0;
	if (t == T_AAAA && (inet_pton(AF_INET6, line, a) != 1 ||
	                    memcmp(a, (unsigned char[16]){[15] = 1}, 16) != 0))
		return 0;
	if (t == T_MX && sscanf(line, "%u %255s", &pref, host) != 2)
		return 0;
	m = rr_begin(w, t);
	if (t == T_A || t == T_AAAA)
		put(w, a, t == T_A ? 4 : 16);
	else if (t == T_MX)
		put16(w, pref), w->err |= put_text_name(w, host) < 0;
	else if (t == T_PTR)
		w->err |= put_text_name(w, line) < 0;
	else
		put_txt(w, (const unsigned char *)line, len);
	rr_end(w, m);
	return 1;
}

/* txt mode: the TXT record of the question name is the text of the file
 * DIR/NAME (lower case, no final dot), read at each query so that a test
 * can change it; and the records of DIR/TYPE/NAME (TYPE: A, AAAA, MX,
 * PTR, TXT), a line each. A name with no file of any type: NXDOMAIN (0);
 * else 1, with no answer when none is of the type asked for */
static int txt_answer(struct wbuf *w, const struct query *q)
{
	static const struct {
		const char *dir;
		unsigned t;
	} types[] = {{"A", T_A}, {"AAAA", T_AAAA}, {"MX", T_MX}, {"PTR", T_PTR}, {"TXT", T_TXT}};
	char name[300], path[4400], line[4096];
	unsigned char text[4096];
	size_t n = 0, got, m;
	unsigned nan = 0;
	int exists = 0;
	FILE *f;

	for (size_t i = 0; q->qname[i] && i + 1 + q->qname[i] < q->qnamelen;
	     i += 1u + q->qname[i]) {
		for (unsigned k = 1; k <= q->qname[i] && n + 2 < sizeof name; k++) {
			unsigned char c = q->qname[i + k];
			name[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c == '/' ? '_' : c);
		}
		name[n++] = '.';
	}
	name[n ? n - 1 : 0] = '\0';
	if (!txt_dir || !n || name[0] == '.')
		return 0;
	for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
		snprintf(path, sizeof path, "%s/%s/%s", txt_dir, types[k].dir, name);
		if (!(f = fopen(path, "r")))
			continue;
		exists = 1;
		while (types[k].t == q->qtype && fgets(line, sizeof line, f))
			nan += (unsigned)put_line(w, q->qtype, line);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/%s", txt_dir, name);
	if ((f = fopen(path, "rb"))) {
		exists = 1;
		got = fread(text, 1, sizeof text, f);
		fclose(f);
		while (got && (text[got - 1] == '\n' || text[got - 1] == '\r'))
			got--;
		if (q->qtype == T_TXT) {
			m = rr_begin(w, T_TXT);
			put_txt(w, text, got);
			rr_end(w, m), nan++;
		}
	}
	set16(w, 6, nan);
	if (exists && !nan)
		soa(w, q); /* no data */
	return exists;
}

/* header + question only, TC set (and OPT again if asked for) */
static void tc_cut(struct wbuf *w, const struct query *q)
{
	w->len = 12 + q->qnamelen + 4, w->b[2] |= 0x02;
	set16(w, 6, 0), set16(w, 8, 0), set16(w, 10, 0), put_opt(w, q);
}

/* "x" prepended to the first label (or its first octet changed) */
static void mangle_name(struct query *q)
{
	unsigned l = q->qname[0];

	if (l == 0) {
		memcpy(q->qname, "\1x", 3), q->qnamelen = 3;
	} else if (l < 63 && q->qnamelen < 255) {
		memmove(q->qname + 2, q->qname + 1, q->qnamelen - 1);
		q->qname[0] = (unsigned char)(l + 1), q->qname[1] = 'x', q->qnamelen++;
	} else {
		q->qname[1] = (q->qname[1] | 0x20) == 'x' ? 'y' : 'x';
	}
}

static void build(struct wbuf *w, const struct query *q0, int tcp)
{
	struct query q = *q0;
	size_t m, p;

	if (mode == M_WRONGQ)
		mangle_name(&q);
	if (mode == M_TXT) {
		header(w, &q, 0);
		if (!txt_answer(w, &q))
			header(w, &q, 3), soa(w, &q);
		put_opt(w, &q);
		if (!tcp && w->len > (q.edns ? q.udpsize : 512))
			tc_cut(w, &q);
		return;
	}
	header(w, &q, mode == M_SERVFAIL ? 2 : mode == M_NXDOMAIN ? 3 : 0);
	switch (mode) {
	case M_SERVFAIL: break;
	case M_NXDOMAIN: soa(w, &q); break;
	case M_LOOP: /* exchange = pointer to itself */
		m = rr_begin(w, T_MX);
		put16(w, 10), put16(w, 0xC000 | (unsigned)w->len);
		rr_end(w, m), set16(w, 6, 1);
		break;
	case M_FWDPTR: /* exchange = pointer to just past the end of the packet */
		m = rr_begin(w, T_MX);
		put16(w, 10), p = w->len, put16(w, 0);
		rr_end(w, m), set16(w, 6, 1), put_opt(w, &q);
		set16(w, p, 0xC000 | (unsigned)w->len);
		return;
	case M_MANYLABELS: /* 130 one-octet labels: 261 octets */
		m = rr_begin(w, T_MX);
		put16(w, 10);
		for (int i = 0; i < 130; i++)
			put8(w, 1), put8(w, 'a' + (unsigned)i % 26);
		put8(w, 0), rr_end(w, m), set16(w, 6, 1);
		break;
	case M_BADLABEL: /* label types 0x40 and 0x80 */
		for (unsigned i = 1; i <= 2; i++) {
			m = rr_begin(w, T_MX);
			put16(w, 10 * i), put8(w, (i == 1 ? 0x40 : 0x80) | 3);
			put(w, i == 1 ? "mx1" : "mx2", 3), put(w, q.qname, q.qnamelen);
			rr_end(w, m);
		}
		set16(w, 6, 2);
		break;
	case M_COUNTLIE: /* one RR, no OPT */ answers(w, &q, 1, 1), set16(w, 6, 50); return;
	case M_TRUNC: /* cut 3 octets into the first RR's rdata */
		p = w->len, answers(w, &q, 2, 1), w->len = p + 12 + 3;
		return;
	case M_SHORT: answers(w, &q, 2, 1), w->len = 7; return;
	case M_TC: answers(w, &q, 40, 0); break;
	case M_ZONEORDER: zone_order(w, &q); break;
	case M_CNAME8: cname_chain(w, &q, 8); break;
	case M_CNAME9: cname_chain(w, &q, 9); break;
	case M_PARTIALADD: partial_additional(w, &q); break;
	case M_BIGTXT: big_txt(w, &q); break;
	case M_CNAMELOOP: cname_loop(w, &q); break;
	default: answers(w, &q, 2, 0); break;
	}
	put_opt(w, &q);
	if (!tcp && mode <= M_TC && (mode == M_TC || w->len > (q.edns ? q.udpsize : 512)))
		tc_cut(w, &q);
	if (mode == M_WRONGID)
		set16(w, 0, q.id ^ 0x5555);
}

static int parse(const unsigned char *p, size_t n, struct query *q)
{
	size_t pos = 12, nl = 0;

	if (n < 12 || (p[2] & 0x80) || get16(p + 4) != 1)
		return -1; /* short, a response, or not one question */
	q->id = get16(p), q->flags = get16(p + 2);
	for (;;) {
		unsigned l;

		if (pos >= n || (l = p[pos]) > 63)
			return -1; /* no compression or other label types in queries */
		if (l == 0) {
			q->qname[nl++] = 0, pos++;
			break;
		}
		if (nl + l + 2 > 255 || pos + 1 + l > n)
			return -1;
		memcpy(q->qname + nl, p + pos, 1 + l), nl += 1 + l, pos += 1 + l;
	}
	if (pos + 4 > n)
		return -1;
	q->qnamelen = nl, q->qtype = get16(p + pos), q->qclass = get16(p + pos + 2);
	pos += 4, q->edns = 0, q->udpsize = 512;
	if (get16(p + 6) == 0 && get16(p + 8) == 0 && get16(p + 10) >= 1 && pos + 11 <= n &&
	    p[pos] == 0 && get16(p + pos + 1) == T_OPT) {
		q->edns = 1, q->udpsize = get16(p + pos + 3);
		if (q->udpsize < 512)
			q->udpsize = 512;
	}
	return 0;
}

static void name_text(const unsigned char *n, char *out, size_t cap)
{
	size_t o = 0;

	if (!*n)
		snprintf(out, cap, ".");
	while (*n && o + 6 < cap) {
		for (unsigned l = *n++; l > 0 && o + 6 < cap; l--, n++) {
			if (*n > 0x20 && *n < 0x7f && *n != '.' && *n != '\\')
				out[o++] = (char)*n;
			else
				o += (size_t)snprintf(out + o, cap - o, "\\%03u", *n);
		}
		out[o++] = '.', out[o] = 0;
	}
}

static unsigned sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;
	const struct sockaddr_in *s4 = (const void *)ss;
	int v6 = ss->ss_family == AF_INET6;
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(ss->ss_family, v6 ? (const void *)&s6->sin6_addr : (const void *)&s4->sin_addr, a,
	          sizeof a);
	snprintf(buf, cap, "%s%s%s:%u", v6 ? "[" : "", a, v6 ? "]" : "", sa_port(ss));
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void send_msg(const struct peer *pe, int fd, const unsigned char *p, size_t n)
{
	static unsigned char fr[2 + MAXMSG];
	size_t off = 0;

	if (pe->tcp) {
		fr[0] = (unsigned char)(n >> 8), fr[1] = (unsigned char)n;
		memcpy(fr + 2, p, n), p = fr, n += 2;
	}
	while (off < n) {
		ssize_t r = pe->tcp
		                ? send(fd, p + off, n - off, 0)
		                : sendto(fd, p, n, 0, (const struct sockaddr *)&pe->sa, pe->salen);
		if (r < 0 && errno != EINTR) {
			perror("dnsfault: send");
			return;
		}
		off += r > 0 ? (size_t)r : 0;
	}
}

static void respond(const struct peer *pe, const unsigned char *p, size_t n)
{
	struct query q;
	char name[1100], tb[16], from[INET6_ADDRSTRLEN + 16];
	const char *proto = pe->tcp ? "tcp" : "udp", *tn;

	addr_text(&pe->sa, from, sizeof from);
	if (parse(p, n, &q) < 0) {
		fprintf(stderr, "dnsfault: %s: bad query (%zu bytes) from %s over %s, ignored\n",
		        mode_names[mode], n, from, proto);
		return;
	}
	name_text(q.qname, name, sizeof name);
	snprintf(tb, sizeof tb, "TYPE%u", q.qtype);
	tn = q.qtype == T_A      ? "A"
	     : q.qtype == T_AAAA ? "AAAA"
	     : q.qtype == T_MX   ? "MX"
	     : q.qtype == T_SOA  ? "SOA"
	     : q.qtype == T_TXT  ? "TXT"
	     : q.qtype == 255    ? "ANY"
	                         : tb;
	fprintf(stderr, "dnsfault: %s: query %u %s %s from %s over %s\n", mode_names[mode], q.id,
	        name, tn, from, proto);
	build(&wb, &q, pe->tcp);
	if (mode == M_SILENCE || wb.err) /* wb.err: can't happen, replies stay < 12 KB */
		return;
	if (mode == M_SLOW) {
		for (int i = 0; i < MAXPENDING; i++) {
			struct pending *d = &pend[i];
			if (!d->used) {
				d->used = 1, d->due = now_ms() + 1500, d->pe = *pe, d->len = wb.len;
				memcpy(d->pkt, wb.b, wb.len);
				return;
			}
		}
		fprintf(stderr, "dnsfault: too many delayed replies, dropped\n");
		return;
	}
	if (mode == M_SPOOF) {
		set16(&wb, 0, q.id ^ 0x5555);
		send_msg(pe, pe->fd, wb.b, wb.len);
		set16(&wb, 0, q.id);
	}
	send_msg(pe, mode == M_WRONGSRC && !pe->tcp ? udp2_fd : pe->fd, wb.b, wb.len);
}

/* send what is due; returns the poll timeout until the next one (-1: none) */
static int run_pending(void)
{
	long long best = -1, now = now_ms();

	for (int i = 0; i < MAXPENDING; i++) {
		struct pending *d = &pend[i];
		long long ms = d->due - now;

		if (!d->used)
			continue;
		if (ms <= 0)
			d->used = 0, send_msg(&d->pe, d->pe.fd, d->pkt, d->len);
		else if (best < 0 || ms < best)
			best = ms;
	}
	return (int)best;
}

static void drop_client(struct client *c)
{
	for (int i = 0; i < MAXPENDING; i++)
		if (pend[i].used && pend[i].pe.tcp && pend[i].pe.fd == c->fd)
			pend[i].used = 0;
	close(c->fd), c->fd = -1;
}

static void client_read(struct client *c)
{
	ssize_t r = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);

	if (r <= 0) {
		if (r == 0 || errno != EINTR)
			drop_client(c);
		return;
	}
	c->have += (size_t)r;
	while (c->have >= 2) {
		size_t m = get16(c->buf);

		if (m == 0 || m > MAXQUERY) {
			fprintf(stderr, "dnsfault: %s: bad tcp length %zu, closing\n",
			        mode_names[mode], m);
			drop_client(c);
			return;
		}
		if (c->have < 2 + m)
			break;
		respond(&c->pe, c->buf + 2, m);
		memmove(c->buf, c->buf + 2 + m, c->have - 2 - m), c->have -= 2 + m;
	}
}

static void tcp_accept(void)
{
	struct peer pe = {.tcp = 1, .salen = sizeof pe.sa};
	struct timeval tv = {2, 0};

	pe.fd = accept(lis_fd, (struct sockaddr *)&pe.sa, &pe.salen);
	if (pe.fd < 0)
		return;
	for (int i = 0; i < MAXCLIENTS; i++) {
		if (cl[i].fd >= 0)
			continue;
		fcntl(pe.fd, F_SETFL, fcntl(pe.fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(pe.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		cl[i].fd = pe.fd, cl[i].have = 0, cl[i].pe = pe;
		return;
	}
	fprintf(stderr, "dnsfault: too many tcp clients, closing a new one\n");
	close(pe.fd);
}

static void udp_read(void)
{
	static unsigned char buf[65536];
	struct peer pe = {.fd = udp_fd, .salen = sizeof pe.sa};
	ssize_t r = recvfrom(udp_fd, buf, sizeof buf, 0, (struct sockaddr *)&pe.sa, &pe.salen);

	if (r >= 0)
		respond(&pe, buf, (size_t)r);
}

static int open_sock(int type, unsigned port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1, e;

	if (family == AF_INET6) {
		struct sockaddr_in6 *s = (void *)&ss;
		s->sin6_family = AF_INET6, s->sin6_port = htons((unsigned short)port);
		s->sin6_addr = in6addr_loopback, len = sizeof *s;
	} else {
		struct sockaddr_in *s = (void *)&ss;
		s->sin_family = AF_INET, s->sin_port = htons((unsigned short)port);
		s->sin_addr.s_addr = htonl(INADDR_LOOPBACK), len = sizeof *s;
	}
	if ((fd = socket(family, type, 0)) < 0)
		return -1;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM &&
	     (listen(fd, 16) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0))) {
		e = errno, close(fd), errno = e;
		return -1;
	}
	return fd;
}

static unsigned sock_port(int fd)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = sizeof ss;

	return getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ? 0 : sa_port(&ss);
}

static void on_signal(int sig)
{
	int e = errno;
	ssize_t r;

	(void)sig, stop = 1;
	r = write(sigpipe_fd[1], "", 1);
	(void)r, errno = e;
}

static void usage(void)
{
	fprintf(stderr, "usage: dnsfault [-4|-6] [-p PORT] [-P PIDFILE] [-T DIR] MODE\nmodes:");
	for (int i = 0; i < M_NMODES; i++)
		fprintf(stderr, " %s", mode_names[i]);
	fprintf(stderr, "\n");
	exit(2);
}

/* Die with the test that started us, even when it is SIGKILLed (meson kills
 * a bats file that runs past its timeout): the kernel sends SIGTERM when the
 * parent goes; a parent gone before we asked shows as a changed getppid(). */
static void die_with_parent(void)
{
	pid_t parent = getppid();

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1);
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	unsigned port = 0;
	int c, i;
	long v;
	char *end;
	struct sigaction sa = {0};

	die_with_parent();
	while ((c = getopt(argc, argv, "46p:P:T:")) != -1) {
		if (c == '4' || c == '6')
			family = c == '4' ? AF_INET : AF_INET6;
		else if (c == 'p' && (v = strtol(optarg, &end, 10)) >= 0 && v <= 65535 && *optarg &&
		         !*end)
			port = (unsigned)v;
		else if (c == 'P')
			pidfile = optarg;
		else if (c == 'T')
			txt_dir = optarg;
		else
			usage();
	}
	if (optind != argc - 1)
		usage();
	for (i = 0; i < M_NMODES && strcmp(argv[optind], mode_names[i]) != 0; i++)
		;
	if (i == M_NMODES)
		usage();
	mode = (enum mode)i;

	for (int tries = 0;; tries++) {
		int e;

		if ((udp_fd = open_sock(SOCK_DGRAM, port)) < 0)
			die("dnsfault: udp bind");
		if ((lis_fd = open_sock(SOCK_STREAM, sock_port(udp_fd))) >= 0)
			break;
		e = errno, close(udp_fd), errno = e; /* port 0: UDP's port taken for TCP */
		if (port != 0 || e != EADDRINUSE || tries >= 50)
			die("dnsfault: tcp bind");
	}
	if ((udp2_fd = open_sock(SOCK_DGRAM, 0)) < 0 || pipe(sigpipe_fd) < 0)
		die("dnsfault: socket");
	fcntl(sigpipe_fd[0], F_SETFL, O_NONBLOCK), fcntl(sigpipe_fd[1], F_SETFL, O_NONBLOCK);
	sa.sa_handler = on_signal, sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL), sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN, sigaction(SIGPIPE, &sa, NULL);
	for (i = 0; i < MAXCLIENTS; i++)
		cl[i].fd = -1;

	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0)
			die(pidfile);
	}
	printf("PORT=%u\n", sock_port(udp_fd));
	fflush(stdout);

	while (!stop) {
		struct pollfd pfd[3 + MAXCLIENTS];
		int timeout = run_pending();

		pfd[0] = (struct pollfd){.fd = sigpipe_fd[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = udp_fd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = lis_fd, .events = POLLIN};
		for (i = 0; i < MAXCLIENTS; i++) /* poll(2) skips negative fds */
			pfd[3 + i] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
		if (poll(pfd, 3 + MAXCLIENTS, timeout) < 0 && errno != EINTR)
			die("dnsfault: poll");
		if (stop || pfd[0].revents)
			break;
		run_pending();
		if (pfd[1].revents & POLLIN)
			udp_read();
		for (i = 0; i < MAXCLIENTS; i++) /* before accept: slots may be reused */
			if (pfd[3 + i].revents && cl[i].fd >= 0)
				client_read(&cl[i]);
		if (pfd[2].revents & POLLIN)
			tcp_accept();
	}
	if (pidfile)
		unlink(pidfile);
	fprintf(stderr, "dnsfault: %s: exiting\n", mode_names[mode]);
	return 0;
}
