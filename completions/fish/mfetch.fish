# fish completion for mfetch(1) from mailpipe

# --to: DIR/ or maildir:DIR, mbox:FILE, or - (mboxrd on stdout)
function __mfetch_dest
    set -l tok (commandline -ct)
    set -l pre ''
    if string match -qr '^(maildir|mbox):' -- $tok
        set pre (string replace -r ':.*' ':' -- $tok)
        set tok (string replace -r '^[^:]*:' '' -- $tok)
    else
        printf '%s\t%s\n' 'maildir:' 'A Maildir, created when missing' 'mbox:' 'An mbox file' '-' 'mboxrd on stdout'
    end
    for f in $tok*
        if test -d $f
            printf '%s%s/\n' $pre $f
        else if test "$pre" != 'maildir:'
            printf '%s%s\n' $pre $f
        end
    end
end

complete -c mfetch -l server -x -a '(__fish_print_hostnames)' -d 'The server HOST[:PORT]'
complete -c mfetch -l port -x -a '143\tIMAP 993\tIMAPS 110\tPOP3 995\tPOP3S' -d 'Its port'
complete -c mfetch -l imap -d 'IMAP (default except on ports 110 and 995)'
complete -c mfetch -l pop3 -d 'POP3'
complete -c mfetch -l tls -d 'Implicit TLS (993, 995)'
complete -c mfetch -l starttls -d 'STARTTLS/STLS, required (the default without --tls)'
complete -c mfetch -l ca-file -r -F -d 'CA certificates (default: the system store)'
function __mfetch_accounts
    set -l xdg $HOME/.config
    set -q XDG_CONFIG_HOME; and test -n "$XDG_CONFIG_HOME"; and set xdg $XDG_CONFIG_HOME
    for f in "$MAILPIPE_CONFIG" $xdg/mailpipe/config /etc/mailpipe.conf
        if test -n "$f" -a -r "$f"
            awk '$1 == "account" { a = $2 } $1 == "protocol" && a != "" && ($2 == "imap" || $2 == "pop3") { print a }' $f | sort -u
            return
        end
    end
end
complete -c mfetch -s a -l account -x -a '(__mfetch_accounts)' -d 'An IMAP or POP3 account of the configuration file'
complete -c mfetch -s C -l config -r -F -d 'The configuration file (mailpipe(5))'
complete -c mfetch -l since -x -d 'IMAP: only what arrived since DATE (YYYY-MM-DD or Nd)'
complete -c mfetch -s j -l json -d 'JSON Lines on stdout: each message, the summary'
complete -c mfetch -l cert-file -r -F -d 'Client certificate (PEM)'
complete -c mfetch -l key-file -r -F -d 'Key of the client certificate'
complete -c mfetch -l fingerprint -x -d "Pin the server certificate's SHA-256"
complete -c mfetch -l user -x -a '(__fish_complete_users)' -d 'Login name'
complete -c mfetch -l password-eval -x -a '(__fish_complete_command)' -d 'Run a command for the password'
complete -c mfetch -l auth -x -a 'auto\tDefault scram-sha-256\tRFC\ 7677 oauthbearer\tRFC\ 7628\ token plain\tSASL\ PLAIN login\tLOGIN cram-md5\tCRAM-MD5 xoauth2\tXOAUTH2 user\tPOP3\ USER/PASS apop\tPOP3\ APOP' -d 'How to log in'
complete -c mfetch -l new -d 'Only what this client has not fetched (default)'
complete -c mfetch -l all -d 'Everything'
complete -c mfetch -l peek -d 'What is new, recording, deleting and flagging nothing'
complete -c mfetch -l folder -x -a "INBOX '*'" -d 'IMAP folder or pattern (repeatable; default INBOX)'
complete -c mfetch -l list-folders -d 'List the IMAP folders (those --folder selects)'
complete -c mfetch -l limit -x -d 'At most N messages'
complete -c mfetch -l max-size -x -d 'Leave larger messages on the server'
complete -c mfetch -l to -x -a '(__mfetch_dest)' -d 'Where to: DIR/, maildir:DIR, mbox:FILE or -'
complete -c mfetch -l mda -x -a '(__fish_complete_command)' -d 'Pipe each message to a command (sh -c)'
complete -c mfetch -l keep -d 'Leave messages on the server (default)'
complete -c mfetch -l delete -d 'Delete them once delivered'
complete -c mfetch -l move -x -a 'Archive' -d 'IMAP: move them to FOLDER once delivered'
complete -c mfetch -l mark-seen -d 'IMAP: mark fetched messages \\Seen'
complete -c mfetch -l state -r -F -d 'Where the only-new state lives'
complete -c mfetch -l timeout -x -a '10 30 60\tDefault 120' -d 'Seconds per network step'
complete -c mfetch -l idle -d 'Keep running: fetch whenever new mail comes (IMAP IDLE)'
complete -c mfetch -l interval -x -a '60 300\tDefault 900' -d 'Seconds between looks (POP3, no IDLE)'
complete -c mfetch -l idle-refresh -x -a '300 900 1500\tDefault' -d 'Seconds between IDLE renewals'
complete -c mfetch -s q -l quiet -d 'No summary line'
complete -c mfetch -s v -l verbose -d 'The protocol dialogue on stderr (password as ***)'
complete -c mfetch -s h -l help -d 'Print usage and exit'
complete -c mfetch -s V -l version -d 'Print version and exit'
