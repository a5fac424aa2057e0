#!/usr/bin/env bats
# The Debian packages: dpkg-buildpackage -us -uc -b from a clean copy of the
# tree builds mailpipe and mailpipe-mta, lintian reports no error or warning
# (there are no overrides), and the packages install
# with dpkg --root into an empty root, where each binary runs and does a
# real job. Needs debhelper, dpkg-dev and lintian (scripts/deps.sh).

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup_file() {
	export SRC="$BATS_TEST_DIRNAME/../.."
	export W="$BATS_FILE_TMPDIR/pkg"
	mkdir -p "$W/mailpipe"
	# what git tracks, as a user's clone has it (no build trees)
	(cd "$SRC" && git ls-files -z --cached --others --exclude-standard) |
		(cd "$SRC" && xargs -0 cp --parents -t "$W/mailpipe" 2>/dev/null) || true
	(cd "$W/mailpipe" && dpkg-buildpackage -us -uc -b >"$W/build.log" 2>&1)
	echo $? >"$W/build.rc"
}

@test "package: dpkg-buildpackage -us -uc -b builds mailpipe and mailpipe-mta" {
	command -v dpkg-buildpackage >/dev/null || fail "dpkg-dev is not installed"
	[ "$(cat "$W/build.rc")" = 0 ] || fail "dpkg-buildpackage failed: $(tail -40 "$W/build.log")"
	ls "$W"/mailpipe_0.1.0_*.deb "$W"/mailpipe-mta_0.1.0_all.deb
	run dpkg-deb -c "$W"/mailpipe_0.1.0_*.deb
	for f in bin/msend bin/mfetch bin/mdeliver bin/mparse bin/mmx bin/b64 \
		share/man/man1/msend.1.gz share/man/man5/mailpipe.5.gz share/man/man7/mailpipe.7.gz \
		lib/systemd/user/mfetch@.service lib/systemd/user/msend-queue.timer \
		share/bash-completion/completions/msend share/zsh/site-functions/_msend \
		share/fish/vendor_completions.d/msend.fish; do
		assert_output --partial "./usr/$f"
	done
	run dpkg-deb -f "$W"/mailpipe-mta_0.1.0_all.deb Provides Conflicts Replaces
	assert_line 'Provides: mail-transport-agent'
	assert_line 'Conflicts: mail-transport-agent'
	assert_line 'Replaces: mail-transport-agent'
}

@test "package: lintian reports no error and no warning" {
	command -v lintian >/dev/null || fail "lintian is not installed"
	run lintian --fail-on error,warning "$W"/mailpipe_0.1.0_*.changes
	assert_success
	refute_output --regexp '^[EW]: '
}

@test "package: installed with dpkg --root, each binary runs -V and a real job" {
	local R=$BATS_FILE_TMPDIR/root
	mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
	: >"$R/var/lib/dpkg/status"
	: >"$R/var/lib/dpkg/available"
	run dpkg --root="$R" --force-depends --force-not-root --log=/dev/null -i \
		"$W"/mailpipe_0.1.0_*.deb "$W"/mailpipe-mta_0.1.0_all.deb
	assert_success
	run dpkg --root="$R" -s mailpipe-mta
	assert_line 'Status: install ok installed'
	local t
	for t in msend mfetch mdeliver mparse mmx b64; do
		run "$R/usr/bin/$t" -V
		assert_success
		assert_line --index 0 "$t (mailpipe) 0.1.0"
	done
	assert_equal "$(readlink "$R/usr/sbin/sendmail")" "../bin/msend"
	# a real job through the installed binaries: encode, deliver, parse
	printf 'From: a@example.org\nSubject: %s\n\nhello\n' "$(printf 'Grüße' | "$R/usr/bin/b64" --word)" >"$BATS_TEST_TMPDIR/m"
	run "$R/usr/bin/mdeliver" "$BATS_TEST_TMPDIR/Maildir/" <"$BATS_TEST_TMPDIR/m"
	assert_success
	run "$R/usr/bin/mparse" -f subject "$BATS_TEST_TMPDIR"/Maildir/new/*
	assert_success
	assert_output 'Grüße'
	MSEND_QUEUE=$BATS_TEST_TMPDIR/q run "$R/usr/sbin/sendmail" -bp
	assert_success
	assert_output --partial "is empty"
}
