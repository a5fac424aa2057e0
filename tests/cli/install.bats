#!/usr/bin/env bats
# meson install into a DESTDIR puts every binary, man page and completion
# where a distribution expects them, and each of them works from there.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup_file() {
	: "${MESON_BUILD_ROOT:=$BATS_TEST_DIRNAME/../../build}"
	export DEST="$BATS_FILE_TMPDIR/dest"
	meson install -C "$MESON_BUILD_ROOT" --destdir "$DEST" --no-rebuild >"$BATS_FILE_TMPDIR/install.log" 2>&1
	PREFIX=$(meson introspect "$MESON_BUILD_ROOT" --buildoptions |
		grep -o '"name": "prefix", "value": "[^"]*"' | sed 's/.*"value": "//; s/"$//')
	export ROOT="$DEST$PREFIX"
}

@test "install: b64 binary is installed and runs" {
	assert [ -x "$ROOT/bin/b64" ]
	run "$ROOT/bin/b64" --version
	assert_success
	assert_line --index 0 "b64 (mailpipe) 0.1.0"
	run bash -c "printf 'foo' | '$ROOT/bin/b64'"
	assert_output "Zm9v"
}

@test "install: man page b64.1 is installed and renders" {
	assert [ -f "$ROOT/share/man/man1/b64.1" ]
	run mandoc -Tlint -Wwarning "$ROOT/share/man/man1/b64.1"
	assert_success
	assert_output ""
	run mandoc -Tutf8 "$ROOT/share/man/man1/b64.1"
	assert_success
	assert_output --partial "quoted-printable"
}

@test "install: bash completion goes to the bash-completion dir and loads" {
	f=$(find "$DEST" -path '*/bash-completion/completions/b64' | head -1)
	assert [ -n "$f" ]
	run bash -c "source /usr/share/bash-completion/bash_completion; source '$f'; complete -p b64"
	assert_success
	assert_output --partial "b64"
}

@test "install: zsh completion goes to site-functions and loads" {
	command -v zsh >/dev/null || fail "zsh is not installed (scripts/test installs it)"
	f="$ROOT/share/zsh/site-functions/_b64"
	assert [ -f "$f" ]
	run zsh -fc "autoload -U compinit; compinit -u -d '$BATS_TEST_TMPDIR/zcd'; fpath=('${f%/*}' \$fpath); autoload -U _b64 && whence -w _b64"
	assert_success
	assert_output --partial "_b64: function"
}

@test "install: fish completion goes to vendor_completions.d and completes options" {
	command -v fish >/dev/null || fail "fish is not installed (scripts/test installs it)"
	f="$ROOT/share/fish/vendor_completions.d/b64.fish"
	assert [ -f "$f" ]
	run fish -c "source '$f'; complete -C'b64 --'"
	assert_success
	assert_output --partial "--decode"
	assert_output --partial "--qp"
}
