/* mmx: where does mail for a domain go? MX hosts in the order a sender
 * tries them, their addresses and TTLs, and what is odd about them. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "json.h"
#include "mx.h"
#include "policy.h"
#include "probe.h"
#include "util.h"

struct opts {
	int shortout, json, verbose, probe, policy, tcp;
	struct probe_opts po;
	struct policy_opts pol;
	unsigned flags;
	const char *server;
	int port;
	long timeout, retries; /* -1: not given */
	char **names;          /* the domains asked about */
	size_t n, cap;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [-s | -j] [-4 | -6] [-@ SERVER] [-p PORT] [--tcp] [--timeout S]\n"
	        "          [--retries N] DOMAIN|ADDRESS|@SERVER|- ...\n"
	        "Show where mail for each domain goes: MX hosts in the order a sender tries\n"
	        "them (RFC 5321 5.1), their addresses and TTLs. '-' reads domains from stdin.\n\n"
	        "  -s, --short           host names only, in order, one per line\n"
	        "  -j, --json            JSON Lines, a line a domain (also --probe, --policy)\n"
	        "  -4, -6                IPv4 or IPv6 addresses only\n"
	        "  -@, --server ADDR     ask this DNS server (ADDR[:PORT], [v6]:PORT);\n"
	        "      --dns-server ADDR  the same, as msend spells it\n"
	        "  -p, --port PORT       its port (default 53)\n"
	        "      --tcp             ask over TCP\n"
	        "      --timeout S       seconds per try (default: resolv.conf, else 5)\n"
	        "      --retries N       tries per server (default: resolv.conf, else 2)\n"
	        "      --no-shuffle      keep equal preferences in the order of the answer\n"
	        "      --probe           talk SMTP to every address: banner, EHLO, STARTTLS,\n"
	        "                        certificate, PTR; QUIT, never mail\n"
	        "      --smtp-port PORT  port for --probe (default 25)\n"
	        "      --ca-file FILE    CA certificates to verify with (default: system)\n"
	        "      --tlsa            with --probe: TLSA records and a DANE check\n"
	        "      --helo NAME       EHLO name for --probe (default: this host)\n"
	        "      --policy          MTA-STS (policy fetched over verified HTTPS), TLS-RPT,\n"
	        "                        SPF, DMARC, and problems with the MX set\n"
	        "      --sts-addr H:P    fetch the MTA-STS policy from H:P instead of\n"
	        "                        mta-sts.DOMAIN:443 (names are still verified)\n"
	        "  -v, --verbose         the SMTP dialogue of --probe, AD, ignored answers\n"
	        "  -h, --help            this help\n"
	        "  -V, --version         version\n",
	        mp_progname());
}

static const char *addr_text(const struct mp_mx_addr *a, char *buf, size_t n)
{
	inet_ntop(a->family, a->addr, buf, (socklen_t)n);
	return buf;
}

static const char *shown(const char *a, const char *u, char *buf, size_t n)
{
	size_t l = strlen(a);

	if (l > 1 && a[l - 1] == '.')
		l--;
	if (u[0]) {
		size_t ul = strlen(u);
		if (ul > 1 && u[ul - 1] == '.')
			ul--;
		snprintf(buf, n, "%.*s (%.*s)", (int)ul, u, (int)l, a);
	} else {
		snprintf(buf, n, "%.*s", (int)l, a);
	}
	return buf;
}

/* -v: what a failed lookup most needs too */
static void print_verbose(const struct mp_mx *m, const struct mp_resolver *r, const struct opts *o)
{
	if (o->verbose)
		printf("  note: answer %sauthenticated (AD %s); %ld foreign answers ignored\n",
		       m->ad ? "" : "not ", m->ad ? "set" : "clear", r->spoofed);
	else if (m->ad)
		printf("  note: the answer was authenticated (AD)\n");
}

static void print_text(const struct mp_mx *m, const struct mp_resolver *r, const struct opts *o)
{
	char b1[2 * MP_DNS_NAMEMAX + 8], b2[2 * MP_DNS_NAMEMAX + 8], ab[64];

	shown(m->domain, m->udomain, b1, sizeof b1);
	/* a verdict alone, unless there are MX hosts to show first */
	if (m->status != MP_MX_OK && (m->nhosts == 0 || m->implicit || m->status == MP_MX_NULL)) {
		printf("%s: %s%s%s\n", b1, mp_mx_status_text(m->status), m->err[0] ? ": " : "",
		       m->err);
		if (m->problem[0])
			printf("  problem: %s\n", m->problem);
		if (o->verbose)
			print_verbose(m, r, o);
		return;
	}
	if (m->implicit)
		printf("%s: no MX record: mail goes to the domain's own address (implicit MX)\n",
		       b1);
	else
		printf("%s: %zu MX, in the order a sender tries them\n", b1, m->nhosts);
	if (m->canon[0])
		printf("  note: %s is an alias (CNAME) of %s\n", m->domain,
		       shown(m->canon, "", b2, sizeof b2));
	for (size_t i = 0; i < m->nhosts; i++) {
		const struct mp_mx_host *h = &m->hosts[i];
		shown(h->name, h->uname, b2, sizeof b2);
		if (m->implicit)
			printf("  %s\n", b2);
		else
			printf("  %-4u %s  TTL %u\n", h->pref, b2, h->ttl);
		for (size_t k = 0; k < h->naddrs; k++)
			printf("         %-39s TTL %u\n", addr_text(&h->addrs[k], ab, sizeof ab),
			       h->addrs[k].ttl);
		if (h->cname)
			printf("         note: %s is an alias (CNAME); RFC 5321 5.1 wants the "
			       "real name\n",
			       shown(h->name, "", b2, sizeof b2));
		if (h->status)
			printf("         no address: %s\n", h->err);
		else if (!h->naddrs)
			printf("         no address%s\n",
			       (o->flags & (MP_MX_V4 | MP_MX_V6)) == MP_MX_V4   ? " (IPv4)"
			       : (o->flags & (MP_MX_V4 | MP_MX_V6)) == MP_MX_V6 ? " (IPv6)"
			                                                        : "");
	}
	if (m->problem[0])
		printf("  problem: %s\n", m->problem);
	if (m->truncated)
		printf("  note: a UDP answer was truncated; asked again over TCP\n");
	if (m->status != MP_MX_OK)
		printf("  => %s: %s\n", mp_mx_status_text(m->status), m->err);
	print_verbose(m, r, o);
}

static const char *nodot(const char *s, char *buf, size_t n)
{
	size_t l = strlen(s);

	snprintf(buf, n, "%.*s", (int)(l > 1 && s[l - 1] == '.' ? l - 1 : l), s);
	return buf;
}

/* the exit status a lookup's outcome stands for (a domain's, a host's) */
static int exit_code(int status)
{
	switch (status) {
	case MP_MX_OK: return 0;
	case MP_MX_SERVFAIL:
	case MP_MX_TIMEOUT: return EX_TEMPFAIL;
	case MP_MX_BADNAME: return EX_DATAERR;
	default: return EX_NOHOST;
	}
}

/* -j: one line for a name */
static void print_json(struct mp_json *j, const struct mp_mx *m)
{
	char ab[64], b1[MP_DNS_NAMEMAX], b2[MP_DNS_NAMEMAX];

	mp_json_begin_object(j, NULL);
	mp_json_string(j, "type", "mx");
	mp_json_string(j, "domain", m->domain);
	mp_json_string(j, "domain_unicode", m->udomain[0] ? m->udomain : m->domain);
	mp_json_string(j, "status",
	               m->status == MP_MX_OK         ? "ok"
	               : m->status == MP_MX_NULL     ? "null-mx"
	               : m->status == MP_MX_NXDOMAIN ? "nxdomain"
	               : m->status == MP_MX_NOMAIL   ? "no-mail"
	               : m->status == MP_MX_SERVFAIL ? "servfail"
	               : m->status == MP_MX_TIMEOUT  ? "timeout"
	                                             : "bad-name");
	mp_json_error(j, "error", exit_code((int)m->status),
	              m->err[0] ? m->err : mp_mx_status_text(m->status));
	mp_json_string(j, "problem", m->problem[0] ? m->problem : NULL);
	mp_json_bool(j, "implicit", m->implicit);
	mp_json_bool(j, "ad", m->ad);
	mp_json_bool(j, "tcp", m->tcp);
	mp_json_bool(j, "truncated", m->truncated);
	mp_json_string(j, "cname_target", m->canon[0] ? nodot(m->canon, b1, sizeof b1) : NULL);
	mp_json_begin_array(j, "mx");
	for (size_t i = 0; m->status != MP_MX_NULL && i < m->nhosts; i++) {
		const struct mp_mx_host *h = &m->hosts[i];
		mp_json_begin_object(j, NULL);
		mp_json_int(j, "preference", h->pref);
		mp_json_string(j, "host", nodot(h->name, b1, sizeof b1));
		mp_json_string(j, "host_unicode",
		               nodot(h->uname[0] ? h->uname : h->name, b2, sizeof b2));
		mp_json_int(j, "ttl", h->ttl);
		mp_json_bool(j, "cname", h->cname);
		mp_json_error(j, "error", h->status ? exit_code(h->status) : 0, h->err);
		mp_json_begin_array(j, "addresses");
		for (size_t k = 0; k < h->naddrs; k++) {
			mp_json_begin_object(j, NULL);
			mp_json_string(j, "address", addr_text(&h->addrs[k], ab, sizeof ab));
			mp_json_int(j, "family", h->addrs[k].family == AF_INET ? 4 : 6);
			mp_json_int(j, "ttl", h->addrs[k].ttl);
			mp_json_end_object(j);
		}
		mp_json_end_array(j);
		mp_json_end_object(j);
	}
	mp_json_end_array(j);
	mp_json_end_object(j);
	mp_json_finish(j);
}

/* exit status: 75 if anything is worth retrying, else 68 if a domain
 * cannot take mail, else 65 for a bad name, else 0 */
static int status_code(const struct mp_mx *m, size_t n)
{
	int code = 0;

	for (size_t i = 0; i < n; i++) {
		int c = exit_code((int)m[i].status);
		if (c == EX_TEMPFAIL || (c == EX_NOHOST && code != EX_TEMPFAIL) || (c && !code))
			code = c;
	}
	return code;
}

/* -j: the error line of a run that exits code: the first domain that
 * stands for it, and how many more */
static void json_verdict(const struct mp_mx *m, size_t n, int code)
{
	char msg[MP_DNS_NAMEMAX + 400];
	size_t more = 0, first = n;

	for (size_t i = 0; i < n; i++)
		if (exit_code((int)m[i].status) == code) {
			if (first == n)
				first = i;
			else
				more++;
		}
	if (first == n)
		return;
	int l = snprintf(msg, sizeof msg, "%s: %s", m[first].domain,
	                 m[first].err[0] ? m[first].err : mp_mx_status_text(m[first].status));
	if (more && l > 0 && (size_t)l < sizeof msg)
		snprintf(msg + l, sizeof msg - (size_t)l, " (and %zu more)", more);
	mp_json_error_line(stdout, code, msg);
}

static void add_name(char ***v, size_t *n, size_t *cap, const char *s)
{
	const char *at = strrchr(s, '@'); /* an address means its domain */

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = mp_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = mp_xstrdup(at ? at + 1 : s);
}

static void read_names(char ***v, size_t *n, size_t *cap)
{
	char line[1024];

	while (fgets(line, sizeof line, stdin)) {
		char *s = line, *end;
		while (*s == ' ' || *s == '\t')
			s++;
		end = s + strcspn(s, " \t\r\n#");
		*end = '\0';
		if (*s)
			add_name(v, n, cap, s);
	}
}

static long parse_num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end || errno || v < min || v > max)
		mp_die(EX_USAGE, "invalid %s: '%s'", what, s);
	return v;
}

enum {
	OPT_TCP = 256,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_NOSHUF,
	OPT_PROBE,
	OPT_SMTPPORT,
	OPT_CAFILE,
	OPT_TLSA,
	OPT_HELO,
	OPT_POLICY,
	OPT_STSADDR
};

/* the options and domains of the command line into *o; exits on -h, -V and
 * usage errors */
static void parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"short", no_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"server", required_argument, NULL, '@'},
	    {"dns-server", required_argument, NULL, '@'}, /* as msend spells it */
	    {"port", required_argument, NULL, 'p'},
	    {"tcp", no_argument, NULL, OPT_TCP},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"retries", required_argument, NULL, OPT_RETRIES},
	    {"no-shuffle", no_argument, NULL, OPT_NOSHUF},
	    {"probe", no_argument, NULL, OPT_PROBE},
	    {"smtp-port", required_argument, NULL, OPT_SMTPPORT},
	    {"ca-file", required_argument, NULL, OPT_CAFILE},
	    {"tlsa", no_argument, NULL, OPT_TLSA},
	    {"helo", required_argument, NULL, OPT_HELO},
	    {"policy", no_argument, NULL, OPT_POLICY},
	    {"sts-addr", required_argument, NULL, OPT_STSADDR},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":sj46@:p:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->shortout = 1; break;
		case 'j': o->json = 1; break;
		case '4': o->flags |= MP_MX_V4; break;
		case '6': o->flags |= MP_MX_V6; break;
		case '@': o->server = optarg; break;
		case 'p': o->port = (int)parse_num(optarg, "port", 1, 65535); break;
		case OPT_TCP: o->tcp = 1; break;
		case OPT_TIMEOUT: o->timeout = parse_num(optarg, "timeout", 1, 3600); break;
		case OPT_RETRIES: o->retries = parse_num(optarg, "retries", 1, 100); break;
		case OPT_NOSHUF: o->flags |= MP_MX_NOSHUF; break;
		case OPT_PROBE: o->probe = 1; break;
		case OPT_SMTPPORT: o->po.port = (int)parse_num(optarg, "port", 1, 65535); break;
		case OPT_CAFILE: o->po.ca_file = optarg; break;
		case OPT_TLSA: o->po.tlsa = 1; break;
		case OPT_HELO: o->po.helo = optarg; break;
		case OPT_POLICY: o->policy = 1; break;
		case OPT_STSADDR: o->pol.sts_addr = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("%s (mailpipe) %s\n", mp_progname(), MP_VERSION); exit(0);
		default: mp_getopt_fail(c, argv, optind, optopt);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (argv[i][0] == '@' && argv[i][1])
			o->server = argv[i] + 1; /* dig style */
		else if (strcmp(argv[i], "-") == 0)
			read_names(&o->names, &o->n, &o->cap);
		else
			add_name(&o->names, &o->n, &o->cap, argv[i]);
	}
}

/* the combinations that make no sense; what follows from the options */
static void settle_options(struct opts *o)
{
	static char hostname[256];

	if (o->n == 0)
		mp_die(EX_USAGE, "no domain given (see -h)");
	if (o->shortout && o->json)
		mp_die(EX_USAGE, "-s and -j do not go together");
	if ((o->probe || o->policy) && o->shortout)
		mp_die(EX_USAGE, "--probe and --policy write more than names: not with -s");
	if (o->po.tlsa && !o->probe)
		mp_die(EX_USAGE, "--tlsa needs --probe");
	if (!o->po.helo) {
		if (gethostname(hostname, sizeof hostname - 1) < 0 || !hostname[0])
			strcpy(hostname, "localhost");
		o->po.helo = hostname;
	}
	o->po.trace = o->verbose;
	if (o->timeout > 0)
		o->po.timeout_ms = (int)o->timeout * 1000;
	o->pol.ca_file = o->po.ca_file;
	o->pol.timeout_ms = o->po.timeout_ms;
	o->pol.family = (o->flags & (MP_MX_V4 | MP_MX_V6)) == MP_MX_V4   ? AF_INET
	                : (o->flags & (MP_MX_V4 | MP_MX_V6)) == MP_MX_V6 ? AF_INET6
	                                                                 : 0;
}

/* the resolver: resolv.conf (or MAILPIPE_RESOLV_CONF), then the options */
static void setup_resolver(struct mp_resolver *r, const struct opts *o)
{
	struct mp_err e;

	mp_err_clear(&e);
	mp_resolver_init(r, getenv("MAILPIPE_RESOLV_CONF"), &e);
	if (o->server && mp_resolver_set_server(r, o->server, o->port, &e) < 0)
		mp_die_err(NULL, &e);
	if (!o->server && o->port != 53)
		mp_resolver_set_port(r, o->port); /* -p alone: the resolv.conf servers */
	if (o->tcp)
		r->tcp = 1;
	if (o->timeout > 0)
		r->timeout_ms = (int)o->timeout * 1000;
	if (o->retries > 0)
		r->attempts = (int)o->retries;
}

/* -s: the host names of one domain, one a line; the verdict on stderr */
static void print_short(const struct mp_mx *m, const char *name)
{
	for (size_t h = 0; m->status == MP_MX_OK && h < m->nhosts; h++) {
		const char *hn = m->hosts[h].name;
		size_t l = strlen(hn);
		printf("%.*s\n", (int)(l > 1 && hn[l - 1] == '.' ? l - 1 : l), hn);
	}
	if (m->status != MP_MX_OK)
		mp_warn("%s: %s%s%s", name, mp_mx_status_text(m->status), m->err[0] ? ": " : "",
		        m->err);
}

/* the answers in the form asked for, with --policy and --probe; 1 if a
 * probed domain had no host that took a connection */
static int report(struct mp_resolver *r, const struct mp_mx *res, const struct opts *o)
{
	struct mp_json j;
	int probe_failed = 0, blocks = 0;

	mp_json_init(&j, stdout, 0);
	for (size_t i = 0; i < o->n; i++) {
		if (o->json) {
			print_json(&j, &res[i]);
		} else if (o->shortout) {
			print_short(&res[i], o->names[i]);
			continue;
		} else if (res[i].status == MP_MX_BADNAME) {
			/* bad input, not an answer: "mmx: NAME: ..." on stderr */
			fflush(stdout);
			print_short(&res[i], o->names[i]);
		} else {
			if (blocks++)
				putchar('\n');
			print_text(&res[i], r, o);
		}
		if (o->policy && res[i].status != MP_MX_BADNAME) {
			fflush(stdout);
			mmx_policy(r, &res[i], &o->pol, stdout, o->json);
		}
		if (o->probe && res[i].status == MP_MX_OK) {
			fflush(stdout);
			if (mmx_probe(r, &res[i], &o->po, stdout, o->json) > 0)
				continue;
			probe_failed = 1;
			if (o->json) {
				char msg[MP_DNS_NAMEMAX + 64];
				snprintf(msg, sizeof msg, "%s: no MX host took a connection",
				         res[i].domain);
				mp_json_error_line(stdout, EX_UNAVAILABLE, msg);
			}
		}
	}
	return probe_failed;
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .port = 53, .timeout = -1, .retries = -1, .po = {.port = 25, .timeout_ms = 30000}};
	struct mp_resolver r;
	int code, probe_failed;

	mp_setprogname(argv[0]);
	/* a peer that hangs up is an error to handle (EPIPE), not death */
	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv, &o);
	settle_options(&o);
	if (o.json) /* an error that ends it: an error line too */
		mp_json_report_fatal();
	setup_resolver(&r, &o);

	struct mp_mx *res = mp_xmalloc(o.n * sizeof *res);
	if (mp_mx_lookup(&r, (const char *const *)o.names, o.n, o.flags, res) < 0)
		mp_die(EX_TEMPFAIL, "out of memory");
	probe_failed = report(&r, res, &o);
	code = status_code(res, o.n);
	if (code && o.json)
		json_verdict(res, o.n, code);
	if (!code && probe_failed)
		code = EX_UNAVAILABLE; /* no host of a domain took a connection */
	mp_mx_free(res, o.n);
	free(res);
	for (size_t i = 0; i < o.n; i++)
		free(o.names[i]);
	free(o.names);
	if (fflush(stdout) == EOF)
		mp_die(EX_IOERR, "stdout: %s", strerror(errno));
	return code;
}
