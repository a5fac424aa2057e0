#!/usr/bin/env python3
"""mparse_oracle.py - check mparse(1) against Python's email package.

    mparse_oracle.py [--mparse BIN] [--random N] [--seed S] [--keep DIR]
                     [-v] [FILE...]

Every FILE (a message, or an mbox when it starts with "From ") and N random
messages made from seed S (valid and broken MIME structures, transfer
encodings, charsets, RFC 2047 words and RFC 2231 names) are read twice:
by mparse, and by Python's email package with policy=email.policy.default.
For each message the oracle compares

  subject   the decoded Subject (mparse -j "decoded")
  from      the display names of From (mparse --addr=From)
  leaves    the leaf parts in order: type, charset, file name, decoded size
            (mparse -j "parts"; not the uuencoded blocks mparse shows as
            parts of their own, which Python leaves in their text part)
  bytes     the decoded bytes of every leaf (mparse -p N)

and checks mparse against itself (the -j size of a part is the length of
its -p output; an mbox read whole gives the same as its messages read one
by one from stdin).

Where the two legitimately disagree because Python is wrong (or both
readings are allowed), the case is listed in KNOWN_FIXTURE or KNOWN_QUIRK
below with the reason, and only that comparison of that part is skipped.
Everything else that differs is printed as "MISMATCH ..." with what
mparse and Python gave; --keep DIR writes each failing random message to
DIR/random-SEED-K.eml to reproduce it.

Each random message is broken in at most one of the ways listed in
Gen.BREAKS (or not at all); a mismatch is tagged with the quirks of its
message and part, and "oracle: N mismatches with TAG" lines sum them up.
The last line is "oracle: N messages, N comparisons, N skipped (known),
N mismatches", where "skipped" counts the comparisons that differed in a
known way; the exit status is 1 when there is a mismatch, 2 on a usage
or setup error. Standard library only.
"""

import argparse
import base64
import email
import email.policy
import json
import os
import random
import subprocess
import sys

# --------------------------------------------------------------- known cases

# Fixture comparisons where Python is wrong, keyed by (file name, message
# number from 1, comparison, part or None). Only that comparison is skipped.
KNOWN_FIXTURE = {
    # "Subject :" is the obsolete field syntax of RFC 5322 4.5.3 (white
    # space before the colon). Python keeps "Subject " as the field name,
    # so msg["Subject"] is None; mparse reads it as Subject.
    # Worse, Python's feed parser takes that line for the start of the body
    # (MissingHeaderBodySeparatorDefect), so the rest of the header becomes
    # the text of part 1.
    ("addresses.eml", 1, "subject", None): "obsolete 'Subject :' syntax: Python finds no Subject",
    ("addresses.eml", 1, "size", "1"): "obsolete 'Subject :' syntax: Python's body starts there",
    ("addresses.eml", 1, "bytes", "1"): "obsolete 'Subject :' syntax: Python's body starts there",
}

# Quirks the random generator can put into a message or a part, with the
# comparisons that may then differ and why mparse is the one that is right
# (or both readings are allowed). Only those comparisons of that message
# or part are skipped. The generator's other quirks (Gen.BREAKS) are not
# known cases: a mismatch with one of them is reported, tagged with it.
KNOWN_QUIRK = {
    # RFC 2045 6.7 (3): "any trailing white space on a line must be
    # deleted, as it will necessarily have been added by intermediate
    # transport agents". Python keeps it (binascii.a2b_qp).
    "qp-trailing-ws": ("bytes", "size"),
    # "=" followed by white space and the line break is a soft line break
    # with transport padding (RFC 2045 6.7 (3) and (5)); Python outputs
    # "= " and the break literally.
    "qp-soft-break-ws": ("bytes", "size"),
    # Python's quoted-printable decoder (binascii.a2b_qp) turns CRLF into
    # LF; mparse keeps the line ends the part has. Compared with CRLF made
    # LF on both sides instead of byte for byte.
    "qp-crlf": ("size",),
    # The outermost closing boundary is missing: the last part ends at the
    # end of the input, and mparse keeps its last line break (no boundary
    # delimiter claims it, RFC 2046 5.1.1); Python drops it as if a
    # boundary followed. Compared with one trailing line break taken off
    # mparse's bytes when Python's lack it; only for the last leaf.
    "missing-close": ("eof-line-end",),
    # Two encoded-words separated by white space in a display name: RFC
    # 2047 6.2 says the white space between adjacent encoded-words is
    # ignored; Python's address parser keeps it.
    "adjacent-ewords-in-phrase": ("from",),
    # RFC 6532 allows UTF-8 in header fields; Python's address parser
    # turns the bytes of a raw UTF-8 display name into surrogate escapes.
    "raw-utf8-phrase": ("from",),
    # "addr (Name)": mparse shows the comment as the display name, the old
    # convention mail readers follow; Python leaves the name empty. Both
    # readings are allowed (RFC 5322 3.4 gives comments no meaning).
    "comment-as-name": ("from",),
    # A truncated base64 body whose length is 4n+1 characters: the last
    # character carries 6 bits, not a whole byte, so it decodes to nothing
    # (mparse gives the 3n bytes before it); Python gives up and returns the
    # undecoded text as the "decoded" payload (InvalidBase64LengthDefect).
    "b64-length-4n+1": ("bytes", "size"),
}


# --------------------------------------------------------------- running mparse

class Oracle:
    def __init__(self, mparse, verbose=False):
        self.mparse = mparse
        self.verbose = verbose
        self.messages = 0
        self.compared = 0
        self.skipped = 0
        self.mismatches = []

    def run(self, args, data=None):
        """mparse ARGS (with DATA on stdin): (status, stdout bytes, stderr
        text); a crash or a hang is a mismatch of its own"""
        try:
            p = subprocess.run([self.mparse] + args, input=data if data is not None else b"",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        except subprocess.TimeoutExpired:
            self.check("mparse " + " ".join(args), "finishes in 30 s", "timeout", "exit")
            return -1, b"", ""
        if p.returncode < 0 or p.returncode not in (0, 65):
            self.check("mparse " + " ".join(args), "exit status", p.returncode, "0 or 65")
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def json_of(self, args, data=None):
        rc, out, err = self.run(["-j"] + args, data)
        objs = []
        for line in out.decode("utf-8", "replace").splitlines():
            if line.strip():
                try:
                    objs.append(json.loads(line))
                except ValueError as e:
                    self.check("mparse -j " + " ".join(args), "valid JSON", str(e), "valid")
        return rc, objs, err

    def check(self, where, what, got, want, skip=None, tags=()):
        """one comparison: mparse's GOT against Python's WANT; TAGS are the
        generator's quirks of the message and part, printed with a mismatch"""
        if got == want:
            self.compared += 1
            return True
        if skip:  # a known, listed disagreement: not counted as compared
            self.skipped += 1
            if self.verbose:
                print("skip %s %s: %s" % (where, what, skip))
            return True
        self.compared += 1
        # a mismatch is put down to the quirks that are not known cases
        cause = sorted(t for t in tags if t not in KNOWN_QUIRK) or ["untagged"]
        self.mismatches.append((where, what, cause))
        print("MISMATCH %s %s%s\n  mparse: %s\n  python: %s" % (
            where, what, " [%s]" % ",".join(sorted(tags)) if tags else "", short(got), short(want)))
        return False


def short(v):
    r = repr(v)
    return r if len(r) <= 300 else r[:300] + "... (%d chars)" % len(r)


# --------------------------------------------------------------- Python's reading

def split_mbox(data):
    """The messages of an mbox, as mparse(1) splits them: each starts at a
    "From " line (dropped here), the one blank line before the next From_
    line (or the end) belongs to the mbox, and in the body one level of
    quoting comes off ">From ", ">>From ", ..."""
    msgs, cur, in_header = [], None, True
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From "):
            if cur is not None:
                msgs.append(cur)
            cur, in_header = [], True
            continue
        if cur is None:
            continue  # blank lines before the first From_ line
        if in_header:
            if line in (b"\n", b"\r\n"):
                in_header = False
        else:
            k = len(line) - len(line.lstrip(b">"))
            if k and line[k:].startswith(b"From "):
                line = line[1:]
        cur.append(line)
    if cur is not None:
        msgs.append(cur)
    out = []
    for m in msgs:
        if m and m[-1] in (b"\n", b"\r\n"):
            m = m[:-1]
        out.append(b"".join(m))
    return out


def py_leaves(msg):
    """the leaf parts in order, as mparse numbers them is not needed: the
    order of the leaves is the order of the document in both"""
    return [p for p in msg.walk() if not p.is_multipart()]


def py_charset(part):
    cs = part.get_param("charset")
    if isinstance(cs, tuple):  # RFC 2231 charset'lang'value form
        cs = email.utils.collapse_rfc2231_value(cs)
    if cs is None:
        return "us-ascii" if part.get_content_maintype() == "text" else None
    return str(cs).lower()


def py_payload(part):
    data = part.get_payload(decode=True)
    return data if data is not None else b""


def idna_display(addr):
    """the domain in U-labels, as mparse shows it"""
    if "@" not in addr or "xn--" not in addr:
        return addr
    local, _, dom = addr.rpartition("@")
    try:
        return local + "@" + dom.encode("ascii").decode("idna")
    except UnicodeError:
        return addr


def parse_addr_lines(text):
    """mparse --addr output: "Name <addr>" or "addr" per line"""
    res = []
    for line in text.splitlines():
        if line.endswith(">") and " <" in line:
            name, _, addr = line.rpartition(" <")
            res.append((name, addr[:-1]))
        else:
            res.append(("", line))
    return res


# --------------------------------------------------------------- one message

def compare_message(o, where, raw, jobj, src, quirks=None, known=None):
    """compare mparse's reading of one message (jobj from -j; src = the
    argument list that makes mparse read it alone) with Python's"""
    quirks = quirks or {}
    known = known or {}
    o.messages += 1
    msg = email.message_from_bytes(raw, policy=email.policy.default)

    mq = quirks.get("msg", set())

    def known_skip(what, part=None, pq=()):
        if known.get((what, part)):
            return known[(what, part)]
        for name in set(pq) | mq:
            if what in KNOWN_QUIRK.get(name, ()):
                return "known quirk " + name
        return None

    # subject
    subj_m = None
    for h in jobj["headers"]:
        if h["name"].lower() == "subject":
            subj_m = h["decoded"]
            break
    subj_p = msg["Subject"]
    subj_p = None if subj_p is None else str(subj_p)
    if subj_m is not None or subj_p is not None:
        o.check(where, "subject", subj_m, subj_p, known_skip("subject"), mq)

    # From display names (and addresses, IDN shown in U-labels)
    if msg["From"] is not None:
        rc, out, err = o.run(["--addr=From"] + src[0], src[1])
        got = parse_addr_lines(out.decode("utf-8", "replace"))
        try:
            want = [(a.display_name, idna_display(a.addr_spec)) for a in msg["From"].addresses]
        except Exception as e:  # Python could not parse it at all
            want = "python error: %s" % e
        o.check(where, "from", got, want, known_skip("from"), mq)

    # leaves
    # uuencoded blocks inside a text part are parts to mparse ("1.u1"),
    # text to Python: only the text part is compared
    leaves_m = [p for p in jobj["parts"] if "size" in p and p.get("encoding") != "uuencode"]
    leaves_p = py_leaves(msg)
    if not o.check(where, "leaf count", len(leaves_m), len(leaves_p), known_skip("leaf count"), mq):
        print("  mparse types: %s\n  python types: %s" % (
            [p["type"] for p in leaves_m], [p.get_content_type() for p in leaves_p]))
        return
    for i, (pm, pp) in enumerate(zip(leaves_m, leaves_p)):
        n = pm["part"]
        q = quirks.get(i, set())
        tags = q | mq

        def skip(what):
            return known_skip(what, n, q)

        o.check(where, "part %s type" % n, pm["type"], pp.get_content_type(), skip("type"), tags)
        cs = pm["charset"].lower() if pm["charset"] else None
        if pm["type"].startswith("text/") or cs is not None:
            o.check(where, "part %s charset" % n, cs, py_charset(pp), skip("charset"), tags)
        o.check(where, "part %s filename" % n, pm["filename"], pp.get_filename(), skip("filename"),
                tags)
        data_p = py_payload(pp)
        rc, data_m, err = o.run(["-p", n] + src[0], src[1])
        # mparse against itself: -j size is what -p gives
        o.check(where, "part %s -p length = -j size" % n, len(data_m), pm["size"])
        if "qp-crlf" in q:
            data_m, data_p = data_m.replace(b"\r\n", b"\n"), data_p.replace(b"\r\n", b"\n")
        size_skip = skip("size")
        if "missing-close" in mq and i == len(leaves_m) - 1:
            for eol in (b"\r\n", b"\n"):
                if data_m == data_p + eol:
                    data_m = data_m[:-len(eol)]
                    size_skip = size_skip or "known quirk missing-close"
                    break
        o.check(where, "part %s size" % n, pm["size"], len(data_p), size_skip, tags)
        o.check(where, "part %s bytes" % n, data_m, data_p, skip("bytes"), tags)


def check_file(o, path):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read()
    rc, objs, err = o.json_of([path])
    if data.startswith(b"From "):
        raws = split_mbox(data)
        srcs = [([], r) for r in raws]  # each message alone, on stdin
    else:
        raws = [data]
        srcs = [([path], None)]
    if not o.check(name, "message count", len(objs), len(raws)):
        return
    for k, (raw, jobj, src) in enumerate(zip(raws, objs, srcs), 1):
        where = "%s#%d" % (name, k) if len(raws) > 1 else name
        known = {(w, p): r for (f, m, w, p), r in KNOWN_FIXTURE.items() if f == name and m == k}
        if src[1] is not None:
            # the message read alone gives what the mbox gave
            rc2, alone, err2 = o.json_of([], src[1])
            # (offsets count from the message's From_ line, which stdin lacks)
            def strip(objs_):
                return [{"headers": ob["headers"],
                         "parts": [{k_: v for k_, v in p.items() if k_ != "offset"} for p in ob["parts"]]}
                        for ob in objs_]
            o.check(where, "alone = in the mbox", strip(alone), strip([jobj]))
        compare_message(o, where, raw, jobj, src, known=known)


# --------------------------------------------------------------- random messages

CHARSETS = ["us-ascii", "utf-8", "iso-8859-1", "koi8-r", "windows-1252", "iso-8859-15"]
WORDS = ["report", "café", "Grüße", "naïve", "Привет", "мир", "€ 100", "日本語", "déjà vu",
         "straße", "ÆØÅ", "quick", "brown", "fox", "crème brûlée", "señor", "Ωμέγα"]


def can(text, cs):
    try:
        text.encode(cs)
        return True
    except UnicodeError:
        return False


class Gen:
    """one random message: bytes, and per leaf the quirks it was given"""

    # the ways a message can be broken that Python reads right and mparse
    # (so far) does not, or that no known case covers: each random message
    # gets at most one of them, so that a mismatch points at its cause
    BREAKS = ("b64-invalid-char", "qp-bad-escape", "param-ws", "part-without-body",
              "inner-close-missing", "quoted-semicolon", "comment-in-phrase")

    def __init__(self, rnd):
        self.r = rnd
        self.brk = rnd.choice(self.BREAKS) if rnd.random() < 0.4 else None
        self.nl = b"\r\n" if rnd.random() < 0.15 else b"\n"
        self.quirks = {}  # leaf index (document order) -> quirk names
        self.nleaf = 0
        self.nbound = 0

    def text(self, lo=1, hi=8):
        return " ".join(self.r.choice(WORDS) for _ in range(self.r.randint(lo, hi)))

    def eword(self, text):
        cs = self.r.choice([c for c in CHARSETS if can(text, c)] or ["utf-8"])
        if cs == "us-ascii":
            cs = "utf-8"
        b = text.encode(cs)
        if self.r.random() < 0.5:
            return "=?%s?B?%s?=" % (cs if self.r.random() < 0.7 else cs.upper(),
                                    base64.b64encode(b).decode())
        q = "".join(chr(c) if (chr(c).isalnum() and c < 128) else ("_" if c == 32 else "=%02X" % c)
                    for c in b)
        return "=?%s?%s?%s?=" % (cs, self.r.choice("Qq"), q)

    def subject(self):
        bits = []
        for _ in range(self.r.randint(1, 4)):
            t = self.text(1, 3)
            if all(ord(c) < 128 for c in t) and self.r.random() < 0.5:
                bits.append(t)
            else:
                bits.append(self.eword(t))
        s = " ".join(bits)
        if self.r.random() < 0.2:
            s = s.replace(" ", self.nl.decode() + " ", 1)  # folded
        return s

    def from_field(self):
        c = self.r.random()
        addr = self.r.choice(["alice@example.org", "bob@example.net", "x.y+z@sub.example.com",
                              "joerg@xn--bcher-kva.example"])
        if c < 0.25:
            return addr
        if c < 0.5:
            return "%s <%s>" % (self.eword(self.text(1, 2)), addr)
        if c < 0.7:
            return '"%s" <%s>' % (self.r.choice(["Doe, Jane", "O'Brien", "Smith (Sales)", "A B"]), addr)
        if c < 0.8:
            return "%s <%s>" % (self.r.choice(["Jane Doe", "Bob", "Mary Ann Smith"]), addr)
        mq = self.quirks.setdefault("msg", set())
        if c < 0.83:
            mq.add("raw-utf8-phrase")
            return "%s <%s>" % (self.r.choice(["Jörg Müller", "Zoë", "Ренэ"]), addr)
        if c < 0.86:
            mq.add("comment-as-name")
            return "%s (%s)" % (addr, self.r.choice(["Jane Doe", "Bob"]))
        if self.brk == "comment-in-phrase":
            mq.add("comment-in-phrase")
            return "Jane (Sales) Doe <%s>" % addr
        self.quirks.setdefault("msg", set()).add("adjacent-ewords-in-phrase")
        return "%s <%s>" % (self.eword(self.text(1, 1)) + " " + self.eword(self.text(1, 1)), addr)

    def body_bytes(self, binary):
        if binary:
            n = self.r.choice([0, 1, 2, 3, 57, 58, 100, 1000, 3000])
            return bytes(self.r.randrange(256) for _ in range(n))
        lines = []
        for _ in range(self.r.randint(0, 6)):
            lines.append(self.text(0, 12))
        return "\n".join(lines)

    def b64(self, data, leaf):
        """data as base64 lines, sometimes broken; leaf: the index of the
        leaf in document order"""
        s = base64.b64encode(data)
        width = self.r.choice([76, 76, 64, 60, 72, 4, 1000])
        lines = [s[i:i + width] for i in range(0, len(s), width)] or [b""]
        c = self.r.random()
        if c < 0.1 and s.endswith(b"="):
            lines[-1] = lines[-1].rstrip(b"=")  # no padding
        elif c < 0.15 and len(s) > 8:
            # truncated in transit: the last 1 to 3 characters are gone
            cut = self.r.randint(1, 3)
            lines[-1] = lines[-1][:-cut] if len(lines[-1]) > cut else lines[-1][:1]
            if sum(len(l) for l in lines) % 4 == 1:
                self.quirks.setdefault(leaf, set()).add("b64-length-4n+1")
        elif self.brk == "b64-invalid-char" and c < 0.5 and len(lines) > 1:
            # characters outside the alphabet: RFC 2045 6.8 says ignore them
            k = self.r.randrange(len(lines))
            pos = self.r.randrange(len(lines[k]) + 1)
            lines[k] = lines[k][:pos] + self.r.choice([b"*", b"!", b"\x00", b"#", b"\xff"]) + lines[k][pos:]
            self.quirks.setdefault(leaf, set()).add("b64-invalid-char")
        elif c < 0.1:
            lines = [l + b" " for l in lines]  # trailing blanks
        return self.nl.join(lines)

    def qp(self, data, leaf):
        out, col = [], 0
        line = bytearray()
        qs = self.quirks.setdefault(leaf, set())
        for i, c in enumerate(data):
            if c == 10:
                if line and line[-1:] in (b" ", b"\t"):
                    line[-1:] = b"=%02X" % line[-1]
                out.append(bytes(line))
                line = bytearray()
                continue
            if (33 <= c <= 126 and c != 61) or c == 32:
                tok = bytes([c])
            else:
                tok = b"=%02X" % c
                if self.r.random() < 0.1:
                    tok = tok.lower()  # lower-case hex
            if len(line) + len(tok) > 75:
                out.append(bytes(line) + b"=")
                line = bytearray()
            line += tok
        if line and line[-1:] in (b" ", b"\t"):
            line[-1:] = b"=%02X" % line[-1]
        out.append(bytes(line))
        c = self.r.random()
        if c < 0.1 and out:
            k = self.r.randrange(len(out))
            out[k] += b"  "  # transport padding
            qs.add("qp-trailing-ws")
        elif c < 0.15 and out:
            k = self.r.randrange(len(out))
            out[k] += b"= "
            qs.add("qp-soft-break-ws")
        elif self.brk == "qp-bad-escape" and c < 0.6 and out:
            # a malformed escape: kept as it is (before a soft break, not
            # after it: "==ZZ" is two malformed escapes, which Python
            # decodes as one)
            k = self.r.randrange(len(out))
            if out[k].endswith(b"="):
                out[k] = out[k][:-1] + b"=ZZ="
            else:
                out[k] += b"=ZZ"
            qs.add("qp-bad-escape")
        if self.nl == b"\r\n":
            qs.add("qp-crlf")
        return self.nl.join(out)

    def filename_params(self):
        c = self.r.random()
        name = self.r.choice(["report.pdf", "data.csv", "photo 1.jpg", "résumé.pdf", "€ rates.xlsx",
                              "日本語.txt", "a;b.bin", "notes.txt"])
        if c < 0.3:
            return None, None
        if all(ord(ch) < 128 for ch in name) and c < 0.6:
            return 'filename="%s"' % name, name
        if c < 0.8:
            enc = "".join(ch if ch.isalnum() and ord(ch) < 128 or ch in "._-" else
                          "".join("%%%02X" % b for b in ch.encode("utf-8")) for ch in name)
            return "filename*=UTF-8''%s" % enc, name
        # continuations, the first with a charset
        enc = "".join(ch if ch.isalnum() and ord(ch) < 128 or ch in "._-" else
                      "".join("%%%02X" % b for b in ch.encode("utf-8")) for ch in name)
        cut = len(enc) // 2
        while "%" in enc[max(cut - 2, 0):cut]:
            cut -= 1
        return ("filename*0*=UTF-8''%s;%s filename*1*=%s" % (enc[:cut], self.nl.decode(), enc[cut:]),
                name)

    def leaf(self, digest=False):
        nl = self.nl
        r = self.r
        kind = r.choice(["text/plain", "text/plain", "text/html", "application/octet-stream",
                         "image/png", "application/pdf"])
        hdr = []
        binary = not kind.startswith("text/")
        cs = None
        if not binary:
            cs = r.choice(CHARSETS + ["x-unknown-8"])
        body = self.body_bytes(binary)
        if isinstance(body, str):
            text = body
            ecs = cs if cs not in ("x-unknown-8",) else "latin-1"
            if not can(text, ecs):
                text = text.encode(ecs, "replace").decode(ecs)
            body = text.encode(ecs)
        if digest and r.random() < 0.3:
            # a digest's default type is message/rfc822: an embedded message
            return self.embedded(default_type=True)
        num = self.nleaf
        self.nleaf += 1
        if cs is not None:
            extra = b""
            if self.brk == "quoted-semicolon" and r.random() < 0.3:
                # a quoted parameter value holding "; charset=": one value
                extra = b'; name="x; charset=koi8-r"'
                self.quirks.setdefault(num, set()).add("quoted-semicolon")
            hdr.append(b"Content-Type: %s%s; charset=%s" % (kind.encode(), extra, cs.encode()
                                                            if r.random() < 0.7 else b'"' + cs.encode() + b'"'))
        elif kind != "text/plain" or r.random() < 0.8:
            hdr.append(b"Content-Type: " + kind.encode())
        fp, fname = self.filename_params()
        if fp and binary:
            hdr.append(b"Content-Disposition: attachment; " + fp.encode())
        elif fp and r.random() < 0.3:
            hdr.append(b"Content-Disposition: inline; " + fp.encode())
        if binary or any(b > 127 for b in body):
            enc = r.choice(["base64", "base64", "quoted-printable"] + (["8bit"] if not binary else []))
        else:
            enc = r.choice(["7bit", "quoted-printable", "base64", None])
        if enc == "base64":
            wire = self.b64(body, num)
        elif enc == "quoted-printable":
            wire = self.qp(body, num)
        else:
            wire = body.replace(b"\n", nl)
        if enc:
            hdr.append(b"Content-Transfer-Encoding: " + (enc.upper().encode() if r.random() < 0.2
                                                         else enc.encode()))
        return nl.join(hdr) + nl + nl + wire

    def embedded(self, default_type=False):
        inner = self.message(depth=2, top=False)
        head = b"" if default_type else b"Content-Type: message/rfc822" + self.nl
        return head + self.nl + inner

    def multipart(self, depth):
        r = self.r
        nl = self.nl
        sub = r.choice(["mixed", "mixed", "alternative", "related", "digest"])
        self.nbound += 1
        b = r.choice(["b", "=_Part_%d" % self.nbound, "----=_NextPart_%03d" % self.nbound,
                      "bound'ary(%d)" % self.nbound, "x%d" % self.nbound])
        b = "%s%d" % (b, self.nbound) if not b.endswith(str(self.nbound)) else b
        quoted = r.random() < 0.7 or any(ch in b for ch in "'()=,")
        eq = b"="
        if self.brk == "param-ws" and r.random() < 0.3:
            # RFC 2045 5.1 via RFC 822 3.1.4: white space may surround the
            # "=" of a parameter in a structured field
            eq = b" = "
            self.quirks.setdefault("msg", set()).add("param-ws")
        ct = b"Content-Type: multipart/%s;%s boundary%s%s" % (
            sub.encode(), nl + b" " if r.random() < 0.5 else b"", eq,
            (b'"' + b.encode() + b'"') if quoted else b.encode())
        out = [ct, b""]
        if r.random() < 0.5:
            out.append(b"This is a preamble." + nl + b"--" + b.encode() + b"X not a boundary")
        n = r.randint(1, 4)
        for i in range(1, n + 1):
            trail = b"  " if r.random() < 0.1 else b""
            out.append(b"--" + b.encode() + trail)
            if self.brk == "part-without-body" and r.random() < 0.15:
                # a part whose header runs straight into the next
                # boundary: no blank line, no body (an empty part)
                out.append(b"Content-Type: application/octet-stream")
                self.nleaf += 1
                self.quirks.setdefault("msg", set()).add("part-without-body")
            elif depth < 3 and r.random() < 0.25:
                out.append(self.multipart(depth + 1))
            elif depth < 3 and r.random() < 0.1:
                out.append(self.embedded())
            else:
                out.append(self.leaf(digest=(sub == "digest")))
        close = r.random()
        if depth > 0 and self.brk == "inner-close-missing" and close < 0.4:
            # an inner multipart without its closing boundary: it ends at
            # the next boundary of an outer one (RFC 2046 5.1.2)
            self.quirks.setdefault("msg", set()).add("inner-close-missing")
        elif close < 0.9 or depth > 0:
            out.append(b"--" + b.encode() + b"--")
            if r.random() < 0.3:
                out.append(b"An epilogue.")
        else:  # the closing boundary is missing at the outermost level
            self.quirks.setdefault("msg", set()).add("missing-close")
        return nl.join(out)

    def message(self, depth=0, top=True):
        r = self.r
        nl = self.nl
        hdr = [b"From: " + self.from_field().encode(),
               b"To: Bob <bob@example.net>",
               b"Subject: " + self.subject().encode(),
               b"Date: Mon, 03 Mar 2025 10:00:00 +0000"]
        if r.random() < 0.85:
            hdr.append(b"MIME-Version: 1.0")
        r.shuffle(hdr)
        if r.random() < 0.6 and depth < 3:
            body = self.multipart(depth)
            # multipart(): its first line is the Content-Type
            head, _, rest = body.partition(nl)
            return nl.join(hdr + [head]) + nl + rest
        leaf = self.leaf()
        return nl.join(hdr) + nl + leaf


def random_message(seed, k):
    rnd = random.Random("%s-%d" % (seed, k))
    g = Gen(rnd)
    raw = g.message()
    return raw, g.quirks


def check_random(o, seed, count, keep):
    for k in range(1, count + 1):
        raw, quirks = random_message(seed, k)
        where = "random-%s-%d" % (seed, k)
        before = len(o.mismatches)
        rc, objs, err = o.json_of([], raw)
        if not o.check(where, "message count", len(objs), 1):
            continue
        compare_message(o, where, raw, objs[0], ([], raw), quirks=quirks)
        if keep and len(o.mismatches) > before:
            os.makedirs(keep, exist_ok=True)
            with open(os.path.join(keep, where + ".eml"), "wb") as f:
                f.write(raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mparse", default=os.environ.get("MPARSE", "mparse"))
    ap.add_argument("--random", type=int, default=0, metavar="N")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--keep", metavar="DIR")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if not os.access(a.mparse, os.X_OK):
        print("mparse_oracle: %s: not an executable" % a.mparse, file=sys.stderr)
        return 2
    o = Oracle(a.mparse, a.verbose)
    for f in a.files:
        check_file(o, f)
    if a.random:
        check_random(o, a.seed, a.random, a.keep)
    tags = {}
    for where, what, cause in o.mismatches:
        for t in cause:
            tags[t] = tags.get(t, 0) + 1
    for t in sorted(tags, key=lambda t: (-tags[t], t)):
        print("oracle: %5d mismatches with %s" % (tags[t], t))
    print("oracle: %d messages, %d comparisons, %d skipped (known), %d mismatches" %
          (o.messages, o.compared, o.skipped, len(o.mismatches)))
    return 1 if o.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
