#!/usr/bin/env bats
# Every command of README.md (its ```sh blocks) and of the EXAMPLES of every
# man page runs here, and what it prints is compared where the document
# shows it. helpers/docex.sh extracts them, so that a new example is
# picked up without a change here; its header states the conventions:
#   - a man page's display with "$ " prompts: the lines after a command, up
#     to the next prompt, are exactly its standard output;
#   - README.md: a trailing "# prints TEXT" is the one line a command prints;
#   - a crontab line runs its command; <!-- docs-test: file PATH --> or
#     .\" docs-test: file PATH makes the next block a file (the accounts).
# Every command must exit 0, or the status its trailing comment "# exit N"
# states. A command that cannot run in the sandbox is in EXEMPT below,
# with the reason; every other example of a document must have run.
#
# The sandbox: the loopback peers (helpers/peers.bash: knot, unbound,
# Postfix, Dovecot, smtp-sink) run in a network namespace of this file on
# the standard ports (DNS 53, SMTP 25, 465, 587, IMAP 143/993, POP3
# 110/995), with three more zones (example.org, example.net, home.test)
# whose names point to them, a certificate naming them, Postfix taking any
# address of example.org and example.net for Bob, and the user jo beside
# bob (password: hungry, what the stub `pass` prints). The commands of a
# document run in order, in one shell, in that namespace and a mount
# namespace of their own where /home/bob is a fresh copy of a small world
# (messages, an mbox, a Maildir, README.md's accounts file; see world and
# helpers/docworld.sh), jo always has mail in INBOX, lists.dev,
# lists.announce and Archive on the server, /etc holds aliases.mailpipe, /usr/bin, /usr/local/bin
# and /usr/sbin hold the built tools (the overlay is writable, so that
# `ln -s ... /usr/sbin/sendmail` works), /etc/resolv.conf names knot and
# /etc/ssl holds the peers' CA as the system's certificates. The only
# rewrite of a document is none: the world is made to fit the text.
#
# B64, MDELIVER, MMX, MSEND, MFETCH, MPARSE, PEERS: as in the other files.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load helpers/peers

TOP=$BATS_TEST_DIRNAME/../..
TOOLS=(b64 mdeliver mmx msend mfetch mparse)

# DOC|COMMAND (its first line, exactly)|why it cannot run here. Keep short.
EXEMPT=(
	'README.md|scripts/demo     # installs what is missing, builds, starts real mail servers on loopback|installs packages, builds the tree and starts its own servers: scripts/demo is run as it is, outside the suite'
	'README.md|scripts/test     # installs what is missing, builds, runs the whole suite, then again|runs the whole suite, this file among it'
	'README.md|mfetch -a work-in -a home-in --idle           # both accounts, IMAP IDLE, until SIGTERM|runs until SIGTERM; mfetch.bats tests --idle'
	'man/mfetch.1|mfetch -q --idle --server imap.example.org --user jo \|runs until SIGTERM; mfetch.bats tests --idle'
	'man/mdeliver.1|mailbox_command = /usr/bin/mdeliver "$HOME/Maildir/"|a line of Postfix'"'"'s main.cf, not a command'
	'man/msend.1|git send-email --to dev@lists.example.org 0001-fix.patch|git send-email (package git-email) is not installed and asks questions on a terminal'
)

setup_file() {
	local t v
	for t in "${TOOLS[@]}"; do
		v=${t^^}
		[ -n "${!v:-}" ] || printf -v "$v" '%s' "$TOP/build/tools/$t/$t"
		export "${v?}"
	done
	: "${PEERS:=$TOP/tests/peers/peers.sh}"
	F=$BATS_FILE_TMPDIR
	export F
	# the examples, once
	mkdir "$F/ex"
	bash "$BATS_TEST_DIRNAME/helpers/docex.sh" "$F/ex" "$TOP/README.md" "$TOP"/man/*.[157] >"$F/ex.count" ||
		return 1
	# the network namespace; the watchdog removes it if bats dies first
	export NS=mpdocs-$$
	ip netns add "$NS"
	: >"$F/ns.guard"
	die_with_bats "$F/ns.guard" ip netns del "$NS"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip addr add 198.51.100.53/32 dev lo
	ip netns exec "$NS" ip addr add 192.0.2.25/32 dev lo
	ip netns exec "$NS" ip addr add 2001:db8::25/128 dev lo nodad
	# peers.sh starts the daemons in the namespace; stop (by PID) works anywhere
	cat >"$F/peers-ns.sh" <<-EOF
		#!/bin/bash
		if [ "\$1" = start ]; then exec ip netns exec "$NS" bash "$PEERS" "\$@"; fi
		exec bash "$PEERS" "\$@"
	EOF
	zones "$F/zones"
	PEERS="$F/peers-ns.sh" MP_PORT_OFFSET=0 \
		PEERS_EXTRA_SANS=DNS:smtp.example.org,DNS:imap.example.org,DNS:pop.example.org,DNS:mail.home.test,DNS:mx1.example.org,DNS:mx.example.net \
		PEERS_EXTRA_ZONES=$F/zones PEERS_EXTRA_DOMAINS="example.org example.net" PEERS_EXTRA_USERS=jo \
		peers_up docs 53 5354 25 587 465 2526 2527 143 993 110 995
	# the name server and test MTA of the mmx examples (127.0.0.1:5353,
	# port 2525, 198.51.100.53): forwarders to knot and Postfix
	fwd UDP4-RECVFROM:5353,bind=127.0.0.1,fork UDP4-SENDTO:127.0.0.1:53
	fwd TCP4-LISTEN:5353,bind=127.0.0.1,fork,reuseaddr TCP4:127.0.0.1:53
	fwd TCP4-LISTEN:2525,bind=127.0.0.1,fork,reuseaddr TCP4:127.0.0.1:25
	fwd UDP4-RECVFROM:53,bind=198.51.100.53,fork UDP4-SENDTO:127.0.0.1:53
	fwd TCP4-LISTEN:53,bind=198.51.100.53,fork,reuseaddr TCP4:127.0.0.1:53
	# mx1.example.org (192.0.2.25, 2001:db8::25) is Postfix too
	fwd TCP4-LISTEN:25,bind=192.0.2.25,fork,reuseaddr TCP4:127.0.0.1:25
	fwd TCP6-LISTEN:25,bind=[2001:db8::25],fork,reuseaddr TCP4:127.0.0.1:25
	world "$F/world"
}

teardown_file() {
	local p
	for p in $(cat "$F/fwd.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	peers_down
	ip netns del "$NS" 2>/dev/null || true
	rm -f "$F/ns.guard"
}

# fwd ADDR1 ADDR2: a socat in the namespace, its PID in fwd.pids
fwd() {
	ip netns exec "$NS" socat "$1" "$2" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >>"$F/fwd.pids"
	# listening before the first example: its socket shows in the namespace
	local port=${1#*:} i
	port=${port%%,*}
	for ((i = 0; i < 6000; i++)); do
		ip netns exec "$NS" ss -Hln "sport = :$port" | grep -q . && return 0
		sleep 0.01
	done
	echo "# fwd: socat $1 does not listen" >&3
	return 1
}

# zones DIR: example.org as mmx.1 shows it, example.net, home.test
zones() {
	mkdir -p "$1"
	cat >"$1/example.org.zone" <<-'EOF'
		$ORIGIN example.org.
		$TTL 300
		@      SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
		@      NS   ns1.example.test.
		@ 3600 MX   10 mx1
		@ 3600 MX   20 backup.example.net.
		@      TXT  "v=spf1 ip4:127.0.0.0/8 -all"
		_dmarc TXT  "v=DMARC1; p=none"
		mx1    A    192.0.2.25
		mx1    AAAA 2001:db8::25
		smtp   A    127.0.0.1
		imap   A    127.0.0.1
		pop    A    127.0.0.1
	EOF
	cat >"$1/example.net.zone" <<-'EOF'
		$ORIGIN example.net.
		$TTL 300
		@      SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
		@      NS   ns1.example.test.
		@      MX   10 mx
		mx     A    127.0.0.1
	EOF
	cat >"$1/home.test.zone" <<-'EOF'
		$ORIGIN home.test.
		$TTL 300
		@      SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
		@      NS   ns1.example.test.
		mail   A    127.0.0.1
	EOF
}

# world DIR: Bob's home (DIR/home) and the overlays (DIR/usr-*)
world() {
	local w=$1 h=$1/home i t
	mkdir -p "$h/bin" "$h/Maildir"/{cur,new,tmp} "$h/.config/mailpipe" "$w/usr-bin" "$w/usr-local-bin" \
		"$w/usr-sbin" "$w/ssl/certs" "$w/etc"
	# the accounts of README.md, for the examples naming them (mailpipe.5
	# writes its own first)
	for i in "$F"/ex/*.kind; do
		[ "$(<"$i")" = "file ~/.config/mailpipe/config" ] && [[ $(<"${i%.kind}.where") == README.md:* ]] &&
			cp "${i%.kind}.cmd" "$h/.config/mailpipe/config"
	done
	[ -s "$h/.config/mailpipe/config" ] || return 1
	# the aliases of mailpipe.5's cron account
	echo 'root: bob@example.org' >"$w/etc/aliases.mailpipe"
	# the IMAP folders the examples fetch
	mkdir -p "$BOB_MAILDIR/.Lists"/{cur,new,tmp}
	chown -R 5000:5000 "$BOB_MAILDIR"
	for t in "${TOOLS[@]}"; do
		v=${t^^}
		ln -s "${!v}" "$w/usr-bin/$t"
	done
	ln -s "$MSEND" "$w/usr-local-bin/msend"
	ln -s /usr/bin/msend "$h/bin/sendmail"
	# what `pass show mail/...` prints: every account's password is hungry
	printf '#!/bin/sh\necho hungry\n' >"$h/bin/pass"
	# the `report` of the nightly report
	printf '#!/bin/sh\necho "all %s jobs done"\n' 3 >"$h/bin/report"
	chmod 755 "$h/bin/pass" "$h/bin/report"
	cp "$CA" "$w/ssl/certs/ca-certificates.crt"
	cp "$CA" "$w/ssl/private-ca.pem"
	cp /etc/ssl/openssl.cnf "$w/ssl/" 2>/dev/null || true
	cp "$PDIR/tls/server.crt" "$h/server.crt"
	(cd "$h" && bash "$BATS_TEST_DIRNAME/helpers/docworld.sh")
}

# doc NAME: run the examples of NAME in the sandbox, and check them
doc() {
	local name=$1 d R="$BATS_TEST_TMPDIR/r" S="$BATS_TEST_TMPDIR/s" e b where kind cmd n=0 x
	local -a fails=() skipped=()
	mkdir -p "$R" "$S"/{ub,ulb,us,etc}/{up,wk}
	cp -a "$F/world/etc/." "$S/etc/up/"
	cp -a "$F/world/usr-bin/." "$S/ub/up/"
	cp -a "$F/world/usr-local-bin/." "$S/ulb/up/"
	mknod "$S/us/up/sendmail" c 0 0 # no MTA's sendmail: the documents say what to link
	{
		echo 'set -a'
		# before each command, jo has mail on the server (an example may
		# have fetched it with --delete), in INBOX and in two folders
		printf '__refill() { local d f; for d in "" .lists.dev .lists.announce .Archive; do\n'
		printf '  d=%s/mail/jo/Maildir/$d; mkdir -p "$d"/cur "$d"/tmp "$d"/new\n' "$PDIR"
		printf '  compgen -G "$d/new/*" >/dev/null || compgen -G "$d/cur/*" >/dev/null ||\n'
		printf '  for f in message.eml report.eml; do\n'
		printf '    cp "$HOME/$f" "$d/new/${f%%.eml}.$RANDOM.docs"; done\n'
		printf '  chown -R 5000:5000 "$d"; done; }\n'
		echo '__rc=0; __x() { __refill; return $__rc; }'
		for e in "$F"/ex/*.where; do
			b=${e%.where}
			where=$(<"$e")
			[ "${where%:*}" = "$name" ] || continue
			kind=$(<"$b.kind")
			cmd=$(<"$b.cmd")
			x=$(exempt "$name" "${cmd%%$'\n'*}") && {
				skipped+=("$where: $x")
				continue
			}
			n=$((n + 1))
			b=$R/${b##*/}
			printf '%s\n' "$where" >"$b.where"
			printf '%s\n' "$cmd" >"$b.cmd"
			[ ! -f "${e%.where}.exp" ] || cp "${e%.where}.exp" "$b.exp"
			case $kind in
			file\ *)
				printf 'f=%s; mkdir -p "${f%%/*}"\n' "${kind#file }"
				printf 'cat >"$f" <<'"'"'__DOCEOF'"'"'\n%s\n__DOCEOF\n' "$cmd"
				printf '[ "$(head -c 2 "$f")" != "#!" ] || chmod 755 "$f"; echo 0 >%s.rc\n' "$b"
				;;
			*)
				if [[ $cmd == '#!'* ]]; then
					# a script (a delivery filter): run with a message as its input
					printf '%s\n' "$cmd" >"$b.sh"
					printf '__x; sh %s.sh <msg.eml' "$b"
				else
					printf '__x; {\n%s\n}' "$cmd"
				fi
				printf ' >%s.out 2>%s.err; __rc=$?; echo $__rc >%s.rc\n' "$b" "$b" "$b"
				;;
			esac
		done
	} >"$S/run.sh"
	[ $n -gt 0 ] || fail "$name: no examples"
	run ip netns exec "$NS" unshare -m bash "$BATS_TEST_DIRNAME/helpers/docsandbox.sh" \
		"$F/world" "$S" "$S/run.sh"
	echo "# $name: $n examples${skipped:+, exempt: ${#skipped[@]}}" >&3
	[ "$status" = 0 ] || fail "$name: the sandbox failed: $output"
	for e in "$R"/*.where; do
		b=${e%.where}
		where=$(<"$e")
		cmd=$(<"$b.cmd")
		if [ ! -f "$b.rc" ]; then
			fails+=("$where: did not run: $cmd")
		elif [ "$(<"$b.rc")" != 0 ]; then
			[[ $cmd =~ \#\ exit\ ([0-9]+) ]] && [ "$(<"$b.rc")" = "${BASH_REMATCH[1]}" ] ||
				fails+=("$where: exit $(<"$b.rc"): $cmd"$'\n'"$(head -c 2000 "$b.err" 2>/dev/null)")
		elif [ -f "$b.exp" ] && ! diff -u "$b.exp" "$b.out" >"$b.diff"; then
			fails+=("$where: prints other than the document shows: $cmd"$'\n'"$(cat "$b.diff")")
		fi
	done
	if [ ${#fails[@]} -gt 0 ]; then
		printf '%s\n\n' "${fails[@]}"
		fail "$name: ${#fails[@]} of $n examples are wrong"
	fi
}

# exempt DOC FIRSTLINE: the reason if the command is exempt
exempt() {
	local x
	for x in "${EXEMPT[@]}"; do
		IFS='|' read -r d c r <<<"$x"
		if [ "$d" = "$1" ] && [ "$c" = "$2" ]; then
			printf '%s' "$r"
			return 0
		fi
	done
	return 1
}

@test "docs: every exempt command is in its document (none is stale)" {
	local x d c r e found
	for x in "${EXEMPT[@]}"; do
		IFS='|' read -r d c r <<<"$x"
		found=0
		for e in "$F"/ex/*.where; do
			[ "$(cut -d: -f1 "$e")" = "$d" ] || continue
			[ "$(head -n 1 "${e%.where}.cmd")" = "$c" ] && found=1
		done
		[ $found = 1 ] || fail "EXEMPT names '$c' in $d, which has no such command"
	done
}

@test "docs: the examples of README.md run, and print what it shows" {
	doc README.md
}

@test "docs: the examples of man/b64.1 run, and print what it shows" {
	doc man/b64.1
}

@test "docs: the examples of man/mailpipe.5 run, and print what it shows" {
	doc man/mailpipe.5
}

@test "docs: the examples of man/mailpipe.7 run, and print what it shows" {
	doc man/mailpipe.7
}

@test "docs: the examples of man/mdeliver.1 run, and print what it shows" {
	doc man/mdeliver.1
}

@test "docs: the examples of man/mfetch.1 run, and print what it shows" {
	doc man/mfetch.1
}

@test "docs: the examples of man/mmx.1 run, and print what it shows" {
	doc man/mmx.1
}

@test "docs: the examples of man/mparse.1 run, and print what it shows" {
	doc man/mparse.1
}

@test "docs: the examples of man/msend.1 run, and print what it shows" {
	doc man/msend.1
}

@test "docs: every document with examples has its test above" {
	local e d
	for e in "$F"/ex/*.where; do
		d=$(cut -d: -f1 "$e")
		grep -qF "doc $d"$'\n' "$BATS_TEST_FILENAME" ||
			grep -qxF "	doc $d" "$BATS_TEST_FILENAME" || fail "$d has examples and no test here"
	done
}
