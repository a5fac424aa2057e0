#!/usr/bin/env bats
# meson install into a DESTDIR puts every binary, man page and completion
# where a distribution expects them, and each of them works from there.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup_file() {
	: "${MESON_BUILD_ROOT:=$BATS_TEST_DIRNAME/../../build}"
	export DEST="$BATS_FILE_TMPDIR/dest"
	meson install -C "$MESON_BUILD_ROOT" --destdir "$DEST" --no-rebuild >"$BATS_FILE_TMPDIR/install.log" 2>&1
	export PREFIX
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

# The lists the build installs from, read from the meson files themselves so
# that a tool, page or completion added there is checked here too.
SRC="$BATS_TEST_DIRNAME/../.."
tool_dirs() { (cd "$SRC/tools" && for d in */; do [ -f "$d/meson.build" ] && echo "${d%/}"; done); }
man_pages() { sed -n "/install_man(/,/)/p" "$SRC/man/meson.build" | grep -o "'[^']*\.[1-9]'" | tr -d "'"; }
completed_tools() {
	grep "^tools_with_completions *=" "$SRC/completions/meson.build" | grep -o "'[^']*'" | tr -d "'"
}
project_version() { sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$SRC/meson.build" | head -1; }

@test "install: meson install into a DESTDIR succeeds" {
	run meson install -C "$MESON_BUILD_ROOT" --destdir "$BATS_TEST_TMPDIR/again" --no-rebuild
	assert_success
	assert [ -d "$BATS_TEST_TMPDIR/again" ]
}

@test "install: every tool of tools/ is installed into bin and prints its version" {
	v=$(project_version)
	assert [ -n "$v" ]
	tools=$(tool_dirs)
	assert_equal "$(echo "$tools" | wc -l)" 6
	for t in $tools; do
		assert [ -x "$MESON_BUILD_ROOT/tools/$t/$t" ]
		assert [ -x "$ROOT/bin/$t" ]
		run "$ROOT/bin/$t" -V
		assert_success
		assert_line --index 0 "$t (mailpipe) $v"
		run "$ROOT/bin/$t" -h
		assert_success
		assert_line --index 0 --regexp "^usage: $t "
	done
	# and nothing else lands in bin
	assert_equal "$(ls "$ROOT/bin" | sort)" "$(echo "$tools" | sort)"
}

@test "install: every man page of man/meson.build is installed, lints clean and renders" {
	pages=$(man_pages)
	assert [ -n "$pages" ]
	run grep -qx mailpipe.7 <<<"$pages"
	assert_success
	run grep -qx mailpipe.5 <<<"$pages"
	assert_success
	for p in $pages; do
		sec=${p##*.}
		f="$ROOT/share/man/man$sec/$p"
		assert [ -f "$f" ]
		cmp "$SRC/man/$p" "$f" || fail "$f differs from man/$p"
		run mandoc -Tlint -Wwarning "$f"
		assert_success
		assert_output ""
		run --separate-stderr man -l "$f"
		assert_success
		assert_equal "$stderr" ""
		name=${p%.*}
		assert_line --index 0 --regexp "^${name^^}\($sec\) .* ${name^^}\($sec\)\$"
		assert_line --regexp "^NAME\$"
		assert_output --partial "$name"
	done
}

@test "install: mailpipe.7 names all six tools and their pages" {
	f="$ROOT/share/man/man7/mailpipe.7"
	assert [ -f "$f" ]
	run bash -c "mandoc -Tutf8 '$f' | col -b"
	assert_success
	for t in $(tool_dirs); do
		assert_output --partial "$t(1)"
	done
	assert_output --partial "EXIT STATUS"
}

@test "install: every bash completion of completions/meson.build is installed and loads" {
	tools=$(completed_tools)
	assert [ -n "$tools" ]
	for t in $tools; do
		f=$(find "$DEST" -path "*/bash-completion/completions/$t" | head -1)
		assert [ -n "$f" ]
		cmp "$SRC/completions/bash/$t" "$f" || fail "$f differs from completions/bash/$t"
		run bash -c "source /usr/share/bash-completion/bash_completion; source '$f' && complete -p '$t'"
		assert_success
		assert_output --regexp "^complete .* $t\$"
	done
}

@test "install: every zsh completion of completions/meson.build is installed and loads" {
	command -v zsh >/dev/null || fail "zsh is not installed (scripts/test installs it)"
	tools=$(completed_tools)
	assert [ -n "$tools" ]
	for t in $tools; do
		f="$ROOT/share/zsh/site-functions/_$t"
		assert [ -f "$f" ]
		cmp "$SRC/completions/zsh/_$t" "$f" || fail "$f differs from completions/zsh/_$t"
		run head -1 "$f"
		assert_output --regexp "^#compdef .*\b$t\b"
		# +X loads the definition now, so a syntax error fails here
		run zsh -fc "autoload -U compinit; compinit -u -d '$BATS_TEST_TMPDIR/zcd'; fpath=('${f%/*}' \$fpath); autoload -U +X _$t && whence -w _$t"
		assert_success
		assert_output "_$t: function"
	done
}

@test "install: every fish completion of completions/meson.build is installed and completes" {
	command -v fish >/dev/null || fail "fish is not installed (scripts/test installs it)"
	tools=$(completed_tools)
	assert [ -n "$tools" ]
	for t in $tools; do
		f="$ROOT/share/fish/vendor_completions.d/$t.fish"
		assert [ -f "$f" ]
		cmp "$SRC/completions/fish/$t.fish" "$f" || fail "$f differs from completions/fish/$t.fish"
		run fish -c "source '$f'; and complete -C'$t --'"
		assert_success
		assert_line --regexp "^--help\b"
	done
}

@test "install: no sendmail link by default; -Dsendmail_link=true installs sbin/sendmail -> msend, which works as sendmail" {
	run find "$DEST" -name sendmail
	assert_output ""
	local b=$BATS_TEST_TMPDIR/build-link d=$BATS_TEST_TMPDIR/dest-link
	run meson setup "$b" "$SRC" -Dsendmail_link=true --prefix "$PREFIX"
	assert_success
	# the link alone (its install tag), beside the msend already built
	install -D "$MESON_BUILD_ROOT/tools/msend/msend" "$d$PREFIX/bin/msend"
	run meson install -C "$b" --destdir "$d" --no-rebuild --tags sendmail
	assert_success
	local sbindir
	sbindir=$(meson introspect "$b" --buildoptions | grep -o '"name": "sbindir", "value": "[^"]*"' |
		sed 's/.*"value": "//; s/"$//')
	[ -L "$d$PREFIX/$sbindir/sendmail" ] || fail "no link at $d$PREFIX/$sbindir/sendmail"
	assert_equal "$(readlink "$d$PREFIX/$sbindir/sendmail")" "$PREFIX/bin/msend"
	# msend under that name: the queue listing of sendmail -bp
	ln -s "$MESON_BUILD_ROOT/tools/msend/msend" "$BATS_TEST_TMPDIR/sendmail"
	MSEND_QUEUE=$BATS_TEST_TMPDIR/q run "$BATS_TEST_TMPDIR/sendmail" -bp
	assert_success
	assert_output --partial "is empty"
	run "$BATS_TEST_TMPDIR/sendmail" -V
	assert_output "sendmail (mailpipe) $(meson introspect "$MESON_BUILD_ROOT" --projectinfo | grep -o '"version": "[^"]*"' | sed 's/.*: "//; s/"$//')"
}

@test "install: systemd user units for mfetch@ACCOUNT, mfetch-idle@ACCOUNT and msend-queue; systemd-analyze verify accepts them" {
	command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (scripts/test installs systemd)"
	local dir u units="mfetch@.service mfetch@.timer mfetch-idle@.service msend-queue.service msend-queue.timer"
	dir=$(find "$DEST" -type d -path '*/systemd/user' | head -1)
	[ -n "$dir" ] || fail "no systemd/user directory under $DEST"
	for u in $units; do
		assert [ -f "$dir/$u" ]
	done
	# ExecStart names the installed binaries, which sit under DEST here
	assert_equal "$(grep '^ExecStart=' "$dir/mfetch@.service")" "ExecStart=$PREFIX/bin/mfetch -q -a %i"
	assert_equal "$(grep '^ExecStart=' "$dir/msend-queue.service")" "ExecStart=$PREFIX/bin/msend -q"
	local v=$BATS_TEST_TMPDIR/units
	mkdir -p "$v"
	for u in $units; do
		sed "s#$PREFIX/bin/#$ROOT/bin/#" "$dir/$u" >"$v/$u"
	done
	cd "$v"
	# an instance of each template, with every warning on stderr counted
	run --separate-stderr systemd-analyze verify --man=no "$v/mfetch@work-in.service" \
		"$v/mfetch@work-in.timer" "$v/mfetch-idle@work-in.service" "$v/msend-queue.service" \
		"$v/msend-queue.timer"
	assert_success
	assert_equal "$stderr" ""
	assert_output ""
}
