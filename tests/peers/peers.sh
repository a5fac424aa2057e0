#!/usr/bin/env bash
# tests/peers/peers.sh - mailpipe's loopback mail peers for the test suite.
#
# Runs genuine servers from Debian 12 packages, each as a private instance whose
# configuration and state all live in one directory (DIR):
#   knot     authoritative DNS for the test zones         (UDP+TCP)
#   postfix  MTA: SMTP, submission, SMTPS; SASL via dovecot
#   dovecot  mail store: IMAP, IMAPS, POP3, POP3S
#   smtp-sink x2: a discarding fake MTA and one that dumps every transaction
# and, on its own ("courier-start DIR", after "start DIR"), a second IMAP and POP3
# implementation for mfetch:
#   courier  Courier-IMAP's imapd and courierpop3d, authenticated by Courier's
#            authdaemond (userdb), over implicit TLS. Its packages conflict with
#            Dovecot's (both provide imap-server), so "install" only downloads them
#            (apt-get download, into $COURIER_DEBS) and courier-start unpacks them with
#            dpkg -x into DIR/courier/root and runs them from there. Their paths
#            /etc/courier, /run/courier/authdaemon and /usr/lib/courier-authlib are
#            compiled in: the daemons run in a private mount namespace (unshare -m)
#            where DIR/courier's copies are bind-mounted over those paths (the host
#            gets only the three empty mount points). Courier has no listener of its
#            own here: socat (OPENSSL-LISTEN on 127.0.0.1, the peers' certificate)
#            runs imaplogin+imapd or courierpop3login+courierpop3d per connection,
#            inetd-style. PIDs in DIR/pids/courier*.pid; "courier-stop DIR" ends them.
# and, also on its own ("exim-start DIR", after "start DIR"), a second MTA for msend:
#   exim     Exim 4 (exim4-daemon-light): SMTP with STARTTLS on $EXIM_SMTP_PORT,
#            implicit TLS on $EXIM_SMTPS_PORT, AUTH PLAIN/LOGIN/CRAM-MD5 (bob/hungry,
#            only under TLS), CHUNKING, SMTPUTF8, DSN and PIPELINING offered; RCPT
#            for later@ gets "452 4.2.2", for nobody@ "550 5.1.1"; bob@, alice@ and
#            jürgen@ of example.test, hamburger.test and bücher.test go to the
#            Maildirs DIR/exim/mail/USER/Maildir. The package conflicts with
#            Postfix (both provide mail-transport-agent), so "install" only
#            downloads it (into $EXIM_DEBS; its libraries are installed normally)
#            and exim-start unpacks it with dpkg -x into DIR/exim/root. The binary
#            looks up its compiled-in user Debian-exim before it reads any
#            configuration: it runs in a private mount namespace where copies of
#            /etc/passwd and /etc/group that add Debian-exim (uid $VMAIL_UID) are
#            bind-mounted over the host's (which stay untouched). One process,
#            "exim4 -bdf -C DIR/exim/exim.conf", its PID in DIR/pids/exim.pid;
#            DIR/exim/log/mainlog has each MAIL, RCPT and DATA or BDAT command as
#            received ("mailpipe: MAIL ...") and a K on the "<=" line of a message
#            received with BDAT; "exim-stop DIR" (and "stop DIR") end it.
#
# Usage (root only, except "install" which needs root for apt-get anyway):
#   peers.sh install       install whatever Debian packages are missing
#   peers.sh start DIR     create certs/configs under DIR, start everything, wait for
#                          every port, print KEY=VALUE lines (also saved as DIR/ports.env)
#   peers.sh stop DIR      stop the daemons whose PIDs are recorded in DIR/pids
#   peers.sh check DIR     end-to-end self test (DNS, SMTP+TLS+AUTH, Maildir, IMAP, POP3)
#   peers.sh status DIR    which recorded daemons are alive (exit 1 if any is not)
#   peers.sh courier-start DIR  Courier IMAPS on $COURIER_IMAPS_PORT, POP3S on
#                          $COURIER_POP3S_PORT, bob/hungry, Maildir DIR/courier/mail/bob/Maildir
#   peers.sh courier-stop DIR   stop it (by its recorded PIDs)
#   peers.sh exim-start DIR     Exim on $EXIM_SMTP_PORT (STARTTLS) and $EXIM_SMTPS_PORT
#                          (implicit TLS); prints EXIM_* lines (ports, mail, log)
#   peers.sh exim-stop DIR      stop it (by its recorded PID)
# Sourcing the file (". peers.sh") only defines the functions.
#
# Safety: every listener is on 127.0.0.1 or ::1; Postfix sends anything not addressed to
# a local test domain to its error transport and never looks up client PTRs, and Exim
# refuses such recipients at RCPT and looks up neither hosts nor ident, so no packet
# ever leaves the loopback interface.
#
# Demo accounts: bob/hungry (bob@example.test, bob@xn--bcher-kva.test, bob@hamburger.test)
# and alice/wonderland (alice@example.test, alice@crepes.test).
set -euo pipefail

# Every port can be moved with its environment variable; the defaults are high and
# unusual so that a developer's own mail/DNS services are never in the way.
: "${DNS_PORT:=15353}"      # knot, UDP and TCP
: "${SMTP_PORT:=12525}"     # postfix smtpd: STARTTLS offered, AUTH only once under TLS
: "${SUBM_PORT:=12587}"     # postfix submission: STARTTLS and AUTH mandatory
: "${SMTPS_PORT:=12465}"    # postfix submissions (implicit TLS, RFC 8314): AUTH mandatory
: "${SINK_PORT:=12526}"     # smtp-sink that throws everything away
: "${SINKDUMP_PORT:=12527}" # smtp-sink that writes each transaction to DIR/sink/msgs/
: "${IMAP_PORT:=11143}"
: "${IMAPS_PORT:=11993}"
: "${POP3_PORT:=11110}"
: "${POP3S_PORT:=11995}"
: "${UNBOUND_PORT:=15354}" # unbound: validating resolver in front of knot (DNSSEC, AD bit)
: "${VMAIL_UID:=5000}"      # numeric owner of all Maildirs (no passwd entry needed)
: "${VMAIL_GID:=5000}"

# Packages the harness needs, then the ones the bats suite needs.
PKGS="knot knot-dnsutils bind9-dnsutils unbound postfix dovecot-core dovecot-imapd dovecot-pop3d
      swaks libnet-ssleay-perl libio-socket-inet6-perl openssl curl ca-certificates iproute2
      bats bats-support bats-assert socat netcat-openbsd libgnutls-dane0 libidn12"
# Courier: downloaded, not installed (it conflicts with Dovecot), see courier-start
COURIER_PKGS="courier-imap courier-pop courier-base courier-authlib courier-authdaemon
      courier-authlib-userdb libcourier-unicode4 libgamin0 libidn12 libltdl7"
: "${COURIER_DEBS:=/var/cache/mailpipe-peers/courier}"
: "${COURIER_IMAPS_PORT:=11994}"
: "${COURIER_POP3S_PORT:=11996}"
# Exim: downloaded, not installed (it conflicts with Postfix), see exim-start; the
# libraries it needs beyond Postfix's are in PKGS
EXIM_PKGS="exim4-daemon-light"
: "${EXIM_DEBS:=/var/cache/mailpipe-peers/exim}"
: "${EXIM_SMTP_PORT:=12625}"
: "${EXIM_SMTPS_PORT:=12665}"
OPT_PKGS="mpop shellcheck" # WITH_OPT=1 peers.sh install; "check" uses mpop if present
# A test may extend the world (tests/cli/docs.bats, for the names of the documentation):
# PEERS_EXTRA_SANS "DNS:a,DNS:b" more names in the server certificate; PEERS_EXTRA_ZONES a
# directory of NAME.zone files knot serves too; PEERS_EXTRA_DOMAINS "d1 d2" domains Postfix
# takes for Bob's Maildir, any local part; PEERS_EXTRA_USERS "u1 u2" more IMAP/POP3/SASL
# users (password hungry), each with a Maildir of its own.
: "${PEERS_EXTRA_SANS:=}" "${PEERS_EXTRA_ZONES:=}" "${PEERS_EXTRA_DOMAINS:=}" "${PEERS_EXTRA_USERS:=}"

die() { echo "peers.sh: $*" >&2; exit 1; }
log() { echo "peers.sh: $*" >&2; }
absdir() { mkdir -p "$1" && (cd "$1" && pwd -P); }
now() { echo "${EPOCHREALTIME/./}"; } # microseconds since the epoch
since() { local d=$(($(now) - $1)); printf '%d.%02ds' $((d / 1000000)) $((d % 1000000 / 10000)); }

# IPv6 is used when lo carries ::1; PEERS_NO_V6=1 forces IPv4 only.
HAVE_V6=0
if [ -z "${PEERS_NO_V6:-}" ] && grep -qs '^0\{31\}1 .* lo$' /proc/net/if_inet6; then HAVE_V6=1; fi

# Run a daemon detached from our stdio and from any other inherited descriptor
# (bats keeps fd 3 open; a daemon holding it makes bats wait forever).
spawn() { # logfile command...
    local out=$1
    shift
    "$@" </dev/null >>"$out" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
}

# ---------------------------------------------------------------- small helpers
# shellcheck disable=SC2016 # $0/$1 are expanded by the inner bash
tcp_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }
wait_tcp() { # host port label: a hang guard of a minute or more (a busy machine is slow)
    local i
    for ((i = 0; i < 3000; i++)); do
        tcp_open "$1" "$2" && return 0
        sleep 0.02
    done
    die "$3 is not answering on $1:$2 (logs are under $D)"
}
wait_dns() { # every zone must be loaded, over UDP and TCP
    local i z ok q="dig +short +time=1 +tries=1 -p $DNS_PORT @127.0.0.1"
    for ((i = 0; i < 3000; i++)); do
        ok=1
        for z in example.test xn--bcher-kva.test hamburger.test crepes.test; do
            [ -n "$($q SOA "$z" 2>/dev/null)" ] || { ok=0; break; }
        done
        if [ $ok = 1 ] && [ -n "$($q +tcp SOA example.test 2>/dev/null)" ] &&
            [ -n "$($q DNSKEY secure.test 2>/dev/null)" ]; then return 0; fi
        sleep 0.02
    done
    die "knot does not serve every zone on 127.0.0.1:$DNS_PORT (see $D/knot/knot.log)"
}
# A PID counts as running only if /proc says it is neither a zombie nor dead: the init
# of some containers reaps orphans late, and kill -0 succeeds on a zombie.
pid_running() {
    local st
    st=$(sed -n 's/^[0-9]* (.*) \([A-Z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
# Print the recorded PID of NAME if that process is alive and its command line contains
# MARK (so a recycled PID belonging to something else is never touched).
pid_of() { # NAME MARK
    local p
    [ -s "$D/pids/$1.pid" ] || return 1
    p=$(tr -dc 0-9 <"$D/pids/$1.pid")
    [ -n "$p" ] && pid_running "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$2" && echo "$p"
}
wait_pid_gone() {
    local i
    for ((i = 0; i < 500; i++)); do
        pid_running "$1" || return 0
        sleep 0.02
    done
    return 1
}
wait_file() {
    local i
    for ((i = 0; i < 3000; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.02
    done
    die "$1 never appeared"
}
LISTENING=""
port_free_or_die() { # PROTO PORT
    if [ -z "$LISTENING" ]; then
        LISTENING=$(ss -Hlntu | awk '{n = split($5, a, ":"); print $1 "/" a[n]}' | sort -u)
    fi
    if grep -qx "$1/$2" <<<"$LISTENING"; then
        die "$1 port $2 is taken by another program (see: ss -lnp 'sport = :$2'); pick another with the matching *_PORT variable"
    fi
}
# Stop one daemon: its own stop command if given (else SIGTERM), SIGKILL after ~10 s.
stop_pid() { # NAME PID [stop command...]
    local n=$1 p=$2
    shift 2
    if [ $# -gt 0 ]; then
        "$@" >/dev/null 2>&1 || kill -TERM "$p" 2>/dev/null || true
    else
        kill -TERM "$p" 2>/dev/null || true
    fi
    if ! wait_pid_gone "$p"; then
        log "$n (pid $p) survived SIGTERM; sending SIGKILL"
        kill -KILL "$p" 2>/dev/null || true
        wait_pid_gone "$p" || log "$n (pid $p) is still there"
    fi
    rm -f "$D/pids/$n.pid"
}

# ---------------------------------------------------------------- TLS
# A throw-away CA (DIR/tls/ca.crt, what clients verify against) and one server
# certificate shared by postfix and dovecot. Made once per DIR.
make_tls() {
    local t="$D/tls"
    mkdir -p "$t"
    [ -s "$t/server-chain.pem" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -keyout "$t/ca.key" -out "$t/ca.crt" \
        -subj "/O=mailpipe tests/CN=mailpipe peers test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$t/server.key" -out "$t/server.csr" \
        -subj "/CN=mx1.example.test" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:mx1.example.test,DNS:mail.example.test,DNS:example.test,DNS:mx.hamburger.test,DNS:mx.crepes.test,DNS:mta-sts.example.test,DNS:mta-sts.hamburger.test,DNS:localhost,IP:127.0.0.1,IP:::1${PEERS_EXTRA_SANS:+,$PEERS_EXTRA_SANS}" \
        >"$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -days 3650 \
        -sha256 -extfile "$t/server.ext" -out "$t/server.crt" 2>/dev/null
    cat "$t/server.crt" "$t/ca.crt" >"$t/server-chain.pem"
    chmod 0644 "$t"/*.crt "$t/server-chain.pem"
    chmod 0600 "$t"/*.key
}

# ---------------------------------------------------------------- knot
# example.test is the zoo of DNS edge cases the resolver tests use; xn--bcher-kva.test
# (bücher.test) is the IDN domain; hamburger.test (Bob) and crepes.test (Alice) are the
# two ends of the demo. Keep the first two as they are: tests depend on every record.
write_knot() {
    local k="$D/knot" tlsa big="" mid="" many i listen="127.0.0.1@$DNS_PORT" hb_aaaa=""
    if [ $HAVE_V6 = 1 ]; then
        listen+=", ::1@$DNS_PORT"
        hb_aaaa="mx    AAAA ::1"
    fi
    mkdir -p "$k/zones" "$k/run" "$k/db"
    tlsa=$(openssl x509 -in "$D/tls/server.crt" -noout -pubkey | openssl pkey -pubin -outform DER |
        sha256sum | cut -d' ' -f1)
    # big: ~2 KB of TXT, truncated over UDP even with a 1232-byte EDNS buffer.
    # mid: ~600 bytes, truncated only when the query has no EDNS (512-byte limit).
    for i in 1 2 3 4 5 6 7 8; do big+=" \"$(printf "big%d-%0246d" "$i" 0)\""; done
    for i in 1 2 3; do mid+=" \"$(printf "mid%d-%0196d" "$i" 0)\""; done
    # longdmarc: one _dmarc record of about 1,080 bytes in six strings (over 1,024)
    longdmarc='"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test; x-pad="'
    for i in 1 2 3 4; do longdmarc+=" \"$(printf "pad%d-%0245d" "$i" 0)\""; done
    longdmarc+=' "; x-end=yes"'
    many=$(awk 'BEGIN{for(i=1;i<=60;i++) printf "many MX %d mx%02d.many\nmx%02d.many A 127.0.1.%d\n", i, i, i, i}')
    cat >"$k/zones/example.test.zone" <<EOF
\$ORIGIN example.test.
\$TTL 300
@          SOA  ns1 hostmaster 1 3600 600 86400 300
@          NS   ns1
ns1        A    127.0.0.1
@          MX   10 mx1
@          MX   20 mx2
@          MX   20 mx2b
@          MX   30 mx3
@          TXT  "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"
_mta-sts   TXT  "v=STSv1; id=20261126"
_smtp._tls TXT  "v=TLSRPTv1; rua=mailto:tls-reports@example.test"
_dmarc     TXT  "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
mx1        A    127.0.0.1
mx1        AAAA ::1
mx2        A    127.0.0.2
mx2b       A    127.0.0.3
mx3        AAAA ::1
mail       CNAME mx1
alias      CNAME example.test.
cnamemx    MX   10 mail.example.test.
nullmx     MX   0 .
nullmx10   MX   10 .
mixednull  MX   0 .
mixednull  MX   10 mx1
loopmx     MX   10 loop.example.test.
implicit   A    127.0.0.1
implicit   AAAA ::1
dead       MX   10 down
dead       MX   20 mx1
down       A    127.0.0.9
badmx      MX   10 nonexistent.example.test.
nodata     TXT  "exists, but has no MX/A/AAAA"
loop       CNAME loop2
loop2      CNAME loop
big        TXT ${big}
longtxt    MX   10 mx1
ctltxt     MX   10 mx1
_dmarc.ctltxt TXT "v=DMARC1; p=none; x=\027]0;pwned\007 \194\155"
_dmarc.longtxt TXT ${longdmarc}
mid        TXT ${mid}
; DKIM key records for mmx --policy --dkim-selector (public keys made once
; for this zone; no private key is kept): RSA 2048 in testing mode (t=y),
; RSA 512 (too short, RFC 8301), Ed25519 with t=s, one with a p= that is no
; base64, one revoked (p= empty), one with two records
rsa2048._domainkey TXT "v=DKIM1; k=rsa; t=y; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvxXoIxHAsuRvx7RpHRHVPX6T5tpWEGsqOoOSj6WGtznvEaWg78+jy5BA8qJ6DZ3Z2++twACfnOxTYprHJCn+vvF1hHZLsANCA2G7QLBDxC8thF7Mv3+jot3I0+prXv9G7dOAdp1Sx4XypTXc7rCGqThewgOx" "Ah27h1z9GtPvp3sg6DuUY5PONC8ww0TKig4jIbm7iPxDnLQrxpzr6iUUJ5rGpIcW0z8zqIa9mnjS6FaxD1bFlMT6X/QzHNYeTnWcc4jY0Z7nybM+AONZAH8Pe7Uy7AtYhE/dnJpGn/XGGwymZy6/w5tu+m7DMztdzXAFVzBSxM20lKnNip3A1KCVHwIDAQAB"
rsa512._domainkey  TXT "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALEMuaEiRyqDN4eyy3HdqK13Nl/t/eogYaXDmJA7vQJM/NHOl4zjniSr3X2pMqxLD3SCyvw5vnEudYYVBPbGXJcCAwEAAQ=="
ed._domainkey      TXT "v=DKIM1; k=ed25519; t=s; p=Wm3pvvy2ly90PZmRPNZuNjA4OxszsfygW7IEMKuB4ss="
badsyntax._domainkey TXT "v=DKIM1; k=rsa; p=MIGf*not-base64*"
revoked._domainkey TXT "v=DKIM1; k=rsa; p="
twice._domainkey   TXT "v=DKIM1; k=ed25519; p=Wm3pvvy2ly90PZmRPNZuNjA4OxszsfygW7IEMKuB4ss="
twice._domainkey   TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
_25._tcp.mx1 TLSA 3 1 1 ${tlsa}
_${SMTP_PORT}._tcp.mx1 TLSA 3 1 1 ${tlsa}
danebad    MX   10 badtlsa
badtlsa    A    127.0.0.1
_${SMTP_PORT}._tcp.badtlsa TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
_submission._tcp  SRV 0 1 ${SUBM_PORT} mx1
_submissions._tcp SRV 0 1 ${SMTPS_PORT} mx1
_imap._tcp        SRV 0 1 ${IMAP_PORT} mx1
_imaps._tcp       SRV 0 1 ${IMAPS_PORT} mx1
_pop3._tcp        SRV 0 1 ${POP3_PORT} mx1
_pop3s._tcp       SRV 0 1 ${POP3S_PORT} mx1
${many}
EOF
    cat >"$k/zones/xn--bcher-kva.test.zone" <<'EOF'
$ORIGIN xn--bcher-kva.test.
$TTL 300
@     SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
@     NS   ns1.example.test.
@     MX   10 mx1.example.test.
@     MX   20 mx.xn--bcher-kva.test.
@     A    127.0.0.1
mx    A    127.0.0.1
EOF
    cat >"$k/zones/hamburger.test.zone" <<EOF
\$ORIGIN hamburger.test.
\$TTL 300
@     SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
@     NS   ns1.example.test.
@     MX   10 mx
_mta-sts TXT "v=STSv1; id=1"
mx    A    127.0.0.1
${hb_aaaa}
EOF
    cat >"$k/zones/crepes.test.zone" <<'EOF'
$ORIGIN crepes.test.
$TTL 300
@     SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
@     NS   ns1.example.test.
@     MX   10 mx
mx    A    127.0.0.1
EOF
    # signed by knot itself; unbound validates it with its DNSKEY as trust anchor.
    # Postfix takes bob@secure.test (DANE delivery); danebad's MX has a wrong TLSA.
    cat >"$k/zones/secure.test.zone" <<EOF
\$ORIGIN secure.test.
\$TTL 300
@     SOA  ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300
@     NS   ns1.example.test.
@     MX   10 mx
mx    A    127.0.0.1
_25._tcp.mx TLSA 3 1 1 ${tlsa}
_${SMTP_PORT}._tcp.mx TLSA 3 1 1 ${tlsa}
danebad MX 10 badtlsa
badtlsa A 127.0.0.1
_${SMTP_PORT}._tcp.badtlsa TLSA 3 1 1 0000000000000000000000000000000000000000000000000000000000000000
EOF
    cat >"$k/knot.conf" <<EOF
server:
    rundir: "$k/run"
    listen: [ $listen ]
    udp-max-payload: 1232
log:
  - target: "$k/knot.log"
    any: info
database:
    storage: "$k/db"
template:
  - id: default
    storage: "$k/zones"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: example.test
  - domain: xn--bcher-kva.test
  - domain: hamburger.test
  - domain: crepes.test
  - domain: secure.test
    dnssec-signing: on
EOF
    local z
    for z in ${PEERS_EXTRA_ZONES:+"$PEERS_EXTRA_ZONES"/*.zone}; do
        cp "$z" "$k/zones/"
        z=${z##*/}
        echo "  - domain: ${z%.zone}" >>"$k/knot.conf"
    done
}
start_knot() {
    if pid_of knot "$D/knot/knot.conf" >/dev/null; then log "knot is already running"; return 0; fi
    write_knot
    rm -f "$D/knot/run/knot.pid" "$D/knot/run/knot.sock"
    # knot.conf has no "user:" so knotd keeps running as root; -d daemonizes it.
    spawn "$D/knot/knotd.out" knotd -c "$D/knot/knot.conf" -d
    wait_file "$D/knot/run/knot.pid"
    cp "$D/knot/run/knot.pid" "$D/pids/knot.pid"
}
stop_knot() {
    local p
    if p=$(pid_of knot "$D/knot/knot.conf"); then stop_pid knot "$p" knotc -c "$D/knot/knot.conf" stop; fi
    rm -f "$D/pids/knot.pid"
}

# ---------------------------------------------------------------- unbound (validating resolver)
start_unbound() {
    local u="$D/unbound" anchor z listen="127.0.0.1@$UNBOUND_PORT" i
    if pid_of unbound "$u/unbound.conf" >/dev/null; then log "unbound is already running"; return 0; fi
    [ $HAVE_V6 = 1 ] && listen+=" ::1@$UNBOUND_PORT"
    mkdir -p "$u"
    # the KSK of the signed zone, straight from knot, is the trust anchor
    anchor=$(dig +short +time=10 +tries=3 -p "$DNS_PORT" @127.0.0.1 DNSKEY secure.test | awk '$1 == 257')
    [ -n "$anchor" ] || die "knot has no DNSKEY for secure.test (see $D/knot/knot.log)"
    {
        echo "server:"
        for i in $listen; do echo "    interface: $i"; done
        echo "    port: $UNBOUND_PORT"
        echo "    do-daemonize: yes"
        echo "    pidfile: \"$u/unbound.pid\""
        echo "    username: \"\""
        echo "    chroot: \"\""
        echo "    directory: \"$u\""
        echo "    logfile: \"$u/unbound.log\""
        echo "    use-syslog: no"
        echo "    do-not-query-localhost: no"
        echo "    access-control: 127.0.0.0/8 allow"
        echo "    access-control: ::1/128 allow"
        echo "    module-config: \"validator iterator\""
        echo "    trust-anchor: \"secure.test. DNSKEY $anchor\""
        echo "    val-log-level: 2"
        echo "    qname-minimisation: no"
        echo "    cache-max-ttl: 0"
        echo "    local-zone: \"test.\" nodefault" # RFC 6761 names are answered locally otherwise
        echo "remote-control:"
        echo "    control-enable: no"
        for z in example.test xn--bcher-kva.test hamburger.test crepes.test secure.test; do
            echo "stub-zone:"
            echo "    name: \"$z\""
            echo "    stub-addr: 127.0.0.1@$DNS_PORT"
        done
    } >"$u/unbound.conf"
    rm -f "$u/unbound.pid"
    spawn "$u/unbound.out" unbound -c "$u/unbound.conf"
    wait_file "$u/unbound.pid"
    cp "$u/unbound.pid" "$D/pids/unbound.pid"
}
stop_unbound() {
    local p
    if p=$(pid_of unbound "$D/unbound/unbound.conf"); then stop_pid unbound "$p"; fi
    rm -f "$D/pids/unbound.pid"
}
wait_unbound() { # the AD bit for the signed zone means validation works
    local i
    for ((i = 0; i < 3000; i++)); do
        dig +time=1 +tries=1 +dnssec -p "$UNBOUND_PORT" @127.0.0.1 SOA secure.test 2>/dev/null |
            grep -q 'flags:.* ad' && return 0
        sleep 0.02
    done
    die "unbound does not validate secure.test on 127.0.0.1:$UNBOUND_PORT (see $D/unbound/unbound.log)"
}

# ---------------------------------------------------------------- dovecot
write_dovecot() {
    local v="$D/dovecot" listen="127.0.0.1"
    if [ $HAVE_V6 = 1 ]; then listen+=", ::1"; fi
    mkdir -p "$v/run" "$v/state"
    # passwd-file: user:{scheme}password:uid:gid:gecos:home:shell. Lookups use only the
    # local part (username_format=%n), so "bob@hamburger.test" logs in as "bob".
    cat >"$v/users" <<EOF
bob:{PLAIN}hungry:$VMAIL_UID:$VMAIL_GID::$D/mail/bob::
alice:{PLAIN}wonderland:$VMAIL_UID:$VMAIL_GID::$D/mail/alice::
EOF
    local u
    for u in $PEERS_EXTRA_USERS; do
        echo "$u:{PLAIN}hungry:$VMAIL_UID:$VMAIL_GID::$D/mail/$u::" >>"$v/users"
    done
    chgrp dovecot "$v/users"
    chmod 0640 "$v/users"
    cat >"$v/dovecot.conf" <<EOF
# private instance: own base_dir/state_dir so it never meets a system dovecot
base_dir = $v/run
state_dir = $v/state
log_path = $v/dovecot.log
instance_name = mailpipe-peers-dovecot
protocols = imap pop3
listen = $listen
ssl = yes
ssl_cert = <$D/tls/server-chain.pem
ssl_key = <$D/tls/server.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
# apop (RFC 1939 APOP, mfetch --auth apop) works because the passdb holds plain
# passwords; Dovecot marks it private, so neither IMAP's AUTH= list nor the
# SASL list Postfix offers changes: only the POP3 greeting gains a <timestamp>
# scram-sha-256 (msend --auth scram-sha-256, through Postfix's SASL) is
# derived from the same plain passwords
auth_mechanisms = plain login cram-md5 apop scram-sha-256
auth_verbose = yes
# failed logins must fail fast in tests
auth_failure_delay = 0
mail_location = maildir:~/Maildir
first_valid_uid = 100
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $v/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $v/users
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
# no growing per-client penalty after failed logins
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# postfix smtpd authenticates SMTP AUTH clients through this socket
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
EOF
}
start_dovecot() {
    if pid_of dovecot "$D/dovecot/dovecot.conf" >/dev/null; then log "dovecot is already running"; return 0; fi
    write_dovecot
    rm -f "$D/dovecot/run/master.pid"
    # dovecot forks into the background and writes base_dir/master.pid; it would keep
    # our stderr open forever, hence spawn's redirections.
    spawn "$D/dovecot/dovecot.out" dovecot -c "$D/dovecot/dovecot.conf"
    wait_file "$D/dovecot/run/master.pid"
    cp "$D/dovecot/run/master.pid" "$D/pids/dovecot.pid"
}
# plain SIGTERM to the master: "doveadm stop" does the same but waits longer
stop_dovecot() {
    local p
    if p=$(pid_of dovecot "$D/dovecot/dovecot.conf"); then stop_pid dovecot "$p"; fi
    rm -f "$D/pids/dovecot.pid"
}

# ---------------------------------------------------------------- postfix
write_postfix() {
    local pf="$D/postfix" q u protos=ipv4
    if [ $HAVE_V6 = 1 ]; then protos=all; fi
    mkdir -p "$pf/etc" "$pf/spool" "$pf/data"
    chown postfix:postfix "$pf/data"
    chmod 0700 "$pf/data"
    # Lay out the queue exactly as /etc/postfix/postfix-files describes it and drop the
    # "quick-start" marker: postfix-script then skips its slow first-start checks.
    chown root:root "$pf/spool"
    chmod 0755 "$pf/spool"
    for q in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        mkdir -p "$pf/spool/$q"
        chown postfix:root "$pf/spool/$q"
        chmod 0700 "$pf/spool/$q"
    done
    mkdir -p "$pf/spool/maildrop" "$pf/spool/public" "$pf/spool/pid"
    chown postfix:postdrop "$pf/spool/maildrop" "$pf/spool/public"
    chmod 0730 "$pf/spool/maildrop"
    chmod 0710 "$pf/spool/public"
    chown root:root "$pf/spool/pid"
    chmod 0755 "$pf/spool/pid"
    : >"$pf/spool/quick-start"
    for u in bob alice $PEERS_EXTRA_USERS; do mkdir -p "$D/mail/$u/Maildir"/{cur,new,tmp}; done
    chown -R "$VMAIL_UID:$VMAIL_GID" "$D/mail"
    # Paths are relative to virtual_mailbox_base ($D/mail); a trailing / means Maildir.
    # These are the same Maildirs dovecot serves (home $D/mail/USER, maildir:~/Maildir).
    cat >"$pf/etc/vmailbox" <<'EOF'
bob@example.test        bob/Maildir/
bob@xn--bcher-kva.test  bob/Maildir/
bob@hamburger.test      bob/Maildir/
alice@example.test      alice/Maildir/
alice@crepes.test       alice/Maildir/
bob@secure.test         bob/Maildir/
EOF
    for u in $PEERS_EXTRA_DOMAINS; do echo "@$u bob/Maildir/" >>"$pf/etc/vmailbox"; done
    cat >"$pf/etc/valias" <<'EOF'
postmaster@example.test    bob@example.test
postmaster@hamburger.test  bob@hamburger.test
postmaster@crepes.test     alice@crepes.test
EOF
    cat >"$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/spool
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
# postlogd writes the log itself (Postfix >= 3.4), no syslog needed
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
myhostname = mx1.example.test
mydomain = example.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:local delivery disabled
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = $protos
mynetworks = 127.0.0.0/8 [::1]/128
# Keep everything on loopback: anything for a non-test domain fails at RCPT time,
# the SMTP client never uses DNS, and smtpd never resolves client addresses.
relayhost =
default_transport = error:outbound mail disabled in test sandbox
relay_transport = error:outbound mail disabled in test sandbox
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
virtual_mailbox_domains = example.test xn--bcher-kva.test hamburger.test crepes.test secure.test $PEERS_EXTRA_DOMAINS
virtual_mailbox_base = $D/mail
virtual_mailbox_maps = texthash:$pf/etc/vmailbox
virtual_alias_maps = texthash:$pf/etc/valias
virtual_uid_maps = static:$VMAIL_UID
virtual_gid_maps = static:$VMAIL_GID
virtual_mailbox_limit = 0
message_size_limit = 52428800
recipient_delimiter = +
smtputf8_enable = yes
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP mailpipe peers test MTA
smtpd_error_sleep_time = 0s
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
delay_warning_time = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
smtpd_tls_chain_files = $D/tls/server.key, $D/tls/server-chain.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/dovecot/run/auth-postfix
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated reject_unauth_destination
EOF
    {
        local h hosts="127.0.0.1"
        if [ $HAVE_V6 = 1 ]; then hosts+=" [::1]"; fi
        for h in $hosts; do
            cat <<EOF
$h:$SMTP_PORT  inet n - n - - smtpd
$h:$SUBM_PORT  inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
$h:$SMTPS_PORT inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
EOF
        done
        cat <<'EOF'
# name     type  private unpriv chroot wakeup maxproc command  (never chrooted)
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
smtp       unix  - - n -     - smtp
relay      unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
local      unix  - n n -     - local
virtual    unix  - n n -     - virtual
lmtp       unix  - - n -     - lmtp
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
    } >"$pf/etc/master.cf"
    # Postfix treats a main.cf younger than a second as possibly half-written and sleeps
    # before reading it; an old mtime saves 1-2 s per postfix/postconf call.
    touch -d '-1 minute' "$pf/etc"/*
}
start_postfix() {
    if pid_of postfix master >/dev/null; then log "postfix is already running"; return 0; fi
    write_postfix
    # postfix reports most problems in maillog_file rather than on stderr
    if ! spawn "$D/postfix/start.log" postfix -c "$D/postfix/etc" start; then
        cat "$D/postfix/start.log" >&2
        tail -5 "$D/postfix/maillog" >&2 || true
        die "postfix did not start"
    fi
    wait_file "$D/postfix/spool/pid/master.pid"
    tr -dc 0-9 <"$D/postfix/spool/pid/master.pid" >"$D/pids/postfix.pid"
}
stop_postfix() {
    local p
    if p=$(pid_of postfix master); then stop_pid postfix "$p" postfix -c "$D/postfix/etc" stop; fi
    rm -f "$D/pids/postfix.pid"
}

# ---------------------------------------------------------------- smtp-sink
start_sink() { # NAME PORT [smtp-sink options...]
    local n=$1 port=$2
    shift 2
    if pid_of "$n" "127.0.0.1:$port" >/dev/null; then log "$n is already running"; return 0; fi
    mkdir -p "$D/sink/msgs"
    chown postfix "$D/sink/msgs"
    # root must name a user to switch to (-u); the trailing 256 is the listen backlog
    setsid smtp-sink -u postfix -h sink.example.test "$@" "127.0.0.1:$port" 256 \
        </dev/null >"$D/sink/$n.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    echo $! >"$D/pids/$n.pid"
}
stop_sink() {
    local p
    if p=$(pid_of "$1" smtp-sink); then stop_pid "$1" "$p"; fi
    rm -f "$D/pids/$1.pid"
}

# ---------------------------------------------------------------- subcommands
preflight() { # fail early and clearly if another program holds one of our ports
    local p
    if ! pid_of knot "$D/knot/knot.conf" >/dev/null; then
        port_free_or_die udp "$DNS_PORT"
        port_free_or_die tcp "$DNS_PORT"
    fi
    if ! pid_of unbound "$D/unbound/unbound.conf" >/dev/null; then
        port_free_or_die udp "$UNBOUND_PORT"
        port_free_or_die tcp "$UNBOUND_PORT"
    fi
    if ! pid_of dovecot "$D/dovecot/dovecot.conf" >/dev/null; then
        for p in $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT; do port_free_or_die tcp "$p"; done
    fi
    if ! pid_of postfix master >/dev/null; then
        for p in $SMTP_PORT $SUBM_PORT $SMTPS_PORT; do port_free_or_die tcp "$p"; done
    fi
    pid_of smtp-sink "127.0.0.1:$SINK_PORT" >/dev/null || port_free_or_die tcp "$SINK_PORT"
    pid_of smtp-sink-dump "127.0.0.1:$SINKDUMP_PORT" >/dev/null || port_free_or_die tcp "$SINKDUMP_PORT"
}
write_ports() {
    # CA_FILE, MAILDIR_BOB and MAILDIR_ALICE duplicate CA, BOB_MAILDIR and ALICE_MAILDIR.
    cat >"$D/ports.env" <<EOF
PEERS_DIR=$D
HAVE_V6=$HAVE_V6
DNS_SERVER=127.0.0.1
DNS_PORT=$DNS_PORT
UNBOUND_PORT=$UNBOUND_PORT
SMTP_PORT=$SMTP_PORT
SUBM_PORT=$SUBM_PORT
SMTPS_PORT=$SMTPS_PORT
SINK_PORT=$SINK_PORT
SINKDUMP_PORT=$SINKDUMP_PORT
SINKDUMP_DIR=$D/sink/msgs
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
POP3_PORT=$POP3_PORT
POP3S_PORT=$POP3S_PORT
CA=$D/tls/ca.crt
CA_FILE=$D/tls/ca.crt
BOB_USER=bob
BOB_PASS=hungry
BOB_ADDR=bob@hamburger.test
BOB_MAILDIR=$D/mail/bob/Maildir
ALICE_USER=alice
ALICE_PASS=wonderland
ALICE_ADDR=alice@crepes.test
ALICE_MAILDIR=$D/mail/alice/Maildir
MAILDIR_BOB=$D/mail/bob/Maildir
MAILDIR_ALICE=$D/mail/alice/Maildir
POSTFIX_LOG=$D/postfix/maillog
DOVECOT_LOG=$D/dovecot/dovecot.log
KNOT_LOG=$D/knot/knot.log
PIDS_DIR=$D/pids
EOF
}
cmd_start() {
    local t0 j rc=0 p jobs_=()
    t0=$(now)
    mkdir -p "$D/pids"
    preflight
    # on any failure, take down whatever this DIR already started
    trap 'rc=$?; if [ $rc != 0 ]; then log "start failed (rc=$rc), stopping what was started"; cmd_stop; fi' EXIT
    make_tls
    # The daemons do not need each other to start (postfix reaches dovecot's auth
    # socket only when a client authenticates), so launch them side by side.
    start_knot & jobs_+=($!)
    start_dovecot & jobs_+=($!)
    start_postfix & jobs_+=($!)
    start_sink smtp-sink "$SINK_PORT" & jobs_+=($!)
    start_sink smtp-sink-dump "$SINKDUMP_PORT" -d "$D/sink/msgs/" & jobs_+=($!)
    for j in "${jobs_[@]}"; do wait "$j" || rc=1; done
    if [ $rc != 0 ]; then
        # the caller may remove $D: what went wrong goes to stderr now
        local f
        for f in "$D"/*/*.log "$D/postfix/maillog"; do
            [ -s "$f" ] || continue
            echo "== ${f#"$D"/} (last lines)" >&2
            tail -n 15 "$f" >&2
        done
        die "a daemon failed to start (logs are under $D)"
    fi
    wait_dns
    start_unbound
    wait_unbound
    for p in $IMAP_PORT $IMAPS_PORT $POP3_PORT $POP3S_PORT $SMTP_PORT $SUBM_PORT $SMTPS_PORT \
        $SINK_PORT $SINKDUMP_PORT; do
        wait_tcp 127.0.0.1 "$p" "port"
    done
    if [ $HAVE_V6 = 1 ]; then
        for p in $SMTP_PORT $SUBM_PORT $SMTPS_PORT $IMAP_PORT $POP3_PORT; do wait_tcp ::1 "$p" "port"; done
    fi
    write_ports
    trap - EXIT
    cat "$D/ports.env"
    log "all peers up in $(since "$t0")"
}
cmd_stop() {
    local t0 j=()
    t0=$(now)
    [ -d "$D/pids" ] || { log "no $D/pids: nothing to stop"; return 0; }
    stop_sink smtp-sink & j+=($!)
    stop_sink smtp-sink-dump & j+=($!)
    stop_postfix & j+=($!)
    stop_dovecot & j+=($!)
    stop_knot & j+=($!)
    stop_unbound & j+=($!)
    stop_exim & j+=($!)
    wait "${j[@]}" || true
    log "stopped in $(since "$t0")"
}
cmd_status() {
    local n p rc=0
    for n in knot:"$D/knot/knot.conf" unbound:"$D/unbound/unbound.conf" dovecot:"$D/dovecot/dovecot.conf" postfix:master \
        smtp-sink:"127.0.0.1:$SINK_PORT" smtp-sink-dump:"127.0.0.1:$SINKDUMP_PORT"; do
        if p=$(pid_of "${n%%:*}" "${n#*:}"); then
            echo "${n%%:*} running pid $p"
        else
            echo "${n%%:*} stopped"
            rc=1
        fi
    done
    return $rc
}
# download_debs DIR PKG...: the .deb files of those missing from DIR (for dpkg -x)
download_debs() {
    local dir=$1 p missing=""
    shift
    for p; do
        compgen -G "$dir/${p}_*.deb" >/dev/null || missing+=" $p"
    done
    [ -n "$missing" ] || return 0
    log "downloading (for dpkg -x, not installed):$missing"
    mkdir -p "$dir"
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    (cd "$dir" && apt-get download $missing)
}
cmd_install() {
    local t0 added="" p missing=""
    t0=$(now)
    # Package maintainer scripts must not launch the distribution's own daemons on the
    # standard ports: deny them through policy-rc.d for the duration of the install.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        added=1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # Ask apt only for what is absent; naming an installed package can trigger an
    # upgrade (openssl/ca-certificates rehash for a long time).
    for p in $PKGS ${WITH_OPT:+$OPT_PKGS}; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=" $p"
    done
    if [ -n "$missing" ]; then
        log "installing:$missing"
        apt-get -o DPkg::Lock::Timeout=600 update # a fresh image may have no package lists
        # shellcheck disable=SC2086 # word splitting of the package list is intended
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $missing
    else
        log "all packages present"
    fi
    # shellcheck disable=SC2086 # word splitting of the package lists is intended
    download_debs "$COURIER_DEBS" $COURIER_PKGS
    # shellcheck disable=SC2086
    download_debs "$EXIM_DEBS" $EXIM_PKGS
    [ -z "$added" ] || rm -f /usr/sbin/policy-rc.d
    log "install took $(since "$t0")"
}

# ---------------------------------------------------------------- check
CHK_PASS=0 CHK_FAIL=0
ok() { echo "ok   - $*"; CHK_PASS=$((CHK_PASS + 1)); }
nok() { echo "FAIL - $*"; CHK_FAIL=$((CHK_FAIL + 1)); }
expect() { # description command...
    local d=$1
    shift
    if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi
}
has() { grep -Eq -- "$1" <<<"$2"; }
# first file in Maildir MD/new whose header has "Subject: S"
find_subject() { grep -l "^Subject: $2\$" "$1"/new/* 2>/dev/null | head -1 || true; }
wait_subject() { # MD SUBJECT: up to ~5 s
    local n f
    for ((n = 0; n < 250; n++)); do
        f=$(find_subject "$1" "$2")
        [ -n "$f" ] && { echo "$f"; return 0; }
        sleep 0.02
    done
    return 1
}

# shellcheck disable=SC2015 # "test && ok || nok": ok always succeeds
cmd_check() {
    [ -s "$D/ports.env" ] || die "no $D/ports.env: run \"peers.sh start $D\" first"
    # shellcheck disable=SC1091
    . "$D/ports.env"
    local dig="dig -p $DNS_PORT @127.0.0.1 +time=10 +tries=3" out md new id uid n m t0 f
    t0=$(now)
    echo "# DNS: knot on 127.0.0.1:$DNS_PORT"
    out=$($dig +short MX example.test | sort -n)
    [ "$(wc -l <<<"$out")" = 4 ] && [ "$(head -1 <<<"$out")" = "10 mx1.example.test." ] &&
        ok "MX example.test: 4 records, pref 10/20/20/30" || nok "MX example.test: $out"
    [ "$($dig +tcp +short MX example.test | wc -l)" = 4 ] && ok "MX example.test over TCP" || nok "MX over TCP"
    [ "$($dig +short AAAA mx1.example.test)" = "::1" ] && ok "AAAA mx1.example.test" || nok "AAAA mx1"
    [ "$($dig +short MX nullmx.example.test)" = "0 ." ] && ok "null MX (RFC 7505) nullmx.example.test" || nok "null MX"
    [ -z "$($dig +short MX implicit.example.test)" ] && [ "$($dig +short A implicit.example.test)" = 127.0.0.1 ] &&
        ok "implicit.example.test: A but no MX" || nok "implicit MX"
    has 'CNAME' "$($dig MX alias.example.test)" && ok "alias.example.test is a CNAME to the apex" || nok "CNAME"
    has 'flags:.* tc' "$($dig +noall +comments +ignore +noedns TXT big.example.test)" &&
        ok "big TXT: TC over UDP without EDNS" || nok "big TXT TC no EDNS"
    has 'flags:.* tc' "$($dig +noall +comments +ignore TXT big.example.test)" &&
        ok "big TXT: TC over UDP with EDNS 1232" || nok "big TXT TC EDNS"
    has 'Truncated, retrying in TCP mode' "$($dig TXT big.example.test 2>&1)" &&
        ok "dig falls back to TCP for big TXT" || nok "dig TCP retry"
    [ "$($dig +tcp +short TXT big.example.test | wc -c)" -gt 2000 ] && ok "big TXT over TCP: > 2000 bytes" || nok "big TXT TCP"
    has 'flags:.* tc' "$($dig +noall +comments +ignore +noedns TXT mid.example.test)" &&
        ok "mid TXT: TC without EDNS" || nok "mid TXT TC"
    has 'flags:.* tc' "$($dig +noall +comments +ignore TXT mid.example.test)" &&
        nok "mid TXT truncated with EDNS" || ok "mid TXT: fits with EDNS 1232"
    has 'flags:.* tc' "$($dig +noall +comments +ignore +noedns MX many.example.test)" &&
        ok "many.example.test (60 MX): TC over UDP" || nok "many MX TC"
    [ "$($dig +tcp +short MX many.example.test | wc -l)" = 60 ] && ok "60 MX over TCP" || nok "many MX TCP"
    has '^3 1 1 ' "$($dig +short TLSA _25._tcp.mx1.example.test)" &&
        ok "TLSA 3 1 1 at _25._tcp.mx1.example.test" || nok "TLSA"
    [ "$($dig +short MX xn--bcher-kva.test | wc -l)" = 2 ] && ok "IDN zone xn--bcher-kva.test: 2 MX" || nok "IDN MX"
    has mx1.example.test "$($dig +idnin +short MX bücher.test 2>/dev/null)" && ok "dig +idnin MX bücher.test" || nok "dig IDN input"
    has 'status: NXDOMAIN' "$($dig nonexistent.example.test)" && ok "NXDOMAIN" || nok "NXDOMAIN"
    out=$($dig MX nodata.example.test)
    has 'status: NOERROR' "$out" && has 'ANSWER: 0,' "$out" && ok "NODATA (NOERROR, no answers)" || nok "NODATA"
    has " $IMAPS_PORT mx1" "$($dig +short SRV _imaps._tcp.example.test)" && ok "SRV _imaps._tcp.example.test" || nok "SRV"
    [ "$($dig +short MX hamburger.test)" = "10 mx.hamburger.test." ] && ok "MX hamburger.test -> 10 mx.hamburger.test" || nok "MX hamburger.test"
    [ "$($dig +short A mx.hamburger.test)" = 127.0.0.1 ] && ok "A mx.hamburger.test" || nok "A mx.hamburger.test"
    if [ "$HAVE_V6" = 1 ]; then
        [ "$($dig +short AAAA mx.hamburger.test)" = "::1" ] && ok "AAAA mx.hamburger.test" || nok "AAAA mx.hamburger.test"
    fi
    [ "$($dig +short MX crepes.test)" = "10 mx.crepes.test." ] && [ "$($dig +short A mx.crepes.test)" = 127.0.0.1 ] &&
        ok "MX crepes.test -> mx.crepes.test -> 127.0.0.1" || nok "crepes.test"

    echo "# SMTP: postfix 127.0.0.1:$SMTP_PORT/$SUBM_PORT/$SMTPS_PORT -> Maildir -> dovecot"
    md=$BOB_MAILDIR
    id="peers-check-$$-$(now)"
    expect "swaks STARTTLS (CA-verified) + AUTH PLAIN -> bob@example.test" \
        swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo client.example.test --from alice@example.test \
        --to bob@example.test --tls --tls-verify --tls-ca-path "$CA" -a PLAIN -au bob -ap hungry \
        --header "Subject: $id" --header "Message-Id: <$id@example.test>" --body "hello from peers.sh"
    out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo c.example.test --to bob@example.test \
        -a PLAIN -au bob -ap hungry 2>&1 || true)
    has 'Host did not advertise authentication' "$out" && ok "no AUTH before STARTTLS (smtpd_tls_auth_only)" || nok "AUTH before STARTTLS"
    expect "submission :$SUBM_PORT STARTTLS + AUTH LOGIN (user@domain)" \
        swaks --server 127.0.0.1 --port "$SUBM_PORT" --helo c.example.test --from bob@example.test \
        --to alice@example.test --tls --tls-verify --tls-ca-path "$CA" -a LOGIN -au bob@example.test -ap hungry
    expect "smtps :$SMTPS_PORT implicit TLS + AUTH CRAM-MD5" \
        swaks --server 127.0.0.1 --port "$SMTPS_PORT" --helo c.example.test --from bob@example.test \
        --to alice@example.test --tlsc --tls-verify --tls-ca-path "$CA" -a CRAM-MD5 -au bob -ap hungry
    out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo c.example.test --to bob@example.test --tls \
        -a PLAIN -au bob -ap wrong 2>&1 || true)
    has '^<(~|\*)\* 535' "$out" && ok "wrong password -> 535" || nok "wrong password: $out"
    out=$(swaks --server 127.0.0.1 --port "$SUBM_PORT" --helo c.example.test --to bob@example.test 2>&1 || true)
    has '^<(~|\*)\* 530' "$out" && ok "submission without STARTTLS -> 530" || nok "submission 530"
    out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo c.example.test --to bob@example.org 2>&1 || true)
    has '^<(~|\*)\* 550 .*outbound mail disabled' "$out" &&
        ok "RCPT to example.org -> 550 (error transport, nothing leaves loopback)" || nok "outbound rejected: $out"
    if [ "$HAVE_V6" = 1 ]; then
        out=$(swaks --server ::1 --port "$SMTP_PORT" --helo c.example.test --to nobody@example.test 2>&1 || true)
        has '^<(~|\*)\* 550' "$out" && ok "[::1]: unknown virtual user -> 550" || nok "::1 unknown user 550: $out"
    fi
    printf 'From: alice@example.test\r\nTo: bob@b\303\274cher.test\r\nSubject: %s-idn\r\n\r\nidn\r\n' "$id" |
        curl -sS "smtp://127.0.0.1:$SMTP_PORT" --mail-from alice@example.test --mail-rcpt 'bob@bücher.test' -T - &&
        ok "curl SMTP (SMTPUTF8) -> bob@bücher.test" || nok "curl smtp IDN"
    new=$(wait_subject "$md" "$id") && wait_subject "$md" "$id-idn" >/dev/null &&
        ok "both delivered into Bob's Maildir: new/$(basename "$new")" || nok "not delivered to $md"
    out=$(curl -sS "imap://127.0.0.1:$IMAP_PORT/INBOX" -u bob:hungry -X "UID SEARCH HEADER Message-Id $id" | tr -d '\r')
    uid=$(awk '/SEARCH/{print $NF}' <<<"$out")
    [ -n "$uid" ] && ok "IMAP UID SEARCH finds it: $out" || nok "IMAP SEARCH: $out"
    has "hello from peers.sh" "$(curl -sS --ssl-reqd --cacert "$CA" "imap://127.0.0.1:$IMAP_PORT/INBOX;UID=$uid" -u bob:hungry)" &&
        ok "IMAP STARTTLS (verified) UID FETCH $uid" || nok "IMAP STARTTLS fetch"
    has "Subject: $id" "$(curl -sS --cacert "$CA" "imaps://127.0.0.1:$IMAPS_PORT/INBOX;UID=$uid" -u bob@example.test:hungry)" &&
        ok "IMAPS (verified) UID FETCH, login bob@example.test" || nok "IMAPS fetch"
    if [ "$HAVE_V6" = 1 ]; then
        curl -sS "imap://[::1]:$IMAP_PORT/INBOX" -u bob:hungry -X 'NOOP' >/dev/null && ok "IMAP on [::1]" || nok "IMAP ::1"
    fi
    curl -sS "imap://127.0.0.1:$IMAP_PORT/INBOX" -u bob:wrong >/dev/null 2>&1 &&
        nok "IMAP accepted a wrong password" || ok "IMAP wrong password rejected"
    n=""
    out=$(curl -sS "pop3://127.0.0.1:$POP3_PORT/" -u bob:hungry | tr -d '\r' | awk '{print $1}' | sort -rn | head -5)
    for m in $out; do # newest first
        if has "^Subject: $id"$'\r'"?\$" "$(curl -sS "pop3://127.0.0.1:$POP3_PORT/$m" -u bob:hungry)"; then n=$m; break; fi
    done
    [ -n "$n" ] && ok "POP3 LIST + RETR $n" || nok "POP3 RETR"
    has "Subject: $id" "$(curl -sS --ssl-reqd --cacert "$CA" "pop3://127.0.0.1:$POP3_PORT/$n" -u bob:hungry)" &&
        ok "POP3 STLS (verified) RETR $n" || nok "POP3 STLS"
    has "Subject: $id" "$(curl -sS --cacert "$CA" "pop3s://127.0.0.1:$POP3S_PORT/$n" -u bob:hungry)" &&
        ok "POP3S (verified) RETR $n" || nok "POP3S"
    if command -v mpop >/dev/null; then
        : >"$D/check.mbox"
        expect "mpop STLS (verified) into an mbox, --keep" mpop --host=127.0.0.1 --port="$POP3_PORT" --auth=user \
            --user=bob --passwordeval='echo hungry' --tls=on --tls-starttls=on --tls-trust-file="$CA" \
            --delivery=mbox,"$D/check.mbox" --keep=on --only-new=off --uidls-file="$D/check.uidls"
        grep -q "^Subject: $id" "$D/check.mbox" && ok "mpop got the message" || nok "mpop message"
    fi

    echo "# demo path: alice@crepes.test -> bob@hamburger.test (and back)"
    expect "submission :$SUBM_PORT STARTTLS + AUTH PLAIN as alice@crepes.test -> bob@hamburger.test" \
        swaks --server 127.0.0.1 --port "$SUBM_PORT" --helo mx.crepes.test --from alice@crepes.test \
        --to bob@hamburger.test --tls --tls-verify --tls-ca-path "$CA" -a PLAIN -au alice@crepes.test -ap wonderland \
        --header "Subject: $id-hamburger" --header "Message-Id: <$id-hamburger@crepes.test>" --body "une crepe, Bob?"
    f=$(wait_subject "$BOB_MAILDIR" "$id-hamburger") && ok "bob@hamburger.test delivered into Bob's Maildir: new/$(basename "$f")" ||
        nok "bob@hamburger.test not delivered to $BOB_MAILDIR"
    uid=$(curl -sS --cacert "$CA" "imaps://127.0.0.1:$IMAPS_PORT/INBOX" -u bob@hamburger.test:hungry \
        -X "UID SEARCH HEADER Message-Id $id-hamburger" | tr -d '\r' | awk '/SEARCH/{print $NF}')
    [ -n "$uid" ] && has "une crepe, Bob" "$(curl -sS --cacert "$CA" "imaps://127.0.0.1:$IMAPS_PORT/INBOX;UID=$uid" \
        -u bob@hamburger.test:hungry)" && ok "IMAPS (verified) as bob@hamburger.test fetches it (UID $uid)" ||
        nok "IMAPS bob@hamburger.test"
    expect "smtp :$SMTP_PORT STARTTLS (no AUTH) bob@hamburger.test -> alice@crepes.test" \
        swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo mx.hamburger.test --from bob@hamburger.test \
        --to alice@crepes.test --tls --tls-verify --tls-ca-path "$CA" --header "Subject: $id-crepes"
    f=$(wait_subject "$ALICE_MAILDIR" "$id-crepes") && ok "alice@crepes.test delivered into Alice's Maildir" ||
        nok "alice@crepes.test not delivered to $ALICE_MAILDIR"
    out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo c.example.test --to carol@hamburger.test 2>&1 || true)
    has '^<(~|\*)\* 550' "$out" && ok "unknown user carol@hamburger.test -> 550" || nok "carol@hamburger.test: $out"

    echo "# smtp-sink 127.0.0.1:$SINK_PORT (discard) and :$SINKDUMP_PORT (dump to $D/sink/msgs)"
    expect "smtp-source -> smtp-sink, 200 msgs, 5 sessions" smtp-source -s 5 -m 200 "127.0.0.1:$SINK_PORT"
    expect "swaks -> smtp-sink-dump" swaks --server 127.0.0.1 --port "$SINKDUMP_PORT" --helo c.example.test \
        --to x@example.test --header "Subject: $id-sink"
    for ((n = 0; n < 100; n++)); do
        grep -qsl "Subject: $id-sink" "$D/sink/msgs"/* && break
        sleep 0.02
    done
    grep -qsl "Subject: $id-sink" "$D/sink/msgs"/* && ok "smtp-sink -d wrote the transaction to disk" || nok "sink dump"
    echo "# check took $(since "$t0")"
    echo "$CHK_PASS passed, $CHK_FAIL failed"
    [ "$CHK_FAIL" = 0 ]
}

# ---------------------------------------------------------------- main
# ---------------------------------------------------------------- courier
# (see the top of the file) what runs inside the private mount namespace
courier_inner() {
    local C=$D/courier R=$D/courier/root i tls
    mount --bind "$C/etc" /etc/courier
    mount --bind "$C/run" /run/courier
    mount --bind "$R/usr/lib/courier-authlib" /usr/lib/courier-authlib
    export LD_LIBRARY_PATH=$R/usr/lib:$R/usr/lib/x86_64-linux-gnu
    "$R/usr/sbin/userdb" bob set uid="$VMAIL_UID" gid="$VMAIL_GID" home="$C/mail/bob" mail="$C/mail/bob/Maildir"
    "$R/usr/sbin/userdbpw" -md5 <<<hungry | "$R/usr/sbin/userdb" bob set systempw
    sed "s#/usr/lib/courier/courier-authlib/makedatprog#$R&#" "$R/usr/sbin/makeuserdb" >"$C/makeuserdb"
    perl "$C/makeuserdb"
    "$R/usr/lib/courier/courier-authlib/authdaemond" </dev/null >>"$C/authdaemond.log" 2>&1 &
    echo $! >"$D/pids/courier-authdaemond.pid"
    for ((i = 0; i < 3000; i++)); do [ -S "$C/run/authdaemon/socket" ] && break; sleep 0.02; done
    # what couriertcpd would set (courierpop3login needs the ports)
    export TCPREMOTEIP=127.0.0.1 TCPREMOTEPORT=0 TCPLOCALIP=127.0.0.1 TCPLOCALPORT=0
    export IMAP_ENHANCEDIDLE=0 AUTHMODULES=authdaemon
    export IMAP_CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE IDLE"
    tls="bind=127.0.0.1,reuseaddr,fork,cert=$D/tls/server.crt,key=$D/tls/server.key,verify=0"
    socat "OPENSSL-LISTEN:$COURIER_IMAPS_PORT,$tls" \
        EXEC:"$R/usr/lib/courier/courier/imaplogin $R/usr/bin/imapd Maildir" \
        </dev/null >>"$C/imapd.log" 2>&1 &
    echo $! >"$D/pids/courier-imapd.pid"
    socat "OPENSSL-LISTEN:$COURIER_POP3S_PORT,$tls" \
        EXEC:"$R/usr/lib/courier/courier/courierpop3login $R/usr/lib/courier/courier/courierpop3d Maildir" \
        </dev/null >>"$C/pop3d.log" 2>&1 &
    echo $! >"$D/pids/courier-pop3d.pid"
    wait
}
cmd_courier-start() {
    local C=$D/courier f m
    [ -s "$D/tls/server.crt" ] || die "courier-start needs a started DIR (its certificate)"
    port_free_or_die tcp "$COURIER_IMAPS_PORT"
    port_free_or_die tcp "$COURIER_POP3S_PORT"
    mkdir -p "$C/etc" "$C/run/authdaemon" "$C/root" "$D/pids"
    for f in $COURIER_PKGS; do
        m=$(compgen -G "$COURIER_DEBS/${f}_*.deb" | head -n 1) || die "no $f in $COURIER_DEBS: run peers.sh install"
        dpkg -x "$m" "$C/root"
    done
    printf '%s\n' 'authmodulelist="authuserdb"' 'authmodulelistorig="authuserdb"' 'daemons=1' \
        'authdaemonvar=/run/courier/authdaemon' 'DEBUG_LOGIN=0' 'DEFAULTOPTIONS=""' 'LOGGEROPTS=""' \
        >"$C/etc/authdaemonrc"
    rm -f "$C"/etc/userdb*
    mkdir -p "$C/mail/bob/Maildir/new" "$C/mail/bob/Maildir/cur" "$C/mail/bob/Maildir/tmp"
    chown -R "$VMAIL_UID:$VMAIL_GID" "$C/mail"
    chmod -R go-rwx "$C/mail/bob/Maildir"
    mkdir -p /etc/courier /run/courier /usr/lib/courier-authlib # the mount points
    setsid unshare -m --propagation private bash -c \
        "set -e; . '$0'; D='$D'; COURIER_IMAPS_PORT=$COURIER_IMAPS_PORT COURIER_POP3S_PORT=$COURIER_POP3S_PORT; courier_inner" \
        </dev/null >>"$C/courier.out" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    echo $! >"$D/pids/courier.pid"
    wait_tcp 127.0.0.1 "$COURIER_IMAPS_PORT" "courier imapd"
    wait_tcp 127.0.0.1 "$COURIER_POP3S_PORT" "courier pop3d"
    echo "COURIER_IMAPS_PORT=$COURIER_IMAPS_PORT"
    echo "COURIER_POP3S_PORT=$COURIER_POP3S_PORT"
    echo "COURIER_MAILDIR_BOB=$C/mail/bob/Maildir"
}
cmd_courier-stop() {
    local n p
    for n in imapd:socat pop3d:socat authdaemond:authdaemond; do
        if p=$(pid_of "courier-${n%%:*}" "${n#*:}"); then stop_pid "courier-${n%%:*}" "$p"; fi
    done
    # the namespace's shell ends once its daemons have
    if p=$(pid_of courier courier_inner); then stop_pid courier "$p"; fi
    rm -f "$D"/pids/courier*.pid
}

# ---------------------------------------------------------------- exim
# (see the top of the file) Exim's run time configuration: everything under DIR/exim
write_exim() {
    local X=$D/exim ifs="127.0.0.1.$EXIM_SMTP_PORT ; 127.0.0.1.$EXIM_SMTPS_PORT"
    [ $HAVE_V6 = 1 ] && ifs+=" ; ::1.$EXIM_SMTP_PORT ; ::1.$EXIM_SMTPS_PORT"
    cat >"$X/exim.conf" <<EOF
# private instance: its own spool, log and Maildirs; no DNS, no ident, no relaying
exim_path = $X/root/usr/sbin/exim4
spool_directory = $X/spool
log_file_path = $X/log/%slog
pid_file_path = $X/exim.pid
keep_environment =
primary_hostname = mx1.example.test
qualify_domain = example.test
local_interfaces = <; $ifs
daemon_smtp_ports = $EXIM_SMTP_PORT : $EXIM_SMTPS_PORT
tls_on_connect_ports = $EXIM_SMTPS_PORT
tls_advertise_hosts = *
tls_certificate = $X/tls/server-chain.pem
tls_privatekey = $X/tls/server.key
chunking_advertise_hosts = *
smtputf8_advertise_hosts = *
dsn_advertise_hosts = *
pipelining_advertise_hosts = *
host_lookup =
rfc1413_hosts =
never_users = root
message_size_limit = 50M
smtp_banner = \$primary_hostname ESMTP Exim \$version_number mailpipe peers test MTA
log_selector = +received_recipients +tls_cipher +smtp_protocol_error +smtp_syntax_error
domainlist local_domains = example.test : hamburger.test : xn--bcher-kva.test : bücher.test
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
acl_smtp_predata = acl_predata

begin acl
# the commands as Exim received them, for the tests
acl_mail:
  warn logwrite = mailpipe: MAIL \$smtp_command
  accept
acl_rcpt:
  warn logwrite = mailpipe: RCPT \$smtp_command
  defer message = 452 4.2.2 mailbox full
        local_parts = later
  accept domains = +local_domains
         local_parts = bob : alice : jürgen
  deny message = 550 5.1.1 no such user
       domains = +local_domains
  deny message = 550 5.7.1 relaying denied
acl_predata:
  warn logwrite = mailpipe: PREDATA \$smtp_command
  accept
acl_data:
  warn logwrite = mailpipe: DATA \$smtp_command, \$message_size octets, from <\$sender_address>
  accept

begin routers
local_user:
  driver = accept
  domains = +local_domains
  local_parts = bob : alice : jürgen
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = $X/mail/\${local_part_data}/Maildir
  maildir_format
  create_directory
  return_path_add
  envelope_to_add
  user = Debian-exim
  group = Debian-exim
  mode = 0600

begin retry
* * F,1m,1m

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{bob}}{eq{\$auth3}{hungry}}}}
  server_set_id = \$auth2
  server_advertise_condition = \${if def:tls_in_cipher}
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and {{eq{\$auth1}{bob}}{eq{\$auth2}{hungry}}}}
  server_set_id = \$auth1
  server_advertise_condition = \${if def:tls_in_cipher}
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = \${if eq{\$auth1}{bob}{hungry}fail}
  server_set_id = \$auth1
  server_advertise_condition = \${if def:tls_in_cipher}
EOF
    chmod 0644 "$X/exim.conf"
}
# what runs inside the private mount namespace: Exim's user, then Exim
exim_inner() {
    mount --bind "$D/exim/etc/passwd" /etc/passwd
    mount --bind "$D/exim/etc/group" /etc/group
    exec "$D/exim/root/usr/sbin/exim4" -bdf -C "$D/exim/exim.conf"
}
exim_starts() { # how often Exim's log says its daemon started
    if [ -f "$D/exim/log/mainlog" ]; then grep -c 'daemon started: ' "$D/exim/log/mainlog" || true; else echo 0; fi
}
cmd_exim-start() {
    local X=$D/exim m u i n
    [ -s "$D/tls/server.crt" ] || die "exim-start needs a started DIR (its certificate)"
    if pid_of exim "$X/exim.conf" >/dev/null; then log "exim is already running"; return 0; fi
    port_free_or_die tcp "$EXIM_SMTP_PORT"
    port_free_or_die tcp "$EXIM_SMTPS_PORT"
    mkdir -p "$X/etc" "$X/root" "$X/spool" "$X/log" "$D/pids"
    m=$(compgen -G "$EXIM_DEBS/exim4-daemon-light_*.deb" | head -n 1) ||
        die "no exim4-daemon-light in $EXIM_DEBS: run peers.sh install"
    dpkg -x "$m" "$X/root"
    {
        grep -v '^Debian-exim:' /etc/passwd
        echo "Debian-exim:x:$VMAIL_UID:$VMAIL_GID:mailpipe test Exim:$X/spool:/usr/sbin/nologin"
    } >"$X/etc/passwd"
    {
        grep -v '^Debian-exim:' /etc/group
        echo "Debian-exim:x:$VMAIL_GID:"
    } >"$X/etc/group"
    chmod 0644 "$X/etc/passwd" "$X/etc/group"
    for u in bob alice jürgen; do mkdir -p "$X/mail/$u/Maildir"/{cur,new,tmp}; done
    # Exim reads the key as its own user, once a connection asks for TLS
    mkdir -p "$X/tls"
    cp "$D/tls/server-chain.pem" "$D/tls/server.key" "$X/tls/"
    chown -R "$VMAIL_UID:$VMAIL_GID" "$X/spool" "$X/log" "$X/mail" "$X/tls"
    chmod -R go-rwx "$X/mail"
    write_exim
    n=$(exim_starts)
    setsid unshare -m --propagation private bash -c \
        "set -e; . '${BASH_SOURCE[0]}'; D='$D'; exim_inner" \
        </dev/null >>"$X/exim.out" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
    echo $! >"$D/pids/exim.pid"
    # Exim logs "daemon started" once it listens on every port; the implicit
    # TLS one is not probed (a connection closed before the handshake is an
    # error in its log)
    for ((i = 0; i < 500; i++)); do
        [ "$(exim_starts)" -gt "$n" ] && break
        sleep 0.02
    done
    wait_tcp 127.0.0.1 "$EXIM_SMTP_PORT" "exim"
    echo "EXIM_SMTP_PORT=$EXIM_SMTP_PORT"
    echo "EXIM_SMTPS_PORT=$EXIM_SMTPS_PORT"
    echo "EXIM_MAIL=$X/mail"
    echo "EXIM_LOG=$X/log/mainlog"
}
stop_exim() {
    local p
    if p=$(pid_of exim "$D/exim/exim.conf"); then stop_pid exim "$p"; fi
    rm -f "$D/pids/exim.pid"
}
cmd_exim-stop() { stop_exim; }

main() {
    local cmd=${1:-} a
    case "$cmd" in
    install) cmd_install ;;
    start | stop | check | status | courier-start | courier-stop | exim-start | exim-stop)
        [ $# -ge 2 ] || die "usage: $0 $cmd DIR"
        [ "$(id -u)" = 0 ] || die "must run as root (postfix, dovecot and smtp-sink drop privileges themselves)"
        D=$(absdir "$2")
        # DIR ends up inside config files and ports.env (sourced by shells): keep it plain.
        case "$D" in *[!A-Za-z0-9._/+-]*) die "DIR must not contain spaces or shell metacharacters: $D" ;; esac
        # unix socket paths (dovecot's under DIR/dovecot/run) are limited to 107 bytes
        [ ${#D} -le 64 ] || die "DIR path is too long for unix sockets (${#D} > 64 chars): $D"
        chmod 0755 "$D"
        # The unprivileged users (postfix, dovecot, dovenull, uid $VMAIL_UID) must be able
        # to walk down to DIR, but mktemp -d makes 0700 directories. Below /tmp we add
        # the search bit (o+x: enter, not list); anywhere else we refuse.
        a=$D
        while [ "$a" != / ]; do
            a=$(dirname "$a")
            [ "$(($(stat -c '0%a' "$a") & 1))" = 1 ] && continue
            if [[ $a == /tmp/?* ]]; then
                log "chmod o+x $a (daemon users must reach $D)"
                chmod o+x "$a"
            else
                die "$a is not searchable by other users: chmod o+x it, or choose a DIR elsewhere (e.g. mktemp -d under /tmp)"
            fi
        done
        "cmd_$cmd"
        ;;
    *) die "usage: $0 install | start DIR | stop DIR | check DIR | status DIR | courier-start DIR | courier-stop DIR | exim-start DIR | exim-stop DIR" ;;
    esac
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
