# Loopback peers (knot, unbound, Postfix, Dovecot, smtp-sink) for one bats
# file, started in setup_file and stopped in teardown_file. Each file has
# ports of its own, since the suite runs test files side by side;
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
	export PDIR
	PDIR=$(mktemp -d "/tmp/mailpipe-$name.XXXXXX")
	chmod 755 "$PDIR"
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
