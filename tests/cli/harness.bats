#!/usr/bin/env bats
# The test harness itself: what a test starts dies with it. A fault server
# (tests/fault/*.c) goes when the bats process that started it is SIGKILLed
# (PR_SET_PDEATHSIG), even out of the process group meson kills at a
# timeout; daemons that detach (the peers of helpers/peers.bash) are stopped
# by a watchdog when their bats process is gone. Each check runs a nested
# bats file and kills its whole process group with SIGKILL, as meson does
# with a bats file past its timeout.
#
# DNSFAULT is the fault server (meson sets it; the default is the build tree).

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/poll'
load 'helpers/peers'

setup() {
	: "${DNSFAULT:=$BATS_TEST_DIRNAME/../../build/tests/fault/dnsfault}"
	export DNSFAULT
	[ -x "$DNSFAULT" ] || fail "dnsfault not built at $DNSFAULT"
	T=$BATS_TEST_TMPDIR
	NESTED=
}

teardown() {
	[ -z "$NESTED" ] || kill -9 -- "-$NESTED" 2>/dev/null || true
	# what a failed check left running
	local f
	for f in "$T/fault.pid" "$T/daemon.pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
}

# nested BODY: run a bats file with one test, BODY, in a process group of
# its own (NESTED, its leader); BODY may use $OUT (this test's directory)
# and `block` (wait for ever)
nested() {
	local at=@ # a line starting with the at-sign would be read as a test of this file
	mkdir -p "$T/nested"
	[ -p "$T/never" ] || mkfifo "$T/never"
	cat >"$T/nested/nested.bats" <<-EOT
		load '$BATS_TEST_DIRNAME/helpers/peers'
		OUT='$T'
		block() { read -r _ <"\$OUT/never"; }
		${at}test nested {
		$1
		}
	EOT
	setsid bats --tap "$T/nested/nested.bats" >"$T/nested.out" 2>&1 </dev/null 3>&- &
	NESTED=$!
}

gone() { ! alive "$1"; }

@test "harness: a fault server dies with its bats test when the test's process group is SIGKILLed, out of that group too" {
	# setsid: the server is out of the group the kill reaches, as a
	# daemon would be; only its parent's death can stop it
	nested 'setsid "$DNSFAULT" -P "$OUT/fault.pid" ok >"$OUT/fault.out" 2>/dev/null 3>&- &
		block'
	poll_until grep -qs '^PORT=' "$T/fault.out"
	local pid port
	pid=$(cat "$T/fault.pid")
	port=$(sed -n 's/^PORT=//p' "$T/fault.out")
	alive "$pid" || fail "dnsfault is not running"
	kill -9 -- "-$NESTED"
	NESTED=
	poll_until gone "$pid"
	rm -f "$T/fault.pid" # (it removes it itself on SIGTERM)
	# and its port is free: a new server binds it
	"$DNSFAULT" -p "$port" -P "$T/again.pid" ok >"$T/again.out" 2>"$T/again.err" 3>&- &
	local again=$!
	poll_until grep -qs '^PORT=' "$T/again.out"
	kill "$again"
	wait "$again" || true
	assert_equal "$(cat "$T/again.out")" "PORT=$port"
}

@test "harness: die_with_bats stops a detached daemon when its bats process is SIGKILLed, and not after a clean end" {
	# a daemon as the peers are: in a session of its own, parent gone
	nested '( setsid sleep 100000 </dev/null >/dev/null 2>&1 3>&- & echo $! >"$OUT/daemon.pid" )
		: >"$OUT/guard"
		die_with_bats "$OUT/guard" kill "$(cat "$OUT/daemon.pid")"
		: >"$OUT/watched"
		block'
	poll_until test -e "$T/watched"
	local pid
	pid=$(cat "$T/daemon.pid")
	alive "$pid" || fail "the daemon is not running"
	kill -9 -- "-$NESTED"
	NESTED=
	poll_until gone "$pid"
	rm "$T/daemon.pid"

	# a test that ends by itself and removes the guard (peers_down removes
	# PDIR) leaves what it started alone
	rm -f "$T/watched" "$T/daemon.pid"
	nested '( setsid sleep 100000 </dev/null >/dev/null 2>&1 3>&- & echo $! >"$OUT/daemon.pid" )
		: >"$OUT/guard"
		die_with_bats "$OUT/guard" kill "$(cat "$OUT/daemon.pid")"
		rm "$OUT/guard"'
	local n=$NESTED
	poll_until gone "$n"
	wait "$n" || fail "the nested run failed: $(cat "$T/nested.out")"
	NESTED=
	pid=$(cat "$T/daemon.pid")
	# the watchdog ends once it sees the guard gone (it polls once a second)
	poll_until test -z "$(pgrep -f "watchdog.sh [0-9]+ [0-9]+ $T/guard")"
	alive "$pid" || fail "the daemon was stopped after a clean end"
	kill "$pid"
	rm "$T/daemon.pid"
}
