#!/bin/sh
# A job with a process that cannot run the library (a statically linked program in a bash
# pipeline, feeding awk): the checkpoint does not fail, it leaves that process out, saying so,
# and saves the others. The restore brings back bash and awk, says that the static program is
# not restored, and awk sees the end of its input (its writer is gone), as after a crash of it.
# With --kill, the process left out ends with the job.
# usage: static.sh STATIC_TICKER
. "$(dirname "$0")/lib.sh"
need bash awk
TICKER=$1
cat >"$T/prog.sh" <<SH
"$TICKER" 3000 10 | awk '{ n++; if (n == 50) { print "progress: 50" > "/dev/stderr"; fflush("/dev/stderr") } } END { print "lines", (n >= 3000 ? "all" : "some") }'
echo done
SH
mkdir -p "$T/ref"
start "$bash" "$T/prog.sh"
wait_grep "progress: 50" "$T/run.err"
checkpoint_job 2
[ "$(members)" = 2 ] || fail "the job's image holds $(members) processes, not bash and awk"
grep -q "warning: not restorable: process [0-9]* (static_ticker) of the job runs without crsnap" \
    "$T/run.err" || fail "the checkpoint does not say the static program is left out"
"$CRSNAP_BIN" info "$IMG" >"$T/info.txt"
grep -q "child process [0-9]* (static_ticker)" "$T/info.txt" ||
    fail "the image does not list the static program as not restored: $(cat "$T/info.txt")"
kill_tree
restore
grep -q "not restored: child process [0-9]* (static_ticker)" "$T/restored.err" ||
    fail "the restore does not say the static program is not restored"
printf 'lines some\ndone\n' >"$T/left.out"
same "$T/restored.out" "$T/left.out"

# With --kill the whole job ends once its image is written, the process left out too (here
# one writing to a file, which nothing else would end).
cat >"$T/prog2.sh" <<SH
"$TICKER" 3000 10 >"$T/ticks" &
sleep 0.3
echo "progress: 50" >&2
wait
SH
rm -f "$T/run.err"
start "$bash" "$T/prog2.sh"
wait_grep "progress: 50" "$T/run.err"
ticker=""
for p in $(descendants "$PID"); do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = static_ticker ] && ticker=$p
done
[ -n "$ticker" ] || fail "no static_ticker in the job"
checkpoint --kill
n=100
while kill -0 "$ticker" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
kill -0 "$ticker" 2>/dev/null && fail "the process left out goes on after the job ended"
echo "static: the static program left out and said so; bash and awk restored, awk saw its end"
