# again_threads.sh MT_WORKER ROUNDS - the multi-threaded program through two generations:
# checkpoint, kill, restore; checkpoint the restored process, kill it, restore again. Its
# threads (new tids each time), its file and its output must still come out right.
. "$(dirname "$0")/lib.sh"
prog=$1
rounds=$2
"$prog" "$T/expected.dat" "$rounds" >"$T/expected.out" 2>&1 || fail "the uninterrupted run failed"
start run "$prog" "$T/run.dat" "$rounds" "$T/progress"
wait_for "$T/progress"
checkpoint "$PID"
first=$IMG
kill_now "$PID" run
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
[ "$IMG" != "$first" ] || fail "no second image"
kill_now "$RPID" first
restore second "$IMG"
[ "$RC" = 0 ] || fail "the second restore exited $RC"
same "$T/second.out" "$T/expected.out"
same "$T/run.dat" "$T/expected.dat"
echo "again_threads: two generations, output and file match"
