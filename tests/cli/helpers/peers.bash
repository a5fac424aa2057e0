# Loopback peers (knot, unbound, Postfix, Dovecot, smtp-sink) for one bats
# file, started in setup_file and stopped in teardown_file. Each file has
# ports of its own, since the suite runs test files side by side, all
# below 32768: a port in the kernel's ephemeral range (32768-60999) can be
# the local end of some other test's connection when a daemon binds it, and
# the start fails (it did: Dovecot on 51110, in a run under load);
# MP_PORT_OFFSET (0 to 3000) moves them all down, so that two checkouts
# can run the same file at once.

# peers_up NAME DNS UNBOUND SMTP SUBM SMTPS SINK SINKDUMP IMAP IMAPS POP3 POP3S:
# start them in a new PDIR (/tmp/mailpipe-NAME.*) on those ports minus the
# offset, and export what peers.sh reports (ports.env: CA, BOB_MAILDIR, ...)
peers_up() {
	local name=$1 o=${MP_PORT_OFFSET:-0}
	shift
	[ $# = 11 ] || { echo "# peers_up: 11 ports, not $#" >&3; return 1; }
	export DNS_PORT=$(($1 - o)) UNBOUND_PORT=$(($2 - o)) SMTP_PORT=$(($3 - o)) \
		SUBM_PORT=$(($4 - o)) SMTPS_PORT=$(($5 - o)) SINK_PORT=$(($6 - o)) \
		SINKDUMP_PORT=$(($7 - o)) IMAP_PORT=$(($8 - o)) IMAPS_PORT=$(($9 - o)) \
		POP3_PORT=$((${10} - o)) POP3S_PORT=$((${11} - o))
	local key="$DNS_PORT $UNBOUND_PORT $SMTP_PORT $SUBM_PORT $SMTPS_PORT $SINK_PORT $SINKDUMP_PORT"
	key+=" $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT"
	reap_stale "$name" "$key"
	export PDIR
	PDIR=$(mktemp -d "/tmp/mailpipe-$name.XXXXXX")
	chmod 755 "$PDIR"
	# who started them (this bats process, its start time) and on which ports
	printf '%s %s\n%s\n' "$$" "$(proc_start $$)" "$key" >"$PDIR/owner"
	# the daemons detach from the process group meson kills at a timeout:
	# a watchdog stops them when this bats process is gone and peers_down
	# has not run (it removes PDIR)
	# shellcheck disable=SC2016 # expanded by that bash
	die_with_bats "$PDIR/owner" bash -c 'bash "$1" stop "$2"; rm -rf "$2"' _ "$PEERS" "$PDIR"
	bash "$PEERS" start "$PDIR" >"$PDIR/start.log" 2>&1 3>&- || {
		cat "$PDIR/start.log" >&3
		return 1
	}
	set -a
	# shellcheck disable=SC1091
	. "$PDIR/ports.env"
	set +a
}

# peers_down: stop what peers_up started (by the PIDs it recorded)
peers_down() {
	[ -n "${PDIR:-}" ] || return 0
	bash "$PEERS" stop "$PDIR" >/dev/null 2>&1 3>&-
	rm -rf "$PDIR"
}

# proc_start PID: the start time of PID (field 22 of /proc/PID/stat, after
# the command in parens); with the PID it names one process, never a later
# one that got the same PID
proc_start() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086 # the fields, split
	set -- $s
	echo "${20}"
}

# die_with_bats GUARD CMD...: run CMD once this bats process ($$: the test,
# or the file in setup_file) is gone while the file GUARD still exists. The
# watchdog runs in a session of its own, so that the SIGTERM and SIGKILL
# meson sends to the process group of a bats file past its timeout spare
# it; it polls once a second (helpers/watchdog.sh).
die_with_bats() {
	local guard=$1 start
	shift
	start=$(proc_start $$)
	# back only once it runs out of our process group: a kill right after
	# this must not take it along
	read -r _ < <(setsid "${BASH_SOURCE[0]%/*}/watchdog.sh" "$$" "$start" "$guard" "$@" \
		</dev/null 2>/dev/null 3>&-)
}

# reap_stale NAME KEY: stop the peers of an earlier run of this file on the
# same ports (KEY) whose bats process is gone while its watchdog was killed
# too: they would hold the ports ("udp port ... is taken"). Runs of other
# checkouts (other ports) and live runs are left alone.
reap_stale() {
	local d o s
	for d in /tmp/mailpipe-"$1".*; do
		[ -f "$d/owner" ] || continue
		[ "$(sed -n 2p "$d/owner")" = "$2" ] || continue
		read -r o s <"$d/owner"
		[ "$(proc_start "$o")" != "$s" ] || continue
		echo "# peers_up: stopping the peers a dead run left in $d" >&3
		bash "$PEERS" stop "$d" >/dev/null 2>&1 3>&-
		rm -rf "$d"
	done
}
