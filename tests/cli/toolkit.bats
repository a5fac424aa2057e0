#!/usr/bin/env bats
# The conventions every mailpipe tool shares: -V/--version, -h/--help, the
# one-line usage error with exit 64, and how a missing input file is reported.
#
# B64, MDELIVER, MMX, MSEND, MFETCH and MPARSE are the binaries under test
# (meson sets them; the defaults are the build tree).

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load 'helpers/json'

TOOLS=(b64 mdeliver mmx msend mfetch mparse)

setup() {
	local t v
	for t in "${TOOLS[@]}"; do
		v=${t^^}
		if [ -z "${!v:-}" ]; then
			printf -v "$v" '%s' "$BATS_TEST_DIRNAME/../../build/tools/$t/$t"
		fi
		export "${v?}"
	done
	VERSION=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$BATS_TEST_DIRNAME/../../meson.build" | head -1)
	[ -n "$VERSION" ] || fail "no version in meson.build"
	cd "$BATS_TEST_TMPDIR" || exit 1
}

bin() { local v=${1^^}; printf '%s' "${!v}"; }

teardown() {
	# the fault servers started by this test, by their PIDs
	local p
	for p in ${BGPIDS:-}; do kill "$p" 2>/dev/null || true; done
	for p in ${BGPIDS:-}; do wait "$p" 2>/dev/null || true; done
}

# bg_server NAME CMD...: start a fault server that prints PORT=n; sets PORT
# (a hang guard of 60 s for it to say its port, never a timing assertion)
bg_server() {
	local name=$1 i
	shift
	# made here: the background job may not have opened it when sed first looks
	: >"$BATS_TEST_TMPDIR/$name.out"
	"$@" >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.log" 3>&- &
	BGPIDS="${BGPIDS:-} $!"
	for ((i = 0; i < 3000; i++)); do
		PORT=$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$BATS_TEST_TMPDIR/$name.out")
		[ -n "$PORT" ] && return 0
		sleep 0.02
	done
	fail "$name did not say its port: $(cat "$BATS_TEST_TMPDIR/$name.log")"
}

# jrun TOOL STATUS ARGS...: run TOOL with -j (in ARGS), stdout into
# $BATS_TEST_TMPDIR/TOOL-N.json; the exit status must be STATUS, and a
# failure's last line its error line with that code
JN=0
jrun() {
	local tool=$1 want=$2 f
	shift 2
	JN=$((JN + 1))
	f=$BATS_TEST_TMPDIR/$tool-$JN.json
	"$@" >"$f" 2>"$BATS_TEST_TMPDIR/$tool-$JN.err" && st=0 || st=$?
	[ "$st" = "$want" ] || fail "$tool ($*): exit $st, not $want: $(cat "$f" "$BATS_TEST_TMPDIR/$tool-$JN.err")"
	[ -s "$f" ] || fail "$tool ($*): no JSON at all"
	if [ "$want" != 0 ]; then
		[ "$(tail -n 1 "$f" | jq -r '[.type, .error.code] | join(" ")')" = "error $want" ] ||
			fail "$tool ($*): the last line is no error line with $want: $(tail -n 1 "$f")"
	fi
	JFILES+=("$tool $f")
}

@test "toolkit: every tool is built" {
	for t in "${TOOLS[@]}"; do
		assert [ -x "$(bin "$t")" ]
	done
}

@test "toolkit: -V and --version print 'NAME (mailpipe) VERSION', the version of meson.build" {
	for t in "${TOOLS[@]}"; do
		for o in -V --version; do
			run --separate-stderr "$(bin "$t")" "$o"
			assert_success
			assert_equal "$stderr" ""
			assert_line --index 0 "$t (mailpipe) $VERSION"
			if [ "$t" = b64 ]; then
				# b64 adds the SIMD path in use, as its man page says
				assert_equal "${#lines[@]}" 2
				assert_line --index 1 --regexp '^simd: [a-z0-9]+ \(available: [a-z0-9 ]+\)$'
			else
				assert_output "$t (mailpipe) $VERSION"
			fi
		done
	done
}

@test "toolkit: -h prints the usage to stdout and exits 0, and --help is the same" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$(bin "$t")" -h
		assert_success
		assert_equal "$stderr" ""
		assert_line --index 0 --regexp "^usage: $t( |\$)"
		assert_line --regexp "^  -h, --help +this help\$"
		assert_line --regexp "^  -V, --version +version\$"
		short=$output
		run --separate-stderr "$(bin "$t")" --help
		assert_success
		assert_equal "$stderr" ""
		assert_equal "$output" "$short"
	done
}

@test "toolkit: -h and --help ignore stdin and need no network or mailbox" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr env -i PATH="$PATH" "$(bin "$t")" --help </dev/null
		assert_success
		assert_line --index 0 --regexp "^usage: $t"
	done
}

@test "toolkit: an unknown short option exits 64 with one line 'NAME: ...' on stderr" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$(bin "$t")" -Z </dev/null
		assert_failure 64
		assert_output ""
		assert_equal "$stderr" "$t: unknown option '-Z' (see -h)"
	done
}

@test "toolkit: an unknown long option exits 64 with one line 'NAME: ...' on stderr" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$(bin "$t")" --no-such-option=1 </dev/null
		assert_failure 64
		assert_output ""
		assert_equal "$stderr" "$t: unknown option '--no-such-option' (see -h)"
	done
}

@test "toolkit: a value given to an option that takes none (--help=x) is named as such, not as an unknown '-h'" {
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$(bin "$t")" --help=x </dev/null
		assert_failure 64
		assert_output ""
		assert_equal "$stderr" "$t: option '--help' takes no argument (see -h)"
	done
}

@test "toolkit: a missing option argument exits 64 with one line on stderr" {
	# an option that takes an argument, per tool, given last without it
	declare -A opt=([b64]=-w [mdeliver]=-f [mmx]=-p [msend]=-f [mfetch]=--server [mparse]=-f)
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$(bin "$t")" "${opt[$t]}" </dev/null
		assert_failure 64
		assert_output ""
		assert_equal "$stderr" "$t: option '${opt[$t]}' needs an argument (see -h)"
	done
}

@test "toolkit: b64 with a missing file exits 66 (EX_NOINPUT) with 'b64: PATH: ...'" {
	for o in "" -d -Q --word; do
		# shellcheck disable=SC2086
		run --separate-stderr "$B64" $o "$BATS_TEST_TMPDIR/missing"
		assert_failure 66
		assert_output ""
		assert_equal "$stderr" "b64: $BATS_TEST_TMPDIR/missing: No such file or directory"
	done
}

@test "toolkit: mdeliver --split with a missing file exits 66 (EX_NOINPUT) with 'mdeliver: PATH: ...'" {
	run --separate-stderr "$MDELIVER" --split "$BATS_TEST_TMPDIR/missing" "$BATS_TEST_TMPDIR/Maildir/"
	assert_failure 66
	assert_output ""
	assert_equal "$stderr" "mdeliver: $BATS_TEST_TMPDIR/missing: No such file or directory"
	assert [ ! -e "$BATS_TEST_TMPDIR/Maildir" ]
}

@test "toolkit: mparse with a missing file exits 66 (EX_NOINPUT) as b64 and mdeliver do, with 'mparse: PATH: ...'" {
	run --separate-stderr "$MPARSE" "$BATS_TEST_TMPDIR/missing"
	assert_failure 66
	assert_output ""
	assert_equal "$stderr" "mparse: $BATS_TEST_TMPDIR/missing: No such file or directory"
	# and when another input was read: the missing one is still no success
	printf 'Subject: here\n\nbody\n' >m.eml
	run --separate-stderr "$MPARSE" -f subject m.eml "$BATS_TEST_TMPDIR/missing"
	assert_failure 66
	assert_output "m.eml:here" # two inputs: each line names its message, as grep does
}

@test "toolkit: every tool that reads a named file exits 66 when it is missing (b64, mdeliver --split, mparse, msend -A)" {
	local m=$BATS_TEST_TMPDIR/missing
	run --separate-stderr "$B64" "$m"
	assert_failure 66
	run --separate-stderr "$MDELIVER" --split "$m" "$BATS_TEST_TMPDIR/md/"
	assert_failure 66
	run --separate-stderr "$MPARSE" "$m"
	assert_failure 66
	run --separate-stderr env -u MAILPIPE_CONFIG HOME="$BATS_TEST_TMPDIR" "$MSEND" --queue "$BATS_TEST_TMPDIR/q" \
		-s subject -A "$m" -f a@b.test c@d.test </dev/null
	assert_failure 66
	assert_equal "${#stderr_lines[@]}" 1
	[[ $stderr == "msend: "*"$m"* ]] || fail "stderr: $stderr"
}

@test "toolkit: mparse -p N on a message without part N is 65 (EX_DATAERR) with one line, not 0 and an empty file" {
	printf 'Subject: one part\n\nbody\n' >m.eml
	run --separate-stderr "$MPARSE" -p 9 m.eml
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "mparse: m.eml: no part 9"
	"$MPARSE" -p 1 m.eml >part || fail "part 1 is there"
	assert_equal "$(cat part)" body
}

@test "toolkit: the EXIT STATUS table of mailpipe(7) is what each tool's manual lists, code for code and name for name" {
	local t code name progs mine want
	run exit_table
	assert_success
	[ "${#lines[@]}" -ge 14 ] || fail "the table is too short: $output"
	# the names are those of <sysexits.h>
	while IFS=$'\t' read -r code name progs; do
		[ "$code" = 0 ] && continue
		grep -qE "^#define[[:space:]]+$name[[:space:]]+$code\b" /usr/include/sysexits.h ||
			fail "mailpipe.7: $code is not $name in sysexits.h"
	done < <(exit_table)
	for t in "${TOOLS[@]}"; do
		want=$(exit_table | awk -F'\t' -v t="$t" '$3 == "all" || (" " $3 " ") ~ (" " t " ") { print $1 " " $2 }' | sort)
		mine=$(awk '/^\.Sh EXIT STATUS/ { f = 1; next } /^\.Sh / { f = 0 }
			f && /^\.It 0$/ { print "0 EX_OK" }
			f && /^\.It [0-9]+ Pq Dv EX_/ { print $2 " " $5 }' "$(json_man | sed 's/mailpipe\.7$//')$t.1" | sort -u)
		assert_equal "$t: $mine" "$t: $want"
	done
}

@test "toolkit: JSON: every line of every tool, on success and on failure, has the keys and types mailpipe(7) lists" {
	command -v jq >/dev/null || fail "jq is needed"
	local T=$BATS_TEST_TMPDIR f l problems=
	export HOME=$T
	unset MAILPIPE_CONFIG
	JSON_SEEN=$T/seen
	: >"$JSON_SEEN"
	JFILES=()
	printf 'From: a@b.test\nMessage-ID: <j1@b.test>\nSubject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nbody\n--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=x.bin\n\nxx\n--b--\n' >m.eml
	printf 'From x  Thu Nov 26 10:00:00 2026\nSubject: 1\n\na\n\nFrom y  Thu Nov 26 10:00:00 2026\nSubject: 2\n\nb\n' >in.mbox

	# mdeliver: a Maildir, an mbox, --split, --dedup; a target it cannot make, a missing file
	jrun mdeliver 0 "$MDELIVER" -c -j --dedup "$T/md/" <m.eml
	jrun mdeliver 0 "$MDELIVER" -j --dedup "$T/md/" <m.eml
	jrun mdeliver 0 "$MDELIVER" -j "$T/box" <m.eml
	jrun mdeliver 0 "$MDELIVER" -j --split in.mbox "$T/md2/"
	jrun mdeliver 73 "$MDELIVER" -c -j /proc/nonexistent/md/ <m.eml
	jrun mdeliver 66 "$MDELIVER" -j --split "$T/missing" "$T/md3/"

	# mparse: a message, its bodies, an mbox; a missing input
	jrun mparse 0 "$MPARSE" -j m.eml in.mbox
	jrun mparse 0 "$MPARSE" -j --bodies m.eml
	jrun mparse 66 "$MPARSE" -j m.eml "$T/missing"
	jrun mparse 66 "$MPARSE" -j "$T/missing" m.eml
	: >empty.eml
	jrun mparse 65 "$MPARSE" -j empty.eml

	# mmx against dnsfault: the MX set, --policy, --probe of smtpfault; a
	# probe nothing answers (69), a domain that does not exist (68)
	bg_server dns "$DNSFAULT" ok
	local dns=$PORT
	mkdir -p "$T/store1" "$T/store2"
	bg_server smtp "$SMTPFAULT" -d "$T/store1" accept
	local smtp=$PORT
	jrun mmx 0 "$MMX" -j --timeout 30 -@ 127.0.0.1 -p "$dns" example.test
	jrun mmx 0 "$MMX" -j --policy --timeout 30 -@ 127.0.0.1 -p "$dns" example.test
	jrun mmx 0 "$MMX" -j --probe --timeout 30 --smtp-port "$smtp" -@ 127.0.0.1 -p "$dns" example.test
	jrun mmx 69 "$MMX" -j --probe --tlsa --timeout 30 --smtp-port 1 -@ 127.0.0.1 -p "$dns" example.test
	bg_server nx "$DNSFAULT" nxdomain
	jrun mmx 68 "$MMX" -j --timeout 30 -@ 127.0.0.1 -p "$PORT" example.test
	# the probe that connected has its banner and EHLO
	[ "$(jq -r 'select(.type == "probe" and .address == "127.0.0.1") | [.banner_code, (.ehlo | type)] | @tsv' \
		"$T/mmx-$((JN - 2)).json" | sort -u)" = $'220\tstring' ] || fail "probe: $(cat "$T/mmx-$((JN - 2)).json")"

	# msend through a relay: a refusal (67), a queued message and the
	# queue, --no-queue (75)
	bg_server rcpt "$SMTPFAULT" -d "$T/store2" rcpt550one
	local ms=("$MSEND" -j --no-tls --queue "$T/q" -f a@b.test)
	jrun msend 67 "${ms[@]}" --server "127.0.0.1:$PORT" c@d.test bad@d.test <m.eml
	# a list: a line for each recipient, then the summary
	printf '# the list\nc@d.test\nbad@d.test\n' >rcpts
	jrun msend 67 "${ms[@]}" --server "127.0.0.1:$PORT" --rcpt-file rcpts <m.eml
	bg_server busy "$SMTPFAULT" greet421
	jrun msend 0 "${ms[@]}" --server "127.0.0.1:$PORT" c@d.test <m.eml
	jrun msend 75 "${ms[@]}" --no-queue --server "127.0.0.1:$PORT" c@d.test <m.eml
	jrun msend 0 "$MSEND" --list-queue -j --queue "$T/q"
	jrun msend 78 "${ms[@]}" -a nosuch c@d.test <m.eml

	# mfetch from mailfault: IMAP and POP3 into a Maildir; a server that is not there
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/mf.key" -out "$T/mf.crt" -days 1 \
		-subj /CN=mailfault -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null ||
		fail "openssl could not make a certificate"
	local mf=("$MFETCH" -j --user bob --password-eval 'echo hungry' --timeout 30 --tls --ca-file "$T/mf.crt")
	bg_server imap "$MAILFAULT" -c "$T/mf.crt" -k "$T/mf.key" imap-caps
	jrun mfetch 0 "${mf[@]}" --imap --server "127.0.0.1:$PORT" --state "$T/st1" --to "$T/mf1/"
	bg_server pop "$MAILFAULT" -c "$T/mf.crt" -k "$T/mf.key" pop-deleerr
	jrun mfetch 0 "${mf[@]}" --pop3 --server "127.0.0.1:$PORT" --state "$T/st2" --to "$T/mf2/"
	jrun mfetch 78 "${mf[@]}" -a nosuch --to "$T/mf3/"
	jrun mfetch 75 "${mf[@]}" --imap --server 127.0.0.1:1 --state "$T/st3" --to "$T/mf3/"
	# the failed run has its summary before the error line
	[ "$(jq -r .type "$T/mfetch-$JN.json" | paste -sd ' ')" = "summary error" ] ||
		fail "mfetch failure: $(cat "$T/mfetch-$JN.json")"

	for l in "${JFILES[@]}"; do
		problems+=$(json_check "${l%% *}" "${l#* }")$'\n'
	done
	[ -z "${problems//$'\n'/}" ] || fail "$problems"
	# every object of mailpipe(7) was met, but mfetch's folder line (IMAP
	# LIST: mfetch.bats checks it against Dovecot)
	local missing
	missing=$(json_spec | cut -f1 | sort -u | grep -vxF -f <(sort -u "$JSON_SEEN") | grep -vx 'mfetch folder' || true)
	[ -z "$missing" ] || fail "never written: $missing"
}

@test "toolkit: every tool whose output is structured offers -j, --json in its usage, man page and completions" {
	local t
	for t in mdeliver mmx msend mfetch mparse; do
		run --separate-stderr "$(bin "$t")" -h
		assert_success
		assert_line --regexp '^  -j, --json '
		grep -q -- '^\.It Fl j , -json' "$BATS_TEST_DIRNAME/../../man/$t.1" || fail "$t.1 has no -j, --json item"
		grep -q -- '--json' "$BATS_TEST_DIRNAME/../../completions/bash/$t" || fail "bash completion of $t"
		grep -q -- '--json' "$BATS_TEST_DIRNAME/../../completions/zsh/_$t" || fail "zsh completion of $t"
		grep -q -- '-l json' "$BATS_TEST_DIRNAME/../../completions/fish/$t.fish" || fail "fish completion of $t"
	done
}
