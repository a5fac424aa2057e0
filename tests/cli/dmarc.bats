#!/usr/bin/env bats
# mparse --verify beyond DKIM: SPF (RFC 7208) for --spf-ip, --mail-from and
# --helo, run over the cases of fixtures/spf-rfc7208.txt (written from the
# RFC's examples and rules); DMARC (RFC 7489) with messages dkimpy signed
# (Debian's python3-dkim): pass by an aligned signature or by SPF, fail
# with p=reject, relaxed and strict alignment with a subdomain (sp=), the
# organizational domain by the Public Suffix List (mail.example.co.uk is
# under example.co.uk; evil.co.uk is not) and without it; the one
# Authentication-Results line, -j, and --add-results in front of
# mdeliver. DNS answers come from dnsfault's txt mode (files a test
# writes: DIR/NAME for a TXT, DIR/TYPE/NAME for others; loopback addresses).
#
# MPARSE, MDELIVER and DNSFAULT come from meson (defaults: the build tree).

# shellcheck disable=SC2154,SC2015
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load helpers/dnsfault
load helpers/documented

bats_require_minimum_version 1.5.0

setup_file() {
	export MPARSE=${MPARSE:-$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse}
	export MDELIVER=${MDELIVER:-$BATS_TEST_DIRNAME/../../build/tools/mdeliver/mdeliver}
	export DNSFAULT=${DNSFAULT:-$BATS_TEST_DIRNAME/../../build/tests/fault/dnsfault}
	export PY=/usr/bin/python3
	K=$BATS_FILE_TMPDIR/keys
	mkdir -p "$K"
	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.pem" 2>/dev/null
	printf 'v=DKIM1; k=rsa; p=%s' \
		"$(openssl pkey -in "$K/rsa.pem" -pubout -outform DER | base64 -w0)" >"$K/rsa.txt"
}

setup() {
	export K=$BATS_FILE_TMPDIR/keys TMPDIR=$BATS_TEST_TMPDIR LC_ALL=C
	unset MAILPIPE_PSL
	Z=$BATS_TEST_TMPDIR/zone
	mkdir -p "$Z"/{A,AAAA,MX,PTR,TXT}
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

# serve MODE: dnsfault MODE answering from $Z; sets DPORT
serve() {
	dnsfault_start "$1" "$Z"
	PIDS+=("$DPID")
}

v() { "$MPARSE" --verify --authserv-id mx.test --dns-server "127.0.0.1:$DPORT" "$@"; }

# msg FILE FROM: a message from FROM
msg() {
	printf '%s\n' "From: Alice <$2>" 'To: bob@example.net' 'Subject: dmarc' \
		'Date: Thu, 01 Jan 2026 10:00:00 +0000' 'Message-ID: <dmarc-1@example.com>' '' \
		'Hello Bob.' >"$1"
}

# signed FILE FROM D: a message from FROM that dkimpy signed with d=D
# (selector sel), its key record served
signed() {
	msg "$BATS_TEST_TMPDIR/plain.eml" "$2"
	"$PY" /usr/bin/dkimsign sel "$3" "$K/rsa.pem" <"$BATS_TEST_TMPDIR/plain.eml" >"$1"
	cp "$K/rsa.txt" "$Z/sel._domainkey.$3"
}

@test "spf: the cases of fixtures/spf-rfc7208.txt (RFC 7208's examples and rules) give their results" {
	local kw rest t name data ip from helo want got n=0 line=0 bad=()
	serve txt
	msg "$BATS_TEST_TMPDIR/m.eml" user@example.com
	while IFS= read -r l; do
		line=$((line + 1))
		read -r kw rest <<<"$l"
		case $kw in
		zone)
			read -r t name data <<<"$rest"
			printf '%s\n' "$data" >>"$Z/$t/$name"
			;;
		record)
			read -r name data <<<"$rest"
			printf '%s\n' "$data" >"$Z/TXT/$name"
			;;
		check)
			read -r ip from helo want <<<"$rest"
			[ "$from" = '<>' ] && from=
			args=(--spf-ip "$ip" --mail-from "$from")
			[ "$helo" = - ] || args+=(--helo "$helo")
			got=$(v -j "${args[@]}" "$BATS_TEST_TMPDIR/m.eml" | jq -r '.spf.result + " (" + .spf.reason + ")"')
			n=$((n + 1))
			[ "${got%% *}" = "$want" ] || bad+=("line $line: $ip $from: $want expected, got $got")
			;;
		esac
	done <"$BATS_TEST_DIRNAME/fixtures/spf-rfc7208.txt"
	echo "# $n SPF cases" >&3
	[ "$n" -ge 70 ] || fail "only $n cases"
	[ ${#bad[@]} = 0 ] || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "spf: the line and -j: pass with smtp.mailfrom; not evaluated without --spf-ip; temperror when the DNS fails; the lookups counted" {
	serve txt
	msg "$BATS_TEST_TMPDIR/m.eml" alice@example.com
	echo 'v=spf1 a:mx.example.com ip4:127.0.0.0/24 -all' >"$Z/example.com"
	echo 127.0.0.25 >"$Z/A/mx.example.com"
	run v --spf-ip 127.0.0.25 --mail-from bounce@example.com --helo mx.example.com "$BATS_TEST_TMPDIR/m.eml"
	assert_success
	assert_output "$BATS_TEST_TMPDIR/m.eml: mx.test; dkim=none (no signature); spf=pass smtp.mailfrom=bounce@example.com smtp.helo=mx.example.com (example.com: a:mx.example.com); dmarc=none header.from=example.com (no DMARC record for example.com)"
	run v -j --spf-ip 127.0.1.1 --mail-from bounce@example.com "$BATS_TEST_TMPDIR/m.eml"
	assert_success
	run jq -r '.spf | [.evaluated, .result, .mailfrom, .domain, .ip, .lookups, .void_lookups, .reason] | map(tostring) | join("|")' <<<"$output"
	assert_output 'true|fail|bounce@example.com|example.com|127.0.1.1|1|0|example.com: -all'
	run v "$BATS_TEST_TMPDIR/m.eml"
	assert_output --partial '; spf=none (not evaluated: no --spf-ip); '
	run v -j "$BATS_TEST_TMPDIR/m.eml"
	run jq -r '.spf | [.evaluated, .result, .reason] | map(tostring) | join("|")' <<<"$output"
	assert_output 'false|none|not evaluated: no --spf-ip'
	serve servfail
	run v --spf-ip 127.0.0.25 --mail-from bounce@example.com "$BATS_TEST_TMPDIR/m.eml"
	assert_success
	assert_output --partial '; spf=temperror smtp.mailfrom=bounce@example.com (TXT example.com: SERVFAIL); dmarc=temperror'
}

@test "spf: usage: --spf-ip needs --mail-from, takes an address; --helo, --mail-from, --add-results only with --verify (64)" {
	msg "$BATS_TEST_TMPDIR/m.eml" alice@example.com
	run "$MPARSE" --verify --spf-ip 127.0.0.1 "$BATS_TEST_TMPDIR/m.eml"
	assert_failure 64
	assert_output --partial 'needs --mail-from'
	run "$MPARSE" --verify --spf-ip 127.0.0.300 --mail-from a@example.com --dns-server 127.0.0.1:9 "$BATS_TEST_TMPDIR/m.eml"
	assert_failure 64
	assert_output --partial "'127.0.0.300' is not an IPv4 or IPv6 address"
	run "$MPARSE" --helo mx.example.com "$BATS_TEST_TMPDIR/m.eml"
	assert_failure 64
	run "$MPARSE" --add-results "$BATS_TEST_TMPDIR/m.eml"
	assert_failure 64
	run "$MPARSE" --verify --add-results "$BATS_TEST_TMPDIR/m.eml" "$BATS_TEST_TMPDIR/m.eml"
	assert_failure 64
	assert_output --partial 'one message only'
	run "$MPARSE" --verify --add-results "$BATS_TEST_TMPDIR"
	assert_failure 64
	run "$MPARSE" --verify --add-results -j "$BATS_TEST_TMPDIR/m.eml"
	assert_failure 64
}

@test "dmarc: an aligned DKIM signature passes; p=reject and no aligned pass fails (tampered, or d= of another domain); -j has the policy" {
	serve txt
	echo 'v=DMARC1; p=reject; rua=mailto:dmarc@example.com' >"$Z/_dmarc.example.com"
	signed "$BATS_TEST_TMPDIR/s.eml" alice@example.com example.com
	run v "$BATS_TEST_TMPDIR/s.eml"
	assert_success
	assert_output "$BATS_TEST_TMPDIR/s.eml: mx.test; dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256; spf=none (not evaluated: no --spf-ip); dmarc=pass header.from=example.com (p=reject)"
	run v -j "$BATS_TEST_TMPDIR/s.eml"
	run jq -r '.dmarc | [.result, .from, .org, .record, .policy, .adkim, .pct, .dkim_aligned, .spf_aligned] | map(tostring) | join("|")' <<<"$output"
	assert_output 'pass|example.com|example.com|_dmarc.example.com|reject|r|100|true|false'
	# tampered: the signature fails, nothing else passes
	perl -pe 's/Hello Bob/Hello Eve/' "$BATS_TEST_TMPDIR/s.eml" >"$BATS_TEST_TMPDIR/t.eml"
	run v "$BATS_TEST_TMPDIR/t.eml"
	assert_success
	assert_output --partial '; dkim=fail header.d=example.com header.s=sel header.a=rsa-sha256 (the body hash does not match (bh=))'
	assert_output --partial '; dmarc=fail header.from=example.com (p=reject: neither DKIM nor SPF passed)'
	# a good signature of another domain does not count
	signed "$BATS_TEST_TMPDIR/o.eml" alice@example.com other.example.net
	run v -j "$BATS_TEST_TMPDIR/o.eml"
	run jq -r '[.dkim[0].result, .dkim[0].d, .dmarc.result, .dmarc.policy, .dmarc.dkim_aligned] | map(tostring) | join("|")' <<<"$output"
	assert_output 'pass|other.example.net|fail|reject|false'
	# no record: none; a bad one: permerror
	rm "$Z/_dmarc.example.com"
	run v "$BATS_TEST_TMPDIR/o.eml"
	assert_output --partial '; dmarc=none header.from=example.com (no DMARC record for example.com)'
	echo 'v=DMARC1; p=never' >"$Z/_dmarc.example.com"
	run v "$BATS_TEST_TMPDIR/o.eml"
	assert_output --partial '; dmarc=permerror header.from=example.com (_dmarc.example.com: DMARC record, byte 18: no valid p= (and no rua=))'
}

@test "dmarc: a subdomain: relaxed alignment passes with the organizational domain's record (sp= applies), strict fails" {
	serve txt
	echo 'v=DMARC1; p=quarantine; sp=reject' >"$Z/_dmarc.example.com"
	signed "$BATS_TEST_TMPDIR/s.eml" alice@mail.example.com example.com
	run v -j "$BATS_TEST_TMPDIR/s.eml"
	run jq -r '.dmarc | [.result, .from, .org, .record, .policy, .p, .sp, .adkim] | map(tostring) | join("|")' <<<"$output"
	assert_output 'pass|mail.example.com|example.com|_dmarc.example.com|reject|quarantine|reject|r'
	echo 'v=DMARC1; p=quarantine; sp=reject; adkim=s' >"$Z/_dmarc.example.com"
	run v "$BATS_TEST_TMPDIR/s.eml"
	assert_output --partial '; dmarc=fail header.from=mail.example.com (p=reject: no aligned identifier passed)'
	# the From: domain's own record comes first: its p=, not sp=, and its adkim=
	echo 'v=DMARC1; p=none' >"$Z/_dmarc.mail.example.com"
	run v "$BATS_TEST_TMPDIR/s.eml"
	assert_output --partial '; dmarc=pass header.from=mail.example.com (p=none)'
}

@test "dmarc: SPF aligns by the MAIL FROM domain: relaxed passes with a bounce subdomain, strict fails" {
	serve txt
	msg "$BATS_TEST_TMPDIR/m.eml" alice@example.com
	echo 'v=spf1 ip4:127.0.0.25 -all' >"$Z/bounces.example.com"
	echo 'v=DMARC1; p=reject' >"$Z/_dmarc.example.com"
	run v --spf-ip 127.0.0.25 --mail-from b-1@bounces.example.com "$BATS_TEST_TMPDIR/m.eml"
	assert_output --partial '; spf=pass smtp.mailfrom=b-1@bounces.example.com (bounces.example.com: ip4:127.0.0.25); dmarc=pass header.from=example.com (p=reject)'
	echo 'v=DMARC1; p=reject; aspf=s' >"$Z/_dmarc.example.com"
	run v --spf-ip 127.0.0.25 --mail-from b-1@bounces.example.com "$BATS_TEST_TMPDIR/m.eml"
	assert_output --partial '; dmarc=fail header.from=example.com (p=reject: no aligned identifier passed)'
	# an SPF fail never aligns
	echo 'v=DMARC1; p=reject' >"$Z/_dmarc.example.com"
	run v --spf-ip 127.0.0.26 --mail-from b-1@bounces.example.com "$BATS_TEST_TMPDIR/m.eml"
	assert_output --partial '; spf=fail smtp.mailfrom=b-1@bounces.example.com (bounces.example.com: -all); dmarc=fail'
}

@test "dmarc: the organizational domain by the Public Suffix List: mail.example.co.uk aligns with example.co.uk, example.co.uk not with evil.co.uk; without the list, a warning and no looser" {
	[ -r /usr/share/publicsuffix/public_suffix_list.dat ] || fail "package publicsuffix is not installed (scripts/deps.sh)"
	serve txt
	echo 'v=DMARC1; p=reject' >"$Z/_dmarc.example.co.uk"
	signed "$BATS_TEST_TMPDIR/s.eml" alice@mail.example.co.uk example.co.uk
	run v -j "$BATS_TEST_TMPDIR/s.eml"
	run jq -r '.dmarc | [.result, .from, .org, .record, .policy] | join("|")' <<<"$output"
	assert_output 'pass|mail.example.co.uk|example.co.uk|_dmarc.example.co.uk|reject'
	# co.uk is a public suffix: another registrant's domain does not align
	echo 'v=DMARC1; p=reject' >"$Z/_dmarc.evil.co.uk"
	signed "$BATS_TEST_TMPDIR/e.eml" alice@example.co.uk evil.co.uk
	run v -j "$BATS_TEST_TMPDIR/e.eml"
	run jq -r '.dmarc | [.result, .org, .dkim_aligned] | map(tostring) | join("|")' <<<"$output"
	assert_output 'fail|example.co.uk|false'
	# a wildcard rule (*.ck) and its exception (!www.ck)
	signed "$BATS_TEST_TMPDIR/w.eml" alice@a.b.example.ck a.b.example.ck
	run v -j "$BATS_TEST_TMPDIR/w.eml"
	assert_equal "$(jq -r .dmarc.org <<<"$output")" b.example.ck
	signed "$BATS_TEST_TMPDIR/w.eml" alice@a.www.ck a.www.ck
	run v -j "$BATS_TEST_TMPDIR/w.eml"
	assert_equal "$(jq -r .dmarc.org <<<"$output")" www.ck
	# no list: a warning naming it; each domain its own organizational domain
	export MAILPIPE_PSL=$BATS_TEST_TMPDIR/none.dat
	run --separate-stderr v -j "$BATS_TEST_TMPDIR/s.eml"
	assert_success
	[[ $stderr == *"$BATS_TEST_TMPDIR/none.dat: No such file or directory: without the Public Suffix List"* ]] ||
		fail "no warning: $stderr"
	run jq -r '.dmarc | [.result, .org] | join("|")' <<<"$output"
	assert_output 'none|mail.example.co.uk'
}

@test "dmarc: no From: address, or two, is a permerror" {
	serve txt
	printf 'Subject: none\n\nx\n' >"$BATS_TEST_TMPDIR/n.eml"
	run v "$BATS_TEST_TMPDIR/n.eml"
	assert_success
	assert_output --partial '; dmarc=permerror (no From: domain)'
	printf 'From: a@example.com, b@example.net\nSubject: two\n\nx\n' >"$BATS_TEST_TMPDIR/two.eml"
	run v "$BATS_TEST_TMPDIR/two.eml"
	assert_output --partial '; dmarc=permerror (more than one From: address)'
	printf 'From: a@example.com\nFrom: b@example.net\nSubject: two\n\nx\n' >"$BATS_TEST_TMPDIR/two.eml"
	run v "$BATS_TEST_TMPDIR/two.eml"
	assert_output --partial '; dmarc=permerror (more than one From: address)'
}

@test "--add-results: the Authentication-Results field on top, the message byte for byte after it (LF and CR LF); mdeliver stores it" {
	serve txt
	echo 'v=DMARC1; p=reject' >"$Z/_dmarc.example.com"
	echo 'v=spf1 ip4:127.0.0.25 -all' >"$Z/example.com"
	signed "$BATS_TEST_TMPDIR/s.eml" alice@example.com example.com
	v --add-results --spf-ip 127.0.0.25 --mail-from alice@example.com <"$BATS_TEST_TMPDIR/s.eml" >"$BATS_TEST_TMPDIR/out.eml"
	head -4 "$BATS_TEST_TMPDIR/out.eml" >"$BATS_TEST_TMPDIR/field"
	run cat "$BATS_TEST_TMPDIR/field"
	assert_output "$(printf '%s\n' 'Authentication-Results: mx.test;' \
		'	dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256;' \
		'	spf=pass smtp.mailfrom=alice@example.com (example.com: ip4:127.0.0.25);' \
		'	dmarc=pass header.from=example.com (p=reject)')"
	tail -n +5 "$BATS_TEST_TMPDIR/out.eml" | cmp - "$BATS_TEST_TMPDIR/s.eml"
	# mparse reads the field back as one (unfolded: the tabs stay)
	run "$MPARSE" -f authentication-results "$BATS_TEST_TMPDIR/out.eml"
	assert_output $'mx.test;\tdkim=pass header.d=example.com header.s=sel header.a=rsa-sha256;\tspf=pass smtp.mailfrom=alice@example.com (example.com: ip4:127.0.0.25);\tdmarc=pass header.from=example.com (p=reject)'
	# CR LF lines: the field's too, and the signature still verifies
	perl -pe 's/\n/\r\n/' "$BATS_TEST_TMPDIR/s.eml" >"$BATS_TEST_TMPDIR/crlf.eml"
	v --add-results "$BATS_TEST_TMPDIR/crlf.eml" >"$BATS_TEST_TMPDIR/out2.eml"
	[ "$(head -c 33 "$BATS_TEST_TMPDIR/out2.eml" | od -An -c | tr -s ' ')" = "$(printf 'Authentication-Results: mx.test;\r' | od -An -c | tr -s ' ')" ]
	tail -n +5 "$BATS_TEST_TMPDIR/out2.eml" | cmp - "$BATS_TEST_TMPDIR/crlf.eml"
	run v "$BATS_TEST_TMPDIR/out2.eml"
	assert_output --partial '; dkim=pass header.d=example.com'
	# as an MDA filter in front of mdeliver
	mkdir -p "$BATS_TEST_TMPDIR/Maildir"
	set -o pipefail
	v --add-results --spf-ip 127.0.0.25 --mail-from alice@example.com <"$BATS_TEST_TMPDIR/s.eml" |
		"$MDELIVER" "$BATS_TEST_TMPDIR/Maildir/"
	local f
	f=$(ls "$BATS_TEST_TMPDIR"/Maildir/new/*)
	cmp "$f" "$BATS_TEST_TMPDIR/out.eml"
	# an unreadable message: nothing on stdout, 65
	run --separate-stderr v --add-results "$BATS_TEST_TMPDIR/missing.eml"
	assert_failure
	assert_output ''
}

@test "mparse: --spf-ip, --helo, --mail-from, --authserv-id, --add-results are in mparse -h, mparse.1 and the completions; mparse.1 says ARC is out of scope; lint clean" {
	local m=${MANDIR:-$BATS_TEST_DIRNAME/../../man}
	documented "$MPARSE" --spf-ip --helo --mail-from --authserv-id --add-results
	grep -q 'ARC' "$m/mparse.1" && grep -qi 'RFC 8617.*not' "$m/mparse.1" || fail "no ARC sentence"
	run mandoc -Tlint -Wwarning "$m/mparse.1"
	assert_output ''
}
