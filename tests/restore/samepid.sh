# samepid.sh PID_PY TIDS - `crsnap restore --same-pid`: the restored process gets the pid it
# had, crsnap restore hands back its exit status, a second restore while that pid is taken fails
# with a clear message; and threads get their tids back, so that mutexes that record their
# owner's tid (recursive, error-checking) still work.
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
restore second --same-pid "$IMG"
[ "$RC" = 1 ] || fail "a second restore under a taken pid exited $RC"
grep -qF "cannot restore under pid $PID: a process has it" "$T/second.err" ||
    fail "no message for the taken pid: $(cat "$T/second.err")"
wait "$FIRST"
rc=$?
[ "$rc" = 5 ] || fail "crsnap restore --same-pid exited $rc, expected the program's 5"
read -r got hash <"$T/first.out" || fail "no output"
[ "$got" = "$PID" ] || fail "the restored process had pid $got, not $PID"
expected=$(/usr/bin/python3 "$script" $n_chain "$T/plain")
[ "$hash" = "${expected#* }" ] || fail "result $hash, expected ${expected#* }"

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
