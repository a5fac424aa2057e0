# dnsfault_start MODE DIR: tests/fault/dnsfault in MODE for one test,
# answering from the files of DIR in txt mode (see tests/fault/README);
# sets DPORT (its port) and DPID (to stop it with). Its output, PID file
# and log are $BATS_TEST_TMPDIR/dns-MODE.*.
dnsfault_start() {
	local out=$BATS_TEST_TMPDIR/dns-$1.out
	mkdir -p "$2"
	"$DNSFAULT" -T "$2" -P "$BATS_TEST_TMPDIR/dns-$1.pid" "$1" \
		>"$out" 2>"$BATS_TEST_TMPDIR/dns-$1.log" 3>&- &
	# a hang guard only (60 s): the loop ends when the server says its port
	for _ in $(seq 3000); do grep -q '^PORT=' "$out" 2>/dev/null && break; sleep 0.02; done
	DPORT=$(sed -n 's/^PORT=//p' "$out")
	[ -n "$DPORT" ] || fail "dnsfault $1 did not start"
	DPID=$(cat "$BATS_TEST_TMPDIR/dns-$1.pid")
}
