# fish completion for mparse(1) from mailpipe

set -l __mparse_fields From To Cc Bcc Reply-To Sender Subject Date Message-ID In-Reply-To \
    References Received Return-Path Delivered-To List-Id List-Unsubscribe MIME-Version \
    Content-Type Content-Transfer-Encoding Content-Disposition Authentication-Results \
    DKIM-Signature X-Mailer User-Agent Resent-From Resent-To Resent-Cc Resent-Date

complete -c mparse -s f -l field -x -a "$__mparse_fields" -d 'Print every FIELD of the header, decoded'
complete -c mparse -l raw -d 'With -f, print the fields as they stand'
complete -c mparse -l tsv -d 'A line per message, a tab-separated column per -f field'
complete -c mparse -s H -l with-filename -d 'The message name on each line (default: several inputs)'
complete -c mparse -l no-filename -d 'Never the message name'
# the FIELD of -a/--addr is optional and must be in the same word
# (-aReply-To, --addr=Reply-To), which fish cannot offer on its own
complete -c mparse -s a -l addr -d 'Addresses of From/To/Cc/Bcc, or of FIELD (-aFIELD, --addr=FIELD)'
complete -c mparse -l addr-only -d 'Just local@domain for each address'
complete -c mparse -s t -l tree -d 'The MIME tree: number, type, charset, encoding, size, name'
complete -c mparse -s p -l part -x -d 'The decoded bytes of part N (N.uK: a uuencoded block)'
complete -c mparse -l text -d 'The best readable text as UTF-8'
complete -c mparse -s x -l extract -x -a '(__fish_complete_directories)' -d 'Write every attachment into DIR'
complete -c mparse -s r -l received -d 'The Received path, oldest hop first'
complete -c mparse -s j -l json -d 'Headers and the MIME tree as JSON'
complete -c mparse -l bodies -d 'With -j: the decoded body of each part'
complete -c mparse -l date -x -a 'iso\t"RFC 3339, own zone" epoch\t"Seconds since 1970 UTC" rfc\t"RFC 5322 canonical form"' -d 'Print dates in one form'
complete -c mparse -l mbox -d 'Read every file and stdin as an mbox'
complete -c mparse -l verify -d 'Check DKIM, SPF and DMARC: an Authentication-Results line'
complete -c mparse -l spf-ip -x -d 'With --verify: check SPF for the client at this address'
complete -c mparse -l mail-from -x -d 'The SMTP MAIL FROM address for SPF ("" the null sender)'
complete -c mparse -l helo -x -a '(__fish_print_hostnames)' -d 'The HELO name of the client for SPF'
complete -c mparse -l authserv-id -x -d 'The host name the results start with'
complete -c mparse -l add-results -d 'With --verify: the message with an Authentication-Results field on top'
complete -c mparse -l dns-server -x -d 'The DNS server for --verify (v4:port or [v6]:port)'
complete -c mparse -l dsn -d 'A delivery report: a line per recipient, VERP decoded'
complete -c mparse -l verp -x -d 'With --dsn: VERP addresses begin with this local part'
complete -c mparse -l verp-delimiters -x -d 'With --dsn: the two VERP separators (default +=)'
complete -c mparse -l digest -d 'A multipart/digest of the messages on stdout'
complete -c mparse -s h -l help -d 'Print usage and exit'
complete -c mparse -s V -l version -d 'Print version and exit'
complete -c mparse -l show -d 'A readable view: fields, the text, the other parts'
complete -c mparse -l html-filter -x -a '(__fish_complete_command)' -d 'With --show: make HTML-only mail text with CMD'
complete -c mparse -l scan -d 'One line per message: number, flags, date, sender, size, subject'
complete -c mparse -l sort -x -a 'date file from subject' -d 'With --scan: the order of the lines'
complete -c mparse -l reverse -d 'With --scan: the order reversed (also -r)'
complete -c mparse -l width -x -d 'With --scan: cut lines at N columns (0: never)'
complete -c mparse -l type -x -a 'application/pdf "image/*" text/plain text/html text/csv' -d 'With -p/-x: only parts whose type matches GLOB'
complete -c mparse -l name -x -d 'With -p/-x: only parts whose file name matches GLOB'
