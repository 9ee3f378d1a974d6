#!/bin/sh
# awk (gawk and mawk, whichever are installed; unmodified): associative arrays, string functions
# and floating point over a large input, checkpointed partway through, killed and restored.
# usage: awk.sh gawk|mawk
. "$(dirname "$0")/lib.sh"
need "$1"
AWK=$(command -v "$1")
seq 1 1500000 >"$T/input"
cat >"$T/prog.awk" <<'AWK'
{
    k = ($1 * 7919) % 10007
    cnt[k]++
    acc = (acc * 31 + k + length($1)) % 1000000007
    f += sqrt($1) / (1 + k)
    if (NR % 150000 == 0) { print "progress: " NR > "/dev/stderr"; fflush("/dev/stderr") }
}
END {
    for (k in cnt) { n++; s = (s + k * cnt[k]) % 1000000007 }
    printf "lines %d keys %d acc %d sum %d f %.6f\n", NR, n, acc, s, f
}
AWK
reference "$AWK" -f "$T/prog.awk" "$T/input"
start "$AWK" -f "$T/prog.awk" "$T/input"
wait_grep "progress: 150000$" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "$1: restored output matches"
