#!/bin/sh
# The SIGUSR1 example: once it says it is ready, SIGUSR1 makes it write an image (reported by
# crs_last_checkpoint), and it still computes the right answer.
# usage: example_sigdump.sh SIGDUMP
. "$(dirname "$0")/lib.sh"
EX=$1

"$EX" "$T/imgs" --primes 30000 --until-dumped >"$T/run.out" 2>"$T/err" &
pid=$!
CLEANUP_PIDS=$pid
n=100
while ! grep -q "ready" "$T/run.out" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
has "$T/run.out" "sigdump: pid $pid ready; 'kill -USR1 $pid' writes an image to $T/imgs"
kill -USR1 $pid
wait $pid
st=$?
[ $st = 0 ] || fail "sigdump exited $st: $(cat "$T/run.out")"
has "$T/run.out" "dump written: $T/imgs/ckpt-"
has_line "$T/run.out" "result: 30000 primes, the last is 350377"
img=$(sed -n 's/^dump written: \(.*\) ([0-9]* bytes)$/\1/p' "$T/run.out" | head -n 1)
[ -f "$img" ] || fail "the image $img does not exist"
echo ok
