#!/bin/sh
# One preemption, two signals: Slurm sends SIGTERM to the program and to its batch script,
# which passes it on, so the second comes while the image of the first is being taken. The
# program checkpoints once and ends with 85; the run that resumes from that image carries on
# to the end instead of checkpointing and ending again at once.
# usage: run_exit_twice.sh SLOW_PREPARE
. "$(dirname "$0")/lib.sh"
PROG=$1
[ -n "${CRSNAP_SANITIZED:-}" ] && { echo "SKIP: a sanitized program cannot be restored" >&2; exit 77; }

lines() { if [ -e "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# Steps of 20 ms; each checkpoint's prepare phase lasts 800 ms, the program running meanwhile.
"$CRSNAP_BIN" run -r --exit-on TERM -d "$T/d" -i 0 "$PROG" 100 20 800 >"$T/run1.out" 2>"$T/run1.err" &
pid=$!
CLEANUP_PIDS="$pid"
n=200
while [ "$(lines "$T/run1.out")" -lt 10 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$(lines "$T/run1.out")" -ge 10 ] || fail "the program did not start: $(cat "$T/run1.err")"
kill -TERM $pid
sleep 0.3                               # inside the prepare phase
kill -TERM $pid 2>/dev/null
wait $pid
st=$?
[ $st = 85 ] || fail "the first run exited $st, not 85: $(cat "$T/run1.err")"
has "$T/run1.err" "SIGTERM: checkpoint $T/d/ckpt-"
[ "$(grep -c 'taking a checkpoint' "$T/run1.err")" = 1 ] ||
    fail "two signals, more than one checkpoint: $(cat "$T/run1.err")"

# The resumed run goes to the end: the second SIGTERM was the ended process's.
"$CRSNAP_BIN" run -r --exit-on TERM -d "$T/d" -i 0 "$PROG" 100 20 800 >"$T/run2.out" 2>"$T/run2.err" &
pid=$!
CLEANUP_PIDS="$pid"
wait $pid
st=$?
[ $st = 0 ] || fail "the resumed run exited $st, not 0: $(cat "$T/run2.err")"
has "$T/run2.err" "crsnap run: resuming from $T/d/ckpt-"
grep -q 'taking a checkpoint' "$T/run2.err" &&
    fail "the resumed run checkpointed on a signal it was never sent: $(cat "$T/run2.err")"
cat "$T/run1.out" "$T/run2.out" >"$T/both.out"
seq 1 100 | sed 's/^/step /' >"$T/ref.out"
echo done >>"$T/ref.out"
cmp -s "$T/both.out" "$T/ref.out" ||
    fail "the two runs together are not one uninterrupted run: $(diff "$T/both.out" "$T/ref.out" | head -5)"
exit 0
