# The LD_PRELOAD shim of tests/fault/enospc.c (a disk that fills up, links
# that fail, a process stopped at a chosen step), for mdeliver.bats and
# mfetch.bats (loaded with `load helpers/shim`). Expects T, the test's
# scratch directory.
# shellcheck shell=bash

SHIM_SRC="$BATS_TEST_DIRNAME/../fault/enospc.c"

# build_shim: compile tests/fault/enospc.c into $T/enospc.so (skip without cc)
build_shim() {
    SHIM=$T/enospc.so
    command -v cc >/dev/null || skip "no C compiler for the LD_PRELOAD shim"
    cc -shared -fPIC -O2 -o "$SHIM" "$SHIM_SRC" -ldl 2>"$T/cc.err" ||
        fail "cannot build the shim: $(cat "$T/cc.err")"
}
