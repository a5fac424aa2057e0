#!/bin/bash
# docworld.sh: write, in the current directory (Bob's home in the sandbox of
# tests/cli/docs.bats), the files the examples of README.md and the man
# pages name, made so that what the documents show is true: report.eml is
# the message of mparse.1, message.eml the one with the Received trace and
# the Reply-To, archive.mbox has two messages with a report.pdf each.
set -eu

# pdf N: a PDF-looking file of N bytes
pdf() { { printf '%%PDF-1.4\n'; yes 'BT /F1 12 Tf (quarterly figures) Tj ET' | head -c $(($1 - 9)); } }

# report SUBJECT TEXTBYTES: the report of mparse.1, its text part TEXTBYTES long
report() {
	local b=mp-boundary-1
	printf 'From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.org>\n'
	printf 'To: Bob Martin <bob@example.net>\n'
	printf 'Date: Tue, 04 Mar 2025 10:15:00 +0100\n'
	printf 'Subject: %s\n' "$1"
	printf 'Message-ID: <q1-%s@example.org>\n' "${#1}"
	printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="%s"\n\n' $b
	printf -- '--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n' $b
	{ printf 'Hi Bob,\n\nthe report for the first quarter is attached.\n'; yes 'Sales: up in every region, 3% over Q4.' ; } | head -c "$2"
	printf '\n--%s\nContent-Type: application/pdf; name="report.pdf"\n' $b
	printf 'Content-Disposition: attachment; filename="report.pdf"\nContent-Transfer-Encoding: base64\n\n'
	pdf 48213 | base64
	printf -- '--%s--\n' $b
}

report '=?UTF-8?Q?Quarterly_report_=E2=80=93_Q1?=' 412 >report.eml
# ~/Archive: the Maildir of mparse.1's --scan, --show and pick examples, as
# mparse.bats makes it from the same fixtures
fx=$(dirname "$0")/../fixtures/mparse
mkdir -p Archive/cur Archive/new Archive/tmp
cp "$fx/mixed.eml" 'Archive/cur/1700000001.a.host:2,S'
cp "$fx/html-links.eml" 'Archive/cur/1700000002.b.host:2,FR'
cp "$fx/html-only.eml" Archive/new/1700000003.c.host
cp "$fx/forward.eml" 'Archive/cur/1700000004.d.host:2,ST'
cp report.eml Maildir/new/1741079700.M1P1.docs
pdf 48213 >report.pdf

# message.eml: the Received trace of mparse.1, a Reply-To, a Latin-1 subject
{
	printf 'Received: from mx.example.net by imap.example.net with LMTP id kGq2Lw1Fx2dVAQAA;\n'
	printf ' Tue, 04 Mar 2025 09:24:51 +0000\n'
	printf 'Received: from mail.example.org by mx.example.net with ESMTPS id 4Z8QbT0xYzz9sW;\n'
	printf ' Tue, 04 Mar 2025 09:15:07 +0000\n'
	printf 'Received: from [192.168.1.20] by mail.example.org with ESMTPSA id 4Z8QbS6kF3z1xq;\n'
	printf ' Tue, 04 Mar 2025 09:15:01 +0000\n'
	printf 'From: Jo <jo@example.org>\nTo: Bo <bo@example.net>, Bob <bob@hamburger.test>\n'
	printf 'Reply-To: Mailing List <list@example.org>\n'
	printf 'Subject: =?ISO-8859-1?Q?Caf=E9?=\n =?UTF-8?B?IOKCrDM=?=\n'
	printf 'Date: Tue, 04 Mar 2025 10:15:00 +0100\nMessage-ID: <m1@example.org>\n'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nA coffee costs 3 euros.\n'
} >message.eml
cp message.eml Maildir/cur/1741079701.M2P1.docs:2,S

# msg.eml (and msg): to Bob, with a PDF as part 2 and a Received field
{
	printf 'Received: from [127.0.0.1] by mx1.example.test with ESMTPSA id 1;\n Tue, 04 Mar 2025 09:15:01 +0000\n'
	report 'Report for Bob' 200 | sed 's/^To: .*/To: Bob <bob@hamburger.test>/'
} >msg.eml
cp msg.eml msg

# archive.mbox (and archive, its .gz): two messages, each with a report.pdf
{
	for i in 1 2; do
		printf 'From renee@example.org Tue Mar  4 10:15:0%d 2025\n' $i
		report "Report $i" 100
		echo
	done
} >archive.mbox
cp archive.mbox archive
gzip -c archive.mbox >archive.mbox.gz

# old.mbox: 1,234 messages, so that --skip 1233 has one left
for ((i = 1; i <= 1234; i++)); do
	printf 'From jo@example.org Tue Mar  4 10:15:00 2025\nFrom: jo@example.org\nSubject: old %d\n\nold\n\n' $i
done >old.mbox

mkdir -p mail # the directory of mfetch.1's mbox
printf 'first line\nGr\303\274\303\237e =E9 trailing space \nlast\n' >notes.txt
printf 'aGVsbG8g!!\nd29y*bGQK\n' >noisy.txt
printf 'job,status\nbackup,ok\n' >out.csv
printf 'The report.\n' >report.txt
printf '%s\n' example.org example.net hamburger.test crepes.test >domains.txt
printf '%s\n' bob@example.org bo@example.net jo@nullmx.example.test >recipients.txt
printf 'Subject: [PATCH] fix\n\n---\n' >0001-fix.patch
