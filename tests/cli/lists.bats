#!/usr/bin/env bats
# msend as a mailing-list exploder (issue 19): --rcpt-file, transactions of
# at most 100 RCPTs, domains in parallel (--parallel), each recipient's
# result on stdout (text and -j), refusals not queued and deferrals queued
# for -q, --verp, and the list header fields of compose mode.
#
# Every address is loopback: dnsfault's "ok" mode answers any domain D
# with MX hosts mxN.D at 127.0.0.1 (and ::1), its "txt" mode the records
# of a test's files (domains sharing an MX host), and smtpfault stores what
# it is given on a port of its own (--mx-port); -C counts the connections
# open at once. MSEND, SMTPFAULT, DNSFAULT, MPARSE: as in msend.bats
# (built here when unset).

# shellcheck disable=SC2030,SC2031,SC2034,SC2154

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/dnsfault'
load 'helpers/members'

bats_require_minimum_version 1.5.0

setup_file() {
	export MSEND=${MSEND:-$BATS_TEST_DIRNAME/../../build/tools/msend/msend}
	[ -x "$MSEND" ] || {
		echo "# msend binary not found at '$MSEND' (build it or set MSEND)" >&3
		return 1
	}
	: "${SMTPFAULT:=$BATS_FILE_TMPDIR/smtpfault}"
	[ -x "$SMTPFAULT" ] ||
		cc -std=c17 -D_GNU_SOURCE -O2 -o "$SMTPFAULT" "$BATS_TEST_DIRNAME/../fault/smtpfault.c"
	: "${DNSFAULT:=$BATS_FILE_TMPDIR/dnsfault}"
	[ -x "$DNSFAULT" ] ||
		cc -std=c17 -O2 -o "$DNSFAULT" "$BATS_TEST_DIRNAME/../fault/dnsfault.c"
	export SMTPFAULT DNSFAULT
}

setup() {
	export MSEND_QUEUE=$BATS_TEST_TMPDIR/queue TMPDIR=$BATS_TEST_TMPDIR LC_ALL=C
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg HOME=$BATS_TEST_TMPDIR/home
	export XDG_CACHE_HOME=$BATS_TEST_TMPDIR/cache
	unset EMAIL MSEND_PASSWORD MAILPIPE_CONFIG
	mkdir -p "$HOME"
	PIDS=()
	LIST=$BATS_TEST_TMPDIR/list.txt
	MSG=$BATS_TEST_TMPDIR/msg
	printf 'From: list@lists.test\nSubject: news\n\nThe news.\n' >"$MSG"
	start_dns
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

# wait_port FILE: the port a server printed as PORT=n (a hang guard of 60 s)
wait_port() {
	local port
	for _ in $(seq 3000); do
		port=$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null)
		[ -n "$port" ] && { echo "$port"; return 0; }
		sleep 0.02
	done
	return 1
}

start_dns() {
	"$DNSFAULT" ok >"$BATS_TEST_TMPDIR/dns.out" 2>/dev/null </dev/null 3>&- &
	PIDS+=($!)
	DPORT=$(wait_port "$BATS_TEST_TMPDIR/dns.out") || fail "dnsfault did not start"
}

# sink MODE [smtpfault options]: smtpfault storing into $STORE (a new
# directory each time); sets SPORT and SLOG
sink() {
	local mode=$1 n=${#PIDS[@]}
	shift
	STORE=$BATS_TEST_TMPDIR/store$n SLOG=$BATS_TEST_TMPDIR/sink$n.log
	mkdir -p "$STORE"
	"$SMTPFAULT" -d "$STORE" "$@" "$mode" >"$BATS_TEST_TMPDIR/sink$n.out" 2>"$SLOG" </dev/null 3>&- &
	PIDS+=($!)
	SPORT=$(wait_port "$BATS_TEST_TMPDIR/sink$n.out") || fail "smtpfault $mode did not start"
}

# restart_accept: the last sink stopped, an accepting one on its port
restart_accept() {
	local pid=${PIDS[-1]} port=$SPORT
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	sink accept -p "$port"
}

lmsend() {
	"$MSEND" --direct --mx-port "$SPORT" --dns-server "127.0.0.1:$DPORT" --timeout 60 \
		-f list@lists.test "$@"
}

# the RCPT counts of the stored transactions, sorted, one a line
rcpts_per_txn() {
	local f
	for f in "$STORE"/*.env; do grep -c '^rcpt ' "$f"; done | sort -n
}

# the recipients the sink took (RCPT answered 250 in a stored message), sorted
taken() { cat "$STORE"/*.env 2>/dev/null | sed -n 's/^rcpt <\(.*\)> 250$/\1/p' | sort; }

@test "--rcpt-file: comments, blank lines and duplicates (any case) skipped; each recipient once, reported in input order" {
	sink accept
	cat >"$LIST" <<'EOF'
# the members
bob@a.test

   carol@b.test
	# indented comment
BOB@A.test
Dave Smith <dave@a.test>
carol@b.test
EOF
	run lmsend --rcpt-file "$LIST" <"$MSG"
	assert_success
	assert_equal "$(cut -d' ' -f1-3 <<<"$output")" "delivered <bob@a.test> 250
delivered <carol@b.test> 250
delivered <dave@a.test> 250"
	assert_equal "$(taken)" "bob@a.test
carol@b.test
dave@a.test"
}

@test "--rcpt-file: a bad address exits 65 naming the file and line; - is refused (stdin is the message)" {
	SPORT=9 # nothing is sent
	printf 'bob@a.test\n# fine\nbad address@a.test\n' >"$LIST"
	run lmsend --rcpt-file "$LIST" <"$MSG"
	assert_failure 65
	assert_output --partial "$LIST:3"
	printf 'bob@a.test\n<carol@b.test\n' >"$LIST"
	run lmsend --rcpt-file "$LIST" <"$MSG"
	assert_failure 65
	assert_output --partial "$LIST:2"
	run lmsend --rcpt-file - <"$MSG"
	assert_failure 64
	run lmsend --rcpt-file "$BATS_TEST_TMPDIR/none" <"$MSG"
	assert_failure 66
	[ ! -d "$MSEND_QUEUE" ] || [ -z "$(ls -A "$MSEND_QUEUE")" ]
}

@test "--rcpt-file from a descriptor (/dev/fd/3), arguments too" {
	sink accept
	run lmsend --rcpt-file /dev/fd/3 zed@c.test <"$MSG" 3< <(printf 'bob@a.test\n')
	assert_success
	assert_equal "$(taken)" "bob@a.test
zed@c.test"
}

@test "250 recipients of one domain go in transactions of at most 100 RCPTs (RFC 5321 4.5.3.1.8), one session" {
	sink accept
	for i in $(seq 250); do echo "m$i@big.test"; done >"$LIST"
	run lmsend --rcpt-file "$LIST" <"$MSG"
	assert_success
	assert_equal "$(grep -c '^delivered ' <<<"$output")" 250
	assert_equal "$(rcpts_per_txn)" "50
100
100"
	assert_equal "$(grep -c ': connection$' "$SLOG")" 1
	assert_equal "$(taken | wc -l)" 250
}

@test "--parallel 3: three domains' sessions are open at once (smtpfault -B 3 serves none before the third)" {
	sink accept -B 3
	printf 'bob@a.test\ncarol@b.test\ndave@c.test\n' >"$LIST"
	run lmsend --parallel 3 --rcpt-file "$LIST" <"$MSG"
	assert_success
	assert_equal "$(grep -c '^delivered ' <<<"$output")" 3
	grep -q 'barrier reached with 3 connections' "$SLOG"
	assert_equal "$(taken)" "bob@a.test
carol@b.test
dave@c.test"
}

# most_open: the most connections smtpfault -C saw open at once
most_open() { sed -n 's/^smtpfault: \([0-9]*\) connections\{0,1\} open at once$/\1/p' "$SLOG" | tail -1; }

@test "--parallel: one connection at a time to an MX host that domains share (a second MX too), at -q as well; distinct hosts side by side" {
	# s1..s20.test: MX 10 mx1.sN.test (no address) and 20 mx.shared.test,
	# the host all of them fall back to (dnsfault's txt mode, in files)
	local z=$BATS_TEST_TMPDIR/zone i
	mkdir -p "$z/MX" "$z/A"
	echo 127.0.0.1 >"$z/A/mx.shared.test"
	for i in $(seq 20); do
		printf '10 mx1.s%d.test\n20 mx.shared.test\n' "$i" >"$z/MX/s$i.test"
		printf 'ok%d@s%d.test\ndefer%d@s%d.test\n' "$i" "$i" "$i" "$i"
	done >"$LIST"
	local okdns=$DPORT
	dnsfault_start txt "$z"
	PIDS+=("$DPID")
	# smtpfault -C serves each connection in a process of its own and
	# logs the most open at once (a session is over for it at QUIT)
	sink rcptmixed -C
	run lmsend --parallel 8 --rcpt-file "$LIST" <"$MSG"
	assert_success
	assert_equal "$(grep -c '^delivered ' <<<"$output")" 20
	assert_equal "$(grep -c '^queued ' <<<"$output")" 20
	assert_equal "$(grep -c ': connection$' "$SLOG")" 20
	assert_equal "$(most_open)" 1
	# -q: the 20 deferred domains from one queue entry, one session at a
	# time to the host (a session kept for one domain is closed first)
	local port=$SPORT
	kill "${PIDS[-1]}"
	wait "${PIDS[-1]}" 2>/dev/null || true
	sink accept -C -p "$port"
	run "$MSEND" -q --now --direct --mx-port "$SPORT" --dns-server "127.0.0.1:$DPORT" --timeout 60
	assert_success
	assert_equal "$(taken | sort -V)" "$(grep '^defer' "$LIST" | sort -V)"
	assert_equal "$(most_open)" 1
	# the same domains with a host each (dnsfault ok: mx1.sN.test): side
	# by side; smtpfault -B 2 serves none before two are open
	DPORT=$okdns
	sink accept -B 2
	run lmsend --parallel 8 --rcpt-file "$LIST" <"$MSG"
	assert_success
	grep -q 'barrier reached with 2 connections' "$SLOG"
	assert_equal "$(taken | wc -l)" 40
}

@test "-j: a JSON line per recipient (type, address, status, code as a number, reply, queued_as) and a summary" {
	sink rcptmixed
	printf 'ok@a.test\nbad@b.test\ndefer@c.test\n' >"$LIST"
	# exit 67 (EX_NOUSER): every refusal was an unknown user, as for any message
	run -67 --separate-stderr lmsend -j --rcpt-file "$LIST" <"$MSG"
	# and, the run having failed, the error line of mailpipe(7) last
	assert_equal "$(wc -l <<<"$output")" 5
	local q
	q=$(jq -r 'select(.type == "summary") | .queued_as' <<<"$output")
	jq -e -s --arg q "$q" '
		(.[0] | .type == "recipient" and .address == "ok@a.test" and .status == "delivered" and .code == 250 and (.reply | type) == "string" and .queued_as == null) and
		(.[1] | .address == "bad@b.test" and .status == "refused" and .code == 550 and (.reply | test("5.1.1")) and .queued_as == null) and
		(.[2] | .address == "defer@c.test" and .status == "queued" and .code == 452 and (.queued_as | type) == "string") and
		(.[3] | .type == "summary" and .recipients == 3 and .delivered == 1 and .refused == 1 and .queued == 1 and .queued_as == $q) and
		(.[4] | .type == "error" and .error.code == 67 and .error.name == "EX_NOUSER")
	' <<<"$output"
}

@test "5xx recipients are reported and not queued; 4xx ones queued, and -q sends only those (the delivered ones not again)" {
	sink rcptmixed
	{
		for i in $(seq 5); do echo "ok$i@d$i.test"; done
		echo "bad1@d1.test"
		echo "defer1@d1.test"
		echo "defer2@d1.test" # one domain: one session at -q (smtpfault is serial)
	} >"$LIST"
	run lmsend --rcpt-file "$LIST" <"$MSG"
	assert_failure 67
	assert_line --regexp '^refused <bad1@d1\.test> 550 5\.1\.1'
	assert_line --regexp '^queued <defer1@d1\.test> 452 4\.2\.2'
	assert_line --regexp '^queued <defer2@d1\.test> 452'
	assert_equal "$(grep -c '^delivered ' <<<"$output")" 5
	run "$MSEND" -bp
	assert_output --partial '<defer1@d1.test>'
	assert_output --partial '<defer2@d1.test>'
	refute_output --partial 'bad1@'
	refute_output --partial 'ok1@'
	# the same port, a sink that takes everyone now
	restart_accept
	run "$MSEND" -q --now --direct --mx-port "$SPORT" --dns-server "127.0.0.1:$DPORT" --timeout 60
	assert_success
	assert_equal "$(taken)" "defer1@d1.test
defer2@d1.test"
	[ -z "$(find "$MSEND_QUEUE" -maxdepth 1 -name '*.env')" ]
}

@test "--verp: each recipient its own envelope sender, one transaction each, the session shared; a bounce address decodes to it" {
	sink accept
	printf 'bob@a.test\ncarol.x@a.test\ndave@a.test\n' >"$LIST"
	run lmsend --verp --rcpt-file "$LIST" <"$MSG"
	assert_success
	assert_equal "$(rcpts_per_txn | uniq -c | tr -s ' ')" " 3 1"
	assert_equal "$(grep -c ': connection$' "$SLOG")" 1
	local f mail rcpt
	for f in "$STORE"/*.env; do
		mail=$(sed -n 's/^mail <\([^>]*\)>.*/\1/p' "$f")
		rcpt=$(sed -n 's/^rcpt <\(.*\)> 250$/\1/p' "$f")
		# list+LOCAL=DOMAIN@lists.test: the last '=' is the recipient's '@'
		[[ $mail == list+*@lists.test ]] || fail "not a VERP sender: $mail"
		local enc=${mail#list+}
		enc=${enc%@lists.test}
		assert_equal "${enc%=*}@${enc##*=}" "$rcpt"
	done
}

@test "--verp=LOCAL and --verp-delimiters: another local part and separators; a deferred VERP message keeps them at -q" {
	sink rcptmixed
	printf 'defer@a.test\nok@a.test\n' >"$LIST"
	run lmsend --verp=bounces --verp-delimiters=-- --rcpt-file "$LIST" <"$MSG"
	assert_success
	grep -qx 'mail <bounces-ok-a.test@lists.test>' <(sed 's/ SIZE=.*//' "$STORE"/*.env)
	restart_accept
	run "$MSEND" -q --now --direct --mx-port "$SPORT" --dns-server "127.0.0.1:$DPORT" --timeout 60
	assert_success
	assert_equal "$(sed -n 's/^mail <\([^>]*\)>.*/\1/p' "$STORE"/*.env)" "bounces-defer-a.test@lists.test"
	run lmsend --verp-delimiters '+' bob@a.test <"$MSG"
	assert_failure 64
}

# bounce_to ADDR RCPT: a DSN (RFC 3464) for RCPT, sent to ADDR, on stdout
bounce_to() {
	printf 'From: MAILER-DAEMON@mx.a.test\nTo: %s\nSubject: Undelivered Mail\n' "$1"
	printf 'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
	printf -- '--b\nContent-Type: text/plain\n\nNo such user.\n\n'
	printf -- '--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.a.test\n\n'
	printf 'Final-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n\n--b--\n' "$2"
}

@test "mparse --dsn --verp=LOCAL --verp-delimiters: a bounce to the VERP sender msend made with them reads back to the subscriber" {
	[ -x "${MPARSE:-}" ] || MPARSE=$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse
	sink accept
	run lmsend -f list-news@lists.test --verp=list-news-bounces --verp-delimiters=-= carol@a.test <"$MSG"
	assert_success
	local from
	from=$(sed -n 's/^mail <\([^>]*\)>.*/\1/p' "$STORE"/*.env)
	assert_equal "$from" "list-news-bounces-carol=a.test@lists.test"
	bounce_to "$from" carol@a.test >"$BATS_TEST_TMPDIR/bounce.eml"
	run "$MPARSE" --dsn -j --verp=list-news-bounces --verp-delimiters=-= "$BATS_TEST_TMPDIR/bounce.eml"
	assert_success
	assert_equal "$(jq -r .subscriber <<<"$output")" carol@a.test
	# the separators alone: the first '-' of the local part splits it
	run "$MPARSE" --dsn -j --verp-delimiters=-= "$BATS_TEST_TMPDIR/bounce.eml"
	assert_success
	assert_equal "$(jq -r .subscriber <<<"$output")" news-bounces-carol@a.test
	# the default form (+=) is not this one: no subscriber
	run "$MPARSE" --dsn -j "$BATS_TEST_TMPDIR/bounce.eml"
	assert_success
	assert_equal "$(jq -r .subscriber <<<"$output")" null
	# msend's default form, read by default
	bounce_to list+carol=a.test@lists.test carol@a.test >"$BATS_TEST_TMPDIR/b2.eml"
	run "$MPARSE" --dsn "$BATS_TEST_TMPDIR/b2.eml"
	assert_success
	assert_output 'failed 5.1.1 carol@a.test subscriber=carol@a.test'
	# another local part: not one of ours
	run "$MPARSE" --dsn -j --verp=other "$BATS_TEST_TMPDIR/b2.eml"
	assert_equal "$(jq -r .subscriber <<<"$output")" null
	run "$MPARSE" --dsn --verp-delimiters=+ "$BATS_TEST_TMPDIR/b2.eml"
	assert_failure 64
	run "$MPARSE" --dsn --verp='a b' "$BATS_TEST_TMPDIR/b2.eml"
	assert_failure 64
	run "$MPARSE" --verp=list "$BATS_TEST_TMPDIR/b2.eml"
	assert_failure 64
	load helpers/documented
	documented "$MPARSE" --verp --verp-delimiters
}

@test "list header fields: exactly as asked, and none unasked" {
	sink accept
	run lmsend -s 'News' --list-id 'Crêpe lovers <crepes.lists.test>' \
		--list-unsubscribe https://lists.test/u/abc --list-unsubscribe leave@lists.test \
		--precedence list bob@a.test <<<'hello'
	assert_success
	local eml=$STORE/1.eml
	# the header, in order, after Subject: (the name an RFC 2047 word)
	assert_equal "$(sed -n '/^Subject:/,/^MIME-Version:/p' "$eml" | tr -d '\r')" "Subject: News
List-Id: =?UTF-8?B?Q3LDqnBlIGxvdmVycw==?= <crepes.lists.test>
List-Unsubscribe: <https://lists.test/u/abc>,
 <mailto:leave@lists.test>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Precedence: list
MIME-Version: 1.0"
	# mailto only: no one-click POST; a plain List-Id
	run lmsend -s 'News' --list-id crepes.lists.test --list-unsubscribe mailto:leave@lists.test bob@a.test <<<'hello'
	assert_success
	eml=$STORE/2.eml
	grep -qx $'List-Id: <crepes.lists.test>\r' "$eml"
	grep -qx $'List-Unsubscribe: <mailto:leave@lists.test>\r' "$eml"
	! grep -qi '^List-Unsubscribe-Post:' "$eml"
	! grep -qi '^Precedence:' "$eml"
	# unasked: none of them
	run lmsend -s 'News' bob@a.test <<<'hello'
	assert_success
	! grep -qiE '^(List-|Precedence:)' "$STORE/3.eml"
	run lmsend -s x --list-id 'no dot' bob@a.test <<<'hello'
	assert_failure 64
	run lmsend -s x --list-unsubscribe 'javascript:alert(1)' bob@a.test <<<'hello'
	assert_failure 64
	run lmsend -s x --list-unsubscribe 'https://x.test/a b' bob@a.test <<<'hello'
	assert_failure 64
}

@test "scale: 10,000 recipients over 200 domains, each one's result checked, refusals and deferrals among them" {
	sink rcptmixed
	members 10000 200 mixed >"$LIST"
	# into a file: bats' run splits its output into lines, slowly for 10,000
	local out=$BATS_TEST_TMPDIR/out.jsonl rc=0
	lmsend --parallel 8 -j --rcpt-file "$LIST" <"$MSG" >"$out" 2>"$BATS_TEST_TMPDIR/err" || rc=$?
	assert_equal "$rc" 67
	local want
	want=$(sed -e 's/^\(bad[^@]*@.*\)$/\1 refused 550/' -e 's/^\(defer[^@]*@.*\)$/\1 queued 452/' \
		-e 's/^\(m[^@]*@.*\)$/\1 delivered 250/' "$LIST")
	assert_equal "$(jq -r 'select(.type == "recipient") | "\(.address) \(.status) \(.code)"' "$out")" "$want"
	assert_equal "$(jq -c 'select(.type == "summary") | [.recipients, .delivered, .refused, .queued]' "$out")" "[10000,9793,103,104]"
	assert_equal "$(taken | wc -l)" "$(grep -c '^m' "$LIST")"
	assert_equal "$(rcpts_per_txn | tail -1)" 50
	run "$MSEND" -bp -j
	assert_equal "$(jq -r '.recipients[]' <<<"$output" | sort)" "$(grep '^defer' "$LIST" | sort)"
}
