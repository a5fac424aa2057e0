# fish completion for mdeliver(1) from mailpipe

# Maildir++ folders (.a.b -> a/b) of $MAILDIR, or of ~/Maildir
function __mdeliver_folders
    set -l md $HOME/Maildir
    set -q MAILDIR; and test -n "$MAILDIR"; and set md $MAILDIR
    set md (string replace -r '/+$' '' -- $md)
    for d in $md/.*/
        set -l f (string replace -r '/$' '' -- $d)
        set f (string replace -r '.*/\.' '' -- $f)
        contains -- $f '' . ..; and continue
        test -d $d/cur; or continue
        string replace -a . / -- $f
    end
end

complete -c mdeliver -s c -l create -d 'Create the Maildir when missing'
complete -c mdeliver -s p -l parents -d 'Create the missing parent directories of the target'
complete -c mdeliver -s f -l from -x -d 'Envelope sender: Return-Path and the mbox From_ line'
complete -c mdeliver -l folder -x -a '(__mdeliver_folders)' -d 'Deliver into the Maildir++ folder .NAME'
complete -c mdeliver -l flags -x -a 'D\tDraft F\tFlagged P\tPassed R\tReplied S\tSeen T\tTrashed' -d 'Maildir info flags (mbox: Status/X-Status)'
complete -c mdeliver -l dedup -d 'Skip a Message-ID this Maildir already got'
complete -c mdeliver -l delivered-to -x -d 'Add a Delivered-To: header field'
complete -c mdeliver -l loop-check -d 'With --delivered-to, refuse mail already delivered there'
complete -c mdeliver -l lock-timeout -x -a '30\tDefault 60 300' -d 'mbox: seconds to wait for each lock'
complete -c mdeliver -l split -d 'Deliver every message of an mbox (FILE or stdin)'
complete -c mdeliver -l join -d 'Append the messages of Maildirs or files to an mbox, with flags'
complete -c mdeliver -l skip -x -d 'With --split or --join, skip the first N messages'
complete -c mdeliver -s v -l verbose -d 'Print where each message went'
complete -c mdeliver -s j -l json -d 'JSON Lines on stdout: each message, the --split summary'
complete -c mdeliver -s h -l help -d 'Print usage and exit'
complete -c mdeliver -s V -l version -d 'Print version and exit'
