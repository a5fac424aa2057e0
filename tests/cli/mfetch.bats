#!/usr/bin/env bats
# mfetch against the real Dovecot (IMAP, IMAPS, POP3, POP3S) and Postfix of the
# peers harness: what it fetches is byte for byte what the server stores, only
# what is new, deletion and \Seen only after durable delivery, the MDA
# contract, the mboxrd stream, errors and exit codes, a kill -9 in the middle
# of a --delete run, and again and again among 300 messages fetched in
# batches (pipelined RETRs, a UID FETCH a batch), --idle (IMAP IDLE,
# reconnects, SIGTERM, POP3 polling), APOP against Dovecot, the password
# kept out of -v; then the man page and the completions; and Courier (imapd,
# courierpop3d), a second implementation, via peers.sh courier-start.
#
# Environment (meson sets them): MFETCH, MDELIVER, MSEND, PEERS, MANDIR,
# COMPDIR. Bob's Maildir is emptied before every test; every test has its own
# state file and targets under $BATS_TEST_TMPDIR.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/peers'
load 'helpers/poll'
load 'helpers/json'
load 'helpers/shim'

bats_require_minimum_version 1.5.0

setup_file() {
	export MFETCH=${MFETCH:-$BATS_TEST_DIRNAME/../../build/tools/mfetch/mfetch}
	export MDELIVER=${MDELIVER:-$BATS_TEST_DIRNAME/../../build/tools/mdeliver/mdeliver}
	export MSEND=${MSEND:-$BATS_TEST_DIRNAME/../../build/tools/msend/msend}
	export PEERS=${PEERS:-$BATS_TEST_DIRNAME/../peers/peers.sh}
	export MANDIR=${MANDIR:-$BATS_TEST_DIRNAME/../../man}
	export COMPDIR=${COMPDIR:-$BATS_TEST_DIRNAME/../../completions}
	if [ "$(id -u)" != 0 ]; then
		export SKIP_ALL="the peers need root (the suite runs as root)"
		return
	fi
	peers_up mfetch 26010 26009 26002 26003 26004 26000 26001 26005 26006 26007 26008 || return 1
	export FP
	FP=$(openssl x509 -fingerprint -sha256 -noout -in "$PEERS_DIR/tls/server.crt" | sed 's/^[^=]*=//')
}

teardown_file() {
	peers_down
}

setup() {
	case $BATS_TEST_DESCRIPTION in
	"man page"* | completions*) ;;
	*) [ -z "${SKIP_ALL:-}" ] || skip "$SKIP_ALL" ;;
	esac
	T=$BATS_TEST_TMPDIR
	ST=$T/state
	# no one's own configuration file gets in the way
	unset MAILPIPE_CONFIG
	export XDG_CONFIG_HOME=$T/xdg HOME=$T/home
	mkdir -p "$HOME"
	if [ -n "${BOB_MAILDIR:-}" ]; then
		# Dovecot notices removed files on its next sync
		rm -f "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/* "$BOB_MAILDIR"/tmp/*
		rm -rf "$BOB_MAILDIR/.Archive" "$BOB_MAILDIR/.My Stuff" "$BOB_MAILDIR"/.Lists.* \
			"$BOB_MAILDIR/.&AOk-t&AOk-" "$BOB_MAILDIR/.Moved"
	fi
	SEQ=0
}

# an --idle mfetch that a failed test left running
teardown() {
	if [ -n "${COURIER_UP:-}" ]; then
		bash "$PEERS" courier-stop "$PDIR" >/dev/null 2>&1 3>&- || true
	fi
	if [ -n "${BG:-}" ]; then
		kill -CONT "$BG" 2>/dev/null || true
		kill -TERM "$BG" 2>/dev/null || true
		sleep 0.2
		kill -9 "$BG" 2>/dev/null || true
	fi
}

# ---------------------------------------------------------------- helpers

VMAIL_UID=5000 # the owner of every Maildir of the peers (peers.sh)

# put NAME [BODY [MAILDIR]]: a message with Subject NAME and Message-ID
# <NAME@mfetch.test> straight into new/ of Bob's Maildir (or MAILDIR), owned by
# the vmail uid as Dovecot wants; in the order of the calls for Dovecot's UIDs
put() {
	local dir=${3:-$BOB_MAILDIR} f
	SEQ=$((SEQ + 1))
	f="$(date +%s).P$$Q$SEQ.$1"
	{
		printf 'From: alice@crepes.test\nTo: bob@hamburger.test\nSubject: %s\n' "$1"
		printf 'Message-ID: <%s@mfetch.test>\nDate: Thu, 26 Nov 2026 12:00:00 +0000\n\n' "$1"
		printf '%s\n' "${2:-the body of $1}"
	} >"$dir/tmp/$f"
	chown "$VMAIL_UID:$VMAIL_UID" "$dir/tmp/$f"
	mv "$dir/tmp/$f" "$dir/new/$f"
}

# send FILE: through msend and Postfix's submission port into Bob's Maildir
send() {
	local before
	before=$(server_files | wc -l)
	"$MSEND" --no-queue -f alice@crepes.test --server "127.0.0.1:$SUBM_PORT" --ca-file "$CA" \
		--user alice --password-eval 'echo wonderland' bob@hamburger.test <"$1" ||
		fail "msend failed ($?)"
	for _ in $(seq 3000); do
		[ "$(server_files | wc -l)" -gt "$before" ] && return 0
		sleep 0.02
	done
	fail "Postfix did not deliver $1 into $BOB_MAILDIR"
}

# the message files the server holds (INBOX)
server_files() {
	find "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" -type f | sort
}

# sorted SHA-256 sums of the message files in the Maildir(s) or files given
sums() {
	local d
	for d in "$@"; do
		if [ -d "$d" ]; then
			find "$d/new" "$d/cur" -type f -print0 2>/dev/null | xargs -0r sha256sum
		else
			sha256sum "$d"
		fi
	done | cut -d' ' -f1 | sort
}

# the same for the messages the server holds
server_sums() {
	server_files | tr '\n' '\0' | xargs -0r sha256sum | cut -d' ' -f1 | sort
}

# the server's file with the Message-ID ID
file_with() { server_files | tr '\n' '\0' | xargs -0r grep -l -F -x "Message-ID: $1" | head -1; }

# the Message-IDs in the files of a Maildir, of the server with "server",
# or of the messages of an mbox file (split by mdeliver --split, so that a
# torn message shows)
ids() {
	if [ "$1" = server ]; then
		server_files | xargs -r grep -h '^Message-ID:'
	elif [ -f "$1" ]; then
		rm -rf "$T/split"
		"$MDELIVER" --split "$1" "$T/split/" >/dev/null 2>"$T/split.err" ||
			fail "mdeliver --split $1 failed ($?): $(cat "$T/split.err")"
		[ "$(count "$T/split")" = "$(count "$1")" ] ||
			fail "$(count "$T/split") split from $(count "$1") in $1"
		find "$T/split/new" -type f -print0 | xargs -0r grep -h '^Message-ID:'
	else
		find "$1/new" "$1/cur" -type f -print0 2>/dev/null | xargs -0r grep -h '^Message-ID:'
	fi | sed 's/^Message-ID: *//' | sort
}

# the messages in a Maildir, or in an mbox file (its From_ lines)
count() {
	if [ -f "$1" ]; then
		grep -c '^From ' "$1" || true
	else
		find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l
	fi
}

# the summary's byte count: the messages as sent on the wire, CR LF line ends
wire_bytes() {
	local f n=0
	for f in "$@"; do n=$((n + $(wc -c <"$f") + $(wc -l <"$f"))); done
	echo "$n"
}

# EXEC=exec makes the function become mfetch (for a background job to kill)
imap() { ${EXEC:-} "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" --password-eval 'echo hungry' "$@"; }
imaps() { ${EXEC:-} "$MFETCH" --server "127.0.0.1:$IMAPS_PORT" --tls --user bob --ca-file "$CA" --password-eval 'echo hungry' "$@"; }
pop() { ${EXEC:-} "$MFETCH" --server "127.0.0.1:$POP3_PORT" --pop3 --user bob --ca-file "$CA" --password-eval 'echo hungry' "$@"; }
pops() { ${EXEC:-} "$MFETCH" --server "127.0.0.1:$POP3S_PORT" --pop3 --tls --user bob --ca-file "$CA" --password-eval 'echo hungry' "$@"; }

# summary N [BYTES [TAIL [ACCOUNT]]]: the summary line for N messages (bytes
# are checked separately), of the account (a regular expression) with -a
summary_re() {
	local w=messages
	[ "$1" = 1 ] && w=message
	echo "^mfetch: ${4:+$4: }fetched $1 $w \\(${2:-[0-9]+} bytes\\) from 127\\.0\\.0\\.1 in [0-9]+\\.[0-9] s${3:-}\$"
}

# fetch_all_check FN: FN (imap, imaps, pop, pops) fetches two messages that
# went through Postfix and one written straight into the Maildir (with lines
# that POP3 dot-stuffs) into a Maildir: byte-identical, summary, -q silent
fetch_all_check() {
	local fn=$1 want
	printf 'Subject: via postfix one\nMessage-ID: <p1@mfetch.test>\n\nhello\n.\n..two dots\nFrom here\n' >"$T/m1"
	printf 'Subject: via postfix two\nMessage-ID: <p2@mfetch.test>\n\n%s\n' "$(seq 1 2000)" >"$T/m2"
	send "$T/m1"
	send "$T/m2"
	put direct $'.a line with a leading dot\n.\n\ttab  and trailing blanks  \nlast'
	mapfile -t files < <(server_files)
	[ "${#files[@]}" = 3 ] || fail "expected 3 messages on the server, have ${#files[@]}"
	grep -q '^Received: ' "${files[@]}" || fail "no message came through Postfix"
	want=$(sums "${files[@]}")

	run --separate-stderr "$fn" --state "$ST" --to "$T/md/"
	assert_success
	[ -z "$output" ] || fail "stdout not empty: $output"
	[ "$(count "$T/md")" = 3 ] || fail "expected 3 files in the target, have $(count "$T/md")"
	[ "$(sums "$T/md")" = "$want" ] || fail "the fetched messages differ from the server's files"
	[[ $stderr =~ $(summary_re 3 "$(wire_bytes "${files[@]}")") ]] || fail "summary: '$stderr'"
	# the server still has them (--keep is the default)
	[ "$(server_files | wc -l)" = 3 ] || fail "the server lost messages without --delete"

	# -q: nothing at all, on either stream
	run --separate-stderr "$fn" -q --all --state "$T/state2" --to "$T/md2/"
	assert_success
	[ -z "$output$stderr" ] || fail "-q printed: '$output' '$stderr'"
	[ "$(sums "$T/md2")" = "$want" ] || fail "-q --all: not the same messages"
}

# ---------------------------------------------------------------- 1. the four ways in

@test "IMAP STARTTLS: byte-identical Maildir copies, summary line, -q silent" {
	fetch_all_check imap
}

@test "IMAPS (--tls): byte-identical Maildir copies, summary line, -q silent" {
	fetch_all_check imaps
}

@test "POP3 STLS: byte-identical Maildir copies (dot-unstuffed), summary line, -q silent" {
	fetch_all_check pop
}

@test "POP3S (--tls): byte-identical Maildir copies, summary line, -q silent" {
	fetch_all_check pops
}

@test "the password can come from MFETCH_PASSWORD; none, or a failing --password-eval, is exit 78" {
	put envpass
	run env MFETCH_PASSWORD=hungry "$MFETCH" --server "127.0.0.1:$POP3_PORT" --pop3 --user bob \
		--ca-file "$CA" --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(ids "$T/md")" = "<envpass@mfetch.test>" ]
	run env -u MFETCH_PASSWORD "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" \
		--state "$ST" --to "$T/md/"
	assert_failure 78
	assert_output --partial "no password"
	run "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" --password-eval false \
		--state "$ST" --to "$T/md/"
	assert_failure 78
	assert_output --partial "the password command failed"
}

# ---------------------------------------------------------------- 2. only what is new

@test "IMAP only-new: 0 on the second run, exactly the new one next, --all and a fresh state fetch all" {
	put n1
	put n2
	run imap --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 2)"
	run imap --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 0 0)"
	[ "$(count "$T/md")" = 2 ]

	put n3
	run imap --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(ids "$T/md")" = "$(printf '<n1@mfetch.test>\n<n2@mfetch.test>\n<n3@mfetch.test>')" ]
	[ "$(sums "$T/md")" = "$(server_sums)" ]

	run imap --all --state "$ST" --to "$T/all/"
	assert_success
	assert_line --regexp "$(summary_re 3)"
	[ "$(count "$T/all")" = 3 ]
	# --all does not disturb the state: the next --new run still has nothing
	run imap --state "$ST" --to "$T/md/"
	assert_line --regexp "$(summary_re 0 0)"

	run imap --state "$T/fresh" --to "$T/fresh-md/"
	assert_success
	assert_line --regexp "$(summary_re 3)"
	[ "$(sums "$T/fresh-md")" = "$(sums "$T/md")" ]
}

@test "--peek (IMAP and POP3): what is new comes, and nothing is recorded: the next run gets it all the same; --peek --delete is 64" {
	put k1
	put k2
	local fn
	for fn in imap pop; do
		run "$fn" --peek --state "$T/st-$fn" --to "$T/peek-$fn/"
		assert_success
		assert_line --regexp "$(summary_re 2)"
		[ "$(count "$T/peek-$fn")" = 2 ]
		run "$fn" --peek --state "$T/st-$fn" --to -
		assert_success
		[ "$(grep -c '^Message-ID: <k[12]@mfetch.test>' <<<"$output")" = 2 ] || fail "$fn: a second peek did not show both: $output"
		run "$fn" --state "$T/st-$fn" --to "$T/md-$fn/"
		assert_success
		assert_line --regexp "$(summary_re 2)"
		run "$fn" --peek --state "$T/st-$fn" --to "$T/peek2-$fn/"
		assert_success
		assert_line --regexp "$(summary_re 0 0)"
		run "$fn" --peek --delete --state "$T/st-$fn" --to "$T/x/"
		assert_failure 64
	done
	[ "$(server_files | wc -l)" = 2 ] || fail "--peek removed messages from the server"
}

@test "POP3 only-new: 0 on the second run, exactly the new one next, --all and a fresh state fetch all" {
	put p1
	put p2
	run pop --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 2)"
	run pop --state "$ST" --to "$T/md/"
	assert_line --regexp "$(summary_re 0 0)"

	put p3
	run pop --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(ids "$T/md")" = "$(printf '<p1@mfetch.test>\n<p2@mfetch.test>\n<p3@mfetch.test>')" ]

	run pop --all --state "$ST" --to "$T/all/"
	assert_line --regexp "$(summary_re 3)"
	run pop --state "$ST" --to "$T/md/"
	assert_line --regexp "$(summary_re 0 0)"
	run pop --state "$T/fresh" --to "$T/fresh-md/"
	assert_line --regexp "$(summary_re 3)"
	[ "$(count "$T/md")" = 3 ]
}

@test "IMAP: a new UIDVALIDITY makes the old UIDs meaningless: everything is asked for again, and what the Maildir has (by Message-ID) is not delivered twice" {
	put v1
	put v2
	run imap -v --state "$ST" --to "$T/md/"
	assert_success
	local old new
	old=$(sed -n 's/.*\[UIDVALIDITY \([0-9]*\)\].*/\1/p' <<<"$output")
	[ -n "$old" ] || fail "no UIDVALIDITY in the dialogue"
	grep -q "INBOX	$old " "$ST" || fail "the state does not record UIDVALIDITY $old: $(cat "$ST")"
	run imap --state "$ST" --to "$T/md/"
	assert_line --regexp "$(summary_re 0 0)"

	# Dovecot forgets its UIDs and gives the mailbox a new UIDVALIDITY
	rm -f "$BOB_MAILDIR/dovecot-uidlist" "$BOB_MAILDIR"/dovecot.index*
	run imap -v --state "$ST" --to "$T/md/"
	assert_success
	new=$(sed -n 's/.*\[UIDVALIDITY \([0-9]*\)\].*/\1/p' <<<"$output")
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "UIDVALIDITY did not change ($old -> $new)"
	assert_line --regexp "$(summary_re 2)"
	assert_line --partial "INBOX: UIDVALIDITY changed ($old, now $new): 2 messages already in $T/md"
	assert_line --partial "not delivered again, 0 delivered"
	grep -q "INBOX	$new " "$ST" || fail "the state does not record the new UIDVALIDITY"
	[ "$(count "$T/md")" = 2 ] || fail "delivered twice: $(count "$T/md") files"
	run imap --state "$ST" --to "$T/md/"
	assert_line --regexp "$(summary_re 0 0)"
	# one more, and a new UIDVALIDITY again: only that one is delivered
	put v3
	rm -f "$BOB_MAILDIR/dovecot-uidlist" "$BOB_MAILDIR"/dovecot.index*
	run imap --state "$ST" --to "$T/md/"
	assert_success
	assert_line --partial "2 messages already in $T/md"
	assert_line --partial "not delivered again, 1 delivered"
	[ "$(count "$T/md")" = 3 ]
	[ "$(ids "$T/md")" = "$(ids server)" ] || fail "not the server's messages, once each"
}

@test "IMAP: a new UIDVALIDITY with an mbox: its Message-IDs count too; with an MDA everything comes again, and it says so" {
	put w1
	put w2
	run imap --state "$ST" --to "mbox:$T/box"
	assert_success
	run imap --state "$T/st2" --mda "cat >>$T/mda.out"
	assert_success
	rm -f "$BOB_MAILDIR/dovecot-uidlist" "$BOB_MAILDIR"/dovecot.index*
	run imap --state "$ST" --to "mbox:$T/box"
	assert_success
	assert_line --partial "2 messages already in $T/box"
	[ "$(grep -c '^From ' "$T/box")" = 2 ] || fail "the mbox got them twice"
	run imap --state "$T/st2" --mda "cat >>$T/mda.out"
	assert_success
	assert_line --partial "every message comes again (what went to the MDA before cannot be seen)"
	[ "$(grep -c '^Message-ID:' "$T/mda.out")" = 4 ]
}

# ---------------------------------------------------------------- 3. --delete, --keep, --mark-seen

# an MDA that notes whether its message is still on the server, untouched,
# when it gets it, then delivers it with mdeliver
onserver_mda() {
	cat >"$T/mda" <<EOF
#!/bin/sh
cat >"$T/cur.msg" || exit 75
id=\$(sed -n 's/^Message-ID: *//p' "$T/cur.msg")
if grep -rlF -e "\$id" "$BOB_MAILDIR/new" "$BOB_MAILDIR/cur" | grep -qv ':2,.*T'; then
	echo "\$id on-server" >>"$T/mda.log"
else
	echo "\$id GONE" >>"$T/mda.log"
fi
exec "$MDELIVER" "$T/md/" <"$T/cur.msg"
EOF
	chmod +x "$T/mda"
}

delete_check() {
	local fn=$1
	put keep1
	put keep2
	put keep3
	local want
	want=$(server_sums)

	# --keep (and the default) leave everything
	run "$fn" --keep --state "$ST" --to "$T/k/"
	assert_success
	run "$fn" --all --state "$ST" --to "$T/k2/"
	assert_success
	[ "$(server_files | wc -l)" = 3 ] || fail "--keep lost messages"

	# a target that cannot take the messages: nothing leaves the server
	echo "not an mbox" >"$T/bad.mbox"
	run "$fn" --delete --all --state "$T/s-bad" --to "mbox:$T/bad.mbox"
	assert_failure 73
	[ "$(server_files | wc -l)" = 3 ] || fail "a failed delivery deleted messages"
	[ "$(server_sums)" = "$want" ]

	# --delete: each message is on the server when it is delivered, and gone after
	onserver_mda
	run "$fn" --delete --state "$T/s-del" --mda "$T/mda"
	assert_success
	assert_line --regexp "$(summary_re 3)"
	[ "$(grep -c on-server "$T/mda.log")" = 3 ] || fail "$(cat "$T/mda.log")"
	[ "$(server_files | wc -l)" = 0 ] || fail "left on the server: $(server_files)"
	[ "$(sums "$T/md")" = "$want" ]

	# it removes exactly what it fetched: a message that arrives now stays
	put later
	run "$fn" --state "$T/s-del" --to "$T/k3/"
	assert_line --regexp "$(summary_re 1)"
	[ "$(ids server)" = "<later@mfetch.test>" ]
}

@test "POP3 --delete removes exactly the fetched messages, only once delivered; --keep leaves them" {
	delete_check pop
}

@test "IMAP --delete removes exactly the fetched messages, only once delivered; --keep leaves them" {
	delete_check imap
}

@test "IMAP --delete of 200 messages leaves none of them on the server" {
	local i
	for i in $(seq 200); do
		printf 'Subject: many %s\nMessage-ID: <many%s@mfetch.test>\n\n%s\n' "$i" "$i" "$i" >"$BOB_MAILDIR/tmp/many$i"
	done
	chown "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR"/tmp/many*
	for i in $(seq 200); do mv "$BOB_MAILDIR/tmp/many$i" "$BOB_MAILDIR/new/1000.$i.many"; done
	run imap -q --delete --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 200 ]
	# UID EXPUNGE must cover every fetched UID, not a prefix of the list
	local left
	left=$(server_files | wc -l)
	[ "$left" = 0 ] || fail "$left of the 200 fetched messages are still on the server (flagged \\Deleted, never expunged)"
}

@test "IMAP --mark-seen sets \\Seen (:2,S) on exactly the fetched messages and deletes nothing" {
	put s1
	put s2
	run imap --mark-seen --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 2)"
	put s3
	run imap --state "$ST" --to "$T/md/"
	assert_success
	[ "$(server_files | wc -l)" = 3 ]
	[ "$(find "$BOB_MAILDIR/cur" -name '*:2,S' | wc -l)" = 2 ] || fail "$(ls "$BOB_MAILDIR/cur")"
	grep -l '^Subject: s[12]$' "$BOB_MAILDIR"/cur/*:2,S >/dev/null
	! grep -l '^Subject: s3$' "$BOB_MAILDIR"/cur/*:2,S 2>/dev/null | grep -q . || fail "s3 was marked seen without --mark-seen"
}

# ---------------------------------------------------------------- 4. --mda

@test "--mda 'mdeliver DIR/' delivers each message, byte-identical" {
	put mda1
	put mda2
	run imap --state "$ST" --mda "'$MDELIVER' '$T/viamda/'"
	assert_success
	assert_line --regexp "$(summary_re 2)"
	[ "$(sums "$T/viamda")" = "$(server_sums)" ]
	run pop --state "$ST" --mda "'$MDELIVER' '$T/viamda-pop/'"
	assert_success
	[ "$(sums "$T/viamda-pop")" = "$(server_sums)" ]
}

@test "--mda sees MFETCH_UID, MFETCH_FOLDER and MFETCH_SERVER (IMAP UIDs, POP3 UIDLs, folders)" {
	put e1
	put e2
	mkdir -p "$BOB_MAILDIR/.Archive"/{cur,new,tmp}
	chown -R "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/.Archive"
	put arch1 "archived" "$BOB_MAILDIR/.Archive"
	cat >"$T/rec" <<EOF
#!/bin/sh
echo "\$MFETCH_UID|\$MFETCH_FOLDER|\$MFETCH_SERVER|\$(sed -n 's/^Subject: //p')" >>"$T/env.log"
EOF
	chmod +x "$T/rec"
	run imap -v --state "$ST" --folder INBOX --folder Archive --mda "$T/rec"
	assert_success
	local uids
	# the UIDs as the FETCH answers name them (one UID FETCH asks for several)
	uids=$(sed -n 's/^S: \* [0-9]* FETCH (\(.* \)\{0,1\}UID \([0-9]*\).*/\2/p' <<<"$output" | tr '\n' ' ')
	local u1 u2 u3
	read -r u1 u2 u3 <<<"$uids"
	[ -n "$u3" ] || fail "no UID FETCH in the dialogue"
	assert_equal "$(cat "$T/env.log")" "$u1|INBOX|127.0.0.1|e1
$u2|INBOX|127.0.0.1|e2
$u3|Archive|127.0.0.1|arch1"

	rm "$T/env.log"
	run pop -v --state "$ST" --mda "$T/rec"
	assert_success
	local uidl
	uidl=$(sed -n 's/^S: \([0-9]*\) \([^ ]*\)$/\2/p' <<<"$output" | head -2 | tr '\n' ' ')
	read -r u1 u2 <<<"$uidl"
	[ -n "$u2" ] || fail "no UIDL in the dialogue"
	assert_equal "$(cat "$T/env.log")" "$u1|INBOX|127.0.0.1|e1
$u2|INBOX|127.0.0.1|e2"
}

# an MDA that fails with $FAILCODE for the message with Subject f2 while
# $T/fail exists, and otherwise delivers with mdeliver
failing_mda() {
	cat >"$T/mda" <<EOF
#!/bin/sh
cat >"$T/cur.msg" || exit 75
if [ -e "$T/fail" ] && grep -q '^Subject: f2$' "$T/cur.msg"; then exit \$(cat "$T/fail"); fi
exec "$MDELIVER" "$T/md/" <"$T/cur.msg"
EOF
	chmod +x "$T/mda"
}

mda_fail_check() {
	local fn=$1
	put f1
	put f2
	put f3
	failing_mda
	echo 1 >"$T/fail"
	run "$fn" --delete --state "$ST" --mda "$T/mda"
	assert_failure 69
	assert_output --regexp "the MDA '.*' exited 1 for UID [^ ]+: the message stays on the server"
	# f1 went in, f2 stopped the run: f3 was never tried
	[ "$(ids "$T/md")" = "<f1@mfetch.test>" ] || fail "delivered: $(ids "$T/md")"
	ids server | grep -qx '<f2@mfetch.test>' || fail "f2 left the server"
	ids server | grep -qx '<f3@mfetch.test>' || fail "f3 left the server"

	# the next run fetches f2 again (and f3), not f1
	rm "$T/fail"
	run "$fn" --delete --state "$ST" --mda "$T/mda"
	assert_success
	assert_line --regexp "$(summary_re 2)"
	[ "$(ids "$T/md")" = "$(printf '<f1@mfetch.test>\n<f2@mfetch.test>\n<f3@mfetch.test>')" ] ||
		fail "delivered: $(ids "$T/md")"
	ids server | grep -q 'f[23]@' && fail "f2/f3 delivered but still on the server: $(ids server)"

	# 75 from the MDA is "try later": exit 75, not recorded
	put f2
	echo 75 >"$T/fail"
	run "$fn" --state "$ST" --mda "$T/mda"
	assert_failure 75
	assert_output --partial "exited 75"
	rm "$T/fail"
	run "$fn" --state "$ST" --mda "$T/mda"
	assert_success
	assert_line --regexp "$(summary_re 1)"
}

@test "IMAP --mda exiting 1 stops the fetch (exit 69), the message stays even with --delete and comes again; 75 is exit 75" {
	mda_fail_check imap
}

@test "POP3 --mda exiting 1 stops the fetch (exit 69), the message stays even with --delete and comes again; 75 is exit 75" {
	mda_fail_check pop
}

# After an interrupted --delete run, the messages it had delivered (and
# recorded) are still on the server. The next --delete run must remove them
# too: they were fetched; otherwise they stay on the server for ever.
leftover_check() {
	local fn=$1
	put f1
	put f2
	failing_mda
	echo 1 >"$T/fail"
	run "$fn" --delete --state "$ST" --mda "$T/mda"
	assert_failure 69
	rm "$T/fail"
	run "$fn" --delete --state "$ST" --mda "$T/mda"
	assert_success
	[ "$(ids "$T/md")" = "$(printf '<f1@mfetch.test>\n<f2@mfetch.test>')" ]
	[ "$(server_files | wc -l)" = 0 ] ||
		fail "delivered with --delete, yet still on the server: $(ids server) ($(server_files | sed 's|.*/||'))"
}

@test "IMAP --delete: what an interrupted run delivered is removed by the next run" {
	leftover_check imap
}

@test "POP3 --delete: what an interrupted run delivered is removed by the next run" {
	leftover_check pop
}

@test "no child sees MFETCH_PASSWORD: the MDA and the password command get an environment without it" {
	put secret1
	MFETCH_PASSWORD=hungry run "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" \
		--state "$ST" --mda "env >'$T/mda.env'; cat >'$T/msg'"
	assert_success
	grep -q '^Subject: secret1$' "$T/msg" || fail "the message did not reach the MDA"
	grep -q '^MFETCH_UID=' "$T/mda.env" || fail "no environment from the MDA: $(cat "$T/mda.env")"
	run grep -c '^MFETCH_PASSWORD=' "$T/mda.env"
	assert_output 0
	# --password-eval wins over the variable; its command does not see it either
	MFETCH_PASSWORD=wrong run "$MFETCH" --server "127.0.0.1:$POP3_PORT" --pop3 --user bob --ca-file "$CA" \
		--password-eval "env >'$T/pw.env'; echo hungry" --state "$T/st2" --mda "cat >'$T/msg2'"
	assert_success
	grep -q '^Subject: secret1$' "$T/msg2" || fail "POP3: the message did not reach the MDA"
	grep -q '^PATH=' "$T/pw.env" || fail "no environment from the password command"
	run grep -c '^MFETCH_PASSWORD=' "$T/pw.env"
	assert_output 0
}

# ---------------------------------------------------------------- 5. mboxrd, mbox, size, limit, folders

@test "--to - writes mboxrd (From_ lines, >From quoting) that mdeliver --split turns back into the messages" {
	put q1 $'From the start of a line\n>From quoted once\n>>From quoted twice\nFrom\nFromage'
	put q2 'plain'
	run --separate-stderr imap --state "$ST" --to -
	assert_success
	[[ $stderr =~ $(summary_re 2) ]] || fail "summary: $stderr"
	printf '%s\n' "$output" >"$T/out.mbox"
	[ "$(grep -c '^From MAILER-DAEMON ' "$T/out.mbox")" = 2 ] || fail "From_ lines: $(grep '^From ' "$T/out.mbox")"
	[ "$(grep -c '^From ' "$T/out.mbox")" = 2 ] || fail "an unquoted From line: $(grep -n '^From ' "$T/out.mbox")"
	grep -qx '>From the start of a line' "$T/out.mbox"
	grep -qx '>>From quoted once' "$T/out.mbox"
	grep -qx '>>>From quoted twice' "$T/out.mbox"
	grep -qx 'From' "$T/out.mbox"
	grep -qx 'Fromage' "$T/out.mbox"
	run "$MDELIVER" --split "$T/out.mbox" "$T/split/"
	assert_success
	# mdeliver takes "From MAILER-DAEMON" for the null sender and writes
	# "Return-Path: <>" first: without it, each is the server's message
	local f
	for f in "$T"/split/new/*; do
		[ "$(head -1 "$f")" = "Return-Path: <>" ] || fail "$f: $(head -1 "$f")"
		sed -i 1d "$f"
	done
	[ "$(sums "$T/split")" = "$(server_sums)" ] || fail "the split messages differ"
}

@test "--to -: a From line at the 64 KiB read boundary is quoted too" {
	# a message whose line "From the boundary" starts at byte 65534 (0-based),
	# 2 bytes before the end of mfetch's first 64 KiB read of its spool file
	local f=$BOB_MAILDIR/tmp/boundary n
	printf 'From: alice@crepes.test\nSubject: boundary\nMessage-ID: <boundary@mfetch.test>\n\n' >"$f"
	n=$(wc -c <"$f")
	{
		while [ $((n + 80)) -le 65520 ]; do
			printf '%079d\n' 0
			n=$((n + 80))
		done
		printf '%*s\n' $((65534 - n - 1)) '' | tr ' ' y
		printf 'From the boundary\nend\n'
	} >>"$f"
	[ "$(grep -b '^From the boundary' "$BOB_MAILDIR/tmp/boundary" | cut -d: -f1)" = 65534 ]
	chown "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/tmp/boundary"
	mv "$BOB_MAILDIR/tmp/boundary" "$BOB_MAILDIR/new/1000.boundary"
	imap -q --state "$ST" --to - >"$T/out.mbox"
	[ "$(grep -c '^From ' "$T/out.mbox")" = 1 ] || fail "unquoted in the mboxrd stream: $(grep -n '^From ' "$T/out.mbox")"
	grep -qx '>From the boundary' "$T/out.mbox"
	run "$MDELIVER" --split "$T/out.mbox" "$T/split/"
	assert_success
	[ "$(count "$T/split")" = 1 ]
}

@test "--to mbox:FILE appends quoted messages that split back into the server's messages" {
	put b1 $'From me\n>From you'
	put b2
	run pop --state "$ST" --to "mbox:$T/box"
	assert_success
	assert_line --regexp "$(summary_re 2)"
	[ "$(grep -c '^From ' "$T/box")" = 2 ]
	grep -qx '>From me' "$T/box"
	grep -qx '>>From you' "$T/box"
	put b3
	run pop --state "$ST" --to "mbox:$T/box"
	assert_line --regexp "$(summary_re 1)"
	[ "$(grep -c '^From ' "$T/box")" = 3 ]
	run "$MDELIVER" --split "$T/box" "$T/split/"
	assert_success
	local f
	for f in "$T"/split/new/*; do sed -i '1{/^Return-Path: <>$/d}' "$f"; done
	[ "$(sums "$T/split")" = "$(server_sums)" ]
}

big_body() { head -c 150000 /dev/zero | tr '\0' x | fold -w 75; }

# lines of 100,000 bytes, one dot-stuffed on the wire, and lengths about
# the 4,096 bytes of the client's line buffer
long_lines() {
	local n
	for n in 100000 4095 4096 4097 8191 8192; do head -c "$n" /dev/zero | tr '\0' y; echo; done
	printf '.'
	head -c 9000 /dev/zero | tr '\0' z
	printf '\nshort\n'
}

@test "POP3 and IMAP: lines longer than the line buffer (up to 100,000 bytes) come whole, dot-stuffing undone" {
	put long "$(long_lines)"
	put after
	run pop --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 2)"
	[ "$(sums "$T/md")" = "$(server_sums)" ] || fail "POP3: the copies differ from the server's files"
	run imap --state "$T/state2" --to "$T/md2/"
	assert_success
	[ "$(sums "$T/md2")" = "$(server_sums)" ] || fail "IMAP: the copies differ from the server's files"
	# an MDA gets the same bytes
	run pop --all --state "$T/state3" --limit 1 --mda "cat >$T/mda.out"
	assert_success
	cmp "$T/mda.out" "$(file_with '<long@mfetch.test>')" || fail "POP3 --mda: not the server's bytes"
}

@test "POP3 --max-size leaves a big message on the server and says so; a later run can take it" {
	put small
	put big "$(big_body)"
	run pop --max-size 10k --state "$ST" --to "$T/md/"
	assert_success
	assert_output --regexp "message [^ ]+: [0-9]+ bytes, over --max-size: left on the server"
	assert_line --regexp "$(summary_re 1 '[0-9]+' ' \(some left: too big\)')"
	[ "$(ids "$T/md")" = "<small@mfetch.test>" ]
	[ "$(server_files | wc -l)" = 2 ]
	run pop --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(sums "$T/md")" = "$(server_sums)" ]
}

@test "IMAP --max-size leaves a big message on the server and says so; a later run can take it" {
	put big "$(big_body)"
	put small
	run imap --max-size 10k --state "$ST" --to "$T/md/"
	assert_success
	assert_output --regexp "INBOX: UID [0-9]+: [0-9]+ bytes, over --max-size: left on the server"
	assert_line --regexp "$(summary_re 1 '[0-9]+' ' \(some left: too big\)')"
	[ "$(ids "$T/md")" = "<small@mfetch.test>" ]
	[ "$(server_files | wc -l)" = 2 ]
	# it was not fetched: it is still new for this client
	run imap --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(sums "$T/md")" = "$(server_sums)" ]
}

@test "--limit 1 fetches one message per run, IMAP and POP3" {
	put l1
	put l2
	run imap --limit 1 --state "$ST" --to "$T/i/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(ids "$T/i")" = "<l1@mfetch.test>" ]
	run imap --limit 1 --state "$ST" --to "$T/i/"
	[ "$(count "$T/i")" = 2 ]
	run pop --limit 1 --state "$ST" --to "$T/p/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(count "$T/p")" = 1 ]
	run pop --limit 1 --state "$ST" --to "$T/p/"
	[ "$(ids "$T/p")" = "$(ids "$T/i")" ]
}

@test "--folder fetches a second folder; --list-folders lists INBOX and Archive" {
	put inbox1
	mkdir -p "$BOB_MAILDIR/.Archive"/{cur,new,tmp}
	chown -R "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/.Archive"
	put arch1 "archived" "$BOB_MAILDIR/.Archive"
	run --separate-stderr imap --list-folders
	assert_success
	[ "$(sort <<<"$output")" = "$(printf 'Archive\nINBOX')" ] || fail "listed: $output"
	[ -z "$stderr" ] || fail "stderr: $stderr"

	run imap --folder Archive --state "$ST" --to "$T/a/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(ids "$T/a")" = "<arch1@mfetch.test>" ]
	[ "$(sums "$T/a")" = "$(sums "$BOB_MAILDIR/.Archive")" ]
	# the folders keep separate state: INBOX is still new, Archive is not
	run imap --folder INBOX --folder Archive --state "$ST" --to "$T/a/"
	assert_line --regexp "$(summary_re 1)"
	[ "$(ids "$T/a")" = "$(printf '<arch1@mfetch.test>\n<inbox1@mfetch.test>')" ]
	run imap --folder Nonesuch --state "$ST" --to "$T/a/"
	assert_failure 69
	assert_output --partial "SELECT Nonesuch"
}

@test "--list-folders prints a folder name with a space whole, and --folder fetches from it" {
	mkdir -p "$BOB_MAILDIR/.My Stuff"/{cur,new,tmp}
	chown -R "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/.My Stuff"
	put spaced "in a folder with a space" "$BOB_MAILDIR/.My Stuff"
	run imap --folder "My Stuff" --state "$ST" --to "$T/a/"
	local rc=$status out=$output
	run --separate-stderr imap --list-folders
	rm -rf "$BOB_MAILDIR/.My Stuff"
	assert_success
	[ "$(sort <<<"$output")" = "$(printf 'INBOX\nMy Stuff')" ] || fail "listed: $output"
	[ "$rc" = 0 ] || fail "--folder 'My Stuff': exit $rc: $out"
	[ "$(ids "$T/a")" = "<spaced@mfetch.test>" ]
}

# mkfolder NAME: the Maildir++ folder NAME of Bob's (Dovecot's '.' hierarchy)
mkfolder() {
	mkdir -p "$BOB_MAILDIR/.$1"/{cur,new,tmp}
	chown -R "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/.$1"
}

@test "--folder patterns: '*' and 'Lists.*' select their folders, each into its Maildir++ folder (INBOX the Maildir), with state per folder; --list-folders shows the selection" {
	local f
	for f in Archive Lists.dev Lists.announce '&AOk-t&AOk-'; do mkfolder "$f"; done
	put inbox1
	put arch1 "archived" "$BOB_MAILDIR/.Archive"
	put dev1 "dev" "$BOB_MAILDIR/.Lists.dev"
	put dev2 "dev" "$BOB_MAILDIR/.Lists.dev"
	put ann1 "announce" "$BOB_MAILDIR/.Lists.announce"
	put ete1 "summer" "$BOB_MAILDIR/.&AOk-t&AOk-"
	run --separate-stderr imap --list-folders --folder 'Lists.*'
	assert_success
	[ "$(sort <<<"$output")" = "$(printf 'Lists.announce\nLists.dev')" ] || fail "listed: $output"
	# a name in modified UTF-7 is shown decoded; --json gives it as the server does
	run --separate-stderr imap --list-folders
	assert_success
	[ "$(sort <<<"$output")" = "$(printf 'Archive\nINBOX\nLists.announce\nLists.dev\nété' | sort)" ] ||
		fail "listed: $output"
	run imap --json --list-folders --folder '%t%'
	assert_success
	assert_output '{"type":"folder","name":"&AOk-t&AOk-","delimiter":"."}'

	run --separate-stderr imap --folder 'Lists.*' --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr =~ $(summary_re 3) ]] || fail "summary: '$stderr'"
	[ "$(count "$T/md")" = 0 ] || fail "$(count "$T/md") in the Maildir itself"
	[ "$(ids "$T/md/.Lists.dev" | tr '\n' ' ')" = "<dev1@mfetch.test> <dev2@mfetch.test> " ]
	[ "$(ids "$T/md/.Lists.announce")" = "<ann1@mfetch.test>" ]
	[ "$(sums "$T/md/.Lists.dev")" = "$(sums "$BOB_MAILDIR/.Lists.dev")" ] || fail "not byte for byte"
	# '*': the Lists folders are fetched already (their state), the rest now
	run --separate-stderr imap --folder '*' --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr =~ $(summary_re 3) ]] || fail "summary: '$stderr'"
	[ "$(ids "$T/md")" = "<inbox1@mfetch.test>" ]
	[ "$(ids "$T/md/.Archive")" = "<arch1@mfetch.test>" ]
	[ "$(ids "$T/md/.&AOk-t&AOk-")" = "<ete1@mfetch.test>" ]
	[ "$(count "$T/md/.Lists.dev")" = 2 ]
	grep -q '^imap bob@127.0.0.1 Lists.dev	' "$ST" || fail "no state line of its own: $(cat "$ST")"
	# and nothing again
	run --separate-stderr imap --folder '*' --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr =~ $(summary_re 0) ]] || fail "summary: '$stderr'"
	# one mbox per folder in a directory
	run imap --all --folder 'Lists.*' --to "mbox:$T/mb"
	assert_success
	[ "$(grep -c '^From ' "$T/mb/Lists.dev")" = 2 ]
	[ "$(grep -c '^From ' "$T/mb/Lists.announce")" = 1 ]
	[ "$(ls "$T/mb" | wc -l)" = 2 ]
}

@test "--list-folders: a name with control characters is shown escaped (terminal-safe)" {
	mkfolder "$(printf 'ev\033[2Jil')"
	run --separate-stderr imap --list-folders --folder 'ev*'
	rm -rf "$BOB_MAILDIR/.$(printf 'ev\033[2Jil')"
	assert_success
	[ -n "$output" ] || fail "not listed"
	[[ $output != *$'\033'* ]] || fail "an escape on the terminal: $(od -c <<<"$output" | head -3)"
}

@test "--move: what is delivered and recorded is moved (UID MOVE), the source empty, the target holding it; usage errors" {
	mkfolder Moved
	put mv1
	put mv2
	put mv3
	local want
	want=$(server_sums)
	run --separate-stderr imap -v --move Moved --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr == *"UID MOVE "*' "Moved"'* ]] || fail "no UID MOVE: $stderr"
	[ "$(count "$T/md")" = 3 ]
	[ "$(sums "$T/md")" = "$want" ] || fail "not byte for byte"
	[ "$(server_files | wc -l)" = 0 ] || fail "left in INBOX: $(server_files | wc -l)"
	[ "$(ids "$BOB_MAILDIR/.Moved")" = "$(ids "$T/md")" ] || fail "the target holds: $(ids "$BOB_MAILDIR/.Moved")"
	# what a run delivered and recorded but did not move (killed before,
	# say) is moved by the next run, not fetched again
	put mv4
	run imap --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 4 ]
	run --separate-stderr imap --move Moved --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr == *"1 message fetched before still here: moving to Moved"* ]] || fail "stderr: $stderr"
	[ "$(count "$T/md")" = 4 ]
	[ "$(server_files | wc -l)" = 0 ]
	[ "$(count "$BOB_MAILDIR/.Moved")" = 4 ]
	# a folder that is not there: refused before anything is fetched
	put mv5
	run imap --move Nonesuch --state "$ST" --to "$T/md/"
	assert_failure 69
	assert_output --partial "--move Nonesuch"
	[ "$(count "$T/md")" = 4 ]
	run imap --move Moved --delete --state "$ST" --to "$T/md/"
	assert_failure 64
	run imap --move INBOX --state "$ST" --to "$T/md/"
	assert_failure 64
	run imap --move Moved --peek --state "$ST" --to "$T/md/"
	assert_failure 64
	run pop --move Moved --state "$ST" --to "$T/md/"
	assert_failure 64
	assert_output --partial "IMAP only"
}

# ---------------------------------------------------------------- 6. errors

@test "a wrong password is exit 77 with the server's refusal, IMAP and POP3" {
	put pw1
	run "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" --password-eval 'echo wrong' \
		--state "$ST" --to "$T/md/" --delete
	assert_failure 77
	assert_output --regexp "refused: .*Authentication failed"
	run "$MFETCH" --server "127.0.0.1:$POP3_PORT" --pop3 --user bob --ca-file "$CA" --password-eval 'echo wrong' \
		--state "$ST" --to "$T/md/" --delete
	assert_failure 77
	assert_output --regexp "login refused: .*Authentication failed"
	[ "$(count "$T/md")" = 0 ]
	[ "$(server_files | wc -l)" = 1 ]
}

@test "without --ca-file the test CA is unknown: exit 69, certificate not trusted, nothing fetched or deleted" {
	put ca1
	local args
	for args in "--imap --server 127.0.0.1:$IMAP_PORT" "--imap --tls --server 127.0.0.1:$IMAPS_PORT" \
		"--pop3 --server 127.0.0.1:$POP3_PORT" "--pop3 --tls --server 127.0.0.1:$POP3S_PORT"; do
		# shellcheck disable=SC2086
		run "$MFETCH" $args --user bob --password-eval 'echo hungry' --delete --state "$ST" --to "$T/md/"
		assert_failure 69
		assert_output --partial "TLS: certificate not trusted for 127.0.0.1"
		[ "$(count "$T/md")" = 0 ] || fail "$args: fetched without a trusted certificate"
		[ "$(server_files | wc -l)" = 1 ] || fail "$args: deleted without a trusted certificate"
		[ ! -e "$ST" ] || fail "$args: a state file was written"
	done
}

@test "--port PORT is honoured when --server has no :PORT" {
	put port1
	run "$MFETCH" --server 127.0.0.1 --port "$IMAP_PORT" --user bob --ca-file "$CA" \
		--password-eval 'echo hungry' --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	run "$MFETCH" --server 127.0.0.1 --port "$POP3S_PORT" --pop3 --tls --user bob --ca-file "$CA" \
		--password-eval 'echo hungry' --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	[ "$(count "$T/md")" = 2 ]
}

@test "--fingerprint: the right SHA-256 pin passes, a wrong one is exit 69; the pin replaces the CA check (no --ca-file needed)" {
	put fp1
	local lower
	lower=$(tr -d : <<<"$FP" | tr A-F a-f)
	run imap --fingerprint "$FP" --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 1)"
	run imaps --fingerprint "sha256:$lower" --all --state "$ST" --to "$T/md2/"
	assert_success
	run pop --fingerprint "$lower" --all --state "$ST" --to "$T/md3/"
	assert_success
	run imap --fingerprint "$(tr 0-9A-F 1-9A-F0 <<<"$FP")" --all --state "$ST" --to "$T/md4/"
	assert_failure 69
	assert_output --partial "does not match the pinned fingerprint"
	[ "$(count "$T/md4")" = 0 ]
	run imap --fingerprint nothex --all --state "$ST" --to "$T/md4/"
	assert_failure 78
	assert_output --partial "is not a SHA-256 in hex"
	# the pin is the trust decision (tls.c): a private CA's certificate is
	# usable with its pin alone, as msmtp's tls_fingerprint
	run "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --password-eval 'echo hungry' \
		--fingerprint "$FP" --all --state "$ST" --to "$T/md5/"
	assert_success
	refute_output --partial "certificate not trusted"
	[ "$(count "$T/md5")" = 1 ]
}

@test "a server that is not listening is exit 75" {
	run "$MFETCH" --server 127.0.0.1:1 --user bob --password-eval 'echo hungry' --timeout 5 --state "$ST" --to "$T/md/"
	assert_failure 75
	assert_output --partial "connect to 127.0.0.1 port 1"
	run "$MFETCH" --server 127.0.0.1:1 --pop3 --user bob --password-eval 'echo hungry' --timeout 5 --state "$ST" --to "$T/md/"
	assert_failure 75
}

@test "usage errors are exit 64" {
	local s=(--server "127.0.0.1:$IMAP_PORT" --user bob --password-eval 'echo hungry')
	run "$MFETCH" "${s[@]}"
	assert_failure 64
	assert_output --partial "where to? --to DIR/, --to mbox:FILE, --to - or --mda CMD"
	run "$MFETCH" "${s[@]}" --pop3 --folder Archive --to "$T/md/"
	assert_failure 64
	assert_output --partial "--folder, --list-folders, --mark-seen, --move and --since are IMAP only"
	run "$MFETCH" "${s[@]}" --pop3 --mark-seen --to "$T/md/"
	assert_failure 64
	run "$MFETCH" "${s[@]}" --pop3 --list-folders
	assert_failure 64
	run "$MFETCH" --user bob --to "$T/md/"
	assert_failure 64
	assert_output --partial "--server and --user are needed"
	run "$MFETCH" "${s[@]}" --to "$T/md/" --limit x
	assert_failure 64
	assert_output --partial "invalid limit: 'x'"
	run "$MFETCH" "${s[@]}" --to "$T/md/" --bogus
	assert_failure 64
	assert_output --partial "unknown option '--bogus'"
	run "$MFETCH" "${s[@]}" --to
	assert_failure 64
	run "$MFETCH" "${s[@]}" --to "$T/md/" extra
	assert_failure 64
	[ ! -e "$ST" ]
	run "$MFETCH" -h
	assert_success
	assert_output --partial "--password-eval"
}

@test "an unknown --auth mechanism is a usage error, not a silent fallback to LOGIN" {
	put auth1
	run imap -v --auth scram-sha-1 --state "$ST" --to "$T/md/"
	refute_output --partial "LOGIN \"bob\""
	assert_failure 64
	run pop -v --auth scram-sha-1 --state "$ST" --to "$T/md/"
	refute_output --partial "C: PASS"
	assert_failure 64
	[ "$(count "$T/md")" = 0 ]
}

# ---------------------------------------------------------------- 7. crash safety

BATCH=64 # messages one group commit covers at most (BATCH_MSGS, deliver.h)

# many N TAG: N messages of about 2 KiB straight into Bob's INBOX, ids in $T/all.ids
many() {
	local n=$1 tag=$2 i stamp body
	stamp=$(date +%s)
	body=$(seq 1 400 | tr '\n' ' ' | fold -w 70)
	for i in $(seq "$n"); do
		printf 'Subject: %s %s\nMessage-ID: <%s%s@mfetch.test>\n\n%s\n.\n%s\n' \
			"$tag" "$i" "$tag" "$i" "$i" "$body" >"$BOB_MAILDIR/tmp/$tag$i"
	done
	chown "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR"/tmp/"$tag"*
	for i in $(seq "$n"); do mv "$BOB_MAILDIR/tmp/$tag$i" "$BOB_MAILDIR/new/$stamp.P$$R$i.$tag"; done
	ids server >"$T/all.ids"
}

# has_at_least DIR N: the Maildir DIR holds N messages or more (no fork)
has_at_least() {
	local -a f
	shopt -s nullglob
	f=("$1"/new/* "$1"/cur/*)
	shopt -u nullglob
	[ "${#f[@]}" -ge "$2" ]
}

# mfetch_progress PID DIR N: DIR holds N messages, or PID has ended
mfetch_progress() { has_at_least "$2" "$3" || ! alive "$1"; }

crash_check() {
	local fn=$1 i pid n1 stamp attempt
	# a machine so slow that the run ends before the kill gets another go
	# from the start, rather than a test that passes untested
	for attempt in 1 2 3; do
		rm -rf "$T/md" "$ST"
		rm -f "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/*
		stamp=$(date +%s)
		for i in $(seq 200); do
			printf 'Subject: crash %s\nMessage-ID: <crash%s@mfetch.test>\n\n%s\n' "$i" "$i" "$i" >"$BOB_MAILDIR/tmp/crash$i"
		done
		chown "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR"/tmp/crash*
		for i in $(seq 200); do mv "$BOB_MAILDIR/tmp/crash$i" "$BOB_MAILDIR/new/$stamp.P$$R$i.$fn-crash$attempt"; done
		ids server >"$T/all.ids"
		mkdir -p "$T/md/new"
		# shellcheck disable=SC2209 # EXEC names the builtin for the function
		EXEC=exec "$fn" -q --delete --state "$ST" --to "$T/md/" 3>&- &
		pid=$!
		# the kill comes once 30 are in the target (a batch committed)
		poll_until mfetch_progress "$pid" "$T/md" 30
		if alive "$pid"; then
			kill -9 "$pid"
			wait "$pid" || true
		else
			wait "$pid" || fail "mfetch failed ($?)"
		fi
		n1=$(count "$T/md")
		[ "$n1" -lt 200 ] && break
	done
	[ "$n1" -lt 200 ] || fail "three times all 200 were delivered before the kill"
	# right after the crash: whatever left the server is in the target
	comm -23 "$T/all.ids" <(ids server | sort -u) >"$T/gone"
	comm -23 "$T/gone" <(ids "$T/md" | sort -u) >"$T/lost"
	[ ! -s "$T/lost" ] || fail "gone from the server but never delivered: $(cat "$T/lost")"

	run "$fn" -q --delete --state "$ST" --to "$T/md/"
	assert_success
	# every message exactly once, whenever the kill came (SAFETY in mfetch(1))
	[ "$(ids "$T/md" | sort -u)" = "$(cat "$T/all.ids")" ] || fail "messages missing from the target"
	[ "$(ids "$T/md")" = "$(cat "$T/all.ids")" ] ||
		fail "$(ids "$T/md" | uniq -d | wc -l) delivered twice: $(ids "$T/md" | uniq -d | head -3)"
	comm -23 <(ids server | sort -u) <(ids "$T/md" | sort -u) >"$T/undelivered"
	[ ! -s "$T/undelivered" ] || fail "on the server and not delivered: $(cat "$T/undelivered")"
}

@test "IMAP: kill -9 during --delete, then a rerun: each message exactly once, nothing undelivered left" {
	crash_check imap
}

@test "POP3: kill -9 during --delete, then a rerun: each message exactly once, nothing undelivered left" {
	crash_check pop
}

# stopped PID: PID is stopped by a signal; stopped_or_gone: or has ended
stopped() {
	local st
	{ read -r _ _ st _ <"/proc/$1/stat"; } 2>/dev/null || return 1
	[ "$st" = T ]
}
stopped_or_gone() { stopped "$1" || ! alive "$1"; }

# stop_and_kill FN TO VAR=VALUE...: FN -q --delete --to TO runs with the
# shim and these settings until the shim stops it, and is killed there (-9)
stop_and_kill() {
	local fn=$1 to=$2 pid
	shift 2
	build_shim
	(
		# shellcheck disable=SC2163 # the arguments are NAME=VALUE settings
		export "$@" LD_PRELOAD="$SHIM"
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
		# shellcheck disable=SC2209 # EXEC names the builtin for the function
		EXEC=exec "$fn" -q --delete --state "$ST" --to "$to" 3>&-
	) &
	pid=$!
	poll_until stopped_or_gone "$pid"
	stopped "$pid" || fail "mfetch ended before the stop ($*): $(wait "$pid"; echo "exit $?")"
	kill -9 "$pid"
	{ wait "$pid"; } 2>/dev/null || true
}

# window_check FN N: 100 messages with --delete; mfetch stops (the shim's
# SIGSTOP) right after the Nth link into the Maildir, before the batch is
# recorded (where a kill used to deliver the batch again), and is killed
# there (-9). The next run delivers each message exactly once, leaves none
# on the server and nothing in tmp/.
window_check() {
	local fn=$1 at=$2
	many 100 "win$fn$at"
	mkdir -p "$T/md/new"
	stop_and_kill "$fn" "$T/md/" STOP_AFTER_LINK="$at"
	[ "$(count "$T/md")" = "$at" ] || fail "$(count "$T/md") in the target at link $at"
	run "$fn" -q --delete --state "$ST" --to "$T/md/"
	assert_success
	[ "$(ids "$T/md" | sort -u)" = "$(cat "$T/all.ids")" ] || fail "messages missing from the target"
	[ "$(ids "$T/md")" = "$(cat "$T/all.ids")" ] ||
		fail "$(ids "$T/md" | uniq -d | wc -l) delivered twice: $(ids "$T/md" | uniq -d | head -3)"
	[ "$(server_files | wc -l)" = 0 ] || fail "left on the server: $(server_files | wc -l)"
	[ -z "$(ls -A "$T/md/tmp")" ] || fail "files left in tmp/: $(ls "$T/md/tmp" | head -3)"
}

@test "IMAP: a kill -9 after a batch's links and before its record (the old window): each message exactly once" {
	window_check imap "$BATCH"
	rm -rf "$T/md" "$ST"
	window_check imap 80 # the second batch half linked
}

@test "POP3: a kill -9 after a batch's links and before its record (the old window): each message exactly once" {
	window_check pop "$BATCH"
	rm -rf "$T/md" "$ST"
	window_check pop 80
}

# mbox_window_check FN N: 100 messages with --delete into an mbox; mfetch
# stops (the shim's SIGSTOP) right after its Nth append is done and its
# dotlock gone, before the message is recorded (where a kill used to
# append it twice), and is killed there (-9). The next run finds the
# append by its intent and delivers each message exactly once, leaving
# none on the server.
mbox_window_check() {
	local fn=$1 at=$2
	many 100 "mwin$fn$at"
	stop_and_kill "$fn" "mbox:$T/box" STOP_AFTER_UNLINK="$T/box.lock" STOP_AFTER_UNLINK_N="$at"
	[ "$(count "$T/box")" = "$at" ] || fail "$(count "$T/box") in the mbox at append $at"
	[ ! -e "$T/box.lock" ] || fail "the dotlock is still there"
	run "$fn" -q --delete --state "$ST" --to "mbox:$T/box"
	assert_success
	[ "$(count "$T/box")" = 100 ] || fail "$(count "$T/box") messages in the mbox for 100"
	[ "$(ids "$T/box")" = "$(cat "$T/all.ids")" ] || fail "not each message exactly once"
	[ "$(server_files | wc -l)" = 0 ] || fail "left on the server: $(server_files | wc -l)"
}

@test "IMAP: a kill -9 after an mbox append and before its record: each message exactly once" {
	mbox_window_check imap 30
	rm -f "$T/box" "$ST"
	mbox_window_check imap 1
}

@test "POP3: a kill -9 after an mbox append and before its record: each message exactly once" {
	mbox_window_check pop 30
	rm -f "$T/box" "$ST"
	mbox_window_check pop 1
}

@test "an mbox intent whose bytes are not at its offset (another writer's message there) is fetched again" {
	many 3 mint
	run pop -q --state "$ST" --to "mbox:$T/box"
	assert_success
	[ "$(count "$T/box")" = 3 ]
	# the state as a run killed after the third append and before its
	# record leaves it: the third message's intent last
	tail -2 "$ST" | head -1 | grep -q '^?' || fail "no intent before the last record: $(tail -2 "$ST")"
	tail -1 "$ST" | grep -q '^+' || fail "the last line is no record: $(tail -1 "$ST")"
	head -n -1 "$ST" >"$T/st2"
	cp "$T/st2" "$ST"
	# the mbox cut back to before that append (as a dead writer's dotlock
	# makes the next writer cut it), and another writer's message there
	local off
	off=$(tail -1 "$ST" | sed 's/.* @\([0-9]*\),.*/\1/')
	[ "$(head -c $((off + 5)) "$T/box" | tail -c 5)" = "From " ] || fail "no From_ line at $off"
	truncate -s "$off" "$T/box"
	printf 'Subject: other\nMessage-ID: <other@mfetch.test>\n\nsomeone else\n' |
		"$MDELIVER" "$T/box" || fail "mdeliver failed"
	run pop -q --state "$ST" --to "mbox:$T/box"
	assert_success
	[ "$( (cat "$T/all.ids"; echo '<other@mfetch.test>') | sort)" = "$(ids "$T/box")" ] ||
		fail "the mbox: $(ids "$T/box" | tr '\n' ' ')"
	# settled: the next run fetches nothing
	run pop -q --state "$ST" --to "mbox:$T/box"
	assert_success
	[ "$(count "$T/box")" = 4 ]
}

# many_check FN: 300 messages with --delete in one run (batches, pipelined
# RETRs or one UID FETCH a batch): byte for byte, each once, none left
many_check() {
	local fn=$1 want
	many 300 "many$fn"
	want=$(server_sums)
	run --separate-stderr "$fn" --delete --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr =~ $(summary_re 300) ]] || fail "summary: '$stderr'"
	[ "$(count "$T/md")" = 300 ] || fail "$(count "$T/md") files in the target"
	[ "$(sums "$T/md")" = "$want" ] || fail "the fetched messages differ from the server's files"
	[ "$(ids "$T/md")" = "$(cat "$T/all.ids")" ] || fail "not each message exactly once"
	[ "$(server_files | wc -l)" = 0 ] || fail "$(server_files | wc -l) left on the server"
	[ -z "$(ls -A "$T/md/tmp")" ] || fail "files left in tmp/: $(ls "$T/md/tmp")"
	# and nothing again
	run "$fn" --delete --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 300 ]
}

@test "IMAP: 300 messages with --delete, in batches: byte for byte, each exactly once, none left on the server" {
	many_check imap
}

@test "POP3: 300 messages with --delete, in batches: byte for byte, each exactly once, none left on the server" {
	many_check pop
}

# kill_loop FN [--delete]: 300 messages; mfetch is killed (-9) each time a
# batch more came into the target, and run again, until a run ends by
# itself. Then: each message exactly once, none left undelivered.
kill_loop() {
	local fn=$1 del=${2:-} attempt kills=0 n
	# a machine so slow that the first run ends before it is killed gets
	# another go from the start, rather than a test that passes untested
	for attempt in 1 2 3; do
		rm -rf "$T/md" "$ST"
		rm -f "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/*
		many 300 "kill$fn${del:+d}$attempt"
		kill_runs "$fn" "$del"
		[ "$KILLS" -ge 1 ] && break
	done
	kills=$KILLS
	[ "$kills" -ge 1 ] || fail "three times the first run completed before it could be killed"
	[ "$(ids "$T/md" | sort -u)" = "$(cat "$T/all.ids")" ] || fail "messages missing from the target"
	n=$(ids "$T/md" | wc -l)
	[ "$n" = 300 ] || fail "$n delivered for 300 with $kills kills"
	if [ -n "$del" ]; then
		[ "$(server_files | wc -l)" = 0 ] || fail "left on the server: $(server_files | wc -l)"
	else
		[ "$(server_files | wc -l)" = 300 ] || fail "without --delete the server lost messages"
	fi
	# a last run finds nothing new
	run "$fn" $del --state "$ST" --to "$T/md/"
	assert_success
	[ "$(ids "$T/md" | wc -l)" = "$n" ]
}

# kill_runs FN [--delete]: run, kill -9 once a batch more is in the target,
# again, until a run ends by itself; the kills in KILLS
kill_runs() {
	local fn=$1 del=${2:-} pid before
	KILLS=0
	mkdir -p "$T/md/new"
	for _ in $(seq 20); do
		before=$(count "$T/md")
		# shellcheck disable=SC2209 # EXEC names the builtin for the function
		EXEC=exec "$fn" -q $del --state "$ST" --to "$T/md/" 3>&- &
		pid=$!
		# progress is made in whole batches: wait for one (or the end)
		poll_until mfetch_progress "$pid" "$T/md" $((before + 1))
		if ! alive "$pid" || ! kill -9 "$pid" 2>/dev/null; then
			wait "$pid" || fail "mfetch failed ($?) after $KILLS kills"
			return 0
		fi
		wait "$pid" || true
		KILLS=$((KILLS + 1))
		if [ -n "$del" ]; then
			# whatever left the server is in the target
			comm -23 "$T/all.ids" <(ids server | sort -u) >"$T/gone"
			comm -23 "$T/gone" <(ids "$T/md" | sort -u) >"$T/lost"
			[ ! -s "$T/lost" ] || fail "gone from the server, never delivered: $(cat "$T/lost")"
		fi
		if [[ $del == --move* ]]; then
			# on the server, each in INBOX or in Moved: never both, never lost
			comm -12 <(ids server | sort -u) <(ids "$BOB_MAILDIR/.Moved" | sort -u) >"$T/both"
			[ ! -s "$T/both" ] || fail "in INBOX and in Moved: $(head -3 "$T/both")"
			[ "$({ ids server; ids "$BOB_MAILDIR/.Moved"; } | sort)" = "$(cat "$T/all.ids")" ] ||
				fail "the server lost some, or holds some twice, after $KILLS kills"
		fi
	done
	fail "no run completed in 20 tries ($KILLS kills)"
}

@test "IMAP: kill -9 in the middle of batches, again and again until a run ends: each message exactly once" {
	kill_loop imap
}

@test "IMAP --delete: kill -9 in the middle of batches until a run ends: each message exactly once, none left" {
	kill_loop imap --delete
}

@test "POP3: kill -9 in the middle of batches, again and again until a run ends: each message exactly once" {
	kill_loop pop
}

@test "POP3 --delete: kill -9 in the middle of batches until a run ends: each message exactly once, none left" {
	kill_loop pop --delete
}

@test "IMAP --move: kill -9 in the middle of batches until a run ends: each message exactly once here, and on the server in INBOX or Moved, never both, never lost" {
	local attempt
	for attempt in 1 2 3; do
		rm -rf "$T/md" "$ST" "$BOB_MAILDIR/.Moved"
		rm -f "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/*
		mkfolder Moved
		many 300 "killmv$attempt"
		kill_runs imap "--move Moved"
		[ "$KILLS" -ge 1 ] && break
	done
	[ "$KILLS" -ge 1 ] || fail "three times the first run completed before it could be killed"
	# a last run settles what the last kill left
	run imap --move Moved --state "$ST" --to "$T/md/"
	assert_success
	[ "$(ids "$T/md")" = "$(cat "$T/all.ids")" ] ||
		fail "not each exactly once: $(ids "$T/md" | wc -l) for 300, $(ids "$T/md" | uniq -d | wc -l) twice, $KILLS kills"
	[ "$(server_files | wc -l)" = 0 ] || fail "left in INBOX: $(server_files | wc -l)"
	[ "$(ids "$BOB_MAILDIR/.Moved")" = "$(cat "$T/all.ids")" ] ||
		fail "Moved: $(ids "$BOB_MAILDIR/.Moved" | wc -l) for 300, $(ids "$BOB_MAILDIR/.Moved" | uniq -d | wc -l) twice"
}

# random_kills K DIR CMD...: CMD (a function and its arguments, delivering
# into the Maildir DIR, or the mbox DIR named *.mbox) is run again and again, and killed (-9) K times in
# all at a random moment chosen by what it has done, not by a clock: the
# shim stops it (SIGSTOP) after a random Nth step (a write to a file, a
# link, an fsync: a batch of 64 is some 200), where the kill finds it;
# then the last run ends by itself. While more kills are left than
# batches, N is at most 250, else 700; never more than the messages left,
# so that no run killed could have delivered them all. The kills are
# added to KILLS; the kill points are in $T/kills.log.
random_kills() {
	local want=$1 dir=$2 pid n kills=0 left
	shift 2
	[ -f "$dir" ] || [[ $dir == *.mbox ]] || mkdir -p "$dir/new"
	while :; do
		left=$((TOTAL - $(count "$dir")))
		if [ "$kills" -ge "$want" ]; then
			n=0 # no more kills: this run ends by itself
		elif [ $((want - kills)) -gt $(((left + BATCH - 1) / BATCH)) ]; then
			n=$((RANDOM % 250 + 1))
		else
			n=$((RANDOM % 700 + 1))
		fi
		[ "$n" -le "$left" ] || n=$left
		(
			export STOP_AFTER_STEP=$n LD_PRELOAD=$SHIM
			export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
			# shellcheck disable=SC2209 # EXEC names the builtin for the function
			EXEC=exec "$@" 3>&-
		) &
		pid=$!
		poll_until stopped_or_gone "$pid"
		if ! stopped "$pid"; then
			wait "$pid" || fail "mfetch failed ($?) after $kills kills (seed $SEED): $(tail -3 "$T/kills.log")"
			[ "$kills" -ge "$want" ] || fail "a run ended by itself after $kills kills (seed $SEED)"
			break
		fi
		kill -9 "$pid"
		{ wait "$pid"; } 2>/dev/null || true
		echo "left $left: killed after step $n" >>"$T/kills.log"
		kills=$((kills + 1))
	done
	KILLS=$((KILLS + kills))
}

# exactly_once DIR IDS: DIR holds each message of the file IDS once, and nothing else
exactly_once() {
	[ "$(ids "$1" | sort -u)" = "$(cat "$2")" ] || fail "messages missing from $1 (seed $SEED)"
	[ "$(ids "$1")" = "$(cat "$2")" ] ||
		fail "$(ids "$1" | uniq -d | wc -l) delivered twice (seed $SEED): $(ids "$1" | uniq -d | head -3)"
}

# dovecot_random_kills N POPTO IMAPTO: N messages fetched by a POP3
# --delete run into POPTO, then N more by an IMAP run into IMAPTO (each a
# Maildir DIR/ or mbox:FILE.mbox), 50 kill -9 each at random moments:
# each message exactly once, POP3 leaves none, IMAP all
dovecot_random_kills() {
	local pto=$2 ito=$3 popbox imapbox
	popbox=${pto#mbox:} imapbox=${ito#mbox:}
	popbox=${popbox%/} imapbox=${imapbox%/}
	SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
	RANDOM=$SEED
	TOTAL=$1 KILLS=0
	build_shim
	many "$TOTAL" rk
	cp "$T/all.ids" "$T/rk.ids"
	random_kills 50 "$popbox" pop -q --delete --state "$ST" --to "$pto"
	exactly_once "$popbox" "$T/rk.ids"
	[ "$(server_files | wc -l)" = 0 ] || fail "left on the server: $(server_files | wc -l)"
	many "$TOTAL" rki
	random_kills 50 "$imapbox" imap -q --state "$ST" --to "$ito"
	exactly_once "$imapbox" "$T/all.ids"
	[ "$(server_files | wc -l)" = "$TOTAL" ] || fail "without --delete the server lost messages"
	[ "$KILLS" -ge 100 ] || fail "$KILLS kills"
	# a last run finds nothing new
	run imap -q --state "$ST" --to "$ito"
	assert_success
	[ "$(count "$imapbox")" = "$TOTAL" ]
}

@test "random kills: 2,000 messages, a POP3 --delete run and an IMAP run against Dovecot, 50 kill -9 each at random moments (200 in all with the next test): each message exactly once, POP3 leaves none" {
	dovecot_random_kills 2000 "$T/md/" "$T/mdi/"
}

@test "random kills: 2,000 messages from tests/fault/mailfault, a POP3 --delete run and an IMAP --delete run, 50 kill -9 each at random moments (200 in all with the test before): each message exactly once, none left" {
	SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
	RANDOM=$SEED
	TOTAL=2000 KILLS=0
	build_shim
	seq "$TOTAL" | sed 's/.*/<mf&@mailfault.test>/' | sort >"$T/mf.ids"
	MF_COUNT=$TOTAL mailfault pop-many
	random_kills 50 "$T/md" mf --pop3 --tls --ca-file "$T/mf.crt" -q --delete --state "$ST" --to "$T/md/"
	exactly_once "$T/md" "$T/mf.ids"
	[ "$(tail -1 "$MLOG")" = "mailfault: left 0" ] || fail "the server: $(tail -1 "$MLOG")"
	kill "$BG"
	MF_COUNT=$TOTAL mailfault imap-many
	random_kills 50 "$T/mdi" mf --imap --tls --ca-file "$T/mf.crt" -q --delete --state "$ST" --to "$T/mdi/"
	exactly_once "$T/mdi" "$T/mf.ids"
	[ "$(tail -1 "$MLOG")" = "mailfault: left 0" ] || fail "the server: $(tail -1 "$MLOG")"
	[ "$KILLS" -ge 100 ] || fail "$KILLS kills"
}

@test "random kills into an mbox: 1,000 messages, a POP3 --delete run and an IMAP run against Dovecot, 50 kill -9 each at random moments: each message exactly once and whole, POP3 leaves none" {
	dovecot_random_kills 1000 "mbox:$T/p.mbox" "mbox:$T/i.mbox"
	[ ! -e "$T/i.mbox.lock" ] || fail "a dotlock left"
	[ ! -e "$T/p.mbox.lock" ] || fail "a dotlock left"
}

# uids_on LINE: the POP3 UIDLs of a state line (after its tab), one a line
uids_on() { cut -f2- <<<"$1" | tr ' ' '\n' | grep -c .; }

@test "fault: --move on a server without MOVE: UID COPY, \\Deleted and UID EXPUNGE of exactly those UIDs; without UIDPLUS either, refused before anything is fetched" {
	MF_COUNT=200 mailfault imap-many
	run mf --imap --tls --ca-file "$T/mf.crt" -q --move Archive --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 200 ]
	kill "$BG"
	wait "$BG" 2>/dev/null || true
	[ "$(tail -2 "$MLOG" | tr '\n' '|')" = "mailfault: copied 200, 0 twice|mailfault: left 0|" ] ||
		fail "the server: $(tail -2 "$MLOG")"
	MF_CAPS="IMAP4rev1 AUTH=PLAIN" MF_COUNT=20 mailfault imap-many
	run mf --imap --tls --ca-file "$T/mf.crt" -q --move Archive --state "$T/st2" --to "$T/md2/"
	assert_failure 69
	assert_output --partial "neither MOVE (RFC 6851) nor UIDPLUS"
	[ "$(count "$T/md2")" = 0 ]
}

@test "fault: a pattern on a server whose delimiter is '/': Lists/dev into .Lists.dev, \\Noselect left out, names that can be no local one skipped (65), the others fetched" {
	MF_COUNT=5 MF_LIST='* LIST () "/" INBOX|* LIST (\Noselect) "/" Lists|* LIST () "/" "Lists/dev"|* LIST () "/" "../evil"|* LIST () "/" ".hidden"' \
		mailfault imap-many
	run mf --imap --tls --ca-file "$T/mf.crt" -q --folder '*' --state "$ST" --to "$T/md/"
	assert_failure 65
	assert_output --partial "folder ../evil: no local name can be made of it; skipped"
	assert_output --partial "2 folders skipped"
	[ "$(count "$T/md")" = 5 ]
	[ "$(count "$T/md/.Lists.dev")" = 5 ]
	[ "$(cd "$T/md" && ls -Ad .?* | tr '\n' ' ')" = ".Lists.dev " ] || fail "in the Maildir: $(ls -A "$T/md")"
	[ ! -e "$T/evil" ] || fail "out of the Maildir"
	run mf --imap --tls --ca-file "$T/mf.crt" --list-folders --folder '*'
	assert_success
	assert_output "$(printf 'INBOX\nLists/dev\n../evil\n.hidden')"
}

@test "the state is a journal: a batch appends its intent and its own UIDLs only, whatever the mailbox holds; a run starts from it compacted" {
	MF_COUNT=2560 mailfault pop-many # 40 batches
	run mf --pop3 --tls --ca-file "$T/mf.crt" -q --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 2560 ]
	local adds intents line n first last
	adds=$(grep -c '^+pop3 bob@127.0.0.1	' "$ST") || true
	intents=$(grep -c '^?pop3 bob@127.0.0.1	' "$ST") || true
	[ "$adds" = 40 ] || fail "$adds records of added UIDLs for 40 batches: $(cut -c1-80 "$ST")"
	[ "$intents" = 40 ] || fail "$intents intents for 40 batches"
	while IFS= read -r line; do
		n=$(uids_on "$line")
		[ "$n" = 64 ] || fail "a record of $n UIDLs: ${line:0:80}"
	done < <(grep '^+' "$ST")
	# the bytes the first two batches appended
	first=$(head -4 "$ST" | wc -c)
	kill "$BG"

	# 128 more: the next run starts from the journal compacted (one line
	# for 2,560 UIDLs), and its two batches append what the first two did
	# (as much for an intent of 64 as for a record of 64 UIDLs), not more
	MF_COUNT=2688 mailfault pop-many
	run mf --pop3 --tls --ca-file "$T/mf.crt" -q --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 2688 ]
	[ "$(wc -l <"$ST")" = 5 ] || fail "$(wc -l <"$ST") lines: $(cut -c1-80 "$ST")"
	[ "$(uids_on "$(head -1 "$ST")")" = 2560 ] || fail "not compacted: $(head -1 "$ST" | cut -c1-80)"
	[ "$(grep -c '^+' "$ST")" = 2 ]
	[ "$(grep '^+' "$ST" | tail -1 | cut -f2)" = "$(seq 2625 2688 | sed 's/^/uid-mf/' | tr '\n' ' ' | sed 's/ $//')" ] ||
		fail "the last record: $(grep '^+' "$ST" | tail -1 | cut -c1-120)"
	last=$(tail -4 "$ST" | wc -c)
	# the same within what longer UIDLs and names add
	[ "$last" -le $((first + first / 4)) ] || fail "two batches appended $last bytes at 2,560 UIDLs, $first at none"
}

@test "-v: several RETRs go before the first answer (Dovecot offers PIPELINING); IMAP asks for a batch in one UID FETCH" {
	many 5 pipe
	run --separate-stderr pop -v --state "$ST" --to "$T/md/"
	assert_success
	grep -qx 'S: PIPELINING' <<<"$stderr" || fail "no PIPELINING in CAPA: $stderr"
	local ahead
	ahead=$(sed -n '/^S: (.* octets of message)$/q;/^C: RETR /p' <<<"$stderr" | wc -l)
	[ "$ahead" = 5 ] || fail "$ahead RETRs before the first message: $stderr"
	# the DELEs of a batch go together too, after it is recorded
	run --separate-stderr pop -v --delete --all --state "$T/s2" --to "$T/md2/"
	assert_success
	ahead=$(sed -n '/^C: DELE /,$p' <<<"$stderr" | sed -n '/^S: +OK/q;/^C: DELE /p' | wc -l)
	[ "$ahead" = 5 ] || fail "$ahead DELEs before the first answer: $stderr"
	[ "$(sums "$T/md")" = "$(sums "$T/md2")" ]

	many 5 pipei
	run --separate-stderr imap -v --state "$T/s3" --to "$T/md3/"
	assert_success
	local fetches
	fetches=$(grep -c '^C: a[0-9]* UID FETCH .*BODY.PEEK' <<<"$stderr")
	[ "$fetches" = 1 ] || fail "$fetches UID FETCH commands for 5 messages: $stderr"
	[ "$(grep -c '^S: (.* octets of message)$' <<<"$stderr")" = 5 ]
	[ "$(count "$T/md3")" = 5 ]
}

# one_at_a_time FN: a second run of the account while the first is stopped
# in the middle of its fetch (its MDA sent it SIGSTOP, then said so through
# a FIFO) exits 75 and delivers nothing; the first, continued, delivers all
one_at_a_time() {
	local fn=$1
	put once1
	put once2
	mkfifo "$T/stopped"
	# shellcheck disable=SC2209 # EXEC names the builtin for the function
	EXEC=exec "$fn" -q --state "$ST" \
		--mda "cat >>'$T/mda.out'; [ -e '$T/again' ] || { touch '$T/again'; kill -STOP \$PPID; echo x >'$T/stopped'; }" 3>&- &
	BG=$!
	exec 4<>"$T/stopped"
	read -r -t 120 -u 4 _ || fail "the first mfetch never reached its MDA"
	exec 4>&-
	run "$fn" --state "$ST" --to "$T/md/"
	assert_failure 75
	assert_output "mfetch: another mfetch (pid $BG) is fetching bob@127.0.0.1"
	[ ! -d "$T/md/new" ] || [ -z "$(ls -A "$T/md/new")" ] || fail "the second run delivered"
	# another account (or state file) is not held up
	run "$fn" -q --state "$T/other" --to "$T/md-other/"
	assert_success
	[ "$(count "$T/md-other")" = 2 ]
	kill -CONT "$BG"
	wait "$BG" || fail "the first mfetch failed once continued"
	BG=
	[ "$(grep -c '^Subject: once' "$T/mda.out")" = 2 ] || fail "$(cat "$T/mda.out")"
	# the lock went with the first run: the next one runs (nothing new)
	run "$fn" --state "$ST" --to "$T/md/"
	assert_success
	assert_line --regexp "$(summary_re 0 0)"
}

@test "IMAP: one run at a time per account and state file; a second exits 75 naming the first" {
	one_at_a_time imap
}

@test "POP3: one run at a time per account and state file; a second exits 75 naming the first" {
	one_at_a_time pop
}

# ---------------------------------------------------------------- 8. --idle

# until_ok TRIES CMD...: CMD succeeds within TRIES × 0.05 s; TRIES is
# raised to 1200 (60 s): the bound is a hang guard, never a clock to beat
until_ok() {
	local n=$1
	shift
	[ "$n" -ge 1200 ] || n=1200
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
has_files() { [ "$(count "$1")" -ge "$2" ]; }
has_line() { grep -Eq -- "$2" "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }
idles() { [ "$(grep -Ec '^C: a[0-9]+ IDLE$' "$T/err")" -ge "$1" ]; }
reconnects() { [ "$(grep -c 'reconnecting in 1 s' "$T/err")" -ge "$1" ]; }
kids_are() { [ "$(pgrep -c -P "$BG")" = "$1" ]; }
imap_sessions() {
	[ "$(doveadm -c "$PEERS_DIR/dovecot/dovecot.conf" who -1 bob 2>/dev/null | grep -c imap)" -ge "$1" ]
}

# stop_bg: SIGTERM to the background mfetch; it must exit 0 within 5 s
stop_bg() {
	local rc=0
	kill -TERM "$BG" || fail "mfetch --idle had ended before SIGTERM: $(cat "$T/err")"
	until_ok 100 gone "$BG" || fail "mfetch ignored SIGTERM"
	wait "$BG" || rc=$?
	BG=
	[ "$rc" = 0 ] || fail "mfetch --idle exited $rc after SIGTERM: $(cat "$T/err")"
}

@test "IMAP --idle: what comes while it waits in IDLE lands in the Maildir in seconds; SIGTERM is exit 0 after LOGOUT" {
	put idle1
	# shellcheck disable=SC2209 # EXEC names the builtin for the function
	EXEC=exec imap --idle -v --state "$ST" --to "$T/md/" 2>"$T/err" 3>&- &
	BG=$!
	until_ok 100 has_files "$T/md" 1 || fail "the first message never came: $(cat "$T/err")"
	until_ok 100 has_line "$T/err" '^S: \+ idling' || fail "no IDLE: $(cat "$T/err")"
	put idle2
	until_ok 100 has_files "$T/md" 2 || fail "the message that came during IDLE was not fetched"
	# and one through Postfix
	printf 'Subject: idle via postfix\nMessage-ID: <idle3@mfetch.test>\n\nhi\n' >"$T/m3"
	send "$T/m3"
	until_ok 100 has_files "$T/md" 3 || fail "the message through Postfix was not fetched"
	stop_bg
	[ "$(ids "$T/md")" = "$(ids server)" ] || fail "not exactly the server's messages: $(ids "$T/md")"
	[ "$(sums "$T/md")" = "$(server_sums)" ] || fail "the copies differ from the server's files"
	grep -q '^C: DONE$' "$T/err" || fail "IDLE never ended with DONE"
	grep -Eq '^C: a[0-9]+ LOGOUT$' "$T/err" || fail "no LOGOUT after SIGTERM"
	! grep -q hungry "$T/err" || fail "the password is in the trace"
	grep -Eq "$(summary_re 1)" "$T/err" || fail "no summary line for a round: $(grep -v '^[CS]: ' "$T/err")"
	# all of it recorded: a plain run after it finds nothing new
	run --separate-stderr imap --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr =~ $(summary_re 0 0) ]] || fail "after --idle: $stderr"
}

@test "IMAP --idle-refresh 1 renews IDLE every second (DONE, IDLE) without losing a message" {
	# shellcheck disable=SC2209
	EXEC=exec imap --idle --idle-refresh 1 -v --state "$ST" --to "$T/md/" 2>"$T/err" 3>&- &
	BG=$!
	until_ok 100 idles 3 || fail "IDLE not renewed: $(grep -Ec '^C: a[0-9]+ IDLE$' "$T/err")"
	put refresh1
	until_ok 100 has_files "$T/md" 1 || fail "not fetched"
	stop_bg
	[ "$(grep -c '^C: DONE$' "$T/err")" -ge 2 ] || fail "no DONE before each new IDLE"
	[ "$(count "$T/md")" = 1 ]
}

@test "IMAP --idle: SIGTERM during a delivery lets it finish and record it: delivered once, not fetched again" {
	put slow1
	printf '#!/bin/sh\n: >"%s"\nsleep 1\nexec "%s" "%s"\n' "$T/started" "$MDELIVER" "$T/md/" >"$T/mda"
	chmod +x "$T/mda"
	# shellcheck disable=SC2209
	EXEC=exec imap --idle --state "$ST" --mda "$T/mda" 2>"$T/err" 3>&- &
	BG=$!
	until_ok 100 test -e "$T/started" || fail "the MDA never started: $(cat "$T/err")"
	stop_bg
	[ "$(count "$T/md")" = 1 ] || fail "the message in delivery: $(count "$T/md") copies"
	grep -q 'fetched 1 message' "$T/err" || fail "no summary for the delivered one: $(cat "$T/err")"
	run --separate-stderr imap --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr =~ $(summary_re 0 0) ]] || fail "the message was not recorded: $stderr"
	[ "$(count "$T/md")" = 1 ]
}

@test "IMAP --idle: a connection the server drops (doveadm kick) comes back after 1 s and fetches what came meanwhile" {
	put kick1
	# shellcheck disable=SC2209
	EXEC=exec imaps --idle --state "$ST" --to "$T/md/" 2>"$T/err" 3>&- &
	BG=$!
	until_ok 100 has_files "$T/md" 1 || fail "the first message never came: $(cat "$T/err")"
	until_ok 100 imap_sessions 1 || fail "no IMAP session"
	doveadm -c "$PEERS_DIR/dovecot/dovecot.conf" kick bob >/dev/null || fail "doveadm kick failed"
	put kick2
	until_ok 100 reconnects 1 || fail "no reconnect: $(cat "$T/err")"
	until_ok 100 has_files "$T/md" 2 || fail "not fetched after the reconnect: $(cat "$T/err")"
	kill -0 "$BG" || fail "mfetch gave up: $(cat "$T/err")"
	# a second drop: the session had settled, so 1 s again (not 2)
	until_ok 100 imap_sessions 1 || fail "no IMAP session"
	doveadm -c "$PEERS_DIR/dovecot/dovecot.conf" kick bob >/dev/null
	until_ok 100 reconnects 2 || fail "$(cat "$T/err")"
	put kick3
	until_ok 100 has_files "$T/md" 3 || fail "not fetched after the second reconnect"
	stop_bg
	[ "$(ids "$T/md")" = "$(ids server)" ] || fail "not exactly the server's messages"
}

@test "IMAP --idle: a server that is not there is retried after 1, 2, 4 s; SIGTERM in the wait is exit 0" {
	# shellcheck disable=SC2209
	EXEC=exec "$MFETCH" --server 127.0.0.1:1 --user bob --password-eval 'echo hungry' --idle \
		--state "$ST" --to "$T/md/" 2>"$T/err" 3>&- &
	BG=$!
	until_ok 200 has_line "$T/err" 'reconnecting in 4 s' || fail "no back-off: $(cat "$T/err")"
	grep -q 'reconnecting in 1 s' "$T/err" && grep -q 'reconnecting in 2 s' "$T/err" ||
		fail "not 1, 2, 4: $(cat "$T/err")"
	stop_bg
}

@test "IMAP --idle with two folders: one process and connection each, both fetched; SIGTERM ends all with 0" {
	mkdir -p "$BOB_MAILDIR/.Archive"/{cur,new,tmp}
	chown -R "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/.Archive"
	# shellcheck disable=SC2209
	EXEC=exec imap --idle --folder INBOX --folder Archive --state "$ST" --to "$T/md/" 2>"$T/err" 3>&- &
	BG=$!
	until_ok 100 kids_are 2 || fail "not two processes: $(pgrep -a -P "$BG")"
	until_ok 100 imap_sessions 2 || fail "not two IMAP sessions"
	put in1
	put arch1 "archived" "$BOB_MAILDIR/.Archive"
	until_ok 100 has_files "$T/md" 2 || fail "$(count "$T/md") of 2: $(cat "$T/err")"
	local kids k
	kids=$(pgrep -P "$BG" | tr '\n' ' ')
	stop_bg
	for k in $kids; do gone "$k" || fail "child $k still runs"; done
	grep -q "INBOX	" "$ST" && grep -q "Archive	" "$ST" || fail "state: $(cat "$ST")"
}

@test "IMAP --idle --folder '*': one process for each folder the pattern selects, each into its own Maildir++ folder, moved once delivered" {
	mkfolder Lists.dev
	mkfolder Moved
	# shellcheck disable=SC2209
	EXEC=exec imap --idle --folder '*' --move Moved --state "$ST" --to "$T/md/" 2>"$T/err" 3>&- &
	BG=$!
	# INBOX and Lists.dev; not Moved, where the messages go
	until_ok 100 kids_are 2 || fail "not two processes: $(pgrep -a -P "$BG")"
	put in1
	put dev1 "dev" "$BOB_MAILDIR/.Lists.dev"
	until_ok 100 has_files "$T/md" 1 || fail "$(count "$T/md") in INBOX's: $(cat "$T/err")"
	until_ok 100 has_files "$T/md/.Lists.dev" 1 || fail "nothing in Lists.dev's: $(cat "$T/err")"
	until_ok 100 has_files "$BOB_MAILDIR/.Moved" 2 || fail "not moved: $(cat "$T/err")"
	stop_bg
	[ "$(ids "$T/md")" = "<in1@mfetch.test>" ]
	[ "$(ids "$T/md/.Lists.dev")" = "<dev1@mfetch.test>" ]
	[ "$(server_files | wc -l)" = 0 ] && [ "$(count "$BOB_MAILDIR/.Lists.dev")" = 0 ] || fail "not moved"
	[ "$(count "$BOB_MAILDIR/.Moved")" = 2 ]
}

@test "POP3 --idle --interval 1 looks every second over a new connection" {
	put p1
	# shellcheck disable=SC2209
	EXEC=exec pop --idle --interval 1 --state "$ST" --to "$T/md/" 2>"$T/err" 3>&- &
	BG=$!
	until_ok 100 has_files "$T/md" 1 || fail "the first message never came: $(cat "$T/err")"
	put p2
	until_ok 100 has_files "$T/md" 2 || fail "the second message never came: $(cat "$T/err")"
	stop_bg
	[ "$(ids "$T/md")" = "$(ids server)" ] || fail "not exactly the server's messages"
}

@test "--idle usage errors: with --all, --list-folders, --to - over two folders, a bad --interval: exit 64" {
	run imap --idle --all --to "$T/md/"
	assert_failure 64
	run imap --idle --list-folders
	assert_failure 64
	run imap --idle --folder INBOX --folder Archive --to -
	assert_failure 64
	run imap --idle --interval 0 --to "$T/md/"
	assert_failure 64
	run imap --idle --idle-refresh x --to "$T/md/"
	assert_failure 64
}

# ---------------------------------------------------------------- 9. APOP

@test "POP3 --auth apop against Dovecot: fetches over STLS and POP3S, -v shows APOP bob ***, a wrong password is 77" {
	put apop1
	run --separate-stderr pop -v --auth apop --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr == *"C: APOP bob ***"* ]] || fail "no APOP: $stderr"
	[[ $stderr != *hungry* ]] || fail "the password in the trace"
	grep -Eq '^S: \+OK .*<[^<>@ ]+@[^<> ]+>' <<<"$stderr" || fail "no timestamp in the greeting"
	[ "$(sums "$T/md")" = "$(server_sums)" ] || fail "not the server's message"
	run --separate-stderr pops --auth apop --all --state "$T/st2" --to "$T/md2/"
	assert_success
	[ "$(sums "$T/md2")" = "$(server_sums)" ]
	run --separate-stderr "$MFETCH" --server "127.0.0.1:$POP3_PORT" --pop3 --user bob --ca-file "$CA" \
		--password-eval 'echo wrong' --auth apop --state "$ST" --to "$T/md/"
	assert_failure 77
	[[ $stderr == *"login refused"* ]] || fail "$stderr"
	# IMAP has no APOP
	run imap --auth apop --to "$T/md/"
	assert_failure 64
}

@test "POP3 --auth auto prefers SASL SCRAM-SHA-256 (from CAPA, after STLS) to CRAM-MD5, APOP and USER" {
	put auto1
	run --separate-stderr pop -v --state "$ST" --to "$T/md/"
	assert_success
	[[ $stderr == *"C: CAPA"* && $stderr == *"C: AUTH SCRAM-SHA-256"* ]] || fail "$stderr"
	[[ $stderr != *"C: APOP"* && $stderr != *"C: USER"* ]] || fail "$stderr"
	# CAPA comes after STLS (RFC 2595: nothing from before TLS is trusted)
	[ "$(grep -n '^C: STLS' <<<"$stderr" | cut -d: -f1)" -lt "$(grep -n '^C: CAPA' <<<"$stderr" | cut -d: -f1)" ]
	[ "$(sums "$T/md")" = "$(server_sums)" ]
}

# ---------------------------------------------------------------- 10. -v

@test "-v shows the dialogue with the password as *** and never the password itself" {
	put v1
	local a b64plain
	b64plain=$(printf '\0bob\0hungry' | base64)
	for a in auto plain login cram-md5 scram-sha-256; do
		run imap -v --auth "$a" --all --state "$ST" --to "$T/md/"
		assert_success
		assert_output --partial "C: a1 STARTTLS"
		assert_output --regexp "S: \* OK \[UIDVALIDITY [0-9]+\]"
		assert_output --regexp "C: a[0-9]+ UID FETCH [0-9]+ "
		assert_output --regexp "S: \([0-9]+ octets of message\)"
		assert_output --regexp "C: (a3 LOGIN \"bob\" |.*)\*\*\*"
		refute_output --partial hungry
		refute_output --partial "$b64plain"
		refute_output --partial "body of v1"
	done
	for a in user plain login cram-md5 scram-sha-256 apop; do
		run pop -v --auth "$a" --all --state "$ST" --to "$T/md/"
		assert_success
		assert_output --partial "C: STLS"
		assert_output --regexp "C: (PASS|APOP bob|) ?\*\*\*"
		assert_output --partial "C: RETR 1"
		refute_output --partial hungry
		refute_output --partial "$b64plain"
		refute_output --partial "body of v1"
	done
	run imap -v --auth login --all --state "$ST" --to "$T/md/"
	assert_line 'C: a3 LOGIN "bob" ***'
	run pop -v --auth user --all --state "$ST" --to "$T/md/"
	assert_line 'C: PASS ***'
}

# ---------------------------------------------------------------- man page and completions

@test "man page: mandoc -Tlint is silent; sections, options and exit codes are there" {
	command -v mandoc >/dev/null || fail "mandoc is not installed"
	run mandoc -Tlint -Wwarning "$MANDIR/mfetch.1"
	assert_success
	assert_output ''
	run bash -c 'mandoc -Tascii "$1" | sed "s/.\x08//g" | tr -s "[:space:]" " "' _ "$MANDIR/mfetch.1"
	assert_success
	local w
	for w in NAME SYNOPSIS DESCRIPTION OPTIONS SAFETY DESTINATIONS STATE ENVIRONMENT "EXIT STATUS" \
		EXAMPLES "SEE ALSO" STANDARDS BUGS MFETCH_PASSWORD MFETCH_UID MFETCH_FOLDER MFETCH_SERVER \
		"RFC 3501" "RFC 1939" "RFC 2595" "RFC 5034" "RFC 4616" "RFC 2195" 64 69 75 77 78; do
		assert_output --partial -- "$w"
	done
	# every long option of -h is documented
	for w in $("$MFETCH" -h | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		assert_output --partial -- "$w"
	done
}

@test "completions: bash, zsh and fish load and complete mfetch" {
	export HOME=$T XDG_CONFIG_HOME=$T/config XDG_DATA_HOME=$T/data XDG_CACHE_HOME=$T/cache
	cd "$T" || return 1 # no file named mb* where --to completes file names
	run bash -c 'source /usr/share/bash-completion/bash_completion || exit 1
		source "$1/bash/mfetch" || exit 1
		complete -p mfetch || exit 1
		COMP_WORDS=(mfetch --mark); COMP_CWORD=1; COMP_LINE="mfetch --mark"; COMP_POINT=${#COMP_LINE}
		_mfetch mfetch --mark mfetch; echo "reply: ${COMPREPLY[*]}"
		COMP_WORDS=(mfetch --auth c); COMP_CWORD=2; COMP_LINE="mfetch --auth c"; COMP_POINT=${#COMP_LINE}
		_mfetch mfetch c --auth; echo "auth: ${COMPREPLY[*]}"
		COMP_WORDS=(mfetch --to mb); COMP_CWORD=2; COMP_LINE="mfetch --to mb"; COMP_POINT=${#COMP_LINE}
		_mfetch mfetch mb --to; echo "to: ${COMPREPLY[*]}"
		COMP_WORDS=(mfetch --to = mb); COMP_CWORD=3; COMP_LINE="mfetch --to=mb"; COMP_POINT=${#COMP_LINE}
		_mfetch mfetch mb =; echo "to=: ${COMPREPLY[*]}"' _ "$COMPDIR"
	assert_success
	assert_line --index 0 'complete -F _mfetch mfetch'
	assert_line 'reply: --mark-seen'
	assert_line 'auth: cram-md5'
	assert_line 'to: mbox:'
	assert_line 'to=: mbox:'
	if command -v zsh >/dev/null; then
		run zsh -n "$COMPDIR/zsh/_mfetch"
		assert_success
		run zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit && compinit -u -D &&
			print -r -- "$_comps[mfetch]" && autoload +X _mfetch && print loaded' _ "$COMPDIR/zsh"
		assert_success
		assert_output $'_mfetch\nloaded'
	fi
	if command -v fish >/dev/null; then
		# shellcheck disable=SC2016 # $argv is fish's
		run fish --no-config -c 'source $argv[1]; or exit 1; complete -C "mfetch --mark"; complete -C "mfetch --auth "; complete -C "mfetch --to mb"' "$COMPDIR/fish/mfetch.fish"
		assert_success
		assert_line --regexp $'^--mark-seen\t'
		assert_line --regexp $'^cram-md5(\t|$)'
		assert_line --regexp $'^mbox:(\t|$)'
	fi
}

# ---------------------------------------------------------------- accounts (mailpipe(5))

# rc: the configuration from stdin into $T/rc, mode 600
rc() {
	cat >"$T/rc"
	chmod 600 "$T/rc"
}

@test "accounts: -a NAME fetches with an IMAP account (folder, to ~/Maildir/, state); the command line wins" {
	put acct-one
	put acct-two
	rc <<EOF
defaults
  tls_ca_file $CA
  user bob
  passwordeval "echo hungry"
account in
  protocol imap
  host 127.0.0.1
  port $IMAP_PORT
  tls starttls
  folder INBOX
  to ~/Maildir/
  state ~/mfetch.state
EOF
	mkdir -p "$HOME/Maildir/new" "$HOME/Maildir/cur" "$HOME/Maildir/tmp"
	run "$MFETCH" -C "$T/rc" -a in
	assert_success
	assert_output --regexp "$(summary_re 2 '' '' in)"
	[ "$(count "$HOME/Maildir")" = 2 ]
	[ -s "$HOME/mfetch.state" ] || fail "the account's state file was not used"
	# only new: nothing the second time
	run "$MFETCH" -C "$T/rc" -a in
	assert_success
	assert_output --regexp "$(summary_re 0 '' '' in)"
	# --to and --state on the command line beat the account's
	run "$MFETCH" -C "$T/rc" -a in --to "$T/md/" --state "$ST"
	assert_success
	[ "$(count "$T/md")" = 2 ]
}

@test "accounts: a POP3 account with its password in the file (600) and delete on; --keep on the command line wins" {
	put pop-keep
	rc <<EOF
account pop
  protocol pop3
  host 127.0.0.1
  port $POP3S_PORT
  tls on
  tls_ca_file $CA
  user bob
  password hungry
  delete on
  to $T/md/
  state $ST
EOF
	run "$MFETCH" -C "$T/rc" -a pop --keep
	assert_success
	[ "$(count "$T/md")" = 1 ]
	[ "$(server_files | wc -l)" = 1 ] || fail "--keep did not keep it"
	put pop-delete
	run "$MFETCH" -C "$T/rc" -a pop -v
	assert_success
	refute_output --partial hungry
	[ "$(count "$T/md")" = 2 ]
	[ "$(server_files | wc -l)" = 0 ] || fail "delete on did not delete"
	chmod 640 "$T/rc"
	run "$MFETCH" -C "$T/rc" -a pop
	assert_failure 78
	assert_output --partial "holds a password and others can read it"
}

@test "accounts: one file for both tools: msend -a work sends, mfetch -a work-in (inheriting user and password) fetches" {
	export XDG_CONFIG_HOME=$T/xdg
	mkdir -p "$XDG_CONFIG_HOME/mailpipe"
	cat >"$XDG_CONFIG_HOME/mailpipe/config" <<EOF
defaults
  tls_ca_file $CA
  user bob
  passwordeval "echo hungry"
account work
  host 127.0.0.1
  port $SUBM_PORT
  from bob@hamburger.test
account work-in : work
  protocol imap
  port $IMAPS_PORT
  tls on
  to $T/md/
  state $ST
# msend's default; mfetch does not take it
account default : work
EOF
	printf 'Subject: shared config\nMessage-ID: <shared@mfetch.test>\n\nround trip\n' >"$T/m"
	run "$MSEND" -a work --no-queue bob@hamburger.test <"$T/m"
	assert_success
	for _ in $(seq 3000); do [ "$(server_files | wc -l)" -gt 0 ] && break; sleep 0.02; done
	run "$MFETCH" -a work-in
	assert_success
	[ "$(count "$T/md")" = 1 ]
	grep -q '^Message-ID: <shared@mfetch.test>' "$T"/md/new/* || fail "not the message sent"
	# without -a: the default account is msend's, so mfetch has no server
	run "$MFETCH" --to "$T/md/"
	assert_failure 64
	assert_output --partial "or an account (-a)"
}

# bad_rc CONTENT EXPECTED [ARGS]: mfetch -C with the file CONTENT (a printf
# format) is exit 78 with EXPECTED in its message
bad_rc() {
	local content=$1 want=$2
	shift 2
	printf "$content" | rc
	run "$MFETCH" -C "$T/rc" -a a --to "$T/md/" "$@"
	assert_failure 78
	assert_output --partial "$want"
}

@test "accounts: mistakes are exit 78 with FILE:LINE: tls off, an SMTP account, no protocol, no such account" {
	bad_rc 'account a\n  protocol imap\n  host 127.0.0.1\n  tls off\n' "$T/rc:4: tls: mfetch never logs in without TLS"
	assert_output "mfetch: $T/rc:4: tls: mfetch never logs in without TLS"
	bad_rc 'account a\n  protocol smtp\n' "$T/rc:2: account 'a' is for smtp, not IMAP or POP3"
	bad_rc 'account a\n  host h\n' "$T/rc:1: account 'a' says neither 'protocol imap' nor 'protocol pop3'"
	bad_rc 'account b\n' "$T/rc: no account 'a'"
	assert_output "mfetch: $T/rc: no account 'a'"
	bad_rc 'account a\n  protocol pop3\n  delete perhaps\n' "$T/rc:3: delete: 'perhaps': expected on or off"
	run "$MFETCH" -C "$T/none" -a a --to "$T/md/"
	assert_failure 78
}

@test "--json: a JSON line per message delivered and a summary, on stdout (IMAP, POP3 --mda); --list-folders too" {
	put json-one
	put json-two
	run --separate-stderr imap --json --state "$ST" --to "$T/md/"
	assert_success
	[ -z "$stderr" ] || fail "stderr: $stderr"
	[ "${#lines[@]}" = 3 ]
	local l
	for l in "${lines[@]}"; do jq -e . <<<"$l" >/dev/null || fail "not JSON: $l"; done
	# an IMAP UID is a number, the delivered file is "path" (as in mdeliver)
	run jq -r 'select(.type == "message") | [.protocol, .folder, (.uid | type), .uidl, (.bytes > 0), (.path | startswith("'"$T/md/new/"'"))] | @tsv' <<<"$output"
	assert_output $'imap\tINBOX\tnumber\t\ttrue\ttrue\nimap\tINBOX\tnumber\t\ttrue\ttrue'
	run --separate-stderr imap --json --all --state "$T/s2" --to "$T/md2/"
	run jq -r 'select(.type == "summary") | [.fetched, .bytes, .left_too_big, (.seconds | type)] | @tsv' <<<"$output"
	assert_output --regexp $'^2\t[0-9]+\t0\tnumber$'
	# POP3 through an MDA: a UIDL is a string, and an MDA's file has no path here
	run --separate-stderr pop --json --state "$T/s3" --mda "cat >/dev/null"
	assert_success
	run jq -r 'select(.type == "message") | [.protocol, .folder, .uid, (.uidl | type), .path] | @tsv' <<<"$output"
	assert_output $'pop3\t\t\tstring\t\npop3\t\t\tstring\t'
	run imap --json --list-folders
	assert_success
	# the folder lines have the keys and types of mailpipe(7)
	printf '%s\n' "$output" >"$T/folders.json"
	assert_equal "$(json_check mfetch "$T/folders.json")" ""
	run jq -r 'select(.type == "folder") | .name' <<<"$output"
	assert_line INBOX
	run imap --json --to -
	assert_failure 64
}

@test "--since DATE (IMAP): only what arrived since that day (INTERNALDATE); bad dates and POP3 are exit 64" {
	put since-old
	touch -d '2020-03-01 12:00' "$BOB_MAILDIR"/new/*since-old
	put since-new
	run --separate-stderr imap --since 2026-01-01 --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 1 ]
	grep -q '^Subject: since-new' "$T"/md/new/*
	run --separate-stderr imap --since 3d --all --to "$T/md2/"
	assert_success
	[ "$(count "$T/md2")" = 1 ]
	run --separate-stderr imap --since 2020-02-01 --all --to "$T/md3/"
	[ "$(count "$T/md3")" = 2 ]
	for bad in 2026-02-31 yesterday 2026-13-01 -1d; do
		run imap --since "$bad" --to "$T/md4/"
		assert_failure 64
		assert_output --partial -- "--since $bad"
	done
	run pop --since 2026-01-01 --to "$T/md4/"
	assert_failure 64
}

# two accounts, Bob's over IMAP into $T/bob/ and Alice's over POP3S into $T/alice/
two_accounts() {
	rc <<EOF2
defaults
  tls_ca_file $CA
  host 127.0.0.1
  state $ST
account bob
  protocol imap
  port $IMAP_PORT
  user bob
  passwordeval "echo hungry"
  to $T/bob/
account alice
  protocol pop3
  port $POP3S_PORT
  tls on
  user alice
  passwordeval "echo ${1:-wonderland}"
  to $T/alice/
EOF2
}

@test "accounts: -a A -a B fetches each account in turn, a summary each; one failing (77) does not stop the other" {
	rm -f "$ALICE_MAILDIR"/new/* "$ALICE_MAILDIR"/cur/*
	put multi-bob
	put multi-alice "for alice" "$ALICE_MAILDIR"
	two_accounts
	run --separate-stderr "$MFETCH" -C "$T/rc" -a bob -a alice
	assert_success
	[ "$(count "$T/bob")" = 1 ] && [ "$(count "$T/alice")" = 1 ] || fail "bob $(count "$T/bob"), alice $(count "$T/alice"): $stderr"
	grep -q '^Subject: multi-bob' "$T"/bob/new/*
	grep -q '^Subject: multi-alice' "$T"/alice/new/*
	grep -Eq "$(summary_re 1 '' '' bob)" <<<"$stderr" || fail "no summary for bob: $stderr"
	grep -Eq "$(summary_re 1 '' '' alice)" <<<"$stderr" || fail "no summary for alice: $stderr"
	# a wrong password for the first: the second is still fetched, exit 77
	two_accounts wrong
	put multi-alice2 "again" "$ALICE_MAILDIR"
	run --separate-stderr "$MFETCH" -C "$T/rc" -a alice -a bob
	assert_failure 77
	put multi-bob2
	run --separate-stderr "$MFETCH" -C "$T/rc" -a alice -a bob
	assert_failure 77
	[ "$(count "$T/bob")" = 2 ] || fail "bob's account was not fetched after alice's failed"
}

@test "accounts: --idle with two accounts: one process each, mail to either lands; SIGTERM ends both, exit 0" {
	rm -f "$ALICE_MAILDIR"/new/* "$ALICE_MAILDIR"/cur/*
	two_accounts
	EXEC=exec "$MFETCH" -C "$T/rc" -a bob -a alice --idle --interval 1 -v 2>"$T/err" 3>&- &
	BG=$!
	until_ok 100 kids_are 2 || fail "not two processes: $(pgrep -a -P "$BG")"
	put idle-multi-bob
	put idle-multi-alice "x" "$ALICE_MAILDIR"
	until_ok 200 has_files "$T/bob" 1 || fail "bob's message not fetched: $(grep -v '^[CS]:' "$T/err")"
	until_ok 200 has_files "$T/alice" 1 || fail "alice's message not fetched: $(grep -v '^[CS]:' "$T/err")"
	stop_bg
	! grep -q -e hungry -e wonderland "$T/err" || fail "a password is in the trace"
}

@test "IMAP: a SEARCH reply longer than a line (2,000 UIDs) comes in pieces; --limit takes the first ones, the next run the next" {
	local i
	for i in $(seq 2000); do
		printf 'Subject: many %d\nMessage-ID: <many%d@mfetch.test>\n\nx\n' "$i" "$i" >"$BOB_MAILDIR/new/1764000000.M${i}P1.many"
	done
	chown -R "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/new"
	run --separate-stderr imap -v --limit 5 --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 5 ] || fail "fetched $(count "$T/md"): $(grep -v '^[CS]: ' <<<"$stderr")"
	[[ $stderr == *"S: (continued) "* ]] || fail "the SEARCH reply was not long"
	run --separate-stderr imap --limit 5 --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 10 ]
	[ "$(ids "$T/md" | sort -u | wc -l)" = 10 ] || fail "a message came twice"
}

@test "SCRAM-SHA-256 (RFC 7677) over IMAP and POP3 against Dovecot: the server's signature checked; a wrong password is 77" {
	put scram1
	run --separate-stderr imap -v --auth scram-sha-256 --state "$ST" --to "$T/md/"
	assert_success
	# Dovecot offers SASL-IR (RFC 4959): the client-first message rides on the command
	[[ $stderr =~ C:\ a[0-9]+\ AUTHENTICATE\ SCRAM-SHA-256\ \*\*\* ]] || fail "no SASL-IR: $stderr"
	[ "$(count "$T/md")" = 1 ]
	run --separate-stderr pop -v --auth scram-sha-256 --state "$T/s2" --to "$T/md2/"
	assert_success
	[[ $stderr == *"C: AUTH SCRAM-SHA-256"* ]] || fail "$stderr"
	[ "$(count "$T/md2")" = 1 ]
	# IMAP's auto takes SCRAM too
	run --separate-stderr imap -v --all --to "$T/md3/"
	assert_success
	[[ $stderr == *"AUTHENTICATE SCRAM-SHA-256"* ]] || fail "$stderr"
	run "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" --password-eval 'echo wrong' \
		--auth scram-sha-256 --all --to "$T/md4/"
	assert_failure 77
	run "$MFETCH" --server "127.0.0.1:$POP3_PORT" --pop3 --user bob --ca-file "$CA" --password-eval 'echo wrong' \
		--auth scram-sha-256 --all --to "$T/md4/"
	assert_failure 77
	[ "$(count "$T/md4")" = 0 ]
}

@test "progress: on a terminal, stderr shows messages done/total, MB and the rate, then the summary on a clean line; not without one, nor with -q" {
	local i
	for i in $(seq 120); do
		printf 'Subject: pg %d\nMessage-ID: <pg%d@mfetch.test>\n\nx\n' "$i" "$i" >"$BOB_MAILDIR/new/1764000000.M${i}P2.pg"
	done
	chown -R "$VMAIL_UID:$VMAIL_UID" "$BOB_MAILDIR/new"
	# script(1) gives mfetch a terminal
	run script -qec "$(printf '%q ' "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" \
		--password-eval 'echo hungry' --state "$ST" --to "$T/md/")" /dev/null
	assert_success
	[[ $output == *"mfetch: 1/120 messages, "*" MB, "*"/s"* ]] || fail "no progress: $output"
	[[ $output == *$'\r\033[K'"mfetch: fetched 120 messages"* ]] || fail "the summary is not on a cleared line: $output"
	# no terminal: the summary alone
	run --separate-stderr imap --all --to "$T/md2/"
	assert_success
	[[ $stderr != *"/120 messages"* ]] || fail "progress without a terminal: $stderr"
	# -q on a terminal: nothing
	run script -qec "$(printf '%q ' "$MFETCH" -q --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" \
		--password-eval 'echo hungry' --all --to "$T/md3/")" /dev/null
	assert_success
	[ -z "$output" ] || fail "-q printed: $output"
	[ "$(count "$T/md3")" = 120 ]
}

# ---------------------------------------------------------------- faults Dovecot won't make

# mailfault MODE: start tests/fault/mailfault (TLS with a certificate for
# 127.0.0.1 made here); sets MPORT, MLOG
mailfault() {
	local mode=$1
	: "${MAILFAULT:=$BATS_TEST_DIRNAME/../../build/tests/fault/mailfault}"
	[ -x "$MAILFAULT" ] || fail "mailfault not built at $MAILFAULT"
	if [ ! -f "$T/mf.crt" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/mf.key" -out "$T/mf.crt" -days 1 \
			-subj /CN=mailfault -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null ||
			fail "openssl could not make a certificate"
	fi
	MLOG=$T/mailfault-$mode.log
	"$MAILFAULT" -P "$T/mf.pid" -c "$T/mf.crt" -k "$T/mf.key" "$mode" >"$T/mf.out" 2>"$MLOG" 3>&- &
	for _ in $(seq 3000); do grep -q '^PORT=' "$T/mf.out" 2>/dev/null && break; sleep 0.02; done
	MPORT=$(sed -n 's/^PORT=//p' "$T/mf.out")
	[ -n "$MPORT" ] || fail "mailfault $mode did not start"
	BG=$(cat "$T/mf.pid") # teardown stops it
}

mf() { ${EXEC:-} "$MFETCH" --server "127.0.0.1:$MPORT" --user bob --password-eval 'echo hungry' --timeout 60 "$@"; }

@test "fault: bytes injected after the STARTTLS / STLS reply: refused (76) before any password, nothing fetched" {
	mailfault imap-inject
	run mf --imap --ca-file "$CA" --state "$ST" --to "$T/md/"
	assert_failure 76
	assert_output --partial "STARTTLS"
	! grep -q '<password>' "$MLOG" || fail "a password went out: $(cat "$MLOG")"
	kill "$BG"
	mailfault pop-inject
	run mf --pop3 --ca-file "$CA" --state "$ST" --to "$T/md/"
	assert_failure 76
	! grep -q '<password>' "$MLOG" || fail "a password went out: $(cat "$MLOG")"
	[ "$(count "$T/md")" = 0 ]
}

@test "fault: a POP3 greeting on an IMAP connection says the server sounds like POP3 (--pop3), an IMAP one on POP3 says IMAP (--imap); no summary line before the error" {
	mailfault pop-inject
	run --separate-stderr mf --imap --ca-file "$CA" --state "$ST" --to "$T/md/"
	assert_failure 76
	assert_equal "$stderr" "mfetch: 127.0.0.1: no IMAP greeting: \"+OK mailfault ready\" sounds like POP3 (--pop3, or 'protocol pop3' in an account)"
	kill "$BG"
	mailfault imap-inject
	run --separate-stderr mf --pop3 --ca-file "$CA" --state "$ST" --to "$T/md/"
	assert_failure 76
	assert_equal "$stderr" "mfetch: 127.0.0.1: no POP3 greeting: \"* OK [CAPABILITY IMAP4rev1 STARTTLS] mailfault ready\" sounds like IMAP (--imap, or 'protocol imap' in an account)"
	! grep -q '<password>' "$MLOG" || fail "a password went out: $(cat "$MLOG")"
}

@test "fault: with -a the summary and the errors name the account; a failed run prints no 'fetched 0 messages'; an mbox whose directory is missing names that directory (73)" {
	mailfault imap-caps
	local acct='account mf
  protocol imap
  host 127.0.0.1
  port '$MPORT'
  tls on
  tls_ca_file '$T/mf.crt'
  user bob
  passwordeval "echo hungry"'
	printf '%s\n  state %s\n  to %s\n' "$acct" "$ST" "$T/md/" >"$T/rc"
	chmod 600 "$T/rc"
	run --separate-stderr "$MFETCH" -C "$T/rc" -a mf
	assert_success
	[[ $stderr =~ ^"mfetch: mf: fetched 2 messages ("[0-9]+" bytes) from 127.0.0.1 in "[0-9.]+" s"$ ]] || fail "summary: $stderr"
	[ "$(count "$T/md")" = 2 ]
	# mfetch.1's example, with the directory of the mbox missing
	printf '%s\n  state %s\n  to mbox:%s\n' "$acct" "$T/st2" "$HOME/mail/inbox" >"$T/rc"
	run --separate-stderr "$MFETCH" -C "$T/rc" -a mf
	assert_failure 73
	assert_equal "$stderr" "mfetch: mf: $HOME/mail/inbox: no directory $HOME/mail"
	[ ! -e "$HOME/mail" ] || fail "made $HOME/mail"
	# nothing was recorded: with the directory there, both come
	mkdir "$HOME/mail"
	run --separate-stderr "$MFETCH" -C "$T/rc" -a mf
	assert_success
	[ "$(grep -c '^From ' "$HOME/mail/inbox")" = 2 ] || fail "mbox: $(head -c 300 "$HOME/mail/inbox")"
}

# no_raw_ctl FILE: no C0 control but TAB and LF, no DEL, no C1 (nor a raw
# 0x80-0x9f byte: what is shown here is ASCII) in FILE's bytes
no_raw_ctl() {
	! LC_ALL=C grep -qaP '[\x00-\x08\x0b-\x1f\x7f-\x9f]' "$1" ||
		fail "a raw control byte in $1: $(od -c "$1" | head -20)"
}

# what mailfault's -ctl modes send, as mp_term_escape shows it
CTL_SHOWN='\x1b]0;pwned\x07 \u009b \x9b \x7f \x0d'

# ctl_refused PROTO-OPTION GREETING REFUSAL ERROR: mfetch -v against a -ctl
# mode: each of the three server lines, escaped, whole, nothing raw
ctl_refused() {
	mf -v "$1" --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/" 2>"$T/err" && fail "the refused login succeeded"
	no_raw_ctl "$T/err"
	grep -qxF "S: $2" "$T/err" || fail "greeting: $(cat "$T/err")"
	grep -qxF "S: $3" "$T/err" || fail "refusal: $(cat "$T/err")"
	[ "$(tail -1 "$T/err")" = "mfetch: 127.0.0.1: $4" ] || fail "error line: $(tail -1 "$T/err")"
}

@test "terminal safety: a server's ESC ] 0 ; ... BEL, C1 CSI (U+009B, a raw 0x9b), DEL and CR in its greeting and login refusal reach mfetch -v and its errors as \\xHH, never raw (IMAP, POP3)" {
	mailfault imap-ctl
	ctl_refused --imap "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mailfault $CTL_SHOWN ready" \
		"a1 NO [AUTHENTICATIONFAILED] denied $CTL_SHOWN go away" \
		"AUTHENTICATE PLAIN refused: NO [AUTHENTICATIONFAILED] denied $CTL_SHOWN go away"
	# LOGIN: the tagged NO in the error line
	mf --auth login --imap --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/" 2>"$T/err" && fail "the refused login succeeded"
	no_raw_ctl "$T/err"
	grep -qF "refused: NO [AUTHENTICATIONFAILED] denied $CTL_SHOWN go away" "$T/err" || fail "LOGIN error: $(cat "$T/err")"
	kill "$BG"
	mailfault pop-ctl
	ctl_refused --pop3 "+OK mailfault $CTL_SHOWN ready" "-ERR [AUTH] denied $CTL_SHOWN go away" \
		"login refused: -ERR [AUTH] denied $CTL_SHOWN go away"
	# an error quoting the greeting itself: POP3's, on an IMAP connection
	mf --imap --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/" 2>"$T/err" && fail "POP3 taken for IMAP"
	no_raw_ctl "$T/err"
	grep -qF "no IMAP greeting: \"+OK mailfault $CTL_SHOWN ready\" sounds like POP3" "$T/err" || fail "greeting error: $(cat "$T/err")"
	[ "$(count "$T/md")" = 0 ]
}

@test "terminal safety: -j: the error quoting a server's control characters is valid JSON, the text exact and escaped (no raw C0, DEL or C1 in the line)" {
	mailfault pop-ctl
	run --separate-stderr mf -j --pop3 --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/"
	assert_failure 77
	printf '%s\n' "$output" >"$T/out"
	no_raw_ctl "$T/out"
	jq -se '.[] | select(.type == "error") | .error.message == "127.0.0.1: login refused: -ERR [AUTH] denied \u001b]0;pwned\u0007 \u009b \ufffd \u007f \r go away"' "$T/out" >/dev/null ||
		fail "not the message: $output"
	run --separate-stderr mf -j --imap --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/"
	assert_failure 76
	printf '%s\n' "$output" >"$T/out"
	no_raw_ctl "$T/out"
	jq -se '.[] | select(.type == "error") | .error.message | contains("no IMAP greeting: \"+OK mailfault \u001b]0;pwned\u0007 \u009b \ufffd \u007f \r ready\"")' "$T/out" >/dev/null ||
		fail "not the message: $output"
}

@test "fault: a connection dropped mid-literal (IMAP) and mid-RETR (POP3): exit 75, nothing delivered, nothing recorded" {
	mailfault imap-droplit
	run mf --imap --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/"
	assert_failure 75
	[ "$(count "$T/md")" = 0 ]
	! grep -qE 'INBOX	7 [1-9]' "$ST" 2>/dev/null || fail "recorded: $(cat "$ST")"
	kill "$BG"
	mailfault pop-dropretr
	run mf --pop3 --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/"
	assert_failure 75
	[ "$(count "$T/md")" = 0 ]
	! grep -q 'uid-m1' "$ST" 2>/dev/null || fail "recorded: $(cat "$ST")"
}

@test "fault: an IMAP literal announcing 2 GiB that never comes: exit 75 in seconds and bounded memory, nothing delivered" {
	mailfault imap-biglit
	run /usr/bin/time -f 'maxrss %M' -o "$T/time" \
		"$MFETCH" --server "127.0.0.1:$MPORT" --imap --tls --ca-file "$T/mf.crt" --user bob \
		--password-eval 'echo hungry' --timeout 60 --state "$ST" --to "$T/md/"
	assert_failure 75
	[ "$(count "$T/md")" = 0 ]
	[ -z "$(ls -A "$T/md/tmp" 2>/dev/null)" ] || fail "left in tmp/: $(ls "$T/md/tmp")"
	if [ -z "${MP_SANITIZE:-}" ] || [ "$MP_SANITIZE" = none ]; then
		local rss
		rss=$(sed -n 's/^maxrss //p' "$T/time")
		[ "$rss" -lt 16384 ] || fail "peak RSS ${rss} KiB for an announced 2 GiB"
	fi
}

@test "fault: -ERR on DELE (POP3 --delete): both delivered and recorded, the error says DELE, the next run delivers nothing twice; no PIPELINING: one command at a time" {
	mailfault pop-deleerr
	run mf --pop3 --tls --ca-file "$T/mf.crt" --delete --state "$ST" --to "$T/md/"
	assert_failure 69
	# the server offered no PIPELINING: each RETR and DELE waited for the
	# answer to the one before
	[ "$(grep -c -E '^C: (RETR|DELE) [12]$' "$MLOG")" = 4 ] || fail "commands: $(grep '^C:' "$MLOG")"
	! grep -q 'pipelined without PIPELINING' "$MLOG" || fail "$(grep pipelined "$MLOG")"
	assert_output --partial "DELE refused for 2 messages (delivered and recorded, left on the server): -ERR no deleting today"
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	grep -q 'uid-m1' "$ST" && grep -q 'uid-m2' "$ST" || fail "not recorded: $(cat "$ST")"
	run mf --pop3 --tls --ca-file "$T/mf.crt" --delete --state "$ST" --to "$T/md/"
	[ "$(count "$T/md")" = 2 ] || fail "delivered again: $(count "$T/md")"
}

# wait_log PATTERN: until the mailfault log has a line matching it
wait_log() {
	for _ in $(seq 3000); do grep -qE "$1" "$MLOG" && return 0; sleep 0.02; done
	fail "never in the log: $1: $(cat "$MLOG")"
}

@test "fault: capabilities only in untagged * CAPABILITY, and IDLE, UIDPLUS only after login: --auth auto takes AUTHENTICATE PLAIN, --delete UID EXPUNGE, --idle idles" {
	mailfault imap-caps
	run mf --imap --tls --ca-file "$T/mf.crt" --delete --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	grep -q '^C: <password> AUTHENTICATE PLAIN$' "$MLOG" || fail "login: $(grep '^C:' "$MLOG")"
	grep -qE '^C: a[0-9]+ UID EXPUNGE 1:2$' "$MLOG" || fail "commands: $(grep '^C:' "$MLOG")"
	! grep -qE '^C: a[0-9]+ EXPUNGE$' "$MLOG" || fail "a bare EXPUNGE: $(grep '^C:' "$MLOG")"
	: >"$MLOG"
	"$MFETCH" --server "127.0.0.1:$MPORT" --user bob --password-eval 'echo hungry' --timeout 60 \
		--imap --tls --ca-file "$T/mf.crt" --idle --state "$T/st2" --to "$T/md2/" \
		>"$T/idle.out" 2>&1 &
	local pid=$!
	wait_log '^C: a[0-9]+ IDLE$'
	kill -TERM "$pid"
	wait "$pid" || fail "exit $?: $(cat "$T/idle.out")"
	! grep -q 'no IDLE' "$T/idle.out" || fail "$(cat "$T/idle.out")"
}

@test "fault: capabilities asked again once STARTTLS is up: before it LOGINDISABLED and no AUTH=, after it AUTH=PLAIN, which mfetch takes" {
	mailfault imap-caps-starttls
	run mf --imap --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	# the order of the session: STARTTLS, CAPABILITY again, then the login
	local c
	c=$(sed -n 's/^C: \(<password> \)\{0,1\}\(a[0-9]* \)\{0,1\}//p' "$MLOG" | tr '\n' '|')
	[[ $c == *"STARTTLS|CAPABILITY|AUTHENTICATE PLAIN|"* ]] || fail "commands: $c"
	! grep -q ' LOGIN$' "$MLOG" || fail "the LOGIN command despite LOGINDISABLED: $c"
}

@test "fault: --auth auto over IMAP: SCRAM-SHA-256 even last in a long AUTH= list, else AUTHENTICATE PLAIN over AUTH=LOGIN, else the LOGIN command" {
	local many="IMAP4rev1 AUTH=GSSAPI AUTH=GSS-SPNEGO AUTH=NTLM AUTH=DIGEST-MD5 AUTH=OTP AUTH=SKEY"
	many="$many AUTH=ANONYMOUS AUTH=EXTERNAL AUTH=SCRAM-SHA-1 AUTH=SCRAM-SHA-1-PLUS AUTH=SCRAM-SHA-224"
	many="$many AUTH=SCRAM-SHA-384 AUTH=SCRAM-SHA-512 AUTH=SCRAM-SHA-256-PLUS AUTH=XOAUTH2 AUTH=OAUTHBEARER"
	many="$many AUTH=KERBEROS_V4 AUTH=SRP AUTH=GS2-KRB5 AUTH=GS2-IAKERB AUTH=SAML20 AUTH=OPENID20"
	MF_CAPS="$many AUTH=LOGIN AUTH=PLAIN AUTH=SCRAM-SHA-256" mailfault imap-caps
	# mailfault knows no SCRAM: the server's answer fails, what counts is the choice
	run mf --imap --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/"
	assert_failure
	grep -q '^C: <password> AUTHENTICATE SCRAM-SHA-256$' "$MLOG" || fail "login: $(grep '^C:' "$MLOG")"
	kill "$BG"
	MF_CAPS="IMAP4rev1 AUTH=LOGIN AUTH=PLAIN" mailfault imap-caps
	run mf --imap --tls --ca-file "$T/mf.crt" --state "$ST" --to "$T/md/"
	assert_success
	grep -q '^C: <password> AUTHENTICATE PLAIN$' "$MLOG" || fail "login: $(grep '^C:' "$MLOG")"
	kill "$BG"
	MF_CAPS="IMAP4rev1" mailfault imap-caps
	run mf --imap --tls --ca-file "$T/mf.crt" --state "$T/st2" --to "$T/md2/"
	assert_success
	grep -q '^C: <password> LOGIN$' "$MLOG" || fail "login: $(grep '^C:' "$MLOG")"
}

@test "fault: --delete without UIDPLUS: no EXPUNGE while another client's message is flagged \\Deleted (said so), a bare EXPUNGE when only ours are" {
	MF_CAPS_AUTHED="IMAP4rev1" MF_DELETED=9 mailfault imap-caps
	run mf --imap --tls --ca-file "$T/mf.crt" --delete --state "$ST" --to "$T/md/"
	assert_success
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	assert_output --partial "INBOX: no EXPUNGE (the server has no UIDPLUS, and other messages flagged \\Deleted would go too): the 2 messages fetched stay flagged \\Deleted"
	grep -qE '^C: a[0-9]+ UID STORE 1:2 \+FLAGS.SILENT \(\\Deleted \\Seen\)$' "$MLOG" || fail "$(grep '^C:' "$MLOG")"
	grep -qE '^C: a[0-9]+ UID SEARCH DELETED$' "$MLOG" || fail "$(grep '^C:' "$MLOG")"
	! grep -qE '^C: a[0-9]+ (UID )?EXPUNGE' "$MLOG" || fail "expunged: $(grep '^C:' "$MLOG")"
	kill "$BG"
	MF_CAPS_AUTHED="IMAP4rev1" mailfault imap-caps
	run mf --imap --tls --ca-file "$T/mf.crt" --delete --state "$T/st2" --to "$T/md2/"
	assert_success
	refute_output --partial "no EXPUNGE"
	grep -qE '^C: a[0-9]+ EXPUNGE$' "$MLOG" || fail "$(grep '^C:' "$MLOG")"
}

@test "fault: POP3 LIST sizes -5 and 99999999999999999999 are unknown sizes, with a warning, both fetched; an IMAP literal {-5} is 76 at once" {
	mailfault pop-badsize
	run mf --pop3 --tls --ca-file "$T/mf.crt" --max-size 1000 --state "$ST" --to "$T/md/"
	assert_success
	assert_output --partial "LIST: message 1: size '-5' is not a size: taken as unknown"
	assert_output --partial "LIST: message 2: size '99999999999999999999' is not a size: taken as unknown"
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	kill "$BG"
	mailfault imap-badlit
	# the old wait for the 5 bytes ended only at the time-out (60 s), with 75
	run mf --imap --tls --ca-file "$T/mf.crt" --state "$T/st2" --to "$T/md2/"
	assert_failure 76
	assert_output --partial "a literal too big or malformed"
	[ "$(count "$T/md2")" = 0 ]
}

@test "accounts: an account's own settings beat its parent's, key by key (host, port, protocol, tls, user, passwordeval, auth, the TLS files and fingerprint, state, to over mda)" {
	mailfault imap-caps
	local fp
	fp=$(openssl x509 -fingerprint -sha256 -noout -in "$T/mf.crt" | sed 's/^[^=]*=//')
	# every one of the parent's values makes the run fail, or shows in the log
	cat >"$T/rc" <<EOF
account out
  protocol pop3
  host parent.invalid
  port 1
  tls starttls
  user parent
  passwordeval "exit 1"
  auth login
  tls_ca_file $T/none.crt
  tls_fingerprint 00:11
  tls_cert_file $T/none.crt
  tls_key_file $T/none.key
  state $T/parent.state
  mda false
account in : out
  protocol imap
  host 127.0.0.1
  port $MPORT
  tls on
  user bob
  passwordeval "echo hungry"
  auth plain
  tls_ca_file $T/mf.crt
  tls_fingerprint $fp
  tls_cert_file $T/mf.crt
  tls_key_file $T/mf.key
  state $ST
  to $T/md/
EOF
	run "$MFETCH" -C "$T/rc" -a in --timeout 60
	assert_success
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	grep -q '^C: <password> AUTHENTICATE PLAIN$' "$MLOG" || fail "login: $(grep '^C:' "$MLOG")"
	grep -q "imap bob@127.0.0.1 INBOX" "$ST" || fail "state: $(cat "$ST")"
	[ ! -e "$T/parent.state" ]
	# and the other way round: the parent's to, the account's own mda
	cat >"$T/rc2" <<EOF
account out2
  to $T/md3/
  host parent.invalid
account in2 : out2
  protocol imap
  host 127.0.0.1
  port $MPORT
  tls on
  tls_ca_file $T/mf.crt
  user bob
  passwordeval "echo hungry"
  state $T/st3
  mda "cat >>$T/mda.out"
EOF
	run "$MFETCH" -C "$T/rc2" -a in2 --timeout 60
	assert_success
	[ "$(grep -c '^Subject: m' "$T/mda.out")" = 2 ] || fail "the MDA got: $(cat "$T/mda.out" 2>&1)"
	[ "$(count "$T/md3")" = 0 ]
}

@test "accounts: mfetch: an account's own folder lines replace the ones it inherits; its password beats an inherited passwordeval, tls_trust_file an inherited tls_ca_file; move is taken" {
	local f
	for f in Parent Defaults Moved; do mkfolder "$f"; done
	put own1
	put own2
	put par1 "the parent's folder" "$BOB_MAILDIR/.Parent"
	put def1 "the defaults' folder" "$BOB_MAILDIR/.Defaults"
	# every one of the parent's values makes the run fail, or shows
	rc <<EOF
defaults
  folder Defaults
account out
  protocol imap
  host 127.0.0.1
  port $IMAP_PORT
  tls starttls
  user bob
  passwordeval "exit 1"
  tls_ca_file $T/none.crt
  folder Parent
  folder Defaults
  move Nonesuch
  state $ST
  to $T/md/
account in : out
  password hungry
  tls_trust_file $CA
  folder INBOX
  move Moved
EOF
	run "$MFETCH" -C "$T/rc" -a in --timeout 60
	assert_success
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md"): $(ids "$T/md")"
	run ids "$T/md"
	assert_output --partial "<own1@mfetch.test>"
	assert_output --partial "<own2@mfetch.test>"
	[ "$(count "$BOB_MAILDIR/.Moved")" = 2 ] || fail "not moved to the account's own Moved"
	[ "$(count "$BOB_MAILDIR/.Parent")" = 1 ] && [ "$(count "$BOB_MAILDIR/.Defaults")" = 1 ]
	# an account without folder lines of its own takes its parent's (all
	# of them), and the parent's replace the defaults' (INBOX, with own3)
	put own3
	rc <<EOF
defaults
  folder INBOX
account out
  protocol imap
  host 127.0.0.1
  port $IMAP_PORT
  tls_ca_file $CA
  user bob
  password hungry
  folder Parent
  folder Defaults
account in : out
  state $T/st2
  to $T/md2/
EOF
	run "$MFETCH" -C "$T/rc" -a in --timeout 60
	assert_success
	run ids "$T/md2"
	assert_output --partial "<par1@mfetch.test>"
	assert_output --partial "<def1@mfetch.test>"
	refute_output --partial "<own3@mfetch.test>"
	[ "$(count "$T/md2")" = 2 ] || fail "delivered $(count "$T/md2"): $output"
}

@test "accounts: mfetch: a key given twice in one account: the last line counts; an account's own timeout beats an inherited one" {
	mailfault imap-caps
	rc <<EOF
account twice
  protocol pop3
  protocol imap
  host parent.invalid
  host 127.0.0.1
  port 1
  port $MPORT
  tls off
  tls on
  tls_ca_file $T/none.crt
  tls_ca_file $T/mf.crt
  user parent
  user bob
  passwordeval "exit 1"
  password hungry
  auth login
  auth plain
  folder INBOX
  state $T/parent.state
  state $ST
  mda false
  to $T/md/
  timeout 1
  timeout 60
EOF
	run "$MFETCH" -C "$T/rc" -a twice
	assert_success
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	grep -q '^C: <password> AUTHENTICATE PLAIN$' "$MLOG" || fail "login: $(grep '^C:' "$MLOG")"
	grep -q "imap bob@127.0.0.1 INBOX" "$ST" || fail "state: $(cat "$ST")"
	[ ! -e "$T/parent.state" ]
	# timeout: a server that never answers (no greeting comes); the
	# inherited 3600 s would wait until the server goes (60 s), or the hang
	# guard (timeout 120, 124)
	kill "$BG"
	"$SMTPFAULT" -P "$T/sf.pid" silence >"$T/sf.out" 2>"$T/sf.log" 3>&- &
	BG=$!
	for _ in $(seq 3000); do grep -q '^PORT=' "$T/sf.out" 2>/dev/null && break; sleep 0.02; done
	local port a
	port=$(sed -n 's/^PORT=//p' "$T/sf.out")
	[ -n "$port" ] || fail "smtpfault did not start"
	rc <<EOF
account out
  protocol imap
  host 127.0.0.1
  port $port
  tls starttls
  tls_ca_file $T/mf.crt
  user bob
  password hungry
  state $ST
  to $T/md/
  timeout 3600
account in : out
  timeout 1
account twice : out
  timeout 3600
  timeout 1
EOF
	for a in in twice; do
		run timeout 120 "$MFETCH" -C "$T/rc" -a "$a"
		assert_failure 75
		assert_output --partial "timed out"
	done
}

# ---------------------------------------------------------------- a second implementation: Courier

# courier_up: Courier-IMAP's imapd and courierpop3d over TLS (peers.sh
# courier-start, in the peers' directory); sets COURIER_IMAPS_PORT,
# COURIER_POP3S_PORT, CMD (bob's Maildir there); teardown stops them
courier_up() {
	local o=${MP_PORT_OFFSET:-0}
	export COURIER_IMAPS_PORT=$((26020 - o)) COURIER_POP3S_PORT=$((26021 - o))
	COURIER_UP=1
	bash "$PEERS" courier-start "$PDIR" >"$T/courier.env" 2>"$T/courier.err" 3>&- ||
		fail "Courier did not start: $(cat "$T/courier.err")"
	CMD=$(sed -n 's/^COURIER_MAILDIR_BOB=//p' "$T/courier.env")
	[ -d "$CMD/new" ] || fail "no Maildir from courier-start: $(cat "$T/courier.env")"
	rm -f "$CMD"/new/* "$CMD"/cur/*
}

# cimap/cpop ARGS: mfetch against Courier
cimap() { "$MFETCH" --server "127.0.0.1:$COURIER_IMAPS_PORT" --imap --tls --user bob --ca-file "$CA" --password-eval 'echo hungry' "$@"; }
cpop() { "$MFETCH" --server "127.0.0.1:$COURIER_POP3S_PORT" --pop3 --tls --user bob --ca-file "$CA" --password-eval 'echo hungry' "$@"; }

# same_bodies MD: what MD got is byte for byte the two messages put
same_bodies() {
	local f
	for f in "$T"/src/*; do
		grep -lqxF "Subject: $(sed -n 's/^Subject: //p' "$f")" "$1"/new/* ||
			fail "$(basename "$f") not in $1"
		cmp -s "$f" "$(grep -lxF "Subject: $(sed -n 's/^Subject: //p' "$f")" "$1"/new/*)" ||
			fail "$(basename "$f") differs"
	done
}

courier_put2() {
	rm -rf "$T/src"
	mkdir -p "$T/src"
	put "$1-1" "one" "$CMD"
	put "$1-2" "two" "$CMD"
	cp "$CMD"/new/*"$1"-* "$T/src/"
}

@test "Courier-IMAP over IMAPS (a second server, untagged CAPABILITY, 'OK CAPABILITY completed'): --all byte for byte into a Maildir, --new again gets nothing, --delete empties it" {
	courier_up
	courier_put2 ci
	run cimap --all --to "$T/md/"
	assert_success
	assert_output --partial "fetched 2 messages"
	[ "$(count "$T/md")" = 2 ] || fail "delivered $(count "$T/md")"
	same_bodies "$T/md"
	run cimap --state "$ST" --to "$T/md2/" -q
	assert_success
	[ "$(count "$T/md2")" = 2 ]
	run cimap --state "$ST" --to "$T/md2/"
	assert_success
	assert_output --partial "fetched 0 messages"
	[ "$(count "$T/md2")" = 2 ]
	run cimap --delete --state "$T/st3" --to "$T/md3/" -v
	assert_success
	[ "$(count "$T/md3")" = 2 ]
	assert_output --regexp "C: a[0-9]+ UID EXPUNGE 1:2"
	[ "$(count "$CMD")" = 0 ] || fail "left on Courier: $(ls -R "$CMD")"
}

@test "Courier's courierpop3d over POP3S (a second server): --all byte for byte into a Maildir, --new again gets nothing, --delete empties it" {
	courier_up
	courier_put2 cp
	run cpop --all --to "$T/md/"
	assert_success
	assert_output --partial "fetched 2 messages"
	same_bodies "$T/md"
	run cpop --state "$ST" --to "$T/md2/" -q
	assert_success
	[ "$(count "$T/md2")" = 2 ]
	run cpop --state "$ST" --to "$T/md2/"
	assert_success
	assert_output --partial "fetched 0 messages"
	run cpop --delete --state "$T/st3" --to "$T/md3/"
	assert_success
	[ "$(count "$T/md3")" = 2 ]
	[ "$(count "$CMD")" = 0 ] || fail "left on Courier: $(ls -R "$CMD")"
}
