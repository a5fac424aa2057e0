# deps.sh - sourced by scripts/test and scripts/demo: install the Debian
# packages that are missing (and only those), as root, without starting
# any daemon their maintainer scripts would like to start.

# build: compiler, meson, and the libraries every tool links
BUILD_PKGS="gcc libc6-dev meson ninja-build pkg-config libidn2-dev libssl-dev"
# test: bats, the peers for comparisons, man lint, the shells completions load in
TEST_PKGS="bats bats-support bats-assert coreutils qprint time mandoc zsh fish bash-completion jq python3 python3-dkim publicsuffix systemd
           build-essential debhelper dpkg-dev lintian git
           clang libclang-rt-14-dev"

deps_log() { echo "${0##*/}: $*" >&2; }

deps_missing() { # pkg... -> prints those not installed
	local p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || printf '%s ' "$p"
	done
}

deps_install() { # pkg...
	local missing added=""
	missing=$(deps_missing "$@")
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" != 0 ]; then
		deps_log "missing packages: $missing(run as root to install them)"
		return 1
	fi
	deps_log "installing: $missing"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		added=1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends $missing >/dev/null
	[ -z "$added" ] || rm -f /usr/sbin/policy-rc.d
}
