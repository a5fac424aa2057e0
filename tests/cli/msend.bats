#!/usr/bin/env bats
# msend(1) against real servers and scripted faulty ones: relay to the
# peers' Postfix (STARTTLS verified with the test CA, AUTH PLAIN, LOGIN,
# CRAM-MD5, SCRAM-SHA-256, implicit TLS) and to a second MTA, Exim (peers.sh
# exim-start: STARTTLS, implicit TLS, AUTH, CHUNKING, SMTPUTF8, DSN, a 452
# and a 550 per recipient, each checked in Exim's log and Maildir), direct
# delivery through knot's MX records and through dnsfault's (answers in
# zone order, an additional section cut short, a 2 KB TXT, a CNAME-loop MX
# host), the
# wire form of the message (CRLF, dot-stuffing, NUL and long lines, -t and
# Bcc, SIZE, PIPELINING; CHUNKING/BDAT, SMTPUTF8, DSN, and quoted-printable
# for a server without 8BITMIME, with smtpfault -c, -u, -n and -7) as
# smtpfault's "accept" mode stores it byte for byte, the queue under faults (421 banner, 452, 550 for one recipient, a
# connection dropped during DATA, a silent server, plaintext injection),
# the sendmail command lines of cron, git send-email and mutt, and a
# 200 MB message in bounded memory.
#
# MSEND, PEERS, SMTPFAULT and DNSFAULT come from meson (defaults: the build
# tree; smtpfault and dnsfault are compiled here when unset). MP_SANITIZE (meson's b_sanitize)
# turns the memory assertion off under a sanitizer. Needs root (the peers).

# printf formats hold the messages on purpose; run-style globals are set in
# helpers.
# shellcheck disable=SC2059,SC2030,SC2031,SC2034,SC2154,SC2015

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/peers'
load 'helpers/shim'

bats_require_minimum_version 1.5.0

setup_file() {
	export MSEND=${MSEND:-$BATS_TEST_DIRNAME/../../build/tools/msend/msend}
	export PEERS=${PEERS:-$BATS_TEST_DIRNAME/../peers/peers.sh}
	if [ "$(id -u)" != 0 ]; then
		export SKIP_ALL="the peers need root (the suite runs as root)"
		return
	fi
	[ -x "$MSEND" ] || {
		echo "# msend binary not found at '$MSEND' (build it or set MSEND)" >&3
		return 1
	}
	peers_up msend 26210 26209 26202 26203 26204 26200 26201 26205 26206 26207 26208 || return 1
	: "${SMTPFAULT:=$BATS_FILE_TMPDIR/smtpfault}"
	if [ ! -x "$SMTPFAULT" ]; then
		cc -std=c17 -D_GNU_SOURCE -O2 -o "$SMTPFAULT" "$BATS_TEST_DIRNAME/../fault/smtpfault.c"
	fi
	export SMTPFAULT
	: "${DNSFAULT:=$BATS_FILE_TMPDIR/dnsfault}"
	if [ ! -x "$DNSFAULT" ]; then
		cc -std=c17 -O2 -o "$DNSFAULT" "$BATS_TEST_DIRNAME/../fault/dnsfault.c"
	fi
	export DNSFAULT
}

teardown_file() {
	peers_down
}

setup() {
	[ -z "${SKIP_ALL:-}" ] || skip "$SKIP_ALL"
	export MSEND_QUEUE=$BATS_TEST_TMPDIR/queue
	export TMPDIR=$BATS_TEST_TMPDIR
	unset EMAIL MSEND_PASSWORD MAILPIPE_CONFIG
	# no one's own configuration file gets in the way
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg HOME=$BATS_TEST_TMPDIR/home
	export XDG_CACHE_HOME=$BATS_TEST_TMPDIR/cache # MTA-STS policies
	mkdir -p "$HOME"
	export LC_ALL=C
	FPIDS=()
	MSG=$BATS_TEST_TMPDIR/msg
	ID="msend-$BATS_TEST_NUMBER-$$-$RANDOM$RANDOM"
}

teardown() {
	local p
	for p in "${FPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	FPIDS=()
	if [ -n "${EXIM_UP:-}" ]; then
		bash "$PEERS" exim-stop "$PDIR" >/dev/null 2>&1 3>&- || true
	fi
}

# ------------------------------------------------------------------ helpers

# relay to Postfix's submission port: STARTTLS verified with the test CA, AUTH as bob
relay() {
	"$MSEND" --server 127.0.0.1 --port "$SUBM_PORT" --ca-file "$CA" --user bob \
		--password-eval 'echo hungry' --timeout 60 "$@"
}

# direct delivery: the MX hosts from knot, on port $1
dmsend() {
	local port=$1
	shift
	"$MSEND" --direct --mx-port "$port" --dns-server "127.0.0.1:$DNS_PORT" --timeout 60 "$@"
}

# fault MODE [smtpfault options]: start smtpfault MODE storing into
# $BATS_TEST_TMPDIR/store-MODE; sets FPORT, FPID, FLOG (its stderr), FSTORE
fault() {
	local mode=$1 out
	shift
	out=$BATS_TEST_TMPDIR/fault-$mode.out
	FLOG=$BATS_TEST_TMPDIR/fault-$mode.log
	FSTORE=$BATS_TEST_TMPDIR/store-$mode
	mkdir -p "$FSTORE"
	"$SMTPFAULT" -P "$BATS_TEST_TMPDIR/fault-$mode.pid" -d "$FSTORE" "$@" "$mode" >"$out" 2>"$FLOG" 3>&- &
	# a hang guard only (60 s): the loop ends when the server says its port
	for _ in $(seq 3000); do grep -q '^PORT=' "$out" 2>/dev/null && break; sleep 0.02; done
	FPORT=$(sed -n 's/^PORT=//p' "$out")
	FPID=$(cat "$BATS_TEST_TMPDIR/fault-$mode.pid")
	[ -n "$FPORT" ] && [ -n "$FPID" ] || fail "smtpfault $mode did not start"
	FPIDS+=("$FPID")
}

# connections smtpfault has seen
connections() { grep -c ': connection$' "$FLOG" 2>/dev/null || true; }

# fault_sync: one connection of our own, read until smtpfault closes it.
# smtpfault takes connections one at a time, in order: once ours is done,
# every connection made before it is in FLOG (no waiting on a clock)
fault_sync() {
	timeout 60 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "QUIT\r\n" >&3 && cat <&3 >/dev/null' _ "$FPORT" ||
		fail "fault_sync: smtpfault on $FPORT did not answer and close"
}

# entries in the queue
queue_count() { find "$MSEND_QUEUE" -name '*.env' 2>/dev/null | wc -l; }

# wait_mail MAILDIR TEXT: print the file in MAILDIR/new holding TEXT (a hang
# guard of 60 s: Postfix delivers when it can)
wait_mail() {
	local f
	for _ in $(seq 3000); do
		f=$(grep -lF -- "$2" "$1"/new/* 2>/dev/null | head -1)
		[ -n "$f" ] && {
			echo "$f"
			return 0
		}
		sleep 0.02
	done
	return 1
}

# how many files in MAILDIR/new hold TEXT
count_mail() { grep -lF -- "$2" "$1"/new/* 2>/dev/null | wc -l; }

# a delivered message without the header fields Postfix adds at the top
strip_postfix() {
	awk 'BEGIN { h = 1 }
		h && /^$/ { h = 0 }
		h && /^[^ \t]/ { skip = ($0 ~ /^(Return-Path|X-Original-To|Delivered-To|Received):/) }
		h && skip { next }
		{ print }' "$1"
}

# the file with LF line ends turned into CRLF, then ".\r\n": the wire form
# of a message without dots or bare CRs
wire_of() { perl -pe 's/\n/\r\n/' "$1"; printf '.\r\n'; }

# a plain message for Bob with its own Date and Message-ID
plain_msg() {
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@hamburger.test>\nFrom: Alice <alice@crepes.test>\nTo: Bob <bob@hamburger.test>\nSubject: %s\n\nhello, Bob\n' \
		"$ID" "$ID" >"$MSG"
}

# auth_each RELAY MAILDIR REPLY: AUTH plain, login and cram-md5 through
# RELAY (relay or erelay: bob's password) each deliver into MAILDIR, the
# server answering REPLY; the password is never in the trace
auth_each() {
	local m rl=$1 md=$2 ok=$3
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\nbody\n' "$ID" >"$MSG"
	for m in plain login cram-md5; do
		sed "s/^Subject: .*/Subject: $ID-$m/" "$MSG" >"$MSG.$m"
		run "$rl" -v --auth "$m" -f bob@hamburger.test bob@hamburger.test <"$MSG.$m"
		assert_success
		assert_output --partial "C: AUTH ${m^^}"
		assert_output --partial "$ok"
		refute_output --partial "hungry"
		refute_output --partial "$(printf '\0bob\0hungry' | base64)"
		assert_output --partial "1 delivered, 0 refused, 0 queued"
	done
	for m in plain login cram-md5; do
		wait_mail "$md" "Subject: $ID-$m" >/dev/null || fail "AUTH $m: not delivered"
	done
}

# smtps_send PORT BANNER: plain_msg for bob through implicit TLS on PORT,
# AUTH as bob with MSEND_PASSWORD; the server greets with "220 BANNER"
smtps_send() {
	plain_msg
	MSEND_PASSWORD=hungry run "$MSEND" -v --server "127.0.0.1:$1" --tls --ca-file "$CA" --user bob \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	refute_output --partial "C: STARTTLS"
	assert_output --partial "S: 220 $2"
	assert_output --partial "S: 235 "
	assert_output --partial "1 delivered"
}

# utf8_send RELAY LOCAL MAILDIR STRIP: a message with a UTF-8 Subject for
# LOCAL@bücher.test through RELAY: SMTPUTF8 on MAIL, the domain as an
# A-label, LOCAL as it is; in MAILDIR byte for byte once STRIP took the
# server's fields away (msend's Date and Message-ID come first)
utf8_send() {
	local f
	printf 'From: bob@hamburger.test\nTo: %s@b\303\274cher.test\nSubject: %s gr\303\274\303\237e\n\nhallo\n' \
		"$2" "$ID" >"$MSG"
	run "$1" -v -f bob@hamburger.test "$2@bücher.test" <"$MSG"
	assert_success
	assert_output --regexp "C: MAIL FROM:<bob@hamburger.test> SIZE=[0-9]+ BODY=8BITMIME SMTPUTF8"
	assert_output --partial "C: RCPT TO:<$2@xn--bcher-kva.test>"
	f=$(wait_mail "$3" "Subject: $ID grüße") || fail "not in $3"
	"$4" "$f" | tail -n +3 | cmp - "$MSG" || fail "the delivered message differs from the one sent"
}

# ------------------------------------------------------------------ 1. relay to Postfix

@test "relay: submission, STARTTLS verified with the test CA, AUTH auto: in Bob's Maildir byte for byte, Date and Message-ID added" {
	printf 'From: Bob <bob@hamburger.test>\nTo: bob@hamburger.test\nSubject: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nune cr\303\252pe, Bob?\n.a line with a leading dot\n..two dots\n.\n\nFrom the start of a line\ntrailing spaces   \n\ttab\n%s\nend\n' \
		"$ID" "$(printf '%0900d' 7)" >"$MSG"
	run relay -v -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: STARTTLS"
	assert_output --partial "S: 220 2.0.0 Ready to start TLS"
	# auto takes the strongest mechanism Postfix offers
	assert_output --partial "C: AUTH SCRAM-SHA-256 ***"
	assert_output --partial "S: 235 "
	assert_output --regexp "C: MAIL FROM:<bob@hamburger.test> SIZE=[0-9]+ BODY=8BITMIME"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	local f
	f=$(wait_mail "$BOB_MAILDIR" "Subject: $ID") || fail "not in Bob's Maildir"
	strip_postfix "$f" >"$BATS_TEST_TMPDIR/got"
	# msend put Date: and Message-ID: first, then the message as it was
	run sed -n 1p "$BATS_TEST_TMPDIR/got"
	assert_output --regexp '^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4}$'
	run sed -n 2p "$BATS_TEST_TMPDIR/got"
	assert_output --regexp '^Message-ID: <[^<>@ ]+@hamburger\.test>$'
	tail -n +3 "$BATS_TEST_TMPDIR/got" | cmp - "$MSG" || fail "the delivered message differs from the one sent"
}

@test "relay: AUTH plain, login and cram-md5 each authenticate and deliver" {
	auth_each relay "$BOB_MAILDIR" "S: 235 2.7.0 Authentication successful"
}

@test "relay: AUTH scram-sha-256 through Postfix to Dovecot: client-first, proofs both ways, delivered; a wrong password is 77" {
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\nbody\n' "$ID" >"$MSG"
	run relay -v --auth scram-sha-256 -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: AUTH SCRAM-SHA-256 ***"
	# server-first, then server-final (the server's proof), then success
	[ "$(grep -c '^S: 334 ' <<<"$output")" = 2 ] || fail "$output"
	assert_output --partial "S: 235 2.7.0 Authentication successful"
	refute_output --partial "hungry"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not delivered"
	run "$MSEND" --server 127.0.0.1 --port "$SUBM_PORT" --ca-file "$CA" --user bob --password-eval 'echo wrong' \
		--auth scram-sha-256 -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 77
	assert_output --partial "AUTH SCRAM-SHA-256 refused: 535"
	[ "$(queue_count)" = 0 ]
}

@test "relay: -v never shows the password, nor its base64 (AUTH PLAIN, LOGIN)" {
	local m
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\nbody\n' "$ID" >"$MSG"
	for m in plain login; do
		run relay -v --auth "$m" -f bob@hamburger.test bob@hamburger.test <"$MSG"
		assert_success
		assert_output --partial "C: AUTH ${m^^}"
		refute_output --partial "hungry"
		refute_output --partial "$(printf 'hungry' | base64)"
		# the PLAIN response: NUL bob NUL hungry
		refute_output --partial "$(printf '\0bob\0hungry' | base64)"
	done
}

@test "relay: SMTPS with --tls (implicit TLS, RFC 8314) and MSEND_PASSWORD" {
	smtps_send "$SMTPS_PORT" "mx1.example.test ESMTP"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
}

@test "relay: a message with its own Date and Message-ID keeps them, unchanged and alone" {
	plain_msg
	run relay -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	local f
	f=$(wait_mail "$BOB_MAILDIR" "Subject: $ID") || fail "not in Bob's Maildir"
	strip_postfix "$f" | cmp - "$MSG" || fail "the delivered message differs from the one sent"
	[ "$(grep -c '^Date:' "$f")" = 1 ] || fail "more than one Date:"
	[ "$(grep -ci '^Message-ID:' "$f")" = 1 ] || fail "more than one Message-ID:"
}

@test "relay: Postfix refuses an unknown user and another domain at RCPT (550 5.1.1: exit 67); the others get it" {
	plain_msg
	run relay -f bob@hamburger.test bob@hamburger.test carol@hamburger.test <"$MSG"
	assert_failure 67
	assert_output --regexp "<carol@hamburger.test>: refused: 550 5\.1\.1 "
	refute_output --partial "queued as"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	run relay -f bob@hamburger.test someone@example.org <"$MSG"
	assert_failure 67
	assert_output --partial "<someone@example.org>: refused: 550 5.1.1 "
	assert_output --partial "outbound mail disabled"
	[ "$(queue_count)" = 0 ]
}

@test "relay: a wrong password is exit 77 naming AUTH, and nothing is queued" {
	plain_msg
	run "$MSEND" --server 127.0.0.1 --port "$SUBM_PORT" --ca-file "$CA" --user bob --password-eval 'echo wrong' \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 77
	assert_output --regexp "AUTH SCRAM-SHA-256 refused: 535"
	refute_output --partial "queued as"
	[ "$(queue_count)" = 0 ]
}

@test "relay: without --ca-file the certificate does not verify: a clear error, the message queued (exit 75 with --no-queue)" {
	plain_msg
	run "$MSEND" --server 127.0.0.1 --port "$SUBM_PORT" --user bob --password-eval 'echo hungry' \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_output --partial "certificate not trusted for 127.0.0.1"
	assert_output --partial "self-signed certificate in certificate chain"
	assert_success
	assert_output --partial "queued as"
	[ "$(queue_count)" = 1 ]
	run "$MSEND" --no-queue --server 127.0.0.1 --port "$SUBM_PORT" --user bob --password-eval 'echo hungry' \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 75
	assert_output --partial "certificate not trusted"
	[ "$(queue_count)" = 1 ]
	[ "$(count_mail "$BOB_MAILDIR" "Subject: $ID")" = 0 ]
}

@test "relay: a relay name that does not exist (NXDOMAIN, .invalid) is exit 68 with or without --no-queue, and nothing is queued" {
	plain_msg
	run "$MSEND" --no-queue --server relay.invalid -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 68
	assert_output --partial "relay relay.invalid: no such host"
	[ "$(queue_count)" = 0 ]
	run "$MSEND" --server relay.invalid:2525 -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 68
	refute_output --partial "queued as"
	[ "$(queue_count)" = 0 ]
	# the manual says so
	grep -q '^\.It 68 Pq Dv EX_NOHOST$' "${MANDIR:-$BATS_TEST_DIRNAME/../../man}/msend.1"
}

@test "relay: a relay name the DNS cannot answer now (SERVFAIL, EAI_AGAIN) is queued, or 75 with --no-queue; the queue remembers the relay" {
	plain_msg
	T=$BATS_TEST_TMPDIR
	build_shim
	# shellcheck disable=SC2030,SC2031 # the settings are for these runs only
	export GAI_AGAIN=relay.hamburger.test LD_PRELOAD=$SHIM \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	run "$MSEND" --no-queue --server relay.hamburger.test:2525 -f bob@hamburger.test \
		bob@hamburger.test <"$MSG"
	assert_failure 75
	assert_output --partial "relay.hamburger.test"
	[ "$(queue_count)" = 0 ]
	run "$MSEND" --server relay.hamburger.test:2525 -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	[ "$(queue_count)" = 1 ]
	grep -rq 'relay.hamburger.test' "$MSEND_QUEUE" || fail "the entry does not name its relay"
	unset GAI_AGAIN LD_PRELOAD
}

@test "relay: --user to a server without STARTTLS: no AUTH, no password, the message waits (also with --no-tls)" {
	fault nostarttls
	plain_msg
	# STARTTLS missing may be a stripping attack or a passing fault: as
	# Postfix with TLS required, the message waits in the queue
	run "$MSEND" -v --server "127.0.0.1:$FPORT" --user bob --password-eval 'echo hungry' \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	assert_output --partial "STARTTLS was asked for, and the server does not offer it"
	refute_output --partial "C: AUTH"
	refute_output --partial "C: MAIL FROM"
	refute_output --partial "hungry"
	refute_output --partial "$(printf '\0bob\0hungry' | base64)"
	# in clear on purpose, but without --auth-plaintext: still no password
	run "$MSEND" -v --no-tls --server "127.0.0.1:$FPORT" --user bob --password-eval 'echo hungry' \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 78
	assert_output --partial "refusing to send a password without TLS (--auth-plaintext allows it)"
	refute_output --partial "C: AUTH"
	refute_output --partial "C: MAIL FROM"
	[ "$(queue_count)" = 1 ]
}

@test "relay: --no-tls --auth-plaintext goes on to AUTH without TLS, with a warning" {
	fault nostarttls
	plain_msg
	run "$MSEND" -v --no-tls --auth-plaintext --server "127.0.0.1:$FPORT" --user bob --password-eval 'echo hungry' \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_output --partial "warning: sending the password for bob without TLS"
	refute_output --partial "C: STARTTLS"
	# smtpfault's nostarttls offers no AUTH: msend gets that far, and says so
	assert_output --partial "the server offers no AUTH"
	refute_output --partial "STARTTLS was asked for"
}

@test "relay: MSEND_PASSWORD is in no child's environment: the passwordeval command runs without it" {
	fault nostarttls
	plain_msg
	local envf=$BATS_TEST_TMPDIR/child.env
	run env MSEND_PASSWORD=s3cret-env "$MSEND" -v --no-tls --auth-plaintext --server "127.0.0.1:$FPORT" \
		--user bob --password-eval "env >'$envf'; echo hungry" -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_output --partial "the server offers no AUTH"
	grep -q '^PATH=' "$envf" || fail "the password command did not print its environment"
	run grep -c -e MSEND_PASSWORD -e s3cret-env "$envf"
	assert_output 0
}

@test "relay: --no-tls and an account's 'tls off' mean no TLS, though Postfix offers STARTTLS" {
	plain_msg
	run "$MSEND" -v --no-tls --server "127.0.0.1:$SMTP_PORT" --timeout 60 -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "S: 250-STARTTLS"
	refute_output --partial "C: STARTTLS"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	conf "$BATS_TEST_TMPDIR/rc" <<EOF
account plain
  host 127.0.0.1
  port $SMTP_PORT
  tls off
EOF
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a plain -v --timeout 60 -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "S: 250-STARTTLS"
	refute_output --partial "C: STARTTLS"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	wait_mail "$BOB_MAILDIR" "$ID" >/dev/null || fail "not in Bob's Maildir"
}

# ------------------------------------------------------------------ 1b. a second MTA: Exim

# exim_up: Exim 4 from peers.sh exim-start (in the peers' directory, on
# ports of this file), the same features as Postfix's relay tests above;
# sets EXIM_SMTP_PORT, EXIM_SMTPS_PORT, EXIM_BOB (Bob's Maildir there),
# EXIM_MAIL, EXIM_LOG and EXIM_LOG0 (its lines before this test). Teardown
# stops it; so does peers.sh stop, which a killed run's watchdog calls.
exim_up() {
	local o=${MP_PORT_OFFSET:-0} t=$BATS_TEST_TMPDIR
	export EXIM_SMTP_PORT=$((62625 - o)) EXIM_SMTPS_PORT=$((62665 - o))
	EXIM_UP=1
	bash "$PEERS" exim-start "$PDIR" >"$t/exim.env" 2>"$t/exim.err" 3>&- ||
		fail "Exim did not start: $(cat "$t/exim.err")"
	EXIM_MAIL=$(sed -n 's/^EXIM_MAIL=//p' "$t/exim.env")
	EXIM_LOG=$(sed -n 's/^EXIM_LOG=//p' "$t/exim.env")
	EXIM_BOB=$EXIM_MAIL/bob/Maildir
	[ -d "$EXIM_BOB/new" ] && [ -f "$EXIM_LOG" ] || fail "exim-start: $(cat "$t/exim.env")"
	EXIM_LOG0=$(wc -l <"$EXIM_LOG")
}

# Exim's log lines written since exim_up
exim_log() { tail -n "+$((EXIM_LOG0 + 1))" "$EXIM_LOG"; }

# relay to Exim: STARTTLS verified with the test CA, AUTH as bob
erelay() {
	"$MSEND" --server 127.0.0.1 --port "$EXIM_SMTP_PORT" --ca-file "$CA" --user bob \
		--password-eval 'echo hungry' --timeout 60 "$@"
}

# a message delivered by Exim without the fields it adds at the top
strip_exim() {
	awk 'BEGIN { h = 1 }
		h && /^$/ { h = 0 }
		h && /^[^ \t]/ { skip = ($0 ~ /^(Return-path|Envelope-to|Received):/) }
		h && skip { next }
		{ print }' "$1"
}

@test "exim: STARTTLS verified with the test CA, AUTH auto (CRAM-MD5, the strongest offered): in Bob's Maildir byte for byte" {
	exim_up
	printf 'From: Bob <bob@hamburger.test>\nTo: bob@hamburger.test\nSubject: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nune cr\303\252pe, Bob?\n.a line with a leading dot\n..two dots\n.\n\nFrom the start of a line\ntrailing spaces   \n\ttab\n%s\nend\n' \
		"$ID" "$(printf '%0900d' 7)" >"$MSG"
	run erelay -v --no-chunking -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "S: 220 mx1.example.test ESMTP Exim "
	assert_output --partial "C: STARTTLS"
	assert_output --partial "S: 220 TLS go ahead"
	assert_output --partial "C: AUTH CRAM-MD5"
	assert_output --partial "S: 235 Authentication succeeded"
	assert_output --regexp "C: MAIL FROM:<bob@hamburger.test> SIZE=[0-9]+ BODY=8BITMIME"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	local f
	f=$(wait_mail "$EXIM_BOB" "Subject: $ID") || fail "not in Bob's Maildir at Exim"
	strip_exim "$f" >"$BATS_TEST_TMPDIR/got"
	run sed -n 1p "$BATS_TEST_TMPDIR/got"
	assert_output --regexp '^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4}$'
	run sed -n 2p "$BATS_TEST_TMPDIR/got"
	assert_output --regexp '^Message-ID: <[^<>@ ]+@hamburger\.test>$'
	tail -n +3 "$BATS_TEST_TMPDIR/got" | cmp - "$MSG" || fail "the delivered message differs from the one sent"
	# Exim saw TLS and the authenticated user
	run exim_log
	assert_output --regexp "<= bob@hamburger\.test .* P=esmtpsa X=TLS1\.[23]:[^ ]+ CV=no A=cram:bob "
}

@test "exim: AUTH plain, login and cram-md5 each deliver; a wrong password is exit 77; no AUTH offered before STARTTLS" {
	exim_up
	auth_each erelay "$EXIM_BOB" "S: 235 Authentication succeeded"
	run exim_log
	assert_output --partial "A=plain:bob "
	assert_output --partial "A=login:bob "
	assert_output --partial "A=cram:bob "
	run "$MSEND" --server 127.0.0.1 --port "$EXIM_SMTP_PORT" --ca-file "$CA" --user bob \
		--password-eval 'echo wrong' -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 77
	assert_output --partial "AUTH CRAM-MD5 refused: 535"
	[ "$(queue_count)" = 0 ]
	# in clear, Exim offers no AUTH: msend sends no password and says so
	run "$MSEND" -v --no-tls --auth-plaintext --server 127.0.0.1 --port "$EXIM_SMTP_PORT" --user bob \
		--password-eval 'echo hungry' --no-queue -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_output --partial "S: 250-STARTTLS"
	assert_output --partial "the server offers no AUTH"
	refute_output --partial "C: AUTH"
	refute_output --partial "C: MAIL FROM"
}

@test "exim: implicit TLS (--tls, RFC 8314) on Exim's tls_on_connect port, with MSEND_PASSWORD" {
	exim_up
	smtps_send "$EXIM_SMTPS_PORT" "mx1.example.test ESMTP Exim "
	local f
	f=$(wait_mail "$EXIM_BOB" "Subject: $ID") || fail "not in Bob's Maildir at Exim"
	strip_exim "$f" | cmp - "$MSG" || fail "the delivered message differs from the one sent"
	run exim_log
	assert_output --regexp "<= bob@hamburger\.test .* P=esmtpsa X=TLS1\.[23]:"
}

@test "exim: SMTPUTF8: a UTF-8 local part goes as it is (the IDN domain as an A-label), SMTPUTF8 on MAIL; Exim takes it as utf8esmtpsa" {
	exim_up
	utf8_send erelay jürgen "$EXIM_MAIL/jürgen/Maildir" strip_exim
	run exim_log
	# the command as Exim read it (its log writes bytes over 127 in octal)
	assert_line --regexp "mailpipe: MAIL MAIL FROM:<bob@hamburger\.test> SIZE=[0-9]+ BODY=8BITMIME SMTPUTF8$"
	assert_output --partial 'mailpipe: RCPT RCPT TO:<j\303\274rgen@xn--bcher-kva.test>'
	assert_line --regexp "<= bob@hamburger\.test .* P=utf8esmtpsa .* for jürgen@xn--bcher-kva\.test$"
}

@test "exim: DSN: NOTIFY=, RET= and ENVID= as Exim received them; -N success gets Bob Exim's delivery report naming the ENVID" {
	exim_up
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\ndsn\n' "$ID" >"$MSG"
	run erelay -v -N success,failure -R hdrs --envid "$ID" -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "S: 250-DSN"
	wait_mail "$EXIM_BOB" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir at Exim"
	local f
	f=$(wait_mail "$EXIM_BOB" "Original-Envelope-ID: $ID") || fail "no delivery report with the ENVID"
	grep -q '^Action: delivered' "$f" || fail "the report: $(cat "$f")"
	grep -q '^Final-Recipient: rfc822;bob@hamburger.test' "$f" || fail "the report: $(cat "$f")"
	run exim_log
	assert_line --regexp "mailpipe: MAIL MAIL FROM:<bob@hamburger\.test> SIZE=[0-9]+ RET=HDRS ENVID=$ID$"
	assert_line --regexp "mailpipe: RCPT RCPT TO:<bob@hamburger\.test> NOTIFY=SUCCESS,FAILURE$"
	# never asked: no parameters at all
	sed -i "s/^Subject: .*/Subject: $ID-none/" "$MSG"
	EXIM_LOG0=$(wc -l <"$EXIM_LOG")
	run erelay -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	run exim_log
	assert_line --regexp "mailpipe: MAIL MAIL FROM:<bob@hamburger\.test> SIZE=[0-9]+$"
	assert_line --regexp "mailpipe: RCPT RCPT TO:<bob@hamburger\.test>$"
}

@test "exim: CHUNKING: BDAT in 64 KiB chunks (Exim logs K), --no-chunking's DATA (no K): both in Bob's Maildir byte for byte" {
	exim_up
	chunky_msg
	run erelay -v -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "S: 250-CHUNKING"
	assert_output --partial "C: BDAT 65536"
	assert_output --regexp "C: BDAT [0-9]+ LAST"
	refute_output --partial "C: DATA"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	chunky_got "$EXIM_BOB" strip_exim
	local f
	run exim_log
	assert_line --regexp "mailpipe: DATA BDAT [0-9]+ LAST, [0-9]+ octets, from <alice@crepes\.test>$"
	# K: received with CHUNKING
	assert_output --regexp "<= alice@crepes\.test .* K S=[0-9]+ id=$ID@crepes\.test "
	sed -i "s/^Subject: .*/Subject: $ID-data/; s/^Message-ID: <$ID@/Message-ID: <$ID-data@/" "$MSG"
	EXIM_LOG0=$(wc -l <"$EXIM_LOG")
	run erelay -v --no-chunking -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: DATA"
	refute_output --partial "C: BDAT"
	f=$(wait_mail "$EXIM_BOB" "Subject: $ID-data") || fail "not in Bob's Maildir at Exim"
	strip_exim "$f" | sed "s/^Subject: $ID-data/Subject: $ID/; s/^Message-ID: <$ID-data@/Message-ID: <$ID@/" |
		cmp - "$BATS_TEST_TMPDIR/got" || fail "DATA: the delivered message differs"
	run exim_log
	assert_line --regexp "mailpipe: DATA DATA, [0-9]+ octets, from <alice@crepes\.test>$"
	assert_output --regexp "<= alice@crepes\.test .* A=cram:bob S=[0-9]+ id=$ID-data@crepes\.test "
}

@test "exim: per recipient, 452 queues that one (75 with --no-queue) and 550 5.1.1 is refused (exit 67); the others get it once" {
	exim_up
	plain_msg
	run erelay -v -f bob@hamburger.test bob@hamburger.test later@hamburger.test nobody@hamburger.test <"$MSG"
	assert_failure 67
	assert_output --partial "S: 452 4.2.2 mailbox full"
	assert_output --partial "S: 550 5.1.1 no such user"
	assert_output --partial "<nobody@hamburger.test>: refused: 550 5.1.1 no such user"
	assert_output --partial "for 1 recipient (msend -q sends it): 4.2.2 mailbox full"
	assert_output --partial "1 delivered, 1 refused, 1 queued"
	wait_mail "$EXIM_BOB" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir at Exim"
	[ "$(queue_count)" = 1 ]
	run "$MSEND" -bp
	assert_output --partial "later@hamburger.test"
	refute_output --partial "nobody@hamburger.test"
	assert_output --partial "last error: 4.2.2 mailbox full"
	# the queue's retry meets the same 452: still waiting, Bob gets no second copy
	MSEND_PASSWORD=hungry run "$MSEND" -q --now --ca-file "$CA"
	assert_success
	[ "$(queue_count)" = 1 ]
	[ "$(count_mail "$EXIM_BOB" "Subject: $ID")" = 1 ] || fail "Bob got it twice"
	# a 4xx alone: exit 0 with the message queued, 75 and nothing queued with --no-queue
	rm -rf "$MSEND_QUEUE"
	run erelay -f bob@hamburger.test later@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	run erelay --no-queue -f bob@hamburger.test later@hamburger.test <"$MSG"
	assert_failure 75
	assert_output --partial "4.2.2 mailbox full"
	[ "$(queue_count)" = 1 ]
	run exim_log
	assert_output --partial "temporarily rejected RCPT <later@hamburger.test>: 452 4.2.2 mailbox full"
	assert_output --partial "rejected RCPT <nobody@hamburger.test>: 550 5.1.1 no such user"
}

# ------------------------------------------------------------------ 2. direct delivery

@test "direct: bob@hamburger.test through knot's MX, opportunistic STARTTLS, into Bob's Maildir" {
	plain_msg
	run dmsend "$SMTP_PORT" -v -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: STARTTLS"
	assert_output --partial "C: RCPT TO:<bob@hamburger.test>"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	local f
	f=$(wait_mail "$BOB_MAILDIR" "Subject: $ID") || fail "not in Bob's Maildir"
	strip_postfix "$f" | cmp - "$MSG" || fail "the delivered message differs from the one sent"
	grep -q '^Return-Path: <alice@crepes.test>$' "$f" || fail "envelope sender lost"
}

@test "direct: a null MX domain and a nonexistent one are exit 69 with a message, nothing queued" {
	plain_msg
	run dmsend "$SMTP_PORT" -f alice@crepes.test someone@nullmx.example.test <"$MSG"
	assert_failure 69
	assert_output --partial "<someone@nullmx.example.test>: refused"
	assert_output --partial "null MX"
	run dmsend "$SMTP_PORT" -f alice@crepes.test "nobody@nx-$RANDOM.example.test" <"$MSG"
	assert_failure 69
	assert_output --partial "no such domain (NXDOMAIN)"
	[ "$(queue_count)" = 0 ]
}

@test "direct: recipients in two domains (hamburger.test, crepes.test) are both delivered" {
	plain_msg
	run dmsend "$SMTP_PORT" -v -f alice@crepes.test bob@hamburger.test alice@crepes.test <"$MSG"
	assert_success
	assert_output --partial "2 delivered, 0 refused, 0 queued"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	wait_mail "$ALICE_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Alice's Maildir"
}

# ------------------------------------------------------------------ 2b. DANE and MTA-STS

# direct delivery with DNS from the validating unbound (DNSSEC: the AD bit)
vmsend() {
	local port=$1
	shift
	"$MSEND" --direct --mx-port "$port" --dns-server "127.0.0.1:$UNBOUND_PORT" --timeout 60 "$@"
}

# sts_server MODE MX...: openssl s_server -WWW, with the peers' certificate
# (it names mta-sts.hamburger.test), serving an MTA-STS policy of MODE
# listing the MX patterns; sets STS (its address) and STSPID
sts_server() {
	local mode=$1 port mx
	shift
	mkdir -p "$BATS_TEST_TMPDIR/www/.well-known"
	{
		printf 'version: STSv1\r\nmode: %s\r\n' "$mode"
		for mx; do printf 'mx: %s\r\n' "$mx"; done
		printf 'max_age: 86400\r\n'
	} >"$BATS_TEST_TMPDIR/www/.well-known/mta-sts.txt"
	port=$((62443 - ${MP_PORT_OFFSET:-0}))
	(cd "$BATS_TEST_TMPDIR/www" && exec openssl s_server -quiet -accept "127.0.0.1:$port" \
		-cert "$PDIR/tls/server-chain.pem" -key "$PDIR/tls/server.key" -WWW </dev/null >/dev/null 2>&1 3>&-) &
	STSPID=$!
	FPIDS+=("$STSPID")
	for _ in $(seq 3000); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.02; done
	STS="127.0.0.1:$port"
}

# direct delivery to hamburger.test (knot), its MTA-STS policy from $STS
smsend() {
	dmsend "$SMTP_PORT" --sts-addr "$STS" --ca-file "$CA" "$@"
}

@test "DANE: bob@secure.test through unbound: authenticated TLSA, TLS mandatory, DANE verified, delivered" {
	plain_msg
	run vmsend "$SMTP_PORT" -v -f alice@crepes.test bob@secure.test <"$MSG"
	assert_success
	assert_output --partial "mx.secure.test: TLS policy DANE"
	assert_output --regexp "mx.secure.test: TLSv1\.[23], DANE verified \(a TLSA record of usage 3 matched\)"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
}

@test "DANE: a TLSA record that does not match: that MX is skipped, the message queued with the reason (75 with --no-queue)" {
	plain_msg
	run vmsend "$SMTP_PORT" -f alice@crepes.test bob@danebad.secure.test <"$MSG"
	assert_success
	assert_output --regexp "queued as .*: badtlsa\.secure\.test \[127\.0\.0\.1\] port $SMTP_PORT: DANE: TLS: certificate not trusted for badtlsa\.secure\.test"
	[ "$(queue_count)" = 1 ]
	run vmsend "$SMTP_PORT" --no-queue -f alice@crepes.test bob@danebad.secure.test <"$MSG"
	assert_failure 75
	assert_output --partial "not sent, try later: badtlsa.secure.test"
	assert_output --partial "DANE: TLS: certificate not trusted"
}

@test "DANE: TLSA records asked of knot itself (no AD) are ignored: opportunistic TLS, delivered" {
	plain_msg
	run dmsend "$SMTP_PORT" -v -f alice@crepes.test bob@secure.test <"$MSG"
	assert_success
	assert_output --partial "mx.secure.test: 1 TLSA record not authenticated by DNSSEC: ignored"
	assert_output --partial "mx.secure.test: TLS policy opportunistic"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
}

@test "MTA-STS enforce: an MX host the policy does not list is not used; the message is queued with the reason" {
	sts_server enforce mx1.example.test
	plain_msg
	run smsend -v -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "hamburger.test: MTA-STS policy mode enforce (fetched from mta-sts.hamburger.test, id 1)"
	assert_output --partial "MTA-STS: the policy of hamburger.test (mode enforce) does not list this MX host"
	assert_output --partial "queued as"
	refute_output --partial "C: MAIL FROM"
	[ "$(queue_count)" = 1 ]
}

@test "MTA-STS testing: an unlisted MX host still gets the message, with a warning" {
	sts_server testing mx1.example.test
	plain_msg
	run smsend -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "warning: mx.hamburger.test: MTA-STS testing policy of hamburger.test: the policy does not list this MX host; delivering anyway"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
}

@test "MTA-STS enforce: a listed MX with a valid certificate gets it; the policy is cached and used with the server gone" {
	sts_server enforce "*.hamburger.test"
	plain_msg
	run smsend -v -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "mx.hamburger.test: TLS policy MTA-STS enforce"
	assert_output --regexp "mx.hamburger.test: TLSv1\.[23], certificate verified \(MTA-STS enforce\)"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	local c=$XDG_CACHE_HOME/mailpipe/mta-sts/hamburger.test
	[ -f "$c" ] || fail "no cache file $c"
	grep -qx 'id 1' "$c" || fail "cache: $(cat "$c")"
	grep -q '^mx: \*\.hamburger\.test' "$c" || fail "cache: $(cat "$c")"
	[ "$(stat -c %a "$c")" = 600 ] || fail "cache mode $(stat -c %a "$c")"
	kill "$STSPID"
	wait "$STSPID" 2>/dev/null || true
	run smsend -v -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "hamburger.test: MTA-STS policy mode enforce (cached, id 1)"
	assert_output --partial "certificate verified (MTA-STS enforce)"
	# without the test CA the MX certificate is not PKIX-valid: not sent
	run dmsend "$SMTP_PORT" --no-queue -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_failure 75
	assert_output --partial "MTA-STS enforce: TLS: certificate not trusted for mx.hamburger.test"
}

@test "MTA-STS: a policy that cannot be fetched (and none cached) leaves opportunistic TLS" {
	plain_msg
	run dmsend "$SMTP_PORT" -v --sts-addr 127.0.0.1:1 -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "hamburger.test: MTA-STS: no policy: "
	assert_output --partial "mx.hamburger.test: TLS policy opportunistic"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
}

# ------------------------------------------------------------------ 2c. direct delivery on a scripted DNS server

# dnsfault MODE: tests/fault/dnsfault.c in MODE on 127.0.0.1 (every
# address it gives is loopback: 127.0.0.1 and ::1); sets DPORT and DLOG
# (one line per query). Teardown stops it.
dnsfault() {
	local out=$BATS_TEST_TMPDIR/dnsfault-$1.out pid
	DLOG=$BATS_TEST_TMPDIR/dnsfault-$1.log
	: >"$out"
	"$DNSFAULT" -P "$BATS_TEST_TMPDIR/dnsfault-$1.pid" "$1" >"$out" 2>"$DLOG" </dev/null 3>&- &
	pid=$!
	FPIDS+=("$pid")
	# a hang guard only: it prints its port as soon as it listens
	for _ in $(seq 3000); do
		DPORT=$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$out")
		[ -n "$DPORT" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	fail "dnsfault $1 did not start: $(cat "$out" "$DLOG")"
}

# dnsmsend PORT ARGS: direct delivery, the DNS from dnsfault, the MX hosts on PORT
dnsmsend() {
	local port=$1
	shift
	"$MSEND" --direct --mx-port "$port" --dns-server "127.0.0.1:$DPORT" --timeout 60 "$@"
}

# the MX hosts msend connected to over IPv4, in order, one line each
hosts_tried() {
	sed -n 's/^msend: \(mx[0-9]*\)\.example\.test \[127\.0\.0\.1\] port [0-9]*: connecting$/\1/p' <<<"$output"
}

@test "dnsfault zone-order: the MX hosts are tried by preference, not in answer order (10,10,10,10,20,5): mx6 first, mx5 last, each once" {
	fault greet421
	dnsfault zone-order
	plain_msg
	run dnsmsend "$FPORT" -v --no-queue -f alice@crepes.test bob@example.test <"$MSG"
	assert_failure 75
	local order
	order=$(hosts_tried | tr '\n' ' ')
	[ "$(hosts_tried | head -n 1)" = mx6 ] || fail "not mx6 (preference 5) first: $order"
	[ "$(hosts_tried | tail -n 1)" = mx5 ] || fail "not mx5 (preference 20) last: $order"
	# those of preference 10 in between, in any order (shuffled), each once
	[ "$(hosts_tried | sed -n '2,5p' | sort | tr '\n' ' ')" = "mx1 mx2 mx3 mx4 " ] || fail "order: $order"
	[ "$(hosts_tried | wc -l)" = 6 ] || fail "order: $order"
	[ "$(connections)" = 6 ] || fail "smtpfault saw $(connections) connections"
	assert_output --partial "not sent, try later: mx5.example.test"
}

@test "dnsfault partial-additional: a host whose A alone came in the additional section is still asked for AAAA, and gets the message over IPv6" {
	grep -qs '^0\{31\}1 .* lo$' /proc/net/if_inet6 || skip "no ::1 on lo"
	# on [::1] only: 127.0.0.1 refuses, so only a host's AAAA leads there
	fault accept -6
	dnsfault partial-additional
	plain_msg
	run dnsmsend "$FPORT" -v -f alice@crepes.test bob@example.test <"$MSG"
	assert_success
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	# mx1, the first of 17: its A (from the additional section) refuses, its AAAA takes it
	assert_line "msend: mx1.example.test [127.0.0.1] port $FPORT: connecting"
	assert_line "msend: mx1.example.test [::1] port $FPORT: connecting"
	refute_output --partial "msend: mx2.example.test ["
	grep -q 'query .* mx1\.example\.test\. AAAA ' "$DLOG" || fail "no AAAA query for mx1: $(cat "$DLOG")"
	! grep -q 'query .* mx1\.example\.test\. A ' "$DLOG" || fail "mx1's A was asked again"
	wire_of "$MSG" | cmp - "$FSTORE/1.eml" || fail "the message was not stored whole"
}

@test "dnsfault big-txt: a 2 KB _mta-sts TXT (truncated over UDP, asked again over TCP) is read whole: its id, last, fetches the policy" {
	fault accept
	dnsfault big-txt
	sts_server testing mx1.example.test
	plain_msg
	run dnsmsend "$FPORT" -v --sts-addr "$STS" --ca-file "$CA" -f alice@crepes.test bob@example.test <"$MSG"
	assert_success
	assert_output --partial "example.test: MTA-STS policy mode testing (fetched from mta-sts.example.test, id big2k)"
	assert_output --partial "warning: mx1.example.test: MTA-STS testing policy of example.test: no STARTTLS; sent in clear"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	grep -q 'query .* _mta-sts\.example\.test\. TXT from .* over tcp$' "$DLOG" ||
		fail "no TXT query over TCP: $(cat "$DLOG")"
	wire_of "$MSG" | cmp - "$FSTORE/1.eml" || fail "the message was not stored whole"
	[ -f "$XDG_CACHE_HOME/mailpipe/mta-sts/example.test" ] || fail "the policy was not cached"
}

@test "dnsfault cname-loop: an MX host whose name is a CNAME loop is skipped with the reason, the next host gets it; as the only MX it is a refusal naming the loop" {
	fault accept
	dnsfault cname-loop
	plain_msg
	run dnsmsend "$FPORT" -v -f alice@crepes.test bob@example.test <"$MSG"
	assert_success
	assert_line "msend: mx1.example.test: skipped: no address: CNAME chain longer than 8 or a loop"
	refute_output --partial "msend: mx1.example.test ["
	assert_line "msend: mx2.example.test [127.0.0.1] port $FPORT: connecting"
	assert_output --partial "1 delivered, 0 refused, 0 queued"
	wire_of "$MSG" | cmp - "$FSTORE/1.eml" || fail "the message was not stored whole"
	# knot: loopmx.example.test's one MX host, loop.example.test, is a CNAME loop
	run dmsend "$SMTP_PORT" -f alice@crepes.test someone@loopmx.example.test <"$MSG"
	assert_failure 69
	assert_output --partial "<someone@loopmx.example.test>: refused"
	assert_output --partial "no MX host has an address (loop.example.test: CNAME chain longer than 8 or a loop)"
	[ "$(queue_count)" = 0 ]
}

@test "dnsfault cname-loop: a queue flush skips the looping host too, and sends through the next" {
	fault greet421
	local busy=$FPORT
	dnsfault cname-loop
	plain_msg
	run dnsmsend "$busy" -f alice@crepes.test bob@example.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	assert_output --partial "mx2.example.test"
	[ "$(queue_count)" = 1 ]
	fault accept
	run "$MSEND" -v -q --now --direct --mx-port "$FPORT" --dns-server "127.0.0.1:$DPORT" --timeout 60
	assert_success
	assert_line "msend: mx1.example.test: skipped: no address: CNAME chain longer than 8 or a loop"
	assert_line "msend: mx2.example.test [127.0.0.1] port $FPORT: connecting"
	[ "$(queue_count)" = 0 ]
	wire_of "$MSG" | cmp - "$FSTORE/1.eml" || fail "the flush did not deliver the message whole"
}

# ------------------------------------------------------------------ 3. the wire form

@test "wire: bare LF and bare CR both go out as CRLF, never a bare CR or LF" {
	fault accept
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nFrom: a@crepes.test\nSubject: ends\r\n\nlf line\ncr line\rcrlf line\r\nmixed\r\r\n\rend\n' "$ID" >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\r\nMessage-ID: <%s@crepes.test>\r\nFrom: a@crepes.test\r\nSubject: ends\r\n\r\nlf line\r\ncr line\r\ncrlf line\r\nmixed\r\n\r\n\r\nend\r\n.\r\n' "$ID" >"$BATS_TEST_TMPDIR/want"
	cmp "$FSTORE/1.eml" "$BATS_TEST_TMPDIR/want" || fail "wire form: $(od -c "$FSTORE/1.eml" | head -20)"
	grep -qx 'bare 0' "$FSTORE/1.env" || fail "bare CR or LF on the wire: $(cat "$FSTORE/1.env")"
}

@test "wire: a line starting with '.' is dot-stuffed, also after a bare CR or LF" {
	fault accept
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: dots\n\n.\n..\n.x\nx.\n .\na\r.b\n.\n' "$ID" >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\r\nMessage-ID: <%s@crepes.test>\r\nSubject: dots\r\n\r\n..\r\n...\r\n..x\r\nx.\r\n .\r\na\r\n..b\r\n..\r\n.\r\n' "$ID" >"$BATS_TEST_TMPDIR/want"
	cmp "$FSTORE/1.eml" "$BATS_TEST_TMPDIR/want" || fail "wire form: $(od -c "$FSTORE/1.eml" | head -20)"
}

@test "wire: a message without a final newline gets CRLF before the final dot" {
	fault accept
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: eol\n\nno newline at the end' "$ID" >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	[ "$(tail -c 26 "$FSTORE/1.eml")" = "$(printf 'no newline at the end\r\n.\r\n')" ] ||
		fail "end of the data: $(tail -c 40 "$FSTORE/1.eml" | od -c)"
}

@test "wire: a NUL byte is exit 65 before any connection" {
	fault accept
	printf 'Subject: nul\n\na\0b\n' >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_failure 65
	assert_output --partial "NUL"
	fault_sync
	[ "$(connections)" = 1 ] || fail "msend connected before refusing the message"
	[ "$(queue_count)" = 0 ]
}

@test "wire: a 999-octet line is exit 65; a 998-octet line goes out whole" {
	fault accept
	printf 'Subject: long\n\n%s\n' "$(printf '%0999d' 9)" >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_failure 65
	assert_output --partial "longer than 998 octets"
	[ "$(connections)" = 0 ] || fail "msend connected before refusing the message"
	[ "$(queue_count)" = 0 ]
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: long\n\n%s\n' \
		"$ID" "$(printf '%0998d' 8)" >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	wire_of "$MSG" | cmp - "$FSTORE/1.eml" || fail "the 998-octet line did not go out whole"
}

@test "wire: -t takes To/Cc/Bcc (display names, comments, groups); the Bcc: field never goes out" {
	fault accept
	printf '%s\n' 'Date: Thu, 01 Jan 2026 10:00:00 +0000' "Message-ID: <$ID@crepes.test>" 'From: alice@crepes.test' \
		'To: "Bob, the Builder" <bob@crepes.test>, carol@crepes.test (Carol, C.)' \
		'Bcc: secret@crepes.test,' ' hidden@crepes.test' \
		'Cc: friends: dave@crepes.test, "Eve" <eve@crepes.test>;, frank@crepes.test' \
		'Subject: -t' '' 'Bcc: this line is in the body and stays' >"$MSG"
	run dmsend "$FPORT" -t -f alice@crepes.test <"$MSG"
	assert_success
	run grep '^rcpt ' "$FSTORE/1.env"
	assert_output "$(printf 'rcpt <%s@crepes.test> 250\n' bob carol secret hidden dave eve frank)"
	# on the wire: the message without the Bcc: field and its continuation
	grep -v -e '^Bcc: secret' -e '^ hidden' "$MSG" >"$BATS_TEST_TMPDIR/want"
	wire_of "$BATS_TEST_TMPDIR/want" | cmp - "$FSTORE/1.eml" || fail "wire: $(cat "$FSTORE/1.eml")"
	! grep -qi -e 'secret@' -e 'hidden@' "$FSTORE/1.eml" || fail "a Bcc: address went out"
}

@test "wire: -t: a Bcc: field that straddles a 64 KiB boundary of the message is not sent either" {
	fault accept
	# a long header puts "Bcc:" at offset 65534: "Bc" and "c:" are read apart
	perl -e '
		my $h = "Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <$ARGV[0]\@crepes.test>\n"
			. "From: alice\@crepes.test\nTo: bob\@crepes.test\nSubject: boundary\nX-Filler: x\n";
		$h .= " " . ("y" x 77) . "\n" while length($h) < 65534 - 80;
		$h .= " " . ("z" x (65534 - length($h) - 2)) . "\n";
		print $h, "Bcc: secret\@crepes.test\n\nbody\n";' "$ID" >"$MSG"
	[ "$(head -c 65538 "$MSG" | tail -c 4)" = "Bcc:" ] || fail "the test message is not laid out as meant"
	run dmsend "$FPORT" -t -f alice@crepes.test <"$MSG"
	assert_success
	run grep '^rcpt ' "$FSTORE/1.env"
	assert_output "$(printf 'rcpt <%s@crepes.test> 250\n' bob secret)"
	grep -v '^Bcc: secret' "$MSG" >"$BATS_TEST_TMPDIR/want"
	! grep -qi -e '^Bcc:' -e 'secret@' "$FSTORE/1.eml" || fail "the Bcc: field went out"
	wire_of "$BATS_TEST_TMPDIR/want" | cmp - "$FSTORE/1.eml"
}

@test "wire: each recipient once, however often it is named (arguments and -t)" {
	fault accept
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nTo: bob@crepes.test, Bob <bob@crepes.test>\nCc: carol@crepes.test\nSubject: once\n\nx\n' "$ID" >"$MSG"
	run dmsend "$FPORT" -t -f alice@crepes.test bob@crepes.test carol@crepes.test bob@crepes.test <"$MSG"
	assert_success
	run grep '^rcpt ' "$FSTORE/1.env"
	assert_output "$(printf 'rcpt <%s@crepes.test> 250\n' bob carol)"
}

@test "wire: -t reads addresses with common's parser: a quoted local part, comments inside the addr-spec, a group" {
	fault accept
	printf '%s\n' 'Date: Thu, 01 Jan 2026 10:00:00 +0000' "Message-ID: <$ID@crepes.test>" 'From: alice@crepes.test' \
		'To: "a b"@x.org, Pete(A nice \) chap) <pete(his account)@silly.test(his host)>, group: c@x.org, d@x.org;' \
		'Subject: RFC 5322 A.5' '' 'x' >"$MSG"
	run "$MSEND" --no-tls --server "127.0.0.1:$FPORT" --timeout 60 -t -f alice@crepes.test <"$MSG"
	assert_success
	run grep '^rcpt ' "$FSTORE/1.env"
	assert_output "$(printf 'rcpt <%s> 250\n' '"a b"@x.org' pete@silly.test c@x.org d@x.org)"
}

@test "wire: SIZE= in MAIL FROM equals the octets sent between 354 and the final dot" {
	fault accept
	printf 'From: alice@crepes.test\nTo: bob@crepes.test\nBcc: x@crepes.test\nSubject: size\n\n.dot\nbare cr\rbare lf\nlast' >"$MSG"
	run dmsend "$FPORT" -t -f alice@crepes.test <"$MSG"
	assert_success
	local size sent
	size=$(sed -n 's/^mail <alice@crepes.test> SIZE=\([0-9]*\)$/\1/p' "$FSTORE/1.env")
	sent=$(($(stat -c %s "$FSTORE/1.eml") - 3)) # without the final ".\r\n"
	[ -n "$size" ] || fail "no SIZE= in: $(cat "$FSTORE/1.env")"
	[ "$size" = "$sent" ] || fail "SIZE=$size, but $sent octets were sent"
	grep -qx "size $sent" "$FSTORE/1.env"
}

@test "wire: PIPELINING: MAIL, every RCPT and DATA arrive before the first reply" {
	fault accept
	plain_msg
	run dmsend "$FPORT" -v -f alice@crepes.test bob@crepes.test carol@crepes.test dave@crepes.test <"$MSG"
	assert_success
	grep -qx 'pipelined MAIL RCPT RCPT RCPT DATA' "$FSTORE/1.env" || fail "not pipelined: $(cat "$FSTORE/1.env")"
	# and the replies were matched to the commands in order
	assert_output --partial "3 delivered, 0 refused, 0 queued"
}

@test "wire: an 8-bit message says BODY=8BITMIME; over the server's SIZE it is refused, not sent" {
	fault accept
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: 8bit\n\ncr\303\252pe\n' "$ID" >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	grep -q '^mail <alice@crepes.test> SIZE=[0-9]* BODY=8BITMIME$' "$FSTORE/1.env" || fail "$(cat "$FSTORE/1.env")"
	wire_of "$MSG" | cmp - "$FSTORE/1.eml"
	kill "$FPID"
	fault accept -s 100
	printf 'Subject: big\n\n%0200d\n' 0 >"$MSG"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_failure 69
	assert_output --partial "over the server's SIZE 100"
	[ ! -e "$FSTORE/2.env" ]
	[ "$(queue_count)" = 0 ]
}

# the relay of a test: smtpfault on $FPORT, in clear
fmsend() { "$MSEND" --no-tls --server "127.0.0.1:$FPORT" --timeout 60 "$@"; }

@test "terminal safety: a server's ESC ] 0 ; ... BEL, C1 CSI and CR reach -v traces and errors as \\xHH, never raw" {
	fault accept -e
	plain_msg
	run --separate-stderr fmsend -v -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	[[ $stderr != *$'\033'* && $stderr != *$'\a'* && $stderr != *$'\302\233'* && $stderr != *$'\r'* ]] ||
		fail "a raw control byte on stderr: $(od -c <<<"$stderr" | head)"
	grep -qF 'S: 220 smtpfault \x1b]0;pwned\x07 \u009b \x9b \x7f \x0d ESMTP' <<<"$stderr" || fail "no escaped banner: $stderr"
	fault greet421 -e
	run --separate-stderr fmsend --no-queue -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_failure 75
	[[ $stderr != *$'\033'* && $stderr != *$'\a'* && $stderr != *$'\r'* ]] || fail "a raw control byte on stderr: $stderr"
	grep -qF '421 too busy \x1b]0;pwned\x07' <<<"$stderr" || fail "the 421 not quoted escaped: $stderr"
}

# no_raw_ctl FILE: no C0 control but TAB and LF, no DEL, no C1 (nor a raw
# 0x80-0x9f byte: what is shown here is ASCII) in FILE's bytes
no_raw_ctl() {
	! LC_ALL=C grep -qaP '[\x00-\x08\x0b-\x1f\x7f-\x9f]' "$1" ||
		fail "a raw control byte in $1: $(od -c "$1" | head -20)"
}

@test "terminal safety: a 550 and an EHLO reply carrying ESC ] 0 ; ... BEL, U+009B, a raw 0x9b, DEL and CR: -v, the error line and --rcpt-file's report show them as \\xHH; -j keeps them, escaped" {
	local shown='\x1b]0;pwned\x07 \u009b \x9b \x7f \x0d'
	local T=$BATS_TEST_TMPDIR
	fault rcpt550one -e
	plain_msg
	fmsend -v --no-queue -f alice@crepes.test bad@crepes.test bob@crepes.test <"$MSG" >"$T/out" 2>"$T/err" && fail "a 550 and exit 0"
	no_raw_ctl "$T/err"
	grep -qxF "S: 250-smtpfault $shown hello" "$T/err" || fail "EHLO: $(cat "$T/err")"
	grep -qxF "S: 550 5.1.1 no such user $shown " "$T/err" || fail "550 trace: $(cat "$T/err")"
	grep -qxF "msend: <bad@crepes.test>: refused: 550 5.1.1 no such user $shown " "$T/err" || fail "550 error: $(cat "$T/err")"
	printf 'bad@crepes.test\nbob@crepes.test\n' >"$T/rcpts"
	fmsend --no-queue -f alice@crepes.test --rcpt-file "$T/rcpts" <"$MSG" >"$T/out" 2>"$T/err" && fail "a 550 and exit 0"
	no_raw_ctl "$T/out"
	no_raw_ctl "$T/err"
	grep -qxF "refused <bad@crepes.test> 550 5.1.1 no such user $shown " "$T/out" || fail "report: $(cat "$T/out")"
	# -j: valid JSON, the reply's text exact, nothing raw on the line
	fmsend -j --no-queue -f alice@crepes.test bad@crepes.test <"$MSG" >"$T/out" 2>"$T/err" && fail "a 550 and exit 0"
	no_raw_ctl "$T/out"
	jq -se '.[] | select(.type == "result") | .recipients[0].reply | contains("no such user \u001b]0;pwned\u0007 \u009b \ufffd \u007f \r ")' "$T/out" >/dev/null ||
		fail "-j: $(cat "$T/out")"
}

@test "wire: SMTPUTF8 offered: UTF-8 addresses go as they are, with SMTPUTF8 on MAIL" {
	fault accept -u
	plain_msg
	run fmsend -f 'alíce@crepes.test' 'jö@bücher.test' 'bob@BÜCHER.test' <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <alíce@crepes.test> SIZE=[0-9]+ SMTPUTF8$'
	# domains go as A-labels all the same (RFC 6531 allows them)
	assert_line 'rcpt <jö@xn--bcher-kva.test> 250'
	assert_line 'rcpt <bob@xn--bcher-kva.test> 250'
	# ASCII addresses and header: no SMTPUTF8
	run fmsend -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	grep -q '^mail <alice@crepes.test> SIZE=[0-9]*$' "$FSTORE/2.env" || fail "$(cat "$FSTORE/2.env")"
	# a UTF-8 header alone asks for it too (RFC 6532)
	printf 'Subject: cr\303\252pes\n\nx\n' >"$MSG"
	run fmsend -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	grep -q '^mail <alice@crepes.test> SIZE=[0-9]* BODY=8BITMIME SMTPUTF8$' "$FSTORE/3.env" || fail "$(cat "$FSTORE/3.env")"
}

@test "wire: no SMTPUTF8: IDN domains go as A-labels; a UTF-8 local part is refused (553 5.6.7, exit 65), the others still get it" {
	fault accept
	plain_msg
	run fmsend -f alice@crepes.test 'jö@bücher.test' 'bob@bücher.test' <"$MSG"
	assert_failure 65
	assert_output --partial "<jö@xn--bcher-kva.test>: refused: 553 5.6.7 a UTF-8 local part needs SMTPUTF8, which the server does not offer"
	run grep '^rcpt ' "$FSTORE/1.env"
	assert_output 'rcpt <bob@xn--bcher-kva.test> 250'
	# a UTF-8 sender: nothing can go
	run fmsend -f 'alíce@crepes.test' bob@crepes.test <"$MSG"
	assert_failure 65
	assert_output --partial "MAIL FROM: 5.6.7 a UTF-8 local part needs SMTPUTF8"
	[ ! -e "$FSTORE/2.env" ]
	[ "$(queue_count)" = 0 ]
	# an address that is not UTF-8 at all never gets that far
	run fmsend -f alice@crepes.test "$(printf 'j\366@crepes.test')" <"$MSG"
	assert_failure 65
	assert_output --partial "is not UTF-8"
}

@test "relay: Postfix offers SMTPUTF8: a UTF-8 Subject for bob@bücher.test arrives in Bob's Maildir" {
	utf8_send relay bob "$BOB_MAILDIR" strip_postfix
}

@test "wire: DSN offered: -N, -R, -V (and --notify, --ret, --envid) become NOTIFY= on each RCPT, RET= and ENVID= (xtext) on MAIL" {
	fault accept -n
	plain_msg
	run fmsend -N success,DELAY -R hdrs '-Vid 1+2=3' -f alice@crepes.test bob@crepes.test carol@crepes.test <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+ RET=HDRS ENVID=id\+201\+2B2\+3D3$'
	assert_line 'rcpt <bob@crepes.test> NOTIFY=SUCCESS,DELAY 250'
	assert_line 'rcpt <carol@crepes.test> NOTIFY=SUCCESS,DELAY 250'
	run fmsend --notify never --ret FULL --envid x -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	run cat "$FSTORE/2.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+ RET=FULL ENVID=x$'
	assert_line 'rcpt <bob@crepes.test> NOTIFY=NEVER 250'
	# none asked for: none sent
	run fmsend -f alice@crepes.test bob@crepes.test <"$MSG"
	run cat "$FSTORE/3.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+$'
	assert_line 'rcpt <bob@crepes.test> 250'
}

@test "wire: DSN not offered: the parameters are left out (said under -v), the message goes" {
	fault accept
	plain_msg
	run fmsend -v -N failure -R full -Vx -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "msend: the server does not offer DSN: -N, -R and -V are left out"
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+$'
	assert_line 'rcpt <bob@crepes.test> 250'
}

@test "wire: bad -N, -R, -V, --envid values are exit 64 before anything is sent" {
	fault accept -n
	plain_msg
	local bad
	for bad in -Nbogus -Nnever,success -Nsuccess,success -Nsuccess, --notify= -Rall --ret= \
		"--envid=$(printf 'a\tb')" "--envid=$(printf '%0101d' 0)" "--envid=$(printf 'caf\303\251')" "--envid=$(printf '+%.0s' {1..34})"; do
		run fmsend "$bad" -f alice@crepes.test bob@crepes.test <"$MSG"
		assert_failure 64
		assert_output --regexp "^msend: (NOTIFY|RET|ENVID): "
	done
	[ "$(connections)" = 0 ]
	[ "$(queue_count)" = 0 ]
}

@test "queue: a queued message keeps its DSN parameters" {
	fault greet421
	plain_msg
	run fmsend -N failure,delay -R hdrs --envid Q-1 -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	kill "$FPID"
	fault accept -n
	run fmsend -q --now
	assert_success
	assert_output --regexp ": 1 delivered, 0 failed$"
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+ RET=HDRS ENVID=Q-1$'
	assert_line 'rcpt <bob@crepes.test> NOTIFY=FAILURE,DELAY 250'
}

@test "relay: Postfix offers DSN: -N success gets Bob a delivery report that names the ENVID" {
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\ndsn\n' "$ID" >"$MSG"
	run relay -v -N success -R hdrs --envid "$ID" -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --regexp "C: MAIL FROM:<bob@hamburger.test> SIZE=[0-9]+ RET=HDRS ENVID=$ID"
	assert_output --partial "C: RCPT TO:<bob@hamburger.test> NOTIFY=SUCCESS"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	wait_mail "$BOB_MAILDIR" "Original-Envelope-Id: $ID" >/dev/null || fail "no delivery report with the ENVID"
}

# chunky_got MAILDIR STRIP: chunky_msg's message in MAILDIR as its wire
# form says, once STRIP took the server's fields away; kept as got
chunky_got() {
	local f
	f=$(wait_mail "$1" "Subject: $ID") || fail "not in $1"
	"$2" "$f" >"$BATS_TEST_TMPDIR/got"
	perl -pe 's/\r\n/\n/' "$BATS_TEST_TMPDIR/want" | cmp - "$BATS_TEST_TMPDIR/got" || fail "the delivered message differs"
}

# a message of about 200 KB with dots, bare CR and bare LF, and its wire
# form without dot-stuffing (what BDAT sends)
chunky_msg() {
	{
		printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nFrom: alice@crepes.test\nTo: bob@hamburger.test\nSubject: %s\n\n' "$ID" "$ID"
		for i in $(seq 2600); do printf '.%077d\n' "$i"; done
		printf 'bare cr\rbare lf\n.\nend'
	} >"$MSG"
	perl -pe 's/\r(?!\n)/\r\n/g; s/(?<!\r)\n/\r\n/g' "$MSG" >"$BATS_TEST_TMPDIR/want"
	printf '\r\n' >>"$BATS_TEST_TMPDIR/want"
}

@test "wire: CHUNKING: BDAT chunks of 64 KiB, the last 'BDAT n LAST', CRLF, no dot-stuffing; SIZE= is what was sent" {
	fault accept -c
	chunky_msg
	run fmsend -v -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "C: BDAT 65536"
	assert_output --regexp "C: BDAT [0-9]+ LAST"
	refute_output --partial "C: DATA"
	cmp "$BATS_TEST_TMPDIR/want" "$FSTORE/1.eml" || fail "the wire form differs"
	local sent
	sent=$(stat -c %s "$FSTORE/1.eml")
	run cat "$FSTORE/1.env"
	assert_line "size $sent"
	assert_line 'bare 0'
	assert_line "chunks $((sent / 65536 + 1))"
	assert_line "mail <alice@crepes.test> SIZE=$sent"
	# --no-chunking: DATA, dot-stuffed, to the same server
	run fmsend -v --no-chunking -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "C: DATA"
	refute_output --partial "C: BDAT"
	{ perl -pe 's/^\./../' "$BATS_TEST_TMPDIR/want"; printf '.\r\n'; } | cmp - "$FSTORE/2.eml"
	grep -qx "mail <alice@crepes.test> SIZE=$(($(stat -c %s "$FSTORE/2.eml") - 3))" "$FSTORE/2.env"
}

@test "wire: CHUNKING: a message of exactly 64 KiB ends with 'BDAT 0 LAST'; no recipient accepted: no BDAT at all" {
	fault accept -c
	# already in CRLF form, 65536 octets in all
	perl -e 'my $m = "Date: Thu, 01 Jan 2026 10:00:00 +0000\r\nMessage-ID: <$ARGV[0]\@crepes.test>\r\nSubject: 64k\r\n\r\n";
		$m .= ("y" x 78) . "\r\n" while length($m) < 65536 - 200;
		print $m, "z" x (65536 - length($m) - 2), "\r\n";' "$ID" >"$MSG"
	[ "$(stat -c %s "$MSG")" = 65536 ]
	run fmsend -v -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "C: BDAT 65536"
	assert_output --partial "C: BDAT 0 LAST"
	[ "$(stat -c %s "$FSTORE/1.eml")" = 65536 ]
	kill "$FPID"
	fault rcpt452 -c
	run fmsend -v -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	refute_output --partial "C: BDAT"
}

@test "relay: Postfix offers CHUNKING: BDAT and --no-chunking's DATA both put the message in Bob's Maildir byte for byte" {
	chunky_msg
	run relay -v -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --regexp "C: BDAT [0-9]+ LAST"
	assert_output --partial "S: 250 2.0.0 Ok: "
	chunky_got "$BOB_MAILDIR" strip_postfix
	local f
	sed -i "s/^Subject: .*/Subject: $ID-data/" "$MSG"
	run relay -v --no-chunking -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: DATA"
	refute_output --partial "C: BDAT"
	f=$(wait_mail "$BOB_MAILDIR" "Subject: $ID-data") || fail "not in Bob's Maildir"
	strip_postfix "$f" | sed "s/^Subject: $ID-data/Subject: $ID/" | cmp - "$BATS_TEST_TMPDIR/got" || fail "DATA: the delivered message differs"
}

# same_parts ORIGINAL WIRE: Python's email reads both; every leaf part has
# the same type and the same decoded content (line ends aside: CR LF or LF,
# one at the end), and the
# wire form has no byte above 127
same_parts() {
	command -v python3 >/dev/null || fail "python3 is needed for this test"
	python3 - "$1" "$2" <<'PY'
import sys, email, email.policy
orig, wire = (open(p, "rb").read() for p in sys.argv[1:])
if wire.endswith(b"\r\n.\r\n"):
    wire = wire[:-3].replace(b"\r\n..", b"\r\n.")
assert max(wire) < 128, "an 8-bit byte on the wire"
def leaves(raw):
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for p in m.walk():
        if p.is_multipart():
            continue
        body = p.get_payload(decode=True).replace(b"\r\n", b"\n")
        if not body.endswith(b"\n"):  # msend ends the last line
            body += b"\n"
        out.append((p.get_content_type(), body))
    return out
a, b = leaves(orig), leaves(wire)
assert len(a) == len(b), (len(a), len(b))
for (ta, ba), (tb, bb) in zip(a, b):
    assert ta == tb, (ta, tb)
    assert ba == bb, (ta, ba[:80], bb[:80])
print(len(a), "parts")
PY
}

@test "wire: no 8BITMIME: an 8-bit body goes quoted-printable (Content-Type, MIME-Version added), decodes to the original; SIZE= is what was sent" {
	fault accept -7
	{
		printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: 8bit\n\n' "$ID"
		printf 'une cr\303\252pe = 3\342\202\254   \n.dot line\n%s\303\251\n\ttab\nend' "$(printf '%0990d' 0)"
	} >"$MSG"
	run fmsend -v -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "msend: the server has no 8BITMIME: 8-bit parts go quoted-printable"
	refute_output --partial "BODY=8BITMIME"
	run cat "$FSTORE/1.env"
	assert_line 'high 0'
	assert_line 'bare 0'
	assert_line "mail <alice@crepes.test> SIZE=$(($(stat -c %s "$FSTORE/1.eml") - 3))"
	grep -qa '^Content-Transfer-Encoding: quoted-printable' "$FSTORE/1.eml"
	grep -qa '^Content-Type: text/plain; charset=utf-8' "$FSTORE/1.eml"
	grep -qa '^MIME-Version: 1.0' "$FSTORE/1.eml"
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$FSTORE/1.eml")" -le 78 ]
	run same_parts "$MSG" "$FSTORE/1.eml"
	assert_success
	# not UTF-8: charset unknown-8bit; with CHUNKING too, SIZE= still exact
	kill "$FPID"
	fault accept -7 -c
	printf 'Subject: latin1\n\ncaf\351\n' >"$MSG"
	run fmsend -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	grep -qa '^Content-Type: text/plain; charset=unknown-8bit' "$FSTORE/2.eml"
	grep -qa '^caf=E9' "$FSTORE/2.eml"
	run cat "$FSTORE/2.env"
	assert_line 'high 0'
	assert_line 'chunks 1'
	assert_line "mail <alice@crepes.test> SIZE=$(stat -c %s "$FSTORE/2.eml")"
	run same_parts "$MSG" "$FSTORE/2.eml"
	assert_success
}

@test "wire: no 8BITMIME: in a multipart message each 8-bit part goes quoted-printable, the others as they were" {
	fault accept -7
	printf '%s\n' 'Date: Thu, 01 Jan 2026 10:00:00 +0000' "Message-ID: <$ID@crepes.test>" 'Subject: parts' \
		'MIME-Version: 1.0' 'Content-Type: multipart/mixed; boundary="=_out"' '' 'preamble' \
		'--=_out' 'Content-Type: text/plain; charset=utf-8' 'Content-Transfer-Encoding: 8bit' '' \
		'Grüße, Bob =' '.' '' \
		'--=_out' 'Content-Type: multipart/alternative; boundary=in' '' \
		'--in' 'Content-Type: text/plain; charset=us-ascii' '' 'seven bit only' \
		'--in' 'Content-Type: text/html; charset=iso-8859-1' '' "<p>caf$(printf '\351')</p>" \
		'--in--' '' \
		'--=_out' 'Content-Type: application/octet-stream' 'Content-Transfer-Encoding: base64' '' \
		"$(head -c 300 /dev/urandom | base64)" \
		'--=_out' 'Content-Type: message/rfc822' 'Content-Transfer-Encoding: 8bit' '' \
		'Subject: inner' '' 'ünïcödé inside' \
		'--=_out--' 'epilogue' >"$MSG"
	run fmsend -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line 'high 0'
	assert_line "mail <alice@crepes.test> SIZE=$(($(stat -c %s "$FSTORE/1.eml") - 3))"
	run same_parts "$MSG" "$FSTORE/1.eml"
	assert_success
	assert_output "5 parts"
	# the 7-bit part and the base64 one are untouched; the composite says 7bit now
	grep -qa '^seven bit only' "$FSTORE/1.eml"
	[ "$(grep -ac '^Content-Transfer-Encoding: quoted-printable' "$FSTORE/1.eml")" = 3 ]
	grep -qa '^Content-Transfer-Encoding: 7bit' "$FSTORE/1.eml"
	! grep -qa '^Content-Transfer-Encoding: 8bit' "$FSTORE/1.eml"
	# the message in the message/rfc822 part gets one too
	[ "$(grep -ac '^MIME-Version: 1.0' "$FSTORE/1.eml")" = 2 ]
}

@test "wire: no 8BITMIME: 8-bit bytes in the header or in a base64 part are refused (exit 65), nothing sent; with SMTPUTF8 the header goes" {
	fault accept -7
	printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: cr\303\252pe\n\nbody\n' "$ID" >"$MSG"
	run fmsend -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_failure 65
	assert_output --partial "refused: 554 5.6.3 the server has no 8BITMIME, and the message cannot be made 7-bit: 8-bit bytes in a header, which only SMTPUTF8 could carry"
	printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\n\303\251\n--b--\n' >"$BATS_TEST_TMPDIR/b64"
	run fmsend -f alice@crepes.test bob@crepes.test <"$BATS_TEST_TMPDIR/b64"
	assert_failure 65
	assert_output --partial "part 1 has 8-bit bytes, yet says it is base64 or quoted-printable"
	[ ! -e "$FSTORE/1.env" ]
	[ "$(queue_count)" = 0 ]
	kill "$FPID"
	fault accept -7 -u
	run fmsend -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	grep -q '^mail <alice@crepes.test> SIZE=[0-9]* BODY=8BITMIME SMTPUTF8$' "$FSTORE/1.env"
	wire_of "$MSG" | cmp - "$FSTORE/1.eml"
}

# ------------------------------------------------------------------ 4. faults and the queue

@test "queue: a 421 banner queues the message; --list-queue shows it; msend -q --now via Postfix delivers it exactly once" {
	fault greet421
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	[ "$(connections)" -ge 1 ] || fail "smtpfault saw no connection"
	[ "$(queue_count)" = 1 ]
	# not due yet: a flush without --now leaves it alone
	run relay -q
	assert_success
	[ "$(queue_count)" = 1 ]
	run "$MSEND" --list-queue
	assert_success
	assert_output --regexp "^[0-9]+\.[0-9]+\.[0-9a-f]{8}  [0-9]+ bytes  from <alice@crepes.test>  1 attempt, next in [0-9]+s"
	assert_output --partial "    to <bob@hamburger.test>"
	assert_output --partial "last error: "
	run relay -q --now
	assert_success
	assert_output --regexp ": 1 delivered, 0 failed$"
	local f
	f=$(wait_mail "$BOB_MAILDIR" "Subject: $ID") || fail "not in Bob's Maildir"
	strip_postfix "$f" | cmp - "$MSG" || fail "the delivered message differs from the one queued"
	run "$MSEND" --list-queue
	assert_output --partial "is empty"
	[ "$(queue_count)" = 0 ]
	# a second flush has nothing to send
	run relay -q --now
	assert_success
	refute_output --partial "delivered"
	[ "$(count_mail "$BOB_MAILDIR" "Subject: $ID")" = 1 ] || fail "delivered more than once"
}

@test "queue: -t: the Bcc: field stays out of a message sent from the queue too" {
	fault greet421
	printf '%s\n' 'Date: Thu, 01 Jan 2026 10:00:00 +0000' "Message-ID: <$ID@crepes.test>" 'From: alice@crepes.test' \
		'To: bob@crepes.test' 'Bcc: secret@crepes.test' 'Subject: queued -t' '' 'body' >"$MSG"
	run dmsend "$FPORT" -t -f alice@crepes.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	kill "$FPID"
	fault accept
	run dmsend "$FPORT" -q --now
	assert_success
	assert_output --regexp ": 2 delivered, 0 failed$"
	run grep '^rcpt ' "$FSTORE/1.env"
	assert_output "$(printf 'rcpt <%s@crepes.test> 250\n' bob secret)"
	grep -v '^Bcc:' "$MSG" >"$BATS_TEST_TMPDIR/want"
	wire_of "$BATS_TEST_TMPDIR/want" | cmp - "$FSTORE/1.eml" || fail "wire: $(cat "$FSTORE/1.eml")"
	[ "$(queue_count)" = 0 ]
}

@test "queue: 452 for every recipient queues the message with the reply" {
	fault rcpt452
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	assert_output --partial "4.2.2 mailbox full"
	[ "$(queue_count)" = 1 ]
	run "$MSEND" -bp
	assert_output --partial "last error: 4.2.2 mailbox full"
}

@test "queue: 550 for one of three recipients: the two others get it, the bad one is reported, exit 67" {
	fault rcpt550one
	plain_msg
	run dmsend "$FPORT" -v -f alice@crepes.test good1@crepes.test bad@crepes.test good2@crepes.test <"$MSG"
	assert_failure 67
	assert_output --partial "<bad@crepes.test>: refused: 550 5.1.1 no such user"
	assert_output --partial "2 delivered, 1 refused, 0 queued"
	refute_output --partial "msend: queued as"
	run grep '^rcpt ' "$FSTORE/1.env"
	assert_output "$(printf 'rcpt <%s@crepes.test> %s\n' good1 250 bad 550 good2 250)"
	wire_of "$MSG" | cmp - "$FSTORE/1.eml" || fail "the message was not stored whole"
	[ "$(queue_count)" = 0 ]
}

@test "queue: a connection dropped during DATA queues the message (small and 1 MB), never loses it" {
	fault dropdata
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	[ "$(queue_count)" = 1 ]
	cmp "$MSG" "$(find "$MSEND_QUEUE" -name '*.msg')" || fail "the queued message differs"
	# a big one: the server goes while msend is still writing
	cp "$MSG" "$MSG.big"
	head -c 1100000 /dev/zero | tr '\0' x | fold -w 76 >>"$MSG.big"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG.big"
	assert_success
	assert_output --partial "queued as"
	[ "$(queue_count)" = 2 ]
	[ "$(connections)" = 2 ]
	local big
	big=$(find "$MSEND_QUEUE" -name '*.msg' -size +1000k)
	[ -n "$big" ] && cmp "$MSG.big" "$big" || fail "the big message was not queued whole"
}

@test "queue: a silent server with --timeout 2 is given up on after its time-out, the message queued" {
	fault silence
	plain_msg
	local t0 t1
	t0=$(date +%s%N)
	run dmsend "$FPORT" --timeout 2 -f alice@crepes.test bob@crepes.test <"$MSG"
	t1=$(date +%s%N)
	assert_success
	assert_output --partial "queued as"
	assert_output --partial "timed out"
	[ "$(queue_count)" = 1 ]
	[ $(((t1 - t0) / 1000000)) -ge 1900 ] || fail "gave up after $(((t1 - t0) / 1000000)) ms, before the timeout"
}

@test "relay: implicit TLS to a server that never answers the handshake: 'TLS handshake: timed out', 75 with --no-queue" {
	fault silence
	plain_msg
	run "$MSEND" --tls --timeout 2 --no-queue --server "127.0.0.1:$FPORT" -f alice@crepes.test \
		bob@crepes.test <"$MSG"
	assert_failure 75
	assert_output --partial "TLS handshake: timed out after 2 s"
	[ "$(queue_count)" = 0 ]
}

@test "queue: direct: plaintext injection after STARTTLS is refused with its message, and the mail is queued" {
	fault inject
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_output --partial "plaintext injection"
	assert_success
	assert_output --partial "queued as"
	[ "$(queue_count)" = 1 ]
}

@test "queue: --no-queue on a temporary failure is exit 75, with nothing queued" {
	fault greet421
	plain_msg
	run dmsend "$FPORT" --no-queue -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_failure 75
	assert_output --partial "not sent, try later"
	assert_output --partial "421 too busy"
	refute_output --partial "queued as"
	[ "$(queue_count)" = 0 ]
}

@test "queue: a second msend -q while one runs exits with 'another flush is running'" {
	fault greet421
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	[ "$(queue_count)" = 1 ]
	fault silence
	dmsend "$FPORT" -q --now --timeout 3 >"$BATS_TEST_TMPDIR/flush1.out" 2>&1 3>&- &
	local bg=$!
	for _ in $(seq 3000); do [ "$(connections)" -ge 1 ] && break; sleep 0.02; done
	[ "$(connections)" -ge 1 ] || fail "the first flush never connected"
	run "$MSEND" -q --now
	assert_failure 75
	assert_output --partial "another flush is running"
	wait "$bg" || fail "the first flush failed: $(cat "$BATS_TEST_TMPDIR/flush1.out")"
	run cat "$BATS_TEST_TMPDIR/flush1.out"
	assert_output --partial "0 delivered, 0 failed, 1 still waiting"
	run "$MSEND" --list-queue
	assert_output --partial "2 attempts"
}

# queue_many N: N messages for bob@crepes.test, queued by a greet421 server
# ($MSG.1 ... $MSG.N, each with its own subject); leaves that server running
queue_many() {
	local i
	fault greet421
	for i in $(seq "$1"); do
		printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s-%d@crepes.test>\nFrom: alice@crepes.test\nTo: bob@crepes.test\nSubject: %s-%d\n\nmessage %d\n' \
			"$ID" "$i" "$ID" "$i" "$i" >"$MSG.$i"
		dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG.$i" 2>/dev/null || fail "msend $i failed"
	done
	[ "$(queue_count)" = "$1" ] || fail "$(queue_count) queued, not $1"
	kill "$FPID"
}

# the flush lines in $output of a message delivered
sent_lines() { grep -c ': 1 delivered, 0 failed$' <<<"$output"; }

# stored_once DIR I: message I is in DIR exactly once, byte for byte its wire form
stored_once() {
	local f
	f=$(grep -lx "Subject: $ID-$2"$'\r' "$1"/*.eml 2>/dev/null)
	[ "$(printf '%s' "$f" | grep -c .)" = 1 ] || fail "message $2 stored $(printf '%s' "$f" | grep -c .) times"
	wire_of "$MSG.$2" | cmp - "$f" || fail "message $2 differs on the wire"
}

@test "queue: msend -q sends 50 due messages over one connection, one line each, byte for byte, and empties the queue" {
	queue_many 50
	fault accept
	run dmsend "$FPORT" -q --now
	assert_success
	[ "$(connections)" = 1 ] || fail "$(connections) connections"
	[ "$(sent_lines)" = 50 ] || fail "$output"
	[ "$(find "$FSTORE" -name '*.eml' | wc -l)" = 50 ]
	local i
	for i in $(seq 50); do stored_once "$FSTORE" "$i"; done
	# MAIL, RCPT and DATA of each message came in one go
	[ "$(grep -c '^pipelined MAIL RCPT DATA$' "$FSTORE"/*.env | grep -c ':1$')" = 50 ]
	[ "$(queue_count)" = 0 ]
	[ -z "$(find "$MSEND_QUEUE" -name '*.msg')" ] || fail "a message file was left behind"
}

@test "queue: a server that goes after 10 messages: those 10 are removed, 20 wait; the rerun sends the 20, each exactly once" {
	queue_many 30
	fault accept -x 10
	run dmsend "$FPORT" -q --now
	assert_success
	[ "$(sent_lines)" = 10 ] || fail "$output"
	[ "$(grep -c ': 0 delivered, 0 failed, 1 still waiting: ' <<<"$output")" = 20 ] || fail "$output"
	# one connection, and one more attempt that met "421": not one per message
	[ "$(connections)" = 2 ] || fail "$(connections) connections"
	[ "$(queue_count)" = 20 ]
	local first=$FSTORE
	kill "$FPID"
	fault accept
	[ "$FSTORE" != "$first" ] || { mv "$first" "$first.1"; first=$first.1; mkdir -p "$FSTORE"; }
	run dmsend "$FPORT" -q --now
	assert_success
	[ "$(sent_lines)" = 20 ] || fail "$output"
	[ "$(connections)" = 1 ]
	[ "$(queue_count)" = 0 ]
	mkdir -p "$BATS_TEST_TMPDIR/all"
	local f n=0
	for f in "$first"/*.eml "$FSTORE"/*.eml; do cp "$f" "$BATS_TEST_TMPDIR/all/$((++n)).eml"; done
	[ "$n" = 30 ] || fail "$n messages stored in all"
	local i
	for i in $(seq 30); do stored_once "$BATS_TEST_TMPDIR/all" "$i"; done
}

@test "queue: a server that closes each connection after 4 messages: msend -q connects again and sends all 10" {
	queue_many 10
	fault accept -X 4
	run dmsend "$FPORT" -q --now
	assert_success
	[ "$(sent_lines)" = 10 ] || fail "$output"
	[ "$(connections)" = 3 ] || fail "$(connections) connections"
	[ "$(queue_count)" = 0 ]
	local i
	for i in $(seq 10); do stored_once "$FSTORE" "$i"; done
}

@test "queue: a message refused in a flush is followed by RSET on the same connection; the others go, and so does the notice" {
	fault greet421
	local i
	for i in 1 2 3; do
		printf 'Subject: %s-%d\n\nm\n' "$ID" "$i" >"$MSG.$i"
	done
	dmsend "$FPORT" -f alice@crepes.test good@crepes.test <"$MSG.1" 2>/dev/null
	dmsend "$FPORT" -f alice@crepes.test bad@crepes.test <"$MSG.2" 2>/dev/null
	dmsend "$FPORT" -f alice@crepes.test good@crepes.test <"$MSG.3" 2>/dev/null
	[ "$(queue_count)" = 3 ]
	kill "$FPID"
	fault rcpt550one
	run dmsend "$FPORT" -v -q --now
	assert_failure 69
	assert_output --partial "C: RSET"
	assert_output --partial "<bad@crepes.test>: 550 5.1.1 no such user"
	[ "$(sent_lines)" = 2 ] || fail "$output"
	# the two messages, and the failure notice to alice over the same connection
	[ "$(connections)" = 1 ]
	[ "$(find "$FSTORE" -name '*.eml' | wc -l)" = 3 ]
	[ "$(grep -l '^mail <> ' "$FSTORE"/*.env | wc -l)" = 1 ]
	[ "$(queue_count)" = 0 ]
}

# is_notice FILE RCPT: FILE is an RFC 3464 report naming RCPT, with the
# original header quoted
is_notice() {
	command -v python3 >/dev/null || fail "python3 is needed for this test"
	python3 - "$1" "$2" <<'PY' || fail "not a delivery status notice: $(cat "$1")"
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.compat32)
assert m.get_content_type() == 'multipart/report', m.get_content_type()
assert m.get_param('report-type') == 'delivery-status'
assert m['From'].endswith('<MAILER-DAEMON@hamburger.test>') or 'MAILER-DAEMON@' in m['From']
parts = m.get_payload()
assert [p.get_content_type() for p in parts] == ['text/plain', 'message/delivery-status', 'text/rfc822-headers'], [p.get_content_type() for p in parts]
assert '<%s>' % sys.argv[2] in parts[0].get_payload(), parts[0].get_payload()
ds = parts[1].get_payload()  # the per-message and per-recipient blocks
text = ''.join(str(b) for b in ds)
assert 'Final-Recipient: rfc822; %s' % sys.argv[2] in text, text
assert 'Action: failed' in text and 'Status: ' in text and 'Diagnostic-Code: smtp; ' in text, text
assert 'Subject: ' in parts[2].get_payload()
PY
}

# stored_notice STATUS: smtpfault's first message is a notice from <> to
# alice@crepes.test about bad@crepes.test, with that Status:
stored_notice() {
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <> SIZE=[0-9]+$'
	assert_line 'rcpt <alice@crepes.test> 250'
	is_notice "$FSTORE/1.eml" bad@crepes.test
	grep -q "^Status: $1"$'\r''$' "$FSTORE/1.eml" || fail "no Status: $1"
}

@test "queue: given up after --max-age: removed, and the sender gets a multipart/report from <> naming the recipient and the last reply" {
	fault greet421
	plain_msg
	dmsend "$FPORT" -f alice@crepes.test bad@crepes.test <"$MSG" 2>/dev/null
	[ "$(queue_count)" = 1 ]
	kill "$FPID"
	# queued long ago
	sed -i 's/^created .*/created 1000000000/' "$MSEND_QUEUE"/*.env
	fault rcpt452bad
	run dmsend "$FPORT" --maildomain hamburger.test -q --now
	assert_failure 69
	assert_output --partial "gave up after"
	assert_output --partial ": 0 delivered, 0 failed, the rest given up"
	[ "$(queue_count)" = 0 ]
	stored_notice '4\.2\.2'
	grep -q '452 4\.2\.2 mailbox full' "$FSTORE/1.eml" || fail "the last reply is not named"
	grep -q "^Subject: $ID"$'\r''$' "$FSTORE/1.eml" || fail "the original header is not quoted"
}

@test "queue: a notice that cannot go now is queued from <>; when it is given up in turn, no notice is sent about it" {
	fault greet421
	plain_msg
	dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG" 2>/dev/null
	kill "$FPID"
	sed -i 's/^created .*/created 1000000000/' "$MSEND_QUEUE"/*.env
	fault rcpt452
	run dmsend "$FPORT" --max-age 100 -q --now
	assert_failure 69
	assert_output --partial "the failure notice to <alice@crepes.test> is queued as"
	[ "$(queue_count)" = 1 ]
	run cat "$MSEND_QUEUE"/*.env
	assert_line 'from '
	assert_line 'rcpt alice@crepes.test'
	sed -i 's/^created .*/created 1000000000/' "$MSEND_QUEUE"/*.env
	run dmsend "$FPORT" --max-age 100 -q --now
	assert_failure 69
	assert_output --partial "gave up after"
	refute_output --partial "failure notice"
	[ "$(queue_count)" = 0 ]
	[ -z "$(find "$FSTORE" -name '*.eml')" ]
}

@test "queue: an entry remembers its relay, port, TLS and user (never the password): msend -q --ca-file sends it through that relay, not direct" {
	plain_msg
	MSEND_PASSWORD=hungry run "$MSEND" --server 127.0.0.1 --port "$SUBM_PORT" --user bob --timeout 60 \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "certificate not trusted"
	assert_output --partial "queued as"
	run cat "$MSEND_QUEUE"/*.env
	assert_line "route-server 127.0.0.1"
	assert_line "route-port $SUBM_PORT"
	assert_line "route-starttls 1"
	assert_line "route-user bob"
	refute_output --partial hungry
	# no --server at the flush: the entry's relay, now with the CA given
	MSEND_PASSWORD=hungry run "$MSEND" -v -q --now --ca-file "$CA"
	assert_success
	assert_line --regexp ": 1 delivered, 0 failed$"
	assert_output --partial "C: AUTH"
	refute_output --partial "hungry"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	[ "$(queue_count)" = 0 ]
}

@test "queue: a flush killed while its failure notice goes has already dropped the recipients that got a 250 from the entry: the next flush never sends it to them again" {
	fault greet421
	plain_msg
	dmsend "$FPORT" -f sender@crepes.test good@crepes.test bad@crepes.test <"$MSG" 2>/dev/null
	[ "$(queue_count)" = 1 ]
	local env pid
	env=$(find "$MSEND_QUEUE" -maxdepth 1 -name '*.env')
	grep -q '^rcpt good@crepes.test$' "$env" || fail "good@ is not queued: $(cat "$env")"
	kill "$FPID"
	# good@ gets a 250 and bad@ a 550; then the server says nothing more:
	# the failure notice to sender@ waits for a reply that never comes
	fault rcpt550one -H 1
	# msend itself in the background (not through a function), to be killed
	"$MSEND" --direct --mx-port "$FPORT" --dns-server "127.0.0.1:$DNS_PORT" --timeout 60 \
		-q --now >"$BATS_TEST_TMPDIR/flush.out" 2>&1 3>&- &
	pid=$!
	# a hang guard only (60 s): the loop ends once the message was taken
	# and the entry no longer lists good@
	for _ in $(seq 3000); do
		grep -q 'smtpfault: silent' "$FLOG" && ! grep -q '^rcpt good@' "$env" && break
		sleep 0.02
	done
	kill -9 "$pid"
	wait "$pid" || true
	grep -q 'smtpfault: silent' "$FLOG" || fail "the message was not taken: $(cat "$FLOG")"
	[ -f "$BATS_TEST_TMPDIR/store-rcpt550one/1.env" ] || fail "smtpfault stored nothing"
	grep -q '^rcpt bad@crepes.test$' "$env" || fail "bad@ is not kept: $(cat "$env")"
	run grep -c '^rcpt ' "$env"
	assert_output 1
	kill "$FPID"
	# the next flush: bad@ again (accepted this time), good@ never
	fault accept
	run dmsend "$FPORT" -q --now
	assert_success
	assert_output --partial "1 delivered, 0 failed"
	grep -q '^rcpt <bad@crepes.test> 250' "$FSTORE/1.env" || fail "bad@ not sent: $(cat "$FSTORE/1.env")"
	run grep -l 'rcpt <good@' "$FSTORE"/*.env
	assert_failure
	[ "$(queue_count)" = 0 ]
}

@test "queue: a refusal whose failure notice is refused too is kept as a dead letter: -bp lists it, --retry-dead sends it, --drop deletes it" {
	fault greet421
	plain_msg
	dmsend "$FPORT" -f bad-sender@crepes.test bad@crepes.test <"$MSG" 2>/dev/null
	dmsend "$FPORT" -f bad-sender@crepes.test bad2@crepes.test <"$MSG" 2>/dev/null
	[ "$(queue_count)" = 2 ]
	kill "$FPID"
	# smtpfault refuses every address with "bad" in it: the recipient, then the notice's
	fault rcpt550one
	run dmsend "$FPORT" -q --now
	assert_failure 69
	assert_output --partial "the failure notice to <bad-sender@crepes.test> was refused"
	assert_output --partial "kept as a dead letter"
	[ -z "$(find "$MSEND_QUEUE" -maxdepth 1 -name '*.env')" ] || fail "still in the queue"
	[ "$(find "$MSEND_QUEUE/dead" -name '*.msg' | wc -l)" = 2 ] || fail "not kept in dead/"
	run "$MSEND" -bp
	assert_success
	assert_output --partial "dead letters in $MSEND_QUEUE/dead"
	assert_output --regexp "  from <bad-sender@crepes.test>  1 attempt, a dead letter"
	assert_output --partial "    to <bad@crepes.test>"
	assert_output --partial "    to <bad2@crepes.test>"
	local id1 id2
	id1=$(basename "$(grep -l 'rcpt bad@' "$MSEND_QUEUE"/dead/*.env)" .env)
	id2=$(basename "$(grep -l 'rcpt bad2@' "$MSEND_QUEUE"/dead/*.env)" .env)
	# a flush leaves dead letters alone
	run dmsend "$FPORT" -q --now
	assert_success
	[ "$(find "$MSEND_QUEUE/dead" -name '*.env' | wc -l)" = 2 ]
	kill "$FPID"
	fault accept
	run dmsend "$FPORT" -q --retry-dead "$id1"
	assert_success
	assert_output --regexp "^$id1: 1 delivered, 0 failed$"
	grep -q "^Subject: $ID" "$FSTORE/1.eml"
	run "$MSEND" --drop "$id2"
	assert_success
	run "$MSEND" --drop "$id2"
	assert_failure 66
	run "$MSEND" --drop ../x
	assert_failure 64
	[ -z "$(find "$MSEND_QUEUE" -name '*.env' -o -name '*.msg')" ] || fail "something is left"
	run "$MSEND" -bp
	refute_output --partial "dead letters"
}

@test "sendmail: -oem: a 550 from Postfix is still exit 67, and the notice lands in the sender's Maildir" {
	plain_msg
	run relay -oem -f bob@hamburger.test carol@hamburger.test <"$MSG"
	assert_failure 67
	assert_output --partial "<carol@hamburger.test>: refused: 550 5.1.1"
	local f
	f=$(wait_mail "$BOB_MAILDIR" "Final-Recipient: rfc822; carol@hamburger.test") || fail "no notice in Bob's Maildir"
	grep -q "^Subject: $ID$" "$f" || fail "not the notice about this message"
	grep -q '^Return-Path: <>$' "$f" || fail "the notice's sender is not <>"
	is_notice "$f" carol@hamburger.test
	[ "$(queue_count)" = 0 ]
}

@test "sendmail: -oem with a null sender, and -oep: no notice; -oem otherwise mails one (exit 67 as before)" {
	fault rcpt550one
	plain_msg
	run dmsend "$FPORT" -oem -f '' bad@crepes.test <"$MSG"
	assert_failure 67
	run dmsend "$FPORT" -oep -f alice@crepes.test bad@crepes.test <"$MSG"
	assert_failure 67
	[ "$(connections)" = 2 ]
	[ -z "$(find "$FSTORE" -name '*.eml')" ]
	run dmsend "$FPORT" --maildomain hamburger.test -oem -f alice@crepes.test bad@crepes.test <"$MSG"
	assert_failure 67
	[ "$(connections)" = 4 ]
	stored_notice '5\.1\.1'
}

# ------------------------------------------------------------------ 5. sendmail compatibility

@test "sendmail: cron's command line (-i -FCronDaemon -B8BITMIME -oem root) sends to root@maildomain" {
	fault accept
	printf 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> true\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nDate: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@hamburger.test>\n\nout\n' "$ID" >"$MSG"
	run dmsend "$FPORT" --maildomain hamburger.test -i -FCronDaemon -B8BITMIME -oem root <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <root@hamburger.test> SIZE=[0-9]+$'
	assert_line 'rcpt <root@hamburger.test> 250'
	wire_of "$MSG" | cmp - "$FSTORE/1.eml"
}

@test "sendmail: git send-email's command line (-i -f FROM RCPT) keeps the envelope and the message" {
	fault accept
	printf 'From: Alice <alice@crepes.test>\nTo: bob@hamburger.test\nSubject: [PATCH] %s\nDate: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-Id: <20260101100000.1-1-alice@crepes.test>\nX-Mailer: git-send-email 2.39.5\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n---\n file | 1 +\n.\n' "$ID" >"$MSG"
	run dmsend "$FPORT" -i -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+( BODY=8BITMIME)?$'
	assert_line 'rcpt <bob@hamburger.test> 250'
	# a "." line is stuffed on the wire; the rest as sent, no header added
	perl -pe 's/\n/\r\n/; s/^\./../' "$MSG" | cat - <(printf '.\r\n') | cmp - "$FSTORE/1.eml"
}

@test "sendmail: mutt's command line (-oem -oi -- RCPT)" {
	fault accept
	plain_msg
	EMAIL=alice@crepes.test run dmsend "$FPORT" -oem -oi -- bob@hamburger.test <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+( BODY=8BITMIME)?$'
	assert_line 'rcpt <bob@hamburger.test> 250'
	wire_of "$MSG" | cmp - "$FSTORE/1.eml"
}

@test "sendmail: -bp is --list-queue; -V prints the version; -VENVID is accepted" {
	fault greet421
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	local a b
	a=$("$MSEND" -bp | sed 's/next in [0-9]*s/next in Ns/')
	b=$("$MSEND" --list-queue | sed 's/next in [0-9]*s/next in Ns/')
	[ -n "$a" ] && [ "$a" = "$b" ] || fail "-bp: '$a', --list-queue: '$b'"
	[[ $a == *"to <bob@crepes.test>"* ]]
	run "$MSEND" -V
	assert_success
	assert_output --regexp '^msend \(mailpipe\) [0-9]+\.[0-9]+'
	kill "$FPID"
	fault accept
	run dmsend "$FPORT" -VENVID123 -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	wire_of "$MSG" | cmp - "$FSTORE/1.eml"
}

@test "sendmail: an address starting with '-' after -- and CR/LF in -f are refused (exit 64)" {
	fault accept
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test -- -oQ@crepes.test <"$MSG"
	assert_failure 64
	assert_output --partial "'-oQ@crepes.test' is not an address"
	run dmsend "$FPORT" -f "$(printf 'alice@crepes.test\r\nRCPT TO:<x@crepes.test>')" bob@crepes.test <"$MSG"
	assert_failure 64
	assert_output --partial "-f: "
	assert_output --partial "is not an address"
	run dmsend "$FPORT" -f "$(printf 'alice@crepes.test\nx')" bob@crepes.test <"$MSG"
	assert_failure 64
	[ "$(connections)" = 0 ]
	[ "$(queue_count)" = 0 ]
}

@test "sendmail: CR or LF in a recipient argument (another RCPT smuggled in) is refused, exit 64, nothing sent" {
	fault accept
	plain_msg
	run dmsend "$FPORT" -f alice@crepes.test "$(printf 'c@crepes.test>\r\nRCPT TO:<evil@crepes.test')" <"$MSG"
	assert_failure 64
	assert_output --partial "CR or LF"
	run dmsend "$FPORT" -f alice@crepes.test bob@crepes.test "$(printf 'c@crepes.test\nevil@crepes.test')" <"$MSG"
	assert_failure 64
	run dmsend "$FPORT" -f alice@crepes.test -s hi --bcc "$(printf 'c@crepes.test\revil@crepes.test')" bob@crepes.test </dev/null
	assert_failure 64
	assert_output --partial "--bcc: CR or LF"
	[ "$(connections)" = 0 ]
	[ "$(queue_count)" = 0 ]
}

# ------------------------------------------------------------------ 6. streaming

@test "streaming: a 200 MB message goes out whole with peak RSS under 8 MiB" {
	fault accept
	local line
	line=$(printf '%078d' 0)
	{
		printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: big\n\n' "$ID"
		yes "$line" | head -n 2654208 # 79 octets a line: 200 MiB
	} >"$MSG"
	run /usr/bin/time -f 'maxrss %M' -o "$BATS_TEST_TMPDIR/time" \
		"$MSEND" --no-queue --direct --mx-port "$FPORT" --dns-server "127.0.0.1:$DNS_PORT" --timeout 120 \
		-f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	local in wire size
	in=$(stat -c %s "$MSG")
	wire=$(stat -c %s "$FSTORE/1.eml")
	# every LF became CRLF, and ".\r\n" ends it
	[ "$wire" = $((in + $(wc -l <"$MSG") + 3)) ] || fail "sent $wire octets for $in"
	size=$(sed -n 's/^mail <alice@crepes.test> SIZE=\([0-9]*\)$/\1/p' "$FSTORE/1.env")
	[ "$size" = $((wire - 3)) ] || fail "SIZE=$size, sent $((wire - 3))"
	grep -qx 'bare 0' "$FSTORE/1.env"
	rm -f "$FSTORE/1.eml" "$MSG"
	if [ -n "${MP_SANITIZE:-}" ] && [ "$MP_SANITIZE" != none ]; then
		return 0 # the memory figure means nothing under a sanitizer
	fi
	local rss
	rss=$(sed -n 's/^maxrss //p' "$BATS_TEST_TMPDIR/time")
	[ "$rss" -lt 8192 ] || fail "peak RSS ${rss} KiB"
}

@test "streaming: a 48 MB 8-bit message re-encoded for a server without 8BITMIME, in BDAT chunks, peak RSS under 8 MiB" {
	fault accept -7 -c
	{
		printf 'Date: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\nSubject: big 8-bit\n\n' "$ID"
		yes 'grüße aus köln, ein langer text mit umlauten äöü und = zeichen' | head -n 700000
	} >"$MSG"
	run /usr/bin/time -f 'maxrss %M' -o "$BATS_TEST_TMPDIR/time" \
		"$MSEND" --no-queue --no-tls --server "127.0.0.1:$FPORT" --timeout 120 -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line 'high 0'
	assert_line "mail <alice@crepes.test> SIZE=$(stat -c %s "$FSTORE/1.eml")"
	# the same line 700000 times, each encoded as the same two (a soft break)
	[ "$(tail -n +8 "$FSTORE/1.eml" | sort -u | wc -l)" = 2 ]
	tail -n 4 "$FSTORE/1.eml" | tr -d '\r' | python3 -c 'import sys, quopri; sys.stdout.buffer.write(quopri.decodestring(sys.stdin.buffer.read()))' |
		cmp - <(tail -n 2 "$MSG")
	rm -f "$FSTORE/1.eml" "$MSG"
	if [ -n "${MP_SANITIZE:-}" ] && [ "$MP_SANITIZE" != none ]; then
		return 0 # the memory figure means nothing under a sanitizer
	fi
	local rss
	rss=$(sed -n 's/^maxrss //p' "$BATS_TEST_TMPDIR/time")
	[ "$rss" -lt 8192 ] || fail "peak RSS ${rss} KiB"
}

# ------------------------------------------------------------------ 7. accounts (mailpipe(5))

# conf FILE: the configuration from stdin, mode 600
conf() {
	mkdir -p "$(dirname "$1")"
	cat >"$1"
	chmod 600 "$1"
}

# work_conf FILE [SETTING...]: an account for the peers' submission port,
# one for smtpfault on $FPORT, the SETTINGs (lines) in the defaults
work_conf() {
	local f=$1
	shift
	conf "$f" <<EOF
# mailpipe(5), as the tests use it
defaults
  timeout 10
  tls_ca_file $CA
$(printf '  %s\n' "$@")

account work
  host 127.0.0.1
  port $SUBM_PORT
  tls starttls
  user bob
  passwordeval "echo hungry"
  from bob@hamburger.test

account fault
  host 127.0.0.1
  port ${FPORT:-1}
  tls off
  from *@crepes.test
  maildomain crepes.test

account default : work
EOF
}

@test "accounts: -a NAME sends through that account (STARTTLS, AUTH, its from as the envelope sender)" {
	work_conf "$BATS_TEST_TMPDIR/rc"
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\nvia an account\n' "$ID" >"$MSG"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work -v bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: STARTTLS"
	assert_output --partial "C: AUTH SCRAM-SHA-256"
	assert_output --partial "C: MAIL FROM:<bob@hamburger.test>"
	refute_output --partial "hungry"
	local f
	f=$(wait_mail "$BOB_MAILDIR" "Subject: $ID") || fail "not in Bob's Maildir"
	grep -q '^Return-Path: <bob@hamburger.test>' "$f"
}

@test "accounts: the default file (\$XDG_CONFIG_HOME/mailpipe/config) and 'account default : work' need no -a" {
	work_conf "$XDG_CONFIG_HOME/mailpipe/config"
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\nby default\n' "$ID" >"$MSG"
	run "$MSEND" bob@hamburger.test <"$MSG"
	assert_success
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	# MAILPIPE_CONFIG names another file, which must exist
	MAILPIPE_CONFIG=$BATS_TEST_TMPDIR/none run "$MSEND" bob@hamburger.test <"$MSG"
	assert_failure 78
	assert_output --partial "$BATS_TEST_TMPDIR/none"
}

@test "accounts: -f picks the account whose from pattern matches; the command line beats the file" {
	fault accept
	work_conf "$BATS_TEST_TMPDIR/rc"
	plain_msg
	# *@crepes.test is the 'fault' account (smtpfault, in clear)
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -f alice@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line --regexp '^mail <alice@crepes.test> SIZE=[0-9]+$'
	# another sender: the default account (Postfix), nothing more at smtpfault
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s-2\n\nx\n' "$ID" >"$MSG"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	wait_mail "$BOB_MAILDIR" "Subject: $ID-2" >/dev/null || fail "not in Bob's Maildir"
	[ ! -e "$FSTORE/2.env" ]
	# --port on the command line wins over the account's port
	printf 'account p\n  host 127.0.0.1\n  port 1\n  tls off\n' | conf "$BATS_TEST_TMPDIR/rc2"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc2" -a p --port "$FPORT" --no-queue -f x@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	[ -e "$FSTORE/2.env" ] || fail "--port did not override the account"
}

@test "accounts: maildomain and aliases (msmtp's format) turn cron's 'root' into real addresses" {
	fault accept
	printf '# local users\nroot: ops@hamburger.test, bob@hamburger.test\ndefault: postmaster@hamburger.test\n' >"$BATS_TEST_TMPDIR/aliases"
	work_conf "$BATS_TEST_TMPDIR/rc" "aliases $BATS_TEST_TMPDIR/aliases"
	printf 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> true\nDate: Thu, 01 Jan 2026 10:00:00 +0000\nMessage-ID: <%s@crepes.test>\n\nout\n' "$ID" >"$MSG"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a fault -i -FCronDaemon -B8BITMIME -oem root www-data ops@crepes.test <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	# the envelope sender: the account's from is a pattern, so USER@maildomain
	assert_line --regexp '^mail <[^@]+@crepes.test> SIZE=[0-9]+$'
	assert_line 'rcpt <ops@hamburger.test> 250'
	assert_line 'rcpt <bob@hamburger.test> 250'
	assert_line 'rcpt <postmaster@hamburger.test> 250'
	assert_line 'rcpt <ops@crepes.test> 250'
	refute_line --partial 'rcpt <root'
	refute_line --partial 'rcpt <www-data'
	# --aliases on the command line; a bad line is exit 78 naming file and line
	printf 'root ops@x\n' >"$BATS_TEST_TMPDIR/bad-aliases"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a fault --aliases "$BATS_TEST_TMPDIR/bad-aliases" root <"$MSG"
	assert_failure 78
	assert_output --partial "bad-aliases:1: expected 'name: address, ...'"
}

@test "accounts: --read-envelope-from (read_envelope_from on) takes the envelope sender from From:; -f still wins; an unqualified sender sent direct is warned about" {
	fault accept
	printf 'From: "Alice (crepes)" <alice@crepes.test>\nTo: bob@hamburger.test\nSubject: %s\n\nhi\n' "$ID" >"$MSG"
	run dmsend "$FPORT" --maildomain somehost --read-envelope-from bob@hamburger.test <"$MSG"
	assert_success
	refute_output --partial "not fully qualified"
	grep -q '^mail <alice@crepes.test>' "$FSTORE/1.env" || fail "envelope: $(grep '^mail' "$FSTORE/1.env")"
	# the configuration key, in an account chosen by -a
	conf "$BATS_TEST_TMPDIR/rc" <<EOF
account mx
  direct on
  read_envelope_from on
EOF
	run dmsend "$FPORT" -C "$BATS_TEST_TMPDIR/rc" -a mx --maildomain somehost bob@hamburger.test <"$MSG"
	assert_success
	grep -q '^mail <alice@crepes.test>' "$FSTORE/2.env"
	# -f is the sender's own word
	run dmsend "$FPORT" --read-envelope-from -f carol@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	grep -q '^mail <carol@crepes.test>' "$FSTORE/3.env"
	# without it: USER@somehost, warned about
	run dmsend "$FPORT" --maildomain somehost bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "is not fully qualified: MX hosts may refuse it"
	grep -q '^mail <[^@]*@somehost>' "$FSTORE/4.env"
	# no From: at all: said, and the default sender goes
	printf 'To: bob@hamburger.test\n\nhi\n' | dmsend "$FPORT" --read-envelope-from --maildomain crepes.test \
		bob@hamburger.test 2>"$BATS_TEST_TMPDIR/err"
	grep -q 'the message has no From: address' "$BATS_TEST_TMPDIR/err"
}

@test "accounts: force_from replaces the -f sender; a plain from is only the default" {
	fault accept
	conf "$BATS_TEST_TMPDIR/rc" <<EOF
account a
  host 127.0.0.1
  port $FPORT
  tls off
  from alerts@crepes.test
account b : a
  force_from on
EOF
	plain_msg
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a a -f someone@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a a bob@hamburger.test <"$MSG"
	assert_success
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a b -f someone@crepes.test bob@hamburger.test <"$MSG"
	assert_success
	grep -q '^mail <someone@crepes.test>' "$FSTORE/1.env"
	grep -q '^mail <alerts@crepes.test>' "$FSTORE/2.env"
	grep -q '^mail <alerts@crepes.test>' "$FSTORE/3.env"
}

@test "accounts: a password in the file: refused while others can read it (78), used at 600, never shown by -v" {
	conf "$BATS_TEST_TMPDIR/rc" <<EOF
account work
  host 127.0.0.1
  port $SUBM_PORT
  tls_ca_file $CA
  user bob
  password "hungry"
  auth plain
EOF
	chmod 644 "$BATS_TEST_TMPDIR/rc"
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\npw\n' "$ID" >"$MSG"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work bob@hamburger.test <"$MSG"
	assert_failure 78
	assert_output --partial "holds a password and others can read it (chmod 600"
	chmod 600 "$BATS_TEST_TMPDIR/rc"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work -v -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: AUTH PLAIN"
	refute_output --partial "hungry"
	refute_output --partial "$(printf '\0bob\0hungry' | base64)"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
}

# bad_conf CONTENT EXPECTED [ARGS...]: msend -C with the file CONTENT (a
# printf format) is exit 78 with EXPECTED in its message
bad_conf() {
	local rc=$BATS_TEST_TMPDIR/rc content=$1 want=$2
	shift 2
	printf "$content" | conf "$rc"
	run "$MSEND" -C "$rc" "$@" x@y.test </dev/null
	assert_failure 78
	assert_output --partial "$want"
}

@test "accounts: mistakes in the file are exit 78 with FILE:LINE, before anything is sent" {
	local rc=$BATS_TEST_TMPDIR/rc
	bad_conf 'account a\n  host h\n  hots x\n' "$rc:3: unknown setting 'hots'" -a a
	assert_output "msend: $rc:3: unknown setting 'hots'"
	bad_conf 'account a\n  tls maybe\n' "$rc:2: tls: 'maybe'" -a a
	bad_conf 'account a\n  port 99999\n' "$rc:2: port:" -a a
	bad_conf 'account b : a\n' "$rc:1: account 'a' is not defined above"
	bad_conf 'account a\n  user "unbalanced\n' "$rc:2: user: unbalanced quote"
	bad_conf 'account a\naccount a\n' "$rc:2: account 'a' defined twice"
	bad_conf 'account a\n  protocol imap\n' "account 'a' is for imap, not SMTP" -a a
	bad_conf 'account a\n' "$rc: no account 'nosuch'" -a nosuch
	assert_output "msend: $rc: no account 'nosuch'"
	bad_conf "user $(head -c 5000 /dev/zero | tr '\0' x)\n" "$rc:1: line longer than 4096 bytes"
	bad_conf 'account a\n  auth magic\n' "$rc:2: auth: 'magic' is not one of" -a a
	run "$MSEND" --auth nonsense x@y.test </dev/null
	assert_failure 64
}

@test "accounts: a queued message remembers its account; msend -q sends it with that account's settings" {
	fault greet421
	local rc=$BATS_TEST_TMPDIR/rc
	conf "$rc" <<EOF
account flaky
  host 127.0.0.1
  port $FPORT
  tls off
  from bob@hamburger.test
EOF
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\nqueued with an account\n' "$ID" >"$MSG"
	run "$MSEND" -C "$rc" -a flaky bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "queued as"
	grep -q '^account flaky$' "$MSEND_QUEUE"/*.env
	# the account now points at Postfix: a bare msend -q uses it
	conf "$rc" <<EOF
account flaky
  host 127.0.0.1
  port $SUBM_PORT
  tls_ca_file $CA
  user bob
  passwordeval "echo hungry"
EOF
	run "$MSEND" -C "$rc" -q --now
	assert_success
	assert_output --regexp ": 1 delivered, 0 failed$"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	[ "$(queue_count)" = 0 ]
}

@test "accounts: log FILE (or --log) gets one line per message: account, from, recipients, server, size, Message-ID, result" {
	work_conf "$BATS_TEST_TMPDIR/rc" "log $BATS_TEST_TMPDIR/msend.log"
	plain_msg
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work bob@hamburger.test nobody@hamburger.test <"$MSG"
	assert_failure 67
	run cat "$BATS_TEST_TMPDIR/msend.log"
	assert_success
	[ "${#lines[@]}" = 1 ]
	assert_output --regexp "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[-+][0-9]{4} account=work from=<bob@hamburger.test> to=<bob@hamburger.test>,<nobody@hamburger.test> server=127.0.0.1 size=[0-9]+ msgid=<$ID@hamburger.test> result=1 delivered, 1 refused, 0 queued: "
	refute_output --partial hungry
	# the command line's --log wins
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work --log "$BATS_TEST_TMPDIR/other.log" bob@hamburger.test <"$MSG"
	assert_success
	grep -q 'result=1 delivered, 0 refused, 0 queued$' "$BATS_TEST_TMPDIR/other.log"
}

@test "accounts: log ~/.local/state/mailpipe/msend.log (mailpipe.5's example) on a fresh account: the directories made, 0700" {
	fault accept
	local rc=$BATS_TEST_TMPDIR/rc
	[ ! -e "$HOME/.local" ] || fail "HOME is not fresh"
	conf "$rc" <<EOF
account sink
  host 127.0.0.1
  port $FPORT
  tls off
  from bob@hamburger.test
  log ~/.local/state/mailpipe/msend.log
EOF
	plain_msg
	run --separate-stderr "$MSEND" -C "$rc" -a sink bob@hamburger.test <"$MSG"
	assert_success
	assert_equal "$stderr" ""
	grep -q "account=sink from=<bob@hamburger.test> to=<bob@hamburger.test> server=127.0.0.1 " \
		"$HOME/.local/state/mailpipe/msend.log" || fail "no log line: $(cat "$HOME/.local/state/mailpipe/msend.log" 2>&1)"
	assert_equal "$(stat -c %a "$HOME/.local" "$HOME/.local/state" "$HOME/.local/state/mailpipe")" $'700\n700\n700'
	# a directory that cannot be made is named, and the message still goes
	rm -r "${BATS_TEST_TMPDIR:?}/home/.local"
	: >"$BATS_TEST_TMPDIR/home/.local"
	run --separate-stderr "$MSEND" -C "$rc" -a sink bob@hamburger.test <"$MSG"
	assert_success
	assert_equal "$stderr" "msend: log $HOME/.local/state/mailpipe/msend.log: $HOME/.local/state: Not a directory"
}

@test "accounts: tls_fingerprint pins the relay's certificate; a wrong pin fails the TLS step" {
	local fp
	fp=$(openssl s_client -connect "127.0.0.1:$SUBM_PORT" -starttls smtp </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')
	[ -n "$fp" ] || fail "no fingerprint from openssl"
	work_conf "$BATS_TEST_TMPDIR/rc"
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\npinned\n' "$ID" >"$MSG"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work --fingerprint "$fp" bob@hamburger.test <"$MSG"
	assert_success
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	work_conf "$BATS_TEST_TMPDIR/rc" "tls_fingerprint $(echo "$fp" | tr 0-9A-F 1-9A-F0)"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work --no-queue bob@hamburger.test <"$MSG"
	assert_failure 75
	assert_output --partial "fingerprint"
}

@test "tls: --fingerprint replaces the CA check: Postfix's certificate pinned with no CA file goes; a wrong pin with the CA is refused" {
	local fp bad
	fp=$(openssl s_client -connect "127.0.0.1:$SUBM_PORT" -starttls smtp </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')
	[ -n "$fp" ] || fail "no fingerprint from openssl"
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\npinned, no CA\n' "$ID" >"$MSG"
	# the test CA is in no store: only the pin can make it trusted
	run "$MSEND" --no-queue --server 127.0.0.1 --port "$SUBM_PORT" --fingerprint "$fp" --user bob \
		--password-eval 'echo hungry' --timeout 60 -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	refute_output --partial "not trusted"
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
	bad=$(echo "$fp" | tr 0-9A-F 1-9A-F0)
	run relay --no-queue --fingerprint "$bad" -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 75
	assert_output --partial "does not match the pinned fingerprint"
	refute_output --partial "C: MAIL FROM"
	[ "$(count_mail "$BOB_MAILDIR" "Subject: $ID")" = 1 ]
	# not a SHA-256: a configuration error before anything is sent
	run relay --no-queue --fingerprint "12:34" -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure
	assert_output --partial "is not a SHA-256 in hex"
}

@test "accounts: tls_cert_file and tls_key_file are loaded (a missing file is exit 78 naming it)" {
	work_conf "$BATS_TEST_TMPDIR/rc" "tls_cert_file $BATS_TEST_TMPDIR/nonexistent.pem"
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\ncert\n' "$ID" >"$MSG"
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work --no-queue bob@hamburger.test <"$MSG"
	assert_failure 78
	assert_output --partial "nonexistent.pem"
	# a real certificate and key: the session goes through
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$BATS_TEST_TMPDIR/k.pem" -out "$BATS_TEST_TMPDIR/c.pem" \
		-days 1 -subj /CN=msend-client 2>/dev/null
	run "$MSEND" -C "$BATS_TEST_TMPDIR/rc" -a work --cert-file "$BATS_TEST_TMPDIR/c.pem" \
		--key-file "$BATS_TEST_TMPDIR/k.pem" bob@hamburger.test <"$MSG"
	assert_success
	wait_mail "$BOB_MAILDIR" "Subject: $ID" >/dev/null || fail "not in Bob's Maildir"
}

# acct_send FILE ACCOUNT SUBJECT: msend -C FILE -a ACCOUNT -v to Bob through
# Postfix's submission port; it must go with STARTTLS and AUTH PLAIN, the
# password never in the trace, and land
acct_send() {
	printf 'From: bob@hamburger.test\nTo: bob@hamburger.test\nSubject: %s\n\nvia %s\n' "$3" "$2" >"$MSG"
	run "$MSEND" -C "$1" -a "$2" -v --no-queue -f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "C: STARTTLS"
	assert_output --partial "C: AUTH PLAIN"
	refute_output --partial "hungry"
	wait_mail "$BOB_MAILDIR" "Subject: $3" >/dev/null || fail "$2: not in Bob's Maildir"
}

@test "accounts: an account's own settings beat its parent's, key by key: the connection (protocol, host, port, tls, tls_trust_file, tls_fingerprint, the client certificate, auth, user, password over passwordeval, direct)" {
	local T=$BATS_TEST_TMPDIR fp
	fp=$(openssl s_client -connect "127.0.0.1:$SUBM_PORT" -starttls smtp </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')
	[ -n "$fp" ] || fail "no fingerprint from openssl"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k.pem" -out "$T/c.pem" \
		-days 1 -subj /CN=msend-client 2>/dev/null
	# every one of the parent's values makes the send fail, or shows in the trace
	conf "$T/rc" <<EOF
account parent
  protocol imap
  host parent.invalid
  port 1
  tls on
  tls_ca_file $T/none.crt
  tls_fingerprint 00:11
  tls_cert_file $T/none.pem
  tls_key_file $T/none.key
  auth login
  user parent
  passwordeval "exit 1"
  direct on
  timeout 10
account child : parent
  protocol smtp
  host 127.0.0.1
  port $SUBM_PORT
  tls starttls
  tls_trust_file $CA
  tls_fingerprint $fp
  tls_cert_file $T/c.pem
  tls_key_file $T/k.pem
  auth plain
  user bob
  password hungry
  direct off
# the other way round: the parent's password, the account's own passwordeval
account parent2
  password wrong
account child2 : parent2, child
  passwordeval "echo hungry"
EOF
	acct_send "$T/rc" child "$ID"
	acct_send "$T/rc" child2 "$ID-2"
}

@test "accounts: a key given twice in one account: the last line counts (msend)" {
	local T=$BATS_TEST_TMPDIR
	conf "$T/rc" <<EOF
account twice
  protocol imap
  protocol smtp
  host parent.invalid
  host 127.0.0.1
  port 1
  port $SUBM_PORT
  tls on
  tls starttls
  tls_ca_file $T/none.crt
  tls_ca_file $CA
  auth login
  auth plain
  user parent
  user bob
  passwordeval "exit 1"
  password hungry
  direct on
  direct off
  domain first.invalid
  domain twice.hamburger.test
  timeout 1
  timeout 60
EOF
	acct_send "$T/rc" twice "$ID"
	assert_output --partial "C: EHLO twice.hamburger.test"
}

@test "accounts: an account's own settings beat its parent's, key by key: the envelope and the rest (domain, from, force_from, read_envelope_from, maildomain, aliases, log, dkim_domain, dkim_canon, auth_plaintext, queue, timeout; dkim_key adds)" {
	local T=$BATS_TEST_TMPDIR
	fault accept
	openssl genpkey -algorithm ed25519 -out "$T/p.pem" 2>/dev/null
	openssl genpkey -algorithm ed25519 -out "$T/c.pem" 2>/dev/null
	chmod 600 "$T/p.pem" "$T/c.pem"
	printf 'root: parent@parent.invalid\ndefault: parent@parent.invalid\n' >"$T/aliases.parent"
	printf 'root: ops@hamburger.test\n' >"$T/aliases.child"
	conf "$T/rc" <<EOF
account parent
  host parent.invalid
  port 1
  tls on
  timeout 3600
  domain parent.invalid
  from parent@parent.invalid
  force_from on
  read_envelope_from on
  maildomain parent.invalid
  aliases $T/aliases.parent
  log $T/parent.log
  dkim_key $T/p.pem
  dkim_selector p
  dkim_domain parent.invalid
  dkim_canon simple/simple
  auth_plaintext on
  queue $T/parentq
account child : parent
  host 127.0.0.1
  port $FPORT
  tls off
  domain child.crepes.test
  from child@crepes.test
  force_from off
  read_envelope_from off
  maildomain crepes.test
  aliases $T/aliases.child
  log $T/child.log
  dkim_key $T/c.pem
  dkim_selector c
  dkim_domain crepes.test
  dkim_canon relaxed/simple
  auth_plaintext off
  queue $T/childq
EOF
	printf 'From: header@hamburger.test\nTo: root\nSubject: %s\n\nchild\n' "$ID" >"$MSG"
	run "$MSEND" -C "$T/rc" -a child --timeout 60 --no-queue root www-data <"$MSG"
	assert_success
	run cat "$FSTORE/1.env"
	assert_line 'helo child.crepes.test'
	assert_line --regexp '^mail <child@crepes.test> SIZE=[0-9]+$'
	assert_line 'rcpt <ops@hamburger.test> 250'
	assert_line 'rcpt <www-data@crepes.test> 250'
	refute_output --partial parent
	# dkim_key is a list: the parent's key and the account's own both sign
	# (mailpipe(5)); the domain and canonicalization are the account's
	run grep -c '^DKIM-Signature:' "$FSTORE/1.eml"
	assert_output 2
	perl -0777 -ne 's/\r//g; s/\n[ \t]+//g; s/[ \t]//g; print "$1\n" while /^DKIM-Signature:(.*)$/mg' \
		"$FSTORE/1.eml" >"$T/sigs"
	local sel
	for sel in p c; do
		grep "[; ]s=$sel;" "$T/sigs" | grep ';d=crepes.test;' | grep -q ';c=relaxed/simple;' ||
			fail "no s=$sel signature with d=crepes.test and c=relaxed/simple: $(cat "$T/sigs")"
	done
	grep -q 'ops@hamburger.test' "$T/child.log" || fail "child.log: $(cat "$T/child.log" 2>&1)"
	[ ! -e "$T/parent.log" ]
	# force_from off: -f gives the sender
	run "$MSEND" -C "$T/rc" -a child --timeout 60 --no-queue -f minus@crepes.test ops@hamburger.test <"$MSG"
	assert_success
	run cat "$FSTORE/2.env"
	assert_line --regexp '^mail <minus@crepes.test> SIZE=[0-9]+$'
	# auth_plaintext off: no password in clear
	MSEND_PASSWORD=x run "$MSEND" -C "$T/rc" -a child --timeout 60 --no-queue --user bob ops@hamburger.test <"$MSG"
	assert_failure 78
	assert_output --partial "refusing to send a password without TLS"
	# timeout: an account's own 1 s over the 3600 s inherited; the queue is
	# the child's (inherited through it), not the parent's
	kill "$FPID"
	fault silence
	printf 'account quiet : child\n  port %s\n  timeout 1\n' "$FPORT" >>"$T/rc"
	run "$MSEND" -C "$T/rc" -a quiet -f x@crepes.test ops@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "timed out"
	assert_output --partial "queued as"
	[ "$(find "$T/childq" -name '*.env' | wc -l)" = 1 ] || fail "not in the child's queue"
	[ ! -e "$T/parentq" ]
}

# ------------------------------------------------------------------ 8. compose mode (-s, -A)

# a python3 check of a delivered message (Python's email package as the oracle)
py_check() {
	command -v python3 >/dev/null || fail "python3 is needed for this test"
	python3 - "$@"
}

@test "compose: -s with a non-ASCII subject, -A a PDF and a UTF-8 name, --cc, --bcc, --reply-to, -F: Bob gets it, parts byte-exact" {
	local pdf=$BATS_TEST_DIRNAME/fixtures/mparse/report.pdf
	cp "$pdf" "$BATS_TEST_TMPDIR/€ rates.csv"
	printf 'Hallo Bob,\nder Bericht %s: Grüße aus Köln.\n' "$ID" >"$MSG"
	run relay -f bob@hamburger.test -F 'Bob Müller' -s "Bericht $ID: Grüße" -A "$pdf" \
		-A "$BATS_TEST_TMPDIR/€ rates.csv" --cc 'Zoë <bob@hamburger.test>' --bcc alice@crepes.test \
		--reply-to 'Ops, Team <ops@hamburger.test>' 'Bob <bob@hamburger.test>' <"$MSG"
	assert_success
	local f
	f=$(wait_mail "$BOB_MAILDIR" "$ID") || fail "not in Bob's Maildir"
	wait_mail "$ALICE_MAILDIR" "$ID" >/dev/null || fail "the Bcc recipient did not get it"
	run grep -ci '^bcc:' "$f"
	assert_output 0
	py_check "$f" "$pdf" "$MSG" "$ID" <<'EOF'
import sys, email, email.policy
path, pdf, body, ident = sys.argv[1:]
m = email.message_from_binary_file(open(path, "rb"), policy=email.policy.default)
assert m["Subject"] == f"Bericht {ident}: Grüße", m["Subject"]
assert m["From"].addresses[0].display_name == "Bob Müller", m["From"]
assert m["From"].addresses[0].addr_spec == "bob@hamburger.test"
assert [a.addr_spec for a in m["To"].addresses] == ["bob@hamburger.test"]
assert m["Cc"].addresses[0].display_name == "Zoë"
assert m["Reply-To"].addresses[0].display_name == "Ops, Team", m["Reply-To"]
assert m["Message-ID"] and m["Date"] and m["MIME-Version"] == "1.0"
assert m.get_content_type() == "multipart/mixed"
parts = list(m.iter_parts())
assert len(parts) == 3, len(parts)
assert parts[0].get_content_type() == "text/plain"
assert parts[0].get_content_charset() == "utf-8"
assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
assert parts[0].get_content() == open(body, encoding="utf-8").read()
assert parts[1].get_content_type() == "application/pdf"
assert parts[1].get_filename() == "report.pdf"
assert parts[1].get_content() == open(pdf, "rb").read()
assert parts[2].get_content_type() == "text/csv"
assert parts[2].get_filename() == "€ rates.csv", parts[2].get_filename()
assert parts[2].get_payload(decode=True) == open(pdf, "rb").read()
EOF
	# and mparse -x writes the same bytes back
	mkdir "$BATS_TEST_TMPDIR/x"
	run "${MPARSE:-$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse}" -x "$BATS_TEST_TMPDIR/x" "$f"
	assert_success
	cmp "$pdf" "$BATS_TEST_TMPDIR/x/report.pdf"
	cmp "$pdf" "$BATS_TEST_TMPDIR/x/€ rates.csv"
}

@test "compose: ASCII text goes 7bit; a 2000-octet line or non-UTF-8 bytes go quoted-printable (unknown-8bit, warned)" {
	fault accept
	printf 'plain text\n' | dmsend "$FPORT" -f alice@crepes.test -s "ascii $ID" bob@hamburger.test
	run grep -a -c -e '^Content-Type: text/plain; charset=us-ascii' -e '^Content-Transfer-Encoding: 7bit' "$FSTORE/1.eml"
	assert_output 2
	grep -qa "^Subject: ascii $ID" "$FSTORE/1.eml"
	{ printf '%02000d\n' 0; } | dmsend "$FPORT" -f alice@crepes.test -s long bob@hamburger.test
	grep -qa '^Content-Transfer-Encoding: quoted-printable' "$FSTORE/2.eml"
	# no line on the wire is longer than 78 octets (76 + CRLF)
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$FSTORE/2.eml")" -le 78 ]
	run dmsend "$FPORT" -f alice@crepes.test -s latin1 bob@hamburger.test < <(printf 'caf\351\n')
	assert_success
	assert_output --partial "not UTF-8: sent as charset unknown-8bit"
	grep -qa '^Content-Type: text/plain; charset=unknown-8bit' "$FSTORE/3.eml"
	grep -qa '^caf=E9' "$FSTORE/3.eml"
}

@test "compose: a 2000-character ASCII subject is folded at white space (lines of 78 at most), unfolds to itself" {
	fault accept
	local subj word
	subj="$ID"
	while [ "${#subj}" -lt 2000 ]; do subj="$subj word$RANDOM"; done
	subj=${subj:0:2000}
	[ "${subj: -1}" != " " ] || subj="${subj%?}x"
	printf 'text\n' | dmsend "$FPORT" -f alice@crepes.test -s "$subj" bob@hamburger.test
	[ -f "$FSTORE/1.eml" ] || fail "not sent"
	run "${MPARSE:-$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse}" -f subject "$FSTORE/1.eml"
	assert_success
	assert_output "$subj"
	# the header's lines: none over 78 octets (CR LF not counted)
	[ "$(tr -d '\r' <"$FSTORE/1.eml" | awk '/^$/ { exit } { if (length($0) > m) m = length($0) } END { print m }')" -le 78 ]
	# a 1500-octet word cannot be folded: encoded-words, still no line over 998
	word=$(printf 'x%.0s' $(seq 1500))
	printf 'text\n' | dmsend "$FPORT" -f alice@crepes.test -s "a $word" bob@hamburger.test
	run "${MPARSE:-$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse}" -f subject "$FSTORE/2.eml"
	assert_output "a $word"
	[ "$(tr -d '\r' <"$FSTORE/2.eml" | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -le 998 ]
}

@test "compose: CR or LF in -s, -F, --cc, --reply-to is refused (64) before anything is sent; -A of a missing file is 66; -t with -s is 64" {
	fault accept
	local nl=$'\n' cr=$'\r'
	run dmsend "$FPORT" -f alice@crepes.test -s "hi${nl}Bcc: victim@x.test" bob@hamburger.test </dev/null
	assert_failure 64
	assert_output --partial "CR or LF"
	run dmsend "$FPORT" -f alice@crepes.test -s hi -F "Eve${cr}${nl}To: x@y" bob@hamburger.test </dev/null
	assert_failure 64
	run dmsend "$FPORT" -f alice@crepes.test -s hi --cc "a@b.test${nl}Bcc: c@d.test" bob@hamburger.test </dev/null
	assert_failure 64
	run dmsend "$FPORT" -f alice@crepes.test -s hi --reply-to "a@b.test${nl}X: y" bob@hamburger.test </dev/null
	assert_failure 64
	run dmsend "$FPORT" -f alice@crepes.test -s hi -A "$BATS_TEST_TMPDIR/nonexistent" bob@hamburger.test </dev/null
	assert_failure 66
	assert_output --partial "nonexistent"
	run dmsend "$FPORT" -f alice@crepes.test -t -s hi bob@hamburger.test </dev/null
	assert_failure 64
	[ "$(connections)" = 0 ] || fail "something was sent"
	[ "$(queue_count)" = 0 ]
}

@test "compose: a 100 MB attachment streams through in bounded memory, base64 lines of 76" {
	fault accept
	head -c 100000000 /dev/urandom >"$BATS_TEST_TMPDIR/big.bin"
	run /usr/bin/time -f 'maxrss %M' -o "$BATS_TEST_TMPDIR/time" \
		"$MSEND" --no-queue --direct --mx-port "$FPORT" --dns-server "127.0.0.1:$DNS_PORT" --timeout 120 \
		-f alice@crepes.test -s big -A "$BATS_TEST_TMPDIR/big.bin" bob@crepes.test </dev/null
	assert_success
	# the base64 body decodes to the file
	awk '/^Content-Transfer-Encoding: base64/ { h = 1; next } h && /^\r?$/ { b = 1; next }
		b && /^--=_mailpipe_/ { exit } b && NF' "$FSTORE/1.eml" |
		tr -d '\r' | tee "$BATS_TEST_TMPDIR/b64" | base64 -d | cmp - "$BATS_TEST_TMPDIR/big.bin"
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$BATS_TEST_TMPDIR/b64")" = 76 ]
	rm -f "$FSTORE/1.eml" "$BATS_TEST_TMPDIR/big.bin" "$BATS_TEST_TMPDIR/b64"
	if [ -n "${MP_SANITIZE:-}" ] && [ "$MP_SANITIZE" != none ]; then
		return 0 # the memory figure means nothing under a sanitizer
	fi
	local rss
	rss=$(sed -n 's/^maxrss //p' "$BATS_TEST_TMPDIR/time")
	[ "$rss" -lt 8192 ] || fail "peak RSS ${rss} KiB"
}

# ------------------------------------------------------------------ 9. documentation

@test "completions and manual: --auth offers every mechanism msend knows, scram-sha-256 and oauthbearer among them" {
	local d=${COMPDIR:-$BATS_TEST_DIRNAME/../../completions} m=${MANDIR:-$BATS_TEST_DIRNAME/../../man}
	run bash -c 'source /usr/share/bash-completion/bash_completion || exit 1
		source "$1/bash/msend" || exit 1
		COMP_WORDS=(msend --auth ""); COMP_CWORD=2; COMP_LINE="msend --auth "; COMP_POINT=${#COMP_LINE}
		_msend msend "" --auth; echo "reply: ${COMPREPLY[*]}"' _ "$d"
	assert_success
	assert_output --partial "reply: plain login cram-md5 scram-sha-256 xoauth2 oauthbearer auto"
	grep -q '(plain login cram-md5 scram-sha-256 xoauth2 oauthbearer auto)' "$d/zsh/_msend"
	if command -v fish >/dev/null; then
		run fish --no-config -c 'source $argv[1]; or exit 1; complete -C "msend --auth s"' "$d/fish/msend.fish"
		assert_success
		assert_line --regexp $'^scram-sha-256\t'
	fi
	run "$MSEND" --help
	assert_output --partial "scram-sha-256"
	run "$MSEND" --auth scram-sha-1 bob@crepes.test </dev/null
	assert_failure 64
	assert_output --partial "not one of plain, login, cram-md5, scram-sha-256, xoauth2, oauthbearer, auto"
	run mandoc -Tlint -W warning "$m/msend.1"
	assert_success
	grep -q '^\.Cm scram-sha-256$' "$m/msend.1"
	grep -q '^\.Cm oauthbearer$' "$m/msend.1"
}

# ------------------------------------------------------------------ 9. JSON

@test "json: -j prints one line per message with each recipient's fate; --list-queue -j one line per entry" {
	fault rcpt550one
	plain_msg
	run --separate-stderr dmsend "$FPORT" -j -f alice@crepes.test bob@crepes.test bad@crepes.test <"$MSG"
	assert_failure 67
	local out=$output
	run jq -r 'select(.type == "result") | [.type, .message_id, .from, .server, (.bytes > 0)] | @tsv' <<<"$out"
	assert_output $'result\t<'"$ID"$'@hamburger.test>\talice@crepes.test\tmx\ttrue'
	# the refusal is an error line after the result, with the exit status
	run jq -r 'select(.type == "error") | .error | [.code, .name, .message] | @tsv' <<<"$out"
	assert_output $'67\tEX_NOUSER\t1 recipient refused'
	run --separate-stderr dmsend "$FPORT" -j -f alice@crepes.test bob@crepes.test bad@crepes.test <"$MSG"
	run jq -r 'select(.type == "result") | .recipients[] | [.address, .status, .code] | @tsv' <<<"$output"
	assert_output $'bob@crepes.test\tdelivered\t250\nbad@crepes.test\trefused\t550'
	# a temporary failure: queued, with its id
	fault greet421
	run --separate-stderr dmsend "$FPORT" -j -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_success
	local qid
	qid=$(jq -r '.queued_as' <<<"$output")
	[ -n "$qid" ] && [ "$qid" != null ] || fail "no queue id: $output"
	run jq -r '.recipients[0].status' <<<"$output"
	assert_output queued
	run --separate-stderr "$MSEND" --list-queue -j
	assert_success
	run jq -r '[.type, .id, .from, .recipients[0], .attempts, (.last_error | length > 0)] | @tsv' <<<"$output"
	assert_output "queued	$qid	alice@crepes.test	bob@crepes.test	1	true"
	# --no-queue: deferred, no id, exit 75
	run --separate-stderr dmsend "$FPORT" -j --no-queue -f alice@crepes.test bob@crepes.test <"$MSG"
	assert_failure 75
	out=$output
	run jq -r 'select(.type == "result") | [.recipients[0].status, (.queued_as | tostring)] | @tsv' <<<"$out"
	assert_output $'deferred\tnull'
	run jq -r 'select(.type == "error") | .error | [.code, .name] | @tsv' <<<"$out"
	assert_output $'75\tEX_TEMPFAIL'
}

# ------------------------------------------------------------------ 10. certificates that fail

# tls_server NAME STARTDATE ENDDATE: a certificate for 127.0.0.1 from the
# CA made here ($BATS_TEST_TMPDIR/ca), and openssl s_server with it on an
# implicit-TLS port (TPORT); stopped by teardown
tls_server() {
	local d=$BATS_TEST_TMPDIR/ca name=$1
	if [ ! -f "$d/ca.crt" ]; then
		mkdir -p "$d/db" && touch "$d/db/index" && echo 01 >"$d/db/serial"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
			-subj /CN=testca 2>/dev/null || fail "openssl req failed"
		printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/db/index\nserial = %s/db/serial\nnew_certs_dir = %s/db\ndefault_md = sha256\npolicy = p\nx509_extensions = e\nunique_subject = no\n[p]\ncommonName = supplied\n[e]\nsubjectAltName = IP:127.0.0.1\n' \
			"$d" "$d" "$d" >"$d/ca.cnf"
	fi
	openssl req -newkey rsa:2048 -nodes -keyout "$d/$name.key" -out "$d/$name.csr" -subj /CN=127.0.0.1 2>/dev/null
	openssl ca -batch -config "$d/ca.cnf" -cert "$d/ca.crt" -keyfile "$d/ca.key" -in "$d/$name.csr" \
		-out "$d/$name.crt" -startdate "$2" -enddate "$3" -notext >/dev/null 2>&1 || fail "openssl ca failed"
	TPORT=$((SINKDUMP_PORT + 40 + ${#FPIDS[@]}))
	openssl s_server -quiet -accept "127.0.0.1:$TPORT" -cert "$d/$name.crt" -key "$d/$name.key" \
		</dev/null >/dev/null 2>&1 3>&- &
	FPIDS+=($!)
	for _ in $(seq 1200); do (exec 3<>"/dev/tcp/127.0.0.1/$TPORT") 2>/dev/null && break; sleep 0.05; done
}

@test "tls: a relay certificate for another name and an expired one: a clear error naming the problem, the message queued" {
	plain_msg
	# valid now, for 127.0.0.1 only: asked for as localhost
	tls_server good "$(date -u -d yesterday +%Y%m%d%H%M%SZ)" "$(date -u -d tomorrow +%Y%m%d%H%M%SZ)"
	run "$MSEND" --no-queue --server "localhost:$TPORT" --tls --ca-file "$BATS_TEST_TMPDIR/ca/ca.crt" --timeout 60 \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_failure 75
	assert_output --partial "certificate not trusted for localhost"
	# for 127.0.0.1, but expired in 2020
	tls_server expired 20200101000000Z 20200102000000Z
	run "$MSEND" --server "127.0.0.1:$TPORT" --tls --ca-file "$BATS_TEST_TMPDIR/ca/ca.crt" --timeout 60 \
		-f bob@hamburger.test bob@hamburger.test <"$MSG"
	assert_success
	assert_output --partial "certificate not trusted for 127.0.0.1: certificate has expired"
	assert_output --partial "queued as"
	[ "$(queue_count)" = 1 ]
}
