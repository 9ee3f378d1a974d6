#!/bin/sh
# The simulation example (static library): periodic checkpoints from crs_init's interval leave
# images in its directory, retention keeps the newest 3 and those they are incremental on (the
# newest verifies with its chain), and the result is the one of a run
# without checkpoints. When `crsnap restore` exists, a run killed after its first image is
# restored and finishes with that same result.
# usage: example_simulation.sh SIMULATION
. "$(dirname "$0")/lib.sh"
EX=$1

run_cmd 0 "$EX" "$T/plain" --steps 300 --interval 0
ref=$(grep '^result:' "$T/out") || fail "no result line: $(cat "$T/out")"
run_cmd 0 "$EX" "$T/imgs" --steps 300 --interval 0.05 --min-checkpoints 4
has_line "$T/out" "checkpoints: at least 4"
has_line "$T/out" "$ref"
# A checkpoint that started just before the exit may still be publishing: let it settle.
tries=50
while n=$(ls "$T/imgs" | grep -c '^ckpt-.*\.crsnap$') && [ "$n" -lt 3 ] && [ $tries -gt 0 ]; do
    sleep 0.1; tries=$((tries - 1))
done
sleep 0.5
[ "$n" -ge 3 ] || fail "expected the 3 newest images kept, found $n: $(ls "$T/imgs")"
"$CRSNAP_BIN" verify -q "$T/imgs/latest" >"$T/verify.out" 2>&1 ||
    fail "the newest image and its chain do not verify: $(cat "$T/verify.out")"
[ -e "$T/plain" ] && [ -n "$(ls "$T/plain")" ] && fail "interval 0 still wrote images"

restore_half_or_done restore
run_cmd 0 "$EX" "$T/plain" --steps 2000 --interval 0
ref=$(grep '^result:' "$T/out")
"$EX" "$T/imgs2" --steps 2000 --interval 0.1 >"$T/run.out" 2>&1 &
pid=$!
CLEANUP_PIDS=$pid
n=300
while ! ls "$T/imgs2" 2>/dev/null | grep -q '^ckpt-.*\.crsnap$' && [ $n -gt 0 ]; do
    sleep 0.05; n=$((n - 1))
done
[ $n -gt 0 ] || fail "no periodic image appeared"
kill -KILL $pid
wait $pid 2>/dev/null
grep -q '^result' "$T/run.out" && { echo "the run finished before it was killed"; exit 1; }
run_cmd 0 "$CRSNAP_BIN" restore "$T/imgs2"
cat "$T/run.out" "$T/out" >"$T/all"
has_line "$T/all" "simulation: this run was restored from an image 1 time(s)"
has_line "$T/all" "$ref"
echo ok
