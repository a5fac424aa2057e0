#!/usr/bin/env bats
# mparse --dsn, mdeliver --burst and mparse --digest: delivery reports read
# back (a real bounce of the peers' Postfix for an unknown user, sent from a
# VERP sender; msend's own notice after Postfix's 550; a plain-text
# "permanent fatal errors" bounce and an ARF report, fixtures written here),
# digests burst into a Maildir and an mbox (a Mailman-style multipart/digest
# inside a multipart/mixed, an RFC 1153 text digest), and a digest made of a
# Maildir, burst back to the same messages, read by Python's email package
# and by mutt (its attachment menu in a tmux pane, each message piped out).
#
# MPARSE, MDELIVER, MSEND and PEERS come from meson. Needs root for the
# peers, python3, jq, mutt and tmux.

# shellcheck disable=SC2016,SC2030,SC2031,SC2034,SC2154

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/peers'
load 'helpers/poll'

setup_file() {
	export PEERS=${PEERS:-$BATS_TEST_DIRNAME/../peers/peers.sh}
	[ "$(id -u)" = 0 ] || return 0 # the peers' tests say so themselves
	peers_up report 26610 26609 26602 26603 26604 26600 26601 26605 26606 26607 26608 || return 1
}

teardown_file() {
	peers_down
}

setup() {
	MPARSE=${MPARSE:-$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse}
	MDELIVER=${MDELIVER:-$BATS_TEST_DIRNAME/../../build/tools/mdeliver/mdeliver}
	MSEND=${MSEND:-$BATS_TEST_DIRNAME/../../build/tools/msend/msend}
	FX=$BATS_TEST_DIRNAME/fixtures/report
	T=$BATS_TEST_TMPDIR
	cd "$T" || return 1
	cp "$FX"/* .
	export LC_ALL=C.UTF-8 TZ=UTC
	export MSEND_QUEUE=$T/queue XDG_CONFIG_HOME=$T/xdg HOME=$T/home
	mkdir -p "$HOME"
	ID="report-$BATS_TEST_NUMBER-$$-$RANDOM$RANDOM"
	TSESS=
}

teardown() {
	[ -z "$TSESS" ] || tmux -L "$TSESS" kill-server 2>/dev/null || true
}

need_peers() {
	[ "$(id -u)" = 0 ] || fail "the peers need root (the suite runs as root)"
	[ -n "${PDIR:-}" ] || fail "the peers are not up"
}

# bounce_in MAILDIR TEXT...: F is the file in MAILDIR/new holding every TEXT
bounce_in() {
	local d=$1 t
	shift
	for F in "$d"/new/*; do
		[ -f "$F" ] || continue
		for t in "$@"; do grep -qF -- "$t" "$F" || continue 2; done
		return 0
	done
	return 1
}

# ------------------------------------------------------------------ --dsn

@test "dsn: the peers' Postfix bounces mail to an unknown user; --dsn reads the bounce back to the VERP sender's subscriber" {
	need_peers
	printf 'From: bob@hamburger.test\nTo: carol@hamburger.test\nSubject: %s\nMessage-ID: <%s@hamburger.test>\n\nhello\n' "$ID" "$ID" >msg
	# Postfix's own sendmail: the message goes past smtpd's recipient check,
	# and the virtual delivery agent bounces it to the VERP sender, which
	# Postfix delivers to bob (recipient_delimiter +)
	/usr/sbin/sendmail -C "$PDIR/postfix/etc" -f "bob+alice=crepes.test@hamburger.test" carol@hamburger.test <msg
	# Postfix delivers when it can: a hang guard only
	poll_until bounce_in "$BOB_MAILDIR" "Message-ID: <$ID@hamburger.test>" "Undelivered Mail"
	local f=$F
	grep -q '^Content-Type: multipart/report; report-type=delivery-status' "$f" || fail "not a DSN: $(cat "$f")"
	run "$MPARSE" --dsn "$f"
	assert_success
	assert_output "failed 5.1.1 carol@hamburger.test subscriber=alice@crepes.test message-id=<$ID@hamburger.test> diagnostic=unknown user: \"carol@hamburger.test\""
	run "$MPARSE" --dsn -j "$f"
	assert_success
	run jq -c 'del(.file)' <<<"$output"
	assert_output '{"type":"report","report":"dsn","recipient":"carol@hamburger.test","subscriber":"alice@crepes.test","message_id":"<'"$ID"'@hamburger.test>","reporting_mta":"mx1.example.test","original_recipient":"carol@hamburger.test","action":"failed","status":"5.1.1","remote_mta":null,"diagnostic":"unknown user: \"carol@hamburger.test\"","feedback_type":null,"original_mail_from":null,"user_agent":null}'
}

@test "dsn: msend's own notice (Postfix refused the recipient, -oem) read back: recipient, status, the reply, the subscriber" {
	need_peers
	printf 'From: bob@hamburger.test\nTo: carol@hamburger.test\nSubject: %s\nMessage-ID: <%s@hamburger.test>\n\nhello\n' "$ID" "$ID" >msg
	run "$MSEND" --server 127.0.0.1 --port "$SUBM_PORT" --ca-file "$CA" --user bob \
		--password-eval 'echo hungry' --timeout 60 -oem -f "bob+dave=example.net@hamburger.test" carol@hamburger.test <msg
	assert_failure 67
	poll_until bounce_in "$BOB_MAILDIR" "Message-ID: <$ID@hamburger.test>" "This is msend on"
	local f=$F
	run "$MPARSE" --dsn "$f"
	assert_success
	assert_output "failed 5.1.1 carol@hamburger.test subscriber=dave@example.net message-id=<$ID@hamburger.test> diagnostic=550 5.1.1 <carol@hamburger.test>: Recipient address rejected: User unknown in virtual mailbox table"
}

@test "dsn: a plain-text 'permanent fatal errors' bounce: each address with its code, said to be guessed" {
	run --separate-stderr "$MPARSE" --dsn fatal.eml
	assert_success
	assert_output - <<'OUT'
failed 5.1.1 carol@example.net subscriber=carol@example.net guessed diagnostic=(reason: 550 5.1.1 <carol@example.net>... User unknown)
failed 5.0.0 dave@example.net subscriber=carol@example.net guessed diagnostic=(reason: 552 Mailbox over quota)
OUT
	run "$MPARSE" --dsn -j fatal.eml
	run jq -c '[.report, .recipient, .status]' <<<"$output"
	assert_output $'["guessed","carol@example.net","5.1.1"]\n["guessed","dave@example.net","5.0.0"]'
}

@test "dsn: an ARF feedback report (RFC 5965): the feedback type, the reported message's recipient and Message-ID" {
	run "$MPARSE" --dsn arf.eml fatal.eml
	assert_success
	assert_line --index 0 "arf.eml: feedback abuse erin@example.com subscriber=erin@example.com message-id=<weekly-49@lists.example.org> from=news+erin=example.com@lists.example.org"
	run "$MPARSE" --dsn -j arf.eml
	run jq -c 'del(.file)' <<<"$output"
	assert_output '{"type":"report","report":"arf","recipient":"erin@example.com","subscriber":"erin@example.com","message_id":"<weekly-49@lists.example.org>","reporting_mta":null,"original_recipient":null,"action":null,"status":null,"remote_mta":null,"diagnostic":null,"feedback_type":"abuse","original_mail_from":"news+erin=example.com@lists.example.org","user_agent":"SomeGenerator/1.0"}'
}

@test "dsn: a message that is no report: one line naming it, exit 65; --dsn with another mode is 64" {
	run --separate-stderr "$MPARSE" --dsn rfc1153.txt
	assert_failure 65
	assert_equal "$stderr" "mparse: rfc1153.txt: no delivery report: no delivery-status or feedback-report part, and no address with a status code in its text"
	run --separate-stderr "$MPARSE" --dsn -t arf.eml
	assert_failure 64
	run --separate-stderr "$MPARSE" --dsn --digest arf.eml
	assert_failure 64
}

# ------------------------------------------------------------------ --burst

# burst FILE TARGET: mdeliver --burst -v; the messages as delivered, in order
# (mbox: the From_ lines' dates made X)
burst_out() {
	local p
	local c=
	[ "${2%/}" = "$2" ] || c=-c # a Maildir to create
	run --separate-stderr "$MDELIVER" $c --burst -v "$1" "$2"
	assert_success
	if [ -d "$2" ]; then
		for p in $output; do cat "$p"; echo "=="; done
	else
		sed 's/^From MAILER-DAEMON .*/From X/' "$2"
		[ -n "$output" ] || fail "no offsets said"
	fi
}

@test "burst: a multipart/digest inside a multipart/mixed (Mailman) into a Maildir and an mbox: each message whole, in order" {
	burst_out mailman.eml md/ >got
	assert_equal "$stderr" "mdeliver: delivered 2 messages (449 bytes)"
	awk '/^--===============2==$/ { n++; h = 1; next } /^--===============2==--$/ { exit }
		n && h && /^$/ { h = 0; next } n && !h { print }' mailman.eml >parts
	# the first part's own header (Content-Type, MIME-Version) is not the message's
	{ sed -n '/^Date: Fri, 4 Dec 2026 14/,/^Which/p' mailman.eml; echo ==
	  sed -n '/^Date: Fri, 4 Dec 2026 15/,/^--inner--$/p' mailman.eml; echo ==; } >want
	diff want got
	burst_out mailman.eml box.mbox >got
	{ echo "From X"; sed -n '/^Date: Fri, 4 Dec 2026 14/,/^Which/p' mailman.eml; echo
	  echo "From X"; sed -n '/^Date: Fri, 4 Dec 2026 15/,/^--inner--$/p' mailman.eml; echo; } >want
	diff want got
}

@test "burst: an RFC 1153 text digest into a Maildir: its two messages whole, in order, the preamble and trailer left out" {
	burst_out rfc1153.txt md/ >got
	assert_equal "$stderr" "mdeliver: delivered 2 messages (320 bytes)"
	cat >want <<'EOF2'
Date: Thu, 3 Dec 2026 08:00:00 +0000
From: Ann <ann@example.org>
Subject: Oolong at home
Message-ID: <oolong-1@example.org>

How long do you steep oolong?
==
Date: Thu, 3 Dec 2026 09:30:00 +0000
From: Ben <ben@example.org>
Subject: Re: Oolong at home
Message-ID: <oolong-2@example.org>

Three minutes, then again.

-- 
Ben
==
EOF2
	diff want got
	burst_out rfc1153.txt box.mbox >got
	assert_equal "$(grep -c '^From X$' got)" 2
}

@test "burst: what is no digest is exit 65 and one line; nothing is delivered" {
	run --separate-stderr "$MDELIVER" -c --burst arf.eml md/
	assert_failure 65
	assert_equal "$stderr" "mdeliver: arf.eml: no digest (a multipart/digest or an RFC 1153 digest) with messages"
	[ -z "$(find md -type f 2>/dev/null)" ] || fail "delivered: $(find md -type f)"
	run --separate-stderr "$MDELIVER" --burst --split arf.eml md/
	assert_failure 64
}

@test "burst: into an mbox, one locked run: the mbox is opened and locked once for all the messages" {
	command -v strace >/dev/null || fail "strace is needed (scripts/deps.sh installs it)"
	# LeakSanitizer does not run under ptrace (a sanitized build)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		run --separate-stderr strace -f -e trace=openat,fcntl -o trace "$MDELIVER" --burst mailman.eml box.mbox
	assert_success
	assert_equal "$(grep -c 'box\.mbox", O_RDWR' trace)" 1
	assert_equal "$(grep -c 'box\.mbox\.lock", O_WRONLY|O_CREAT|O_EXCL' trace)" 1
	assert_equal "$(grep -c '^From MAILER-DAEMON ' box.mbox)" 2
	[ ! -e box.mbox.lock ] || fail "the dot lock is left"
}

@test "burst: a part that is no message: those before it delivered and durable, none after, exit 65 with the count" {
	printf 'From: a@x\nSubject: s\nContent-Type: multipart/digest; boundary=b\n\n--b\n\nFrom: one@x\nSubject: 1\n\none\n--b\n\nno header here\n\nbody\n--b\n\nFrom: three@x\n\nthree\n--b--\n' >bad.eml
	run --separate-stderr "$MDELIVER" -c --burst bad.eml md/
	assert_failure 65
	assert_equal "$stderr" $'mdeliver: bad.eml: message 2: not a message: line 1 is not a header field\nmdeliver: delivered 1 messages before message 2'
	assert_equal "$(cat md/new/*)" $'From: one@x\nSubject: 1\n\none'
	[ -z "$(ls md/tmp)" ] || fail "left in tmp/: $(ls md/tmp)"
	run --separate-stderr "$MDELIVER" --burst bad.eml box.mbox
	assert_failure 65
	assert_equal "$(sed 's/^From MAILER-DAEMON .*/From X/' box.mbox)" $'From X\nFrom: one@x\nSubject: 1\n\none'
	[ ! -e box.mbox.lock ] || fail "the dot lock is left"
}

# ------------------------------------------------------------------ --digest

# three messages in a Maildir (one with a MIME structure of its own, one
# with a line "--=_digest-0" that the boundary must avoid)
make_maildir() {
	mkdir -p in/cur in/new in/tmp
	printf 'From: Alice <alice@example.org>\nTo: list@example.org\nSubject: first\nDate: Mon, 7 Dec 2026 10:00:00 +0000\nMessage-ID: <d1@example.org>\n\nbody one\n' >in/cur/1000.a:2,S
	printf 'From: =?utf-8?q?B=C3=B6b?= <bob@example.org>\nSubject: =?utf-8?q?s=C3=A9cond?=\nDate: Tue, 8 Dec 2026 11:00:00 +0100\nMessage-ID: <d2@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\npart\n--zz--\n' >in/cur/1001.b:2,S
	printf 'From: carol@example.org\nSubject: third\nMessage-ID: <d3@example.org>\n\n--=_digest-0\nnot a boundary\n' >in/cur/1002.c:2,S
}

@test "digest: mparse --digest DIR is a multipart/digest with a table of contents and a boundary found in no message" {
	make_maildir
	SOURCE_DATE_EPOCH=1800000000 USER=lists run --separate-stderr "$MPARSE" --digest in
	assert_success
	assert_output - <<EOF2
From: Digest <lists@$(hostname)>
Subject: Digest of 3 messages
Date: Fri, 15 Jan 2027 08:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/digest; boundary="=_digest-1"

This is a digest of 3 messages in MIME format.

--=_digest-1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit
Content-Description: Table of contents

  1. 2026-12-07 Alice <alice@example.org>: first
  2. 2026-12-08 Böb <bob@example.org>: sécond
  3. -          carol@example.org: third

--=_digest-1

$(cat in/cur/1000.a:2,S)

--=_digest-1

$(cat in/cur/1001.b:2,S)

--=_digest-1

$(cat in/cur/1002.c:2,S)

--=_digest-1--
EOF2
}

@test "digest: made then burst (Maildir and mbox): the same messages, byte for byte, in order" {
	make_maildir
	"$MPARSE" --digest in >d.eml
	run --separate-stderr "$MDELIVER" -c --burst -v d.eml out/
	assert_success
	local i=0 p
	for p in $output; do
		i=$((i + 1))
		cmp "$p" "$(ls -d in/cur/* | sed -n "${i}p")" || fail "message $i differs"
	done
	[ "$i" = 3 ] || fail "$i messages"
	# an mbox of them, made into a digest, burst into an mbox: the same mbox
	for p in in/cur/*; do "$MDELIVER" a.mbox <"$p"; done
	"$MPARSE" --digest a.mbox >d2.eml
	"$MDELIVER" --burst d2.eml b.mbox 2>/dev/null
	diff <(sed 's/^From MAILER-DAEMON .*/From X/' a.mbox) <(sed 's/^From MAILER-DAEMON .*/From X/' b.mbox)
}

@test "digest: Python's email package reads the made digest: the table of contents, then each message with its subject" {
	make_maildir
	"$MPARSE" --digest in >d.eml
	run python3 - d.eml <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
print(m.get_content_type(), m['Subject'])
for p in m.iter_parts():
    if p.get_content_type() == 'message/rfc822':
        inner = p.get_payload()[0]
        print(p.get_content_type(), inner['Message-ID'], inner['Subject'], inner.get_content_type())
    else:
        print(p.get_content_type(), p['Content-Description'], len(p.get_content().splitlines()))
PY
	assert_success
	assert_output - <<'OUT'
multipart/digest Digest of 3 messages
text/plain Table of contents 3
message/rfc822 <d1@example.org> first text/plain
message/rfc822 <d2@example.org> sécond multipart/mixed
message/rfc822 <d3@example.org> third text/plain
OUT
}

# tmux_wait TEXT: poll the mutt pane until it shows TEXT (a 60 s hang guard)
tmux_wait() {
	for _ in $(seq 600); do
		tmux -L "$TSESS" capture-pane -p 2>/dev/null | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	fail "mutt never showed '$1': $(tmux -L "$TSESS" capture-pane -p 2>/dev/null)"
}

@test "digest: mutt reads the made digest: its attachment menu lists the table of contents and the messages; each message piped out is the original" {
	command -v mutt >/dev/null && command -v tmux >/dev/null || fail "mutt and tmux are needed (scripts/deps.sh installs them)"
	make_maildir
	{ echo "From lists@example.org Fri Jan 15 08:00:00 2027"; "$MPARSE" --digest in; } >d.mbox
	printf 'set quit=yes\nset wait_key=no\nset pipe_decode=no\nset sort=mailbox-order\nset ascii_chars=yes\nset folder=%s\nset spoolfile=%s/d.mbox\n' "$T" "$T" >muttrc
	TSESS=mp-report-$$
	tmux -L "$TSESS" new-session -d -x 150 -y 30 "TERM=screen LC_ALL=C.UTF-8 mutt -n -F $T/muttrc -R -f $T/d.mbox"
	tmux_wait "Digest of 3 messages"
	tmux -L "$TSESS" send-keys v
	tmux_wait "Table of contents"
	run bash -c "tmux -L $TSESS capture-pane -p | grep -E '^ *I +[0-9]+ ' | sed 's/  */ /g'"
	assert_output - <<'OUT'
 I 1 Table of contents [text/plain, 8bit, utf-8, 0.1K]
 I 2 first [message/rfc822, 7bit, 0.1K]
 I 3 `-><no description> [text/plain, 7bit, us-ascii, 0.1K]
 I 4 sécond [message/rfc822, 7bit, 0.2K]
 I 5 `-><no description> [multipa/mixed, 7bit, 0.1K]
 I 6 `-><no description> [text/plain, 7bit, us-ascii, 0.1K]
 I 7 third [message/rfc822, 7bit, 0.1K]
 I 8 `-><no description> [text/plain, 7bit, us-ascii, 0.1K]
OUT
	local n
	for n in 2 4 7; do
		tmux -L "$TSESS" send-keys "$n" Enter '|' "cat > $T/piped.$n" Enter
		for _ in $(seq 600); do [ -s "$T/piped.$n" ] && break; sleep 0.1; done
	done
	tmux -L "$TSESS" send-keys q q
	cmp piped.2 in/cur/1000.a:2,S
	cmp piped.4 in/cur/1001.b:2,S
	cmp piped.7 in/cur/1002.c:2,S
}
