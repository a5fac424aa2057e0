#!/bin/bash
# docsandbox.sh WORLD S SCRIPT: run SCRIPT (the examples of one document) in
# the sandbox of tests/cli/docs.bats. Runs in the network namespace of the
# peers and in a mount namespace of its own (unshare -m), where it makes
# /home/bob a copy of WORLD/home (and /home/jo/Maildir), overlays /usr/bin,
# /usr/local/bin, /usr/sbin and /etc with S/ub, S/ulb, S/us and S/etc,
# puts WORLD/ssl in /etc/ssl (the peers' CA is the system's) and names
# knot in /etc/resolv.conf. Nothing of it outlives the command.
set -eu
w=$1 s=$2 script=$3
mount -t tmpfs tmpfs /home
mkdir -p /home/bob /home/jo/Maildir/{cur,new,tmp}
cp -a "$w/home/." /home/bob/
for m in ub:/usr/bin ulb:/usr/local/bin us:/usr/sbin etc:/etc; do
	mount -t overlay overlay -o "lowerdir=${m#*:},upperdir=$s/${m%%:*}/up,workdir=$s/${m%%:*}/wk" "${m#*:}"
done
mount -t tmpfs tmpfs /etc/ssl
cp -a "$w/ssl/." /etc/ssl/
echo 'nameserver 127.0.0.1' >"$s/resolv.conf"
mount --bind "$s/resolv.conf" /etc/resolv.conf
cd /home/bob
env -i HOME=/home/bob USER=bob LOGNAME=bob PATH=/home/bob/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
	LANG=C.UTF-8 TZ=UTC token='mailpipe-token-0123' rcpt=bob@hamburger.test \
	jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl bash "$script" </dev/null || true
