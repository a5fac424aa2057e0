#!/usr/bin/perl
# Test messages for mdeliver.bats: make them, pack them into an mbox, and
# check what a mailbox holds against them. Core Perl only.
#
#   msgs.pl gen DIR COUNT MINBYTES MAXBYTES SEED TAG [plain]
#       DIR/1.eml .. DIR/COUNT.eml: distinct messages (a unique token
#       TAG-N-XXXXXXXX in Message-ID, X-Token and the body) of MINBYTES to
#       MAXBYTES, LF line ends, ending in a newline. Unless "plain", bodies
#       also hold mbox traps after blank lines: "From ...", ">From ...",
#       ">>From ...", "From", blank runs.
#   msgs.pl mbox OUT SENDER FILE...
#       an mboxrd file of those messages, written independently of mdeliver:
#       "From SENDER Mon Jan  1 00:00:00 2024", ^>*From quoted with one more
#       '>', a blank line after each message.
#   msgs.pl check [--prefix=STR] [--all] [--require=LIST] SENTDIR FILE...
#       every FILE must be byte-identical to STR followed by one message
#       SENTDIR/*.eml, and no two FILEs the same message; --all: every
#       message must be there; --require=LIST: the messages listed in LIST
#       (one path per line) must be there. One line per problem on stdout,
#       exit 1 if there is any.
use strict;
use warnings;

sub slurp {
	my ($f) = @_;
	open(my $fh, '<:raw', $f) or die "$f: $!\n";
	local $/;
	my $s = <$fh>;
	close $fh;
	return defined $s ? $s : '';
}

sub spew {
	my ($f, $s) = @_;
	open(my $fh, '>:raw', $f) or die "$f: $!\n";
	print $fh $s or die "$f: $!\n";
	close $fh or die "$f: $!\n";
}

sub gen {
	my ($dir, $count, $min, $max, $seed, $tag, $plain) = @_;
	die "usage: gen DIR COUNT MIN MAX SEED TAG [plain]\n" unless defined $tag;
	srand($seed);
	my @c    = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '+', '/');
	my @pool = map { my $l = ''; $l .= $c[int rand @c] for 1 .. 76; $l } 1 .. 512;
	my @traps = ("From the body, unquoted", ">From quoted once", ">>From quoted twice",
	             "From", "From:not a separator", " From indented", "", "From ");
	for my $i (1 .. $count) {
		my $tok  = sprintf("%s-%d-%08x", $tag, $i, int(rand(4294967295)));
		my $size = $min + int(rand($max - $min + 1));
		my $s    = "From: Sender $i <sender$i\@example.org>\n"
		         . "To: rcpt\@example.org\n"
		         . "Subject: message $i of $count\n"
		         . "Message-ID: <$tok\@mdeliver.test>\n"
		         . "X-Token: $tok\n\n"
		         . "token $tok\n";
		while (length($s) < $size) {
			if (!$plain && rand() < 0.06) {
				$s .= "\n" . $traps[int rand @traps] . "\n";
			} else {
				$s .= $pool[int rand @pool] . "\n";
			}
		}
		$s .= "end $tok\n";
		spew("$dir/$i.eml", $s);
	}
}

sub mbox {
	my ($out, $sender, @files) = @_;
	my $s = '';
	for my $f (@files) {
		my $m = slurp($f);
		$m =~ s/^(>*From )/>$1/mg;
		$s .= "From $sender Mon Jan  1 00:00:00 2024\n$m\n";
	}
	spew($out, $s);
}

sub token {
	my ($s) = @_;
	return $s =~ /^X-Token: (\S+)/m ? $1 : '(no X-Token)';
}

sub check {
	my ($prefix, $all, $require) = ('', 0, undef);
	while (@_ && $_[0] =~ /^--/) {
		my $o = shift;
		if    ($o =~ /^--prefix=(.*)$/s) { $prefix = $1 }
		elsif ($o eq '--all')            { $all = 1 }
		elsif ($o =~ /^--require=(.*)$/) { $require = $1 }
		else                             { die "unknown option $o\n" }
	}
	my ($dir, @got) = @_;
	my (%want, %bytok, %seen);
	my $bad = 0;
	opendir(my $dh, $dir) or die "$dir: $!\n";
	for my $n (sort grep { /\.eml$/ } readdir $dh) {
		my $m = $prefix . slurp("$dir/$n");
		$want{$m} = "$dir/$n";
		$bytok{token($m)} = $m;
	}
	closedir $dh;
	for my $f (@got) {
		my $s = slurp($f);
		my $name = $want{$s};
		if (!defined $name) {
			my $t = token($s);
			my $why = sprintf("%d bytes", length $s);
			if (my $m = $bytok{$t}) {
				my $i = 0;
				$i++ while $i < length($s) && $i < length($m)
				    && substr($s, $i, 1) eq substr($m, $i, 1);
				$why .= sprintf(", the message sent with %s has %d; first difference at byte %d",
				                $t, length $m, $i + 1);
			}
			print "$f: matches no message sent ($t, $why)\n";
			$bad++;
		} elsif ($seen{$name}) {
			print "$f: the same message as $seen{$name} ($name)\n";
			$bad++;
		} else {
			$seen{$name} = $f;
		}
	}
	my @must;
	@must = sort values %want if $all;
	if (defined $require) {
		open(my $fh, '<', $require) or die "$require: $!\n";
		chomp(my @l = <$fh>);
		close $fh;
		push @must, grep { length } @l;
	}
	for my $n (@must) {
		next if $seen{$n};
		print "$n: missing\n";
		$bad++;
	}
	return $bad ? 1 : 0;
}

my $cmd = shift // '';
if    ($cmd eq 'gen')   { gen(@ARGV) }
elsif ($cmd eq 'mbox')  { mbox(@ARGV) }
elsif ($cmd eq 'check') { exit check(@ARGV) }
else                    { die "usage: msgs.pl gen|mbox|check ...\n" }
