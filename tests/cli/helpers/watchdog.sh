#!/bin/bash
# watchdog.sh OWNER START GUARD CMD...: wait while the process OWNER (whose
# start time in /proc/OWNER/stat is START: a recycled PID is not it) lives
# and the file GUARD exists; if GUARD is still there when OWNER is gone, run
# CMD. Started in a session of its own (setsid) by helpers/peers.bash, so
# that what kills the bats process group (meson at a timeout: SIGTERM, then
# SIGKILL) spares it, and it stops the daemons that bats left behind. Says
# "ready" on stdout once it runs.
# shellcheck shell=bash

[ $# -ge 4 ] || {
	echo "usage: watchdog.sh OWNER START GUARD CMD..." >&2
	exit 64
}
owner=$1 start=$2 guard=$3
shift 3
# in a session of its own by now: the caller may go on
echo ready
exec >/dev/null

# start_time PID: field 22 of /proc/PID/stat (after the command in parens)
start_time() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086 # the fields, split
	set -- $s
	echo "${20}"
}

while [ -e "$guard" ] && [ "$(start_time "$owner")" = "$start" ]; do
	sleep 1
done
[ -e "$guard" ] || exit 0
exec "$@"
