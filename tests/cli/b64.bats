#!/usr/bin/env bats
# b64(1): byte-for-byte agreement with coreutils base64/basenc on every SIMD
# path, the strict decoding rules, quoted-printable, RFC 2047 words, usage
# errors, bounded memory on long streams, the man page and the completions.
#
# B64 is the binary under test, MANDIR and COMPDIR the source directories of the
# man page and the completions (meson sets all three). Everything is written
# below $BATS_TEST_TMPDIR. Needs coreutils (base64, basenc), qprint, mandoc,
# /usr/bin/time (package time); zsh and fish are used when installed.

# Byte strings are written as printf formats on purpose; pipes from cat give
# b64 a pipe rather than a file; /4*3 rounds down to whole blocks; run sets
# status and output inside each test (SC2030/SC2031 misread @test as a subshell).
# shellcheck disable=SC2059,SC2002,SC2016,SC2017,SC2030,SC2031

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# sizes around the 57-byte (76-column) line, the 3-byte group and the
# 131328-byte read chunk, plus a random one; 131330 and 3000001 are larger
# than one chunk and not multiples of 3
SMALL_SIZES=(0 1 2 3 56 57 58 75 76 77)
BIG_SIZES=(4095 65537 131328 131330 3000001)
WRAPS=(0 1 3 64 76 100)

setup() {
    B64="${B64:-$BATS_TEST_DIRNAME/../../build/tools/b64/b64}"
    MANDIR="${MANDIR:-$BATS_TEST_DIRNAME/../../man}"
    COMPDIR="${COMPDIR:-$BATS_TEST_DIRNAME/../../completions}"
    [ -x "$B64" ] || fail "b64 binary not found at '$B64' (build it or set B64)"
    T=$BATS_TEST_TMPDIR
    cd "$T" || return 1
    export LC_ALL=C
}

# xrun CMD...: run CMD with stdout in $T/out and stderr in $T/err;
# sets $rc (exit status) and $err (stderr text)
xrun() {
    rc=0
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    err=$(cat "$T/err")
}

# xrunp PRINTF-STRING CMD...: xrun CMD with those bytes on stdin
xrunp() {
    printf -- "$1" >"$T/stdin"
    shift
    xrun "$@" <"$T/stdin"
}

# same FILE1 FILE2 WHAT: the two files hold the same bytes
same() {
    cmp -s "$1" "$2" || fail "$3: $(cmp "$1" "$2" 2>&1 | head -1) ($(wc -c <"$1") vs $(wc -c <"$2") bytes)"
}

# bytes FILE STRING-FOR-PRINTF: FILE holds exactly these bytes
bytes() {
    printf -- "$2" >"$T/expected"
    cmp -s "$T/expected" "$1" ||
        fail "$(printf 'expected:\n%s\ngot:\n%s' "$(od -An -tx1 -c "$T/expected")" "$(od -An -tx1 -c "$1")")"
}

# expect_fail RC MESSAGE: the last xrun exited RC with exactly MESSAGE on stderr
expect_fail() {
    [ "$rc" = "$1" ] || fail "exit status $rc, expected $1 (stderr: $err)"
    [ "$err" = "$2" ] || fail "$(printf 'stderr:   %s\nexpected: %s' "$err" "$2")"
}

# mismatch PRINTF-IN PRINTF-WANT ARGS...: print a line when b64 ARGS does not
# turn the input into exactly the wanted bytes (to collect several cases)
mismatch() {
    local in=$1 want=$2
    shift 2
    printf -- "$in" | "$B64" "$@" >"$T/case.out" 2>"$T/case.err"
    printf -- "$want" | cmp -s - "$T/case.out" && return 0
    printf 'b64 %s on %q: got %q, expected %q (%s)\n' "$*" "$(printf -- "$in")" \
        "$(cat "$T/case.out")" "$(printf -- "$want")" "$(cat "$T/case.err")"
}

rand() { head -c "$2" /dev/urandom >"$1"; }

# use_level NAME: force a SIMD path and check that b64 -V reports it in use;
# skip when this CPU cannot run it
use_level() {
    local lvl=$1 avail
    run env MAILPIPE_SIMD="$lvl" "$B64" -V
    assert_success
    [[ ${lines[1]} =~ ^simd:\ ([a-z0-9]+)\ \(available:\ ([a-z0-9 ]+)\)$ ]] ||
        fail "unexpected second line of b64 -V: '${lines[1]}'"
    avail=${BASH_REMATCH[2]}
    case " $avail " in
    *" $lvl "*) ;;
    *) skip "this CPU lacks $lvl (available: $avail)" ;;
    esac
    assert_equal "${BASH_REMATCH[1]}" "$lvl"
    export MAILPIPE_SIMD=$lvl
}

# encode and decode every size with every wrap, against coreutils
check_coreutils_all() {
    local n w sizes=("${SMALL_SIZES[@]}" "${BIG_SIZES[@]}" $((RANDOM * 60 + RANDOM % 60)))
    for n in "${sizes[@]}"; do
        rand in "$n"
        base64 in >ref
        "$B64" in >out || fail "encode of $n bytes failed"
        same ref out "encode of $n bytes (default wrap) differs from base64"
        for w in "${WRAPS[@]}"; do
            base64 -w "$w" in >ref
            "$B64" -w "$w" in >out || fail "encode of $n bytes -w $w failed"
            same ref out "encode of $n bytes with -w $w differs from base64 -w $w"
            "$B64" -d ref >back || fail "decode of base64 -w $w output ($n bytes) failed"
            same in back "decode of base64 -w $w output ($n bytes)"
        done
    done
}

# the same data through stdin (file and pipe), FILE and '-'
check_inputs() {
    local n
    for n in 0 1 57 131330 3000001; do
        rand in "$n"
        base64 in >ref
        "$B64" <in >out1
        cat in | "$B64" >out2
        "$B64" - <in >out3
        "$B64" in >out4
        for o in out1 out2 out3 out4; do same ref $o "encode of $n bytes ($o)"; done
        "$B64" -d <ref >back1
        cat ref | "$B64" -d >back2
        "$B64" -d - <ref >back3
        "$B64" -d ref >back4
        for o in back1 back2 back3 back4; do same in $o "decode of $n bytes ($o)"; done
    done
}

# put_byte FILE POS PRINTF-STRING: overwrite byte POS (1-based) of FILE
put_byte() {
    printf -- "$3" | dd of="$1" bs=1 seek=$(($2 - 1)) conv=notrunc status=none
}

# bad_at ENC ORIG WRAP POS CHAR: a copy of ENC (base64 of ORIG wrapped at
# WRAP) with CHAR at POS must fail at exactly POS, having written the
# complete 4-character blocks before it
bad_at() {
    local enc=$1 orig=$2 wrap=$3 pos=$4 ch=$5 c
    cp "$enc" bad
    put_byte bad "$pos" "$ch"
    xrun "$B64" -d bad
    expect_fail 65 "b64: bad: invalid input at byte $pos"
    c=$((pos - 1))
    [ "$wrap" -gt 0 ] && c=$((c - (pos - 1) / (wrap + 1)))
    head -c $((c / 4 * 3)) "$orig" >want
    same want out "output before the bad byte at $pos ($(printf %q "$ch"))"
}

check_errors() {
    local p ch
    rand orig 3000000
    base64 orig >enc # 76 columns, 4,000,000 characters in 52,632 lines
    # byte 2,000,001 is in the middle of line 25975
    bad_at enc orig 76 2000001 '*'
    bad_at enc orig 76 $((RANDOM * 100 + RANDOM % 100 + 1)) '\200'
    rand orig 3000
    base64 -w 0 orig >enc
    for p in 1 2 3 4 5 16 17 31 32 33 63 64 65 66 127 128 129 1000 $((RANDOM % 3900 + 1)); do
        for ch in '*' ' ' '\200' '\377' '\0' '-' '.'; do
            bad_at enc orig 0 "$p" "$ch"
        done
    done
    base64 orig >enc
    for p in 5 76 77 78 154 155 1000; do bad_at enc orig 76 "$p" '!'; done
}

# base64url, and -i against coreutils -di on input with garbage in it
check_url_and_garbage() {
    local n
    for n in 0 1 2 3 77 131330 3000001; do
        rand in "$n"
        basenc --base64url in >ref
        "$B64" -u in >out
        same ref out "-u encode of $n bytes differs from basenc --base64url"
        "$B64" --url -d ref >back
        same in back "-u decode of basenc --base64url output ($n bytes)"
        basenc --base64url -w 0 in >ref
        "$B64" -u -w 0 in >out
        same ref out "-u -w 0 encode of $n bytes"
    done
    rand in 300000
    base64 in | sed -e 's/A/A!/g; s/z/ z\t/g; s/5/\x80 5#/g; s/\//\/\xff~/g' >garbage
    grep -q '!' garbage || fail "garbage was not inserted"
    base64 -di garbage >ref || fail "coreutils base64 -di refused the garbage"
    same in ref "coreutils -di"
    "$B64" -d -i garbage >out || fail "b64 -d -i failed"
    same ref out "b64 -d -i versus base64 -di"
    "$B64" -d --ignore-garbage <garbage >out
    same ref out "b64 -d --ignore-garbage"
    xrun "$B64" -d garbage
    [ "$rc" = 65 ] || fail "strict decode of garbage exited $rc"
}

# ---------------------------------------------------------------- base64 and coreutils

@test "default path: encode and decode byte-identical to coreutils for all sizes and wraps" {
    check_coreutils_all
}

@test "default path: stdin (file and pipe), FILE and '-' give the same bytes" {
    check_inputs
}

@test "empty input: empty output for encode and decode, every wrap" {
    : >empty
    for w in "${WRAPS[@]}"; do
        "$B64" -w "$w" empty >out
        [ ! -s out ] || fail "-w $w encode of empty input wrote $(wc -c <out) bytes"
    done
    "$B64" -d <empty >out
    [ ! -s out ] || fail "decode of empty input wrote something"
    printf '\n\r\n' | "$B64" -d >out
    [ ! -s out ] || fail "decode of only line breaks wrote something"
}

@test "scalar: identical to coreutils for all sizes and wraps" {
    use_level scalar
    check_coreutils_all
    check_inputs
}

@test "ssse3: identical to coreutils for all sizes and wraps" {
    use_level ssse3
    check_coreutils_all
    check_inputs
}

@test "avx2: identical to coreutils for all sizes and wraps" {
    use_level avx2
    check_coreutils_all
    check_inputs
}

@test "avx512: identical to coreutils for all sizes and wraps" {
    use_level avx512
    check_coreutils_all
    check_inputs
}

@test "scalar: bad bytes located exactly, good blocks before them written" {
    use_level scalar
    check_errors
}

@test "ssse3: bad bytes located exactly, good blocks before them written" {
    use_level ssse3
    check_errors
}

@test "avx2: bad bytes located exactly, good blocks before them written" {
    use_level avx2
    check_errors
}

@test "avx512: bad bytes located exactly, good blocks before them written" {
    use_level avx512
    check_errors
}

@test "scalar: base64url like basenc, -i like coreutils -di" {
    use_level scalar
    check_url_and_garbage
}

@test "ssse3: base64url like basenc, -i like coreutils -di" {
    use_level ssse3
    check_url_and_garbage
}

@test "avx2: base64url like basenc, -i like coreutils -di" {
    use_level avx2
    check_url_and_garbage
}

@test "avx512: base64url like basenc, -i like coreutils -di" {
    use_level avx512
    check_url_and_garbage
}

@test "MAILPIPE_SIMD: unknown or unavailable level falls back, -V shows the level in use" {
    unset MAILPIPE_SIMD
    run "$B64" -V
    assert_success
    [[ ${lines[1]} =~ ^simd:\ ([a-z0-9]+)\ \(available:\ ([a-z0-9 ]+)\)$ ]] || fail "bad -V: ${lines[1]}"
    local avail=${BASH_REMATCH[2]} best=${BASH_REMATCH[2]##* } lvl below
    assert_equal "${BASH_REMATCH[1]}" "$best"
    [[ " $avail " == *" scalar "* ]] || fail "scalar is not available: $avail"
    for v in bogus AVX2 ""; do
        run env MAILPIPE_SIMD="$v" "$B64" -V
        assert_success
        assert_line --index 1 "simd: $best (available: $avail)"
    done
    # a level the CPU lacks gives the best available one below it
    below=scalar
    for lvl in scalar ssse3 avx2 avx512; do
        if [[ " $avail " == *" $lvl "* ]]; then
            below=$lvl
        else
            run env MAILPIPE_SIMD="$lvl" "$B64" -V
            assert_line --index 1 "simd: $below (available: $avail)"
        fi
    done
}

# ---------------------------------------------------------------- decoding rules

@test "decode: CRLF line ends are accepted (coreutils refuses them)" {
    rand in 100000
    base64 in | sed 's/$/\r/' >crlf
    grep -q $'\r$' crlf || fail "no CR in test input"
    run base64 -d crlf
    assert_failure
    "$B64" -d crlf >out
    same in out "decode of CRLF-wrapped base64"
    "$B64" -d <crlf >out
    same in out "decode of CRLF-wrapped base64 from stdin"
}

# ---------------------------------------------------------------- what the COMPATIBILITY section says

# side_by_side FILE OPT: b64 OPT and coreutils base64 OPT on FILE; a line on
# stdout for what breaks b64.1's COMPATIBILITY claims: what coreutils decodes
# (its CRs taken out, as b64 skips them) b64 decodes to the same bytes, exit 0;
# what coreutils rejects (exit 1) b64 rejects with 65, having written
# coreutils' output less the 1 or 2 bytes of an incomplete last group
side_by_side() {
    local f=$1 opt=$2 crc=0 brc=0 cn bn
    tr -d '\r' <"$f" | base64 "$opt" >"$T/c.out" 2>/dev/null || crc=$?
    "$B64" "$opt" "$f" >"$T/b.out" 2>/dev/null || brc=$?
    if [ "$crc" = 0 ]; then
        [ "$brc" = 0 ] && cmp -s "$T/c.out" "$T/b.out" && return 0
        printf '%s %q: coreutils 0, b64 %s, output %s\n' "$opt" "$(cat "$f")" "$brc" \
            "$(cmp -s "$T/c.out" "$T/b.out" && echo same || echo differs)"
        return 0
    fi
    cn=$(wc -c <"$T/c.out")
    bn=$(wc -c <"$T/b.out")
    if [ "$crc" != 1 ] || [ "$brc" != 65 ] || [ "$bn" -gt "$cn" ] || [ $((cn - bn)) -gt 2 ] ||
        ! cmp -s -n "$bn" "$T/c.out" "$T/b.out"; then
        printf '%s %q: coreutils %s (%s bytes), b64 %s (%s bytes)\n' "$opt" "$(cat "$f")" \
            "$crc" "$cn" "$brc" "$bn"
    fi
}

@test "compat: what coreutils decodes (-d, -di) b64 decodes to the same bytes; what it rejects is 65 for its 1, b64's output less a partial group" {
    local i n s bad="" alpha='QUJDRAa+/=!- _'
    # the cases of the man page and the README
    for s in 'QUJD' 'QUJDRA==' 'QQ==QQ==' 'QR==' 'QUJ=' 'QUJD!' 'QUJDRA' 'QUJDRA=' 'QUJDRA===' '=QUJD' \
        'QUJDRA==QQ' 'QUJD RA==' $'QUJD\r\nRA==\r\n' $'QUJD\nRA==\n' 'QUJ' 'QUJDR'; do
        printf '%s' "$s" >in
        bad+=$(side_by_side in -d)$(side_by_side in -di)
    done
    # and 200 short strings of base64 characters, '=', LF, CR and garbage
    RANDOM=16
    for ((i = 0; i < 200; i++)); do
        s=
        for ((n = RANDOM % 13; n > 0; n--)); do
            case $((RANDOM % 9)) in
            0) s+=$'\n' ;;
            1) s+=$'\r' ;;
            *) s+=${alpha:RANDOM%${#alpha}:1} ;;
            esac
        done
        printf '%s' "$s" >in
        bad+=$(side_by_side in -d)$(side_by_side in -di)
    done
    [ -z "$bad" ] || fail "$bad"
    # the man page's example of the difference, and the CRs coreutils rejects
    printf 'QUJDRA' >in
    run base64 -d in
    assert_failure 1
    assert_output 'ABCDbase64: invalid input'
    xrun "$B64" -d in
    expect_fail 65 "b64: in: incomplete final block at byte 6"
    bytes out 'ABC'
    printf 'QUJD\r\n' >in
    run base64 -d in
    assert_failure 1
    xrun "$B64" -d in
    [ "$rc" = 0 ] || fail "CR LF: exit $rc"
    bytes out 'ABC'
}

@test "compat: -w up to 1000000000 encodes as coreutils; a wider one is 64 where coreutils takes it" {
    rand in 300
    base64 -w 1000000000 in >ref
    "$B64" -w 1000000000 in >out
    same ref out "-w 1000000000"
    run base64 -w 1000000001 in
    assert_success
    xrun "$B64" -w 1000000001 in
    expect_fail 64 "b64: invalid wrap size: '1000000001'"
}

@test "decode: padding inside the data is accepted like coreutils" {
    printf 'YQ==YQ==' | "$B64" -d >out
    bytes out 'aa'
    printf 'YQ==YQ==' | base64 -d >ref
    same ref out "coreutils"
    printf 'YWI=YQ==\nYWJj\n' | "$B64" -d >out
    bytes out 'abaabc'
    printf 'YQ=\n=' | "$B64" -d >out
    bytes out 'a'
}

@test "decode: invalid input names stdin, FILE as given, exact byte, exit 65" {
    printf 'YWJjZGVm\nYW*j\n' >f
    xrun "$B64" -d <f
    expect_fail 65 "b64: stdin: invalid input at byte 12"
    bytes out 'abcdef'
    xrun "$B64" -d - <f
    expect_fail 65 "b64: stdin: invalid input at byte 12"
    xrun "$B64" -d f
    expect_fail 65 "b64: f: invalid input at byte 12"
    bytes out 'abcdef'
    mkdir -p sub
    cp f sub/g
    xrun "$B64" -d ./sub/../sub/g
    expect_fail 65 "b64: ./sub/../sub/g: invalid input at byte 12"
    xrun "$B64" -d "$T/f"
    expect_fail 65 "b64: $T/f: invalid input at byte 12"
    # '=' where no padding can be, data after padding
    xrunp 'YWJj=YQ==' "$B64" -d
    expect_fail 65 "b64: stdin: invalid input at byte 5"
    bytes out 'abc'
    xrunp 'Y===' "$B64" -d
    expect_fail 65 "b64: stdin: invalid input at byte 2"
    xrunp 'YQ=Q' "$B64" -d
    expect_fail 65 "b64: stdin: invalid input at byte 4"
    [ ! -s out ] || fail "output written for a bad first block"
    # the standard alphabet is not base64url and the other way round
    xrunp 'a+b/' "$B64" -d -u
    expect_fail 65 "b64: stdin: invalid input at byte 2"
    xrunp 'a-b_' "$B64" -d
    expect_fail 65 "b64: stdin: invalid input at byte 2"
    # spaces and tabs are garbage without -i
    xrunp 'YWJj YQ==' "$B64" -d
    expect_fail 65 "b64: stdin: invalid input at byte 5"
    printf 'YWJj YQ==' | "$B64" -d -i >out
    bytes out 'abca'
}

@test "decode: truncated input is an incomplete final block, exit 65" {
    xrunp 'YQ' "$B64" -d
    expect_fail 65 "b64: stdin: incomplete final block at byte 2"
    xrunp 'YQ=' "$B64" -d
    expect_fail 65 "b64: stdin: incomplete final block at byte 3"
    printf 'YWJjYQ' >t
    xrun "$B64" -d t
    expect_fail 65 "b64: t: incomplete final block at byte 6"
    bytes out 'abc'
    rand in 100
    base64 -w 0 in | head -c 135 >t # 136 characters, the last block cut
    xrun "$B64" -d t
    expect_fail 65 "b64: t: incomplete final block at byte 135"
    head -c 99 in >want
    same want out "output of the complete blocks"
    # a single character too many
    xrunp 'YWJjY' "$B64" -d
    expect_fail 65 "b64: stdin: incomplete final block at byte 5"
    bytes out 'abc'
}

# ---------------------------------------------------------------- base64url and padding

@test "--no-padding: encode is basenc --base64url without '=', decode needs the option" {
    local n w
    for n in 1 2 3 4 5 57 58 131330; do
        rand in "$n"
        for w in 0 76; do
            basenc --base64url -w "$w" in | tr -d = >ref
            "$B64" -u --no-padding -w "$w" in >out
            same ref out "-u --no-padding -w $w encode of $n bytes"
            base64 -w "$w" in | tr -d = >ref
            "$B64" --no-padding -w "$w" in >out
            same ref out "--no-padding -w $w encode of $n bytes"
        done
        basenc --base64url -w 0 in | tr -d = >unpadded
        "$B64" -d -u --no-padding unpadded >back
        same in back "-d -u --no-padding of $n bytes"
        # padded input is still accepted with --no-padding
        basenc --base64url in >padded
        "$B64" -d -u --no-padding padded >back
        same in back "-d -u --no-padding of padded input, $n bytes"
        xrun "$B64" -d -u unpadded
        if [ $((n % 3)) = 0 ]; then
            [ "$rc" = 0 ] || fail "unpadded but complete input ($n bytes) refused: $err"
        else
            expect_fail 65 "b64: unpadded: incomplete final block at byte $(wc -c <unpadded)"
        fi
    done
    printf 'YQ' | "$B64" -d --no-padding >out
    bytes out 'a'
    xrunp 'Y' "$B64" -d --no-padding
    expect_fail 65 "b64: stdin: incomplete final block at byte 1"
}

# ---------------------------------------------------------------- quoted-printable

make_text() {
    {
        printf 'Plain line\n'
        printf 'trailing spaces   \n'
        printf 'trailing tabs\t\t\n'
        printf 'mixed \t \n'
        printf 'CRLF line\r\n'
        printf 'spaces before CRLF  \r\n'
        printf 'equals = and == and =3D and =\n'
        printf '%0200d\n' 0
        for i in $(seq 30); do printf 'word%d ' "$i"; done
        printf '\n%075d\n%076d\n%077d\n%074d \n%073d=x\n' 0 0 0 0 0
        printf '.\nFrom here\n\n\n'
        printf 'Gr\303\274\303\237e caf\303\251 \342\202\254\n'
        printf 'bare CR\rin the middle\n'
        printf '   \n\t\n'
        printf 'last line without newline  '
    } >"$1"
}

# check_qp_lines FILE [crlf]: no line over 76 characters, no trailing white
# space, only printable ASCII, every line break CRLF when asked
check_qp_lines() {
    run awk -v crlf="${2:-}" '
        crlf != "" && !/\r$/ { print NR ": no CR before LF"; bad = 1 }
        { sub(/\r$/, "") }
        length($0) > 76 { print NR ": " length($0) " characters"; bad = 1 }
        /[ \t]$/ { print NR ": trailing white space"; bad = 1 }
        /[^\t -~]/ { print NR ": not printable ASCII"; bad = 1 }
        END { exit bad }' "$1"
    [ "$status" = 0 ] || fail "bad quoted-printable lines in $1: $output"
    [ ! -s "$1" ] || [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] ||
        fail "$1 does not end with a line break"
}

@test "-Q: text and binary round trip exactly, lines at most 76, no trailing white space" {
    make_text text
    local f n
    for n in 1 1000 131073 1000000; do rand "bin$n" "$n"; done
    : >empty
    for f in text empty bin1 bin1000 bin131073 bin1000000; do
        "$B64" -Q "$f" >enc
        check_qp_lines enc
        "$B64" -d -Q enc >back
        same "$f" back "-Q round trip of $f"
        "$B64" --qp <"$f" | "$B64" --decode --qp >back
        same "$f" back "--qp round trip of $f through pipes"
        "$B64" -Q --crlf "$f" >enc
        check_qp_lines enc crlf
        "$B64" -d -Q enc >back
        same "$f" back "-Q --crlf round trip of $f"
    done
    # the text's line breaks stay line breaks
    "$B64" -Q text >enc
    [ "$(wc -l <enc)" -ge "$(wc -l <text)" ] || fail "line breaks were encoded"
    grep -q '^Plain line$' enc || fail "plain text was not kept"
    grep -q '^trailing spaces  =20$' enc || fail "trailing space not encoded: $(sed -n 2p enc)"
    grep -q '^CRLF line=0D$' enc || fail "CR not encoded: $(grep CRLF enc)"
    "$B64" -Q --crlf text >enc
    grep -q $'^spaces before CRLF =20\r$' enc || fail "--crlf: CRLF is not a line break"
}

@test "-Q: output ends with a line break; soft break when the data does not" {
    printf 'abc' | "$B64" -Q >out
    bytes out 'abc=\n'
    printf 'abc\n' | "$B64" -Q >out
    bytes out 'abc\n'
    printf 'abc' | "$B64" -Q --crlf >out
    bytes out 'abc=\r\n'
    printf 'abc\r\n' | "$B64" -Q --crlf >out
    bytes out 'abc\r\n'
    printf 'a \t' | "$B64" -Q >out
    bytes out 'a =09=\n'
    printf 'x=y\r\n\377' | "$B64" -Q >out
    bytes out 'x=3Dy=0D\n=FF=\n'
    printf '' | "$B64" -Q >out
    bytes out ''
}

@test "-Q -d: RFC 2045 soft breaks, lower-case hex, white space before hard breaks" {
    printf "Now's the time =\nfor all folk to come=\n to the aid of their country." |
        "$B64" -d -Q >out
    bytes out "Now's the time for all folk to come to the aid of their country."
    printf 'soft=\r\nbreak\n' | "$B64" -d -Q >out
    bytes out 'softbreak\n'
    printf 'soft=  \t\nbreak and= \r\nmore' | "$B64" -d -Q >out
    bytes out 'softbreak andmore'
    printf 'caf=c3=a9 =3d =3D =C3=A9\n' | "$B64" -d -Q >out
    bytes out 'caf\303\251 = = \303\251\n'
    printf 'spaces   \ntabs\t \t\r\nend \t ' | "$B64" -d -Q >out
    bytes out 'spaces\ntabs\r\nend'
    printf 'keep  =\nme' | "$B64" -d -Q >out
    bytes out 'keep  me'
    printf 'lf\ncrlf\r\n\r\n\n' | "$B64" -d -Q >out
    bytes out 'lf\ncrlf\r\n\r\n\n'
    printf 'at the end=' | "$B64" -d -Q >out
    bytes out 'at the end'
}

@test "-Q -d: white space before a hard break goes however long it is" {
    { printf 'a'; head -c 300 /dev/zero | tr '\0' ' '; printf '\nb'; } >in
    "$B64" -d -Q in >out
    bytes out 'a\nb'
}

@test "-Q: qprint -d decodes b64 -Q output of a text file" {
    command -v qprint >/dev/null || fail "qprint (Debian package qprint) is not installed"
    make_text text
    "$B64" -Q text | qprint -d >out
    same text out "qprint -d of b64 -Q"
    # and b64 decodes what qprint encodes (binary mode: exact bytes)
    qprint -b -e text | "$B64" -d -Q >out
    same text out "b64 -d -Q of qprint -b -e"
}

@test "-Q -d: invalid quoted-printable is exit 65 at the exact byte" {
    xrunp 'abc=4G' "$B64" -d -Q
    expect_fail 65 "b64: stdin: invalid quoted-printable at byte 6"
    bytes out 'abc'
    printf 'line\nab\001cd\n' >f
    xrun "$B64" -d -Q f
    expect_fail 65 "b64: f: invalid quoted-printable at byte 8"
    bytes out 'line\nab'
    xrunp 'ab\rcd' "$B64" -d -Q
    expect_fail 65 "b64: stdin: invalid quoted-printable at byte 3"
    bytes out 'ab'
    xrunp 'x=\200' "$B64" -d -Q
    expect_fail 65 "b64: stdin: invalid quoted-printable at byte 3"
    xrunp 'caf\303\251' "$B64" -d -Q
    expect_fail 65 "b64: stdin: invalid quoted-printable at byte 4"
    bytes out 'caf'
    xrunp 'del\177' "$B64" -d -Q
    expect_fail 65 "b64: stdin: invalid quoted-printable at byte 4"
    xrunp 'ab=4' "$B64" -d -Q
    expect_fail 65 "b64: stdin: incomplete quoted-printable at byte 4"
    bytes out 'ab'
    # far into a large input
    { head -c 2000000 /dev/zero | tr '\0' 'x'; printf '=ZZ\n'; } >big
    xrun "$B64" -d -Q big
    expect_fail 65 "b64: big: invalid quoted-printable at byte 2000002"
    [ "$(wc -c <out)" = 2000000 ] || fail "$(wc -c <out) bytes written before the error"
}

@test "-Q -d: everything before the offending byte is written, white space included" {
    xrunp 'ab  \001' "$B64" -d -Q
    expect_fail 65 "b64: stdin: invalid quoted-printable at byte 5"
    bytes out 'ab  '
}

@test "-Q -d -i: malformed escapes, bare CR and other bytes pass through" {
    printf 'ab\001c\200d =ZZ =4x =\n' | "$B64" -d -Q -i >out
    bytes out 'ab\001c\200d =ZZ =4x '
    printf 'bare\rCR\r\n' | "$B64" -d -Q -i >out
    bytes out 'bare\rCR\r\n'
    printf 'ab=4' | "$B64" -d -Q -i >out
    bytes out 'ab=4'
    printf 'ab\r' | "$B64" -d -Q -i >out
    bytes out 'ab\r'
    printf '==41\n' | "$B64" -d -Q -i >out
    bytes out '=A\n'
}

@test "-Q -d -i: '=' followed by white space or CR but no line break passes through whole" {
    local problems
    problems=$(
        mismatch 'a= x\n' 'a= x\n' -d -Q -i
        mismatch 'a=\t\tx\n' 'a=\t\tx\n' -d -Q -i
        mismatch 'a=\rx\n' 'a=\rx\n' -d -Q -i
        mismatch 'a= \rx\n' 'a= \rx\n' -d -Q -i
        # white space before a bare CR is not at the end of the input
        mismatch 'a \r' 'a \r' -d -Q -i
    )
    [ -z "$problems" ] || fail "$problems"
}

# ---------------------------------------------------------------- RFC 2047 words

SUBJECT='Grüße aus Hamburg, Crêpes für alle! '

# check_words FILE B|Q: every line one encoded-word, at most 75 characters
# plus the folding space, each word alone valid UTF-8
check_words() {
    local line k=0 re="^=\\?UTF-8\\?$2\\?[!->@-~]+\\?=\$"
    while IFS= read -r line; do
        k=$((k + 1))
        if [ $k -gt 1 ]; then
            [ "${line:0:1}" = " " ] || fail "line $k does not start with the folding space: '$line'"
            line=${line:1}
        fi
        [ ${#line} -le 75 ] || fail "encoded-word on line $k has ${#line} characters"
        [[ $line =~ $re ]] || fail "line $k is not one =?UTF-8?$2?...?= word: '$line'"
        printf '%s\n' "$line" | "$B64" -d --word >/dev/null ||
            fail "word on line $k is not valid UTF-8 alone (split character?): $line"
    done <"$1"
    [ $k -gt 2 ] || fail "long text was not folded ($k lines)"
}

@test "--word: long UTF-8 subject as folded B words, decodes back" {
    local s="$SUBJECT$SUBJECT$SUBJECT$SUBJECT"
    printf '%s' "$s" >subj
    "$B64" --word subj >enc
    check_words enc B
    "$B64" -d --word enc >out
    printf '%s\n' "$s" >want
    same want out "--word round trip"
    # stdin and a trailing LF or CRLF dropped
    printf '%s\n' "$s" | "$B64" --word >enc2
    same enc enc2 "--word with a trailing LF"
    printf '%s\r\n' "$s" | "$B64" --word - >enc2
    same enc enc2 "--word with a trailing CRLF"
    printf 'Gr\303\274\303\237e aus K\303\266ln' | "$B64" --word >out
    bytes out '=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\n'
}

@test "--word -Q: long UTF-8 subject as folded Q words, decodes back" {
    local s="$SUBJECT$SUBJECT$SUBJECT$SUBJECT"
    printf '%s' "$s" >subj
    "$B64" --word -Q subj >enc
    check_words enc Q
    "$B64" -d --word enc >out
    printf '%s\n' "$s" >want
    same want out "--word -Q round trip"
    printf 'a_b?c=d (e) "f" tab\tx' | "$B64" --word --qp >out
    bytes out '=?UTF-8?Q?a=5Fb=3Fc=3Dd_=28e=29_=22f=22_tab=09x?=\n'
    "$B64" -d --word out >back
    bytes back 'a_b?c=d (e) "f" tab\tx\n'
}

@test "--word: only one trailing LF or CRLF is dropped, a lone CR is data" {
    printf 'abc\n\n' | "$B64" --word >out
    bytes out '=?UTF-8?B?YWJjCg==?=\n'
    printf '' | "$B64" --word >out
    bytes out ''
    printf 'abc\r' | "$B64" --word >out
    bytes out '=?UTF-8?B?YWJjDQ==?=\n'
}

@test "--word: invalid UTF-8 input is exit 65, not UTF-8 at byte N, nothing written" {
    xrunp 'abc\377 def' "$B64" --word
    expect_fail 65 "b64: stdin: not UTF-8 at byte 4"
    [ ! -s out ] || fail "output written"
    printf 'ok caf\303\251 \355\240\200' >bad
    xrun "$B64" --word -Q bad
    expect_fail 65 "b64: bad: not UTF-8 at byte 10"
    [ ! -s out ] || fail "output written"
    xrunp 'overlong \300\257' "$B64" --word
    expect_fail 65 "b64: stdin: not UTF-8 at byte 10"
}

@test "--word -d: folded header with ISO-8859-1, KOI8-R and UTF-8 words" {
    printf 'Subject: =?ISO-8859-1?Q?Caf=E9?=\r\n =?UTF-8?B?IOKCrDM=?= and\r\n\t=?KOI8-R?B?8NLJ18XU?= end\r\nTo: =?iso-8859-1?q?J=FCrgen?=\n' >hdr
    "$B64" -d --word hdr >out
    bytes out 'Subject: Caf\303\251 \342\202\2543 and\t\320\237\321\200\320\270\320\262\320\265\321\202 end\nTo: J\303\274rgen\n'
    # adjacent words: the white space between them goes, also across a fold
    printf 'x =?UTF-8?B?YWJj?=\n =?UTF-8?Q?def?= =?utf-8?b?Z2g=?= y\n' | "$B64" -d --word >out
    bytes out 'x abcdefgh y\n'
    # a character split over two words of the same charset
    printf '=?UTF-8?Q?a=C3?= =?UTF-8?Q?=BCb?=\n' | "$B64" -d --word >out
    bytes out 'a\303\274b\n'
    # malformed words stay as they are
    printf 'a =?UTF-8?B?***?= b =?UTF-8?X?c?= =?UTF-8?Q?=ZZ?= c\n' | "$B64" -d --word >out
    bytes out 'a =?UTF-8?B?***?= b =?UTF-8?X?c?= =?UTF-8?Q?=ZZ?= c\n'
}

@test "--word -d: unknown charset or invalid text is exit 65 and writes nothing; -i passes" {
    printf '=?UTF-8?B?YQ==?=\n=?X-NOPE?B?YWJj?=\n' >hdr
    xrun "$B64" -d --word hdr
    expect_fail 65 'b64: hdr: unknown charset "X-NOPE"'
    [ ! -s out ] || fail "output written: $(cat out)"
    xrun "$B64" -d --word -i hdr
    expect_fail 0 ""
    bytes out 'a\nabc\n'
    xrunp 'x =?UTF-8?B?/w==?= y\n' "$B64" -d --word
    [ "$rc" = 65 ] || fail "invalid UTF-8 in a UTF-8 word: exit $rc"
    [[ $err == "b64: stdin: "* ]] || fail "message: $err"
    [ ! -s out ] || fail "output written"
    printf 'x =?UTF-8?B?/w==?= y\n' | "$B64" -d --word -i >out
    bytes out 'x \357\277\275 y\n'
}

@test "--word -d: a '?' inside the encoded-text makes no encoded-word; it stays as it stands" {
    # RFC 2047 2: encoded-text may not hold "?"
    xrunp '=?utf-8?Q?a?b?=\n' "$B64" -d --word
    expect_fail 0 ""
    bytes out '=?utf-8?Q?a?b?=\n'
    xrunp '=?utf-8?B?YQ?b?= =?utf-8?Q?c?=\n' "$B64" -d --word
    expect_fail 0 ""
    bytes out '=?utf-8?B?YQ?b?= c\n'
}

@test "--word -d -i: bad UTF-8 gives one U+FFFD per maximal subpart (Unicode 3.9 Table 3-8)" {
    # 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64: a FFFD FFFD FFFD b FFFD c FFFD FFFD d
    xrunp '=?utf-8?B?YfGAgOGAwmKAY4C/ZA==?=\n' "$B64" -d --word -i
    expect_fail 0 ""
    bytes out 'a\357\277\275\357\277\275\357\277\275b\357\277\275c\357\277\275\357\277\275d\n'
    xrunp '=?utf-8?Q?x=F0=9F=98?=\n' "$B64" -d --word -i
    bytes out 'x\357\277\275\n'
}

# ---------------------------------------------------------------- command line

@test "usage errors exit 64 with a one-line message" {
    local args
    while IFS= read -r args; do
        # shellcheck disable=SC2086 # split on purpose
        xrunp 'YQ==' "$B64" $args
        [ "$rc" = 64 ] || fail "b64 $args: exit $rc, expected 64 (stderr: $err)"
        [ "$(wc -l <err)" = 1 ] || fail "b64 $args: $(wc -l <err) lines on stderr: $err"
        [[ $err == "b64: "?* ]] || fail "b64 $args: message '$err'"
        [ ! -s out ] || fail "b64 $args: wrote to stdout"
    done <<'EOF'
a b
-d a b
-w abc
-w -1
--wrap=
-w 12x
-w 99999999999999999999
--crlf
-d --crlf
--word --crlf
-Q --word --crlf
-Q -w 64
--qp --wrap=76
-Q -u
-Q --no-padding
--word -w 76
--word -u
--word --no-padding
EOF
}

@test "unknown options and missing arguments exit 64 with a one-line message" {
    local args
    for args in --bogus -x -w --wrap; do
        xrunp 'YQ==' "$B64" $args
        [ "$rc" = 64 ] || fail "b64 $args: exit $rc, expected 64"
        [ "$(wc -l <err)" = 1 ] ||
            fail "b64 $args: $(wc -l <err) lines on stderr, expected one; it begins: $(head -n 2 err)"
        [[ $err == "b64: "?* ]] || fail "b64 $args: message '$err'"
    done
}

@test "-w with -d and -i without -d are accepted and ignored" {
    rand in 1000
    base64 in >ref
    "$B64" -d -w 5 ref >out
    same in out "-d -w 5"
    "$B64" -i in >out
    same ref out "-i without -d"
    "$B64" -i -w 0 in >out
    base64 -w 0 in >ref0
    same ref0 out "-i -w 0"
}

@test "missing or unreadable file exits 66, a directory 74, a full disk 75" {
    xrun "$B64" "$T/nope"
    expect_fail 66 "b64: $T/nope: No such file or directory"
    xrun "$B64" -d nope/x
    expect_fail 66 "b64: nope/x: No such file or directory"
    xrun "$B64" -Q -d nope
    expect_fail 66 "b64: nope: No such file or directory"
    xrun "$B64" --word nope
    expect_fail 66 "b64: nope: No such file or directory"
    if [ "$(id -u)" != 0 ]; then # root reads anything
        printf x >locked
        chmod 000 locked
        xrun "$B64" locked
        expect_fail 66 "b64: locked: Permission denied"
    fi
    mkdir dir
    xrun "$B64" dir
    expect_fail 74 "b64: dir: Is a directory"
    printf 'abc' >f
    rc=0
    "$B64" f >/dev/full 2>err || rc=$?
    assert_equal "$rc" 75
    assert_equal "$(cat err)" "b64: stdout: No space left on device"
}

@test "-h prints usage on stdout, -V the version" {
    run --separate-stderr "$B64" -h
    assert_success
    assert_line --index 0 --regexp '^usage: b64 '
    [ -z "$stderr" ] || fail "stderr: $stderr"
    run --separate-stderr "$B64" --help
    assert_success
    assert_output --partial -- '--no-padding'
    run --separate-stderr "$B64" -V
    assert_success
    assert_line --index 0 'b64 (mailpipe) 0.1.0'
    assert_line --index 1 --regexp '^simd: [a-z0-9]+ \(available: scalar( [a-z0-9]+)*\)$'
    [ -z "$stderr" ] || fail "stderr: $stderr"
    run "$B64" --version
    assert_line --index 0 'b64 (mailpipe) 0.1.0'
}

# ---------------------------------------------------------------- streams

# ASan/UBSan builds run the same file; their shadow memory makes RSS figures
# meaningless, so the RSS checks run in the plain build only.
no_rss_under_sanitizer() {
    case ${MP_SANITIZE:-none} in
    none | '') ;;
    *) skip "peak RSS is not meaningful under -Db_sanitize=$MP_SANITIZE (checked in the plain build)" ;;
    esac
}

# peak RSS in KiB recorded by /usr/bin/time -o FILE (the last line)
rss_of() { tail -n 1 "$1"; }

@test "streaming: 200 MB encoded and decoded with peak RSS under 4 MiB" {
    no_rss_under_sanitizer
    [ -x /usr/bin/time ] || fail "/usr/bin/time is missing (install the Debian package 'time')"
    run bash -c 'set -o pipefail
        head -c 200M /dev/zero | /usr/bin/time -f %M -o rss.enc "$1" |
            /usr/bin/time -f %M -o rss.dec "$1" -d | cmp - <(head -c 200M /dev/zero)' _ "$B64"
    assert_success
    local enc dec
    enc=$(rss_of rss.enc) dec=$(rss_of rss.dec)
    [[ $enc =~ ^[0-9]+$ && $dec =~ ^[0-9]+$ ]] || fail "no RSS figures: '$enc' '$dec'"
    [ "$enc" -lt 4096 ] || fail "encode peak RSS $enc KiB"
    [ "$dec" -lt 4096 ] || fail "decode peak RSS $dec KiB"
    # the encoded stream itself is coreutils' (only its digest is kept)
    run bash -c 'set -o pipefail
        a=$(head -c 200M /dev/zero | "$1" | md5sum) &&
        b=$(head -c 200M /dev/zero | base64 | md5sum) && [ "$a" = "$b" ]' _ "$B64"
    assert_success
    # quoted-printable too (src written first: cmp must not open it before it exists)
    run bash -c 'set -o pipefail
        head -c 20M /dev/urandom >src
        /usr/bin/time -f %M -o rss.qe "$1" -Q <src |
            /usr/bin/time -f %M -o rss.qd "$1" -d -Q | cmp - src' _ "$B64"
    assert_success
    [ "$(rss_of rss.qe)" -lt 4096 ] || fail "-Q encode peak RSS $(rss_of rss.qe) KiB"
    [ "$(rss_of rss.qd)" -lt 4096 ] || fail "-Q decode peak RSS $(rss_of rss.qd) KiB"
}

@test "output to a closed pipe ends b64 at once" {
    run timeout 300 bash -c 'head -c 200M /dev/zero | "$1" | head -c 10; echo " ${PIPESTATUS[1]}"' _ "$B64"
    assert_success
    assert_output --regexp '^AAAAAAAAAA (141|74)$'
    run timeout 300 bash -c 'head -c 200M /dev/zero | "$1" -Q | head -c 6; echo " ${PIPESTATUS[1]}"' _ "$B64"
    assert_success
    assert_output --regexp '^=00=00 (141|74)$'
    # with SIGPIPE ignored: EPIPE is an I/O error
    run --separate-stderr timeout 300 bash -c 'trap "" PIPE
        head -c 200M /dev/zero 2>/dev/null | "$1" | head -c 10; echo " ${PIPESTATUS[1]}"' _ "$B64"
    assert_success
    assert_output 'AAAAAAAAAA 74'
    assert_equal "$stderr" "b64: stdout: Broken pipe"
}

# ---------------------------------------------------------------- man page and completions

@test "man page: mandoc -Tlint is silent and the exit codes are documented" {
    command -v mandoc >/dev/null || fail "mandoc is not installed"
    run mandoc -Tlint -Wwarning "$MANDIR/b64.1"
    assert_success
    assert_output ''
    run bash -c 'mandoc -Tascii "$1" | sed "s/.\x08//g"' _ "$MANDIR/b64.1"
    assert_success
    local code
    for code in 64 65 66 70 74 75 MAILPIPE_SIMD --no-padding --crlf --word; do
        assert_output --partial -- "$code"
    done
}

@test "completions: bash, zsh and fish load and complete b64" {
    export HOME=$T XDG_CONFIG_HOME=$T/config XDG_DATA_HOME=$T/data XDG_CACHE_HOME=$T/cache
    run bash -c 'source /usr/share/bash-completion/bash_completion || exit 1
        source "$1/bash/b64" || exit 1
        complete -p b64 || exit 1
        COMP_WORDS=(b64 --no); COMP_CWORD=1; COMP_LINE="b64 --no"; COMP_POINT=${#COMP_LINE}
        _b64 b64 --no b64; echo "reply: ${COMPREPLY[*]}"' _ "$COMPDIR"
    assert_success
    assert_line --index 0 'complete -F _b64 b64'
    assert_line 'reply: --no-padding'
    if command -v zsh >/dev/null; then
        run zsh -n "$COMPDIR/zsh/_b64"
        assert_success
        run zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit && compinit -u -D &&
            print -r -- "$_comps[b64]" && autoload +X _b64 && print loaded' _ "$COMPDIR/zsh"
        assert_success
        assert_output $'_b64\nloaded'
    fi
    if command -v fish >/dev/null; then
        run fish --no-config -c 'source $argv[1]; or exit 1; complete -C "b64 --no"; complete -C "b64 --wr"' "$COMPDIR/fish/b64.fish"
        assert_success
        assert_line --regexp $'^--no-padding\t'
        assert_line --regexp $'^--wrap\t'
    fi
}
