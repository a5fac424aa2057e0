# fish completion for b64(1) from mailpipe

complete -c b64 -s d -l decode -d 'Decode instead of encoding'
complete -c b64 -s i -l ignore-garbage -d 'When decoding, skip bytes not in the alphabet'
complete -c b64 -s w -l wrap -x -a '0\tNo\ wrapping 64\tPEM\ line\ length 76\tMIME\ line\ length\ \(default\)' -d 'Wrap encoded lines after COLS characters'
complete -c b64 -s u -l url -d 'Use the base64url alphabet'
complete -c b64 -l no-padding -d 'Omit = padding (accept its absence when decoding)'
complete -c b64 -s Q -l qp -d 'Quoted-printable instead of base64'
complete -c b64 -l crlf -d 'With --qp, emit CRLF line breaks'
complete -c b64 -l word -d 'RFC 2047 encoded-words for header fields'
complete -c b64 -s h -l help -d 'Print usage and exit'
complete -c b64 -s V -l version -d 'Print version and exit'
