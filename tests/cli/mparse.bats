#!/usr/bin/env bats
# mparse(1): every mode (summary, -f, -a, -t, -p, --text, -x, -r, -j,
# --bodies) and --date, --mbox on hand-written fixtures
# (tests/cli/fixtures/mparse: RFC 2047 words in several charsets, groups,
# comments, obsolete forms, IDN, nested multiparts, RFC 2231 names, broken
# structures, message/rfc822, digests, Postfix Received lines, an mbox,
# uuencoded blocks checked against Python's binascii), a Maildir built
# here, stdin, hostile attachment names, a 300 MB message and a 40 MB
# --bodies output in bounded memory, 100,000 nested
# multiparts, a 50 MB header line, NUL bytes, and Python's email package as
# an oracle (helpers/mparse_oracle.py) on the fixtures and random messages.
#
# MPARSE is the binary under test (meson sets it), MANDIR and COMPDIR the
# source directories of the man page and completions; MP_SANITIZE (meson's
# b_sanitize) turns the memory assertions off under a sanitizer. Everything
# is written below $BATS_TEST_TMPDIR (the 300 MB test needs about 600 MB
# there for a moment). Needs coreutils, iconv, /usr/bin/time, jq, mandoc,
# bash-completion; python3 for the oracle tests (skipped without it), zsh
# and fish for their completion checks (skipped without them).
#
# Tests whose name starts with "bug:" assert the right behaviour where
# mparse did not have it when they were written; each says what it expects.

# shellcheck disable=SC2016,SC2030,SC2031,SC2034,SC2154

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
    MPARSE="${MPARSE:-$BATS_TEST_DIRNAME/../../build/tools/mparse/mparse}"
    [ -x "$MPARSE" ] || fail "mparse binary not found at '$MPARSE' (build it or set MPARSE)"
    FX="$BATS_TEST_DIRNAME/fixtures/mparse"
    MANDIR="${MANDIR:-$BATS_TEST_DIRNAME/../../man}"
    COMPDIR="${COMPDIR:-$BATS_TEST_DIRNAME/../../completions}"
    T=$BATS_TEST_TMPDIR
    cd "$T" || return 1
    # the fixtures under their own names, so that warnings name them as here
    cp "$FX"/*.eml "$FX"/*.mbox "$FX"/report.pdf .
    export LC_ALL=C.UTF-8 TZ=UTC
}

# mp ARGS...: run mparse, stdout in $output, stderr in $stderr
mp() {
    run --separate-stderr "$MPARSE" "$@"
}

# no_stderr: mparse said nothing on the standard error
no_stderr() {
    [ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

# ---------------------------------------------------------------- usage

@test "-h prints the usage and exits 0; -V the version; bad options exit 64" {
    mp -h
    assert_success
    no_stderr
    assert_line --index 0 --partial 'usage: mparse [-f FIELD]...'
    for o in --field --raw --tsv --addr --addr-only --tree --part --text --extract --received --json --bodies --date --mbox --with-filename --no-filename; do
        assert_output --partial -- "$o"
    done
    mp -V
    assert_success
    assert_output 'mparse (mailpipe) 0.1.0'
    mp -q mixed.eml
    assert_failure 64
    assert_equal "$stderr" "mparse: unknown option '-q' (see -h)"
    mp --bogus mixed.eml
    assert_failure 64
    mp -p
    assert_failure 64
    assert_equal "$stderr" "mparse: option '-p' needs an argument (see -h)"
}

# ---------------------------------------------------------------- summary and fields

@test "summary: From, To, Cc, Date, Subject, decoded, in that order" {
    mp mixed.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
From: Renée Dupont <renee@example.org>
To: Bob Martin <bob@example.net>
Cc: "Archive" <archive@example.net>
Date: Tue, 04 Mar 2025 10:15:00 +0100
Subject: Quarterly report – Q1
EOF
}

@test "RFC 2047: B and Q words in ISO-8859-1, UTF-8 and KOI8-R, folded, adjacent, lower case" {
    mp encoded-words.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
From: François Lefèvre <francois@example.fr>
To: Jörg Müller <joerg@example.de>, Привет <ivan@example.ru>
Cc: Съешь <cc@example.ru>
Date: Wed, 05 Mar 2025 08:00:00 +0000
Subject: Café crème and Grüße aus KölnПривет, мир
EOF
    # white space between adjacent words goes (RFC 2047 6.2), a character
    # split across two words of one charset is joined, lower-case q works,
    # and a "word" with a space in it is no encoded-word
    mp -f X-Adjacent -f X-Split-Char -f X-Lower-Q -f X-Not-A-Word encoded-words.eml
    assert_success
    assert_output - <<'EOF'
abc
日本語
€ 100
price =?iso-8859-1?q?a b?= stays
EOF
}

@test "RFC 2047: an unterminated encoded-word in Subject is shown literally, once" {
    local lit='=?UTF-8?B?SGVsbG8gd29ybGQ'
    mp unterminated-word.eml
    assert_success
    assert_line --index 3 "Subject: Re: café $lit"
    mp -f Subject unterminated-word.eml
    assert_output "Re: café $lit"
    mp -j unterminated-word.eml
    assert_success
    run jq -r '.headers[] | select(.name == "Subject") | .decoded' <<<"$output"
    assert_output "Re: café $lit"
    # alone, and as the last word of a run
    run --separate-stderr bash -c 'printf "Subject: %s\n\nx\n" "$2" | "$1" -f subject' _ "$MPARSE" "$lit"
    assert_output "$lit"
    run --separate-stderr bash -c 'printf "Subject: =?UTF-8?Q?a?= %s\n\nx\n" "$2" | "$1" -f subject' _ "$MPARSE" "$lit"
    assert_output "a $lit"
}

@test "RFC 2047: a '?' inside the encoded-text makes no encoded-word; it is shown as it stands" {
    # RFC 2047 2: encoded-text may not hold "?", so =?utf-8?Q?a?b?= is text
    run --separate-stderr bash -c 'printf "Subject: =?utf-8?Q?a?b?=\n\nx\n" | "$1" -f subject' _ "$MPARSE"
    assert_success
    assert_output '=?utf-8?Q?a?b?='
    # next to a real word, the word is still decoded
    run --separate-stderr bash -c 'printf "Subject: =?utf-8?Q?a?b?= =?utf-8?Q?c?=\n\nx\n" | "$1" -f subject' _ "$MPARSE"
    assert_output '=?utf-8?Q?a?b?= c'
}

@test "-f: repeatable, case-insensitive, every occurrence, unfolded; --raw leaves words encoded" {
    mp -f subject -f FROM encoded-words.eml
    assert_success
    assert_output - <<'EOF'
Café crème and Grüße aus KölnПривет, мир
François Lefèvre <francois@example.fr>
EOF
    mp -f Subject --raw encoded-words.eml
    assert_output '=?ISO-8859-1?Q?Caf=E9_cr=E8me?= and =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= =?KOI8-R?B?8NLJ18XULCDNydI=?='
    mp -f Received received.eml
    assert_success
    assert_equal "${#lines[@]}" 3
    assert_line --index 1 'from mail.example.org (mail.example.org [192.0.2.10])	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)	 key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)	(No client certificate requested)	by mx.example.net (Postfix) with ESMTPS id 4Z8QbT0xYzz9sW	for <bob@example.net>; Tue, 04 Mar 2025 09:15:07 +0000 (UTC)'
    mp -f X-Missing mixed.eml
    assert_success
    assert_output ''
}

# ---------------------------------------------------------------- addresses

@test "-a: groups, quoted names with commas and escapes, comments, empty groups" {
    mp -a addresses.eml
    assert_success
    no_stderr
    assert_line --index 0 'Doe, Jane (Sales) <jane.doe@example.com>'
    assert_line --index 1 'alice@example.org'
    assert_line --index 2 'Bob "the builder" Martin <bob@example.net>'
    assert_line --index 3 'carol@example.org'
    # the Bcc line is checked in the "bug:" test below; the empty group
    # undisclosed-recipients:; has no address
    assert_equal "${#lines[@]}" 5
    mp --addr-only addresses.eml
    assert_output - <<'EOF'
jane.doe@example.com
alice@example.org
bob@example.net
carol@example.org
dave@example.com
EOF
}

@test "bug: -a: a comment inside a display name leaves one space, not two" {
    # Bcc: Dave (work) Jones <dave@example.com>
    mp --addr=Bcc addresses.eml
    assert_success
    assert_output 'Dave Jones <dave@example.com>'
}

@test "-a FIELD: obsolete routes, a comment as the name, IDN domains in U-labels" {
    mp --addr=Reply-To addresses.eml
    assert_output 'Mailing List <list@example.org>'
    mp -aX-Route addresses.eml
    assert_output 'erin@example.com'
    mp --addr=Sender addresses.eml
    assert_output 'Jane Doe <jane.doe@example.com>'
    mp --addr=X-Idn addresses.eml
    assert_success
    assert_output - <<'EOF'
Jörg <joerg@bücher.example>
info@münchen.example
EOF
    mp --addr=X-Idn --addr-only addresses.eml
    assert_output $'joerg@bücher.example\ninfo@münchen.example'
    # the obsolete "Subject :" (white space before the colon) is a Subject
    mp -f Subject addresses.eml
    assert_output 'Obsolete forms and groups'
    mp addresses.eml
    assert_line 'Subject: Obsolete forms and groups'
}

@test "bug: -a: obsolete CFWS inside an address (RFC 5322 4.4) is taken out" {
    run --separate-stderr bash -c 'printf "To: john . doe @ example . com\n\nx\n" | "$1" -a' _ "$MPARSE"
    assert_success
    assert_output 'john.doe@example.com'
}

@test "-a: a quoted local part without angle brackets keeps its quotes and its space" {
    run --separate-stderr bash -c 'printf "To: \"a b\"@x.org, c@x.org\n\nx\n" | "$1" -a' _ "$MPARSE"
    assert_success
    assert_output $'"a b"@x.org\nc@x.org'
    [ -z "$stderr" ] || fail "unexpected stderr: $stderr"
    # the same with <>, and obsolete CFWS around it still taken out
    run --separate-stderr bash -c 'printf "To: <\"a b\"@x.org>, \"d. e\" . f @ x.org\n\nx\n" | "$1" -a --addr-only' _ "$MPARSE"
    assert_output $'"a b"@x.org\n"d. e".f@x.org'
}

@test "-a: comments inside an addr-spec are CFWS, not part of the address (RFC 5322 A.5)" {
    run --separate-stderr bash -c 'printf "To: <pete(c)@silly.test>\n\nx\n" | "$1" -a' _ "$MPARSE"
    assert_success
    assert_output 'pete@silly.test'
    # RFC 5322 Appendix A.5, and the comment before the domain of A.5's Chris
    run --separate-stderr bash -c 'printf "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\nCc: Chris Jones <c@(Chris'"'"'s host.)public.example>\n\nx\n" | "$1" -a' _ "$MPARSE"
    assert_success
    assert_output $'Pete <pete@silly.test>\nChris Jones <c@public.example>'
    [ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

@test "bug: -a: an unbalanced quote gives what can be recovered, without brackets, and a warning" {
    mp --addr=To unbalanced.eml
    assert_success
    assert_equal "$stderr" 'mparse: unbalanced.eml: To: unbalanced quotes or brackets; what could be read follows'
    assert_output $'Carol <carol@example.org>\nSmith, John <john@example.com>'
    mp --addr=To --addr-only unbalanced.eml
    assert_output $'carol@example.org\njohn@example.com'
}

@test "bug: -a: an unclosed angle bracket does not swallow the next address" {
    mp --addr=Cc unbalanced.eml
    assert_success
    assert_equal "$stderr" 'mparse: unbalanced.eml: Cc: unbalanced quotes or brackets; what could be read follows'
    assert_output $'Bob <bob@example.org>\ndave@example.org'
}

# ---------------------------------------------------------------- the MIME tree

@test "-t: multipart/mixed with a nested multipart/alternative, base64 and quoted-printable" {
    mp -t mixed.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
.        multipart/mixed
  1        multipart/alternative
    1.1      text/plain; charset=ISO-8859-1  quoted-printable  157 bytes
    1.2      text/html; charset=UTF-8  base64  158 bytes
  2        application/pdf  base64  1116 bytes  "report.pdf"
  3        text/csv; charset=us-ascii  7bit  23 bytes  "data.csv"
EOF
}

@test "-t: a forwarded message/rfc822 is descended into and numbered under its part" {
    mp -t forward.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=utf-8  8bit  47 bytes
  2        message/rfc822
    2        multipart/mixed
      2.1      text/plain; charset=ISO-8859-1  quoted-printable  17 bytes
      2.2      application/octet-stream  base64  16 bytes  "figures.bin"
  3        message/rfc822
    3.1      text/plain; charset=us-ascii  7bit  31 bytes
EOF
    mp -p 2.2 forward.eml
    assert_success
    run bash -c '"$1" -p 2.2 forward.eml | od -An -tx1 | tr -d " \n"' _ "$MPARSE"
    assert_output '0102030405060708090a0b0c0d0e0f10'
    mp -p 3.1 forward.eml
    assert_output 'A single-part embedded message.'
}

@test "-t: multipart/digest parts are message/rfc822 by default" {
    mp -t digest.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=us-ascii  7bit  29 bytes
  2        multipart/digest
    2.1      message/rfc822
      2.1.1    text/plain; charset=us-ascii  7bit  11 bytes
    2.2      message/rfc822
      2.2.1    text/plain; charset=ISO-8859-1  quoted-printable  8 bytes
    2.3      text/plain; charset=us-ascii  7bit  46 bytes
EOF
    mp -p 2.1.1 digest.eml
    assert_output 'Hello list.'
}

@test "-t: RFC 2231 names: charset and percent-encoding, continuations out of order, language" {
    mp -t rfc2231.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=us-ascii  7bit  37 bytes
  2        application/pdf  base64  15 bytes  "€ rates.pdf"
  3        application/octet-stream  base64  7 bytes  "Grüße aus Köln.dat"
  4        application/octet-stream  base64  3 bytes  "日本.bin"
  5        application/zip  base64  22 bytes  "very-long-file-name-split-over-two-lines.zip"
EOF
}

@test "-t: a multipart Content-Type without MIME-Version is still split" {
    mp -t no-mime-version.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=us-ascii  7bit  37 bytes
  2        text/plain; charset=us-ascii  quoted-printable  11 bytes  "notes.txt"
EOF
    mp -p 2 no-mime-version.eml
    assert_output 'café notes'
}

@test "a missing closing boundary: the last part ends at the end of input, with a warning" {
    mp -t missing-close.eml
    assert_success
    assert_equal "$stderr" 'mparse: missing-close.eml: the closing boundary of multipart/mixed is missing: it ends at the end of input'
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=us-ascii  7bit  11 bytes
  2        application/octet-stream  base64  11 bytes  "tail.bin"
EOF
    mp -p 2 missing-close.eml
    assert_output 'tail bytes'
    assert_equal "$(printf 'tail bytes\n' | md5sum)" "$("$MPARSE" -p 2 missing-close.eml 2>/dev/null | md5sum)"
}

@test "a nested multipart that reuses its parent's boundary: the outer parts after it are still read, with a warning" {
    # RFC 2046 5.1.1 forbids it, but mailers send it; Python's email also
    # finds part 2
    printf '%s\n' 'Content-Type: multipart/mixed; boundary=A' '' '--A' \
        'Content-Type: multipart/mixed; boundary=B' '' '--B' \
        'Content-Type: multipart/alternative; boundary=B' '' '--B' 'Content-Type: text/x-a' '' 'a' \
        '--B--' '--B--' '--A' 'Content-Type: text/plain' '' 'outer text' '--A--' >reused.eml
    mp -t reused.eml
    assert_success
    assert_output - <<'EOF'
.        multipart/mixed
  1        multipart/mixed
    1.1      multipart/alternative
      1.1.1    text/x-a; charset=us-ascii  7bit  1 bytes
  2        text/plain; charset=us-ascii  7bit  10 bytes
EOF
    assert_equal "$stderr" 'mparse: reused.eml: line 7: multipart/alternative reuses the boundary "B" of an enclosing multipart: its delimiters go to the inner one until it is closed'
    mp -p 2 reused.eml
    assert_output 'outer text'
    mp --text reused.eml
    assert_output 'outer text'
    mp -j reused.eml
    run jq -r '[.parts[].part | select(. != "")] | sort | join(" ")' <<<"$output"
    assert_output '1 1.1 1.1.1 2'
}

@test "a multipart with no boundary line at all: its body is shown as text, with a warning" {
    # Python's email: StartBoundaryNotFoundDefect, the body is the payload
    printf '%s\n' 'Subject: x' 'Content-Type: multipart/mixed; boundary="b"' '' \
        'Hello Bob,' 'this was sent as multipart but has no boundary.' >noboundary.eml
    mp --text noboundary.eml
    assert_success
    assert_output $'Hello Bob,\nthis was sent as multipart but has no boundary.'
    assert_equal "$stderr" 'mparse: noboundary.eml: line 4: multipart/mixed has no boundary line "--b": its body taken as text/plain'
    mp -t noboundary.eml
    assert_output '1        text/plain; charset=us-ascii  7bit  59 bytes'
    # nested, before a boundary of the enclosing multipart: the parts after
    # it are still read
    printf '%s\n' 'Content-Type: multipart/mixed; boundary=A' '' '--A' \
        'Content-Type: multipart/alternative; boundary=B' '' 'inner text' \
        '--A' 'Content-Type: text/plain' '' 'outer' '--A--' >noboundary2.eml
    mp -t noboundary2.eml
    assert_success
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=us-ascii  7bit  10 bytes
  2        text/plain; charset=us-ascii  7bit  5 bytes
EOF
    assert_equal "$stderr" 'mparse: noboundary2.eml: line 6: multipart/alternative has no boundary line "--B": its body taken as text/plain'
    mp -p 1 noboundary2.eml
    assert_output 'inner text'
    # no boundary parameter at all: the same
    printf 'Content-Type: multipart/mixed\n\nplain words\n' >noparam.eml
    mp --text noparam.eml
    assert_success
    assert_output 'plain words'
    assert_equal "$stderr" 'mparse: noparam.eml: multipart/mixed without a boundary: its body taken as text/plain'
    # a preamble over 1 MiB is kept no longer: with a boundary after it the
    # parts are read; without one, the warning says the body is not shown
    { printf 'Content-Type: multipart/mixed; boundary=b\n\n'; head -c 1500000 /dev/zero | tr '\0' 'x' | fold -w 70; printf '\n'; } >bigpre.eml
    cp bigpre.eml bigpre2.eml
    printf '%s\n' '--b' '' 'part one' '--b--' >>bigpre2.eml
    mp -t bigpre2.eml
    assert_success
    no_stderr
    assert_line --index 1 '  1        text/plain; charset=us-ascii  7bit  8 bytes'
    mp -t bigpre.eml
    assert_success
    assert_equal "$stderr" 'mparse: bigpre.eml: line 3: multipart/mixed has no boundary line "--b": its body, over 1024 KiB, is not shown'
}

@test "a part in an unknown charset is passed through, never dropped" {
    mp -t unknown-charset.eml
    assert_success
    assert_line --index 1 '  1        text/plain; charset=x-mystery-8  8bit  37 bytes'
    assert_line --index 2 '  2        text/plain; charset=utf-8  7bit  25 bytes'
    # -p gives its bytes as they are
    run bash -c '"$1" -p 1 unknown-charset.eml | od -An -c | tr -s " " | tr -d "\n"' _ "$MPARSE"
    assert_output ' B y t e s i n a n u n k n o w n c h a r s e t : 351 350 377 e n d .'
    # the Subject's word in that charset is not lost either
    mp -f Subject unknown-charset.eml
    assert_output --regexp '^Unknown .+ charset$'
    # --text shows it (as UTF-8, the bytes it cannot read as U+FFFD)
    mp --text unknown-charset.eml
    assert_success
    assert_output --partial 'Bytes in an unknown charset: '
    assert_output --partial ' end.'
}

@test "bug: --text warns about a part in an unknown charset" {
    mp --text unknown-charset.eml
    assert_success
    [[ $stderr =~ ^mparse:\ unknown-charset\.eml:\ .*x-mystery-8 ]] ||
        fail "expected a warning 'mparse: unknown-charset.eml: ...x-mystery-8...', got: '$stderr'"
}

# ---------------------------------------------------------------- parts and text

@test "bad UTF-8: one U+FFFD per maximal subpart (Unicode 3.9) in -f, --text, --bodies and RFC 2231 names" {
    # Unicode Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 is
    # a FFFD FFFD FFFD b FFFD c FFFD FFFD d (as Python and WHATWG decode it)
    local bad='a\361\200\200\341\200\302b\200c\200\277d' want='a���b�c��d'
    {
        printf 'Subject: =?utf-8?B?YfGAgOGAwmKAY4C/ZA==?=\nMIME-Version: 1.0\n'
        printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\n'
        printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
        printf "$bad\\n--b\\n"
        printf 'Content-Type: application/octet-stream\nContent-Disposition: attachment;\n'
        printf " filename*=utf-8''a%%F1%%80%%80%%E1%%80%%C2b%%80c%%80%%BFd.bin\\n\\nxyz\\n--b--\\n"
    } >bad-utf8.eml
    mp -f subject bad-utf8.eml
    assert_success
    assert_output "$want"
    mp --text bad-utf8.eml
    assert_success
    assert_output "$want"
    mp -j --bodies bad-utf8.eml
    assert_success
    run jq -r '.parts[] | select(.part == "1") | .body' <<<"$output"
    assert_output "$want"
    mp -t bad-utf8.eml
    assert_line --index 2 "  2        application/octet-stream  7bit  3 bytes  \"$want.bin\""
}

@test "-p N: the decoded bytes of a part, byte for byte" {
    mp -p 2 mixed.eml
    assert_success
    "$MPARSE" -p 2 mixed.eml | cmp - report.pdf
    # quoted-printable, soft breaks and =3D, in the part's own charset
    run bash -c '"$1" -p 1.1 mixed.eml | iconv -f ISO-8859-1 -t UTF-8' _ "$MPARSE"
    assert_output - <<'EOF'
Bonjour Bob, 
voilà le rapport du trimestre, avec une ligne très longue qui est coupée en deux par un saut de ligne doux.
Les chiffres : 3 = 1 + 2.
-- 
Renée
EOF
    mp -p 1.2 mixed.eml
    assert_output '<html><head><style>p { color: red; }</style></head><body><p>Bonjour Bob,</p><p>voilà le <b>rapport</b> &amp; les chiffres&nbsp;: 3 &lt; 4.</p></body></html>'
    # the line end before a boundary belongs to the boundary
    run bash -c '"$1" -p 3 mixed.eml | od -An -c | tr -d " \n"' _ "$MPARSE"
    assert_output 'quarter,revenue\nQ1,1200'
    # a single-part message is part 1
    run bash -c '"$1" -p 1 received.eml' _ "$MPARSE"
    assert_output 'Three hops, Postfix and Dovecot style.'
}

@test "bug: -p N warns when there is no leaf part N, and exits 65 (issue 16.8: it was 0)" {
    mp -p 9 mixed.eml
    assert_failure 65
    assert_output ''
    assert_equal "$stderr" "mparse: mixed.eml: no part 9"
    # part 1 is the multipart/alternative: no bytes of its own
    mp -p 1 mixed.eml
    assert_failure 65
    assert_output ''
    [[ $stderr == "mparse: mixed.eml: "*1* ]] ||
        fail "expected a warning that part 1 is a multipart, got: '$stderr'"
}

@test "--text: text/plain before HTML, converted to UTF-8" {
    mp --text mixed.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
Bonjour Bob, 
voilà le rapport du trimestre, avec une ligne très longue qui est coupée en deux par un saut de ligne doux.
Les chiffres : 3 = 1 + 2.
-- 
Renée
EOF
    # the first text/plain that is not an attachment
    mp --text digest.eml
    assert_output "Today's topics: two messages."
}

@test "--text: HTML alone is shown without tags, style and entities" {
    mp --text html-only.eml
    assert_success
    no_stderr
    assert_line 'Café & crème'
    assert_line '3 < 4 > 2'
    assert_line 'line one'
    assert_line 'line two'
    refute_output --partial '<p'
    refute_output --partial '<br'
    refute_output --partial '</'
    refute_output --partial 'color'
    refute_output --partial '&amp;'
    # no text at all: a warning, and still exit 0
    run --separate-stderr bash -c 'printf "Content-Type: application/pdf\n\n%%PDF\n" | "$1" --text' _ "$MPARSE"
    assert_success
    assert_output ''
    assert_equal "$stderr" 'mparse: stdin: no text part'
}

# ---------------------------------------------------------------- extraction

@test "-x DIR: the attachments, byte for byte; the paths printed; inline text left" {
    mp -x out mixed.eml
    assert_success
    no_stderr
    assert_output $'out/report.pdf\nout/data.csv'
    cmp out/report.pdf report.pdf
    assert_equal "$(cat out/data.csv)" $'quarter,revenue\nQ1,1200'
    run ls out
    assert_output $'data.csv\nreport.pdf'
    # a directory given with a trailing slash, and one several levels deep
    mp -x "$T/a/../out2/" forward.eml
    assert_failure 73
    mkdir a
    mp -x "$T/a/../out2/" forward.eml
    assert_success
    [[ $output == "$T/a/../out2/figures.bin" || $output == "$T/a/../out2//figures.bin" ]] ||
        fail "path: $output"
    cmp <(printf '\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020') out2/figures.bin
}

@test "-x: a message/external-body is listed in -t and -j but writes no phantom file" {
    # RFC 2046 5.2.3: its name= names a remote file; its body is only the
    # header of that data
    printf '%s\n' 'MIME-Version: 1.0' 'Content-Type: multipart/mixed; boundary=b' '' '--b' \
        'Content-Type: text/plain' '' 'see the file' '--b' \
        'Content-Type: message/external-body; access-type=URL;' \
        ' URL="https://example.org/big.tar"; name="big.tar"' '' \
        'Content-Type: application/x-tar' '' '--b' \
        'Content-Type: application/pdf; name="real.pdf"' 'Content-Transfer-Encoding: base64' '' \
        'JVBERi0=' '--b--' >ext.eml
    mp -t ext.eml
    assert_success
    no_stderr
    assert_line --index 2 '  2        message/external-body  7bit  32 bytes  "big.tar"'
    mp -j ext.eml
    run jq -r '.parts[] | select(.part != "") | .part + " " + .type' <<<"$output"
    assert_output $'1 text/plain\n2 message/external-body\n3 application/pdf'
    mp -x out ext.eml
    assert_success
    assert_output 'out/real.pdf'
    assert_equal "$stderr" 'mparse: ext.eml: part 2: message/external-body names data kept elsewhere: nothing to extract'
    run ls out
    assert_output 'real.pdf'
}

@test "-x never overwrites: a second run writes 'name (1).ext', a third 'name (2).ext'" {
    mp -x out mixed.eml
    assert_success
    mp -x out mixed.eml
    assert_success
    assert_output $'out/report (1).pdf\nout/data (1).csv'
    mp -x out mixed.eml
    assert_output $'out/report (2).pdf\nout/data (2).csv'
    for f in report.pdf 'report (1).pdf' 'report (2).pdf'; do
        cmp "out/$f" report.pdf
    done
    # a file that was there before is left as it was
    mkdir keep
    echo precious >keep/report.pdf
    chmod 444 keep/report.pdf
    mp -x keep mixed.eml
    assert_line --index 0 'keep/report (1).pdf'
    assert_equal "$(cat keep/report.pdf)" precious
    # so is a symbolic link, and what it points to
    mkdir link
    echo target >target
    ln -s "$T/target" link/report.pdf
    mp -x link mixed.eml
    assert_line --index 0 'link/report (1).pdf'
    assert_equal "$(cat target)" target
    # two attachments of one message with the same name
    mp -x same unsafe-names.eml
    assert_line 'same/attachment'
    assert_line 'same/attachment (1)'
}

@test "-x: RFC 2231 names in UTF-8 become the file names" {
    mp -x out rfc2231.eml
    assert_success
    assert_output - <<'EOF'
out/€ rates.pdf
out/Grüße aus Köln.dat
out/日本.bin
out/very-long-file-name-split-over-two-lines.zip
EOF
    assert_equal "$(cat 'out/Grüße aus Köln.dat')" 'Grüße'
    assert_equal "$(head -c 8 'out/€ rates.pdf')" '%PDF-1.4'
}

@test "-x: unsafe names (../, /, control characters, dot files) are made safe inside DIR" {
    mkdir -p x/etc
    mp -x x/out unsafe-names.eml
    assert_success
    no_stderr
    local p n=0
    while IFS= read -r p; do
        n=$((n + 1))
        [[ $p == x/out/* ]] || fail "path outside DIR: $p"
        local b=${p#x/out/}
        [[ $b != */* ]] || fail "a subdirectory: $p"
        [[ $b != .* ]] || fail "a dot file: $p"
        [[ $b != *[[:cntrl:]]* ]] || fail "a control character in: $(printf %q "$b")"
        [ -f "$p" ] || fail "not written: $p"
    done <<<"$output"
    assert_equal "$n" 7
    assert_equal "$(find x -type f | wc -l)" 7
    [ ! -e x/etc/passwd ] && [ ! -e "$T/etc" ] || fail "written outside DIR"
    assert_equal "$(cat "$(sed -n 1p <<<"$output")")" 'root:x:0:0'
    assert_line --index 0 'x/out/_._.._etc_passwd'
    assert_line --index 1 'x/out/ctl__[31mred_.txt'
    assert_line --index 2 'x/out/_tmp_absolute.sh'
    assert_line --index 3 'x/out/attachment'
    assert_line --index 4 'x/out/_bashrc'
    assert_line --index 5 'x/out/back_slash.txt'
    assert_line --index 6 'x/out/attachment (1)'
}

@test "bug: -x: a long name keeps its extension, stays valid UTF-8 and gets its ' (1)' too" {
    local name
    name=$(printf 'é%.0s' {1..200}).pdf # 404 bytes
    printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="%s"\n\n%%PDF\n--b--\n' "$name" >long.eml
    check_names() {
        local f b
        for f in out/*; do
            b=${f#out/}
            [ "$(printf %s "$b" | wc -c)" -le 255 ] || fail "longer than NAME_MAX: $b"
            printf %s "$b" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 || fail "not UTF-8: $(printf %q "$b")"
            [[ $b == *.pdf ]] || fail "extension lost: $(printf %q "$b")"
            assert_equal "$(cat "$f")" '%PDF'
        done
    }
    mp -x out long.eml
    assert_success
    no_stderr
    check_names
    # the second time, the name with " (1)" must fit as well
    mp -x out long.eml
    assert_success
    no_stderr
    run ls out
    assert_equal "${#lines[@]}" 2
    check_names
}

# ---------------------------------------------------------------- uuencode

# uudecode FILE NAME: the bytes of the uuencoded block NAME in FILE, as
# Python's binascii.a2b_uu decodes it, line by line
uudecode() {
    python3 -c 'import binascii, sys
out, inb = b"", False
for l in open(sys.argv[1], "rb"):
    if not inb:
        inb = l.startswith(b"begin ") and l.split(None, 2)[2].strip() == sys.argv[2].encode()
    elif l.strip() == b"end":
        break
    else:
        out += binascii.a2b_uu(l)
sys.stdout.buffer.write(out)' "$1" "$2"
}

@test "uuencode: blocks of a single-part message are parts 1.u1, 1.u2 in -t, -p, -x and -j" {
    command -v python3 >/dev/null || fail "python3 is missing (Debian package python3)"
    mp -t uuencoded.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
1        text/plain; charset=us-ascii  7bit  1554 bytes
  1.u1     application/octet-stream  uuencode  1015 bytes  "tool.bin"
  1.u2     text/plain  uuencode  23 bytes  "notes.txt"
EOF
    # byte for byte what Python's binascii makes of the block
    uudecode uuencoded.eml tool.bin >tool.want
    [ "$(wc -c <tool.want)" -eq 1015 ] || fail "the reference decoding is $(wc -c <tool.want) bytes"
    "$MPARSE" -p 1.u1 uuencoded.eml >tool.got
    cmp tool.got tool.want
    mp -p 1.u2 uuencoded.eml
    assert_output $'Notes for Bob\nline two'
    # the text part itself still holds its whole body, blocks included
    "$MPARSE" -p 1 uuencoded.eml | cmp - <(sed '1,/^$/d' uuencoded.eml)
    # -x writes them, safe and without overwriting
    mp -x out uuencoded.eml
    assert_success
    assert_output $'out/tool.bin\nout/notes.txt'
    cmp out/tool.bin tool.want
    mp -x out uuencoded.eml
    assert_output $'out/tool (1).bin\nout/notes (1).txt'
    cmp 'out/tool (1).bin' tool.want
    # in the JSON tree, each listed when it ends: before its text part
    run bash -c '"$1" -j uuencoded.eml | jq -c ".parts[] | [.part, .type, .encoding, .filename, .size]"' _ "$MPARSE"
    assert_output - <<'EOF'
["1.u1","application/octet-stream","uuencode","tool.bin",1015]
["1.u2","text/plain","uuencode","notes.txt",23]
["1","text/plain","7bit",null,1554]
EOF
    # --text leaves the text as it is
    mp --text uuencoded.eml
    assert_line --index 0 'Hi Bob,'
    assert_line 'begin 644 tool.bin'
}

@test "uuencode: in a quoted-printable text part of a multipart; not in a text attachment" {
    command -v python3 >/dev/null || fail "python3 is missing (Debian package python3)"
    mp -t uu-multipart.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=us-ascii  quoted-printable  155 bytes
    1.u1     image/png  uuencode  66 bytes  "dot.png"
  2        text/plain; charset=us-ascii  7bit  81 bytes  "log.txt"
EOF
    # decoded from the quoted-printable first ('=' is =3D in the message)
    "$MPARSE" -p 1 uu-multipart.eml >text
    uudecode text dot.png >dot.want
    "$MPARSE" -p 1.u1 uu-multipart.eml | cmp - dot.want
    mp -p 2.u1 uu-multipart.eml
    assert_failure 65
    assert_output ''
    assert_equal "$stderr" "mparse: uu-multipart.eml: no part 2.u1"
    mp -x out uu-multipart.eml
    assert_output $'out/dot.png\nout/log.txt'
    cmp out/dot.png dot.want
}

@test "uuencode: bad lines, a missing end, a cut-off block: warnings naming the line, never a crash" {
    printf 'Subject: bad\n\ntext\nbegin 644 a.bin\n#86)C\nthis is not uu data at all!\n#86)C\n`\nend\nbegin 600 b.bin\n#86)C\n' >bad.eml
    mp -t bad.eml
    assert_success
    assert_output - <<'EOF'
1        text/plain; charset=us-ascii  7bit  89 bytes
  1.u1     application/octet-stream  uuencode  6 bytes  "a.bin"
  1.u2     application/octet-stream  uuencode  3 bytes  "b.bin"
EOF
    assert_equal "$stderr" 'mparse: bad.eml: line 6: uuencoded "a.bin": not a line of uuencoded data: skipped
mparse: bad.eml: line 11: uuencoded "b.bin": the text ends inside the block: no "end" line'
    mp -p 1.u1 bad.eml
    assert_output 'abcabc'
    # no zero-length line before "end", CRLF line ends: read as well
    printf 'Subject: x\r\n\r\nbegin 644 c.txt\r\n&86)C9&5F\r\nend\r\n' >crlf.eml
    mp -p 1.u1 crlf.eml
    assert_output 'abcdef'
    no_stderr
    # a block whose data stops: after 8 bad lines in a row it ends there
    { printf 'Subject: x\n\nbegin 644 d.bin\n#86)C\n'; seq 20; printf 'begin 644 e.bin\n#86)C\n`\nend\n'; } >runaway.eml
    mp -t runaway.eml
    assert_success
    assert_line --index 2 '  1.u2     application/octet-stream  uuencode  3 bytes  "e.bin"'
    [[ $stderr == *'line 12: uuencoded "d.bin": too many bad lines: the block ends here'* ]] || fail "$stderr"
    # a 1 MB line and binary noise inside a block
    { printf 'Subject: x\n\nbegin 644 f.bin\n'; head -c 1000000 /dev/zero | tr '\0' M; printf '\n'; head -c 20000 /dev/urandom; } >noise.eml
    mp -t noise.eml
    assert_success
    assert_line --index 1 --partial '1.u1     application/octet-stream  uuencode'
    [[ $stderr == *'line 4: uuencoded "f.bin": not a line of uuencoded data: skipped'* ]] || fail "$stderr"
}

# ---------------------------------------------------------------- Received

@test "bug: -r: Postfix Received lines, oldest first, with times and delays" {
    mp -r received.eml
    assert_success
    no_stderr
    # the first hop's date is on a continuation line after ";" and a tab,
    # as Postfix folds it: "...id 4Z8QbS6kF3z1xq;\n\tTue,  4 Mar 2025 ..."
    assert_output - <<'EOF'
1. from [192.168.1.20] by mail.example.org with ESMTPSA id 4Z8QbS6kF3z1xq at 2025-03-04 09:15:01 UTC
2. from mail.example.org by mx.example.net with ESMTPS id 4Z8QbT0xYzz9sW at 2025-03-04 09:15:07 UTC (+6s)
3. from mx.example.net by imap.example.net with LMTP id kGq2Lw1Fx2dVAQAA at 2025-03-04 09:15:09 UTC (+2s)
EOF
}

@test "-r: clauses inside comments are ignored; a hop without a date has no time" {
    run --separate-stderr bash -c 'printf "%s\n" \
        "Received: from b.example (by evil.example with X) by c.example with SMTP; Tue, 04 Mar 2025 10:00:07 +0000" \
        "Received: from x.example by b.example; 4 Mar 2025 11:00:00 +0100" \
        "Received: by a.example (no date here)" "" "x" | "$1" -r' _ "$MPARSE"
    assert_success
    assert_output - <<'EOF'
1. from ? by a.example
2. from x.example by b.example at 2025-03-04 10:00:00 UTC
3. from b.example by c.example with SMTP at 2025-03-04 10:00:07 UTC (+7s)
EOF
}

@test "bug: -r: a hop stamped before the one before it shows a negative delay, '(-5s)'" {
    run --separate-stderr bash -c 'printf "%s\n" \
        "Received: by b.example with SMTP; Tue, 04 Mar 2025 10:00:00 +0000" \
        "Received: by a.example with SMTP; Tue, 04 Mar 2025 10:00:05 +0000" "" "x" | "$1" -r' _ "$MPARSE"
    assert_success
    assert_line --index 1 '2. from ? by b.example with SMTP at 2025-03-04 10:00:00 UTC (-5s)'
}

@test "bug: -r: obsolete zone names (RFC 5322 4.3: GMT, UT, EST, ...) are read" {
    run --separate-stderr bash -c 'printf "%s\n" \
        "Received: by b.example; Tue, 4 Mar 2025 05:00:09 EST" \
        "Received: by a.example; Tue, 4 Mar 2025 10:00:00 GMT" "" "x" | "$1" -r' _ "$MPARSE"
    assert_success
    assert_output - <<'EOF'
1. from ? by a.example at 2025-03-04 10:00:00 UTC
2. from ? by b.example at 2025-03-04 10:00:09 UTC (+9s)
EOF
}

# ---------------------------------------------------------------- --date

@test "--date iso|epoch|rfc: the summary, -f date, -j and -r hops in one form" {
    mp --date iso mixed.eml
    assert_success
    no_stderr
    assert_line --index 3 'Date: 2025-03-04T10:15:00+01:00'
    mp --date epoch -f date mixed.eml
    assert_output '1741079700'
    [ "$(date -u -d @1741079700 +%FT%T)" = 2025-03-04T09:15:00 ]
    mp --date rfc -f Date mixed.eml
    assert_output 'Tue, 04 Mar 2025 10:15:00 +0100'
    # --raw shows the field as it stands, whatever --date says
    mp --date epoch --raw -f date mixed.eml
    assert_output 'Tue, 04 Mar 2025 10:15:00 +0100'
    # JSON: "value" as it stands, "decoded" in the form asked for
    run bash -c '"$1" -j --date epoch mixed.eml | jq -c ".headers[] | select(.name == \"Date\") | [.value, .decoded]"' _ "$MPARSE"
    assert_output '["Tue, 04 Mar 2025 10:15:00 +0100","1741079700"]'
    run bash -c '"$1" -j mixed.eml | jq -r ".headers[] | select(.name == \"Date\") | .decoded"' _ "$MPARSE"
    assert_output 'Tue, 04 Mar 2025 10:15:00 +0100'
    # -r: each hop in its own zone (iso, rfc) or as seconds
    mp -r --date iso received.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
1. from [192.168.1.20] by mail.example.org with ESMTPSA id 4Z8QbS6kF3z1xq at 2025-03-04T10:15:01+01:00
2. from mail.example.org by mx.example.net with ESMTPS id 4Z8QbT0xYzz9sW at 2025-03-04T09:15:07+00:00 (+6s)
3. from mx.example.net by imap.example.net with LMTP id kGq2Lw1Fx2dVAQAA at 2025-03-04T04:15:09-05:00 (+2s)
EOF
    mp -r --date epoch received.eml
    assert_line --index 2 '3. from mx.example.net by imap.example.net with LMTP id kGq2Lw1Fx2dVAQAA at 1741079709 (+2s)'
    mp -r --date rfc received.eml
    assert_line --index 0 '1. from [192.168.1.20] by mail.example.org with ESMTPSA id 4Z8QbS6kF3z1xq at Tue, 04 Mar 2025 10:15:01 +0100'
}

@test "--date: obsolete forms are read; -0000 is -00:00; an unreadable date stands, with a warning; a bad form exits 64" {
    run --separate-stderr bash -c 'printf "%s\n" "Date: Sun, 12 Mar 95 18:30 (comment) EST" "Resent-Date: 1 Jan 2024 00:00:00 -0000" "" x | "$1" --date rfc -f date -f resent-date' _ "$MPARSE"
    assert_success
    assert_output $'Sun, 12 Mar 1995 18:30:00 -0500\nMon, 01 Jan 2024 00:00:00 -0000'
    run --separate-stderr bash -c 'printf "%s\n" "Date: Wednesday, 5 Mar 2025 23:59:60 +1345" "Resent-Date: 1 Jan 2024 00:00:00 -0000" "" x | "$1" --date iso -f date -f resent-date' _ "$MPARSE"
    assert_output $'2025-03-06T00:00:00+13:45\n2024-01-01T00:00:00-00:00'
    # a day that does not exist, a word: as they stand, with a warning
    printf 'Date: 29 Feb 2023 10:00 +0000\nSubject: s\n\nx\n' >baddate.eml
    mp --date iso baddate.eml
    assert_success
    assert_output $'Date: 29 Feb 2023 10:00 +0000\nSubject: s'
    assert_equal "$stderr" 'mparse: baddate.eml: Date: cannot read the date "29 Feb 2023 10:00 +0000": shown as it stands'
    run --separate-stderr bash -c 'printf "%s\n" "Received: by a.example; yesterday" "Date: soon" "" x | "$1" --date epoch -r' _ "$MPARSE"
    assert_success
    assert_output '1. from ? by a.example at yesterday'
    assert_equal "$stderr" 'mparse: stdin: Received (hop 1): cannot read the date "yesterday": shown as it stands'
    # without --date, nothing is read and nothing is said
    run --separate-stderr bash -c 'printf "Date: soon\n\nx\n" | "$1"' _ "$MPARSE"
    assert_output 'Date: soon'
    assert_equal "$stderr" ''
    for bad in ISO local '' 'iso,rfc'; do
        mp --date "$bad" mixed.eml
        assert_failure 64
        assert_equal "$stderr" "mparse: --date: unknown form '$bad' (iso, epoch or rfc)"
        assert_output ''
    done
    mp --date
    assert_failure 64
}

# ---------------------------------------------------------------- JSON

@test "-j: one object per message: headers (name, value, decoded), parts, file" {
    mp -j mixed.eml
    assert_success
    no_stderr
    assert_equal "${#lines[@]}" 1
    run jq -c '[.file, (.headers | length), .headers[1]]' <<<"$output"
    assert_output '["mixed.eml",9,{"name":"From","value":"=?ISO-8859-1?Q?Ren=E9e_Dupont?= <renee@example.org>","decoded":"Renée Dupont <renee@example.org>"}]'
    # every part with its fields; a container has no size
    run bash -c '"$1" -j mixed.eml | jq -c ".parts | sort_by(.part)[] | [.part, .type, .charset, .encoding, .filename, .size]"' _ "$MPARSE"
    assert_output - <<'EOF'
["","multipart/mixed",null,"7bit",null,null]
["1","multipart/alternative",null,"7bit",null,null]
["1.1","text/plain","ISO-8859-1","quoted-printable",null,157]
["1.2","text/html","UTF-8","base64",null,158]
["2","application/pdf",null,"base64","report.pdf",1116]
["3","text/csv","us-ascii","7bit","data.csv",23]
EOF
    # offsets point at the part's header
    run bash -c '"$1" -j mixed.eml | jq -r ".parts[] | select(.part == \"2\") | .offset"' _ "$MPARSE"
    assert_equal "$(tail -c +$((output + 1)) mixed.eml | head -n 1)" 'Content-Type: application/pdf; name="report.pdf"'
    # the size of every leaf is the length of its -p output
    local p s
    while read -r p s; do
        assert_equal "$("$MPARSE" -p "$p" forward.eml | wc -c)" "$s"
    done < <("$MPARSE" -j forward.eml | jq -r '.parts[] | select(.size != null) | "\(.part) \(.size)"')
}

# ---------------------------------------------------------------- -j --bodies

@test "-j --bodies: each leaf's decoded body, text as UTF-8, the rest in base64; without --bodies none" {
    mp --bodies mixed.eml
    assert_success
    no_stderr
    assert_equal "${#lines[@]}" 1
    run bash -c '"$1" -j --bodies mixed.eml | jq -c ".parts[] | [.part, .body_encoding, (.body | type)]"' _ "$MPARSE"
    assert_output - <<'EOF'
["1.1","utf-8","string"]
["1.2","utf-8","string"]
["1",null,"null"]
["2","base64","string"]
["3","utf-8","string"]
["",null,"null"]
EOF
    # text: converted from ISO-8859-1; binary: the -p bytes, base64
    run bash -c '"$1" --bodies mixed.eml | jq -j ".parts[] | select(.part == \"1.1\") | .body"' _ "$MPARSE"
    assert_equal "$output" "$("$MPARSE" -p 1.1 mixed.eml | iconv -f ISO-8859-1 -t UTF-8)"
    "$MPARSE" --bodies mixed.eml | jq -r '.parts[] | select(.part == "2") | .body' | base64 -d | cmp - report.pdf
    # the uuencoded blocks too
    "$MPARSE" --bodies uuencoded.eml | jq -r '.parts[] | select(.part == "1.u1") | .body' | base64 -d >tool.got
    "$MPARSE" -p 1.u1 uuencoded.eml | cmp - tool.got
    run bash -c '"$1" --bodies uuencoded.eml | jq -j ".parts[] | select(.part == \"1.u2\") | .body"' _ "$MPARSE"
    assert_output $'Notes for Bob\nline two'
    # without --bodies: no body, and the same members as before
    run bash -c '"$1" -j mixed.eml | jq -c "[.parts[] | keys] | unique"' _ "$MPARSE"
    assert_output '[["charset","encoding","filename","offset","part","size","type"],["charset","encoding","filename","offset","part","type"]]'
    # an unknown charset: read as UTF-8, U+FFFD for what is not, a warning
    mp --bodies unknown-charset.eml
    assert_success
    assert_equal "$stderr" 'mparse: unknown-charset.eml: part 1: unknown charset "x-mystery-8": the body is read as UTF-8'
    run jq -r '.parts[] | select(.part == "1") | .body' <<<"$output"
    assert_output 'Bytes in an unknown charset: ��� end.'
    # bodies wait in TMPDIR: none to be had there is exit 73
    TMPDIR=$T/nonexistent run --separate-stderr "$MPARSE" --bodies mixed.eml
    assert_failure 73
    assert_equal "$stderr" "mparse: $T/nonexistent: a temporary file for a body: No such file or directory"
    TMPDIR=$T/nonexistent run --separate-stderr "$MPARSE" -j mixed.eml
    assert_success
}

@test "-j --bodies: characters cut between two pieces of 48 KiB come out whole (Shift_JIS, UTF-8)" {
    python3 -c 'import sys
text = "x" + "aあ" * 70000 + "\n"
sys.stdout.buffer.write(b"Subject: sjis\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n" + text.encode("shift_jis") +
    b"--b\nContent-Type: text/plain; charset=utf-8\n\n" + ("y" + "é€😀" * 30000 + "\n").encode() + b"--b--\n")' >big.eml
    mp --bodies big.eml
    assert_success
    no_stderr
    run bash -c '"$1" --bodies big.eml | jq -j ".parts[] | select(.part == \"1\") | .body" | cmp - <("$1" -p 1 big.eml | iconv -f SHIFT_JIS -t UTF-8)' _ "$MPARSE"
    assert_success
    run bash -c '"$1" --bodies big.eml | jq -j ".parts[] | select(.part == \"2\") | .body" | cmp - <("$1" -p 2 big.eml)' _ "$MPARSE"
    assert_success
}

@test "-j --bodies: a 40 MB attachment in bounded memory (peak RSS under 8 MiB)" {
    [ -x /usr/bin/time ] || fail "/usr/bin/time is missing (install the Debian package 'time')"
    head -c 40M /dev/urandom >blob
    {
        printf 'Subject: big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n'
        printf 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
        base64 -w 76 blob
        printf -- '--b--\n'
    } >big.eml
    rm -f json
    /usr/bin/time -f %M -o rss "$MPARSE" --bodies big.eml >json
    jq -r '.parts[0].body' json | base64 -d | cmp - blob
    local kb
    kb=$(tail -n 1 rss)
    if rss_checked; then
        [ "$kb" -lt 8192 ] || fail "peak RSS ${kb} KiB"
    fi
}

# ---------------------------------------------------------------- inputs

@test "mbox: every message, >From unquoted one level, numbered FILE:N" {
    mp several.mbox
    assert_success
    no_stderr
    assert_output - <<'EOF'
From: Alice <alice@example.org>
To: bob@example.net
Date: Mon, 03 Mar 2025 09:00:00 +0000
Subject: First in the mbox

From: Carol König <carol@example.org>
To: bob@example.net
Date: Mon, 03 Mar 2025 10:00:00 +0000
Subject: Second, with an attachment

From: dave@example.com
To: bob@example.net
Date: Mon, 03 Mar 2025 11:00:00 +0000
Subject: Third
EOF
    mp --text several.mbox
    assert_output - <<'EOF'
Line one.
From the start of a line, quoted in the mbox.
>From twice quoted.
See attached.
From here on.
The end.
EOF
    mp -j several.mbox
    run jq -r '.file' <<<"$output"
    assert_output $'several.mbox:1\nseveral.mbox:2\nseveral.mbox:3'
    mp -x out several.mbox
    assert_output 'out/hello.bin'
    assert_equal "$(cat out/hello.bin)" hello
    # the mbox's own blank line before the next From_ is not part of a message
    mp -t several.mbox
    assert_line --index 0 '1        text/plain; charset=us-ascii  7bit  76 bytes'
}

@test "--mbox: an mbox that detection misses (blank lines first) is split; what is no mbox is said so" {
    { printf '\n\n'; cat several.mbox; } >lead.mbox
    # detection looks at the first line only: one message with an empty header
    mp -f subject lead.mbox
    assert_success
    assert_output ''
    mp --mbox -f subject lead.mbox
    assert_success
    no_stderr
    assert_output $'First in the mbox\nSecond, with an attachment\nThird'
    run --separate-stderr bash -c '"$1" --mbox -j < lead.mbox | jq -r .file' _ "$MPARSE"
    assert_output $'stdin:1\nstdin:2\nstdin:3'
    # a message that is no mbox: a warning naming it and the byte, exit 65
    mp --mbox mixed.eml
    assert_failure 65
    assert_output ''
    assert_equal "$stderr" 'mparse: mixed.eml: not an mbox: no "From " line at byte 1'
    # with a good input too: exit 0, the warning still given
    mp --mbox --no-filename -f subject several.mbox mixed.eml
    assert_success
    assert_output $'First in the mbox\nSecond, with an attachment\nThird'
    assert_equal "$stderr" 'mparse: mixed.eml: not an mbox: no "From " line at byte 1'
    # the messages of a Maildir are messages, --mbox or not
    mkdir -p md/cur md/new
    cp received.eml md/cur/1.M1P1.host:2,S
    mp --mbox -f subject md
    assert_success
    no_stderr
    assert_output 'md/cur/1.M1P1.host:2,S:Trace'
}

@test "-H/--no-filename: as grep, the message's name on each line with several inputs or a Maildir; -H for one file (FILE:N of an mbox)" {
    # one file: no names, as before
    mp -f from -f subject mixed.eml
    assert_success
    assert_output $'Renée Dupont <renee@example.org>\nQuarterly report – Q1'
    # several: each line says whose it is, also when a field is missing
    mp -f subject -f x-missing -f from mixed.eml addresses.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
mixed.eml:Quarterly report – Q1
mixed.eml:Renée Dupont <renee@example.org>
addresses.eml:Obsolete forms and groups
addresses.eml:"Doe, Jane (Sales)" <jane.doe@example.com>
EOF
    mp --no-filename -f subject mixed.eml addresses.eml
    assert_output $'Quarterly report – Q1\nObsolete forms and groups'
    # one mbox: -H names each message FILE:N
    mp -H -f subject several.mbox
    assert_output $'several.mbox:1:First in the mbox\nseveral.mbox:2:Second, with an attachment\nseveral.mbox:3:Third'
    mp -H -f subject --no-filename several.mbox
    assert_output $'First in the mbox\nSecond, with an attachment\nThird'
    # a Maildir is several inputs
    mkdir -p md/cur md/new
    cp mixed.eml md/cur/1.M1P1.host:2,S
    cp received.eml md/new/2.M2P2.host
    mp -f subject md
    assert_output $'md/cur/1.M1P1.host:2,S:Quarterly report – Q1\nmd/new/2.M2P2.host:Trace'
    # the summary, -a and -r too; stdin is 'stdin'
    mp --with-filename mixed.eml
    assert_line --index 0 'mixed.eml:From: Renée Dupont <renee@example.org>'
    assert_line 'mixed.eml:Subject: Quarterly report – Q1'
    mp -a --addr-only addresses.eml mixed.eml
    assert_line 'mixed.eml:renee@example.org'
    for l in "${lines[@]}"; do [[ $l == addresses.eml:* || $l == mixed.eml:* ]] || fail "no name: $l"; done
    mp -r received.eml -H
    assert_line --index 0 --regexp '^received\.eml:1\. from '
    run --separate-stderr bash -c '"$1" -H -f subject < mixed.eml' _ "$MPARSE"
    assert_output 'stdin:Quarterly report – Q1'
}

@test "--tsv: a line per message, a column per -f (empty when missing), the name first when shown; tab, LF, CR and \\ escaped" {
    mp --tsv -f from -f x-missing -f subject mixed.eml addresses.eml
    assert_success
    no_stderr
    assert_output $'mixed.eml\tRenée Dupont <renee@example.org>\t\tQuarterly report – Q1\naddresses.eml\t"Doe, Jane (Sales)" <jane.doe@example.com>\t\tObsolete forms and groups'
    # one file: no name column unless -H; missing fields still make their columns
    mp --tsv -f x-missing -f subject -f x-missing mixed.eml
    assert_output $'\tQuarterly report – Q1\t'
    mp --tsv -H -f subject several.mbox
    assert_output $'several.mbox:1\tFirst in the mbox\nseveral.mbox:2\tSecond, with an attachment\nseveral.mbox:3\tThird'
    # without -f: the summary's fields, From To Cc Date Subject
    mp --tsv --date epoch several.mbox
    assert_line --index 0 $'Alice <alice@example.org>\tbob@example.net\t\t1740992400\tFirst in the mbox'
    # what would break a record: a tab and a backslash in a value, a
    # field twice, a newline and a CR (encoded), an escape character
    printf 'Subject: a\tb\\c\nX-Two: one\nX-Two: two\nX-Enc: =?UTF-8?Q?l1=0Al2=0Dx=1B?=\n\nbody\n' >esc.eml
    mp --tsv -f subject -f x-two -f x-enc esc.eml
    assert_success
    assert_output 'a\tb\\c	one\ntwo	l1\nl2\rx\x1b'
    [ "${#lines[@]}" = 1 ] || fail "${#lines[@]} lines"
    mp --tsv --raw -f x-enc -f subject esc.eml
    assert_output '=?UTF-8?Q?l1=0Al2=0Dx=1B?=	a\tb\\c'
    # a name with a tab in it
    cp mixed.eml "$(printf 'tab\there.eml')"
    mp --tsv -H -f subject "$(printf 'tab\there.eml')"
    assert_output 'tab\there.eml	Quarterly report – Q1'
    # with another mode: a usage error
    for m in -t -r -j -a --text '-p 1' '-x out'; do
        # shellcheck disable=SC2086 # split on purpose
        mp --tsv $m mixed.eml
        assert_failure 64
        assert_equal "$stderr" 'mparse: --tsv goes with -f (or the summary), not with another mode'
    done
}

@test "Maildir: cur/ then new/, each in name order; tmp/ and dot files ignored" {
    mkdir -p md/cur md/new md/tmp
    cp received.eml 'md/cur/1741079800.M2P200.host:2,S'
    cp mixed.eml 'md/cur/1741079700.M1P100.host:2,RS'
    cp digest.eml md/new/1741079900.M3P300.host
    cp forward.eml md/tmp/1741080000.M4P400.host
    cp forward.eml md/new/.hidden
    mp --no-filename -f Subject md
    assert_success
    no_stderr
    assert_output - <<'EOF'
Quarterly report – Q1
Trace
list Digest, Vol 12, Issue 3
EOF
    mp -j md
    run jq -r '.file' <<<"$output"
    assert_output - <<'EOF'
md/cur/1741079700.M1P100.host:2,RS
md/cur/1741079800.M2P200.host:2,S
md/new/1741079900.M3P300.host
EOF
    # a Maildir with an empty message in it: a warning, the rest is read
    : >md/new/1741079999.M5P500.host
    mp -f Subject md
    assert_success
    assert_equal "$stderr" 'mparse: md/new/1741079999.M5P500.host: empty input'
    assert_equal "${#lines[@]}" 3
}

@test "stdin: without FILE and with '-', named 'stdin' in warnings" {
    run --separate-stderr bash -c '"$1" -t < missing-close.eml' _ "$MPARSE"
    assert_success
    assert_line --index 2 '  2        application/octet-stream  base64  11 bytes  "tail.bin"'
    assert_equal "$stderr" 'mparse: stdin: the closing boundary of multipart/mixed is missing: it ends at the end of input'
    run --separate-stderr bash -c 'cat several.mbox | "$1" -j - | jq -r .file' _ "$MPARSE"
    assert_output $'stdin:1\nstdin:2\nstdin:3'
    # FILE and stdin together: two inputs, each line named
    run --separate-stderr bash -c '"$1" -f subject received.eml - < unterminated-word.eml' _ "$MPARSE"
    assert_output $'received.eml:Trace\nstdin:Re: café =?UTF-8?B?SGVsbG8gd29ybGQ'
}

@test "exit status: 65 when no message could be read at all; 66 for an input that cannot be opened, whatever else was read" {
    : >empty.eml
    mp empty.eml
    assert_failure 65
    assert_equal "$stderr" 'mparse: empty.eml: empty input'
    mp nosuch.eml
    assert_failure 66
    assert_equal "$stderr" 'mparse: nosuch.eml: No such file or directory'
    # the others are still read and shown, but a missing input is no success
    mp -f Subject nosuch.eml received.eml empty.eml
    assert_failure 66
    assert_output 'received.eml:Trace'
    assert_equal "$stderr" $'mparse: nosuch.eml: No such file or directory\nmparse: empty.eml: empty input'
    run --separate-stderr bash -c '"$1" < /dev/null' _ "$MPARSE"
    assert_failure 65
    assert_equal "$stderr" 'mparse: stdin: empty input'
    # -x into a place where no directory can be made
    mp -x /proc/nonexistent/x mixed.eml
    assert_failure 73
}

@test "bug: an empty Maildir exits 65, without undefined behaviour (UBSan: qsort of no names)" {
    # mparse.c calls qsort(NULL, 0, ...) for an empty cur/ or new/: passes
    # in the plain build, fails under -Db_sanitize=undefined
    mkdir -p emptymd/cur emptymd/new emptymd/tmp
    mp emptymd
    assert_failure 65
    assert_output ''
    [[ $stderr != *"runtime error"* ]] || fail "$stderr"
}

@test "bug: a directory that is not a Maildir is reported, not passed over in silence" {
    mkdir notmd
    mp notmd
    assert_failure 65
    [[ $stderr == "mparse: notmd: "* ]] || fail "expected a warning about notmd, got: '$stderr'"
}

# ---------------------------------------------------------------- robustness

# peak RSS is meaningless under a sanitizer's shadow memory
rss_checked() {
    case ${MP_SANITIZE:-none} in
    none | '') return 0 ;;
    *) return 1 ;;
    esac
}

@test "streaming: a 300 MB message with a base64 attachment: -t and -x with peak RSS under 8 MiB" {
    [ -x /usr/bin/time ] || fail "/usr/bin/time is missing (install the Debian package 'time')"
    head -c 1M /dev/urandom >chunk
    cat >gen.sh <<'EOF'
for i in $(seq 225); do cat chunk; done
EOF
    {
        printf 'From: big@example.org\nSubject: big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=big\n\n'
        printf -- '--big\nContent-Type: text/plain\n\nThe attachment follows.\n--big\n'
        printf 'Content-Type: application/octet-stream; name="big.bin"\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\n'
        bash gen.sh | base64 -w 76
        printf -- '--big--\n'
    } >big.eml
    [ "$(stat -c %s big.eml)" -gt 300000000 ] || fail "big.eml is only $(stat -c %s big.eml) bytes"
    run --separate-stderr /usr/bin/time -f %M -o rss.t "$MPARSE" -t big.eml
    assert_success
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=us-ascii  7bit  23 bytes
  2        application/octet-stream  base64  235929600 bytes  "big.bin"
EOF
    run --separate-stderr /usr/bin/time -f %M -o rss.x "$MPARSE" -x out big.eml
    assert_success
    assert_output 'out/big.bin'
    assert_equal "$(md5sum <out/big.bin)" "$(bash gen.sh | md5sum)"
    rm -f big.eml out/big.bin
    if rss_checked; then
        local t x
        t=$(tail -n 1 rss.t) x=$(tail -n 1 rss.x)
        [[ $t =~ ^[0-9]+$ && $x =~ ^[0-9]+$ ]] || fail "no RSS figures: '$t' '$x'"
        [ "$t" -lt 8192 ] || fail "-t peak RSS $t KiB"
        [ "$x" -lt 8192 ] || fail "-x peak RSS $x KiB"
    fi
}

@test "100,000 nested multiparts: no crash, no hang, a warning in every mode that reads the body; the header modes read only the header" {
    awk 'BEGIN { n = 100000
        printf "From: deep@example.org\nSubject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n"
        for (i = 1; i < n; i++) printf "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i - 1, i
        printf "--b%d\nContent-Type: text/plain\n\ndeepest\n", n - 1
        for (i = n - 1; i >= 0; i--) printf "--b%d--\n", i }' >deep.eml
    local m
    for m in -t -j --text "-p 1" "-x out"; do
        # shellcheck disable=SC2086
        run --separate-stderr timeout 300 "$MPARSE" $m deep.eml
        # part 1 is a multipart: no bytes of its own, 65
        [ "$status" -eq "$([ "$m" = "-p 1" ] && echo 65 || echo 0)" ] ||
            fail "mparse $m: status $status, stderr: ${stderr:0:300}"
        [[ $stderr == *"mparse: deep.eml: multipart/mixed: nested too deep or too many parts"* ]] ||
            fail "mparse $m: no warning: ${stderr:0:300}"
    done
    # the summary, -f, -a and -r need the header alone: the body is not read
    for m in -a "" "-f subject" -r; do
        # shellcheck disable=SC2086
        run --separate-stderr timeout 300 "$MPARSE" $m deep.eml
        [ "$status" -eq 0 ] || fail "mparse $m: status $status, stderr: ${stderr:0:300}"
        [ -z "$stderr" ] || fail "mparse $m read the body: ${stderr:0:300}"
    done
    run "$MPARSE" -f subject deep.eml
    assert_output deep
    run --separate-stderr timeout 300 "$MPARSE" -t deep.eml
    assert_line --index 0 '.        multipart/mixed'
    # and as deep with message/rfc822 (no boundaries at all)
    awk 'BEGIN { for (i = 0; i < 100000; i++) printf "Content-Type: message/rfc822\n\n"
        printf "Subject: deepest\n\nbody\n" }' >deepmsg.eml
    run --separate-stderr timeout 300 "$MPARSE" -t deepmsg.eml
    assert_success
    [[ $stderr == *"nested too deep"* ]] || fail "no warning: $stderr"
}

@test "a 50 MB header line: no crash, no hang, a warning, the header before it and the body still read" {
    {
        printf 'From: a@example.org\nSubject: '
        head -c 50M /dev/zero | tr '\0' x
        printf '\nTo: bob@example.net\n\nbody\n'
    } >longhdr.eml
    local m
    for m in "" -t -j "-f Subject" -a -r --text; do
        # shellcheck disable=SC2086
        run --separate-stderr timeout 300 "$MPARSE" $m longhdr.eml
        [ "$status" -eq 0 ] || fail "mparse $m: status $status"
        [[ $stderr == "mparse: longhdr.eml: "* ]] || fail "mparse $m: no warning: ${stderr:0:200}"
    done
    run --separate-stderr timeout 300 "$MPARSE" --addr=From longhdr.eml
    assert_output 'a@example.org'
    run --separate-stderr timeout 300 "$MPARSE" --text longhdr.eml
    assert_output 'body'
    # 50 MB of folded continuation lines
    {
        printf 'From: a@example.org\nSubject: start\n'
        head -c 25M /dev/zero | tr '\0' '\n' | sed 's/^/ x/'
        printf 'To: bob@example.net\n\nbody\n'
    } >folded.eml
    run --separate-stderr timeout 300 "$MPARSE" --text folded.eml
    assert_success
    assert_output 'body'
    [[ $stderr == "mparse: folded.eml: "* ]] || fail "no warning: ${stderr:0:200}"
    run --separate-stderr timeout 300 "$MPARSE" --addr=From folded.eml
    assert_output 'a@example.org'
}

@test "bug: a 50 MB header of short fields is read in bounded memory" {
    [ -x /usr/bin/time ] || fail "/usr/bin/time is missing (install the Debian package 'time')"
    {
        printf 'From: a@example.org\n'
        yes 'X-Filler: b' | head -n 4400000
        printf 'To: bob@example.net\n\nbody\n'
    } >manyfields.eml
    run --separate-stderr timeout 600 /usr/bin/time -f %M -o rss "$MPARSE" --text manyfields.eml
    assert_success
    assert_output 'body'
    [[ $stderr == "mparse: manyfields.eml: a header block larger than 256 KiB"* ]] ||
        fail "no warning: ${stderr:0:200}"
    if rss_checked; then
        local k
        k=$(tail -n 1 rss)
        [ "$k" -lt 32768 ] || fail "peak RSS $k KiB for a 50 MB header (the header block is 256 KiB at most)"
    fi
}

@test "NUL bytes in the header and the body are survived" {
    printf 'From: a@example.org\nSubject: nul\0here\nTo: b@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="n.bin"\n\nA\0B\0\0C\n--b\nContent-Type: text/plain\n\nx\0y\n--\0b\n--b--\n' >nul.eml
    local m
    for m in "" -t -j --text "-p 1" "-x out" -a -r "-f Subject"; do
        # shellcheck disable=SC2086
        run --separate-stderr timeout 300 "$MPARSE" $m nul.eml
        [ "$status" -eq 0 ] || fail "mparse $m: status $status"
    done
    run bash -c '"$1" -p 1 nul.eml | od -An -c | tr -d " \n"' _ "$MPARSE"
    assert_output 'A\0B\0\0C'
    cmp out/n.bin <(printf 'A\0B\0\0C')
    run bash -c '"$1" -p 2 nul.eml | od -An -c | tr -d " \n"' _ "$MPARSE"
    assert_output 'x\0y\n--\0b'
    mp -a nul.eml
    assert_output $'a@example.org\nb@example.org'
    mp -j nul.eml
    run jq -c '[.parts[] | select(.size) | .size]' <<<"$output"
    assert_output '[6,8]'
}

@test "bug: base64 with characters outside the alphabet: they are ignored (RFC 2045 6.8)" {
    printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\naGVs*bG8K\nd29y!bGQK\n--b--\n' >b64bad.eml
    run bash -c '"$1" -p 1 b64bad.eml' _ "$MPARSE"
    assert_output $'hello\nworld'
    mp -t b64bad.eml
    assert_line --index 1 '  1        application/octet-stream  base64  12 bytes'
}

@test "bug: a part header that runs into the next boundary ends there" {
    printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream\n--b\nContent-Type: text/plain\n\nsecond\n--b--\n' >nobody.eml
    mp -t nobody.eml
    assert_success
    assert_output - <<'EOF'
.        multipart/mixed
  1        application/octet-stream  7bit  0 bytes
  2        text/plain; charset=us-ascii  7bit  6 bytes
EOF
}

@test "bug: white space around the '=' of a parameter (boundary = \"b\") is allowed" {
    printf 'Content-Type: multipart/mixed; boundary = "b"\n\n--b\nContent-Type: text/plain; charset = "utf-8"\n\nfirst\n--b\n\nsecond\n--b--\n' >paramws.eml
    mp -t paramws.eml
    assert_success
    no_stderr
    assert_output - <<'EOF'
.        multipart/mixed
  1        text/plain; charset=utf-8  7bit  5 bytes
  2        text/plain; charset=us-ascii  7bit  6 bytes
EOF
}

@test "bug: a ';' inside a quoted parameter value does not start a parameter" {
    printf 'Content-Type: text/plain; name="x; charset=koi8-r"; charset=utf-8\n\nx\n' >semi.eml
    mp -t semi.eml
    assert_success
    assert_output '1        text/plain; charset=utf-8  7bit  2 bytes  "x; charset=koi8-r"'
}

@test "bug: the CR of a CRLF before a boundary never stays in the part (65,535-byte line)" {
    { printf 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
      head -c 65535 /dev/zero | tr '\0' a
      printf '\r\n--b--\r\n'; } >crlf64k.eml
    mp -t crlf64k.eml
    assert_line --index 1 '  1        text/plain; charset=us-ascii  7bit  65535 bytes'
    run bash -c '"$1" -p 1 crlf64k.eml | tail -c 1' _ "$MPARSE"
    assert_output 'a'
}

@test "bug: a header line that is no field is reported, not dropped in silence" {
    run --separate-stderr bash -c 'printf "Subject: s\nthis line has no colon\nTo: b@example.org\n\nbody\n" | "$1" -f subject' _ "$MPARSE"
    assert_success
    assert_output 's'
    [[ $stderr == "mparse: stdin: "* ]] || fail "expected a warning about the line, got: '$stderr'"
}

@test "a header line that is no field ends the header: it and the lines after it are the body, with a warning" {
    # as Python's email (MissingHeaderBodySeparatorDefect) and mblaze read it
    printf 'Subject: s\nthis line has no colon\n  and a continuation\nTo: b@example.org\n\nbody\n' >nofield.eml
    mp --text nofield.eml
    assert_success
    assert_output $'this line has no colon\n  and a continuation\nTo: b@example.org\n\nbody'
    assert_equal "$stderr" 'mparse: nofield.eml: line 2: not a header field (no name and colon): the header ends there and the body starts with it'
    mp -f subject -f to nofield.eml
    assert_output 's'
    # in a part's header too; "Subject :" (obsolete syntax) stays a field
    printf '%s\n' 'Content-Type: multipart/mixed; boundary=b' '' '--b' 'Content-Type: text/plain' \
        'Content-Description : fine' 'Dear Bob,' 'X-Not: a field here' '' 'text' '--b--' >nofield2.eml
    mp -p 1 nofield2.eml
    assert_success
    assert_output $'Dear Bob,\nX-Not: a field here\n\ntext'
    assert_equal "$stderr" 'mparse: nofield2.eml: line 6: not a header field (no name and colon): the header ends there and the body starts with it'
}

# ---------------------------------------------------------------- the oracle

# oracle ARGS...: helpers/mparse_oracle.py, which must find no mismatch
oracle() {
    command -v python3 >/dev/null ||
        skip "python3 is not installed: the oracle needs it (Debian package python3)"
    run python3 "$BATS_TEST_DIRNAME/helpers/mparse_oracle.py" --mparse "$MPARSE" "$@"
    [ "$status" -eq 0 ] || {
        printf '%s\n' "$output" | tail -n 60 >&2
        fail "the oracle found mismatches (exit $status)"
    }
    assert_line --regexp '^oracle: [0-9]+ messages, [0-9]+ comparisons, [0-9]+ skipped \(known\), 0 mismatches$'
}

@test "oracle: on every fixture, mparse -j, -a and -p agree with Python's email package" {
    oracle "$FX"/*.eml "$FX"/*.mbox
    assert_line --regexp '^oracle: [12][0-9] messages, ' # 20 with html-links.eml
}

@test "oracle: on 150 random valid and broken messages, mparse agrees with Python's email package" {
    # failing messages are kept in $T/failed to reproduce them
    oracle --random 150 --seed 2047 --keep "$T/failed"
}

# ---------------------------------------------------------------- man page and completions

@test "man page: mandoc -Tlint is silent; modes, warnings, exit codes and standards are documented" {
    command -v mandoc >/dev/null || fail "mandoc is not installed"
    run mandoc -Tlint -Wwarning "$MANDIR/mparse.1"
    assert_success
    assert_output ''
    run bash -c 'mandoc -Tascii "$1" | sed "s/.\x08//g"' _ "$MANDIR/mparse.1"
    assert_success
    local s
    for s in --field --raw --tsv --with-filename --no-filename --addr --addr-only --tree --part --text --extract --received --json --bodies --date --mbox \
        'EXIT STATUS' EXAMPLES 'SEE ALSO' STANDARDS BUGS 'RFC 5322' 'RFC 2045' 'RFC 2046' \
        'RFC 2047' 'RFC 2231' 'RFC 6532' 'closing boundary' 'nested too deep' 'empty input' \
        'unbalanced quotes' 65 73 Maildir mbox Uuencoded; do
        assert_output --partial -- "$s"
    done
}

@test "completions: bash, zsh and fish load and complete mparse" {
    export HOME=$T XDG_CONFIG_HOME=$T/config XDG_DATA_HOME=$T/data XDG_CACHE_HOME=$T/cache
    run bash -c 'source /usr/share/bash-completion/bash_completion || exit 1
        source "$1/bash/mparse" || exit 1
        complete -p mparse || exit 1
        COMP_WORDS=(mparse --ext); COMP_CWORD=1; COMP_LINE="mparse --ext"; COMP_POINT=${#COMP_LINE}
        _mparse mparse --ext mparse; echo "reply: ${COMPREPLY[*]}"
        COMP_WORDS=(mparse -f Su); COMP_CWORD=2; COMP_LINE="mparse -f Su"; COMP_POINT=${#COMP_LINE}
        _mparse mparse Su -f; echo "field: ${COMPREPLY[*]}"
        COMP_WORDS=(mparse --date e); COMP_CWORD=2; COMP_LINE="mparse --date e"; COMP_POINT=${#COMP_LINE}
        _mparse mparse e --date; echo "date: ${COMPREPLY[*]}"
        COMP_WORDS=(mparse --mb); COMP_CWORD=1; COMP_LINE="mparse --mb"; COMP_POINT=${#COMP_LINE}
        _mparse mparse --mb mparse; echo "mbox: ${COMPREPLY[*]}"
        COMP_WORDS=(mparse --ts); COMP_CWORD=1; COMP_LINE="mparse --ts"; COMP_POINT=${#COMP_LINE}
        _mparse mparse --ts mparse; echo "tsv: ${COMPREPLY[*]}"
        COMP_WORDS=(mparse --no-f); COMP_CWORD=1; COMP_LINE="mparse --no-f"; COMP_POINT=${#COMP_LINE}
        _mparse mparse --no-f mparse; echo "nofn: ${COMPREPLY[*]}"' _ "$COMPDIR"
    assert_success
    assert_line --index 0 'complete -F _mparse mparse'
    assert_line 'reply: --extract='
    assert_line 'field: Subject'
    assert_line 'date: epoch'
    assert_line 'mbox: --mbox'
    assert_line 'tsv: --tsv'
    assert_line 'nofn: --no-filename'
    if command -v zsh >/dev/null; then
        run zsh -n "$COMPDIR/zsh/_mparse"
        assert_success
        run zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit && compinit -u -D &&
            print -r -- "$_comps[mparse]" && autoload +X _mparse && print loaded' _ "$COMPDIR/zsh"
        assert_success
        assert_output $'_mparse\nloaded'
    fi
    if command -v fish >/dev/null; then
        run fish --no-config -c 'source $argv[1]; or exit 1; complete -C "mparse --ext"; complete -C "mparse --addr-"; complete -C "mparse --date "; complete -C "mparse --mb"; complete -C "mparse --ts"; complete -C "mparse --with"' "$COMPDIR/fish/mparse.fish"
        assert_success
        assert_line --regexp $'^iso\t'
        assert_line --regexp $'^epoch\t'
        assert_line --regexp $'^rfc\t'
        assert_line --regexp $'^--mbox\t'
        assert_line --regexp $'^--extract\t'
        assert_line --regexp $'^--addr-only\t'
        assert_line --regexp $'^--tsv\t'
        assert_line --regexp $'^--with-filename\t'
    fi
}

# ---------------------------------------------------------------- terminal safety (issue 14.10)

@test "terminal safety: ESC ] 0 ; ... BEL in a Subject and controls in an attachment name are shown as \\xHH, never raw; JSON keeps the bytes" {
    printf 'From: a@b.example\nSubject: =?UTF-8?B?G10wO3B3bmVkBw==?=\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename*=utf-8'"''"'x%%1B%%5B2Jy%%C2%%9B.bin\n\nAAAA\n--b--\n' >ctl.eml
    mp -f subject ctl.eml
    assert_success
    assert_output '\x1b]0;pwned\x07'
    mp ctl.eml
    assert_success
    assert_line 'Subject: \x1b]0;pwned\x07'
    mp -t ctl.eml
    assert_success
    assert_line --partial '"x\x1b[2Jy\u009b.bin"'
    local all
    all=$("$MPARSE" ctl.eml; "$MPARSE" -t ctl.eml; "$MPARSE" -f subject ctl.eml)
    [[ $all != *$'\033'* && $all != *$'\a'* && $all != *$'\302\233'* ]] || fail "a raw control byte reached the output"
    # JSON escapes them itself, exactly
    run "$MPARSE" -j ctl.eml
    assert_output --partial '"decoded":"\u001b]0;pwned\u0007"'
}

@test "-x: a name over 1,023 bytes keeps its extension (AAAA....pdf, and a UTF-8 name cut between characters)" {
    local a e
    a=$(printf 'A%.0s' $(seq 1500))
    e=$(printf '\303\251%.0s' $(seq 800))
    {
        printf 'Content-Type: multipart/mixed; boundary=b\n\n'
        printf -- '--b\nContent-Type: application/pdf; name="%s.pdf"\nContent-Transfer-Encoding: base64\n\nJVBERg==\n' "$a"
        printf -- '--b\nContent-Type: application/pdf\nContent-Disposition: attachment;\n filename*=utf-8'"''"'%s.pdf\nContent-Transfer-Encoding: base64\n\nJVBERg==\n--b--\n' \
            "$(printf '%%C3%%A9%.0s' $(seq 800))"
    } >longname.eml
    mkdir out
    mp -x out longname.eml
    assert_success
    local f n=0
    for f in out/*; do
        n=$((n + 1))
        [[ $f == *.pdf ]] || fail "no .pdf kept: ${f: -20}"
        [ "$(printf '%s' "${f#out/}" | wc -c)" -le 255 ] || fail "longer than NAME_MAX: $f"
        # whole characters only: the name is valid UTF-8
        printf '%s' "${f#out/}" | iconv -f UTF-8 -t UTF-8 >/dev/null || fail "cut inside a character: $f"
        cmp -s "$f" <(printf '%%PDF') || fail "$f: wrong content"
    done
    assert_equal "$n" 2
    [ -e "out/${a:0:251}.pdf" ] || fail "not the stem cut to 251 bytes + .pdf: $(ls out)"
}

@test "-x DIR/ with a slash: the paths printed are DIR/name, not DIR//name" {
    mkdir out
    mp -x out/ mixed.eml
    assert_success
    refute_output --partial '//'
    assert_output $'out/report.pdf\nout/data.csv'
}


# ---------------------------------------------------------------- --show, --scan, picks, filters (issue 17)

# mkmaildir: Maildir/ with four messages; by name (their numbers):
# 1 mixed.eml (seen, 4 March), 2 html-links.eml (replied, flagged, 14
# March), 3 html-only.eml (new/, 8 March), 4 forward.eml (seen, trashed,
# 5 March)
mkmaildir() {
    mkdir -p Maildir/cur Maildir/new Maildir/tmp
    cp mixed.eml 'Maildir/cur/1700000001.a.host:2,S'
    cp html-links.eml 'Maildir/cur/1700000002.b.host:2,FR'
    cp html-only.eml Maildir/new/1700000003.c.host
    cp forward.eml 'Maildir/cur/1700000004.d.host:2,ST'
    # not messages: tmp/ and dot files
    echo x >Maildir/tmp/1700000005.e.host
    echo x >Maildir/cur/.hidden
}

SHOW_MIXED='From: Renée Dupont <renee@example.org>
To: Bob Martin <bob@example.net>
Cc: "Archive" <archive@example.net>
Date: Tue, 04 Mar 2025 10:15:00 +0100
Subject: Quarterly report – Q1

Bonjour Bob, 
voilà le rapport du trimestre, avec une ligne très longue qui est coupée en deux par un saut de ligne doux.
Les chiffres : 3 = 1 + 2.
-- 
Renée

parts:
1.2      text/html  158 bytes
2        application/pdf  1116 bytes  "report.pdf"
3        text/csv  23 bytes  "data.csv"'

SHOW_FORWARD='From: Bob Martin <bob@example.net>
To: Carol <carol@example.org>
Date: Wed, 05 Mar 2025 14:00:00 +0000
Subject: Fwd: Quarterly report

See the message below — forwarded as a whole.

parts:
2.1      text/plain  17 bytes
2.2      application/octet-stream  16 bytes  "figures.bin"
3.1      text/plain  31 bytes'

# the view of html-links.eml after its header
SHOW_LINKS='Spring sale – 30% off

Dear Bob,
our café & bakery range is on sale: <3 days> only…

* Bread — €2
* Cake €5 each

See the sale [1] or unsubscribe [2].

[1] https://shop.example/sale?a=1&b=2
[2] https://shop.example/stop

parts:
2        image/png  8 bytes  "logo.png"
3        text/csv  19 bytes  "prices.csv"'

@test "--show FILE: the fields decoded, a blank line, text/plain, then the other parts by number" {
    mp --show mixed.eml
    assert_success
    no_stderr
    assert_output "$SHOW_MIXED"
    # the numbers listed are those of -p
    mp -p 3 mixed.eml
    assert_output $'quarter,revenue\nQ1,1200'
}

@test "--show: stdin, and -f choosing the fields (in the order given, names as in the message)" {
    run --separate-stderr bash -c '"$1" --show <forward.eml' _ "$MPARSE"
    assert_success
    no_stderr
    assert_output "$SHOW_FORWARD"
    mp --show -f subject -f message-id -f x-none forward.eml
    assert_success
    no_stderr
    assert_output "Subject: Fwd: Quarterly report
Message-ID: <forward-1@example.net>

See the message below — forwarded as a whole.

parts:
2.1      text/plain  17 bytes
2.2      application/octet-stream  16 bytes  \"figures.bin\"
3.1      text/plain  31 bytes"
}

@test "--show DIR: the newest message of a Maildir (the last by name); --show MBOX: its last" {
    mkmaildir
    mp --show Maildir
    assert_success
    no_stderr
    assert_output "$SHOW_FORWARD"
    mp --show several.mbox
    assert_success
    no_stderr
    assert_output 'From: dave@example.com
To: bob@example.net
Date: Mon, 03 Mar 2025 11:00:00 +0000
Subject: Third

From here on.
The end.'
}

@test "--show HTML only: tags, head, style, script and comments gone, entities decoded, links numbered" {
    mp --show html-links.eml
    assert_success
    no_stderr
    assert_output 'From: "Shop News" <news@shop.example>
To: bob@example.net
Date: Fri, 14 Mar 2025 16:30:00 +0000
Subject: Spring sale – 30% off

'"$SHOW_LINKS"
    # --text keeps its own view of the same HTML
    mp --text html-only.eml
    assert_success
    assert_line 'Café & crème'
}

@test "--show --html-filter CMD: the HTML (in UTF-8) on its stdin, its output the text, no secrets in its environment" {
    mp --show -f subject --html-filter 'tr a-z A-Z' html-only.eml
    assert_success
    no_stderr
    assert_output 'Subject: HTML only

<HTML><HEAD><STYLE>P { COLOR: RED; }</STYLE></HEAD><BODY>
<P>CAFé &AMP; CRèME</P><P>3 &LT; 4 &GT; 2</P>LINE ONE<BR>LINE TWO</BODY></HTML>'
    # the environment: PATH and the like, not the rest
    MSEND_PASSWORD=hunter2 MPARSE_TEST_SECRET=s3cret mp --show -f subject --html-filter 'env; cat >/dev/null' html-only.eml
    assert_success
    assert_line --partial 'PATH='
    refute_output --partial hunter2
    refute_output --partial s3cret
    # what the filter prints is made safe for the terminal too
    mp --show -f subject --html-filter 'printf "a\033[2Jb\n"' html-only.eml
    assert_output $'Subject: HTML only\n\na\\x1b[2Jb'
    # a failing filter: what it printed, and one warning naming it
    mp --show -f subject --html-filter 'echo partial; exit 3' html-only.eml
    assert_success
    assert_output $'Subject: HTML only\n\npartial'
    assert_equal "$stderr" 'mparse: html-only.eml: --html-filter "echo partial; exit 3" exited with 3'
    # --html-filter alone is a usage error
    mp --html-filter cat html-only.eml
    assert_failure 64
}

@test "--show: control characters of the subject, the body and part names are shown escaped" {
    printf 'From: Eve <eve@example.org>\nSubject: bad \033[31mred\033]0;title\007 x\nDate: Mon, 03 Mar 2025 09:00:00 +0000\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello \033[2J there\n--b\nContent-Type: application/octet-stream; name="evil\033[1m.bin"\n\nxx\n--b--\n' >ctl.eml
    mp --show ctl.eml
    assert_success
    assert_output 'From: Eve <eve@example.org>
Date: Mon, 03 Mar 2025 09:00:00 +0000
Subject: bad \x1b[31mred\x1b]0;title\x07 x

hello \x1b[2J there

parts:
2        application/octet-stream  2 bytes  "evil\x1b[1m.bin"'
    [[ $output != *$'\033'* && $output != *$'\007'* ]] || fail "a control character came through"
    mp --scan ctl.eml
    assert_output '1 ..... 2025-03-03  Eve                    264  bad \x1b[31mred\x1b]0;title\x07 x'
}

@test "picks: FOLDER:N, a range, last, N-last and lists, in every mode; messages of an mbox are FILE:K" {
    mkmaildir
    mp --show -f subject Maildir:2-3
    assert_success
    no_stderr
    assert_output "Subject: Spring sale – 30% off

$SHOW_LINKS

Subject: HTML only

Café & crème

3 < 4 > 2

line one
line two"
    mp -f subject Maildir:last,1
    assert_output $'Fwd: Quarterly report\nQuarterly report – Q1'
    mp -f subject Maildir:3-last
    assert_output $'HTML only\nFwd: Quarterly report'
    mp -f subject Maildir/:2
    assert_output 'Spring sale – 30% off'
    mp -t several.mbox:2
    assert_success
    assert_output '.        multipart/mixed
  1        text/plain; charset=us-ascii  7bit  13 bytes
  2        application/octet-stream  base64  6 bytes  "hello.bin"'
    mp -j several.mbox:last
    run jq -r '.file' <<<"$output"
    assert_output 'several.mbox:3'
    mkdir out
    mp -x out Maildir:1
    assert_output $'out/report.pdf\nout/data.csv'
    # a file of one message is message 1; a path with a colon that exists is a path
    mp -f subject forward.eml:1
    assert_output 'Fwd: Quarterly report'
    cp forward.eml 'odd:1'
    mp -f subject 'odd:1'
    assert_success
    assert_output 'Fwd: Quarterly report'
}

@test "picks: a bad pick is one line and exit 64, a number past the end one line and exit 66" {
    mkmaildir
    local p
    for p in Maildir:0 Maildir:x Maildir:2- Maildir:-2 Maildir:1,,2 Maildir:first; do
        mp -f subject "$p"
        assert_failure 64
        assert_output ''
        assert_equal "$stderr" "mparse: $p: '${p#Maildir:}' picks no message: give a number, a range N-M, 'last', or a list of them with commas"
    done
    mp --show Maildir:3-2
    assert_failure 64
    assert_equal "$stderr" 'mparse: Maildir:3-2: the range 3-2 goes backwards'
    mp --show Maildir:9
    assert_failure 66
    assert_output ''
    assert_equal "$stderr" 'mparse: Maildir:9: no message 9: Maildir holds 4'
    mp --scan Maildir:2-5
    assert_failure 66
    assert_equal "$stderr" 'mparse: Maildir:2-5: no message 5: Maildir holds 4'
    mkdir -p empty/cur empty/new
    mp --show empty:last
    assert_failure 66
    assert_equal "$stderr" 'mparse: empty:last: no message in empty'
    # a folder that does not exist: no pick, the path is missing
    mp -f subject nothere:1
    assert_failure
    assert_equal "$stderr" 'mparse: nothere:1: No such file or directory'
}

SCAN_DATE='1 .S... 2025-03-04  Renée Dupont          2.8K  Quarterly report – Q1
4 .S..T 2025-03-05  Bob Martin            1.1K  Fwd: Quarterly report
3 N.... 2025-03-08  Newsletter             406  HTML only
2 ..RF. 2025-03-14  Shop News             1.1K  Spring sale – 30% off'

@test "--scan: number, Maildir flags, date, sender, size, subject; sorted by date, --sort file|from|subject, -r" {
    mkmaildir
    mp --scan Maildir
    assert_success
    no_stderr
    assert_output "$SCAN_DATE"
    mp --scan --sort date Maildir
    assert_output "$SCAN_DATE"
    mp --scan -r Maildir
    assert_output "$(tac <<<"$SCAN_DATE")"
    mp --scan --sort file Maildir
    assert_output '1 .S... 2025-03-04  Renée Dupont          2.8K  Quarterly report – Q1
2 ..RF. 2025-03-14  Shop News             1.1K  Spring sale – 30% off
3 N.... 2025-03-08  Newsletter             406  HTML only
4 .S..T 2025-03-05  Bob Martin            1.1K  Fwd: Quarterly report'
    mp --scan --sort from Maildir
    assert_output '4 .S..T 2025-03-05  Bob Martin            1.1K  Fwd: Quarterly report
3 N.... 2025-03-08  Newsletter             406  HTML only
1 .S... 2025-03-04  Renée Dupont          2.8K  Quarterly report – Q1
2 ..RF. 2025-03-14  Shop News             1.1K  Spring sale – 30% off'
    mp --scan --sort subject --reverse Maildir
    assert_output '2 ..RF. 2025-03-14  Shop News             1.1K  Spring sale – 30% off
1 .S... 2025-03-04  Renée Dupont          2.8K  Quarterly report – Q1
3 N.... 2025-03-08  Newsletter             406  HTML only
4 .S..T 2025-03-05  Bob Martin            1.1K  Fwd: Quarterly report'
    # picks keep their numbers
    mp --scan Maildir:2,4
    assert_output '4 .S..T 2025-03-05  Bob Martin            1.1K  Fwd: Quarterly report
2 ..RF. 2025-03-14  Shop News             1.1K  Spring sale – 30% off'
    mp --scan --sort size Maildir
    assert_failure 64
    assert_equal "$stderr" "mparse: --sort: unknown key 'size' (date, file, from or subject)"
    mp --sort date Maildir
    assert_failure 64
    mp --scan -t Maildir
    assert_failure 64
}

@test "--scan: mbox flags from Status and X-Status, files and stdin; whole lines off a terminal, --width cuts" {
    {
        printf 'From a@example.org Mon Mar  3 09:00:00 2025\nFrom: A <a@example.org>\nDate: Mon, 03 Mar 2025 09:00:00 +0000\nSubject: unread, never seen\n\none\n\n'
        printf 'From b@example.org Mon Mar  3 10:00:00 2025\nFrom: b@example.org\nDate: Mon, 03 Mar 2025 10:00:00 +0000\nSubject: old, not read\nStatus: O\n\ntwo\n\n'
        printf 'From c@example.org Mon Mar  3 11:00:00 2025\nFrom: C <c@example.org>\nDate: Mon, 03 Mar 2025 11:00:00 +0000\nSubject: read, answered, flagged\nStatus: RO\nX-Status: AF\n\nthree\n\n'
        printf 'From d@example.org Mon Mar  3 12:00:00 2025\nFrom: D <d@example.org>\nDate: Mon, 03 Mar 2025 12:00:00 +0000\nSubject: read, deleted\nStatus: RO\nX-Status: D\n\nfour\n'
    } >flags.mbox
    mp --scan flags.mbox
    assert_success
    no_stderr
    # the size of an mbox message counts its From_ line
    assert_output '1 N.... 2025-03-03  A                      139  unread, never seen
2 ..... 2025-03-03  b@example.org          140  old, not read
3 .SRF. 2025-03-03  C                      170  read, answered, flagged
4 .S..T 2025-03-03  D                      158  read, deleted'
    run --separate-stderr bash -c '"$1" --scan <flags.mbox' _ "$MPARSE"
    assert_success
    assert_line --index 2 '3 .SRF. 2025-03-03  C                      170  read, answered, flagged'
    # a message without a date sorts first, shown with dashes
    printf 'From: X <x@example.org>\nSubject: when?\n\nbody\n' >nodate.eml
    mp --scan flags.mbox:4 nodate.eml
    assert_output '1 ..... ----------  X                       45  when?
4 .S..T 2025-03-03  D                      158  read, deleted'
    mp --scan --width 30 flags.mbox:3
    assert_output '3 .SRF. 2025-03-03  C'
    mp --scan --width 48 several.mbox:2
    assert_output '2 N.... 2025-03-03  Carol König            510'
    mp --scan --width 0 several.mbox:2
    assert_output '2 N.... 2025-03-03  Carol König            510  Second, with an attachment'
    mp --scan --width 12x flags.mbox
    assert_failure 64
    # on a terminal, the lines are cut to its width
    if command -v script >/dev/null; then
        run script -qec "stty cols 40; $MPARSE --scan flags.mbox" /dev/null
        assert_success
        assert_line $'3 .SRF. 2025-03-03  C\r'
        refute_output --partial 'read, answered'
    fi
}

@test "--scan -j: JSON Lines with the same facts, keys and types checked with jq" {
    command -v jq >/dev/null || fail "jq is missing"
    mkmaildir
    mp --scan -j Maildir
    assert_success
    no_stderr
    run jq -c '[.n, .file, .offset, .new, .seen, .replied, .flagged, .trashed, .date, .from, .address, .subject, (.size|type)]' <<<"$output"
    assert_output '[1,"Maildir/cur/1700000001.a.host:2,S",null,false,true,false,false,false,"2025-03-04T10:15:00+01:00","Renée Dupont","renee@example.org","Quarterly report – Q1","number"]
[4,"Maildir/cur/1700000004.d.host:2,ST",null,false,true,false,false,true,"2025-03-05T14:00:00+00:00","Bob Martin","bob@example.net","Fwd: Quarterly report","number"]
[3,"Maildir/new/1700000003.c.host",null,true,false,false,false,false,"2025-03-08T08:00:00+00:00","Newsletter","news@example.org","HTML only","number"]
[2,"Maildir/cur/1700000002.b.host:2,FR",null,false,false,true,true,false,"2025-03-14T16:30:00+00:00","Shop News","news@shop.example","Spring sale – 30% off","number"]'
    mp --scan -j several.mbox
    run jq -c '[.n, .offset, .size, (keys|length)]' <<<"$output"
    assert_output $'[1,0,275,13]\n[2,278,510,13]\n[3,789,200,13]'
    # the offset is the From_ line of that message
    assert_equal "$(tail -c +790 several.mbox | head -n 1)" 'From dave@example.com Mon Mar  3 11:00:00 2025'
    printf 'Subject: no sender, no date\n\nx\n' >bare.eml
    mp --scan -j bare.eml
    run jq -c '[.from, .address, .date, .subject, .new]' <<<"$output"
    assert_output '[null,null,null,"no sender, no date",false]'
}

@test "--type and --name: -x writes only the parts that match, -p all prints them, -p N checks them" {
    mkdir out
    mp -x out --type 'image/*' html-links.eml mixed.eml
    assert_success
    no_stderr
    # an inline image is written when --type asks for it
    assert_output 'out/logo.png'
    mp -x out --name '*.CSV' mixed.eml html-links.eml
    assert_success
    assert_output $'out/data.csv\nout/prices.csv'
    mp -x out --type application/pdf --name 'rep*' mixed.eml
    assert_output 'out/report.pdf'
    cmp out/report.pdf report.pdf
    mp -x out --type 'audio/*' mixed.eml
    assert_success
    assert_output ''
    mp -p all --type text/csv mixed.eml html-links.eml
    assert_success
    no_stderr
    assert_output $'quarter,revenue\nQ1,1200item,price\nbread,2'
    run --separate-stderr bash -c '"$1" -p 2 --type "application/*" mixed.eml | cmp - report.pdf' _ "$MPARSE"
    assert_success
    mp -p 2 --type text/plain mixed.eml
    assert_output ''
    assert_equal "$stderr" 'mparse: mixed.eml: part 2 is a application/pdf: not what --type and --name ask for'
    mp -p all --name '*.xyz' mixed.eml
    assert_output ''
    assert_equal "$stderr" 'mparse: mixed.eml: no part of the --type and --name asked for'
    # filters go with -p and -x only
    mp -t --type text/plain mixed.eml
    assert_failure 64
    assert_equal "$stderr" 'mparse: --type and --name go with -p or -x'
    # the JSON tree holds what the filters look at
    mp -j mixed.eml
    run jq -r '.parts[] | select(.type == "text/csv") | .filename' <<<"$output"
    assert_output 'data.csv'
}

@test "man page: the examples of --show, --scan, picks and filters are true, run on the Maildir they name (Archive)" {
    command -v mandoc >/dev/null || fail "mandoc is not installed"
    mkmaildir
    mv Maildir Archive # the name the examples give it (docworld.sh makes it too)
    # each "$ mparse ... Archive..." of EXAMPLES and the lines it shows,
    # up to the next command or paragraph
    mandoc -Tutf8 "$MANDIR/mparse.1" | sed 's/.\x08//g' |
        awk '/^EXAMPLES/ { on = 1; next } /^[A-Z]/ { on = 0 } on' >examples.txt
    awk -v dir="$T" '
        function flush() { if (cmd != "") { n++; printf "%s", cmd > (dir "/ex" n ".cmd"); printf "%s", out > (dir "/ex" n ".out") } cmd = ""; out = "" }
        /^           \$ / { flush(); c = substr($0, 14); if (c ~ / Archive/) cmd = c; next }
        /^     [^ ]/ { flush(); next }
        cmd != "" { line = $0; sub(/^           /, "", line); out = out line "\n" }
        END { flush() }' examples.txt
    local f n=0
    for f in ex*.cmd; do
        n=$((n + 1))
        local want
        want=$(sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "${f%.cmd}.out")
        run --separate-stderr bash -c "PATH=\"$(dirname "$MPARSE"):\$PATH\"; $(cat "$f")"
        assert_success
        [ "$output" = "$want" ] || fail "$(cat "$f"): the man page shows
$want
but it prints
$output"
    done
    [ "$n" -ge 6 ] || fail "only $n examples found"
}

@test "completions: --show, --scan, --sort, --type and --name in bash, zsh and fish" {
    export HOME=$T XDG_CONFIG_HOME=$T/config XDG_DATA_HOME=$T/data XDG_CACHE_HOME=$T/cache
    run bash -c 'source /usr/share/bash-completion/bash_completion || exit 1
        source "$1/bash/mparse" || exit 1
        for w in --sh --sc --so --ty --na --html; do
            COMP_WORDS=(mparse $w); COMP_CWORD=1; COMP_LINE="mparse $w"; COMP_POINT=${#COMP_LINE}
            _mparse mparse $w mparse; echo "$w: ${COMPREPLY[*]}"
        done
        COMP_WORDS=(mparse --sort s); COMP_CWORD=2; COMP_LINE="mparse --sort s"; COMP_POINT=${#COMP_LINE}
        _mparse mparse s --sort; echo "sort: ${COMPREPLY[*]}"' _ "$COMPDIR"
    assert_success
    assert_line '--sh: --show'
    assert_line '--sc: --scan'
    assert_line '--so: --sort='
    assert_line '--ty: --type='
    assert_line '--na: --name='
    assert_line '--html: --html-filter='
    assert_line 'sort: subject'
    if command -v zsh >/dev/null; then
        run zsh -n "$COMPDIR/zsh/_mparse"
        assert_success
        run grep -c -e '--show\[' -e '--scan\[' -e '--sort=\[' -e '--type=\[' -e '--name=\[' -e '--html-filter=\[' -e '--width=\[' "$COMPDIR/zsh/_mparse"
        assert_output 7
    fi
    if command -v fish >/dev/null; then
        run fish --no-config -c 'source $argv[1]; or exit 1; complete -C "mparse --sc"; complete -C "mparse --sort "; complete -C "mparse --ty"; complete -C "mparse --sh"' "$COMPDIR/fish/mparse.fish"
        assert_success
        assert_line --regexp $'^--scan\t'
        assert_line --regexp $'^--show\t'
        assert_line --regexp $'^--type\t'
        assert_line --regexp $'^subject\t'
    fi
}

@test "--scan of a Maildir of 300 messages (read on several threads): every one, numbered by name, sized, sorted" {
    mkdir -p big/cur big/new
    local i
    for i in $(seq 1 300); do
        # newer names, older dates: the date order is the reverse of the names'
        printf 'From: S%03d <s%d@example.org>\nDate: %s\nSubject: message %d\n\n%*s\n' \
            "$i" "$i" "$(date -u -d "@$((1800000000 - i * 86400))" -R)" "$i" "$i" '' \
            >"big/cur/$((1700000000 + i)).M${i}.host:2,S"
    done
    mp --scan --sort file -j big
    assert_success
    no_stderr
    run jq -r '"\(.n) \(.subject) \(.size) \(.file)"' <<<"$output"
    local want=''
    for i in $(seq 1 300); do
        f="big/cur/$((1700000000 + i)).M${i}.host:2,S"
        want+="$i message $i $(wc -c <"$f") $f"$'\n'
    done
    assert_output "${want%$'\n'}"
    mp --scan big
    assert_equal "$(cut -c1-4 <<<"$output" | tr -d ' ' | tr '\n' ,)" "$(seq 300 -1 1 | tr '\n' ,)"
}

@test "MPARSE_THREADS: a Maildir of 700 messages read ahead on 1, 2 and 4 threads prints the same, in the order of the files, warnings too (-f, -a, -r, --tsv, the summary, --scan, --scan -j); 0 or x exits 64" {
    mkdir -p many/cur many/new
    local i f
    for i in $(seq 1 700); do
        f="many/cur/$((1700000000 + i)).M${i}.host:2,S"
        # Latin-1 and UTF-8 encoded words; a few headers past the first 8 KiB read
        printf 'From: =?ISO-8859-1?Q?Ren=E9e_%d?= <r%d@example.org>\nTo: t%d@example.org\nDate: %s\nSubject: =?UTF-8?B?%s?= %d\n' \
            "$i" "$i" "$i" "$(date -u -d "@$((1800000000 - (i % 50) * 86400))" -R)" \
            "$(printf 'é %d' "$i" | base64)" "$i" >"$f"
        if ((i % 97 == 0)); then printf 'X-Long: %s\n' "$(head -c 20000 /dev/zero | tr '\0' x)" >>"$f"; fi
        # what each thread warns about: a date that cannot be read (Date,
        # Received), words in an unknown charset, an address list that does
        # not close, a line that is no field
        if ((i % 50 == 0)); then printf 'Date: not a date %d\n' "$i" >>"$f"; fi
        if ((i % 15 == 0)); then
            printf 'Received: from a%d by b; %s\n' "$i" "$( ((i % 45)) && date -u -d "@$((1800000000 + i))" -R || echo "when $i")" >>"$f"
        fi
        if ((i % 60 == 0)); then printf 'X-Tag: =?X-NOPE?Q?abc_%d?= =?UTF-8?B?****?=\n' "$i" >>"$f"; fi
        if ((i % 70 == 0)); then printf 'Cc: "open %d <c@example.org>\n' "$i" >>"$f"; fi
        if ((i % 80 == 0)); then printf 'no field %d\n' "$i" >>"$f"; fi
        printf '\nbody %d\n' "$i" >>"$f"
    done
    # an empty file, one that starts as an mbox, one whose header has no end
    : >many/new/1800000001.empty.host
    printf 'From x@example.org Mon Jan  1 00:00:00 2024\nSubject: mbox in a Maildir\n\nb\n' >many/new/1800000002.mbox.host
    printf 'Subject: no end' >many/new/1800000003.noend.host
    local want='' mode t
    for i in $(seq 1 700); do want+="é $i $i"$'\n'; done
    for t in 1 2 4; do
        MPARSE_THREADS=$t mp --no-filename -f subject many
        assert_success # the empty file is a warning
        assert_output "$want"'mbox in a Maildir'$'\n''no end'
        [[ $stderr == *1800000001.empty.host*"empty input"* ]] || fail "stderr: $stderr"
    done
    for mode in "-f subject -H" "-f from -f date --raw" "-a" "" "--date iso" "-f date --date iso" "-r --date iso" "-f x-tag -f date --tsv" "-f x-tag -f subject" "--scan" "--scan -j" "--scan --sort subject -r"; do
        # shellcheck disable=SC2086
        MPARSE_THREADS=1 run --separate-stderr "$MPARSE" $mode many
        local one=$output one_err=$stderr one_status=$status
        ((${#one} > 1000)) || fail "$mode: too little output"
        for t in 2 4; do
            # shellcheck disable=SC2086
            MPARSE_THREADS=$t run --separate-stderr "$MPARSE" $mode many
            assert_equal "$status" "$one_status"
            assert_equal "$output" "$one"
            assert_equal "$stderr" "$one_err"
        done
    done
    # the warnings of the messages read on threads, in the order of the files
    MPARSE_THREADS=4 mp -f date --date iso many
    local dates='' cc=''
    for i in $(seq 50 50 700); do
        dates+="${dates:+$'\n'}mparse: many/cur/$((1700000000 + i)).M${i}.host:2,S: Date: cannot read the date \"not a date $i\": shown as it stands"
    done
    assert_equal "$(grep 'cannot read the date' <<<"$stderr")" "$dates"
    MPARSE_THREADS=4 mp --addr=Cc many
    for i in $(seq 70 70 700); do
        cc+="${cc:+$'\n'}mparse: many/cur/$((1700000000 + i)).M${i}.host:2,S: Cc: unbalanced quotes or brackets; what could be read follows"
    done
    assert_equal "$(grep 'unbalanced' <<<"$stderr")" "$cc"
    MPARSE_THREADS=1 mp --scan --sort file -j many
    run jq -r '.subject' <<<"$output"
    assert_output "$want"'null'$'\n''mbox in a Maildir'$'\n''no end'
    MPARSE_THREADS=0 mp -f subject many
    assert_failure 64
    assert_equal "$stderr" "mparse: MPARSE_THREADS: '0' is no number of threads (1 to 8)"
    MPARSE_THREADS=x mp --scan many
    assert_failure 64
}
