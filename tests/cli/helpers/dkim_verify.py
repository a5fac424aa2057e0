#!/usr/bin/python3
"""dkim_verify.py - verify every DKIM-Signature of a message with dkimpy
(Debian's python3-dkim), the keys given locally instead of from the DNS.

    dkim_verify.py MESSAGE NAME=TXTFILE...

NAME is a key record's owner (sel._domainkey.example.org), TXTFILE holds
its TXT text (v=DKIM1; k=...; p=...). Prints one line a signature, top
down: "pass d=DOMAIN a=ALG" or "fail ...", and exits 0 only when there is
at least one signature and every one passes."""
import re
import sys

import dkim


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        msg = f.read()
    records = {}
    for arg in sys.argv[2:]:
        name, path = arg.split("=", 1)
        with open(path, "rb") as f:
            records[name.rstrip(".").lower()] = f.read().strip()

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return records.get(name.rstrip(".").lower())

    # the header ends at the first empty line; count its signatures
    head = re.split(rb"\r?\n\r?\n", msg, maxsplit=1)[0]
    nsig = len(re.findall(rb"(?im)^dkim-signature[ \t]*:", head))
    ok = nsig > 0
    for i in range(nsig):
        d = dkim.DKIM(msg)
        try:
            good = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception as e:  # dkimpy or a crypto library refusing
            good = False
            print("error", e)
        sig = d.signature_fields or {}
        print("pass" if good else "fail",
              "d=" + sig.get(b"d", b"?").decode(), "a=" + sig.get(b"a", b"?").decode())
        ok = ok and good
    sys.exit(0 if ok else 1)


main()
