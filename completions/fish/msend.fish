# fish completion for msend(1) from mailpipe

# DNS servers to offer for --dns-server: the nameservers of the resolv.conf
# that msend reads, then the loopback addresses
function __msend_dns_servers
    set -l conf /etc/resolv.conf
    set -q MAILPIPE_RESOLV_CONF; and test -n "$MAILPIPE_RESOLV_CONF"; and set conf $MAILPIPE_RESOLV_CONF
    if test -r $conf
        string replace -rf '^\s*nameserver\s+(\S+).*' '$1' <$conf
    end
    printf '%s\n' 127.0.0.1 ::1
end

# account names of the configuration file (mailpipe(5)) msend would read
function __msend_accounts
    set -l xdg $HOME/.config
    set -q XDG_CONFIG_HOME; and test -n "$XDG_CONFIG_HOME"; and set xdg $XDG_CONFIG_HOME
    for f in "$MAILPIPE_CONFIG" $xdg/mailpipe/config /etc/mailpipe.conf
        if test -n "$f" -a -r "$f"
            string replace -rf '^\s*account\s+([^\s:]+).*' '$1' <$f
            return
        end
    end
end

# operands are recipient addresses: never file names
complete -c msend -f

complete -c msend -s a -l account -x -a '(__msend_accounts)' -d 'An account of the configuration file'
complete -c msend -s C -l config -r -F -d 'The configuration file (mailpipe(5))'
complete -c msend -l fingerprint -x -d "Pin the relay's certificate (SHA-256, hex)"
complete -c msend -l cert-file -r -F -d 'Client certificate (PEM)'
complete -c msend -l key-file -r -F -d 'Key of the client certificate'
complete -c msend -l aliases -r -F -d 'Aliases file: local names to addresses'
complete -c msend -l log -r -F -d 'One line per message in FILE'
complete -c msend -l syslog -d 'One line per message to syslog'
complete -c msend -l dkim-key -r -F -d 'DKIM: sign with this private key (PEM, mode 600)'
complete -c msend -l dkim-selector -x -d 'DKIM: the selector of that key'
complete -c msend -l dkim-domain -x -d 'DKIM: the signing domain (default: the From: domain)'
complete -c msend -l dkim-canon -x -a 'relaxed/relaxed relaxed/simple simple/relaxed simple/simple' -d 'DKIM: header/body canonicalization'
complete -c msend -l rcpt-file -r -F -d 'More recipients, one a line; each result on stdout'
complete -c msend -l parallel -x -d 'Direct: deliver to N domains at once (default 4)'
complete -c msend -l verp -d "Each recipient its own envelope sender (--verp=LOCAL: another local part)"
complete -c msend -l verp-delimiters -x -d 'The two VERP separators (default +=)'
complete -c msend -l list-id -x -d 'Compose: List-Id: (label.domain or Name <label.domain>)'
complete -c msend -l list-unsubscribe -x -d 'Compose: List-Unsubscribe: an https or mailto URI'
complete -c msend -l precedence -x -a 'list bulk junk' -d 'Compose: Precedence:'
complete -c msend -s s -l subject -x -d 'Compose: stdin is the text of a new message'
complete -c msend -s A -l attach -r -F -d 'Compose: attach FILE'
complete -c msend -l cc -x -d 'Compose: a Cc: recipient'
complete -c msend -l bcc -x -d 'Compose: a blind recipient'
complete -c msend -l reply-to -x -d 'Compose: the Reply-To: address'
complete -c msend -s F -x -d "Compose: the sender's full name"
complete -c msend -l no-tls -d 'A relay in clear (AUTH then needs --auth-plaintext)'

complete -c msend -s f -l from -x -d 'Envelope sender (default: $EMAIL, else USER@maildomain)'
complete -c msend -l read-envelope-from -d "The envelope sender is the message's From: address"
complete -c msend -s r -x -d 'Envelope sender (sendmail)'
complete -c msend -s t -d 'Also send to To:, Cc:, Bcc: of the message (Bcc: is not sent)'
complete -c msend -l server -x -a '(__fish_print_hostnames)' -d 'Send through this relay: HOST or HOST:PORT'
complete -c msend -l port -x -a '587\tSubmission 465\tSubmissions' -d 'Port of the relay (default 587, 465 with --tls)'
complete -c msend -l tls -d 'Implicit TLS from the first byte (RFC 8314)'
complete -c msend -l starttls -d 'Require STARTTLS on the relay (the default)'
complete -c msend -l tls-required -d 'Direct: only hosts with STARTTLS and a valid certificate'
complete -c msend -l ca-file -r -F -d 'CA certificates to verify with (default: system store)'
complete -c msend -l auth -x -a 'plain\tRFC\ 4616 login\tLOGIN cram-md5\tRFC\ 2195 scram-sha-256\tRFC\ 7677 xoauth2\tOAuth\ 2.0\ token oauthbearer\tRFC\ 7628 auto\tDefault' -d 'SASL mechanism for --user'
complete -c msend -l user -x -d 'Authenticate to the relay as NAME (only under TLS)'
complete -c msend -l password-eval -x -a '(__fish_complete_command)' -d 'Shell command that prints the password'
complete -c msend -l auth-plaintext -d 'Allow AUTH without TLS (warns)'
complete -c msend -l direct -d 'Deliver to the MX hosts even with --server'
complete -c msend -l mx-port -x -a '25 2525' -d 'Port of the MX hosts (tests only; default 25)'
complete -c msend -l sts-addr -x -a '127.0.0.1:443 127.0.0.1:8443' -d 'Fetch MTA-STS policies from HOST:PORT (tests only)'
complete -c msend -l dns-server -x -a '(__msend_dns_servers)' -d 'DNS server for direct delivery (ADDR, ADDR:PORT, [v6]:PORT)'
complete -c msend -l maildomain -x -a '(hostname)' -d 'Domain that qualifies bare names (default: this host)'
complete -c msend -l helo -x -a '(hostname)' -d 'EHLO name (default: this host)'
complete -c msend -l timeout -x -a '30 60 120 300\tDefault' -d 'Seconds per network step'
complete -c msend -l queue -x -a '(__fish_complete_directories)' -d 'Queue directory'
complete -c msend -l no-queue -d 'Exit 75 instead of queueing'
complete -c msend -l max-age -x -a '3600\t1\ hour 86400\t1\ day 432000\t5\ days,\ default' -d 'Give up on queued mail after SEC seconds'
complete -c msend -s q -l flush -d 'Send the queued messages that are due'
complete -c msend -l now -d 'With -q, send every queued message, due or not'
complete -c msend -l list-queue -d 'List the queue'
complete -c msend -l retry-dead -x -d 'Put a dead letter back in the queue, then flush'
complete -c msend -l drop -x -d 'Delete a queued message or a dead letter'
complete -c msend -o bp -d 'List the queue (sendmail)'
complete -c msend -s i -d 'A lone dot does not end the message (always so)'
complete -c msend -s N -l notify -x -a 'never success failure delay success,failure success,failure,delay failure,delay' -d 'DSN: when to report (RFC 3461)'
complete -c msend -s R -l ret -x -a 'full\tThe\ whole\ message hdrs\tThe\ header\ only' -d 'DSN: what a bounce returns of the message'
complete -c msend -l envid -x -d 'DSN: the envelope ID (also -VID)'
complete -c msend -l no-chunking -d 'DATA even where the server offers BDAT (RFC 3030)'
complete -c msend -s v -l verbose -d 'The SMTP dialogue on stderr'
complete -c msend -s j -l json -d "A JSON line: each recipient's fate (also --list-queue)"
complete -c msend -s h -l help -d 'Print usage and exit'
complete -c msend -s V -l version -d 'Print version and exit'
