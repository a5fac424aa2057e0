#!/usr/bin/env bats
# mdeliver(1): delivery into Maildirs and mbox files, every option and exit
# code with its message, mbox quoting and splitting (mboxo, mboxrd, mboxcl2),
# crashes (SIGKILL at random moments), a full disk (a 256 KiB tmpfs and an
# LD_PRELOAD shim), 8 writers at once, Dovecot's doveadm as an independent
# reader, and a 300 MB message in bounded memory.
#
# MDELIVER is the binary under test (meson sets it); MP_SANITIZE (meson's
# b_sanitize) turns the memory assertion off under a sanitizer. Everything is
# written below $BATS_TEST_TMPDIR, except a doveadm home (a mktemp directory
# under /tmp that uid 65534 can reach, removed in teardown). Needs perl (core),
# cmp, /usr/bin/time; root for the tmpfs tests (skipped otherwise), cc for
# the shim (tests/fault/enospc.c), doveadm and jq for the reader tests.

# Byte strings are printf formats on purpose; run-style globals are set in
# helpers (SC2030/SC2031 misread @test as a subshell).
# shellcheck disable=SC2059,SC2030,SC2031,SC2016,SC2034,SC2154

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/mdeliver'

# Maildir names: TIME.M<usec>P<pid>Q<n>R<rand>.HOST,S=SIZE[:2,FLAGS]
NAME_RE='^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+R[0-9a-f]{8}\.[^/:]+,S=([0-9]+)'
FROM_RE='^From [^ ]+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}$'
RP_MD=$'Return-Path: <>\n' # what --split adds for a From_ line without -f (MAILER-DAEMON is the null sender)

setup() {
    MDELIVER="${MDELIVER:-$BATS_TEST_DIRNAME/../../build/tools/mdeliver/mdeliver}"
    [ -x "$MDELIVER" ] || fail "mdeliver binary not found at '$MDELIVER' (build it or set MDELIVER)"
    T=$BATS_TEST_TMPDIR
    cd "$T" || return 1
    export LC_ALL=C TZ=UTC
    unset MAILDIR MAIL
    export HOME="$T/nohome"
    MOUNTED=
    DOVE_DIR=
    STOPPED=
}

teardown() {
    # a writer a test stopped: let it go on, then end it
    if [ -n "$STOPPED" ]; then
        kill -CONT "$STOPPED" 2>/dev/null || true
        kill "$STOPPED" 2>/dev/null || true
        wait "$STOPPED" 2>/dev/null || true
    fi
    unmount_small_fs
    dove_cleanup
}

# stop_writer MBOX MSGFILE: a delivery into MBOX that stops itself (the
# shim, at its fsync of MBOX) with the message written and both locks
# held; its pid in STOPPED once it is stopped (state T)
stop_writer() {
    STOP_AT_FSYNC=$1 LD_PRELOAD=$SHIM \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$MDELIVER" "$1" <"$2" 3>&- &
    STOPPED=$!
    local i st
    for ((i = 0; i < 1200; i++)); do
        st=$(ps -o stat= -p "$STOPPED") || fail "the writer ended instead of stopping"
        [[ $st == T* ]] && return 0
        sleep 0.05
    done
    fail "the writer never stopped (state $st)"
}

# check_name PATH [FLAGS]: PATH is a Maildir message file named right, S= its size
check_name() {
    local b=${1##*/}
    [[ $b =~ $NAME_RE ]] || fail "bad Maildir name: $b"
    [ "${BASH_REMATCH[1]}" -eq "$(fsize "$1")" ] ||
        fail "$b: S=${BASH_REMATCH[1]} but the file has $(fsize "$1") bytes"
    if [ $# -gt 1 ]; then
        [[ $b == *",S=${BASH_REMATCH[1]}:2,$2" ]] || fail "$b: expected the info ':2,$2'"
    else
        [[ $b != *:* ]] || fail "$b: unexpected info part"
    fi
}

# split_failed FILE K CAUSE DONE: stderr of a --split that stopped at message
# K of FILE (whose From_ line is at byte OFF, 1-based) for CAUSE, after
# delivering DONE messages in this run
split_failed() {
    local off
    off=$(($(grep -b '^From ' "$1" | sed -n "$2p" | cut -d: -f1) + 1))
    assert_equal "${err%%$'\n'*}" "mdeliver: $1: message $2 at byte $off: $3"
    local l2=${err#*$'\n'}
    [[ $l2 == "mdeliver: delivered $4 messages before "*"; rerun with --skip $(($2 - 1)) to continue" ]] ||
        fail "second line: '$l2', expected 'mdeliver: delivered $4 messages before ...; rerun with --skip $(($2 - 1)) to continue'"
    [[ $l2 == *" before it;"* || $l2 == *" before message $2;"* ]] || fail "second line: $l2"
}

# --------------------------------------------------------------- usage

@test "-h prints the usage on stdout and exits 0; -V prints name and version" {
    md -h </dev/null
    rc_is 0
    assert_equal "$err" ""
    [[ $out == "usage: mdeliver [-cp] [-v] [-f ADDR] [--folder NAME] [--flags FLAGS] [--dedup]"* ]] ||
        fail "usage: $out"
    for o in --create --parents --from --folder --flags --delivered-to --loop-check --dedup --split \
        --skip --lock-timeout --verbose --help --version; do
        [[ $out == *"$o"* ]] || fail "the usage does not mention $o"
    done
    local usage=$out
    md --help </dev/null
    rc_is 0
    assert_equal "$out" "$usage"
    md -V </dev/null
    rc_is 0
    [[ $out =~ ^mdeliver\ \(mailpipe\)\ [0-9]+\.[0-9]+ ]] || fail "-V: $out"
    md --version </dev/null
    rc_is 0
    [[ $out == "mdeliver (mailpipe) "* ]] || fail "--version: $out"
}

@test "usage errors exit 64 with a message naming the culprit, and deliver nothing" {
    local -a cases=(
        "-z|unknown option '-z' (see -h)"
        "--bogus|unknown option '--bogus' (see -h)"
        "--folder|option '--folder' needs an argument (see -h)"
        "-f|option '-f' needs an argument (see -h)"
        "--skip|option '--skip' needs an argument (see -h)"
        "$T/a $T/b|extra operand '$T/b'"
        "--split $T/a $T/b $T/c|extra operand '$T/c'"
        "--loop-check $T/a|--loop-check needs --delivered-to"
        "--skip 1 $T/a|--skip needs --split or --join"
        "--split --skip x $T/a|invalid --skip count: 'x'"
        "--split --skip -1 $T/a|invalid --skip count: '-1'"
        "--split --skip 3x $T/a|invalid --skip count: '3x'"
        "--lock-timeout soon $T/a|invalid lock timeout: 'soon'"
    )
    local c args
    for c in "${cases[@]}"; do
        read -ra args <<<"${c%%|*}"
        mdp 'Subject: x\n\nbody\n' "${args[@]}"
        [ "$rc" -eq 64 ] || fail "mdeliver ${c%%|*}: exit $rc, expected 64 ($err)"
        assert_equal "$err" "mdeliver: ${c#*|}"
        assert_equal "$out" ""
    done
    [ ! -e "$T/a" ] && [ ! -e "$T/b" ] && [ ! -e "$T/c" ] || fail "a usage error created a mailbox"
}

@test "an unknown option bundled with others is named in the message (-zv names '-z')" {
    mdp 'Subject: x\n\nbody\n' -zv "$T/mbox"
    rc_is 64
    assert_equal "$err" "mdeliver: unknown option '-z' (see -h)"
}

@test "no TARGET and none of MAILDIR, MAIL, HOME set: exit 64" {
    printf 'Subject: x\n\nbody\n' >"$T/msg"
    rc=0
    env -u MAILDIR -u MAIL -u HOME "$MDELIVER" <"$T/msg" 2>"$T/err" || rc=$?
    err=$(cat "$T/err")
    rc_is 64
    assert_equal "$err" "mdeliver: no TARGET, and none of MAILDIR, MAIL, HOME is set"
    rc=0
    env MAILDIR= MAIL= HOME= "$MDELIVER" <"$T/msg" 2>"$T/err" || rc=$?
    rc_is 64
}

@test "--folder and --dedup need a Maildir; bad folder names and flags: exit 64" {
    printf 'From x@y Mon Jan  1 00:00:00 2024\nSubject: old\n\nold\n\n' >"$T/mbox"
    cp "$T/mbox" "$T/mbox.orig"
    mdp 'Subject: x\n\nbody\n' --folder work "$T/mbox"
    rc_is 64
    err_about "$T/mbox" "--folder needs a Maildir"
    mdp 'Subject: x\n\nbody\n' --folder work "$T/newmbox"
    rc_is 64
    err_about "$T/newmbox" "--folder needs a Maildir"
    [ ! -e "$T/newmbox" ] || fail "--folder on an mbox path created it"
    mdp 'Subject: x\nMessage-ID: <a@b>\n\nbody\n' --dedup "$T/mbox"
    rc_is 64
    assert_equal "$err" "mdeliver: $T/mbox: --dedup needs a Maildir"
    same "$T/mbox" "$T/mbox.orig"

    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    local f
    for f in "" ".hidden" "a..b" "a/" $'a\tb' $'a\nb'; do
        mdp 'Subject: x\n\nbody\n' --folder "$f" "$T/md"
        rc_is 64
        [[ $err == "mdeliver: "*"invalid folder name '$f'" ]] || fail "--folder '$f': $err"
    done
    for f in x s SFx 1 "S F"; do
        mdp 'Subject: x\n\nbody\n' --flags "$f" "$T/md"
        rc_is 64
        [[ $err =~ ^mdeliver:\ $T/md:\ invalid\ Maildir\ flag\ \'.\'\ \(A-Z:\ D\ F\ P\ R\ S\ T\)$ ]] ||
            fail "--flags '$f': $err"
    done
    empty_dir "$T/md/new" "$T/md/cur" "$T/md/tmp"
    assert_equal "$(cd "$T/md" && echo .[!.]* *)" ".[!.]* cur new tmp"
}

# --------------------------------------------------------------- Maildir

@test "Maildir: the message lands in new/ whole, named TIME.MusecPpidQnRrand.HOST,S=SIZE, mode 0600" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    printf 'From: a@example.org\nSubject: hello\n\nbody line\n\n>From kept as is\nFrom kept too\n' >"$T/msg"
    md "$T/md" <"$T/msg"
    rc_is 0
    assert_equal "$out" ""
    assert_equal "$err" ""
    local f
    f=$(only_file "$T/md/new")
    check_name "$f"
    same "$f" "$T/msg"
    assert_equal "$(stat -c %a "$f")" "600"
    [[ ${f##*/} == *".$(hostname | sed 's,/,\\057,g; s,:,\\072,g'),S="* ]] || fail "host not in ${f##*/}"
    [[ ${f##*/} == *"P"*"Q1R"* ]] || fail "first message of a process is not Q1: ${f##*/}"
    empty_dir "$T/md/cur" "$T/md/tmp"
    # a second one gets a different name
    md "$T/md" <"$T/msg"
    rc_is 0
    [ "$(nfiles "$T/md/new")" -eq 2 ] || fail "second delivery missing"
}

@test "Maildir: 'DIR/' is created on demand, its missing parents only with -p (else 73 naming one), -c creates one at a path without '/'" {
    # a typo in the path creates nothing
    mdp 'Subject: a\n\nbody\n' "$T/deep/er/md/"
    rc_is 73
    err_about "$T/deep/er/md" ": no directory $T/deep/er"
    [ ! -e "$T/deep" ] || fail "a parent was created without -p"
    mdp 'Subject: a\n\nbody\n' -c "$T/deep/er/md"
    rc_is 73
    err_about "$T/deep/er/md" ": no directory $T/deep/er"
    [ ! -e "$T/deep" ] || fail "a parent was created by -c without -p"
    mdp 'Subject: a\n\nbody\n' --parents "$T/deep/er/md/"
    rc_is 0
    assert_equal "$(stat -c %a "$T/deep") $(stat -c %a "$T/deep/er")" "700 700"
    local d
    for d in cur new tmp; do
        [ -d "$T/deep/er/md/$d" ] || fail "$d/ not created"
        assert_equal "$(stat -c %a "$T/deep/er/md/$d")" "700"
    done
    [ "$(nfiles "$T/deep/er/md/new")" -eq 1 ] || fail "not delivered"

    mdp 'Subject: b\n\nbody\n' -cp "$T/made/md"
    rc_is 0
    [ -d "$T/made/md/tmp" ] && [ "$(nfiles "$T/made/md/new")" -eq 1 ] || fail "-c did not make a Maildir"

    # an existing directory without cur/new/tmp: '/' or -c make it a Maildir
    mkdir "$T/plain" "$T/plain2"
    mdp 'Subject: c\n\nbody\n' "$T/plain/"
    rc_is 0
    [ "$(nfiles "$T/plain/new")" -eq 1 ] || fail "DIR/ did not become a Maildir"
    mdp 'Subject: c\n\nbody\n' -c "$T/plain2"
    rc_is 0
    [ "$(nfiles "$T/plain2/new")" -eq 1 ] || fail "-c DIR did not become a Maildir"
}

@test "Maildir: a directory without cur/ new/ tmp/ is not a Maildir: exit 73, nothing created" {
    mkdir "$T/plain"
    mdp 'Subject: a\n\nbody\n' "$T/plain"
    rc_is 73
    err_about "$T/plain" ": a directory without cur/, new/, tmp/ (-c makes it a Maildir)"
    empty_dir "$T/plain"
    # a partial Maildir is not one either
    mkdir "$T/plain/new" "$T/plain/cur"
    mdp 'Subject: a\n\nbody\n' "$T/plain"
    rc_is 73
    [ ! -e "$T/plain/tmp" ] && empty_dir "$T/plain/new"
}

@test "mbox in a missing directory: 73 naming it, nothing created; -p creates it once the message is read" {
    mdp 'Subject: a\n\nbody\n' "$T/nod/sub/mbox"
    rc_is 73
    err_about "$T/nod/sub/mbox" ": no directory $T/nod/sub"
    [ ! -e "$T/nod" ] || fail "a directory was created without -p"
    # not a message: nothing created even with -p
    mdp '' -p "$T/nod/sub/mbox"
    rc_is 65
    [ ! -e "$T/nod" ] || fail "a directory was created for no message"
    mdp 'Subject: a\n\nbody\n' -p -f a@example.org "$T/nod/sub/mbox"
    rc_is 0
    assert_equal "$(stat -c %a "$T/nod") $(stat -c %a "$T/nod/sub")" "700 700"
    assert_equal "$(sed -n 2p "$T/nod/sub/mbox")" "Return-Path: <a@example.org>"
    # an existing directory needs no -p
    mdp 'Subject: b\n\nbody\n' "$T/nod/other"
    rc_is 0
    [ -s "$T/nod/other" ] || fail "not delivered"
}

@test "Maildir that cannot be created: exit 73 naming the target and the cause" {
    printf 'not a directory\n' >"$T/file"
    mdp 'Subject: a\n\nbody\n' "$T/file/md/"
    rc_is 73
    err_about "$T/file/md" ": Not a directory"
    mdp 'Subject: a\n\nbody\n' -c "$T/file/md"
    rc_is 73
    err_about "$T/file/md" ": Not a directory"
    bytes "$T/file" 'not a directory\n'
}

@test "--folder NAME delivers into .NAME (with maildirfolder); a/b becomes .a.b" {
    mdp 'Subject: f1\n\nbody\n' --folder work "$T/md/"
    rc_is 0
    [ -d "$T/md/new" ] || fail "the parent Maildir was not created"
    empty_dir "$T/md/new"
    [ -f "$T/md/.work/maildirfolder" ] || fail "no maildirfolder in .work"
    assert_equal "$(fsize "$T/md/.work/maildirfolder")" "0"
    [ "$(nfiles "$T/md/.work/new")" -eq 1 ] || fail "not in .work/new"
    bytes "$(only_file "$T/md/.work/new")" 'Subject: f1\n\nbody\n'

    mdp 'Subject: f2\n\nbody\n' -v --folder a/b "$T/md"
    rc_is 0
    [ -f "$T/md/.a.b/maildirfolder" ] && [ -d "$T/md/.a.b/tmp" ] && [ -d "$T/md/.a.b/cur" ] ||
        fail "no Maildir++ folder .a.b: $(ls -A "$T/md")"
    [ ! -e "$T/md/.a" ] && [ ! -e "$T/md/a" ] || fail "a/b made more than .a.b: $(ls -A "$T/md")"
    assert_equal "$out" "$(only_file "$T/md/.a.b/new")"
    # an existing folder is reused
    mdp 'Subject: f3\n\nbody\n' --folder a/b "$T/md"
    rc_is 0
    [ "$(nfiles "$T/md/.a.b/new")" -eq 2 ] || fail "second message not in .a.b"
}

@test "--flags: into cur/ with :2,FLAGS in ASCII order, each once; empty FLAGS gives ':2,'" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    local -a cases=("SF:FS" "S:S" "TSRPFD:DFPRST" "SSFS:FS" ":")
    local c f
    for c in "${cases[@]}"; do
        rm -f "$T/md/cur/"*
        mdp 'Subject: flags\n\nbody\n' -v --flags "${c%%:*}" "$T/md"
        rc_is 0
        f=$(only_file "$T/md/cur")
        check_name "$f" "${c#*:}"
        assert_equal "$out" "$f"
        bytes "$f" 'Subject: flags\n\nbody\n'
        empty_dir "$T/md/new" "$T/md/tmp"
    done
}

@test "-v prints the Maildir file's path; -v on an mbox prints 'MBOX: offset N, B bytes'" {
    mdp 'Subject: v\n\nbody\n' -v "$T/md/"
    rc_is 0
    assert_equal "$out" "$(only_file "$T/md/new")"
    assert_equal "$err" ""
    [[ $out == "$T/md/new/"* ]] || fail "$out"

    mdp 'Subject: v1\n\nbody\n' -v "$T/mbox"
    rc_is 0
    local s1
    s1=$(fsize "$T/mbox")
    assert_equal "$out" "$T/mbox: offset 0, $s1 bytes"
    mdp 'Subject: v2\n\nbody two\n' -v "$T/mbox"
    rc_is 0
    assert_equal "$out" "$T/mbox: offset $s1, $(($(fsize "$T/mbox") - s1)) bytes"
    [ "$(tail -c +$((s1 + 1)) "$T/mbox" | head -c 5)" = "From " ] || fail "no From_ line at the offset"
    # without -v: silent
    mdp 'Subject: v3\n\nbody\n' "$T/mbox"
    rc_is 0
    assert_equal "$out" ""
    assert_equal "$err" ""
}

@test "-f ADDR adds Return-Path and drops existing ones (folded too); a From_ line on stdin is the sender" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    mdp 'Return-Path: <old@example.org>\nSubject: a\nReturn-Path:\n <older@example.org>\nX: y\n\nReturn-Path: <body@example.org>\n' -f new@example.org "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Return-Path: <new@example.org>\nSubject: a\nX: y\n\nReturn-Path: <body@example.org>\n'

    rm "$T/md/new/"*
    mdp 'From env@example.org Mon Jan  1 00:00:00 2024\nSubject: b\n\nbody\n' "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Return-Path: <env@example.org>\nSubject: b\n\nbody\n'

    # -f wins over the From_ line, which still goes
    rm "$T/md/new/"*
    mdp 'From env@example.org Mon Jan  1 00:00:00 2024\nReturn-Path: <x@y>\nSubject: c\n\nbody\n' -f cli@example.org "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Return-Path: <cli@example.org>\nSubject: c\n\nbody\n'

    # no sender at all: the message is kept as it is, Return-Path included
    rm "$T/md/new/"*
    mdp 'Return-Path: <keep@example.org>\nSubject: d\n\nbody\n' "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Return-Path: <keep@example.org>\nSubject: d\n\nbody\n'

    # mbox: the sender goes into the From_ line too
    mdp 'Subject: e\n\nbody\n' -f snd@example.org "$T/mbox"
    rc_is 0
    [[ $(head -1 "$T/mbox") =~ $FROM_RE ]] || fail "From_ line: $(head -1 "$T/mbox")"
    [[ $(head -1 "$T/mbox") == "From snd@example.org "* ]] || fail "From_ line: $(head -1 "$T/mbox")"
    assert_equal "$(sed -n 2p "$T/mbox")" "Return-Path: <snd@example.org>"
}

@test "--delivered-to adds Delivered-To; --loop-check refuses mail already delivered there: exit 67" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    mdp 'Subject: a\n\nbody\n' -f s@example.org --delivered-to bob@example.org "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Return-Path: <s@example.org>\nDelivered-To: bob@example.org\nSubject: a\n\nbody\n'
    rm "$T/md/new/"*

    local v
    for v in 'bob@example.org' '<bob@example.org>' 'BOB@Example.ORG' ' <Bob@example.org> '; do
        mdp "Subject: a\nDelivered-To: other@example.org\nDelivered-To:$v\n\nbody\n" --delivered-to bob@example.org --loop-check "$T/md"
        rc_is 67
        assert_equal "$err" "mdeliver: $T/md: mail loop: already delivered to bob@example.org"
        empty_dir "$T/md/new" "$T/md/tmp"
    done
    # the same on an mbox: nothing appended
    printf 'From x@y Mon Jan  1 00:00:00 2024\nSubject: old\n\nold\n\n' >"$T/mbox"
    cp "$T/mbox" "$T/mbox.orig"
    mdp 'Subject: a\nDelivered-To: bob@example.org\n\nbody\n' --delivered-to bob@example.org --loop-check "$T/mbox"
    rc_is 67
    assert_equal "$err" "mdeliver: $T/mbox: mail loop: already delivered to bob@example.org"
    same "$T/mbox" "$T/mbox.orig"
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"

    # another address, a Delivered-To in the body, or no --loop-check: delivered
    mdp 'Subject: a\nDelivered-To: bobby@example.org\n\nDelivered-To: bob@example.org\n' --delivered-to bob@example.org --loop-check "$T/md"
    rc_is 0
    mdp 'Subject: a\nDelivered-To: bob@example.org\n\nbody\n' --delivered-to bob@example.org "$T/md"
    rc_is 0
    [ "$(nfiles "$T/md/new")" -eq 2 ] || fail "expected 2 deliveries"
    grep -c '^Delivered-To: bob@example.org$' "$(file_with 'body' "$T/md/new")" | grep -qx 2 ||
        fail "Delivered-To not added on top of the existing one"
}

@test "--dedup: the same Message-ID twice gives one file and a note; an index in the Maildir" {
    local m='Subject: a\nMessage-ID: <id-1@example.org>\n\nbody\n'
    mdp "$m" --dedup "$T/md/"
    rc_is 0
    assert_equal "$err" ""
    mdp "$m" --dedup -v "$T/md/"
    rc_is 0
    assert_equal "$err" "mdeliver: $T/md: <id-1@example.org> already delivered, skipped"
    assert_equal "$out" ""
    [ "$(nfiles "$T/md/new")" -eq 1 ] || fail "duplicate delivered"
    empty_dir "$T/md/tmp"
    bytes "$T/md/.mdeliver-msgids" '<id-1@example.org>\t%s\n' "$(basename "$(only_file "$T/md/new")")"

    # a different id, a folded Message-ID, a message without one
    mdp 'Subject: b\nMessage-ID: <id-2@example.org>\n\nbody\n' --dedup "$T/md/"
    rc_is 0
    mdp 'Subject: c\nMessage-ID:\n <id-3@example.org>\n\nbody\n' --dedup "$T/md/"
    rc_is 0
    mdp 'Subject: c2\nmessage-id:\n <id-3@example.org>\n\nbody\n' --dedup "$T/md/"
    rc_is 0
    assert_equal "$err" "mdeliver: $T/md: <id-3@example.org> already delivered, skipped"
    mdp 'Subject: d\n\nno id\n' --dedup "$T/md/"
    rc_is 0
    mdp 'Subject: d\n\nno id\n' --dedup "$T/md/"
    rc_is 0
    [ "$(nfiles "$T/md/new")" -eq 5 ] || fail "expected 5 messages, got $(nfiles "$T/md/new")"
    # without --dedup the index is not consulted
    mdp "$m" "$T/md/"
    rc_is 0
    [ "$(nfiles "$T/md/new")" -eq 6 ] || fail "a delivery without --dedup was skipped"
    # each folder has its own index
    mdp "$m" --dedup --folder f "$T/md/"
    rc_is 0
    assert_equal "$err" ""
    [ "$(nfiles "$T/md/.f/new")" -eq 1 ] || fail "not delivered into the folder"
    # --dedup with --flags: the skipped one leaves cur/ alone
    mdp "$m" --dedup --flags S "$T/md/"
    rc_is 0
    empty_dir "$T/md/cur"
}

@test "--dedup knows the Message-IDs the Maildir holds (files put there by cp, in new/ and cur/), and reads each file once" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    printf 'Subject: old\nMessage-ID: <there@example.org>\n\nbody\n' >"$T/md/cur/1700000000.x.host:2,S"
    printf 'Subject: new\nMessage-Id: (c) <new@example.org>\n\nbody\n' >"$T/md/new/1700000001.y.host"
    printf 'Subject: none\n\nno id\n' >"$T/md/new/1700000002.z.host"
    # an index of an older mdeliver: ids alone, and a torn last line
    printf '<old@example.org>\n<torn@exa' >"$T/md/.mdeliver-msgids"
    # the id of the file in cur/: there already, nothing delivered, exit 0
    printf 'Subject: again\nMessage-ID: <there@example.org>\n\nbody\n' >"$T/m"
    run --separate-stderr "$MDELIVER" -j --dedup "$T/md/" <"$T/m"
    assert_success
    assert_equal "$stderr" "mdeliver: $T/md: <there@example.org> already delivered, skipped"
    run jq -r '[.type, .path, .message_id, .skipped] | @tsv' <<<"$output"
    assert_output "message	$T/md	<there@example.org>	true"
    [ "$(nfiles "$T/md/new")" -eq 2 ] && [ "$(nfiles "$T/md/cur")" -eq 1 ] || fail "delivered again"
    empty_dir "$T/md/tmp"
    # the one in new/, and the one of the old index
    mdp 'Subject: again\nMessage-ID: <new@example.org>\n\nbody\n' --dedup "$T/md/"
    rc_is 0
    assert_equal "$err" "mdeliver: $T/md: <new@example.org> already delivered, skipped"
    mdp 'Subject: again\nMessage-ID: <old@example.org>\n\nbody\n' --dedup "$T/md/"
    rc_is 0
    err_has "<old@example.org> already delivered, skipped"
    [ "$(nfiles "$T/md/new")" -eq 2 ] || fail "delivered again"
    # a different id is delivered, and so is the torn one
    mdp 'Subject: other\nMessage-ID: <other@example.org>\n\nbody\n' --dedup -v "$T/md/"
    rc_is 0
    assert_equal "$err" ""
    local other
    other=$(basename "$out")
    mdp 'Subject: torn\nMessage-ID: <torn@exa>\n\nbody\n' --dedup "$T/md/"
    rc_is 0
    assert_equal "$err" ""
    [ "$(nfiles "$T/md/new")" -eq 4 ] || fail "expected 4 in new/"
    # the index: each file once, by its name up to ':'; the torn line gone
    local torn
    torn=$(basename "$(file_with 'Subject: torn' "$T/md/new")")
    sort "$T/md/.mdeliver-msgids" >"$T/idx"
    printf '%s\n' $'\t1700000002.z.host' $'<new@example.org>\t1700000001.y.host' \
        '<old@example.org>' "<other@example.org>	$other" \
        $'<there@example.org>\t1700000000.x.host' "<torn@exa>	$torn" | sort >"$T/want"
    same "$T/idx" "$T/want"
    # a mail reader moves a file to cur/ with flags: the same file, not read again
    mv "$T/md/new/1700000001.y.host" "$T/md/cur/1700000001.y.host:2,S"
    # a file in the index is not read again: its new content is not seen
    printf 'Subject: old\nMessage-ID: <changed@example.org>\n\nbody\n' >"$T/md/cur/1700000000.x.host:2,S"
    mdp 'Subject: changed\nMessage-ID: <changed@example.org>\n\nbody\n' --dedup "$T/md/"
    rc_is 0
    assert_equal "$err" ""
    assert_equal "$(grep -c . "$T/md/.mdeliver-msgids")" 7
}

@test "CRLF: a Maildir keeps the line ends as received (Return-Path too), an mbox stores LF" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    mdp 'Subject: crlf\r\nX: y\r\n\r\nline 1\r\nFrom here\r\nlast\r\n' -f a@example.org "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Return-Path: <a@example.org>\r\nSubject: crlf\r\nX: y\r\n\r\nline 1\r\nFrom here\r\nlast\r\n'
    rm "$T/md/new/"*
    # LF message: LF Return-Path; a lone CR inside a line is kept
    mdp 'Subject: lf\n\nbare\rCR\n' -f a@example.org "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Return-Path: <a@example.org>\nSubject: lf\n\nbare\rCR\n'

    mdp 'Subject: crlf\r\nX: y\r\n\r\nline 1\r\nFrom here\r\nbare\rCR\r\n' -f a@example.org "$T/mbox"
    rc_is 0
    tail -n +2 "$T/mbox" >"$T/rest"
    bytes "$T/rest" 'Return-Path: <a@example.org>\nSubject: crlf\nX: y\n\nline 1\n>From here\nbare\rCR\n\n'
    # and --split gives the LF form back
    split_to "$T/mbox" "$T/back"
    bytes "$(only_file "$T/back/new")" 'Return-Path: <a@example.org>\nSubject: crlf\nX: y\n\nline 1\nFrom here\nbare\rCR\n'
}

@test "a message without a final newline gets one (LF, CRLF, mbox)" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    mdp 'Subject: a\n\nno newline' "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Subject: a\n\nno newline\n'
    rm "$T/md/new/"*
    mdp 'Subject: a\r\n\r\nno newline' "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Subject: a\r\n\r\nno newline\r\n'
    rm "$T/md/new/"*
    mdp 'Subject: a' "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Subject: a\n'
    mdp 'Subject: a\n\nno newline' "$T/mbox"
    rc_is 0
    tail -n +2 "$T/mbox" >"$T/rest"
    bytes "$T/rest" 'Subject: a\n\nno newline\n\n'
}

@test "not a message: exit 65 for empty input, a From_ line only, a first line that is no header field, NUL in the header" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    printf 'From x@y Mon Jan  1 00:00:00 2024\nSubject: old\n\nold\n\n' >"$T/mbox"
    cp "$T/mbox" "$T/mbox.orig"
    local -a cases=(
        "|empty message"
        "From a@b Mon Jan  1 00:00:00 2024\n|empty message"
        "\nSubject: a\n\nbody\n|not a message: line 1 is not a header field"
        "Hello Bob,\nhow are you\n|not a message: line 1 is not a header field"
        "From a@b Mon Jan  1 00:00:00 2024\n\nbody\n|not a message: line 1 is not a header field"
        " Subject: folded\n\nbody\n|not a message: line 1 is not a header field"
        ": no name\n\nbody\n|not a message: line 1 is not a header field"
        "Sub ject: x\n\nbody\n|not a message: line 1 is not a header field"
        "Subject: a\nX-Bad: a\0b\n\nbody\n|not a message: NUL byte in the header"
        "Sub\0ject: a\n\nbody\n|not a message: line 1 is not a header field"
    )
    local c tgt
    for c in "${cases[@]}"; do
        for tgt in "$T/md" "$T/mbox"; do
            mdp "${c%%|*}" "$tgt"
            [ "$rc" -eq 65 ] || fail "input '${c%%|*}' to $tgt: exit $rc, expected 65 ($err)"
            assert_equal "$err" "mdeliver: $tgt: ${c#*|}"
        done
    done
    empty_dir "$T/md/new" "$T/md/cur" "$T/md/tmp"
    same "$T/mbox" "$T/mbox.orig"
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    # NUL in the body is fine
    mdp 'Subject: a\n\nbin\0ary\n' "$T/md"
    rc_is 0
    bytes "$(only_file "$T/md/new")" 'Subject: a\n\nbin\0ary\n'
}

# --------------------------------------------------------------- default target

@test "no TARGET: \$MAILDIR, then \$MAIL, then ~/Maildir/" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp" "$T/home"
    printf 'Subject: default\n\nbody\n' >"$T/msg"
    MAILDIR=$T/md MAIL=$T/mbox HOME=$T/home "$MDELIVER" <"$T/msg"
    [ "$(nfiles "$T/md/new")" -eq 1 ] || fail "MAILDIR not used"
    [ ! -e "$T/mbox" ] && [ ! -e "$T/home/Maildir" ] || fail "MAILDIR did not win"

    MAILDIR='' MAIL=$T/mbox HOME=$T/home "$MDELIVER" <"$T/msg"
    [ -f "$T/mbox" ] || fail "MAIL not used"
    [[ $(head -1 "$T/mbox") =~ $FROM_RE ]] || fail "MAIL is not an mbox: $(head -1 "$T/mbox")"
    [ ! -e "$T/home/Maildir" ] || fail "MAIL did not win over HOME"

    env -u MAILDIR -u MAIL HOME="$T/home" "$MDELIVER" <"$T/msg"
    [ -d "$T/home/Maildir/tmp" ] || fail "\$HOME/Maildir/ not created"
    same "$(only_file "$T/home/Maildir/new")" "$T/msg"
    [ "$(nfiles "$T/md/new")" -eq 1 ] && [ "$(grep -c '^From ' "$T/mbox")" -eq 1 ] || fail "wrong target"

    # --split takes the default target too
    MAILDIR=$T/md "$MDELIVER" --split <"$T/mbox" 2>"$T/err"
    [ "$(nfiles "$T/md/new")" -eq 2 ] || fail "--split did not use MAILDIR"
    bytes "$(file_with 'Return-Path: <>' "$T/md/new")" 'Return-Path: <>\nSubject: default\n\nbody\n'
    assert_equal "$(cat "$T/err")" "mdeliver: delivered 1 messages (39 bytes)"
}

# --------------------------------------------------------------- mbox

@test "mbox: a new file (0600) gets 'From SENDER DATE', the message, a blank line; later ones append" {
    mdp 'Subject: one\n\nbody one\n' "$T/mbox"
    rc_is 0
    assert_equal "$(stat -c %a "$T/mbox")" "600"
    [[ $(head -1 "$T/mbox") =~ $FROM_RE ]] || fail "From_ line: $(head -1 "$T/mbox")"
    [[ $(head -1 "$T/mbox") == "From MAILER-DAEMON "* ]] || fail "From_ line: $(head -1 "$T/mbox")"
    local l1
    l1=$(head -1 "$T/mbox")
    mdp 'From env@example.org Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody two\n' "$T/mbox"
    rc_is 0
    local l2
    l2=$(sed -n 6p "$T/mbox")
    [[ $l2 =~ $FROM_RE ]] && [[ $l2 == "From env@example.org "* ]] || fail "second From_ line: $l2"
    [[ $l2 != *"Mon Jan  1 00:00:00 2024" ]] || fail "the From_ line date is the envelope's, not the delivery time"
    bytes "$T/mbox" '%s\nSubject: one\n\nbody one\n\n%s\nReturn-Path: <env@example.org>\nSubject: two\n\nbody two\n\n' "$l1" "$l2"
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    # an existing empty file is an empty mbox
    : >"$T/empty"
    mdp 'Subject: e\n\nbody\n' "$T/empty"
    rc_is 0
    [ "$(head -c 5 "$T/empty")" = "From " ] || fail "empty file not used as an mbox"
}

@test "mbox: appending after a last message without its blank line adds the separator" {
    printf 'From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nno blank after' >"$T/m1"
    printf 'From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\none newline\n' >"$T/m2"
    mdp 'Subject: new\n\nbody\n' "$T/m1"
    rc_is 0
    mdp 'Subject: new\n\nbody\n' "$T/m2"
    rc_is 0
    assert_equal "$(sed -n 4,6p "$T/m1" | head -c 22)" $'no blank after\n\nFrom M'
    assert_equal "$(sed -n 4,6p "$T/m2" | head -c 19)" $'one newline\n\nFrom M'
    split_to "$T/m2" "$T/back"
    [ "$(nfiles "$T/back/new")" -eq 2 ] || fail "the separator was not added"
    bytes "$(file_with 'one newline' "$T/back/new")" 'Return-Path: <a@b>\nSubject: x\n\none newline\n'
}

@test "mbox: an existing non-empty file not starting with 'From ' is not an mbox: exit 73, untouched" {
    printf 'Subject: i am a message, not an mbox\n\nbody\n' >"$T/notmbox"
    cp "$T/notmbox" "$T/orig"
    mdp 'Subject: a\n\nbody\n' "$T/notmbox"
    rc_is 73
    err_about "$T/notmbox" 'not an mbox (does not start with "From ")'
    same "$T/notmbox" "$T/orig"
    [ ! -e "$T/notmbox.lock" ] || fail "lock left behind"
    printf 'Fro' >"$T/short"
    mdp 'Subject: a\n\nbody\n' "$T/short"
    rc_is 73
    bytes "$T/short" 'Fro'
}

@test "mbox that cannot be created (its directory is a file): exit 73 naming the target and the cause" {
    printf 'x\n' >"$T/file"
    mdp 'Subject: a\n\nbody\n' "$T/file/mbox"
    rc_is 73
    err_about "$T/file/mbox" "Not a directory"
    mdp 'Subject: a\n\nbody\n' -p "$T/file/mbox"
    rc_is 73
    err_about "$T/file/mbox" "Not a directory"
    bytes "$T/file" 'x\n'
}

@test "mbox: mboxrd quoting of ^>*From lines; only the From_ line of stdin is taken as envelope" {
    mdp 'From env@example.org Mon Jan  1 00:00:00 2024\nSubject: q\n\nFrom the start\n>From one\n>>From two\nFrom\nFromage\n From x\nxFrom y\n>From\n>>>From three\n>Fromx\n' "$T/mbox"
    rc_is 0
    tail -n +2 "$T/mbox" >"$T/rest"
    bytes "$T/rest" 'Return-Path: <env@example.org>\nSubject: q\n\n>From the start\n>>From one\n>>>From two\nFrom\nFromage\n From x\nxFrom y\n>From\n>>>>From three\n>Fromx\n\n'
    assert_equal "$(grep -c '^From ' "$T/mbox")" "1"
}

@test "mbox round trip: deliver to an mbox, --split into a Maildir: byte-identical plus Return-Path" {
    genmsgs "$T/msgs" 40 200 6000 7 rt
    # some with a body ending in blank lines, quoted lines at the very end,
    # a long line of 200 KB with "From " inside, a body without a blank line
    printf 'Subject: blank end\nMessage-ID: <e1@x>\n\nbody\n\n\n' >"$T/msgs/41.eml"
    printf 'Subject: quoted end\n\n>From end\n' >"$T/msgs/42.eml"
    { printf 'Subject: long line\n\n'; head -c 200000 /dev/zero | tr '\0' 'x'; printf ' From y\nFrom z\n'; } >"$T/msgs/43.eml"
    printf 'Subject: blank body\n\n\n' >"$T/msgs/44.eml"
    printf 'Subject: empty body\n\n' >"$T/msgs/45.eml"
    local i
    for i in $(seq 1 45); do
        md "$T/mbox" <"$T/msgs/$i.eml"
        rc_is 0
    done
    assert_equal "$(grep -c '^From ' "$T/mbox")" "45"
    md --split "$T/mbox" "$T/back/"
    rc_is 0
    [[ $err =~ ^mdeliver:\ delivered\ 45\ messages\ \(([0-9]+)\ bytes\)$ ]] || fail "$err"
    assert_equal "${BASH_REMATCH[1]}" "$(cat "$T/back/new/"* | wc -c)"
    [ "$(nfiles "$T/back/new")" -eq 45 ] || fail "$(nfiles "$T/back/new") messages"
    msgcheck --prefix="$RP_MD" --all "$T/msgs" "$T/back/new/"*
    # delivery order is kept
    local n=0 f
    while read -r f; do
        n=$((n + 1))
        cmp -s <(printf '%s' "$RP_MD"; cat "$T/msgs/$n.eml") "$f" || fail "message $n out of order"
    done < <(by_q "$T/back/new")
}

@test "mbox round trip of a header-only message (no body) gives it back unchanged" {
    mdp 'Subject: header only\nX-A: b\n' "$T/mbox"
    rc_is 0
    mdp 'Subject: next\n\nbody\n' "$T/mbox"
    rc_is 0
    split_to "$T/mbox" "$T/back"
    bytes "$(file_with 'X-A: b' "$T/back/new")" 'Return-Path: <>\nSubject: header only\nX-A: b\n'
}

# --------------------------------------------------------------- --split

@test "--split of an mboxo file: one level of '>' comes off, the blank line before From_ goes" {
    printf '%s\n' \
        'From a@example.org Mon Jan  1 00:00:00 2024' 'Subject: one' '' '>From quoted by mboxo' 'body' '' \
        'From b@example.org Mon Jan  1 00:00:01 2024' 'Subject: two' '' 'two' >"$T/mboxo"
    md --split -v "$T/mboxo" "$T/md/"
    rc_is 0
    assert_equal "$err" "mdeliver: delivered 2 messages ($(cat "$T/md/new/"* | wc -c) bytes)"
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "-v: $out"
    local -a f
    mapfile -t f < <(by_q "$T/md/new")
    assert_equal "$out" "${f[0]}"$'\n'"${f[1]}"
    bytes "${f[0]}" 'Return-Path: <a@example.org>\nSubject: one\n\nFrom quoted by mboxo\nbody\n'
    bytes "${f[1]}" 'Return-Path: <b@example.org>\nSubject: two\n\ntwo\n'
}

@test "--split of an mboxrd file from stdin (pipe, CRLF too): quoting levels, blank runs" {
    printf '%s\n' '' '' \
        'From a@example.org Mon Jan  1 00:00:00 2024' 'Subject: one' '' '>>From two levels' '>From one' 'From' '' '' \
        'From b@example.org Mon Jan  1 00:00:01 2024' 'Subject: two' '' '' '' >"$T/mboxrd"
    md --split "$T/md/" < <(cat "$T/mboxrd")
    rc_is 0
    local -a f
    mapfile -t f < <(by_q "$T/md/new")
    [ "${#f[@]}" -eq 2 ] || fail "${#f[@]} messages"
    bytes "${f[0]}" 'Return-Path: <a@example.org>\nSubject: one\n\n>From two levels\nFrom one\nFrom\n\n'
    bytes "${f[1]}" 'Return-Path: <b@example.org>\nSubject: two\n\n\n'
    # the same with CRLF line ends
    sed 's/$/\r/' "$T/mboxrd" | "$MDELIVER" --split "$T/crlf/" 2>/dev/null
    mapfile -t f < <(by_q "$T/crlf/new")
    [ "${#f[@]}" -eq 2 ] || fail "CRLF: ${#f[@]} messages"
    bytes "${f[0]}" 'Return-Path: <a@example.org>\r\nSubject: one\r\n\r\n>From two levels\r\nFrom one\r\nFrom\r\n\r\n'
}

@test "--split of an mboxcl2 file: bodies with unquoted From lines after blank lines are not split" {
    local b1=$'line 1\n\nFrom the start of a line\nmore\n\nFrom again\n' b2=$'x\n\nFrom y\n'
    {
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\nContent-Length: %d\n\n%s\n' ${#b1} "$b1"
        printf 'From b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\nContent-Length: %d\n\n%s\n' ${#b2} "$b2"
        printf 'From c@example.org Mon Jan  1 00:00:02 2024\nSubject: three\ncontent-length:   %d\n\n%s' ${#b2} "$b2"
    } >"$T/cl2"
    local tgt
    for tgt in file stdin; do
        if [ $tgt = file ]; then
            md --split "$T/cl2" "$T/$tgt/"
        else
            md --split "$T/$tgt/" <"$T/cl2" # stdin from a file: seekable
        fi
        rc_is 0
        assert_equal "$err" "mdeliver: delivered 3 messages ($(cat "$T/$tgt/new/"* | wc -c) bytes)"
        local -a f
        mapfile -t f < <(by_q "$T/$tgt/new")
        [ "${#f[@]}" -eq 3 ] || fail "$tgt: split into ${#f[@]} messages"
        bytes "${f[0]}" 'Return-Path: <a@example.org>\nSubject: one\nContent-Length: %d\n\n%s' ${#b1} "$b1"
        bytes "${f[1]}" 'Return-Path: <b@example.org>\nSubject: two\nContent-Length: %d\n\n%s' ${#b2} "$b2"
        bytes "${f[2]}" 'Return-Path: <c@example.org>\nSubject: three\ncontent-length:   %d\n\n%s' ${#b2} "$b2"
    done
}

@test "--split: a wrong Content-Length does not swallow the next message" {
    {
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: long\nContent-Length: 9999\n\nbody a\n\n'
        printf 'From b@example.org Mon Jan  1 00:00:01 2024\nSubject: short\nContent-Length: 2\n\nbody b\n\n'
        printf 'From c@example.org Mon Jan  1 00:00:02 2024\nSubject: junk\nContent-Length: x\n\nbody c\n'
    } >"$T/bad"
    md --split "$T/bad" "$T/md/"
    rc_is 0
    local -a f
    mapfile -t f < <(by_q "$T/md/new")
    [ "${#f[@]}" -eq 3 ] || fail "split into ${#f[@]} messages"
    bytes "${f[0]}" 'Return-Path: <a@example.org>\nSubject: long\nContent-Length: 9999\n\nbody a\n'
    bytes "${f[1]}" 'Return-Path: <b@example.org>\nSubject: short\nContent-Length: 2\n\nbody b\n'
    bytes "${f[2]}" 'Return-Path: <c@example.org>\nSubject: junk\nContent-Length: x\n\nbody c\n'
}

@test "--split --skip N starts after the first N messages" {
    genmsgs "$T/msgs" 5 100 400 3 sk plain
    mkmbox "$T/mbox" s@example.org "$T/msgs/"{1..5}.eml
    md --split --skip 2 "$T/mbox" "$T/md/"
    rc_is 0
    [[ $err =~ ^mdeliver:\ delivered\ 3\ messages\ \([0-9]+\ bytes\)$ ]] || fail "$err"
    local -a f
    mapfile -t f < <(by_q "$T/md/new")
    [ "${#f[@]}" -eq 3 ] || fail "${#f[@]} messages"
    local i
    for i in 0 1 2; do
        cmp -s <(printf 'Return-Path: <s@example.org>\n'; cat "$T/msgs/$((i + 3)).eml") "${f[$i]}" ||
            fail "message $((i + 3)) wrong"
    done
    md --split --skip 5 "$T/mbox" "$T/md2/"
    rc_is 0
    assert_equal "$err" "mdeliver: delivered 0 messages (0 bytes)"
    md --split --skip 9 "$T/mbox" "$T/md2/"
    rc_is 0
    assert_equal "$err" "mdeliver: delivered 0 messages (0 bytes)"
    empty_dir "$T/md2/new"
    md --split --skip 0 "$T/mbox" "$T/md3/"
    rc_is 0
    [ "$(nfiles "$T/md3/new")" -eq 5 ] || fail "--skip 0 skipped"
}

@test "--split: a missing FILE exits 66; a file that is no mbox exits 65; an empty one delivers 0" {
    md --split "$T/missing" "$T/md/"
    rc_is 66
    assert_equal "$err" "mdeliver: $T/missing: No such file or directory"
    printf 'Subject: not an mbox\n\nbody\n' >"$T/plain"
    md --split "$T/plain" "$T/md/"
    rc_is 65
    err_has "mdeliver: $T/plain: " 'not an mbox: no "From " line at byte 1'
    empty_dir "$T/md/new" "$T/md/tmp"
    : >"$T/empty"
    md --split "$T/empty" "$T/md/"
    rc_is 0
    assert_equal "$err" "mdeliver: delivered 0 messages (0 bytes)"
}

@test "--split stops at a bad message: 'FILE: message K at byte OFF: cause', rerun with --skip K-1" {
    {
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n\n'
        printf 'From b@example.org Mon Jan  1 00:00:01 2024\nnot a header line\n\nbody\n\n'
        printf 'From c@example.org Mon Jan  1 00:00:02 2024\nSubject: three\n\nbody\n\n'
    } >"$T/mbox"
    md --split "$T/mbox" "$T/md/"
    rc_is 65
    split_failed "$T/mbox" 2 "not a message: line 1 is not a header field" 1
    bytes "$(only_file "$T/md/new")" 'Return-Path: <a@example.org>\nSubject: one\n\nbody\n'
    empty_dir "$T/md/tmp"
    md --split --skip 2 "$T/mbox" "$T/md/"
    rc_is 0
    assert_equal "$err" "mdeliver: delivered 1 messages ($(fsize "$(file_with 'Subject: three' "$T/md/new")") bytes)"
    [ "$(nfiles "$T/md/new")" -eq 2 ] || fail "message 3 not delivered"
}

@test "--split, 600 messages: batches made durable on a thread while the next is written, each reported once, in mbox order" {
    genmsgs "$T/msgs" 600 100 300 11 bg plain
    mkmbox "$T/mbox" s@example.org "$T/msgs/"{1..600}.eml
    local rp=$'Return-Path: <s@example.org>\n'
    md --split -v "$T/mbox" "$T/md/"
    rc_is 0
    [[ $err =~ ^mdeliver:\ delivered\ 600\ messages\ \([0-9]+\ bytes\)$ ]] || fail "$err"
    empty_dir "$T/md/tmp"
    local -a p
    mapfile -t p <<<"$out"
    [ "${#p[@]}" -eq 600 ] || fail "-v printed ${#p[@]} lines"
    [ "$(printf '%s\n' "${p[@]}" | sort -u | wc -l)" -eq 600 ] || fail "a path printed twice"
    local i
    # the first and last of each batch of 256, and their neighbours
    for i in 1 2 255 256 257 258 511 512 513 514 599 600; do
        cmp -s <(printf '%s' "$rp"; cat "$T/msgs/$i.eml") "${p[$((i - 1))]}" ||
            fail "line $i of -v is not message $i: ${p[$((i - 1))]}"
    done
    msgcheck --prefix="$rp" --all "$T/msgs" "$T/md/new/"*
    command -v jq >/dev/null || skip "jq not installed"
    md --split -j "$T/mbox" "$T/md2/"
    rc_is 0
    [ "$(jq -r 'select(.type == "message") | .path' <<<"$out" | sort -u | wc -l)" -eq 600 ] ||
        fail "not 600 message lines: $(head -c 300 <<<"$out")"
    assert_equal "$(jq -c 'select(.type == "summary") | .delivered' <<<"$out")" 600
}

@test "--split: a batch failing on its thread (links, LD_PRELOAD shim) is taken back with the next; a write failing while one commits keeps it" {
    build_shim
    genmsgs "$T/msgs" 600 100 300 12 bgf plain
    mkmbox "$T/mbox" s@example.org "$T/msgs/"{1..600}.eml
    local rp=$'Return-Path: <s@example.org>\n' i
    # links 1-300 work: the first batch (1-256) is in place and reported;
    # the second (257-512) fails on its thread, and the third (513-600),
    # in tmp/ meanwhile, goes with it
    LINK_FAIL_AFTER=300 mdfull -1 --split "$T/mbox" "$T/md/"
    rc_is 75
    local l1=${err%%$'\n'*}
    [[ $l1 =~ ^mdeliver:\ $T/mbox:\ messages\ 257\ to\ 600:\ link\ $T/md/new/[^/]+:\ No\ space\ left\ on\ device$ ]] ||
        fail "first line: $l1"
    assert_equal "${err#*$'\n'}" "mdeliver: delivered 256 messages before message 257; rerun with --skip 256 to continue"
    [ "$(nfiles "$T/md/new")" -eq 256 ] || fail "$(nfiles "$T/md/new") in new/"
    empty_dir "$T/md/tmp"
    printf "$T/msgs/%s.eml\n" {1..256} >"$T/first"
    msgcheck --prefix="$rp" --require="$T/first" "$T/msgs" "$T/md/new/"*
    md --split --skip 256 "$T/mbox" "$T/md/"
    rc_is 0
    [[ $err =~ ^mdeliver:\ delivered\ 344\ messages ]] || fail "$err"
    msgcheck --prefix="$rp" --all "$T/msgs" "$T/md/new/"*
    # room for messages 1-549: the write of 550 fails while the second
    # batch commits on its thread; that batch and 513-549 are kept
    local room=0
    for i in {1..549}; do room=$((room + ${#rp} + $(fsize "$T/msgs/$i.eml"))); done
    mdfull $((room + 50)) --split "$T/mbox" "$T/md2/"
    rc_is 75
    split_failed "$T/mbox" 550 "write: No space left on device" 549
    [ "$(nfiles "$T/md2/new")" -eq 549 ] || fail "$(nfiles "$T/md2/new") in new/"
    empty_dir "$T/md2/tmp"
}

@test "--split into an mbox, with --dedup and --flags into a Maildir" {
    {
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\nMessage-ID: <1@x>\n\n>From me\n>>From you\n\n'
        printf 'From b@example.org Mon Jan  1 00:00:01 2024\nSubject: again\nMessage-ID: <1@x>\n\nbody\n\n'
        printf 'From c@example.org Mon Jan  1 00:00:02 2024\nSubject: two\nMessage-ID: <2@x>\n\nbody\n\n'
    } >"$T/src"
    md --split --dedup --flags S "$T/src" "$T/md/"
    rc_is 0
    assert_equal "$err" "mdeliver: $T/md: <1@x> already delivered, skipped
mdeliver: delivered 2 messages ($(cat "$T/md/cur/"* | wc -c) bytes)"
    empty_dir "$T/md/new"
    [ "$(nfiles "$T/md/cur")" -eq 2 ] || fail "expected 2 in cur/"
    local f
    for f in "$T/md/cur/"*; do check_name "$f" S; done
    bytes "$(file_with 'Subject: one' "$T/md/cur")" 'Return-Path: <a@example.org>\nSubject: one\nMessage-ID: <1@x>\n\nFrom me\n>From you\n'

    md --split "$T/src" "$T/out.mbox"
    rc_is 0
    assert_equal "$(grep -c '^From ' "$T/out.mbox")" "3"
    grep -q '^>From me$' "$T/out.mbox" && grep -q '^>>From you$' "$T/out.mbox" || fail "requoting lost"
    split_to "$T/out.mbox" "$T/back"
    bytes "$(file_with 'Subject: one' "$T/back/new")" 'Return-Path: <a@example.org>\nSubject: one\nMessage-ID: <1@x>\n\nFrom me\n>From you\n'
}

# flagsof MAILDIR: "SUBJECT new" or "SUBJECT cur:FLAGS" for each message, sorted
flagsof() {
    local f
    for f in "$1"/new/* "$1"/cur/*; do
        [ -f "$f" ] || continue
        case $f in
        */new/*) echo "$(sed -n 's/^Subject: //p' "$f") new" ;;
        *) echo "$(sed -n 's/^Subject: //p' "$f") cur:${f##*:2,}" ;;
        esac
    done | tr -d '\r' | sort
}

@test "--split into a Maildir: Status: and X-Status: are the flags (R S, O cur/, A R, F F, D T, T D) and go; --flags wins" {
    {
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: none\n\nbody\n\n'
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: old\nStatus: O\n\nbody\n\n'
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: read\nStatus: RO\nX-Other: 1\n\nbody\n\n'
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: readnew\nSTATUS: R\n\nbody\n\n'
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: answered\nX-Status: A\n\nbody\n\n'
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: all\nX-Status: DTFA\nStatus: RO\n\nStatus: RO\n\n'
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: empty\nStatus:\nX-Status: \n\nbody\n\n'
        printf 'From a@example.org Mon Jan  1 00:00:00 2024\nSubject: crlf\r\nStatus: RO\r\nX-Status:\r\n F\r\n\r\nbody\r\n\n'
    } >"$T/src"
    md --split "$T/src" "$T/md/"
    rc_is 0
    assert_equal "$(flagsof "$T/md")" "all cur:DFRST
answered cur:R
crlf cur:FS
empty new
none new
old cur:
read cur:S
readnew cur:S"
    # the fields are gone from the header (the flags say it now), the body keeps its own
    bytes "$(file_with 'Subject: all' "$T/md/cur")" 'Return-Path: <a@example.org>\nSubject: all\n\nStatus: RO\n'
    bytes "$(file_with 'Subject: read' "$T/md/cur")" 'Return-Path: <a@example.org>\nSubject: read\nX-Other: 1\n\nbody\n'
    bytes "$(grep -l 'Subject: crlf' "$T/md/cur/"*)" 'Return-Path: <a@example.org>\r\nSubject: crlf\r\n\r\nbody\r\n'
    local f
    for f in "$T/md/cur/"*; do check_name "$f" "${f##*:2,}"; done

    # --flags wins
    md --split --flags P "$T/src" "$T/p/"
    rc_is 0
    empty_dir "$T/p/new"
    [ "$(ls "$T/p/cur" | grep -c ':2,P$')" -eq 8 ] || fail "--flags P not on all: $(ls "$T/p/cur")"
    # into an mbox, and a single message into a Maildir: kept as they are
    md --split "$T/src" "$T/out.mbox"
    rc_is 0
    assert_equal "$(grep -c '^Status: RO$' "$T/out.mbox")" 4 # 3 fields and a body line
    mdp 'Subject: one\nStatus: RO\n\nbody\n' "$T/one/"
    rc_is 0
    bytes "$(only_file "$T/one/new")" 'Subject: one\nStatus: RO\n\nbody\n'
}

@test "--flags into an mbox: Status: and X-Status: (S RO, else O; R A, F F, T D, D T) in place of the message's own" {
    local f
    for f in "" S R F T D P DFPRST; do
        rm -f "$T/mbox"
        mdp 'Subject: x\nStatus: O\nX-Status: F\nX-Status2: y\n\nStatus: kept\n' --flags "$f" "$T/mbox"
        rc_is 0
        tail -n +2 "$T/mbox" >"$T/rest"
        case $f in
        "" | P) bytes "$T/rest" 'Status: O\nSubject: x\nX-Status2: y\n\nStatus: kept\n\n' ;;
        S) bytes "$T/rest" 'Status: RO\nSubject: x\nX-Status2: y\n\nStatus: kept\n\n' ;;
        R) bytes "$T/rest" 'Status: O\nX-Status: A\nSubject: x\nX-Status2: y\n\nStatus: kept\n\n' ;;
        F) bytes "$T/rest" 'Status: O\nX-Status: F\nSubject: x\nX-Status2: y\n\nStatus: kept\n\n' ;;
        T) bytes "$T/rest" 'Status: O\nX-Status: D\nSubject: x\nX-Status2: y\n\nStatus: kept\n\n' ;;
        D) bytes "$T/rest" 'Status: O\nX-Status: T\nSubject: x\nX-Status2: y\n\nStatus: kept\n\n' ;;
        DFPRST) bytes "$T/rest" 'Status: RO\nX-Status: AFDT\nSubject: x\nX-Status2: y\n\nStatus: kept\n\n' ;;
        esac
    done
    # after Return-Path and Delivered-To; an invalid flag is 64 with nothing written
    rm -f "$T/mbox"
    mdp 'Subject: x\n\nbody\n' -f a@example.org --delivered-to b@example.org --flags SF "$T/mbox"
    rc_is 0
    tail -n +2 "$T/mbox" >"$T/rest"
    bytes "$T/rest" 'Return-Path: <a@example.org>\nDelivered-To: b@example.org\nStatus: RO\nX-Status: F\nSubject: x\n\nbody\n\n'
    cp "$T/mbox" "$T/mbox.orig"
    mdp 'Subject: x\n\nbody\n' --flags Sx "$T/mbox"
    rc_is 64
    err_about "$T/mbox" "invalid Maildir flag 'x' (A-Z: D F P R S T)"
    same "$T/mbox" "$T/mbox.orig"
}

@test "flags round trip: Maildir -> mbox (--flags of each file) -> Maildir (--split) keeps the flags and the messages" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    local i=0 fl f
    for fl in "" S RS FS T DFRST F; do
        i=$((i + 1))
        printf 'Subject: m%s\nMessage-ID: <%s@x>\n\nbody %s\n' "$i" "$i" "$i" >"$T/md/cur/17000000$i.x.host:2,$fl"
    done
    printf 'Subject: m0\n\nunread\n' >"$T/md/new/1700000000.x.host"
    for f in "$T/md/new/"*; do md "$T/out.mbox" <"$f" && rc_is 0; done
    for f in "$T/md/cur/"*; do md --flags "${f##*:2,}" "$T/out.mbox" <"$f" && rc_is 0; done
    md --split "$T/out.mbox" "$T/back/"
    rc_is 0
    assert_equal "$(flagsof "$T/back")" "$(flagsof "$T/md")"
    # the same messages, with the Return-Path of the null sender added
    for f in "$T/md/new/"* "$T/md/cur/"*; do
        printf '%s' "$RP_MD" | cat - "$f" >"$T/want"
        same "$(file_with "$(head -1 "$f")" "$T/back/$(basename "$(dirname "$f")")")" "$T/want"
    done
}

# --------------------------------------------------------------- --join

# jmsg FILE SUBJECT RETURN-PATH BODY: a message file (printf BODY) with
# the mtime 2024-03-0N 10:00:00 UTC, N its size mod 9 + 1
jmsg() {
    printf "Return-Path: <%s>\nSubject: %s\n\n$4" "$3" "$2" >"$1"
    touch -d "2024-03-0$(($(fsize "$1") % 9 + 1)) 10:00:00" "$1"
}

@test "--join: a Maildir (new/ and cur/, flags S RS F T D and none) into an mbox and --split back gives the same messages, flags and places" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    jmsg "$T/md/new/1700000001.M9P1Q1.h,S=1" unread a@x.org 'From the start\n>From quoted\n>>From twice\nFrom\n'
    jmsg "$T/md/new/1700000003.M1P1Q1.h" nonl '' 'last line without a break'
    jmsg "$T/md/cur/1700000002.M1P1Q1.h:2,S" seen b@x.org 'body\n\nFrom a line after a blank\n'
    jmsg "$T/md/cur/1700000004.M1P1Q1.h:2,RS" replied c@x.org 'body\n'
    jmsg "$T/md/cur/1700000005.M1P1Q1.h:2,F" flagged d@x.org 'body\n'
    jmsg "$T/md/cur/1700000006.M1P1Q1.h:2,T" trashed e@x.org 'body\n'
    jmsg "$T/md/cur/1700000007.M1P1Q1.h:2,D" draft f@x.org 'body\n'
    jmsg "$T/md/cur/1700000008.M1P1Q1.h:2," old g@x.org 'body\n'
    md --join "$T/md" "$T/out.mbox"
    rc_is 0
    assert_equal "$err" "mdeliver: delivered 8 messages ($(fsize "$T/out.mbox") bytes)"
    # in name order, new/ and cur/ together; the From_ line: the
    # Return-Path's sender (MAILER-DAEMON for <>), the file's mtime
    local f want=
    for f in $(ls "$T/md/new" "$T/md/cur" | grep '^17' | sort); do
        f=$(ls "$T/md"/*/"$f")
        local s rp
        s=$(sed -n 's/^Subject: //p' "$f")
        rp=$(sed -n '1s/^Return-Path: <\(.*\)>$/\1/p' "$f")
        want+="From ${rp:-MAILER-DAEMON} $(date -d "@$(stat -c %Y "$f")" '+%a %b %e %H:%M:%S %Y') $s"$'\n'
    done
    assert_equal "$(awk '/^From /{f=$0} /^Subject: /{print f, $2}' "$T/out.mbox")" "${want%$'\n'}"
    # the flags as Status: and X-Status:, nothing for a new message; mboxrd quoting
    grep -A3 '^From f@x.org' "$T/out.mbox" | grep -qx 'X-Status: T' || fail "draft: no X-Status: T"
    grep -A3 '^From e@x.org' "$T/out.mbox" | grep -qx 'X-Status: D' || fail "trashed: no X-Status: D"
    grep -A3 '^From c@x.org' "$T/out.mbox" | grep -qx 'Status: RO' || fail "replied: no Status: RO"
    ! grep -A2 '^From a@x.org' "$T/out.mbox" | grep -q 'Status' || fail "a new message got a Status:"
    grep -qx '>>>From twice' "$T/out.mbox" || fail "not mboxrd-quoted"
    md --split "$T/out.mbox" "$T/back/"
    rc_is 0
    assert_equal "$(flagsof "$T/back")" "$(flagsof "$T/md")"
    assert_equal "$(flagsof "$T/back")" "draft cur:D
flagged cur:F
nonl new
old cur:
replied cur:RS
seen cur:S
trashed cur:T
unread new"
    # byte for byte; the one without a final line break gets one
    for f in "$T/md/new/"* "$T/md/cur/"*; do
        cp "$f" "$T/want"
        [ -n "$(tail -c1 "$f")" ] && printf '\n' >>"$T/want"
        same "$(file_with "$(sed -n 2p "$f")" "$T/back/$(basename "$(dirname "$f")")")" "$T/want"
    done
    # and once more: the same mbox, but for the From_ dates (now the split's)
    md --join "$T/back" "$T/again.mbox"
    rc_is 0
    assert_equal "$(grep -v '^From ' "$T/again.mbox")" "$(grep -v '^From ' "$T/out.mbox")"
}

@test "--join: files named on the command line in their order, flags from ':2,' (old), else new; the message's own Status: goes; -v and --json" {
    jmsg "$T/b:2,FS" second x@y.org 'body\n'
    printf 'Subject: first\nStatus: RO\nX-Status: A\n\nbody\n' >"$T/a.eml"
    md --join -v "$T/a.eml" "$T/b:2,FS" "$T/mbox"
    rc_is 0
    local s1
    s1=$(($(grep -n '^From ' "$T/mbox" | sed -n 2p | cut -d: -f1) - 1))
    s1=$(head -n "$s1" "$T/mbox" | wc -c)
    assert_equal "$out" "$T/mbox: offset 0, $s1 bytes
$T/mbox: offset $s1, $(($(fsize "$T/mbox") - s1)) bytes"
    bytes "$T/mbox" 'From MAILER-DAEMON %s\nSubject: first\n\nbody\n\nFrom x@y.org %s\nStatus: RO\nX-Status: F\nReturn-Path: <x@y.org>\nSubject: second\n\nbody\n\n' \
        "$(date -d "@$(stat -c %Y "$T/a.eml")" '+%a %b %e %H:%M:%S %Y')" \
        "$(date -d "@$(stat -c %Y "$T/b:2,FS")" '+%a %b %e %H:%M:%S %Y')"
    md --join --json --skip 1 "$T/a.eml" "$T/b:2,FS" "$T/mbox2"
    rc_is 0
    assert_equal "$out" "{\"type\":\"message\",\"path\":\"$T/mbox2\",\"offset\":0,\"bytes\":$(fsize "$T/mbox2"),\"message_id\":null,\"skipped\":false}
{\"type\":\"summary\",\"delivered\":1,\"bytes\":$(fsize "$T/mbox2")}"
}

@test "--join: digit runs of names compare as numbers (1700000000.M9 before .M10), so a split Maildir joins in its delivery order" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    jmsg "$T/md/new/1700000000.M10P5Q2.h" second s@x 'b\n'
    jmsg "$T/md/cur/1700000000.M9P5Q1.h:2,S" first s@x 'b\n'
    jmsg "$T/md/new/1699999999.M999999P5Q9.h" zeroth s@x 'b\n'
    jmsg "$T/md/cur/1700000001.M0P5Q3.h:2,S" third s@x 'b\n'
    md --join "$T/md" "$T/mbox"
    rc_is 0
    assert_equal "$(sed -n 's/^Subject: //p' "$T/mbox" | tr '\n' ' ')" "zeroth first second third "
    # split gives new names in mbox order; joined again, the same order
    split_to "$T/mbox" "$T/back"
    md --join "$T/back" "$T/mbox2"
    rc_is 0
    assert_equal "$(sed -n 's/^Subject: //p' "$T/mbox2" | tr '\n' ' ')" "zeroth first second third "
}

@test "--join: bad input: not a Maildir or missing 66, a Maildir or -c target 64, --flags 64, nothing touched; a bad message stops at K with 'rerun with --skip K-1'" {
    mkdir -p "$T/notmd/cur" "$T/md/cur" "$T/md/new" "$T/md/tmp"
    mdp 'Subject: old\n\nbody\n' "$T/mbox"
    cp "$T/mbox" "$T/orig"
    md --join "$T/notmd" "$T/mbox"
    rc_is 66
    assert_equal "$err" "mdeliver: $T/notmd: not a Maildir (no new/)"
    md --join "$T/missing" "$T/mbox"
    rc_is 66
    assert_equal "$err" "mdeliver: $T/missing: No such file or directory"
    local c
    for c in "$T/md $T/md|$T/md: --join writes an mbox, not a Maildir" \
        "$T/md $T/md2/|$T/md2/: --join writes an mbox, not a Maildir" \
        "-c $T/md $T/new|$T/new: --join writes an mbox, not a Maildir" \
        "--flags S $T/md $T/mbox|--flags with --join: the flags come from the file names" \
        "$T/mbox|--join needs a MAILDIR or FILE and the MBOX" \
        "--split $T/md $T/mbox|--join and --split cannot be used together"; do
        local -a args
        read -ra args <<<"${c%%|*}"
        md --join "${args[@]}"
        rc_is 64
        assert_equal "$err" "mdeliver: ${c#*|}"
    done
    [ ! -e "$T/new" ] && [ ! -e "$T/md2" ] || fail "a usage error created something"
    same "$T/mbox" "$T/orig"
    # an empty Maildir: 0 messages, no mbox made
    md --join "$T/md" "$T/empty.mbox"
    rc_is 0
    assert_equal "$err" "mdeliver: delivered 0 messages (0 bytes)"
    [ ! -e "$T/empty.mbox" ] || fail "an empty join created the mbox"
    # message 3 is not a message: 1 and 2 are delivered, durable, reported
    jmsg "$T/md/new/1.h" one a@x 'b\n'
    jmsg "$T/md/new/2.h" two a@x 'b\n'
    printf 'not a header line\n' >"$T/md/new/3.h"
    jmsg "$T/md/new/4.h" four a@x 'b\n'
    md --join "$T/md" "$T/mbox"
    rc_is 65
    assert_equal "$err" "mdeliver: $T/md/new/3.h: message 3: not a message: line 1 is not a header field
mdeliver: delivered 2 messages before message 3; rerun with --skip 2 to continue"
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    assert_equal "$(sed -n 's/^Subject: //p' "$T/mbox" | tr '\n' ' ')" "old one two "
    printf 'Subject: three\n\nfixed\n' >"$T/md/new/3.h"
    md --join --skip 2 "$T/md" "$T/mbox"
    rc_is 0
    assert_equal "$(sed -n 's/^Subject: //p' "$T/mbox" | tr '\n' ' ')" "old one two three four "
}

@test "--join: a full disk (LD_PRELOAD shim) at any byte: exit 75 at message K, the K-1 before it whole in the mbox, none after, no lock; --skip K-1 finishes it" {
    build_shim
    genmsgs "$T/msgs" 8 2000 6000 9 jfull
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    local i n total k
    for i in {1..8}; do cp "$T/msgs/$i.eml" "$T/md/new/17000000$i.M1P1Q$i.h"; done
    total=$(cat "$T/msgs/"*.eml | wc -c)
    for n in 0 30 $((RANDOM % total)) $((total / 2)) $((total + RANDOM % total)) $((2 * total - 100)); do
        rm -f "$T/mbox"
        mdfull "$n" --join "$T/md" "$T/mbox"
        [ ! -e "$T/mbox.lock" ] || fail "budget $n: lock left behind"
        if [ "$rc" -eq 0 ]; then
            k=9
        else
            rc_is 75
            k=$(sed -n 's/.*: message \([0-9]*\): .*/\1/p' <<<"$err" | head -1)
            # the lock itself could not be written: nothing began
            [[ -n $k || $err != *$'\n'* ]] || fail "budget $n: $err"
            k=${k:-1}
            [ "$k" -eq 1 ] && [[ $err != *$'\n'* ]] || [[ ${err##*$'\n'} == "mdeliver: delivered $((k - 1)) messages before message $k; rerun with --skip $((k - 1)) to continue" ]] ||
                fail "budget $n: $err"
        fi
        assert_equal "$(cat "$T/mbox" 2>/dev/null | grep -c '^X-Token: ' || true)" "$((k - 1))"
        [ "$k" -eq 9 ] || { md --join --skip $((k - 1)) "$T/md" "$T/mbox"; rc_is 0; }
        rm -rf "$T/back"
        split_to "$T/mbox" "$T/back"
        msgcheck --all --prefix="$RP_MD" "$T/msgs" "$T/back/new/"*
        echo "# budget $n: stopped at message $k" >&3
    done
}

# stopped PID: PID has stopped itself (state T)
stopped() {
    local st
    { read -r _ _ st _ <"/proc/$1/stat"; } 2>/dev/null || fail "process $1 ended instead of stopping"
    [ "$st" = T ]
}

@test "--join: one locked run: stopped at its fsync with every message written and the dotlock noting the size before the run, another delivery gets no lock; then all go in, the other after them" {
    build_shim
    genmsgs "$T/msgs" 20 200 3000 7 join
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    rc_is 0
    local s0 lpid lsize lhost i
    s0=$(fsize "$T/mbox")
    STOP_AT_FSYNC=$T/mbox LD_PRELOAD=$SHIM \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$MDELIVER" --join "$T/msgs/"{1..20}.eml "$T/mbox" 2>"$T/join.err" 3>&- &
    STOPPED=$!
    poll_until stopped "$STOPPED"
    # its one fsync comes after the last message: all 20 are in, under one lock
    assert_equal "$(grep -c '^From ' "$T/mbox")" 21
    read -r lpid lsize lhost <"$T/mbox.lock"
    assert_equal "$lpid $lsize $lhost" "$STOPPED $s0 $(hostname)"
    mdp 'Subject: blocked\n\nbody\n' --lock-timeout 0 "$T/mbox"
    rc_is 75
    assert_equal "$err" "mdeliver: $T/mbox: $T/mbox.lock: still locked after 0 s"
    printf 'Subject: late\n\nbody\n' >"$T/late.eml"
    "$MDELIVER" --lock-timeout 600 "$T/mbox" <"$T/late.eml" 3>&- &
    local late=$!
    kill -CONT "$STOPPED"
    wait "$STOPPED" || fail "the join failed: $(cat "$T/join.err")"
    STOPPED=
    wait "$late" || fail "the late delivery failed"
    local lateoff
    lateoff=$(grep -b '^From ' "$T/mbox" | tail -1 | cut -d: -f1)
    assert_equal "$(cat "$T/join.err")" "mdeliver: delivered 20 messages ($((lateoff - s0)) bytes)"
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    assert_equal "$(sed -n 's/^Subject: \(message [0-9]*\).*/\1/p; s/^Subject: \([a-z]*\)$/\1/p' "$T/mbox" | tr '\n' ' ')" \
        "first $(for i in {1..20}; do printf 'message %s ' "$i"; done)late "
    split_to "$T/mbox" "$T/back"
    rm "$(file_with 'Subject: first' "$T/back/new")" "$(file_with 'Subject: late' "$T/back/new")"
    msgcheck --all --prefix="$RP_MD" "$T/msgs" "$T/back/new/"*
}

@test "--join: SIGKILL at its first fsync, or at random moments over 600 messages (3 batches): whole messages only, every one reported there, in order" {
    build_shim
    genmsgs "$T/msgs" 600 200 3000 "$RANDOM" jkill
    mdp 'Subject: before\n\nbody\n' "$T/base"
    local r pid w total k n i
    # killed at its first fsync: 256 written, none reported: all cut off
    cp "$T/base" "$T/mbox"
    STOP_AT_FSYNC=$T/mbox LD_PRELOAD=$SHIM \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$MDELIVER" --join "$T/msgs/"{1..600}.eml "$T/mbox" 2>/dev/null 3>&- &
    STOPPED=$!
    poll_until stopped "$STOPPED"
    assert_equal "$(grep -c '^X-Token: ' "$T/mbox")" 256
    kill -9 "$STOPPED"
    wait "$STOPPED" 2>/dev/null || true
    STOPPED=
    mdp 'Subject: after\n\nbody\n' --lock-timeout 5 "$T/mbox"
    rc_is 0
    assert_equal "$(sed -n 's/^Subject: //p' "$T/mbox" | tr '\n' ' ')" "before after "
    # killed once it has written W bytes (spool and mbox), W at random
    total=$(cat "$T/msgs/"*.eml | wc -c)
    for r in 1 2 3 4 5; do
        cp "$T/base" "$T/mbox"
        w=$((RANDOM * RANDOM % (2 * total) + 1))
        "$MDELIVER" --join -v "$T/msgs/"{1..600}.eml "$T/mbox" >"$T/v" 2>/dev/null 3>&- &
        pid=$!
        poll_until has_written "$pid" "$w"
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        k=$(wc -l <"$T/v")
        # the next delivery cuts off what was never synced (its owner is
        # dead); a lock killed before its first word is written says no
        # owner, and is broken at once here (nothing was appended yet)
        MAILPIPE_STALE_LOCK_SECONDS=0 mdp 'Subject: after\n\nbody\n' --lock-timeout 5 "$T/mbox"
        rc_is 0
        rm -rf "$T/back"
        split_to "$T/mbox" "$T/back"
        rm "$(file_with 'Subject: before' "$T/back/new")" "$(file_with 'Subject: after' "$T/back/new")"
        n=$(nfiles "$T/back/new")
        echo "# kill after $w bytes: $k reported, $n there" >&3
        [ "$n" -ge "$k" ] || fail "$k reported but $n there"
        # the first n messages, each whole, in order
        for ((i = 1; i <= n; i++)); do echo "$T/msgs/$i.eml"; done >"$T/first"
        [ "$n" -eq 0 ] || msgcheck --prefix="$RP_MD" --require="$T/first" "$T/msgs" "$T/back/new/"*
        assert_equal "$(sed -n 's/^Subject: message \([0-9]*\) .*/\1/p' "$T/mbox" | tr '\n' ' ')" \
            "$(for ((i = 1; i <= n; i++)); do printf '%s ' "$i"; done)"
    done
}

# --------------------------------------------------------------- locking

@test "mbox lock: a live holder of the dotlock makes --lock-timeout expire: exit 75" {
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    rc_is 0
    # the message is spooled first: the lock is only held for the copy, so
    # a live holder is another process that owns the dotlock
    sleep 30 3>&- &
    local holder=$!
    printf '%s\n' "$holder" >"$T/mbox.lock"
    mdp 'Subject: blocked\n\nbody\n' --lock-timeout 1 "$T/mbox"
    rc_is 75
    assert_equal "$err" "mdeliver: $T/mbox: $T/mbox.lock: still locked after 1 s"
    [ -e "$T/mbox.lock" ] || fail "a live holder's lock was removed"
    kill "$holder"
    wait "$holder" 2>/dev/null || true
    assert_equal "$(grep -c '^From ' "$T/mbox")" "1"
}

@test "mbox lock: a slow sender does not hold the lock while it sends" {
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    # the slow one has its first line and waits for the rest while the quick
    # one is delivered
    mkfifo "$T/in"
    "$MDELIVER" "$T/mbox" <"$T/in" 3>&- &
    local slow=$! w
    exec {w}>"$T/in"
    printf 'Subject: slow\n' >&"$w"
    poll_until reading_stdin "$slow"
    [ ! -e "$T/mbox.lock" ] || fail "the mbox is locked while the message is still arriving"
    mdp 'Subject: quick\n\nbody\n' --lock-timeout 1 "$T/mbox"
    rc_is 0
    printf '\nslow body\n' >&"$w"
    exec {w}>&-
    wait "$slow" || fail "the slow delivery failed"
    assert_equal "$(grep -c '^From ' "$T/mbox")" "3"
}
@test "mbox lock: an fcntl lock held by another program makes --lock-timeout expire: exit 75" {
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    rc_is 0
    cp "$T/mbox" "$T/orig"
    # struct flock on x86-64/aarch64 Linux: short, short, pad, off_t, off_t, pid_t, pad
    perl -e 'use Fcntl; open(my $f, "+<", $ARGV[0]) or die "$!";
             my $fl = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0);
             fcntl($f, F_SETLKW, $fl) or die "lock: $!";
             open(my $r, ">", $ARGV[1]) or die; close $r; sleep 20;' "$T/mbox" "$T/locked" 3>&- &
    local holder=$!
    wait_for -e "$T/locked"
    mdp 'Subject: blocked\n\nbody\n' --lock-timeout 1 "$T/mbox"
    kill "$holder"
    wait "$holder" || true
    rc_is 75
    assert_equal "$err" "mdeliver: $T/mbox: $T/mbox: still locked after 1 s"
    same "$T/mbox" "$T/orig"
    [ ! -e "$T/mbox.lock" ] || fail "dotlock left behind"
    mdp 'Subject: now\n\nbody\n' --lock-timeout 1 "$T/mbox"
    rc_is 0
}

@test "mbox lock: a dotlock older than 5 minutes is stale and taken over" {
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    printf '99999999\n' >"$T/mbox.lock"
    touch -d '-6 minutes' "$T/mbox.lock"
    mdp 'Subject: second\n\nbody\n' --lock-timeout 1 "$T/mbox"
    rc_is 0
    [ ! -e "$T/mbox.lock" ] || fail "stale lock left"
    assert_equal "$(grep -c '^From ' "$T/mbox")" "2"
    # a fresh one is respected
    printf '1\n' >"$T/mbox.lock"
    mdp 'Subject: third\n\nbody\n' --lock-timeout 0 "$T/mbox"
    rc_is 75
    [ -e "$T/mbox.lock" ] || fail "someone else's lock removed"
}

@test "mbox lock: the dotlock of a SIGKILLed mdeliver (its pid is gone) does not block the next delivery" {
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    sleep 30 3>&- &
    local pid=$!
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    ! kill -0 "$pid" 2>/dev/null || fail "pid still alive"
    printf '%s %s\n' "$pid" "$(fsize "$T/mbox")" >"$T/mbox.lock"
    mdp 'Subject: after\n\nbody\n' --lock-timeout 3 "$T/mbox"
    rc_is 0
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    assert_equal "$(grep -c '^From ' "$T/mbox")" "2"
}
@test "mbox lock: an old dotlock whose owner lives (a writer stopped mid-append) is waited for, never broken: its message, reported delivered, stays" {
    build_shim
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    rc_is 0
    local s1 lpid lsize lhost
    s1=$(fsize "$T/mbox")
    printf 'Subject: stopped\n\nthe stopped writer\n' >"$T/w.eml"
    stop_writer "$T/mbox" "$T/w.eml"
    # it holds the dotlock, which notes the size before its append and its host
    read -r lpid lsize lhost <"$T/mbox.lock"
    assert_equal "$lpid $lsize $lhost" "$STOPPED $s1 $(hostname)"
    [ "$(fsize "$T/mbox")" -gt "$s1" ] || fail "the stopped writer has not appended"
    # the lock is past the stale age (shortened, and the default's too):
    # its owner lives all the same
    touch -d '-10 minutes' "$T/mbox.lock"
    MAILPIPE_STALE_LOCK_SECONDS=60 mdp 'Subject: breaker\n\nbody\n' --lock-timeout 1 "$T/mbox"
    rc_is 75
    assert_equal "$err" "mdeliver: $T/mbox: $T/mbox.lock: still locked after 1 s"
    read -r lpid lsize lhost <"$T/mbox.lock"
    assert_equal "$lpid $lsize" "$STOPPED $s1"
    # the writer goes on and reports its message delivered
    kill -CONT "$STOPPED"
    wait "$STOPPED" || fail "the stopped writer failed"
    STOPPED=
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    MAILPIPE_STALE_LOCK_SECONDS=60 mdp 'Subject: after\n\nbody\n' --lock-timeout 1 "$T/mbox"
    rc_is 0
    md --split "$T/mbox" "$T/back/"
    rc_is 0
    assert_equal "$(cat "$T/back/new/"* | grep '^Subject:' | sort | tr '\n' ' ')" \
        "Subject: after Subject: first Subject: stopped "
    grep -qx 'the stopped writer' "$(file_with 'Subject: stopped' "$T/back/new")" ||
        fail "the stopped writer's message is not whole"
}

@test "mbox lock: a writer known dead (same host, pid gone) has its unfinished append cut off; the stale age applies only to locks whose owner cannot be checked" {
    build_shim
    mdp 'Subject: first\n\nbody\n' "$T/mbox"
    rc_is 0
    cp "$T/mbox" "$T/before"
    printf 'Subject: killed\n\nnever reported\n' >"$T/w.eml"
    stop_writer "$T/mbox" "$T/w.eml"
    kill -9 "$STOPPED"
    wait "$STOPPED" 2>/dev/null || true
    STOPPED=
    # written but not reported: the next delivery cuts it off, whatever the lock's age
    mdp 'Subject: next\n\nbody\n' --lock-timeout 5 "$T/mbox"
    rc_is 0
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    ! grep -q 'never reported' "$T/mbox" || fail "the dead writer's append is still there"
    cmp -s -n "$(fsize "$T/before")" "$T/before" "$T/mbox" || fail "the first message changed"
    assert_equal "$(grep -c '^From ' "$T/mbox")" "2"

    # another host's lock: its pid means nothing here; broken only when
    # stale (MAILPIPE_STALE_LOCK_SECONDS), and nothing is cut
    printf '%s 10 elsewhere.invalid\n' "$$" >"$T/mbox.lock"
    touch -d '-2 minutes' "$T/mbox.lock"
    cp "$T/mbox" "$T/before"
    mdp 'Subject: fresh\n\nbody\n' --lock-timeout 0 "$T/mbox"
    rc_is 75
    same "$T/mbox" "$T/before"
    MAILPIPE_STALE_LOCK_SECONDS=60 mdp 'Subject: stale\n\nbody\n' --lock-timeout 1 "$T/mbox"
    rc_is 0
    cmp -s -n "$(fsize "$T/before")" "$T/before" "$T/mbox" || fail "cut back to another host's size"
    assert_equal "$(grep -c '^From ' "$T/mbox")" "3"
}

@test "Maildir: tmp/ files older than 36 hours (killed runs) go when a delivery opens the Maildir; younger ones stay" {
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    printf 'old\n' >"$T/md/tmp/1.old"
    printf 'young\n' >"$T/md/tmp/2.young"
    mkdir "$T/md/tmp/dir.old"
    touch -d '-37 hours' "$T/md/tmp/1.old" "$T/md/tmp/dir.old"
    touch -d '-35 hours' "$T/md/tmp/2.young"
    mdp 'Subject: a\n\nbody\n' "$T/md"
    rc_is 0
    [ ! -e "$T/md/tmp/1.old" ] || fail "a tmp/ file 37 hours old is still there"
    [ -e "$T/md/tmp/2.young" ] || fail "a tmp/ file 35 hours old was removed"
    [ -d "$T/md/tmp/dir.old" ] || fail "a directory in tmp/ was removed"
    [ "$(nfiles "$T/md/new")" -eq 1 ] || fail "the message was not delivered"
    # a folder's own tmp/ too
    mdp 'Subject: b\n\nbody\n' --folder f "$T/md"
    rc_is 0
    printf 'old\n' >"$T/md/.f/tmp/3.old"
    touch -d '-37 hours' "$T/md/.f/tmp/3.old"
    mdp 'Subject: c\n\nbody\n' --folder f "$T/md"
    rc_is 0
    [ ! -e "$T/md/.f/tmp/3.old" ] || fail "the folder's old tmp/ file is still there"
}

# --------------------------------------------------------------- crashes

# crash_run TARGET COUNT: deliver $T/msgs/1..COUNT.eml one by one into
# TARGET (stdin a FIFO), each mdeliver SIGKILLed at a point taken from what
# it has done, never from a clock, in turn:
#   1. never: all is sent and it must exit 0
#   2. while the message is still arriving: a random CUT of it is sent, and
#      the kill comes once mdeliver has taken it and waits in read(2) for
#      more (/proc/PID/syscall); it cannot have delivered, so it must die
#   3. after the last byte, once it has written a random W bytes of its
#      copy (wchar of /proc/PID/io), or at once if it is done by then: the
#      kill lands in the copy, the fsync, the rename/link or after the end
# Lists in $T/reported the messages whose mdeliver exited 0; counts in
# killed the others. A dotlock left by a killed one is aged past the
# 5-minute stale limit (the dead-pid case has its own test).
crash_run() {
    local tgt=$1 n=$2 i f size stage pid st w sizes
    : >"$T/reported"
    mkfifo "$T/in"
    killed=0 sent=$n
    mapfile -t sizes < <(for ((i = 1; i <= n; i++)); do echo "$T/msgs/$i.eml"; done | xargs stat -c %s)
    for ((i = 1; i <= n; i++)); do
        f=$T/msgs/$i.eml
        size=${sizes[i - 1]}
        stage=$((i % 3 + 1))
        "$MDELIVER" "$tgt" <"$T/in" 2>>"$T/crash.err" 3>&- &
        pid=$!
        exec {w}>"$T/in"
        case $stage in
        1)
            cat "$f" >&"$w"
            exec {w}>&-
            ;;
        2)
            head -c $((RANDOM * RANDOM % size)) "$f" >&"$w" 2>/dev/null
            poll_until waits_for_input "$pid"
            kill -9 "$pid" 2>/dev/null || true
            exec {w}>&-
            ;;
        3)
            cat "$f" >&"$w"
            exec {w}>&-
            poll_until has_written "$pid" $((RANDOM * RANDOM % size + 1))
            kill -9 "$pid" 2>/dev/null || true
            ;;
        esac
        st=0
        wait "$pid" 2>/dev/null || st=$?
        if [ "$st" -eq 0 ] && [ "$stage" != 2 ]; then
            echo "$f" >>"$T/reported"
        elif [ "$st" -eq 137 ] && [ "$stage" != 1 ]; then
            killed=$((killed + 1))
        else
            fail "message $i (kill point $stage): mdeliver exited $st: $(tail -1 "$T/crash.err")"
        fi
        [ ! -e "$tgt.lock" ] || touch -d '-10 minutes' "$tgt.lock"
    done
    rm "$T/in"
}

@test "crash: SIGKILL at random moments into a Maildir: new/ holds only whole messages" {
    genmsgs "$T/msgs" 300 1000 30000 "$RANDOM" crash
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    crash_run "$T/md" 300
    local nrep ngot
    nrep=$(wc -l <"$T/reported")
    ngot=$(nfiles "$T/md/new")
    echo "# $killed killed, $nrep reported delivered, $ngot in new/, $(nfiles "$T/md/tmp") in tmp/" >&3
    [ "$killed" -ge $((sent / 3)) ] && [ "$nrep" -ge $((sent / 3)) ] ||
        fail "kills did not land both before and after the end ($killed killed, $nrep delivered)"
    empty_dir "$T/md/cur"
    local f
    for f in "$T/md/new/"*; do check_name "$f"; done
    msgcheck --require="$T/reported" "$T/msgs" "$T/md/new/"*
    # tmp/ leftovers are at most partial copies, never in new/
    md "$T/md" <"$T/msgs/1.eml"
    rc_is 0
}

@test "crash: SIGKILL at random moments into an mbox: --split gives only whole messages" {
    genmsgs "$T/msgs" 250 1000 30000 "$RANDOM" crash
    printf 'Subject: before\n\nbody\n' | "$MDELIVER" "$T/mbox"
    crash_run "$T/mbox" 250
    printf 'Subject: after\n\nbody\n' | "$MDELIVER" --lock-timeout 5 "$T/mbox" ||
        fail "no delivery possible after the crashes"
    local nrep
    nrep=$(wc -l <"$T/reported")
    echo "# $killed killed, $nrep reported delivered" >&3
    [ "$killed" -ge $((sent / 3)) ] && [ "$nrep" -ge $((sent / 3)) ] ||
        fail "kills did not land both before and after the end ($killed killed, $nrep delivered)"
    md --split "$T/mbox" "$T/back/"
    rc_is 0
    rm "$(file_with 'Subject: before' "$T/back/new")" "$(file_with 'Subject: after' "$T/back/new")"
    msgcheck --prefix="$RP_MD" --require="$T/reported" "$T/msgs" "$T/back/new/"*
    assert_equal "$(grep -c '^From ' "$T/mbox")" "$(($(nfiles "$T/back/new") + 2))"
}

@test "crash: a writer killed mid-append leaves no partial message (its lock records where the append began)" {
    genmsgs "$T/msgs" 3 200000 200000 11 big plain
    md "$T/mbox" <"$T/msgs/1.eml"
    rc_is 0
    local s1 pid
    s1=$(fsize "$T/mbox")
    # what a writer SIGKILLed half-way through message 2 leaves behind: its
    # dotlock ("PID SIZE-BEFORE") and a partial From_ block
    sleep 30 3>&- &
    pid=$!
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    printf '%s %s\n' "$pid" "$s1" >"$T/mbox.lock"
    { printf 'From cut@example.org Thu Jan  1 00:00:00 2026\n'; head -c 120000 "$T/msgs/2.eml"; } >>"$T/mbox"
    md "$T/mbox" <"$T/msgs/3.eml"
    rc_is 0
    md --split "$T/mbox" "$T/back/"
    rc_is 0
    msgcheck --prefix="$RP_MD" "$T/msgs" "$T/back/new/"*
    [ "$(nfiles "$T/back/new")" -eq 2 ] || fail "expected messages 1 and 3 only"
}

@test "crash: SIGKILL while a large message is still arriving leaves the mbox untouched" {
    genmsgs "$T/msgs" 3 200000 200000 12 big plain
    md "$T/mbox" <"$T/msgs/1.eml"
    rc_is 0
    cp "$T/mbox" "$T/before"
    # 120000 bytes of 200000 (more than a pipe holds), then the kill once
    # mdeliver has taken them all and waits for the rest
    mkfifo "$T/in"
    "$MDELIVER" "$T/mbox" <"$T/in" 3>&- &
    local pid=$! w
    exec {w}>"$T/in"
    head -c 120000 "$T/msgs/2.eml" >&"$w"
    poll_until reading_stdin "$pid"
    kill -9 "$pid"
    exec {w}>&-
    wait "$pid" || true
    same "$T/mbox" "$T/before"
    [ ! -e "$T/mbox.lock" ] || fail "a lock while the message was arriving"
}
# --------------------------------------------------------------- full disk

@test "full disk (256 KiB tmpfs): Maildir deliveries until ENOSPC: exit 75, new/ whole, tmp/ clean" {
    small_fs
    genmsgs "$T/msgs" 60 9000 20000 "$RANDOM" full plain
    : >"$T/reported"
    local i
    for ((i = 1; i <= 60; i++)); do
        md "$MNT/md/" <"$T/msgs/$i.eml"
        [ "$rc" -eq 0 ] || break
        echo "$T/msgs/$i.eml" >>"$T/reported"
    done
    [ "$i" -gt 3 ] && [ "$i" -le 60 ] || fail "the disk never filled up (or at once): stopped at $i"
    rc_is 75
    [[ $err == "mdeliver: $MNT/md: "*"No space left on device" ]] || fail "$err"
    empty_dir "$MNT/md/tmp" "$MNT/md/cur"
    [ "$(nfiles "$MNT/md/new")" -eq $((i - 1)) ] || fail "$(nfiles "$MNT/md/new") in new/ after $((i - 1)) deliveries"
    msgcheck --require="$T/reported" "$T/msgs" "$MNT/md/new/"*
    # room again: it works again
    local -a all=("$MNT/md/new/"*)
    rm -f "${all[@]:0:3}"
    md "$MNT/md/" <"$T/msgs/$i.eml"
    rc_is 0
}

@test "full disk (256 KiB tmpfs): mbox deliveries until ENOSPC: exit 75, mbox as it was, no lock" {
    small_fs
    genmsgs "$T/msgs" 60 9000 20000 "$RANDOM" full plain
    : >"$T/reported"
    local i
    for ((i = 1; i <= 60; i++)); do
        [ -e "$MNT/mbox" ] && cp "$MNT/mbox" "$T/before"
        md "$MNT/mbox" <"$T/msgs/$i.eml"
        [ "$rc" -eq 0 ] || break
        echo "$T/msgs/$i.eml" >>"$T/reported"
    done
    [ "$i" -gt 3 ] && [ "$i" -le 60 ] || fail "the disk never filled up (or at once): stopped at $i"
    rc_is 75
    [[ $err == "mdeliver: $MNT/mbox: "*"No space left on device" ]] || fail "$err"
    same "$MNT/mbox" "$T/before"
    [ ! -e "$MNT/mbox.lock" ] || fail "lock left behind"
    split_to "$MNT/mbox" "$T/back"
    [ "$(nfiles "$T/back/new")" -eq $((i - 1)) ] || fail "$(nfiles "$T/back/new") messages after $((i - 1)) deliveries"
    msgcheck --prefix="$RP_MD" --require="$T/reported" "$T/msgs" "$T/back/new/"*
}

@test "full disk (256 KiB tmpfs): --split fails at message K with 'rerun with --skip K-1', and resuming delivers each once" {
    small_fs
    genmsgs "$T/msgs" 30 12000 20000 "$RANDOM" sp
    mkmbox "$T/src" s@example.org "$T/msgs/"{1..30}.eml
    mkdir -p "$T/got"
    local skip=0 round k off
    local re="^mdeliver: $T/src: message ([0-9]+) at byte [0-9]+: (.*No space left on device)\$"
    for ((round = 1; round <= 10; round++)); do
        md --split --skip "$skip" "$T/src" "$MNT/md/"
        [ "$rc" -eq 0 ] && break
        rc_is 75
        [[ ${err%%$'\n'*} =~ $re ]] || fail "round $round: $err"
        k=${BASH_REMATCH[1]}
        split_failed "$T/src" "$k" "${BASH_REMATCH[2]}" $((k - 1 - skip))
        empty_dir "$MNT/md/tmp"
        [ "$(nfiles "$MNT/md/new")" -eq $((k - 1 - skip)) ] || fail "round $round: $(nfiles "$MNT/md/new") in new/"
        [ $((k - 1)) -gt "$skip" ] || fail "round $round: no progress"
        mv "$MNT/md/new/"* "$T/got/"
        skip=$((k - 1))
    done
    rc_is 0
    [ "$round" -gt 1 ] || fail "the disk never filled up"
    mv "$MNT/md/new/"* "$T/got/"
    msgcheck --prefix=$'Return-Path: <s@example.org>\n' --all "$T/msgs" "$T/got/"*
    [ "$(nfiles "$T/got")" -eq 30 ] || fail "$(nfiles "$T/got") messages"
}

@test "full disk (LD_PRELOAD shim): a Maildir delivery failing at any byte exits 75, new/ and tmp/ clean" {
    build_shim
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    genmsgs "$T/msgs" 1 150000 150000 5 shim plain
    local size n
    size=$(fsize "$T/msgs/1.eml")
    for n in 0 1 100 4096 65535 65536 65537 131072 $((size - 1)); do
        mdfull "$n" "$T/md" <"$T/msgs/1.eml"
        [ "$rc" -eq 75 ] || fail "ENOSPC after $n bytes: exit $rc ($err)"
        assert_equal "$err" "mdeliver: $T/md: write: No space left on device"
        empty_dir "$T/md/new" "$T/md/cur" "$T/md/tmp"
    done
    # --flags: same for cur/
    mdfull 1000 --flags S "$T/md" <"$T/msgs/1.eml"
    rc_is 75
    empty_dir "$T/md/new" "$T/md/cur" "$T/md/tmp"
    # exactly enough room: delivered
    mdfull "$size" "$T/md" <"$T/msgs/1.eml"
    rc_is 0
    same "$(only_file "$T/md/new")" "$T/msgs/1.eml"
    # --dedup: the index append fails after the link: taken back, not reported
    rm "$T/md/new/"*
    mdfull "$size" --dedup "$T/md" <"$T/msgs/1.eml"
    rc_is 75
    err_has "mdeliver: $T/md: $T/md/.mdeliver-msgids: No space left on device"
    empty_dir "$T/md/new" "$T/md/tmp"
    [ ! -s "$T/md/.mdeliver-msgids" ] || fail "index written: $(cat "$T/md/.mdeliver-msgids")"
    md --dedup "$T/md" <"$T/msgs/1.eml"
    rc_is 0
    [ "$(nfiles "$T/md/new")" -eq 1 ] || fail "not delivered after the disk had room again"
}

@test "full disk (LD_PRELOAD shim): an mbox append failing at any byte exits 75 and leaves the mbox as it was" {
    build_shim
    genmsgs "$T/msgs" 3 150000 150000 6 shim plain
    md "$T/mbox" <"$T/msgs/1.eml"
    rc_is 0
    md "$T/mbox" <"$T/msgs/2.eml"
    rc_is 0
    cp "$T/mbox" "$T/before"
    local size n
    size=$(fsize "$T/msgs/3.eml")
    for n in 0 1 3 5 100 4096 65535 65536 65537 131072 $((size - 1)); do
        mdfull "$n" "$T/mbox" <"$T/msgs/3.eml"
        [ "$rc" -eq 75 ] || fail "ENOSPC after $n bytes: exit $rc ($err)"
        [[ $err == "mdeliver: $T/mbox: "*"No space left on device" ]] || fail "$err"
        same "$T/mbox" "$T/before"
        [ ! -e "$T/mbox.lock" ] || fail "ENOSPC after $n bytes: lock left behind"
    done
    # room enough: the spool copy, the dotlock's "PID SIZE" lines, From_
    # line, message, blank line
    mdfull $((2 * size + 400)) "$T/mbox" <"$T/msgs/3.eml"
    rc_is 0
    split_to "$T/mbox" "$T/back"
    msgcheck --prefix="$RP_MD" --all "$T/msgs" "$T/back/new/"*
}

@test "full disk (LD_PRELOAD shim): EDQUOT exits 75 too" {
    build_shim
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    printf 'Subject: q\n\nbody\n' >"$T/msg"
    ENOSPC_ERRNO=EDQUOT mdfull 5 "$T/md" <"$T/msg"
    rc_is 75
    assert_equal "$err" "mdeliver: $T/md: write: Disk quota exceeded"
    empty_dir "$T/md/new" "$T/md/tmp"
    md "$T/mbox" <"$T/msg"
    cp "$T/mbox" "$T/before"
    ENOSPC_ERRNO=EDQUOT mdfull 20 "$T/mbox" <"$T/msg"
    rc_is 75
    same "$T/mbox" "$T/before"
}

@test "I/O error (LD_PRELOAD shim, EIO): exit 75, nothing delivered, mbox as it was" {
    build_shim
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    printf 'Subject: q\n\nbody\n' >"$T/msg"
    md "$T/mbox" <"$T/msg"
    cp "$T/mbox" "$T/before"
    ENOSPC_ERRNO=EIO mdfull 5 "$T/md" <"$T/msg"
    local mdrc=$rc mderr=$err
    empty_dir "$T/md/new" "$T/md/tmp"
    ENOSPC_ERRNO=EIO mdfull 20 "$T/mbox" <"$T/msg"
    same "$T/mbox" "$T/before"
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    assert_equal "$mderr" "mdeliver: $T/md: write: Input/output error"
    [[ $err == "mdeliver: $T/mbox: "*"Input/output error" ]] || fail "$err"
    [ "$mdrc" -eq 75 ] && [ "$rc" -eq 75 ] || fail "EIO: exit $mdrc (Maildir) and $rc (mbox), expected 75"
}

@test "full disk (LD_PRELOAD shim): --split names the message, its byte offset and the --skip to resume" {
    build_shim
    genmsgs "$T/msgs" 10 5000 9000 8 shsp plain
    mkmbox "$T/src" s@example.org "$T/msgs/"{1..10}.eml
    local rp=$'Return-Path: <s@example.org>\n' room=0 i
    for i in 1 2 3; do room=$((room + ${#rp} + $(fsize "$T/msgs/$i.eml"))); done
    mdfull $((room + 100)) --split "$T/src" "$T/md/"
    rc_is 75
    split_failed "$T/src" 4 "write: No space left on device" 3
    [ "$(nfiles "$T/md/new")" -eq 3 ] || fail "$(nfiles "$T/md/new") delivered"
    empty_dir "$T/md/tmp"
    md --split --skip 3 "$T/src" "$T/md/"
    rc_is 0
    [[ $err == "mdeliver: delivered 7 messages ("* ]] || fail "$err"
    msgcheck --prefix="$rp" --all "$T/msgs" "$T/md/new/"*
}

@test "full disk (LD_PRELOAD shim): --split whose batch sync fails (--dedup index) claims nothing it took back, and leaves no line of it in the index" {
    build_shim
    local i
    for i in 1 2 3; do
        printf 'From s@example.org Mon Jan  1 00:00:00 2024\nSubject: m%d\nMessage-ID: <%d@example.org>\n\nbody %d\n\n' "$i" "$i" "$i"
    done >"$T/src"
    md --split "$T/src" "$T/probe/"
    rc_is 0
    local files extra got skip line
    files=$(cat "$T/probe/new/"* | wc -c)
    line=$(printf '<1@example.org>\n' | wc -c)
    # room for the three message files and then: no index line, one line,
    # one line and part of the next
    for extra in 0 "$line" $((line + 5)); do
        rm -rf "$T/md"
        mdfull $((files + extra)) --split --dedup "$T/src" "$T/md/"
        rc_is 75
        err_has ".mdeliver-msgids: No space left on device"
        got=$(nfiles "$T/md/new")
        [[ ${err#*$'\n'} =~ ^mdeliver:\ delivered\ ([0-9]+)\ messages\ before\ .*\;\ rerun\ with\ --skip\ ([0-9]+)\ to\ continue$ ]] ||
            fail "$err"
        skip=${BASH_REMATCH[2]}
        [ "${BASH_REMATCH[1]}" -eq "$got" ] ||
            fail "says ${BASH_REMATCH[1]} messages delivered, new/ holds $got: $err"
        # the lines of the messages taken back went with them
        [ ! -s "$T/md/.mdeliver-msgids" ] ||
            fail "room +$extra: the index holds $(tr '\n' ' ' <"$T/md/.mdeliver-msgids")"
        # the advice, followed, delivers every message exactly once
        md --split --dedup --skip "$skip" "$T/src" "$T/md/"
        rc_is 0
        [ "$(nfiles "$T/md/new")" -eq 3 ] ||
            fail "room +$extra: after 'rerun with --skip $skip': $(nfiles "$T/md/new") of 3 messages ($err)"
    done
}

# --------------------------------------------------------------- concurrency

# parallel8 TARGET: 8 processes, 125 messages each, all at once
parallel8() {
    local w
    for w in 0 1 2 3 4 5 6 7; do
        (
            for ((i = w * 125 + 1; i <= (w + 1) * 125; i++)); do
                "$MDELIVER" "$1" <"$T/msgs/$i.eml" || echo "message $i: exit $?" >>"$T/failed.$w"
            done
        ) 2>>"$T/par.err" 3>&- &
    done
    wait
    if ls "$T"/failed.* >/dev/null 2>&1; then
        fail "$(cat "$T"/failed.* | head -5); $(head -5 "$T/par.err")"
    fi
}

@test "concurrency: 8 writers, 1000 messages into one mbox: each once, none interleaved" {
    genmsgs "$T/msgs" 1000 300 8000 "$RANDOM" par
    parallel8 "$T/mbox"
    [ ! -e "$T/mbox.lock" ] || fail "lock left behind"
    assert_equal "$(grep -c '^From ' "$T/mbox")" "1000"
    split_to "$T/mbox" "$T/back"
    assert_equal "$err" "mdeliver: delivered 1000 messages ($(cat "$T/back/new/"* | wc -c) bytes)"
    msgcheck --prefix="$RP_MD" --all "$T/msgs" "$T/back/new/"*
}

@test "concurrency: 8 writers, 1000 messages into one Maildir: each once, whole" {
    genmsgs "$T/msgs" 1000 300 8000 "$RANDOM" par
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    parallel8 "$T/md"
    [ "$(nfiles "$T/md/new")" -eq 1000 ] || fail "$(nfiles "$T/md/new") in new/"
    empty_dir "$T/md/tmp" "$T/md/cur"
    msgcheck --all "$T/msgs" "$T/md/new/"*
}

# --------------------------------------------------------------- a real reader

@test "doveadm reads the Maildir: every message, body and flags, and the Maildir++ folder" {
    command -v jq >/dev/null || skip "jq not installed"
    dove_setup maildir 'maildir:~/Maildir'
    genmsgs "$T/msgs" 8 300 3000 9 dove
    local -a flags=("" S F RS T D RFS "")
    local -a want=("" '\Seen' '\Flagged' '\Answered \Seen' '\Deleted' '\Draft' '\Answered \Flagged \Seen' "")
    local i
    for i in 0 1 2 3 4 5 6; do
        if [ -n "${flags[$i]}" ]; then
            md --flags "${flags[$i]}" "$DOVE_HOME/Maildir/" <"$T/msgs/$((i + 1)).eml"
        else
            md "$DOVE_HOME/Maildir/" <"$T/msgs/$((i + 1)).eml"
        fi
        rc_is 0
    done
    md --folder a/b "$DOVE_HOME/Maildir/" <"$T/msgs/8.eml"
    rc_is 0
    dove -f json fetch 'uid flags text' mailbox INBOX all >"$T/inbox.json" 2>"$T/dove.err" ||
        fail "doveadm fetch failed: $(cat "$T/dove.err")"
    assert_equal "$(jq length "$T/inbox.json")" "7"
    local tok got
    local -a words
    for i in 0 1 2 3 4 5 6; do
        tok=$(sed -n 's/^X-Token: //p' "$T/msgs/$((i + 1)).eml")
        jq -j --arg t "$tok" '.[] | select(.text | contains($t)) | .text' "$T/inbox.json" >"$T/got"
        same "$T/got" "$T/msgs/$((i + 1)).eml"
        got=$(jq -r --arg t "$tok" '.[] | select(.text | contains($t)) | .flags' "$T/inbox.json")
        got=${got//\\Recent/}
        read -ra words <<<"$got" # squeeze blanks
        got="${words[*]}"
        assert_equal "$got" "${want[$i]}"
    done
    dove -f flow mailbox list >"$T/boxes" 2>"$T/dove.err" || fail "$(cat "$T/dove.err")"
    grep -qx 'a.b' "$T/boxes" || fail "folder a/b not seen: $(cat "$T/boxes")"
    dove -f json fetch 'text' mailbox a.b all | jq -j '.[].text' >"$T/got"
    same "$T/got" "$T/msgs/8.eml"
}

@test "doveadm reads the mbox: every message, body and Return-Path; LF for CRLF input" {
    command -v jq >/dev/null || skip "jq not installed"
    dove_setup mbox 'mbox:~/mail:INBOX=~/inbox'
    genmsgs "$T/msgs" 4 300 3000 10 dovm plain
    md "$T/mbox" <"$T/msgs/1.eml"
    rc_is 0
    md -f sender@example.org "$T/mbox" <"$T/msgs/2.eml"
    rc_is 0
    { printf 'From env@example.org Mon Jan  1 00:00:00 2024\n'; cat "$T/msgs/3.eml"; } >"$T/in3"
    md "$T/mbox" <"$T/in3"
    rc_is 0
    sed 's/$/\r/' "$T/msgs/4.eml" >"$T/in4"
    md "$T/mbox" <"$T/in4"
    rc_is 0
    mkdir -p "$DOVE_HOME/mail"
    cp "$T/mbox" "$DOVE_HOME/inbox"
    dove -f json fetch 'uid text' mailbox INBOX all >"$T/inbox.json" 2>"$T/dove.err" ||
        fail "doveadm fetch failed: $(cat "$T/dove.err")"
    assert_equal "$(jq length "$T/inbox.json")" "4"
    local -a pre=("" $'Return-Path: <sender@example.org>\n' $'Return-Path: <env@example.org>\n' "")
    local i
    for i in 0 1 2 3; do
        jq -j --argjson i "$i" '.[$i].text' "$T/inbox.json" >"$T/got"
        cmp -s "$T/got" <(printf '%s' "${pre[$i]}"; cat "$T/msgs/$((i + 1)).eml") ||
            fail "message $((i + 1)) differs: $(diff <(printf '%s' "${pre[$i]}"; cat "$T/msgs/$((i + 1)).eml") "$T/got" | head -5)"
    done
}

# --------------------------------------------------------------- streaming

# big_message: $BATS_FILE_TMPDIR/big.eml, 300 MiB of base64 lines with a header
big_message() {
    BIG=$BATS_FILE_TMPDIR/big.eml
    [ -s "$BIG" ] && return 0
    {
        printf 'From: big@example.org\nSubject: 300 MB\nMessage-ID: <big@example.org>\n\n'
        base64 -w 76 /dev/urandom 2>/dev/null | head -c $((300 * 1024 * 1024))
        printf '\n'
    } >"$BIG"
}

# rss_ok KIB: peak RSS under 8 MiB (not measured under a sanitizer)
rss_ok() {
    if [ -n "${MP_SANITIZE:-}" ] && [ "$MP_SANITIZE" != none ]; then
        echo "# peak RSS $1 KiB (not checked under $MP_SANITIZE)" >&3
        return 0
    fi
    [ "$1" -lt 8192 ] || fail "peak RSS $1 KiB, expected under 8 MiB"
}

@test "streaming: a 300 MB message into a Maildir, byte-identical, peak RSS under 8 MiB" {
    big_message
    mkdir -p "$T/md/cur" "$T/md/new" "$T/md/tmp"
    rc=0
    /usr/bin/time -f %M -o "$T/rss" "$MDELIVER" "$T/md" <"$BIG" 2>"$T/err" || rc=$?
    err=$(cat "$T/err")
    rc_is 0
    local f
    f=$(only_file "$T/md/new")
    check_name "$f"
    same "$f" "$BIG"
    rm -f "$f"
    rss_ok "$(tail -1 "$T/rss")"
}

@test "streaming: a 300 MB message into an mbox, byte-identical after the From_ line, peak RSS under 8 MiB" {
    big_message
    rc=0
    /usr/bin/time -f %M -o "$T/rss" "$MDELIVER" "$T/mbox" <"$BIG" 2>"$T/err" || rc=$?
    err=$(cat "$T/err")
    rc_is 0
    local l1 size
    l1=$(head -1 "$T/mbox")
    [[ $l1 =~ $FROM_RE ]] || fail "From_ line: $l1"
    size=$(fsize "$BIG")
    assert_equal "$(fsize "$T/mbox")" "$((${#l1} + 1 + size + 1))"
    cmp -i "$((${#l1} + 1)):0" -n "$size" "$T/mbox" "$BIG" || fail "the message differs"
    assert_equal "$(tail -c 2 "$T/mbox" | od -An -c | tr -d ' ')" '\n\n'
    rm -f "$T/mbox"
    rss_ok "$(tail -1 "$T/rss")"
}

@test "--json: a JSON line per message (Maildir, mbox with its offset, --dedup skip), and the --split summary on stdout" {
    printf 'From: a@b.test\nMessage-ID: <j1@b.test>\nSubject: s\n\nbody\n' >"$T/m"
    run --separate-stderr "$MDELIVER" -c -j --dedup "$T/md/" <"$T/m"
    assert_success
    run jq -r '[.type, (.path | startswith("'"$T/md/new/"'")), .bytes, .message_id, .skipped] | @tsv' <<<"$output"
    assert_output $'message\ttrue\t'"$(wc -c <"$T/m")"$'\t<j1@b.test>\tfalse'
    run --separate-stderr "$MDELIVER" -j --dedup "$T/md/" <"$T/m"
    assert_success
    run jq -r '.skipped' <<<"$output"
    assert_output true
    printf 'From x  Thu Nov 26 10:00:00 2026\nSubject: 1\n\na\n\nFrom y  Thu Nov 26 10:00:00 2026\nSubject: 2\n\nb\n' >"$T/in.mbox"
    run --separate-stderr "$MDELIVER" -j --split "$T/in.mbox" "$T/md/"
    assert_success
    [ -z "$stderr" ] || fail "stderr: $stderr"
    run jq -sc '[.[] | .type]' <<<"$output"
    assert_output '["message","message","summary"]'
    run --separate-stderr "$MDELIVER" -j --split "$T/in.mbox" "$T/out.mbox"
    run jq -sc '[.[] | select(.type == "message") | .offset]' <<<"$output"
    assert_output "[0,$(( $(wc -c <"$T/out.mbox") / 2 ))]"
}
