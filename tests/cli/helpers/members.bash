# members N DOMAINS [mixed]: a mailing list of N members spread over
# DOMAINS domains l0.test ... l<DOMAINS-1>.test, one address a line:
# m<i>@l<i mod DOMAINS>.test. With "mixed", every 97th member is
# bad<i>@... and the one after it defer<i>@... (smtpfault's rcptmixed
# refuses and defers those). Sourced by tests/cli/lists.bats (its scale
# test, against dnsfault's "ok" mode, which gives any domain MX hosts on
# loopback) and by bench/msend (its list part).
members() {
	awk -v n="$1" -v nd="$2" -v mixed="${3:-}" 'BEGIN {
		for (i = 1; i <= n; i++) {
			p = "m"
			if (mixed == "mixed" && i % 97 == 0) p = "bad"
			if (mixed == "mixed" && i % 97 == 1) p = "defer"
			printf "%s%d@l%d.test\n", p, i, i % nd
		}
	}'
}
