# tty.sh CHAIN - a program whose standard streams are a terminal is restored onto the terminal
# of `crsnap restore` (here a pseudo-terminal from script(1)), which also shows its progress
# line there because its stderr is a terminal.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "skipped: no script(1)"; exit 77; }
chain=$1
expected=$(/usr/bin/python3 "$chain" 8000000) || fail "the uninterrupted run failed"
script -qfec "'$CRSNAP_BIN' run -d '$T/imgs' -- /usr/bin/python3 '$chain' 8000000 '$T/progress'" \
    "$T/first.log" </dev/null >/dev/null 2>&1 &
SPID=$!
PIDS="$PIDS $SPID"
read_pid "$T/progress"
PIDS="$PIDS $PID"
checkpoint "$PID"
kill -KILL "$PID"
wait "$SPID"
grep -q "$expected" "$T/first.log" && fail "the program finished before it was killed"
script -qfec "'$CRSNAP_BIN' restore '$IMG'" "$T/restored.log" </dev/null >/dev/null 2>&1
RC=$?
[ "$RC" = 0 ] || fail "crsnap restore under a terminal exited $RC: $(cat "$T/restored.log")"
grep -q "$expected" "$T/restored.log" || fail "no result on the terminal: $(cat "$T/restored.log")"
grep -q "crsnap restore: restored .* MiB (.* MiB/s)" "$T/restored.log" ||
    fail "no progress line on the terminal: $(cat "$T/restored.log")"
echo "tty: restored onto the terminal, with a progress line"
