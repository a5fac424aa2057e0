#!/usr/bin/env bats
# mmx(1): MX lookups against a real authoritative server (knot, started by
# tests/peers/peers.sh on ports of its own) with dig as the oracle, ordering and
# shuffling of equal preferences, every status and note, resolv.conf handling,
# time-outs, and a scripted misbehaving DNS server (tests/fault/dnsfault.c).
#
# MMX is the binary under test (default: build/tools/mmx/mmx). PEERS overrides
# the peers script; DNSFAULT names a prebuilt dnsfault, otherwise it is compiled
# from tests/fault/dnsfault.c (its tests are skipped if that file is missing).
# MMX_TEST_NO_JQ=1 parses mmx's text output with awk instead of its JSON with jq.
# Needs root (knot, postfix and dovecot are started as root by peers.sh).
#
# Every mmx call below either names the server (-@ or @SERVER) or sets
# MAILPIPE_RESOLV_CONF itself; the default resolv.conf of this file points at a
# port where nothing answers, so a test that forgot to do so fails fast.

# run-style globals are set in helpers (SC2030/SC2031 misread @test as a subshell)
# ($stderr comes from run --separate-stderr)
# shellcheck disable=SC2030,SC2031,SC2034,SC2154

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# process exists and is neither a zombie nor dead
pid_alive() {
    local st
    st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# a UDP port on 127.0.0.1 nobody listens on (near DNS_PORT, away from the defaults)
closed_udp_port() {
    local p busy
    busy=$(ss -Hlnu 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}')
    for ((p = DNS_PORT + 1; p < DNS_PORT + 40; p++)); do
        grep -qx "$p" <<<"$busy" || { echo "$p"; return 0; }
    done
    return 1
}

setup_file() {
    export LC_ALL=C
    # bats 1.8 cannot skip from setup_file: leave a reason for setup() instead
    if [ "$(id -u)" != 0 ]; then
        export MMX_SKIP="needs root: tests/peers/peers.sh starts knot, postfix and dovecot as root (CI runs as root)"
        return 0
    fi
    export MMX="${MMX:-$BATS_TEST_DIRNAME/../../build/tools/mmx/mmx}"
    [ -x "$MMX" ] || { echo "mmx binary not found at '$MMX' (build it or set MMX)" >&2; return 1; }
    export PEERS="${PEERS:-$BATS_TEST_DIRNAME/../peers/peers.sh}"
    [ -f "$PEERS" ] || { echo "peers script not found: $PEERS" >&2; return 1; }

    # every port off the defaults: other test files run their own peers in parallel
    # (MP_PORT_OFFSET moves them down, as in helpers/peers.bash, for a second checkout)
    local o=${MP_PORT_OFFSET:-0}
    export DNS_PORT=$((26810 - o)) UNBOUND_PORT=$((26809 - o)) SMTP_PORT=$((26802 - o)) \
        SUBM_PORT=$((26803 - o)) SMTPS_PORT=$((26804 - o)) SINK_PORT=$((26800 - o)) \
        SINKDUMP_PORT=$((26801 - o)) IMAP_PORT=$((26805 - o)) IMAPS_PORT=$((26806 - o)) \
        POP3_PORT=$((26807 - o)) POP3S_PORT=$((26808 - o))
    # $BATS_FILE_TMPDIR sits below a 0700 directory the daemons' users cannot enter
    PEERS_DIR=$(mktemp -d /tmp/mailpipe-mmx.XXXXXX)
    chmod 755 "$PEERS_DIR"
    export PEERS_DIR
    local t0 rc=0
    t0=$(now_ms)
    bash "$PEERS" start "$PEERS_DIR" >"$PEERS_DIR/start.out" 2>"$PEERS_DIR/start.err" 3>&- || rc=$?
    if [ "$rc" != 0 ]; then
        echo "peers.sh start $PEERS_DIR failed (rc=$rc)" >&2
        cat "$PEERS_DIR/start.out" "$PEERS_DIR/start.err" >&2
        bash "$PEERS" stop "$PEERS_DIR" >/dev/null 2>&1 3>&- || true
        rm -rf "$PEERS_DIR"
        return 1
    fi
    echo "# peers started in $(($(now_ms) - t0)) ms in $PEERS_DIR" >&3
    set -a
    # shellcheck disable=SC1091
    . "$PEERS_DIR/ports.env"
    set +a

    # the resolv.conf every test starts from: a server that never answers
    local dead
    dead=$(closed_udp_port) || { echo "no free UDP port near $DNS_PORT" >&2; return 1; }
    printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:1\n' "$dead" >"$BATS_FILE_TMPDIR/resolv.dead"
    export MAILPIPE_RESOLV_CONF="$BATS_FILE_TMPDIR/resolv.dead"

    # the misbehaving DNS server
    local src="$BATS_TEST_DIRNAME/../fault/dnsfault.c"
    if [ -n "${DNSFAULT:-}" ]; then
        [ -x "$DNSFAULT" ] || export DNSFAULT_ERR="DNSFAULT=$DNSFAULT is not an executable"
    elif [ -f "$src" ]; then
        export DNSFAULT="$BATS_FILE_TMPDIR/dnsfault"
        if ! cc -std=c17 -O2 -o "$DNSFAULT" "$src" 2>"$BATS_FILE_TMPDIR/dnsfault.cc.log"; then
            DNSFAULT_ERR="tests/fault/dnsfault.c does not compile: $(head -c 2000 "$BATS_FILE_TMPDIR/dnsfault.cc.log")"
            export DNSFAULT_ERR
        fi
    else
        export DNSFAULT_SKIP="tests/fault/dnsfault.c does not exist (yet): fault-injection tests not run"
    fi
}

teardown_file() {
    [ -n "${PEERS_DIR:-}" ] && [ -d "$PEERS_DIR/pids" ] || return 0
    local f p pids="" alive="" rc=0
    for f in "$PEERS_DIR"/pids/*.pid; do
        [ -s "$f" ] && pids+=" $(tr -dc 0-9 <"$f")"
    done
    bash "$PEERS" stop "$PEERS_DIR" >"$PEERS_DIR/stop.out" 2>&1 3>&- || rc=$?
    for p in $pids; do
        if pid_alive "$p"; then alive+=" $p"; fi
    done
    if [ "$rc" != 0 ] || [ -n "$alive" ]; then
        echo "peers.sh stop rc=$rc; still running:${alive:- none} (logs kept in $PEERS_DIR)" >&2
        cat "$PEERS_DIR/stop.out" >&2
        return 1
    fi
    rm -rf "$PEERS_DIR"
}

setup() {
    if [ -n "${MMX_SKIP:-}" ]; then skip "$MMX_SKIP"; fi
    SRV=(-@ 127.0.0.1 -p "$DNS_PORT")
    USE_JQ=
    if [ -z "${MMX_TEST_NO_JQ:-}" ] && command -v jq >/dev/null; then USE_JQ=1; fi
    FAULT_PID=
}

teardown() {
    # the fault server goes, whatever happened to the test
    [ -n "${FAULT_PID:-}" ] || return 0
    local i
    kill -TERM "$FAULT_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pid_alive "$FAULT_PID" || break
        sleep 0.02
    done
    kill -KILL "$FAULT_PID" 2>/dev/null || true
    wait "$FAULT_PID" 2>/dev/null || true
    FAULT_PID=
}

# mmx with a safety net against hanging: a hang shows up as status 124
mmx() { timeout 120 "$MMX" "$@"; } # a hang guard only

# ---------------------------------------------------------------- the oracle: dig
# generous: dig's time-out only guards against a hang (a busy machine is slow)
DIG() { dig +time=10 +tries=3 -p "$DNS_PORT" @127.0.0.1 "$@"; }

# "PREF HOST." as dig +short prints them (a CNAME line of the answer dropped)
dig_mx_pairs() { DIG +short MX "$1" | awk 'NF == 2 && $1 ~ /^[0-9]+$/ {print $1, tolower($2)}' | sort -u; }

# "PREF HOST. TTL" for the MX records of the answer
dig_mx_ttl() { DIG +noall +answer MX "$1" | awk '$4 == "MX" {print $5, tolower($6), $2}' | sort -u; }

# "HOST. ADDRESS TTL" for each HOST given (with its final dot), CNAMEs followed;
# FAMILIES: "A AAAA" (default), "A" or "AAAA"
dig_addrs() {
    local args=() h t
    for h in "$@"; do
        for t in ${FAMILIES:-A AAAA}; do args+=("$h" "$t"); done
    done
    DIG +noall +answer "${args[@]}" | awk -v hosts="$*" '
        { o = tolower($1) }
        $4 == "CNAME" { cn[o] = tolower($5) }
        $4 == "A" || $4 == "AAAA" { a[o] = a[o] " " $5 "/" $2 }
        END {
            n = split(hosts, hs, " ")
            for (i = 1; i <= n; i++) {
                h = tolower(hs[i]); t = h
                for (k = 0; k < 8 && (t in cn); k++) t = cn[t]
                m = split(a[t], xs, " ")
                for (j = 1; j <= m; j++) { split(xs[j], p, "/"); print h, p[1], p[2] }
            }
        }' | sort -u
}

# ---------------------------------------------------------------- reading mmx
# From $output (mmx -j if USE_JQ, else mmx's text output) of ONE domain:
# "PREF HOST. TTL" per MX host, and "HOST. ADDRESS TTL" per address.
out_mx_ttl() {
    if [ -n "$USE_JQ" ]; then
        jq -r '.mx[] | "\(.preference) \(.host | ascii_downcase | rtrimstr(".")). \(.ttl)"' <<<"$output"
    else
        awk '/^  [0-9]+ / { h = ($3 ~ /^\(/) ? substr($3, 2, length($3) - 2) : $2
                            sub(/\.$/, "", h); print $1, tolower(h) ".", $NF }' <<<"$output"
    fi | sort -u
}
out_mx_pairs() { out_mx_ttl | awk '{print $1, $2}' | sort -u; }
out_addrs() {
    if [ -n "$USE_JQ" ]; then
        jq -r '.mx[] | (.host | ascii_downcase | rtrimstr(".")) as $h
               | .addresses[] | "\($h). \(.address) \(.ttl)"' <<<"$output"
    else
        awk '/^  [0-9]+ / { h = ($3 ~ /^\(/) ? substr($3, 2, length($3) - 2) : $2
                            sub(/\.$/, "", h); h = tolower(h) "." }
             /^         / && NF == 3 && $2 == "TTL" { print h, $1, $3 }' <<<"$output"
    fi | sort -u
}
out_nhosts() { out_mx_ttl | wc -l | tr -d ' '; }

# run mmx for ARG (JSON or text, see USE_JQ) and compare with dig for QNAME:
# the (preference, host) set, the TTLs, and every host's addresses and TTLs
check_against_dig() { # ARG QNAME
    local want got hosts
    if [ -n "$USE_JQ" ]; then run mmx "${SRV[@]}" -j "$1"; else run mmx "${SRV[@]}" "$1"; fi
    assert_success

    want=$(dig_mx_pairs "$2")
    [ -n "$want" ] || fail "dig found no MX for $2: is knot up?"
    got=$(out_mx_pairs)
    assert_equal "$got" "$want"

    assert_equal "$(out_mx_ttl)" "$(dig_mx_ttl "$2")"

    hosts=$(awk '{print $2}' <<<"$want" | sort -u)
    # shellcheck disable=SC2086 # one host per word
    want=$(dig_addrs $hosts)
    [ -n "$want" ] || fail "dig found no address for any of: $hosts"
    assert_equal "$(out_addrs)" "$want"
}

# ---------------------------------------------------------------- 1. dig as the oracle

@test "oracle: example.test: MX set, TTLs and addresses equal dig's" {
    check_against_dig example.test example.test
    assert_equal "$(out_nhosts)" 4
}

@test "oracle: many.example.test (60 MX, truncated over UDP) equals dig's" {
    check_against_dig many.example.test many.example.test
    assert_equal "$(out_nhosts)" 60
}

@test "oracle: hamburger.test equals dig's" {
    check_against_dig hamburger.test hamburger.test
}

@test "oracle: bob@bücher.test equals dig MX xn--bcher-kva.test" {
    check_against_dig 'bob@bücher.test' xn--bcher-kva.test
    run mmx "${SRV[@]}" 'bob@bücher.test'
    assert_success
    assert_line --index 0 'bücher.test (xn--bcher-kva.test): 2 MX, in the order a sender tries them'
    assert_output --partial 'mx.bücher.test (mx.xn--bcher-kva.test)'
}

@test "oracle: xn--bcher-kva.test (A-label) equals dig's" {
    check_against_dig xn--bcher-kva.test xn--bcher-kva.test
    if [ -n "$USE_JQ" ]; then
        assert_equal "$(jq -r '.domain_unicode' <<<"$output")" 'bücher.test'
    fi
}

@test "oracle: alias.example.test (CNAME to the apex) equals dig's, with the alias note" {
    check_against_dig alias.example.test alias.example.test
    run mmx "${SRV[@]}" alias.example.test
    assert_success
    assert_line '  note: alias.example.test is an alias (CNAME) of example.test'
}

@test "oracle: cnamemx.example.test (MX to a CNAME) equals dig's, with the host note" {
    check_against_dig cnamemx.example.test cnamemx.example.test
    run mmx "${SRV[@]}" cnamemx.example.test
    assert_success
    assert_line '         note: mail.example.test is an alias (CNAME); RFC 5321 5.1 wants the real name'
}

# ---------------------------------------------------------------- 2. ordering

@test "order: preferences never decrease in -s order (example, alias, many, dead)" {
    local d prefs
    for d in example.test alias.example.test many.example.test dead.example.test; do
        run --separate-stderr mmx "${SRV[@]}" -s "$d"
        assert_success
        # the preference of each host, from dig, in mmx's order
        prefs=$(awk 'NR == FNR {p[$2] = $1; next} {print p[tolower($1) "."]}' \
            <(dig_mx_pairs "$d") - <<<"$output")
        assert_equal "$(wc -l <<<"$prefs")" "$(dig_mx_pairs "$d" | wc -l)"
        ! grep -qv '^[0-9][0-9]*$' <<<"$prefs" || fail "$d: a host of mmx -s is not in dig's MX set: $output"
        assert_equal "$prefs" "$(sort -n <<<"$prefs")"
    done
}

@test "order: --no-shuffle keeps equal preferences in the answer's order" {
    local d want i
    for d in example.test alias.example.test many.example.test; do
        # dig's answer order, stably sorted by preference
        want=$(DIG +short MX "$d" | awk 'NF == 2 && $1 ~ /^[0-9]+$/ {sub(/\.$/, "", $2); print $1, $2}' |
            sort -s -n -k1,1 | awk '{print $2}')
        for i in 1 2 3 4 5; do
            run --separate-stderr mmx "${SRV[@]}" -s --no-shuffle "$d"
            assert_success
            assert_equal "$output" "$want"
        done
    done
}

@test "order: equal preferences are shuffled about uniformly (mx2 before mx2b in 35%..65% of 200 runs)" {
    local i n=0 first out
    for ((i = 0; i < 200; i++)); do
        out=$(mmx "${SRV[@]}" -s example.test) || fail "run $i: mmx failed: $out"
        # the shuffle stays inside one preference
        first=$(head -1 <<<"$out")
        [ "$first" = mx1.example.test ] && [ "$(tail -1 <<<"$out")" = mx3.example.test ] ||
            fail "run $i: order broke preferences: $(tr '\n' ' ' <<<"$out")"
        [ "$(sed -n 2p <<<"$out")" = mx2.example.test ] && n=$((n + 1))
    done
    echo "# mx2 before mx2b in $n of 200 runs" >&3
    [ "$n" -ge 70 ] && [ "$n" -le 130 ] || fail "mx2 came first in $n of 200 runs (want 70..130)"
}

# ---------------------------------------------------------------- 3. notes and statuses

@test "null MX: exit 68, RFC 7505 text, JSON status null-mx, nothing on stdout with -s" {
    run mmx "${SRV[@]}" nullmx.example.test
    assert_failure 68
    assert_output 'nullmx.example.test: null MX: the domain accepts no mail (RFC 7505)'
    run --separate-stderr mmx "${SRV[@]}" -s nullmx.example.test
    assert_failure 68
    assert_output ''
    assert_equal "$stderr" 'mmx: nullmx.example.test: null MX: the domain accepts no mail (RFC 7505)'
    if [ -n "$USE_JQ" ]; then
        run --separate-stderr mmx "${SRV[@]}" -j nullmx.example.test
        assert_failure 68
        assert_equal "$(jq -r 'select(.type == "mx") | .status + " " + (.mx | length | tostring)' <<<"$output")" 'null-mx 0'
    fi
}

@test "null MX of preference 10: still null MX (RFC 7505), with the problem named" {
    run mmx "${SRV[@]}" nullmx10.example.test
    assert_failure 68
    assert_line --index 0 'nullmx10.example.test: null MX: the domain accepts no mail (RFC 7505)'
    assert_line --index 1 --partial '  problem: a null MX is one record of preference 0'
}

@test "null MX beside a real MX: '.' is left out and never looked up, the problem named" {
    run mmx "${SRV[@]}" -v mixednull.example.test
    assert_success
    assert_line --index 0 'mixednull.example.test: 1 MX, in the order a sender tries them'
    assert_line --index 1 --regexp '^  10 +mx1\.example\.test '
    assert_output --partial '  problem: a null MX (".") beside other MX records'
    refute_line --regexp '^  0 +\. '
    run --separate-stderr mmx "${SRV[@]}" -s mixednull.example.test
    assert_success
    assert_output 'mx1.example.test'
    if [ -n "$USE_JQ" ]; then
        run --separate-stderr mmx "${SRV[@]}" -j mixednull.example.test
        assert_success
        assert_equal "$(jq -r '.mx | map(.host) | join(",")' <<<"$output")" 'mx1.example.test'
        assert_equal "$(jq -r '.problem | startswith("a null MX")' <<<"$output")" 'true'
    fi
}

@test "dnsfault txt: a null MX beside a real one: '.' is never asked for, by the server's own log of the queries" {
    load 'helpers/dnsfault'
    local z=$BATS_TEST_TMPDIR/zone
    mkdir -p "$z/MX" "$z/A"
    printf '0 .\n10 mx1.example.test\n' >"$z/MX/example.test"
    echo 127.0.0.1 >"$z/A/mx1.example.test"
    dnsfault_start txt "$z"
    run mmx --timeout 60 --retries 1 -@ 127.0.0.1 -p "$DPORT" example.test
    assert_success
    assert_line --index 0 'example.test: 1 MX, in the order a sender tries them'
    assert_output --partial '  problem: a null MX (".") beside other MX records'
    local log=$BATS_TEST_TMPDIR/dns-txt.log
    grep -q 'query [0-9]* mx1\.example\.test\. A from' "$log" || fail "mx1 was not asked for: $(cat "$log")"
    run grep -E 'query [0-9]+ \. (A|AAAA) from' "$log"
    assert_failure
    kill "$DPID"
}

@test "MX host behind a CNAME loop: the host says so (cname, the loop error), exit 68" {
    run mmx "${SRV[@]}" loopmx.example.test
    assert_failure 68
    assert_output --partial 'note: loop.example.test is an alias (CNAME)'
    assert_output --partial 'no address: CNAME chain longer than 8 or a loop'
    if [ -n "$USE_JQ" ]; then
        run --separate-stderr mmx "${SRV[@]}" -j loopmx.example.test
        assert_equal "$(jq -r 'select(.type == "mx") | .mx[0] | "\(.cname) \(.error.name) \(.error.message)"' <<<"$output")" 'true EX_NOHOST CNAME chain longer than 8 or a loop'
    fi
}

@test "implicit MX: the note, and the domain's own addresses as dig gives them" {
    run mmx "${SRV[@]}" implicit.example.test
    assert_success
    assert_line --index 0 "implicit.example.test: no MX record: mail goes to the domain's own address (implicit MX)"
    assert_line --index 1 '  implicit.example.test'
    local got
    got=$(awk '/^         / && NF == 3 && $2 == "TTL" {print "implicit.example.test.", $1, $3}' <<<"$output" | sort -u)
    assert_equal "$got" "$(dig_addrs implicit.example.test.)"
    [ -z "$(DIG +short MX implicit.example.test)" ] || fail "dig sees an MX for implicit.example.test"
}

@test "NXDOMAIN: nonexistent.example.test exits 68" {
    run mmx "${SRV[@]}" nonexistent.example.test
    assert_failure 68
    assert_output 'nonexistent.example.test: no such domain (NXDOMAIN)'
    DIG nonexistent.example.test | grep -q 'status: NXDOMAIN'
}

@test "no MX and no address: nodata and big exit 68" {
    local d
    for d in nodata.example.test big.example.test; do
        run mmx "${SRV[@]}" "$d"
        assert_failure 68
        assert_output "$d: mail cannot be delivered: no MX record and no address"
    done
}

@test "CNAME loop: loop.example.test ends (exit 68, a zone error) with the CNAME message" {
    # the loop is found in the one answer: it ends, however slow the machine
    # (timeout is a hang guard; a loop followed forever would be killed, 124)
    run timeout 120 "$MMX" "${SRV[@]}" loop.example.test
    assert_failure 68
    assert_output --partial 'loop.example.test: '
    assert_output --partial 'CNAME chain longer than 8 or a loop'
}

@test "-v on a failed lookup still says how many foreign answers were ignored" {
    run mmx "${SRV[@]}" -v nonexistent.example.test
    assert_failure 68
    assert_line --index 0 --partial 'nonexistent.example.test: no such domain'
    assert_output --regexp 'note: answer not authenticated \(AD clear\); [0-9]+ foreign answers ignored'
}

@test "MX to a nonexistent host: the host is shown with 'no such host'" {
    run mmx "${SRV[@]}" badmx.example.test
    assert_line --index 0 'badmx.example.test: 1 MX, in the order a sender tries them'
    assert_line --index 1 '  10   nonexistent.example.test  TTL 300'
    assert_line --index 2 '         no address: no such host (NXDOMAIN)'
    if [ -n "$USE_JQ" ]; then
        run --separate-stderr mmx "${SRV[@]}" -j badmx.example.test
        assert_equal "$(jq -r 'select(.type == "mx") | .mx[0].error.message' <<<"$output")" 'no such host (NXDOMAIN)'
    fi
}

@test "MX to a nonexistent host: not routable, so exit 68 (not 0)" {
    # the only MX host has no address at all: mail for badmx cannot be delivered
    run mmx "${SRV[@]}" badmx.example.test
    assert_failure 68
}

@test "many.example.test: 60 hosts and the TCP note" {
    run mmx "${SRV[@]}" many.example.test
    assert_success
    assert_line --index 0 'many.example.test: 60 MX, in the order a sender tries them'
    assert_equal "$(grep -c '^  [0-9]' <<<"$output")" 60
    assert_line '  note: a UDP answer was truncated; asked again over TCP'
    # dig agrees that UDP truncates it
    DIG +noall +comments +ignore MX many.example.test | grep -q 'flags:.* tc'
    if [ -n "$USE_JQ" ]; then
        run --separate-stderr mmx "${SRV[@]}" -j many.example.test
        assert_equal "$(jq -r '[.tcp, (.mx | length)] | @tsv' <<<"$output")" "$(printf 'true\t60')"
    fi
}

@test "-4 and -6 keep only the addresses of that family (as dig gives them)" {
    local hosts
    hosts=$(dig_mx_pairs example.test | awk '{print $2}')
    USE_JQ=  # the text output: also checks the "no address (IPv4/6)" lines
    run mmx "${SRV[@]}" -4 example.test
    assert_success
    # shellcheck disable=SC2086
    assert_equal "$(out_addrs)" "$(FAMILIES=A dig_addrs $hosts)"
    refute_output --partial '::1'
    assert_output --regexp 'mx3\.example\.test  TTL 300
         no address \(IPv4\)'
    run mmx "${SRV[@]}" -6 example.test
    assert_success
    # shellcheck disable=SC2086
    assert_equal "$(out_addrs)" "$(FAMILIES=AAAA dig_addrs $hosts)"
    refute_output --partial '127.0.0.'
    assert_output --regexp 'mx2\.example\.test  TTL 300
         no address \(IPv6\)'
}

@test "-j: JSON Lines for several domains, good and bad, IDN included: one object a name" {
    run --separate-stderr mmx "${SRV[@]}" -j example.test nullmx.example.test nonexistent.example.test \
        'bob@bücher.test' implicit.example.test badmx.example.test many.example.test
    assert_failure 68
    printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out.json"
    # a line a name, and the error line of the exit status last
    assert_equal "${#lines[@]}" 8
    local l
    for l in "${lines[@]}"; do
        if command -v python3 >/dev/null && python3 -c '' 2>/dev/null; then
            python3 -c 'import json, sys; json.loads(sys.argv[1])' "$l" ||
                fail "not one JSON object on a line: $l"
        fi
    done
    if command -v jq >/dev/null; then
        jq -e . "$BATS_TEST_TMPDIR/out.json" >/dev/null || fail "jq rejects mmx -j output: $output"
        assert_equal "$(jq -r 'select(.type == "mx") | .status' "$BATS_TEST_TMPDIR/out.json" | paste -sd ' ')" \
            'ok null-mx nxdomain ok ok no-mail ok'
        # a failure carries the error object; a success null
        assert_equal "$(jq -r '[.type, .domain, (.error | if . then "\(.code) \(.name)" else "null" end)] | join(" ")' \
            "$BATS_TEST_TMPDIR/out.json" | sed -n '1p;3p')" \
            $'mx example.test null\nmx nonexistent.example.test 68 EX_NOHOST'
        assert_equal "$(tail -n 1 "$BATS_TEST_TMPDIR/out.json" | jq -r '[.type, .error.code, .error.message] | join(" ")')" \
            'error 68 nullmx.example.test: null MX: the domain accepts no mail (RFC 7505) (and 2 more)'
    fi
}

@test "'-' reads names from stdin; comments, blank lines and addresses handled" {
    run --separate-stderr mmx "${SRV[@]}" -s --no-shuffle - <<'EOF'
# a comment line

   example.test    # the zoo
bob@hamburger.test
	alice@crepes.test
# nullmx.example.test
EOF
    assert_success
    assert_equal "$output" "$(printf '%s\n' mx1.example.test mx2.example.test mx2b.example.test \
        mx3.example.test mx.hamburger.test mx.crepes.test)"
    assert_equal "$stderr" ''
    # stdin mixed with arguments, in argument order
    run --separate-stderr mmx "${SRV[@]}" -s hamburger.test - <<<'nullmx.example.test'
    assert_failure 68
    assert_output 'mx.hamburger.test'
    assert_equal "$stderr" 'mmx: nullmx.example.test: null MX: the domain accepts no mail (RFC 7505)'
}

@test "an address argument means its domain" {
    run mmx "${SRV[@]}" alice@crepes.test
    assert_success
    assert_line --index 0 'crepes.test: 1 MX, in the order a sender tries them'
    assert_line --index 1 '  10   mx.crepes.test  TTL 300'
    assert_line --index 2 '         127.0.0.1                               TTL 300'
    run --separate-stderr mmx "${SRV[@]}" -s bob@example.test
    assert_success
    assert_equal "$(sort <<<"$output")" "$(dig_mx_pairs example.test | awk '{sub(/\.$/, "", $2); print $2}' | sort)"
}

@test "dig-style @SERVER with -p, and @SERVER:PORT" {
    run --separate-stderr mmx -p "$DNS_PORT" @127.0.0.1 -s hamburger.test
    assert_success
    assert_output 'mx.hamburger.test'
    run --separate-stderr mmx "@127.0.0.1:$DNS_PORT" -s hamburger.test
    assert_success
    assert_output 'mx.hamburger.test'
    run --separate-stderr mmx -s hamburger.test -p "$DNS_PORT" @127.0.0.1
    assert_success
    assert_output 'mx.hamburger.test'
    # --dns-server, as msend spells it
    run --separate-stderr mmx --dns-server "127.0.0.1:$DNS_PORT" -s hamburger.test
    assert_success
    assert_output 'mx.hamburger.test'
}

@test "--tcp: same answer as over UDP" {
    USE_JQ=
    run mmx "${SRV[@]}" --tcp example.test
    assert_success
    assert_equal "$(out_mx_ttl)" "$(dig_mx_ttl example.test)"
    # shellcheck disable=SC2046
    assert_equal "$(out_addrs)" "$(dig_addrs $(dig_mx_pairs example.test | awk '{print $2}'))"
    if command -v jq >/dev/null; then
        run --separate-stderr mmx "${SRV[@]}" --tcp -j hamburger.test
        assert_success
        assert_equal "$(jq -r '.tcp' <<<"$output")" true
    fi
}

@test "--tcp: no 'UDP answer was truncated' note when nothing went over UDP" {
    # example.test fits in a UDP answer (dig sees no TC); with --tcp UDP is never used
    DIG +noall +comments +ignore MX example.test | grep -q 'flags:.* tc' && fail "example.test is truncated over UDP?"
    run mmx "${SRV[@]}" --tcp example.test
    assert_success
    refute_output --partial 'a UDP answer was truncated'
}

@test "exit status of several domains: 75 beats 68 beats 0" {
    run mmx "${SRV[@]}" -s example.test nullmx.example.test
    assert_failure 68
    # knot refuses a zone it does not serve: REFUSED is worth a retry elsewhere
    run mmx "${SRV[@]}" -s nonexistent.example.test notserved.zzz example.test
    assert_failure 75
    run mmx "${SRV[@]}" -s example.test hamburger.test
    assert_success
}

@test "usage errors exit 64" {
    run mmx
    assert_failure 64
    assert_output --partial 'no domain given'
    run mmx -s -j example.test
    assert_failure 64
    run mmx -s --probe example.test
    assert_failure 64
    run mmx --no-such-option example.test
    assert_failure 64
    assert_output --partial "unknown option '--no-such-option'"
    run mmx --timeout soon example.test
    assert_failure 64
    run mmx -p 70000 example.test
    assert_failure 64
    run mmx -@ not-an-address example.test
    assert_failure 64
    assert_output --partial "invalid server address 'not-an-address'"
}

@test "invalid names exit 65: a label over 63 octets, bad punycode" {
    local long
    long="$(printf 'a%.0s' {1..64}).test"
    run mmx "${SRV[@]}" "$long"
    assert_failure 65
    assert_output --partial 'domain label longer than 63'
    run mmx "${SRV[@]}" xn--zzzz.test
    assert_failure 65
    assert_output --partial 'invalid punycode'
    # a bad name next to a good one: 65, and the good one is still shown
    run mmx "${SRV[@]}" hamburger.test xn--zzzz.test
    assert_failure 65
    assert_output --partial 'mx.hamburger.test'
}

@test "invalid name: an error on stderr, 'mmx: ' and the name given, nothing on stdout; the good names still shown" {
    run --separate-stderr mmx "${SRV[@]}" xn--zzzz.test
    assert_failure 65
    assert_output ''
    assert_equal "$stderr" 'mmx: xn--zzzz.test: not a valid domain name: string contains invalid punycode data'
    run --separate-stderr mmx "${SRV[@]}" 'a..b' hamburger.test
    assert_failure 65
    assert_equal "$stderr" 'mmx: a..b: not a valid domain name: labels must be letters, digits and hyphens, 1 to 63 of them, 253 in all'
    assert_line --index 0 --regexp '^hamburger\.test: [0-9]+ MX'
}

@test "invalid names exit 65, not 75: 'a..b', 'bob@' (empty domain), 'exa mple.test'" {
    local n bad=""
    for n in 'a..b' 'bob@' 'exa mple.test'; do
        run mmx --timeout 1 --retries 1 "${SRV[@]}" "$n"
        [ "$status" = 65 ] || bad+=$'\n'"  '$n' -> exit $status: $output"
    done
    [ -z "$bad" ] || fail "not reported as invalid names:$bad"
}

# ---------------------------------------------------------------- 4. resolver behaviour

@test "resolv.conf: search list and ndots: short names tried with each suffix, then as given" {
    printf 'nameserver 127.0.0.1:%s\nsearch nope.test example.test\noptions ndots:2 timeout:2\n' "$DNS_PORT" \
        >"$BATS_TEST_TMPDIR/resolv.conf"
    # knot refuses nope.test (not its zone) and says NXDOMAIN for
    # example.test.example.test: both move on to the next candidate
    run --separate-stderr env MAILPIPE_RESOLV_CONF="$BATS_TEST_TMPDIR/resolv.conf" "$MMX" -s --no-shuffle mx1 nullmx example.test
    assert_failure 68
    assert_line --index 0 "mx1.example.test"
    assert_line --index 1 "mx1.example.test"
    [[ $stderr == *"nullmx: null MX"* ]] || fail "stderr: $stderr"
    # a final dot means: no search (and "mx1" alone is no domain knot serves)
    run env MAILPIPE_RESOLV_CONF="$BATS_TEST_TMPDIR/resolv.conf" "$MMX" -j mx1.
    assert_failure 75
    assert_output --partial '"domain":"mx1"'
}

@test "resolv.conf: first nameserver a closed port, second knot: the answer still comes" {
    local dead t0 el
    dead=$(closed_udp_port)
    printf '# two servers\nnameserver 127.0.0.1:%s\nnameserver 127.0.0.1:%s\noptions timeout:1 attempts:2\n' \
        "$dead" "$DNS_PORT" >"$BATS_TEST_TMPDIR/resolv.conf"
    t0=$(now_ms)
    run env MAILPIPE_RESOLV_CONF="$BATS_TEST_TMPDIR/resolv.conf" timeout 120 "$MMX" -s --no-shuffle example.test
    el=$(($(now_ms) - t0))
    assert_success
    assert_output "$(printf '%s\n' mx1.example.test mx2.example.test mx2b.example.test mx3.example.test)"
    echo "# fail-over answer in $el ms" >&3
}

@test "resolv.conf: the only nameserver is a closed UDP port: exit 75, the server named" {
    local dead
    dead=$(closed_udp_port)
    printf 'nameserver 127.0.0.1:%s\noptions timeout:1 attempts:1\n' "$dead" >"$BATS_TEST_TMPDIR/resolv.conf"
    run env MAILPIPE_RESOLV_CONF="$BATS_TEST_TMPDIR/resolv.conf" timeout 120 "$MMX" example.test
    assert_failure 75
    assert_output --regexp "^example\.test: .*127\.0\.0\.1:$dead"
    assert_output --regexp 'connection refused|no answer'
}

@test "-@ overrides the servers of resolv.conf" {
    # the file's server never answers; -@ must replace it, not come after it
    run --separate-stderr mmx "${SRV[@]}" -s hamburger.test
    assert_success
    assert_output 'mx.hamburger.test'
    # with -@ a closed port too, the failure names the servers asked: only -@'s
    local dead2 filedead
    filedead=$(sed -n 's/^nameserver 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$MAILPIPE_RESOLV_CONF")
    dead2=$(closed_udp_port)
    [ "$dead2" != "$filedead" ] || dead2=$((dead2 + 40))
    run timeout 120 "$MMX" --timeout 1 --retries 1 -@ 127.0.0.1 -p "$dead2" hamburger.test
    assert_failure 75
    assert_output --partial "127.0.0.1:$dead2"
    refute_output --partial "127.0.0.1:$filedead"
}

@test "--timeout 1 --retries 1 against a closed port: exit 75, the port and the refusal named" {
    # a closed port answers with ICMP: the connected socket sees it at once
    # (a server that never answers is the dnsfault silence test)
    local port
    port=$(closed_udp_port)
    run timeout 120 "$MMX" --timeout 1 --retries 1 -@ 127.0.0.1 -p "$port" example.test
    assert_failure 75
    assert_output --partial "127.0.0.1:$port"
    assert_output --partial "connection refused"
}

# ---------------------------------------------------------------- 5. fault injection (dnsfault)

# start dnsfault MODE in the background: FAULT_PORT, FAULT_PID, FAULT_LOG (teardown kills it)
fault_start() {
    [ -z "${DNSFAULT_SKIP:-}" ] || skip "$DNSFAULT_SKIP"
    [ -z "${DNSFAULT_ERR:-}" ] || fail "$DNSFAULT_ERR"
    local i out="$BATS_TEST_TMPDIR/dnsfault.out"
    FAULT_LOG="$BATS_TEST_TMPDIR/dnsfault.log"
    # made here: the background job may not have opened it when sed first looks
    : >"$out"
    "$DNSFAULT" -P "$BATS_TEST_TMPDIR/dnsfault.pid" "$1" >"$out" 2>"$FAULT_LOG" </dev/null 3>&- &
    FAULT_PID=$!
    # a hang guard only (60 s): the loop ends when the server says its port
    for ((i = 0; i < 3000; i++)); do
        FAULT_PORT=$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$out")
        [ -n "$FAULT_PORT" ] && return 0
        pid_alive "$FAULT_PID" || break
        sleep 0.02
    done
    fail "dnsfault $1 did not report its port: $(cat "$out" "$FAULT_LOG")"
}

# mmx --timeout T --retries 1 against the fault server
fault_mmx() { # TIMEOUT [mmx args...]
    local t=$1
    shift
    run mmx --timeout "$t" --retries 1 -@ 127.0.0.1 -p "$FAULT_PORT" "$@" example.test
    # the fault server was really asked
    grep -q 'query .* example\.test\. MX' "$FAULT_LOG" || fail "dnsfault saw no MX query: $(cat "$FAULT_LOG")"
}

# a malformed answer: the server counts as failed (the message says why)
assert_malformed() {
    assert_failure 75
    assert_output --regexp "^example\.test: .*127\.0\.0\.1:$FAULT_PORT: malformed DNS message at byte [0-9]+: "
}

# no usable answer: the time-out
assert_timed_out() {
    assert_failure 75
    assert_output --regexp "^example\.test: no usable DNS answer, try later: .*127\.0\.0\.1:$FAULT_PORT"
}

@test "dnsfault ok: exit 0 with mx1 and mx2" {
    fault_start ok
    fault_mmx 30 --no-shuffle
    assert_success
    assert_line --index 0 'example.test: 2 MX, in the order a sender tries them'
    assert_line --index 1 '  10   mx1.example.test  TTL 300'
    assert_line --index 2 '         127.0.0.1                               TTL 300'
    assert_line --index 3 '         ::1                                     TTL 300'
    assert_line --index 4 '  20   mx2.example.test  TTL 300'
}

@test "dnsfault zone-order: --no-shuffle still sorts by preference (10,10,10,10,20,5 in the answer)" {
    fault_start zone-order
    fault_mmx 30 -s --no-shuffle
    assert_success
    assert_equal "$output" "$(printf 'mx6.example.test\nmx1.example.test\nmx2.example.test\nmx3.example.test\nmx4.example.test\nmx5.example.test')"
    fault_mmx 30 --no-shuffle
    assert_success
    assert_line --index 1 --regexp '^  5 +mx6\.example\.test '
    # the same order in JSON, and in what --probe tries (nothing listens
    # on those loopback addresses: each host is tried, in order, and fails)
    fault_mmx 30 -j --no-shuffle
    assert_success
    assert_equal "$(printf '%s\n' "$output" | jq -r '.mx[].host' | tr '\n' ' ')" \
        'mx6.example.test mx1.example.test mx2.example.test mx3.example.test mx4.example.test mx5.example.test '
    fault_mmx 30 --probe --no-shuffle
    local order
    order=$(printf '%s\n' "$output" | sed -n 's/^  probe \(mx[0-9]\.example\.test\) .*/\1/p' | tr '\n' ' ')
    assert_equal "$order" 'mx6.example.test mx1.example.test mx2.example.test mx3.example.test mx4.example.test mx5.example.test '
    # without --no-shuffle: the same preference groups, whatever the order inside
    fault_mmx 30 -s
    assert_success
    assert_line --index 0 'mx6.example.test'
    assert_line --index 5 'mx5.example.test'
}

@test "dnsfault cname-8: a chain of exactly 8 CNAMEs is followed (mmx.1: at most 8 steps)" {
    fault_start cname-8
    fault_mmx 30 -s
    assert_success
    assert_output 'mx1.example.test'
}

@test "dnsfault cname-9: a chain of 9 CNAMEs is a zone error, exit 68" {
    fault_start cname-9
    fault_mmx 30 -s
    assert_failure 68
    assert_output --partial 'CNAME chain longer than 8 or a loop'
}

@test "dnsfault partial-additional: hosts whose A alone came along are still asked for AAAA (-6)" {
    fault_start partial-additional
    fault_mmx 30 -6
    assert_success
    assert_line --index 0 'example.test: 17 MX, in the order a sender tries them'
    refute_output --partial 'no address'
    assert_equal "$(grep -c '^         ::1 ' <<<"$output")" 17
    grep -q 'query .* mx1\.example\.test\. AAAA' "$FAULT_LOG" || fail "no AAAA query for mx1: $(cat "$FAULT_LOG")"
    # the A records that came along are used, not asked again
    ! grep -q 'query .* mx1\.example\.test\. A ' "$FAULT_LOG" || fail "mx1's A was asked again"
}

@test "dnsfault big-txt: 2,048-byte MTA-STS, DMARC and second SPF TXT records (TC over UDP, then TCP) are shown whole, the two SPF records counted" {
    fault_start big-txt
    fault_mmx 30 --policy --sts-addr 127.0.0.1:1
    # the policy cannot be fetched (nothing on port 1): a problem, exit 0
    assert_success
    local sts dmarc
    sts=$(sed -n 's/^    MTA-STS   \(v=STSv1; .*\)$/\1/p' <<<"$output")
    dmarc=$(sed -n 's/^    DMARC     \(v=DMARC1; .*\)$/\1/p' <<<"$output")
    [ "${#sts}" = 2048 ] || fail "MTA-STS record of ${#sts} bytes: $output"
    [ "${#dmarc}" = 2048 ] || fail "DMARC record of ${#dmarc} bytes: $output"
    [[ $sts == *"; id=big2k" ]] || fail "the id at the end is lost: $sts"
    [[ $dmarc == *"; x-end=yes" ]] || fail "the end of the DMARC record is lost: $dmarc"
    # two SPF records, the second of 2,048 bytes: both shown whole, and counted
    local spf
    spf=$(sed -n 's/^    SPF       \(v=spf1 .*\)$/\1/p' <<<"$output")
    [ "$(wc -l <<<"$spf")" = 2 ] || fail "not two SPF records: $output"
    assert_line '    SPF       v=spf1 -all'
    [ "$(sed -n 2p <<<"$spf" | wc -c)" = 2049 ] || fail "the long SPF record is not whole: $spf"
    [[ $(sed -n 2p <<<"$spf") == *" -all" ]] || fail "the end of the long SPF record is lost"
    assert_line '    problem:  more than one SPF record (RFC 7208 3.2)'
    # the record was read, so the policy was asked for
    assert_output --partial 'MTA-STS   policy: cannot reach mta-sts.example.test'
    grep -q 'query .* _mta-sts\.example\.test\. TXT from .* over tcp$' "$FAULT_LOG" ||
        fail "no TXT query over TCP: $(cat "$FAULT_LOG")"
}

@test "dnsfault cname-loop: an MX host whose name is a CNAME loop is reported, the other one listed with its addresses" {
    fault_start cname-loop
    fault_mmx 30 --no-shuffle
    assert_success
    assert_line --index 0 'example.test: 2 MX, in the order a sender tries them'
    assert_line --index 1 '  10   mx1.example.test  TTL 300'
    assert_output --partial 'note: mx1.example.test is an alias (CNAME)'
    assert_output --partial 'no address: CNAME chain longer than 8 or a loop'
    assert_output --partial '  20   mx2.example.test  TTL 300'
    assert_line '         127.0.0.1                               TTL 300'
    # the JSON form carries the same
    run --separate-stderr mmx --timeout 30 --retries 1 -@ 127.0.0.1 -p "$FAULT_PORT" -j example.test
    assert_success
    assert_equal "$(jq -r 'select(.type == "mx") | .mx[] | "\(.host) \(.cname) \(.error.message)"' <<<"$output")" \
        "$(printf 'mx1.example.test true CNAME chain longer than 8 or a loop\nmx2.example.test false null')"
}

@test "dnsfault spoof-then-ok: the forged answer is ignored, exit 0" {
    fault_start spoof-then-ok
    fault_mmx 30 -v
    assert_success
    assert_output --partial 'mx1.example.test'
    assert_output --partial 'mx2.example.test'
    assert_output --regexp '[1-9][0-9]* foreign answers ignored'
}

@test "dnsfault wrong-id: exit 75, no answer taken; -v on that failure counts the foreign answers it dropped" {
    fault_start wrong-id
    fault_mmx 1
    assert_timed_out
    # issue 15 point 12: the line is there exactly when the lookup failed
    fault_mmx 1 -v
    assert_timed_out
    assert_output --regexp '[1-9][0-9]* foreign answers? ignored'
}

@test "dnsfault wrong-question: exit 75, no answer taken" {
    fault_start wrong-question
    fault_mmx 1
    assert_timed_out
}

@test "dnsfault wrong-source: exit 75, no answer taken" {
    fault_start wrong-source
    fault_mmx 1
    assert_timed_out
}

@test "dnsfault silence: exit 75 after its time-out" {
    fault_start silence
    fault_mmx 1
    assert_timed_out
}

@test "dnsfault loop (compression pointer to itself): malformed, exit 75" {
    fault_start loop
    fault_mmx 30
    assert_malformed
}

@test "dnsfault forward-ptr (pointer past the end): malformed, exit 75" {
    fault_start forward-ptr
    fault_mmx 30
    assert_malformed
}

@test "dnsfault truncated (cut inside a record): malformed, exit 75" {
    fault_start truncated
    fault_mmx 30
    assert_malformed
}

@test "dnsfault short (7-byte answer): exit 75, no crash" {
    # shorter than a header: mmx drops it like a foreign packet and times out
    # (it does not call it malformed)
    fault_start short
    fault_mmx 30
    assert_failure 75
    assert_output --regexp "^example\.test: .*127\.0\.0\.1:$FAULT_PORT"
}

@test "dnsfault many-labels (name over 255 octets): malformed, exit 75" {
    fault_start many-labels
    fault_mmx 30
    assert_malformed
}

@test "dnsfault badlabel (label types 0x40/0x80): malformed, exit 75" {
    fault_start badlabel
    fault_mmx 30
    assert_malformed
}

@test "dnsfault count-lie (ANCOUNT 50, one record): malformed, exit 75" {
    fault_start count-lie
    fault_mmx 30
    assert_malformed
}

@test "dnsfault servfail: exit 75" {
    fault_start servfail
    fault_mmx 30
    assert_failure 75
    assert_output --partial 'SERVFAIL'
}

@test "dnsfault nxdomain: exit 68" {
    fault_start nxdomain
    fault_mmx 30
    assert_failure 68
    assert_output 'example.test: no such domain (NXDOMAIN)'
}

@test "dnsfault tc: exit 0 with 40 hosts over TCP, and the TCP note" {
    fault_start tc
    fault_mmx 30
    assert_success
    assert_line --index 0 'example.test: 40 MX, in the order a sender tries them'
    assert_equal "$(grep -c '^  [0-9]' <<<"$output")" 40
    assert_line '  note: a UDP answer was truncated; asked again over TCP'
    grep -q 'example\.test\. MX from .* over tcp' "$FAULT_LOG" || fail "no MX query over TCP: $(cat "$FAULT_LOG")"
}

@test "dnsfault slow (1.5 s late): within --timeout 30, exit 0" {
    fault_start slow
    fault_mmx 30
    assert_success
    assert_output --partial 'mx1.example.test'
    assert_output --partial 'mx2.example.test'
}
