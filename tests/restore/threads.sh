# threads.sh MT_WORKER ROUNDS - a multi-threaded C program (mutex/condvar ring, pwrite at
# offsets, interval timer, thread-local data, malloc churn, floating point) checkpointed mid-work,
# SIGKILLed and restored: its printed result and its output file must match an uninterrupted
# run's, its threads must join, and its interval timer must still tick.
. "$(dirname "$0")/lib.sh"
prog=$1
rounds=$2
"$prog" "$T/expected.dat" "$rounds" >"$T/expected.out" 2>"$T/expected.err" ||
    fail "the uninterrupted run failed"
grep -qx "timer running" "$T/expected.out" || fail "the timer does not run even without crsnap"
start run "$prog" "$T/run.dat" "$rounds" "$T/progress"
wait_for "$T/progress"
checkpoint "$PID"
kill_now "$PID" run
# A file the process holds open must still be there.
mv "$T/run.dat" "$T/run.away"
restore missing "$IMG"
[ "$RC" = 1 ] || fail "restore without its open file exited $RC, expected 1"
grep -qF "$T/run.dat is missing (open as descriptor" "$T/missing.err" ||
    fail "no message for the missing file: $(cat "$T/missing.err")"
mv "$T/run.away" "$T/run.dat"
restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
same "$T/restored.out" "$T/expected.out"
same "$T/run.dat" "$T/expected.dat"
echo "threads: restored output and file match"
