#!/bin/sh
# Perl (the system's, unmodified): hashes, regular expressions, sprintf and a file read line by
# line, checkpointed partway through, killed and restored.
. "$(dirname "$0")/lib.sh"
need /usr/bin/perl
seq 1 400000 >"$T/input"
cat >"$T/prog.pl" <<'PL'
use strict; use warnings;
my (%h, $acc);
open(my $in, '<', $ARGV[0]) or die "open: $!";
$acc = 7;
while (my $l = <$in>) {
    chomp $l;
    my $k = sprintf("%x", ($l * 2654435761) % 1000003);
    $h{$k}++;
    $acc = ($acc * 33 + length($k) + ($k =~ tr/a-f//)) % 4294967291;
    for my $i (1 .. 20) { $acc = ($acc * 69069 + $i) % 4294967291; }
    print STDERR "progress: $.\n" if $. % 40000 == 0;
}
my $s = 0; $s = ($s * 131 + $h{$_}) % 1000000007 for sort keys %h;
print "keys ", scalar(keys %h), " acc $acc sum $s\n";
PL
reference "$perl" "$T/prog.pl" "$T/input"
start "$perl" "$T/prog.pl" "$T/input"
wait_grep "progress: 40000$" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "perl: restored output matches"
