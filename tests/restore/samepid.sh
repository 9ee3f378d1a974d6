# samepid.sh PID_PY TIDS - `crsnap restore --same-pid` as root: the restored process gets the
# pid it had, crsnap restore hands back its exit status; a second restore while that pid is
# taken gets it in a pid namespace of its own, one with --new-pid does not; and threads get
# their tids back, so that mutexes that record their owner's tid (recursive, error-checking)
# still work.
. "$(dirname "$0")/lib.sh"
script=$1
tids=$2
n=4000000
n_chain=$n
rm -f "$T/progress"
( "$CRSNAP_BIN" run -d "$T/imgs" -- /usr/bin/python3 "$script" $n "$T/progress" 2>"$T/run.err" ) |
    cat >"$T/run.out" &
read_pid "$T/progress"
PIDS="$PIDS $PID"
checkpoint "$PID"
kill_now "$PID" run
"$CRSNAP_BIN" restore -q --same-pid "$IMG" >"$T/first.out" 2>"$T/first.err" &
FIRST=$!
PIDS="$PIDS $FIRST"
n=0
while ! kill -0 "$PID" 2>/dev/null; do
    if ! kill -0 "$FIRST" 2>/dev/null; then
        grep -q "needs CAP_CHECKPOINT_RESTORE" "$T/first.err" && { echo "skipped: no privilege"; exit 77; }
        fail "the restored process never had pid $PID"
    fi
    n=$((n + 1)); [ $n -lt 200 ] || fail "pid $PID never came back"
    sleep 0.05
done
# The pid is taken here now: a second restore gets it in a pid namespace of its own.
restore second --same-pid "$IMG"
[ "$RC" = 5 ] || fail "a second restore under a taken pid exited $RC: $(cat "$T/second.err")"
read -r got2 hash2 <"$T/second.out" || fail "no output from the second restore"
[ "$got2" = "$PID" ] || fail "the second restored process had pid $got2, not $PID"
# --new-pid: the restorer's own.
restore third --new-pid "$IMG"
[ "$RC" = 5 ] || fail "a restore with --new-pid exited $RC: $(cat "$T/third.err")"
read -r got3 hash3 <"$T/third.out" || fail "no output from the --new-pid restore"
[ "$got3" != "$PID" ] || fail "--new-pid kept pid $PID"
wait "$FIRST"
rc=$?
[ "$rc" = 5 ] || fail "crsnap restore --same-pid exited $rc, expected the program's 5"
read -r got hash <"$T/first.out" || fail "no output"
[ "$got" = "$PID" ] || fail "the restored process had pid $got, not $PID"
expected=$(/usr/bin/python3 "$script" $n_chain "$T/plain")
[ "$hash" = "${expected#* }" ] && [ "$hash2" = "$hash" ] && [ "$hash3" = "$hash" ] ||
    fail "results $hash $hash2 $hash3, expected ${expected#* }"

rm -f "$T/progress"
"$tids" 500000 "$T/expected.progress" >"$T/expected.out" || fail "the uninterrupted run failed"
start tids "$tids" 500000 "$T/progress"
read_pid "$T/progress"
checkpoint "$PID"
kill_now "$PID" tids
restore restored --same-pid "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore --same-pid exited $RC"
same "$T/restored.out" "$T/expected.out"
echo "samepid: restored under pid $PID, threads under their tids"

# The restorer that waits keeps none of the program's descriptors: a reader of the restored
# program's output sees the end when the program closes it, not when the program exits.
rm -f "$T/progress" "$T/closed" "$T/eof" "$T/pid" "$T/rpid"
( "$CRSNAP_BIN" run -d "$T/imgs2" -- /usr/bin/python3 -c '
import os, sys, time
for i in range(60):
    time.sleep(0.05)
    if i == 5:
        open(sys.argv[1], "w").close()
os.close(1)
open(sys.argv[2], "w").close()
time.sleep(30)' "$T/progress" "$T/closed" 2>"$T/closer.err" & echo $! >"$T/pid"; wait ) | cat >/dev/null &
read_pid "$T/pid"
PIDS="$PIDS $PID"
wait_for "$T/progress"
checkpoint "$PID"
kill -KILL "$PID"
( "$CRSNAP_BIN" restore -q "$IMG" 2>"$T/closer_restore.err" & echo $! >"$T/rpid"
  exec >/dev/null; wait ) |
    { cat >/dev/null; : >"$T/eof"; } &
read_pid "$T/rpid"
PIDS="$PIDS $PID"
wait_for "$T/closed"
wait_for "$T/eof" 100
kill -0 "$PID" 2>/dev/null || fail "the restored program ended before its time"
echo "samepid: the output's reader sees its end when the restored program closes it"
