#!/usr/bin/env bats
# Smoke test of the loopback mail peers (tests/peers/peers.sh): start them in a fresh
# directory, speak DNS/SMTP/IMAP/POP3 to them with stock clients (dig, swaks, curl),
# stop them and make sure the recorded processes are gone.
#
# Needs root (the daemons drop privileges themselves). PEERS overrides the script path;
# the *_PORT variables understood by peers.sh move the ports; PEERS_KEEP=1 keeps DIR.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# process exists and is neither a zombie nor dead (PID 1 may reap orphans late)
pid_alive() {
    local st
    st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

setup_file() {
    # bats 1.8 cannot skip from setup_file: leave a reason for setup() instead
    if [ "$(id -u)" != 0 ]; then
        export PEERS_SKIP="tests/peers/peers.sh runs postfix, dovecot and knot and must be run as root (CI does)"
        return 0
    fi
    export PEERS="${PEERS:-$BATS_TEST_DIRNAME/../peers/peers.sh}"
    [ -f "$PEERS" ] || { echo "peers script not found: $PEERS" >&2; return 1; }
    # $BATS_FILE_TMPDIR sits below a 0700 directory the daemons' users cannot enter
    PEERS_DIR=$(mktemp -d /tmp/mailpipe-peers.XXXXXX)
    chmod 755 "$PEERS_DIR"
    export PEERS_DIR

    local t0 rc=0
    t0=$(now_ms)
    bash "$PEERS" start "$PEERS_DIR" >"$PEERS_DIR/start.out" 2>"$PEERS_DIR/start.err" 3>&- || rc=$?
    if [ "$rc" != 0 ]; then
        echo "peers.sh start $PEERS_DIR failed (rc=$rc)" >&2
        cat "$PEERS_DIR/start.out" "$PEERS_DIR/start.err" >&2
        return 1
    fi
    echo "# peers started in $(($(now_ms) - t0)) ms in $PEERS_DIR" >&3
    # every KEY=VALUE of ports.env becomes visible to the tests
    set -a
    # shellcheck disable=SC1091
    . "$PEERS_DIR/ports.env"
    set +a

    # the message every mail-store test looks for
    MSG_TAG="peers-bats-$$-$(now_ms)"
    export MSG_TAG
    export MSG_ID="<$MSG_TAG@crepes.test>"
    export MSG_SUBJ="Crepes for lunch? $MSG_TAG"
    export MSG_BODY="Bob, are you hungry? ($MSG_TAG)"
}

teardown_file() {
    [ -n "${PEERS_DIR:-}" ] && [ -d "$PEERS_DIR/pids" ] || return 0
    local f p pids="" alive="" t0 rc=0
    for f in "$PEERS_DIR"/pids/*.pid; do
        [ -s "$f" ] && pids+=" $(tr -dc 0-9 <"$f")"
    done
    t0=$(now_ms)
    bash "$PEERS" stop "$PEERS_DIR" >"$PEERS_DIR/stop.out" 2>&1 3>&- || rc=$?
    echo "# peers stopped in $(($(now_ms) - t0)) ms (pids:$pids)" >&3
    for p in $pids; do
        if pid_alive "$p"; then alive+=" $p"; fi
    done
    if [ "$rc" != 0 ] || [ -n "$alive" ]; then
        echo "peers.sh stop rc=$rc; still running:${alive:- none}" >&2
        cat "$PEERS_DIR/stop.out" >&2
        [ -z "$alive" ] || ps -o pid,stat,args -p "${alive# }" >&2
        return 1
    fi
    [ -n "${PEERS_KEEP:-}" ] || rm -rf "$PEERS_DIR"
}

setup() {
    if [ -n "${PEERS_SKIP:-}" ]; then skip "$PEERS_SKIP"; fi
}

# --- helpers ------------------------------------------------------------------------

dig_short() { # TYPE NAME
    dig +short +time=10 +tries=3 -p "$DNS_PORT" @127.0.0.1 "$1" "$2"
}

# Alice (alice@crepes.test) submits the test message for bob@hamburger.test over
# STARTTLS, verifying the server certificate with the test CA, then AUTH PLAIN.
send_to_bob() {
    swaks --server 127.0.0.1 --port "$SUBM_PORT" --helo mx.crepes.test \
        --from alice@crepes.test --to bob@hamburger.test \
        --tls --tls-verify --tls-ca-path "$CA" \
        --auth PLAIN --auth-user alice@crepes.test --auth-password wonderland \
        --header "Subject: $MSG_SUBJ" --header "Message-Id: $MSG_ID" --body "$MSG_BODY"
}

# Print the file in Bob's Maildir holding the test message; wait up to ~10 s for it.
bob_message_file() {
    local i f
    for ((i = 0; i < 600; i++)); do
        f=$(grep -lF "Message-Id: $MSG_ID" "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/* 2>/dev/null | head -1) || true
        if [ -n "$f" ]; then
            echo "$f"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# The mail-store tests need the message; send it if this run skipped the SMTP test
# (e.g. bats --filter).
need_bob_message() {
    if ! grep -qsF "Message-Id: $MSG_ID" "$BOB_MAILDIR"/new/* "$BOB_MAILDIR"/cur/*; then
        send_to_bob >/dev/null 2>&1 || fail "could not send the test message to bob@hamburger.test"
    fi
    bob_message_file >/dev/null || fail "test message never reached $BOB_MAILDIR"
}

# UID of the test message in Bob's INBOX, over SCHEME (imap or imaps)
imap_uid() { # SCHEME PORT [curl options...]
    local scheme=$1 port=$2
    shift 2
    curl -sS "$@" "$scheme://127.0.0.1:$port/INBOX" -u bob@hamburger.test:hungry \
        -X "UID SEARCH HEADER Message-Id $MSG_TAG" | tr -d '\r' | awk '/^\* SEARCH [0-9]/{print $NF}'
}

# Print every POP3 message of Bob that carries the test Message-Id (with CRs removed).
pop3_find() { # SCHEME PORT [curl options...]
    local scheme=$1 port=$2 n m
    shift 2
    n=$(curl -sS "$@" "$scheme://127.0.0.1:$port/" -u bob:hungry | tr -d '\r' | awk '{print $1}') || return 1
    for m in $n; do
        curl -sS "$@" "$scheme://127.0.0.1:$port/$m" -u bob:hungry | tr -d '\r' >"$BATS_TEST_TMPDIR/pop3.$m"
        if grep -qF "Message-Id: $MSG_ID" "$BATS_TEST_TMPDIR/pop3.$m"; then
            cat "$BATS_TEST_TMPDIR/pop3.$m"
            return 0
        fi
    done
    return 1
}

# --- tests --------------------------------------------------------------------------

@test "knot answers MX for example.test on 127.0.0.1" {
    run dig_short MX example.test
    assert_success
    assert_line "10 mx1.example.test."
    assert_line "20 mx2.example.test."
    assert_line "20 mx2b.example.test."
    assert_line "30 mx3.example.test."
    assert_equal "${#lines[@]}" 4
}

@test "knot answers MX for hamburger.test (Bob's domain) and its MX is on loopback" {
    run dig_short MX hamburger.test
    assert_success
    assert_output "10 mx.hamburger.test."
    run dig_short A mx.hamburger.test
    assert_output "127.0.0.1"
    run dig_short AAAA mx.hamburger.test
    if [ "$HAVE_V6" = 1 ]; then assert_output "::1"; else assert_output ""; fi
}

@test "knot answers MX for crepes.test (Alice's domain)" {
    run dig_short MX crepes.test
    assert_success
    assert_output "10 mx.crepes.test."
    run dig_short A mx.crepes.test
    assert_output "127.0.0.1"
}

@test "postfix greets with 220 and offers STARTTLS, but no AUTH before TLS" {
    # shellcheck disable=SC2016 # expanded by the inner bash
    run timeout 60 bash -c '
        exec 5<>"/dev/tcp/127.0.0.1/$0"
        IFS= read -r l <&5; echo "${l%$'"'\r'"'}"
        printf "EHLO client.crepes.test\r\n" >&5
        while IFS= read -r l <&5; do
            l=${l%$'"'\r'"'}; echo "$l"
            [[ $l == "250 "* ]] && break
        done
        printf "QUIT\r\n" >&5' "$SMTP_PORT"
    assert_success
    assert_line --index 0 --regexp '^220 mx1\.example\.test ESMTP'
    assert_line --regexp '^250[- ]STARTTLS$'
    refute_line --regexp '^250[- ]AUTH'
}

@test "swaks STARTTLS + AUTH PLAIN delivers to bob@hamburger.test into Bob's Maildir" {
    run send_to_bob
    assert_success
    assert_line --regexp '^ ?<~  235 .*Authentication successful'
    assert_line --regexp '^ ?<~  250 .*queued as'
    run bob_message_file
    assert_success
    local f=$output
    assert [ -f "$f" ]
    run cat "$f"
    assert_line "Delivered-To: bob@hamburger.test"
    assert_line "Subject: $MSG_SUBJ"
    assert_line "$MSG_BODY"
}

@test "dovecot IMAP (imap://) as bob@hamburger.test sees the message" {
    need_bob_message
    run imap_uid imap "$IMAP_PORT"
    assert_success
    assert_output --regexp '^[0-9]+$'
    local uid=$output
    run curl -sS "imap://127.0.0.1:$IMAP_PORT/INBOX;UID=$uid" -u bob@hamburger.test:hungry
    assert_success
    assert_output --partial "Subject: $MSG_SUBJ"
    assert_output --partial "$MSG_BODY"
}

@test "dovecot POP3 (pop3://) as bob sees the message" {
    need_bob_message
    run pop3_find pop3 "$POP3_PORT"
    assert_success
    assert_line "Subject: $MSG_SUBJ"
    assert_line "$MSG_BODY"
}

@test "dovecot IMAPS verified with the test CA as mx.hamburger.test sees the message" {
    need_bob_message
    local host=mx.hamburger.test
    # without the test CA the certificate must not verify (exit 60): TLS is really checked
    run curl -sS --resolve "$host:$IMAPS_PORT:127.0.0.1" "imaps://$host:$IMAPS_PORT/INBOX" -u bob:hungry -X NOOP
    assert_failure 60
    run imap_uid imaps "$IMAPS_PORT" --cacert "$CA"
    assert_success
    assert_output --regexp '^[0-9]+$'
    local uid=$output
    run curl -sS --cacert "$CA" --resolve "$host:$IMAPS_PORT:127.0.0.1" \
        "imaps://$host:$IMAPS_PORT/INBOX;UID=$uid" -u bob@hamburger.test:hungry
    assert_success
    assert_output --partial "Subject: $MSG_SUBJ"
    assert_output --partial "$MSG_BODY"
}

@test "dovecot POP3S verified with the test CA sees the message" {
    need_bob_message
    run curl -sS "pop3s://127.0.0.1:$POP3S_PORT/" -u bob:hungry
    assert_failure 60
    run pop3_find pop3s "$POP3S_PORT" --cacert "$CA"
    assert_success
    assert_line "Subject: $MSG_SUBJ"
    assert_line "$MSG_BODY"
}

@test "the started daemons listen on 127.0.0.1 and ::1 only" {
    local f p pids="" ports
    for f in "$PEERS_DIR"/pids/*.pid; do pids+=" $(tr -dc 0-9 <"$f")"; done
    ports="$DNS_PORT $SMTP_PORT $SUBM_PORT $SMTPS_PORT $SINK_PORT $SINKDUMP_PORT"
    ports+=" $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT"
    # every socket held by a recorded PID or bound to one of our ports
    run bash -c 'ss -Hlntup | awk -v pids="$1" -v ports="$2" '"'"'
        BEGIN { np = split(pids, P, " "); nq = split(ports, Q, " ") }
        {
            n = split($5, a, ":"); hit = 0
            for (i = 1; i <= nq; i++) if (a[n] == Q[i]) hit = 1
            for (i = 1; i <= np; i++) if (index($0, "pid=" P[i] ",")) hit = 1
            if (hit) print $1, $5
        }'"'" _ "$pids" "$ports"
    assert_success
    refute_output ""
    # nothing but loopback
    local line
    for line in "${lines[@]}"; do
        [[ $line =~ \ (127\.0\.0\.1|\[::1\]):[0-9]+$ ]] || fail "non-loopback listener: $line"
    done
    # and every port is really served on 127.0.0.1
    for p in $ports; do
        assert_line "tcp 127.0.0.1:$p"
    done
    assert_line "udp 127.0.0.1:$DNS_PORT"
    if [ "$HAVE_V6" = 1 ]; then
        for p in $DNS_PORT $SMTP_PORT $IMAP_PORT $POP3_PORT; do assert_line "tcp [::1]:$p"; done
    fi
}
