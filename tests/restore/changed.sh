# changed.sh - "changed since the checkpoint" is said only where it is a hazard. A program
# writes its standard output to a file, a write-only file and an append-only log, and reads an
# input file as it goes; it runs on after its checkpoint, so its output files grow, and is
# killed. The restore says nothing about the output files (the restored run writes them again
# from the saved offsets: the outputs come out whole); it does warn when the input changed, and
# when a write-only file became shorter than the offset the process writes at.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skipped: no $PY"; exit 77; }
N=200
seq 1 $N | sed 's/$/ some input/' >"$T/input"
awk '{ print NR - 1, $0 }' "$T/input" >"$T/expected.stdout"
seq 0 $((N - 1)) >"$T/expected.out"
start run sh -c 'o=$1; shift; exec "$@" >"$o"' sh "$T/out.stdout" "$PY" "$(dirname "$0")/changed.py" "$T/out" \
    "$T/log" "$T/input" "$T/progress" $N
wait_for "$T/progress"
take_checkpoint "$PID"
at=$(wc -l <"$T/out")
n=100
while [ "$(wc -l <"$T/out")" -lt $((at + 20)) ] && [ "$n" -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
kill_now "$PID" run
[ "$(wc -l <"$T/out")" -lt $N ] || fail "the program finished before it was killed"

# output only: no warning at all (a dry run checks the files as the restore does)
restore dry -n "$IMG"
[ "$RC" = 0 ] || fail "restore -n exited $RC: $(cat "$T/dry.err")"
! grep -q "warning" "$T/dry.err" || fail "restore -n warned: $(cat "$T/dry.err")"
restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
! grep -q "warning" "$T/restored.err" || fail "restore warned: $(cat "$T/restored.err")"
same "$T/out.stdout" "$T/expected.stdout"
same "$T/out" "$T/expected.out"

# a write-only file now shorter than its saved offset: the restored output would have a hole
cp "$T/out" "$T/out.whole"
: >"$T/out"
restore short -n "$IMG"
[ "$RC" = 0 ] || fail "restore -n exited $RC: $(cat "$T/short.err")"
grep -qF "warning: $T/out is shorter than the offset descriptor" "$T/short.err" ||
    fail "no warning for the truncated output: $(cat "$T/short.err")"
[ "$(grep -c warning "$T/short.err")" = 1 ] || fail "other warnings: $(cat "$T/short.err")"
cp "$T/out.whole" "$T/out"

# the input changed before the offset the process reads at: warned
printf 'X' | dd of="$T/input" bs=1 seek=0 conv=notrunc 2>/dev/null
touch -m -d '2001-02-03 04:05:06' "$T/input"
restore input -n "$IMG"
[ "$RC" = 0 ] || fail "restore -n exited $RC: $(cat "$T/input.err")"
grep -qE "^crsnap restore: warning: $T/input changed since the checkpoint \(descriptor [0-9]+\)\$" \
    "$T/input.err" || fail "no warning for the changed input: $(cat "$T/input.err")"
[ "$(grep -c warning "$T/input.err")" = 1 ] || fail "other warnings: $(cat "$T/input.err")"
echo "changed: output files restored without a warning; a changed input and a cut output warned"
