# fish completion for mmx(1) from mailpipe

# DNS servers to offer: the nameservers of the resolv.conf that mmx reads,
# then the loopback addresses
function __mmx_servers
    set -l conf /etc/resolv.conf
    set -q MAILPIPE_RESOLV_CONF; and test -n "$MAILPIPE_RESOLV_CONF"; and set conf $MAILPIPE_RESOLV_CONF
    if test -r $conf
        string replace -rf '^\s*nameserver\s+(\S+).*' '$1' <$conf
    end
    printf '%s\n' 127.0.0.1 ::1
end

# operands are domains, mail addresses or @SERVER: never file names
complete -c mmx -f
complete -c mmx -n 'string match -q -- "@*" (commandline -ct)' -a '@(__mmx_servers)' -d 'DNS server to ask (dig style)'

complete -c mmx -s s -l short -d 'Host names only, in order, one per line'
complete -c mmx -s j -l json -d 'JSON Lines, a line a domain (also --probe, --policy)'
complete -c mmx -s 4 -d 'IPv4 addresses (A records) only'
complete -c mmx -s 6 -d 'IPv6 addresses (AAAA records) only'
complete -c mmx -s @ -l server -x -a '(__mmx_servers)' -d 'Ask this DNS server (ADDR, ADDR:PORT, [v6]:PORT)'
complete -c mmx -l dns-server -x -a '(__mmx_servers)' -d 'Ask this DNS server, as msend spells it'
complete -c mmx -s p -l port -x -a '53 5353' -d 'Port of the DNS server (default 53)'
complete -c mmx -l tcp -d 'Ask over TCP only'
complete -c mmx -l timeout -x -a '1 2 5 10 30' -d 'Seconds per try (default: resolv.conf, else 5)'
complete -c mmx -l retries -x -a '1 2 3 5' -d 'Tries per server (default: resolv.conf, else 2)'
complete -c mmx -l no-shuffle -d 'Keep equal preferences in the order of the answer'
complete -c mmx -l probe -d 'Talk SMTP to every address up to STARTTLS; never mail'
complete -c mmx -l smtp-port -x -a '25\tSMTP 587\tSubmission 465\tSubmissions 2525\tAlternative' -d 'Port for --probe (default 25)'
complete -c mmx -l ca-file -r -F -d 'CA certificates to verify with (default: system store)'
complete -c mmx -l tlsa -d 'With --probe: TLSA records and a DANE check'
complete -c mmx -l helo -x -a '(hostname)' -d 'EHLO name for --probe (default: this host)'
complete -c mmx -l policy -d 'MTA-STS, TLS-RPT, SPF, DMARC records; problems with the MX set'
complete -c mmx -l sts-addr -x -d 'With --policy: fetch the MTA-STS policy from HOST:PORT'
complete -c mmx -s v -l verbose -d 'AD bit, foreign answers; SMTP conversation with --probe'
complete -c mmx -s h -l help -d 'Print usage and exit'
complete -c mmx -s V -l version -d 'Print version and exit'
