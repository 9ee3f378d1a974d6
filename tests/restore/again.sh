# again.sh - a restored process is checkpointed again, killed, and restored from the second
# image: the output must still match an uninterrupted run's.
. "$(dirname "$0")/lib.sh"
chain=$1
n=$2
/usr/bin/python3 "$chain" "$n" >"$T/expected.out" || fail "the uninterrupted run failed"
start run /usr/bin/python3 "$chain" "$n" "$T/progress"
wait_for "$T/progress"
checkpoint "$PID"
first=$IMG
kill_now "$PID" run
# The first restore runs in the background; it is the restored process (same pid).
rm -f "$T/pid"
( "$CRSNAP_BIN" restore -q "$first" 2>"$T/first.err" & echo $! >"$T/pid"; wait ) |
    cat >"$T/first.out" &
wait_for "$T/pid"
RPID=$(cat "$T/pid")
PIDS="$PIDS $RPID"
tries=0
while ! IMG=$("$CRSNAP_BIN" checkpoint -w "$RPID" 2>"$T/checkpoint.err"); do
    tries=$((tries + 1))
    [ $tries -lt 100 ] || fail "the restored process does not take a checkpoint"
    kill -0 "$RPID" 2>/dev/null || fail "the restored process is gone"
    sleep 0.1
done
[ "$IMG" != "$first" ] && [ -f "$IMG" ] || fail "no second image ($IMG)"
kill_now "$RPID" first
restore second "$IMG"
[ "$RC" = 0 ] || fail "the second restore exited $RC"
same "$T/second.out" "$T/expected.out"
echo "again: restored twice, output matches"
