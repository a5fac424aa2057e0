#!/usr/bin/env bats
# DKIM signing in msend(1) (RFC 6376, RFC 8463): keys made with openssl
# genpkey at test time, the message sent to smtpfault (which stores the
# bytes it received), the stored message verified by dkimpy (Debian's
# python3-dkim, helpers/dkim_verify.py, the key records given locally):
# rsa-sha256 and ed25519-sha256 together, the quoted-printable form for a
# server without 8BITMIME (signed as sent, with DATA and with BDAT),
# simple/simple, the configuration file's keys, a queued message signed
# on its retry, and the refusals (a key others can read: 78). Then
# mparse --verify on messages dkimpy's dkimsign signed, the keys served by
# dnsfault's txt mode (a file per record, written by the test): pass,
# fail when tampered, none, permerror, temperror. OpenDKIM (Debian's
# opendkim, its test mode -t, keys from dnsfault through a libunbound
# configuration) verifies what msend signed, and mparse --verify what
# OpenDKIM signed. End to end: msend signs, the peers' Postfix takes the
# message into Dovecot, mfetch fetches it into a Maildir, and mparse
# --verify passes it with the keys from the peers' knot.
#
# MSEND, MPARSE, SMTPFAULT and DNSFAULT come from meson (defaults: the
# build tree).

# shellcheck disable=SC2154,SC2015
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load helpers/dnsfault
load 'helpers/peers'
load helpers/documented

bats_require_minimum_version 1.5.0

setup_file() {
	export MSEND=${MSEND:-$BATS_TEST_DIRNAME/../../build/tools/msend/msend}
	export SMTPFAULT=${SMTPFAULT:-$BATS_TEST_DIRNAME/../../build/tests/fault/smtpfault}
	export MPARSE=${MPARSE:-$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse}
	export DNSFAULT=${DNSFAULT:-$BATS_TEST_DIRNAME/../../build/tests/fault/dnsfault}
	export VERIFY=$BATS_TEST_DIRNAME/helpers/dkim_verify.py
	# the Debian package's module, whatever python3 comes first on PATH
	export PY=/usr/bin/python3
	K=$BATS_FILE_TMPDIR/keys
	mkdir -p "$K"
	openssl genpkey -algorithm ed25519 -out "$K/ed.pem" 2>/dev/null
	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.pem" 2>/dev/null
	chmod 600 "$K"/*.pem
	# the records: Ed25519's p= is the bare 32-octet key (RFC 8463 4.2),
	# RSA's the SubjectPublicKeyInfo
	printf 'v=DKIM1; k=ed25519; p=%s' \
		"$(openssl pkey -in "$K/ed.pem" -pubout -outform DER | tail -c 32 | base64 -w0)" >"$K/ed.txt"
	printf 'v=DKIM1; k=rsa; p=%s' \
		"$(openssl pkey -in "$K/rsa.pem" -pubout -outform DER | base64 -w0)" >"$K/rsa.txt"
}

setup() {
	export K=$BATS_FILE_TMPDIR/keys
	export MSEND_QUEUE=$BATS_TEST_TMPDIR/queue TMPDIR=$BATS_TEST_TMPDIR
	unset EMAIL MSEND_PASSWORD MAILPIPE_CONFIG
	export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/xdg HOME=$BATS_TEST_TMPDIR/home LC_ALL=C
	mkdir -p "$HOME"
	FPIDS=()
	both_keys=(--dkim-key "$K/rsa.pem" --dkim-selector rsa --dkim-key "$K/ed.pem" --dkim-selector ed)
	MSG=$BATS_TEST_TMPDIR/msg
	printf '%s\n' 'From: Alice <alice@crepes.test>' 'To: bob@example.net' \
		'Subject: signed' 'Date: Thu, 01 Jan 2026 10:00:00 +0000' \
		'Message-ID: <dkim-1@crepes.test>' '' 'Hello  Bob,' '.a line with a dot' '' >"$MSG"
}

teardown() {
	local p
	for p in "${FPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	peers_down # the end-to-end test's
}

# fault MODE [options]: smtpfault storing into $FSTORE; sets FPORT, FPID
fault() {
	local mode=$1 out
	shift
	out=$BATS_TEST_TMPDIR/fault-$mode.out
	FSTORE=$BATS_TEST_TMPDIR/store-$mode
	mkdir -p "$FSTORE"
	"$SMTPFAULT" -P "$BATS_TEST_TMPDIR/fault-$mode.pid" -d "$FSTORE" "$@" "$mode" \
		>"$out" 2>"$BATS_TEST_TMPDIR/fault-$mode.log" 3>&- &
	# a hang guard only (60 s): the loop ends when the server says its port
	for _ in $(seq 3000); do grep -q '^PORT=' "$out" 2>/dev/null && break; sleep 0.02; done
	FPORT=$(sed -n 's/^PORT=//p' "$out")
	FPID=$(cat "$BATS_TEST_TMPDIR/fault-$mode.pid")
	[ -n "$FPORT" ] && [ -n "$FPID" ] || fail "smtpfault $mode did not start"
	FPIDS+=("$FPID")
}

fmsend() { "$MSEND" --no-tls --server "127.0.0.1:$FPORT" --timeout 60 "$@"; }

# queued_then_flushed ARGS...: $MSG sent with ARGS to a 421 banner (queued),
# then msend -q --now to a server that accepts it, stored as 1.eml
queued_then_flushed() {
	fault greet421
	run fmsend "$@" <"$MSG"
	assert_success
	assert_output --partial 'queued as'
	kill "$FPID"
	fault accept
	run fmsend -q --now
	assert_success
	assert_output --regexp ': 1 delivered, 0 failed$'
	received 1
}

# received N: the message smtpfault stored as N.eml, without the final
# dot line and dot-unstuffed (DATA), as the server's MTA would keep it
received() {
	perl -0777 -pe 's/\r\n\.\r\n\z/\r\n/; s/^\.\././mg' "$FSTORE/$1.eml" >"$BATS_TEST_TMPDIR/got.eml"
}

# verifies DOMAIN: dkimpy on got.eml with the test's two key records
verifies() {
	run "$PY" "$VERIFY" "$BATS_TEST_TMPDIR/got.eml" "ed._domainkey.$1=$K/ed.txt" \
		"rsa._domainkey.$1=$K/rsa.txt"
}

# both_pass DOMAIN: dkimpy passes the RSA and the Ed25519 signature of d=DOMAIN
both_pass() {
	verifies "$1"
	assert_success
	assert_line "pass d=$1 a=rsa-sha256"
	assert_line "pass d=$1 a=ed25519-sha256"
}

@test "msend --dkim-key: rsa-sha256 and ed25519-sha256 sign together; dkimpy verifies both; d= is the From: domain, From over-signed, no l=" {
	fault accept
	run fmsend --dkim-key "$K/rsa.pem" --dkim-selector rsa --dkim-key "$K/ed.pem" \
		--dkim-selector ed -f alice@crepes.test bob@example.net <"$MSG"
	assert_success
	received 1
	both_pass crepes.test
	[ "$(grep -c '^DKIM-Signature: v=1; a=' "$BATS_TEST_TMPDIR/got.eml")" = 2 ]
	run perl -0777 -ne 'print s/\r?\n[ \t]+//gr' "$BATS_TEST_TMPDIR/got.eml"
	assert_output --regexp 'h=from:from:subject:date:message-id:to;'
	assert_output --partial 'c=relaxed/relaxed'
	refute_output --regexp 'DKIM-Signature:[^\r]* l='
	# tampered: dkimpy fails both
	perl -pi -e 's/Hello  Bob/Hello Eve/' "$BATS_TEST_TMPDIR/got.eml"
	verifies crepes.test
	assert_failure
	assert_line 'fail d=crepes.test a=rsa-sha256'
}

@test "msend --dkim-key: no 8BITMIME: the quoted-printable form is what is signed (DATA and BDAT); dkimpy verifies it" {
	printf '%s\n' 'From: alice@crepes.test' 'To: bob@example.net' 'Subject: 8bit' '' \
		$'une cr\303\252pe = 3\342\202\254  ' '.dot' >"$MSG"
	fault accept -7
	run fmsend "${both_keys[@]}" -f alice@crepes.test bob@example.net <"$MSG"
	assert_success
	received 1
	grep -qa '^Content-Transfer-Encoding: quoted-printable' "$BATS_TEST_TMPDIR/got.eml"
	grep -qa '=C3=AA' "$BATS_TEST_TMPDIR/got.eml"
	both_pass crepes.test
	# SIZE= counts the signatures too
	run cat "$FSTORE/1.env"
	assert_line "mail <alice@crepes.test> SIZE=$(($(stat -c %s "$FSTORE/1.eml") - 3))"
	kill "$FPID"
	fault accept -7 -c
	run fmsend "${both_keys[@]}" -f alice@crepes.test bob@example.net <"$MSG"
	assert_success
	run cat "$FSTORE/2.env"
	assert_line 'chunks 1'
	cp "$FSTORE/2.eml" "$BATS_TEST_TMPDIR/got.eml" # BDAT: the bytes as they are
	grep -qa '^Content-Transfer-Encoding: quoted-printable' "$BATS_TEST_TMPDIR/got.eml"
	verifies crepes.test
	assert_success
	assert_line 'pass d=crepes.test a=ed25519-sha256'
}

@test "msend --dkim-canon simple/simple --dkim-domain: dkimpy verifies; an 8BITMIME server gets the 8-bit form signed" {
	printf 'From: alice@crepes.test\nSubject: s\n\ncaf\303\251   \n\n\n' >"$MSG"
	fault accept
	run fmsend --dkim-canon simple/simple --dkim-domain mail.crepes.test \
		--dkim-key "$K/ed.pem" --dkim-selector ed -f alice@crepes.test bob@example.net <"$MSG"
	assert_success
	received 1
	grep -qa 'c=simple/simple; d=mail.crepes.test;' "$BATS_TEST_TMPDIR/got.eml"
	grep -qa $'caf\303\251' "$BATS_TEST_TMPDIR/got.eml"
	verifies mail.crepes.test
	assert_success
	assert_line 'pass d=mail.crepes.test a=ed25519-sha256'
}

@test "msend -t --dkim-key: the Bcc: field that is not sent is not signed; dkimpy verifies what arrived" {
	printf '%s\n' 'From: alice@crepes.test' 'To: bob@example.net' 'Bcc: carol@example.net' \
		'Subject: bcc' '' 'hidden copy' >"$MSG"
	fault accept
	run fmsend -t "${both_keys[@]}" -f alice@crepes.test <"$MSG"
	assert_success
	received 1
	run grep -ai '^bcc:' "$BATS_TEST_TMPDIR/got.eml"
	assert_failure
	run cat "$FSTORE/1.env"
	assert_line 'rcpt <carol@example.net> 250'
	both_pass crepes.test
}

@test "msend: the configuration file's dkim_key, dkim_selector, dkim_domain sign" {
	mkdir -p "$XDG_CONFIG_HOME/mailpipe"
	cat >"$XDG_CONFIG_HOME/mailpipe/config" <<-EOF
		account default
		  from alice@crepes.test
		  dkim_key $K/rsa.pem
		  dkim_selector rsa
		  dkim_key $K/ed.pem
		  dkim_selector ed
		  dkim_domain crepes.test
	EOF
	fault accept
	run fmsend bob@example.net <"$MSG"
	assert_success
	received 1
	both_pass crepes.test
}

@test "msend --dkim-key: a queued message is signed when it goes (msend -q), and verifies" {
	# the flush names no key: the entry's own keys sign
	queued_then_flushed "${both_keys[@]}" -f alice@crepes.test bob@example.net
	both_pass crepes.test
}

@test "msend -q: a queue of messages with the same key and with another one: each is signed with its own keys, and verifies" {
	fault greet421
	local k
	for k in rsa rsa ed rsa; do
		run fmsend --dkim-key "$K/$k.pem" --dkim-selector "$k" -f alice@crepes.test bob@example.net <"$MSG"
		assert_output --partial 'queued as'
	done
	kill "$FPID"
	fault accept
	run fmsend -q --now
	assert_success
	[ "$(grep -c ': 1 delivered, 0 failed$' <<<"$output")" = 4 ] || fail "not 4 delivered"
	local n=0 sels
	for f in "$FSTORE"/*.eml; do
		n=$((n + 1))
		received "$n"
		[ "$(grep -c '^DKIM-Signature:' "$BATS_TEST_TMPDIR/got.eml")" = 1 ] || fail "$n: not one signature"
		verifies crepes.test
		assert_success
		sels+=$(perl -0777 -ne 'print " $1" if /^DKIM-Signature:.*?[; \t]s=([a-z]+);/ms' "$BATS_TEST_TMPDIR/got.eml")
	done
	[ "$n" = 4 ]
	# the queue goes oldest first
	[ "$sels" = ' rsa rsa ed rsa' ] || fail "selectors: $sels"
}

@test "msend -q: a flush reads each key file once, the queue's entries taking turns with two keys; each message verifies" {
	command -v strace >/dev/null || fail "strace is needed (scripts/deps.sh installs it)"
	fault greet421
	local k
	for k in rsa ed rsa ed rsa; do
		run fmsend --dkim-key "$K/$k.pem" --dkim-selector "$k" -f alice@crepes.test bob@example.net <"$MSG"
		assert_output --partial 'queued as'
	done
	kill "$FPID"
	fault accept
	# LeakSanitizer does not run under ptrace (a sanitized build)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		run strace -f -e trace=openat -o "$BATS_TEST_TMPDIR/trace" \
		"$MSEND" --no-tls --server "127.0.0.1:$FPORT" --timeout 10 -q --now
	assert_success
	[ "$(grep -c ': 1 delivered, 0 failed$' <<<"$output")" = 5 ] || fail "not 5 delivered"
	assert_equal "$(grep -c "\"$K/rsa.pem\"" "$BATS_TEST_TMPDIR/trace")" 1
	assert_equal "$(grep -c "\"$K/ed.pem\"" "$BATS_TEST_TMPDIR/trace")" 1
	local n
	for n in 1 2 3 4 5; do
		received "$n"
		verifies crepes.test
		assert_success
		assert_output --regexp '^pass d=crepes.test a=(rsa|ed25519)-sha256$'
	done
}

@test "msend --dkim-key over an account's dkim_key: a queued message keeps the command line's key at the flush" {
	mkdir -p "$XDG_CONFIG_HOME/mailpipe"
	printf 'account default\n  from alice@crepes.test\n  dkim_key %s\n  dkim_selector ed\n' \
		"$K/ed.pem" >"$XDG_CONFIG_HOME/mailpipe/config"
	queued_then_flushed --dkim-key "$K/rsa.pem" --dkim-selector rsa bob@example.net
	[ "$(grep -c '^DKIM-Signature:' "$BATS_TEST_TMPDIR/got.eml")" = 1 ]
	verifies crepes.test
	assert_success
	assert_output 'pass d=crepes.test a=rsa-sha256'
}

@test "msend --dkim-key: a key file group or others can read is refused with 78, naming it; nothing is sent" {
	cp "$K/ed.pem" "$BATS_TEST_TMPDIR/open.pem"
	chmod 644 "$BATS_TEST_TMPDIR/open.pem"
	fault accept
	run fmsend --dkim-key "$BATS_TEST_TMPDIR/open.pem" --dkim-selector ed \
		-f alice@crepes.test bob@example.net <"$MSG"
	assert_failure 78
	assert_output --partial "$BATS_TEST_TMPDIR/open.pem"
	assert_output --partial 'chmod 600'
	[ ! -e "$FSTORE/1.eml" ]
	# the same from the configuration file
	mkdir -p "$XDG_CONFIG_HOME/mailpipe"
	printf 'account default\n  dkim_key %s\n  dkim_selector ed\n' "$BATS_TEST_TMPDIR/open.pem" \
		>"$XDG_CONFIG_HOME/mailpipe/config"
	run fmsend -f alice@crepes.test bob@example.net <"$MSG"
	assert_failure 78
	assert_output --partial "$BATS_TEST_TMPDIR/open.pem"
}

@test "msend --dkim-key: usage and key errors (a key without a selector 64; no key, or an encrypted one, 78; no From: domain 65)" {
	run "$MSEND" --dkim-key "$K/ed.pem" bob@example.net </dev/null
	assert_failure 64
	assert_output --partial 'go in pairs'
	printf 'not a key\n' >"$BATS_TEST_TMPDIR/bad.pem"
	chmod 600 "$BATS_TEST_TMPDIR/bad.pem"
	run "$MSEND" --dkim-key "$BATS_TEST_TMPDIR/bad.pem" --dkim-selector s bob@example.net </dev/null
	assert_failure 78
	assert_output --partial "$BATS_TEST_TMPDIR/bad.pem: no PEM private key"
	# an encrypted key: refused, no passphrase asked for (no terminal either)
	openssl genpkey -algorithm ed25519 -aes-128-cbc -pass pass:secret -out "$BATS_TEST_TMPDIR/enc.pem" 2>/dev/null
	chmod 600 "$BATS_TEST_TMPDIR/enc.pem"
	run setsid "$MSEND" --dkim-key "$BATS_TEST_TMPDIR/enc.pem" --dkim-selector s bob@example.net </dev/null
	assert_failure 78
	assert_output --partial "$BATS_TEST_TMPDIR/enc.pem: no PEM private key"
	run "$MSEND" --dkim-key "$K/ed.pem" --dkim-selector s --dkim-canon loose bob@example.net </dev/null
	assert_failure 78
	fault accept
	printf 'Subject: no from\n\nx\n' >"$MSG"
	run fmsend --dkim-key "$K/ed.pem" --dkim-selector ed -f alice@crepes.test bob@example.net <"$MSG"
	assert_failure 65
	assert_output --partial 'no From:'
	[ ! -e "$FSTORE/1.eml" ]
}

@test "msend and mparse: every --dkim- option of msend -h, and mparse --verify, --dns-server, are in the man pages and the bash, zsh and fish completions; the settings in mailpipe(5)" {
	local d=${COMPDIR:-$BATS_TEST_DIRNAME/../../completions} m=${MANDIR:-$BATS_TEST_DIRNAME/../../man}
	run "$MSEND" -h
	assert_success
	local opts
	opts=$(grep -o -- '--dkim-[a-z]*' <<<"$output" | sort -u)
	[ "$(wc -l <<<"$opts")" = 4 ]
	for o in $opts; do
		grep -q -- "^\.It Fl -${o#--}" "$m/msend.1" || grep -q -- "Fl -${o#--} Ar" "$m/msend.1" ||
			fail "$o not in msend.1"
		grep -q -- "$o" "$d/bash/msend" || fail "$o not in the bash completion"
		grep -q -- "$o" "$d/zsh/_msend" || fail "$o not in the zsh completion"
		grep -q -- "-l ${o#--}" "$d/fish/msend.fish" || fail "$o not in the fish completion"
	done
	for k in dkim_key dkim_selector dkim_domain dkim_canon; do
		grep -q "^\.It Ic $k" "$m/mailpipe.5" || fail "$k not in mailpipe.5"
	done
	run mandoc -Tlint -Wwarning "$m/msend.1" "$m/mailpipe.5" "$m/mparse.1"
	assert_output ''
	# mparse --verify and --dns-server
	documented "$MPARSE" --verify --dns-server
}

# ------------------------------------------------------------ mparse --verify

# dns MODE: dnsfault MODE serving the TXT files of $BATS_TEST_TMPDIR/zone;
# sets DPORT
dns() {
	dnsfault_start "$1" "$BATS_TEST_TMPDIR/zone"
	FPIDS+=("$DPID")
}

verify() { "$MPARSE" --verify --dns-server "127.0.0.1:$DPORT" "$@"; }

# signed: $MSG signed by dkimpy with the Ed25519 key (simple/simple) and
# then the RSA key (relaxed/simple), into $BATS_TEST_TMPDIR/signed.eml
signed() {
	openssl pkey -in "$K/ed.pem" -outform DER | tail -c 32 | base64 >"$BATS_TEST_TMPDIR/ed.seed"
	"$PY" /usr/bin/dkimsign --signalg ed25519-sha256 --hcanon simple --bcanon simple \
		ed crepes.test "$BATS_TEST_TMPDIR/ed.seed" <"$MSG" >"$BATS_TEST_TMPDIR/one.eml"
	"$PY" /usr/bin/dkimsign rsa crepes.test "$K/rsa.pem" \
		<"$BATS_TEST_TMPDIR/one.eml" >"$BATS_TEST_TMPDIR/signed.eml"
	cp "$K/ed.txt" "$BATS_TEST_TMPDIR/zone/ed._domainkey.crepes.test"
	cp "$K/rsa.txt" "$BATS_TEST_TMPDIR/zone/rsa._domainkey.crepes.test"
}

@test "mparse --verify: a message dkimpy signed (rsa-sha256 relaxed/simple, ed25519-sha256 simple/simple) passes, keys over the DNS; -j says so too" {
	dns txt
	signed
	run verify --authserv-id mx.test "$BATS_TEST_TMPDIR/signed.eml"
	assert_success
	assert_output "$BATS_TEST_TMPDIR/signed.eml: mx.test; dkim=pass header.d=crepes.test header.s=rsa header.a=rsa-sha256; dkim=pass header.d=crepes.test header.s=ed header.a=ed25519-sha256; spf=none (not evaluated: no --spf-ip); dmarc=none header.from=crepes.test (no DMARC record for crepes.test)"
	run verify -j "$BATS_TEST_TMPDIR/signed.eml"
	assert_success
	run jq -r '.dkim[] | [.result, .d, .s, .a] | join(" ")' <<<"$output"
	assert_output $'pass crepes.test rsa rsa-sha256\npass crepes.test ed ed25519-sha256'
	# from stdin, and an unsigned message: none
	run verify - <"$BATS_TEST_TMPDIR/signed.eml"
	assert_output --regexp '^stdin: [^;]+; dkim=pass header.d=crepes.test header.s=rsa .*; dkim=pass header.d=crepes.test header.s=ed '
	run verify "$MSG"
	assert_success
	assert_output --regexp "^$MSG: [^;]+; dkim=none \(no signature\); "
}

@test "mparse --verify: a changed body or Subject fails; msend's own signatures pass" {
	dns txt
	signed
	perl -pe 's/Hello  Bob/Hello Eve/' "$BATS_TEST_TMPDIR/signed.eml" >"$BATS_TEST_TMPDIR/t1.eml"
	run verify "$BATS_TEST_TMPDIR/t1.eml"
	assert_success
	assert_line --partial 'dkim=fail header.d=crepes.test header.s=rsa header.a=rsa-sha256 (the body hash does not match (bh=))'
	assert_line --partial 'dkim=fail header.d=crepes.test header.s=ed header.a=ed25519-sha256 (the body hash'
	perl -pe 's/^Subject: signed/Subject: Signed/' "$BATS_TEST_TMPDIR/signed.eml" >"$BATS_TEST_TMPDIR/t2.eml"
	run verify "$BATS_TEST_TMPDIR/t2.eml"
	assert_line --partial 'dkim=fail header.d=crepes.test header.s=rsa header.a=rsa-sha256 (the signature does not verify)'
	assert_line --partial 'dkim=fail header.d=crepes.test header.s=ed header.a=ed25519-sha256 (the signature does not verify)'
	# what msend signed and smtpfault received
	fault accept
	run fmsend "${both_keys[@]}" -f alice@crepes.test bob@example.net <"$MSG"
	assert_success
	received 1
	run verify "$BATS_TEST_TMPDIR/got.eml"
	assert_line --partial 'dkim=pass header.d=crepes.test header.s=rsa header.a=rsa-sha256'
	assert_line --partial 'dkim=pass header.d=crepes.test header.s=ed header.a=ed25519-sha256'
}

@test "mparse --verify: no key record is permerror, a revoked key permerror, a failing DNS server temperror" {
	dns txt
	signed
	rm "$BATS_TEST_TMPDIR/zone/rsa._domainkey.crepes.test"
	printf 'v=DKIM1; k=ed25519; p=' >"$BATS_TEST_TMPDIR/zone/ed._domainkey.crepes.test"
	run verify "$BATS_TEST_TMPDIR/signed.eml"
	assert_success
	assert_line --partial 'dkim=permerror header.d=crepes.test header.s=rsa header.a=rsa-sha256 (no key record at rsa._domainkey.crepes.test)'
	assert_line --partial 'dkim=permerror header.d=crepes.test header.s=ed header.a=ed25519-sha256 (key ed._domainkey.crepes.test was revoked)'
	dns servfail
	run verify "$BATS_TEST_TMPDIR/signed.eml"
	assert_line --partial 'dkim=temperror header.d=crepes.test header.s=rsa'
	assert_line --partial 'dkim=temperror header.d=crepes.test header.s=ed'
}

# ------------------------------------------------------------ OpenDKIM

# od_conf NAME LINES...: an opendkim.conf in $BATS_TEST_TMPDIR/od/NAME.conf
# whose resolver (libunbound) asks dnsfault on $DPORT, nothing else
od_conf() {
	local d=$BATS_TEST_TMPDIR/od name=$1
	shift
	mkdir -p "$d"
	printf '%s\n' 'server:' '  do-not-query-localhost: no' '  local-zone: "test." nodefault' \
		'forward-zone:' '  name: "."' "  forward-addr: 127.0.0.1@$DPORT" >"$d/unbound.conf"
	printf '%s\n' "ResolverConfiguration $d/unbound.conf" 'Syslog no' "$@" >"$d/$name.conf"
}

# od_verify FILE: OpenDKIM's test mode verifies FILE; its
# Authentication-Results (in -vvv's report of the fields it would add)
# one "dkim=RESULT header.a=ALG header.s=SEL" line a signature, sorted
od_verify() {
	od_conf verify 'Mode v'
	opendkim -x "$BATS_TEST_TMPDIR/od/verify.conf" -vvv -t "$1" 2>&1 |
		tee "$BATS_TEST_TMPDIR/od/verify.out" |
		perl -ne 'print "dkim=$1 header.a=$2 header.s=$3\n" if /^\s+dkim=(\w+) .*header\.a=(\S+) header\.s=(\S+) /' |
		sort
}

# od_sign KEY SELECTOR ALG CANON IN OUT: OpenDKIM signs IN for
# d=crepes.test; its test mode shows the DKIM-Signature it would add
# (-vvv), which goes on top of IN into OUT
od_sign() {
	# (the key's directory is below /tmp, which others may write: not "safe")
	od_conf "sign-$2" 'Mode s' 'Domain crepes.test' "Selector $2" "KeyFile $1" \
		"SignatureAlgorithm $3" "Canonicalization $4" 'RequireSafeKeys no'
	opendkim -x "$BATS_TEST_TMPDIR/od/sign-$2.conf" -vvv -t "$5" 2>&1 |
		perl -0777 -ne 'print "DKIM-Signature: $1\n" if /hname=.DKIM-Signature. hvalue=.(.*?).\n(?!\t)/s' >"$6.sig"
	[ -s "$6.sig" ] || fail "opendkim did not sign $5"
	cat "$6.sig" "$5" >"$6"
}

@test "OpenDKIM verifies what msend signed (rsa-sha256 and ed25519-sha256, relaxed and simple), and fails it tampered" {
	dns txt
	cp "$K/ed.txt" "$BATS_TEST_TMPDIR/zone/ed._domainkey.crepes.test"
	cp "$K/rsa.txt" "$BATS_TEST_TMPDIR/zone/rsa._domainkey.crepes.test"
	fault accept
	run fmsend "${both_keys[@]}" -f alice@crepes.test bob@example.net <"$MSG"
	assert_success
	received 1
	run od_verify "$BATS_TEST_TMPDIR/got.eml"
	assert_output $'dkim=pass header.a=ed25519-sha256 header.s=ed\ndkim=pass header.a=rsa-sha256 header.s=rsa'
	perl -pi -e 's/Hello  Bob/Hello Eve/' "$BATS_TEST_TMPDIR/got.eml"
	run od_verify "$BATS_TEST_TMPDIR/got.eml"
	assert_output $'dkim=fail header.a=ed25519-sha256 header.s=ed\ndkim=fail header.a=rsa-sha256 header.s=rsa'
	# simple/simple, over a body with trailing blanks and empty lines
	printf 'From: alice@crepes.test\nSubject: s\n\ncaf\303\251   \n \n\n\n' >"$MSG"
	run fmsend --dkim-canon simple/simple --dkim-key "$K/rsa.pem" --dkim-selector rsa \
		-f alice@crepes.test bob@example.net <"$MSG"
	assert_success
	received 2
	run od_verify "$BATS_TEST_TMPDIR/got.eml"
	assert_output 'dkim=pass header.a=rsa-sha256 header.s=rsa'
}

@test "mparse --verify passes what OpenDKIM signed (rsa-sha256 relaxed/relaxed, simple/simple; ed25519-sha256 relaxed/simple), fails it tampered" {
	dns txt
	cp "$K/ed.txt" "$BATS_TEST_TMPDIR/zone/ed._domainkey.crepes.test"
	cp "$K/rsa.txt" "$BATS_TEST_TMPDIR/zone/rsa._domainkey.crepes.test"
	local t=$BATS_TEST_TMPDIR
	od_sign "$K/rsa.pem" rsa rsa-sha256 relaxed/relaxed "$MSG" "$t/o1.eml"
	# (relaxed/simple: OpenDKIM 2.11's Ed25519 signatures with simple header
	# canonicalization verify neither with dkimpy nor with OpenDKIM itself)
	od_sign "$K/ed.pem" ed ed25519-sha256 relaxed/simple "$t/o1.eml" "$t/o2.eml"
	grep -q '^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=crepes.test; s=rsa;' "$t/o2.eml"
	run verify --authserv-id mx.test "$t/o2.eml"
	assert_success
	assert_output "$t/o2.eml: mx.test; dkim=pass header.d=crepes.test header.s=ed header.a=ed25519-sha256; dkim=pass header.d=crepes.test header.s=rsa header.a=rsa-sha256; spf=none (not evaluated: no --spf-ip); dmarc=none header.from=crepes.test (no DMARC record for crepes.test)"
	od_sign "$K/rsa.pem" rsa rsa-sha256 simple/simple "$MSG" "$t/o3.eml"
	run verify --authserv-id mx.test "$t/o3.eml"
	assert_output "$t/o3.eml: mx.test; dkim=pass header.d=crepes.test header.s=rsa header.a=rsa-sha256; spf=none (not evaluated: no --spf-ip); dmarc=none header.from=crepes.test (no DMARC record for crepes.test)"
	perl -pe 's/^Subject: signed/Subject: resigned/' "$t/o2.eml" >"$t/o4.eml"
	run verify "$t/o4.eml"
	assert_output --partial "; dkim=fail header.d=crepes.test header.s=rsa header.a=rsa-sha256 (the signature does not verify);"
	assert_output --partial "; dkim=fail header.d=crepes.test header.s=ed header.a=ed25519-sha256 (the signature does not verify);"
}

# ------------------------------------------------------------ end to end

@test "end to end: msend signs, the peers' Postfix delivers into Dovecot, mfetch fetches into a Maildir; mparse --verify (keys from knot) and OpenDKIM pass it" {
	[ "$(id -u)" = 0 ] || fail "the peers need root (the suite runs as root)"
	export MFETCH=${MFETCH:-$BATS_TEST_DIRNAME/../../build/tools/mfetch/mfetch}
	export PEERS=${PEERS:-$BATS_TEST_DIRNAME/../peers/peers.sh}
	# the key records in a zone of their own, dkim.test, which knot serves too
	local z=$BATS_TEST_TMPDIR/zones rec
	mkdir -p "$z"
	{
		printf '%s\n' '$ORIGIN dkim.test.' '$TTL 300' \
			'@ SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300' \
			'@ NS ns1.example.test.'
		for rec in rsa ed; do
			# in strings of at most 200 octets (a TXT string holds 255)
			printf '%s._domainkey TXT' "$rec"
			fold -w 200 "$K/$rec.txt" | sed 's/.*/ "&"/' | tr -d '\n'
			echo
		done
	} >"$z/dkim.test.zone"
	PEERS_EXTRA_ZONES=$z peers_up dkim 25353 25354 22525 22587 22465 22526 22527 21143 21993 21110 21995
	printf '%s\n' 'From: Alice <alice@dkim.test>' 'To: bob@example.test' 'Subject: signed end to end' \
		'Message-ID: <e2e-1@dkim.test>' '' 'Hello  Bob,' '.a line with a dot' >"$MSG"
	run "$MSEND" --no-tls --no-queue --server "127.0.0.1:$SMTP_PORT" --timeout 30 "${both_keys[@]}" \
		-f alice@dkim.test bob@example.test <"$MSG"
	assert_success
	# a hang guard only (60 s): Postfix delivers when it can
	for _ in $(seq 3000); do
		grep -qlF 'Message-ID: <e2e-1@dkim.test>' "$BOB_MAILDIR"/new/* 2>/dev/null && break
		sleep 0.02
	done
	local md=$BATS_TEST_TMPDIR/Maildir
	run "$MFETCH" --server "127.0.0.1:$IMAP_PORT" --user bob --ca-file "$CA" \
		--password-eval 'echo hungry' --to "$md/"
	assert_success
	local f
	f=$(grep -lF 'Message-ID: <e2e-1@dkim.test>' "$md"/new/* "$md"/cur/* 2>/dev/null | head -1)
	[ -n "$f" ] || fail "the message is not in $md"
	# Postfix added its Received: field above the signatures
	head -1 "$f" | grep -q '^Return-Path:\|^Received:\|^Delivered-To:' || fail "no field of the servers on top"
	run "$MPARSE" --verify --dns-server "127.0.0.1:$DNS_PORT" "$md"
	assert_success
	assert_line --regexp '; dkim=pass header.d=dkim.test header.s=rsa header.a=rsa-sha256;'
	assert_line --regexp '; dkim=pass header.d=dkim.test header.s=ed header.a=ed25519-sha256;'
	refute_output --partial 'dkim=fail'
	# OpenDKIM, asking the same knot
	# (opendkim -t takes a list: a Maildir name has a comma)
	DPORT=$DNS_PORT
	cp "$f" "$BATS_TEST_TMPDIR/fetched.eml"
	run od_verify "$BATS_TEST_TMPDIR/fetched.eml"
	assert_output $'dkim=pass header.a=ed25519-sha256 header.s=ed\ndkim=pass header.a=rsa-sha256 header.s=rsa'
}
