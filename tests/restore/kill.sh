# kill.sh MT_WORKER ROUNDS - `crsnap checkpoint --kill`: the process exits once its image is
# durable, so the file it writes stays as it was at the snapshot; the restore finishes the work
# and the file ends identical to an uninterrupted run's.
. "$(dirname "$0")/lib.sh"
prog=$1
rounds=$2
"$prog" "$T/expected.dat" "$rounds" >"$T/expected.out" 2>&1 || fail "the uninterrupted run failed"
start run "$prog" "$T/run.dat" "$rounds" "$T/progress"
wait_for "$T/progress"
IMG=$("$CRSNAP_BIN" checkpoint --kill "$PID" 2>"$T/checkpoint.err") || fail "checkpoint --kill failed"
n=0
while kill -0 "$PID" 2>/dev/null; do
    n=$((n + 1))
    [ $n -lt 200 ] || fail "the process did not exit after checkpoint --kill"
    sleep 0.05
done
wait
[ ! -s "$T/run.out" ] || fail "the process carried on after checkpoint --kill"
restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
same "$T/restored.out" "$T/expected.out"
same "$T/run.dat" "$T/expected.dat"
echo "kill: restored after --kill, file matches"
