#!/bin/sh
# A producer and a consumer (unmodified: seq and a slow awk), joined by a pipe that always
# holds bytes: checkpointed as one job while the pipe is full, both killed with SIGKILL, the
# job restored. Every line must arrive once, in order: the bytes waiting in the pipe come back
# in the one pipe the two share again, and nothing says it was lost.
. "$(dirname "$0")/lib.sh"
need bash seq awk
cat >"$T/prog.sh" <<'SH'
seq 1 60000 | awk '{ s = (s * 31 + $1) % 1000000007; n++; if (n % 4000 == 0) { print "progress: " n > "/dev/stderr"; fflush("/dev/stderr") }; for (i = 0; i < 2000; i++) x++ } END { print n, s }'
SH
reference "$bash" "$T/prog.sh"
start "$bash" "$T/prog.sh"
wait_grep "progress: 8000" "$T/run.err"
checkpoint_job 3
for f in "${IMG%.crsnap}.parts"/*.crsnap; do "$CRSNAP_BIN" info "$f"; done >"$T/parts.txt"
grep -q "bytes waiting" "$T/parts.txt" || fail "no image holds the bytes waiting in the pipe"
# The pipe is the job's: neither its checkpoint nor its restore calls it lost (descriptors
# above 9 are the test runner's, left open to the programs).
grep -E "not restorable: fd [0-9]: pipe" "$T/run.err" &&
    fail "the checkpoint says the job's pipe is lost"
kill_tree
restore
same_output
grep -E "not restored: fd [0-9]: pipe" "$T/restored.err" &&
    fail "the restore says the job's pipe is lost"
echo "pipe: producer and consumer restored together, every line once, in order"
