#!/usr/bin/env bats
# mmx --probe against the real Postfix of the peers harness (STARTTLS,
# the test CA, DANE with TLSA records from knot) and against smtpfault,
# a scripted misbehaving server (plaintext injection after STARTTLS,
# tarpits, garbage).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/peers'

setup_file() {
	export MMX=${MMX:-$BATS_TEST_DIRNAME/../../build/tools/mmx/mmx}
	export PEERS=${PEERS:-$BATS_TEST_DIRNAME/../peers/peers.sh}
	if [ "$(id -u)" != 0 ]; then
		export SKIP_ALL="the peers need root (the suite runs as root)"
		return
	fi
	peers_up probe 26410 26409 26402 26403 26404 26400 26401 26405 26406 26407 26408 || return 1
	: "${SMTPFAULT:=$BATS_FILE_TMPDIR/smtpfault}"
	if [ ! -x "$SMTPFAULT" ]; then
		cc -std=c17 -D_GNU_SOURCE -O2 -o "$SMTPFAULT" "$BATS_TEST_DIRNAME/../fault/smtpfault.c"
	fi
	export SMTPFAULT
}

teardown_file() {
	peers_down
}

setup() {
	[ -z "${SKIP_ALL:-}" ] || skip "$SKIP_ALL"
}

mmx() {
	"$MMX" -@ 127.0.0.1 -p "$DNS_PORT" --timeout 30 "$@"
}

# start smtpfault [OPTION...] MODE in the background; sets FPORT and FPID
fault() {
	local out="$BATS_TEST_TMPDIR/fault.out"
	"$SMTPFAULT" -P "$BATS_TEST_TMPDIR/fault.pid" "$@" >"$out" 2>/dev/null 3>&- &
	for _ in $(seq 3000); do grep -q '^PORT=' "$out" 2>/dev/null && break; sleep 0.02; done
	FPORT=$(sed -n 's/^PORT=//p' "$out")
	FPID=$(cat "$BATS_TEST_TMPDIR/fault.pid")
}

teardown() {
	if [ -n "${FPID:-}" ]; then
		kill "$FPID" 2>/dev/null || true
		FPID=
	fi
}

@test "probe: STARTTLS to Postfix verifies with the test CA, for the MX name" {
	run mmx --probe --smtp-port "$SMTP_PORT" --ca-file "$PDIR/tls/ca.crt" -4 hamburger.test
	assert_success
	assert_output --partial "banner"
	assert_output --partial "220 "
	assert_output --partial "STARTTLS"
	assert_output --regexp "TLS +TLSv1\.[23]"
	assert_output --partial "verify      ok for mx.hamburger.test"
	assert_output --regexp "SHA-256 +([0-9A-F]{2}:){31}[0-9A-F]{2}"
	assert_output --partial "DNS:mx.hamburger.test"
	# EHLO after TLS offers AUTH, before TLS it did not (smtpd_tls_auth_only)
	assert_output --regexp "EHLO +[0-9.]+ ms .*STARTTLS"
	assert_output --regexp "EHLO \(TLS\) .*AUTH"
}

@test "probe: without the test CA the certificate does not verify, and says why" {
	run mmx --probe --smtp-port "$SMTP_PORT" -4 hamburger.test
	assert_success
	assert_output --partial "verify      FAILED for mx.hamburger.test"
	assert_output --partial "self-signed certificate in certificate chain"
}

@test "probe: a name the certificate does not cover fails verification" {
	run mmx --probe --smtp-port "$SMTP_PORT" --ca-file "$PDIR/tls/ca.crt" danebad.example.test
	assert_success
	assert_output --partial "verify      FAILED for badtlsa.example.test"
	assert_output --partial "hostname mismatch"
}

@test "probe --tlsa: the right TLSA 3 1 1 record matches, a wrong one does not" {
	run mmx --probe --tlsa --smtp-port "$SMTP_PORT" --ca-file "$PDIR/tls/ca.crt" -4 example.test
	assert_output --regexp "probe mx1\.example\.test"
	assert_output --regexp "TLSA  3 1 1 [0-9a-f]{64}"
	assert_output --partial "NOT authenticated (AD clear)"
	# unsigned: the match says so, and claims no authentication by DNS
	assert_output --partial "DANE        a TLSA record matched (usage 3), but the answer was not authenticated (AD clear): no DANE for a sender"
	refute_output --partial "authenticated by DNS"
	run mmx --probe --tlsa --smtp-port "$SMTP_PORT" --ca-file "$PDIR/tls/ca.crt" danebad.example.test
	assert_output --partial "TLSA  3 1 1 0000000000000000"
	assert_output --partial "DANE        no TLSA record matched"
}

@test "probe: shows PTR, every address and a closing QUIT; never sends mail" {
	local before
	before=$(ls "$PDIR/mail/bob/Maildir/new" 2>/dev/null | wc -l)
	run mmx -v --probe --smtp-port "$SMTP_PORT" --ca-file "$PDIR/tls/ca.crt" hamburger.test
	assert_success
	assert_output --partial "-> 127.0.0.1 port $SMTP_PORT"
	assert_output --partial "PTR"
	assert_output --partial "C: QUIT"
	refute_output --partial "C: MAIL FROM"
	refute_output --partial "C: DATA"
	[ "$(ls "$PDIR/mail/bob/Maildir/new" 2>/dev/null | wc -l)" = "$before" ]
}

@test "probe: the server's bytes after its STARTTLS reply stop the handshake (plaintext injection)" {
	fault inject
	run mmx --probe --smtp-port "$FPORT" -4 hamburger.test
	assert_output --partial "after its STARTTLS reply"
	assert_output --partial "plaintext injection"
	refute_output --partial "TLS         TLSv"
}

@test "probe: a tarpit's delay is shown on the banner line" {
	fault tarpit
	run mmx --probe --smtp-port "$FPORT" -4 hamburger.test
	assert_success
	assert_output --regexp "banner +(19[0-9]{2}|[2-9][0-9]{3}|[1-9][0-9]{4,})\.[0-9] ms"
}

@test "probe: garbage, a bad code, an overlong line and a closed connection are reported, not crashed on" {
	local m
	for m in garbage badcode longline close; do
		fault "$m"
		run timeout 120 "$MMX" -@ 127.0.0.1 -p "$DNS_PORT" --timeout 30 --probe --smtp-port "$FPORT" -4 hamburger.test
		[ "$status" -lt 128 ] || fail "$m: mmx died with status $status"
		assert_output --partial "banner      failed"
		kill "$FPID"
		FPID=
	done
}

@test "probe: 200-line EHLO reply is refused as over the bound" {
	fault manylines
	run mmx --probe --smtp-port "$FPORT" -4 hamburger.test
	assert_output --partial "more than 100 lines"
}

@test "probe: a server without STARTTLS is flagged" {
	fault nostarttls
	run mmx --probe --smtp-port "$FPORT" -4 hamburger.test
	assert_success
	assert_output --partial "not offered: mail to this host travels in clear"
}

@test "probe: control characters in the banner and EHLO reply (ESC ] 0 ; ... BEL, U+009B, a raw 0x9b, DEL, CR) are shown as \\xHH in the text and -v, never raw; -j keeps them, escaped" {
	local shown='\x1b]0;pwned\x07 \u009b \x9b \x7f \x0d' f
	fault -e nostarttls
	mmx --probe --smtp-port "$FPORT" -4 hamburger.test >"$BATS_TEST_TMPDIR/text" 2>&1
	mmx -v --probe --smtp-port "$FPORT" -4 hamburger.test >"$BATS_TEST_TMPDIR/trace" 2>&1
	mmx -j --probe --smtp-port "$FPORT" -4 hamburger.test >"$BATS_TEST_TMPDIR/json" 2>&1
	for f in text trace json; do
		! LC_ALL=C grep -qaP '[\x00-\x08\x0b-\x1f\x7f-\x9f]' "$BATS_TEST_TMPDIR/$f" ||
			fail "a raw control byte in $f: $(od -c "$BATS_TEST_TMPDIR/$f" | head -20)"
	done
	grep -qF "banner" "$BATS_TEST_TMPDIR/text" && grep -qF " 220 smtpfault $shown ESMTP" "$BATS_TEST_TMPDIR/text" ||
		fail "banner: $(cat "$BATS_TEST_TMPDIR/text")"
	grep -qxF "S: 220 smtpfault $shown ESMTP" "$BATS_TEST_TMPDIR/trace" || fail "-v banner: $(cat "$BATS_TEST_TMPDIR/trace")"
	grep -qxF "S: 250-smtpfault $shown hello" "$BATS_TEST_TMPDIR/trace" || fail "-v EHLO: $(cat "$BATS_TEST_TMPDIR/trace")"
	jq -se '[.[] | select(.type == "probe")] | length > 0 and all(.banner == "smtpfault \u001b]0;pwned\u0007 \u009b \ufffd \u007f \r ESMTP")' \
		"$BATS_TEST_TMPDIR/json" >/dev/null || fail "-j: $(cat "$BATS_TEST_TMPDIR/json")"
}

@test "probe: nothing listening on any address of any MX is exit 69" {
	run mmx --probe --smtp-port 1 hamburger.test
	assert_failure 69
	assert_output --partial "connect     failed"
}

@test "DNSSEC: through the validating unbound, the signed zone's answer has AD, the unsigned one not" {
	run "$MMX" -@ 127.0.0.1 -p "$UNBOUND_PORT" --timeout 30 -j secure.test example.test
	assert_success
	assert_output --regexp '"domain":"secure.test",[^]]*"ad":true'
	assert_output --regexp '"domain":"example.test",[^]]*"ad":false'
	run "$MMX" -@ 127.0.0.1 -p "$UNBOUND_PORT" --timeout 30 secure.test
	assert_output --partial "note: the answer was authenticated (AD)"
}

@test "DNSSEC + DANE: a TLSA record from the signed zone is usable and matches" {
	run "$MMX" -@ 127.0.0.1 -p "$UNBOUND_PORT" --timeout 30 --probe --tlsa --smtp-port "$SMTP_PORT" \
		--ca-file "$PDIR/tls/ca.crt" secure.test
	assert_success
	assert_output --partial "TLSA  answer authenticated (AD set): usable for DANE"
	assert_output --partial "DANE        a TLSA record matched (usage 3): the chain is authenticated by DNS"
}

@test "DNSSEC + DANE: a TLSA record from an unsigned zone is shown as not secure" {
	run "$MMX" -@ 127.0.0.1 -p "$UNBOUND_PORT" --timeout 30 --probe --tlsa --smtp-port "$SMTP_PORT" \
		--ca-file "$PDIR/tls/ca.crt" -4 example.test
	assert_output --partial "TLSA  answer NOT authenticated (AD clear)"
}

# an HTTPS server for MTA-STS policies: openssl s_server -WWW serving
# $BATS_TEST_TMPDIR/www with the peers' certificate (names mta-sts.*)
sts_server() {
	local port
	mkdir -p "$BATS_TEST_TMPDIR/www/.well-known"
	printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.example.test\r\nmax_age: 86400\r\n' \
		>"$BATS_TEST_TMPDIR/www/.well-known/mta-sts.txt"
	port=$((20000 + RANDOM % 20000))
	(cd "$BATS_TEST_TMPDIR/www" && exec openssl s_server -quiet -accept "127.0.0.1:$port" \
		-cert "$PDIR/tls/server-chain.pem" -key "$PDIR/tls/server.key" -WWW </dev/null >/dev/null 2>&1 3>&-) &
	FPID=$!
	for _ in $(seq 3000); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.02; done
	STS="127.0.0.1:$port"
}

@test "policy: MTA-STS record and policy over verified HTTPS, TLS-RPT, SPF, DMARC side by side" {
	sts_server
	run mmx --policy --sts-addr "$STS" --ca-file "$PDIR/tls/ca.crt" example.test
	assert_success
	assert_output --partial "MTA-STS   v=STSv1; id=20261126"
	assert_output --partial "policy from https://mta-sts.example.test/.well-known/mta-sts.txt (certificate verified)"
	assert_output --partial "| mode: enforce"
	assert_output --partial "TLS-RPT   v=TLSRPTv1; rua=mailto:tls-reports@example.test"
	assert_output --partial "SPF       v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"
	assert_output --partial "DMARC     v=DMARC1; p=reject"
	# every MX of example.test is allowed by "*.example.test"
	refute_output --partial "not allowed by the MTA-STS policy"
	# and all of them point at loopback addresses, which a sender on the
	# internet could not use
	assert_output --partial "problem:  MX mx1.example.test has a private or loopback address 127.0.0.1"
}

@test "policy: an MX the MTA-STS policy does not list is flagged" {
	sts_server
	run mmx --policy --sts-addr "$STS" --ca-file "$PDIR/tls/ca.crt" hamburger.test
	assert_success
	assert_output --partial "problem:  MX mx.hamburger.test is not allowed by the MTA-STS policy (mode enforce)"
}

@test "policy: the policy host's certificate must verify (RFC 8461 3.3)" {
	sts_server
	run mmx --policy --sts-addr "$STS" example.test
	assert_output --partial "MTA-STS   policy: mta-sts.example.test: TLS: certificate not trusted"
	refute_output --partial "| mode: enforce"
}

@test "policy: a TXT record over 1,024 bytes (a 1,080-byte DMARC) is shown whole, not dropped" {
	run mmx --policy longtxt.example.test
	assert_success
	assert_output --regexp 'DMARC     v=DMARC1; p=quarantine; rua=mailto:dmarc@example\.test; x-pad=pad1-0+pad2-0+pad3-0+pad4-0+; x-end=yes'
	refute_output --partial "DMARC     none"
}

@test "policy: control characters in a TXT record (ESC ] 0 ; ... BEL, a C1 CSI) are shown as \\xHH, never raw" {
	run mmx --policy ctltxt.example.test
	assert_success
	assert_output --partial 'DMARC     v=DMARC1; p=none; x=\x1b]0;pwned\x07 \u009b'
	[[ $output != *$'\033'* && $output != *$'\a'* && $output != *$'\302\233'* ]] || fail "a raw control byte in the output"
}

@test "policy: an unreachable policy host is reported, and a domain without records says none" {
	run mmx --policy --sts-addr 127.0.0.1:1 --ca-file "$PDIR/tls/ca.crt" example.test
	assert_output --partial "policy: cannot reach mta-sts.example.test"
	run mmx --policy crepes.test
	assert_success
	assert_output --partial "MTA-STS   none"
	assert_output --partial "DMARC     none"
}

@test "policy --dkim-selector: the key record, its algorithm, size and flags (RSA 2048 t=y, Ed25519 t=s); no problem" {
	run mmx --policy --dkim-selector rsa2048 --dkim-selector ed example.test
	assert_success
	assert_output --partial "  DKIM key rsa2048._domainkey.example.test"
	assert_output --regexp '    record    v=DKIM1; k=rsa; t=y; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA[A-Za-z0-9+/]+=*'
	assert_line "    key       rsa, 2048 bits"
	assert_line "    flags     t=y (testing: verifiers treat its signatures as none)"
	assert_output --partial "  DKIM key ed._domainkey.example.test"
	assert_line "    key       ed25519, 256 bits"
	assert_line "    flags     t=s (i= must be in d= itself, no subdomain)"
	# each key block ends with its count
	[ "$(grep -c '^    0 problems found$' <<<"$output")" = 2 ]
	refute_output --partial "problem:  too short"
}

@test "policy --dkim-selector: RSA under 1,024 bits is too short; a p= that is no base64 is a syntax problem; revoked, two records, none" {
	run mmx --policy --dkim-selector rsa512 --dkim-selector badsyntax --dkim-selector revoked \
		--dkim-selector twice --dkim-selector nosuch example.test
	assert_success
	assert_line "    key       rsa, 512 bits"
	assert_line "    problem:  too short: an RSA key of 512 bits; verifiers refuse keys under 1024 bits (RFC 8301 3.2)"
	assert_line "    record    v=DKIM1; k=rsa; p=MIGf*not-base64*"
	assert_line "    problem:  syntax: p= is no base64 key (at octet 19)"
	assert_line "    key       rsa, revoked"
	assert_line "    problem:  the key is revoked (p= is empty): every signature with it fails"
	assert_line "    problem:  2 TXT records at twice._domainkey.example.test: verifiers may take any of them"
	assert_line "    problem:  no key record at nosuch._domainkey.example.test"
	[ "$(grep -c '^    1 problem found$' <<<"$output")" = 5 ]
}

@test "policy -j --dkim-selector: a JSON line a selector (type dkim): key_type, bits as a number, flags, problems" {
	run mmx -j --policy --dkim-selector rsa2048 --dkim-selector rsa512 --dkim-selector badsyntax example.test
	assert_success
	run jq -c 'objects | select(.type == "dkim") | [.selector, .name, .key_type, .bits, .testing, .strict, .revoked, (.problems | length), .error]' <<<"$output"
	assert_success
	assert_output '["rsa2048","rsa2048._domainkey.example.test","rsa",2048,true,false,false,0,null]
["rsa512","rsa512._domainkey.example.test","rsa",512,false,false,false,1,null]
["badsyntax","badsyntax._domainkey.example.test",null,null,false,false,false,1,null]'
	run mmx -j --policy --dkim-selector rsa2048 example.test
	run jq -r 'objects | select(.type == "dkim") | .record' <<<"$output"
	assert_output --regexp '^v=DKIM1; k=rsa; t=y; p=MIIB[A-Za-z0-9+/]+=*$'
}

@test "policy --dkim-selector: without --policy, or a selector that is no DNS label, is a usage error (64)" {
	run mmx --dkim-selector s1 example.test
	assert_failure 64
	assert_output --partial "--dkim-selector needs --policy"
	run mmx --policy --dkim-selector 'a b' example.test
	assert_failure 64
	assert_output --partial "invalid --dkim-selector: 'a b'"
	run mmx --policy --dkim-selector 'x..y' example.test
	assert_failure 64
	# in the usage, the manual and the three completions
	local d=${COMPDIR:-$BATS_TEST_DIRNAME/../../completions} m=${MANDIR:-$BATS_TEST_DIRNAME/../../man}
	"$MMX" -h | grep -q -- '--dkim-selector S' || fail "not in mmx -h"
	grep -q '^\.It Fl -dkim-selector Ar selector' "$m/mmx.1" || fail "not in mmx.1"
	grep -q -- '--dkim-selector' "$d/bash/mmx" || fail "not in the bash completion"
	grep -q -- '--dkim-selector=' "$d/zsh/_mmx" || fail "not in the zsh completion"
	grep -q -- '-l dkim-selector' "$d/fish/mmx.fish" || fail "not in the fish completion"
	run mandoc -Tlint -Wwarning "$m/mmx.1"
	assert_output ''
}
