# A sha256 hash chain, for the restore tests: plain Perl, unaware of crsnap.
#   perl chain.pl ITERATIONS [PROGRESS_FILE]
use strict;
use warnings;
use Digest::SHA qw(sha256);

my ($n, $progress) = @ARGV;
my $h = "crsnap";
for my $i (0 .. $n - 1) {
    $h = sha256($h);
    if (defined $progress && $i == int($n / 10)) {
        open(my $f, '>', $progress) or die; close($f);
    }
}
print unpack("H*", $h), "\n";
