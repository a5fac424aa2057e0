#!/usr/bin/env bats
# The conventions every mailpipe tool shares: -V/--version, -h/--help, the
# one-line usage error with exit 64, and how a missing input file is reported.
#
# B64, MDELIVER, MMX, MSEND, MFETCH and MPARSE are the binaries under test
# (meson sets them; the defaults are the build tree).

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

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

@test "toolkit: mparse with a missing file names it as 'mparse: PATH: ...' and exits 65 (its documented code)" {
	# mparse goes on past inputs it cannot read and fails only when no message
	# at all was read: 65 (EX_DATAERR) per mparse(1), not b64's and mdeliver's 66
	run --separate-stderr "$MPARSE" "$BATS_TEST_TMPDIR/missing"
	assert_failure 65
	assert_output ""
	assert_equal "${stderr_lines[0]}" "mparse: $BATS_TEST_TMPDIR/missing: No such file or directory"
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
