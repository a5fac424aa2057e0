# Helpers for mdeliver.bats (loaded with `load helpers/mdeliver`). They
# expect MDELIVER (the binary) and T (the test's scratch directory).
# shellcheck shell=bash disable=SC2059,SC2034,SC2012,SC2015

MSGS_PL="$BATS_TEST_DIRNAME/helpers/msgs.pl"
load helpers/poll # relative to the test file, as every load is
load helpers/shim

# md ARGS...: run mdeliver (stdin as given); sets rc, out (stdout), err (stderr)
md() {
    rc=0
    "$MDELIVER" "$@" >"$T/.out" 2>"$T/.err" || rc=$?
    out=$(cat "$T/.out")
    err=$(cat "$T/.err")
}

# mdp PRINTF-FORMAT ARGS...: md ARGS with those bytes on stdin
mdp() {
    printf -- "$1" >"$T/.in"
    shift
    md "$@" <"$T/.in"
}

# rc_is N: the last md exited with N
rc_is() {
    [ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1; stderr: $err"
}

# err_has TEXT...: stderr holds each TEXT
err_has() {
    local s
    for s; do
        [[ $err == *"$s"* ]] || fail "stderr lacks '$s'; stderr: $err"
    done
}

# err_about TARGET CAUSE: stderr is one line "mdeliver: ...", naming TARGET
# and ending in CAUSE
err_about() {
    [[ $err != *$'\n'* && $err == "mdeliver: "*"$1"*"$2" ]] ||
        fail "stderr: expected one line naming '$1' and ending in '$2', got: $err"
}

# bytes FILE PRINTF-FORMAT [ARGS]: FILE holds exactly these bytes
bytes() {
    local f=$1
    shift
    printf -- "$@" >"$T/.expected"
    cmp -s "$f" "$T/.expected" ||
        fail "$f: $(cmp "$f" "$T/.expected" 2>&1 | head -1)
--- got ---
$(od -c "$f" | head -20)
--- expected ---
$(od -c "$T/.expected" | head -20)"
}

# same FILE1 FILE2: the same bytes
same() {
    cmp -s "$1" "$2" || fail "$1 and $2 differ: $(cmp "$1" "$2" 2>&1 | head -1) ($(wc -c <"$1") vs $(wc -c <"$2") bytes)"
}

# nfiles DIR: how many entries DIR has (0 if it does not exist)
nfiles() {
    local d=$1 n=0 f
    [ -d "$d" ] || { echo 0; return; }
    for f in "$d"/* "$d"/.[!.]*; do
        [ -e "$f" ] && n=$((n + 1))
    done
    echo "$n"
}

# only_file DIR: DIR holds exactly one entry; prints its path
only_file() {
    local n
    n=$(nfiles "$1")
    [ "$n" -eq 1 ] || fail "$1 holds $n entries, expected 1: $(ls -A "$1" 2>&1 | head -5)"
    ls -d "$1"/*
}

# empty_dir DIR...: each DIR exists and is empty
empty_dir() {
    local d
    for d; do
        [ -d "$d" ] || fail "$d is not a directory"
        [ "$(nfiles "$d")" -eq 0 ] || fail "$d is not empty: $(ls -A "$d" | head -5)"
    done
}

# by_q DIR: the files of DIR in the order one mdeliver process made them
# (by the Q counter of the Maildir name)
by_q() {
    local f
    for f in "$1"/*; do
        [ -e "$f" ] || continue
        local b=${f##*/}
        b=${b#*Q}
        echo "${b%%R*} $f"
    done | sort -n | cut -d' ' -f2-
}

# file_with TEXT DIR: the one file in DIR holding the line TEXT
file_with() {
    local hits
    hits=$(grep -lx -F -- "$1" "$2"/* 2>/dev/null || true)
    [ -n "$hits" ] && [ "$(printf '%s\n' "$hits" | wc -l)" -eq 1 ] ||
        fail "expected one file in $2 with the line '$1', found: ${hits:-none}"
    echo "$hits"
}

# genmsgs DIR COUNT MINBYTES MAXBYTES [SEED] [TAG] [plain]
genmsgs() {
    mkdir -p "$1"
    perl "$MSGS_PL" gen "$1" "$2" "$3" "$4" "${5:-$RANDOM}" "${6:-tok}" ${7:+"$7"}
}

# msgcheck [--prefix=STR] [--all] [--require=LIST] SENTDIR FILE...: see msgs.pl
msgcheck() {
    local problems
    problems=$(perl "$MSGS_PL" check "$@") || fail "mailbox check failed:
$(printf '%s\n' "$problems" | head -20)"
}

# mkmbox OUT SENDER FILE...: an mboxrd file written without mdeliver
mkmbox() {
    perl "$MSGS_PL" mbox "$@"
}

# split_to MBOX DIR: mdeliver --split MBOX into the fresh Maildir DIR/
split_to() {
    md --split "$1" "$2/"
    rc_is 0
}

# wait_for TEST-ARGS...: wait until `test ARGS` holds
wait_for() {
    poll_until test "$@"
}

# fsize FILE: size in bytes
fsize() {
    stat -c %s "$1"
}

# mdfull BYTES ARGS...: md under the shim: writes to files fail after BYTES
# (with ENOSPC, or $ENOSPC_ERRNO). A sanitizer runtime must not object to
# not coming first.
mdfull() {
    local n=$1
    shift
    ENOSPC_AFTER=$n LD_PRELOAD=$SHIM \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" md "$@"
}

# small_fs: mount a 256 KiB tmpfs on $T/small (MNT), or skip
small_fs() {
    MNT=$T/small
    mkdir -p "$MNT"
    if ! mount -t tmpfs -o size=256k,mode=0700 tmpfs "$MNT" 2>"$T/mount.err"; then
        skip "cannot mount a tmpfs here ($(cat "$T/mount.err")); the LD_PRELOAD tests cover a full disk"
    fi
    MOUNTED=$MNT
}

# unmount_small_fs: undo small_fs (teardown)
unmount_small_fs() {
    if [ -n "${MOUNTED:-}" ]; then
        umount "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED" 2>/dev/null || true
        MOUNTED=
    fi
}

# dove_setup KIND LOCATION: a Dovecot config for doveadm without a server
# (DOVE_HOME is the user's home; mail belongs to uid 65534: Dovecot refuses
# to touch mail as root). Sets DOVE_CONF, DOVE_HOME.
dove_setup() {
    command -v doveadm >/dev/null || skip "doveadm not installed"
    DOVE_DIR=$(mktemp -d /tmp/mdeliver-dove.XXXXXX)
    chmod 755 "$DOVE_DIR"
    DOVE_HOME=$DOVE_DIR/home
    DOVE_CONF=$DOVE_DIR/dovecot.conf
    mkdir -p "$DOVE_HOME" "$DOVE_DIR/run" "$DOVE_DIR/state"
    cat >"$DOVE_CONF" <<EOF
ssl = no
base_dir = $DOVE_DIR/run
state_dir = $DOVE_DIR/state
log_path = $DOVE_DIR/dovecot.log
mail_location = $2
mail_uid = 65534
mail_gid = 65534
first_valid_uid = 0
first_valid_gid = 0
EOF
}

# dove ARGS...: doveadm as the user "tester" with home DOVE_HOME; without
# -u doveadm asks no userdb (no auth server needed)
dove() {
    chown -R 65534:65534 "$DOVE_HOME"
    env USER=tester HOME="$DOVE_HOME" doveadm -c "$DOVE_CONF" "$@"
}

dove_cleanup() {
    if [ -n "${DOVE_DIR:-}" ] && [ -d "$DOVE_DIR" ]; then
        rm -rf "$DOVE_DIR"
    fi
}
