# Waiting on what a process has done rather than on a clock (loaded with
# `load helpers/poll`): fork-free polls of /proc, for the kill points of the
# crash tests. They expect T (the test's scratch directory) for the FIFO nap
# reads from.
# shellcheck shell=bash

# nap SECONDS: sleep without a fork (read -t on a FIFO no one writes to)
nap() {
    if [ -z "${NAP_FD:-}" ]; then
        [ -p "$T/.nap" ] || mkfifo "$T/.nap"
        exec {NAP_FD}<>"$T/.nap"
    fi
    read -r -t "$1" -u "$NAP_FD" || true
}

# poll_until CMD...: run CMD until it succeeds, polling without forks. The
# bound (POLL_LIMIT seconds, 120 unless set) only guards against a hang:
# nothing asserts how long it took, so a busy machine is merely slower.
poll_until() {
    local i
    for ((i = 0; i < ${POLL_LIMIT:-120} * 100; i++)); do
        "$@" && return 0
        nap 0.01
    done
    fail "still not true after ${POLL_LIMIT:-120} s: $*"
}

# alive PID: the child PID runs (is not gone, nor a zombie yet)
alive() {
    local st
    { read -r _ _ st _ <"/proc/$1/stat"; } 2>/dev/null || return 1
    [ "$st" != Z ]
}

# the number of read(2) in /proc/PID/syscall
case $(uname -m) in
x86_64) READ_NR=0 ;;
i?86 | arm*) READ_NR=3 ;;
*) READ_NR=63 ;; # aarch64, riscv64, loongarch64: the generic table
esac

# reading_stdin PID: PID is blocked in read(2) on its standard input: it
# took what it was given so far and waits for more
reading_stdin() {
    local nr fd
    { read -r nr fd _ <"/proc/$1/syscall"; } 2>/dev/null || return 1
    [ "$nr" = "$READ_NR" ] && [ "$fd" = 0x0 ]
}

# wrote PID BYTES: PID has written BYTES or more (wchar of /proc/PID/io)
wrote() {
    local k v
    { while read -r k v; do
        [ "$k" = wchar: ] && { [ "$v" -ge "$2" ]; return; }
    done <"/proc/$1/io"; } 2>/dev/null
    return 1
}

# waits_for_input PID / has_written PID BYTES: the same, or PID has ended
waits_for_input() { reading_stdin "$1" || ! alive "$1"; }
has_written() { wrote "$1" "$2" || ! alive "$1"; }
