# blocking.sh PROG - no checkpoint shows as an early wake-up: PROG (blocking.c) has a thread in
# each blocking call; checkpointed while they wait, live (three times, the program goes on) and
# then killed and restored, every call ends as it would have without crsnap: by its timeout
# after about the time asked, or by what the program does; its own signal still says EINTR.
. "$(dirname "$0")/lib.sh"
prog=$1

"$prog" "$T/cue0" --live >"$T/expected_live.out" 2>"$T/expected.err" ||
    fail "the uninterrupted run failed: $(grep -v ' ok$' "$T/expected_live.out")"

# Live: the program goes on after each checkpoint.
start live "$prog" "$T/cue1" --live
wait_for "$T/cue1"
for i in 1 2 3; do
    checkpoint "$PID"
    sleep 0.3
done
n=300
while kill -0 "$PID" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
same "$T/live.out" "$T/expected_live.out"
echo "live: every call ended as without checkpoints"

# Restored: a live checkpoint, then the one it is restored from.
"$prog" "$T/cue2" >"$T/expected.out" 2>>"$T/expected.err" || fail "the uninterrupted run failed"
start run "$prog" "$T/cue3"
wait_for "$T/cue3"
checkpoint "$PID"
sleep 0.5
checkpoint "$PID"
kill_now "$PID" run
restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC: $(cat "$T/restored.out")"
same "$T/restored.out" "$T/expected.out"
echo "restored: every call ended as without checkpoints"
