#!/bin/sh
# A file mapped shared and writable is the process's own output (the JVM's hsperfdata file is
# one): it changes after the checkpoint, and the restore goes on with a warning, no --force.
# A shared mapping that shrank would fault, so that stays an error, --force or not.
# usage: sharedmap.sh SHAREDMAP_PROGRAM
. "$(dirname "$0")/lib.sh"
PROG=$1
N=6000000
"$PROG" "$T/ref.stats" $N "$T/ref.progress" >"$T/expected.out" 2>"$T/expected.err" ||
    fail "the uninterrupted run failed"
start run "$PROG" "$T/stats" $N "$T/progress"
wait_for "$T/progress"
checkpoint "$PID"
sleep 0.3                       # the counter moves on in the file after the checkpoint
touch -m -d '2001-02-03 04:05:06' "$T/stats"
kill_now "$PID" run

cp "$T/stats" "$T/stats.keep"
truncate -s 0 "$T/stats"
restore shrunk "$IMG"
[ "$RC" != 0 ] || fail "a shared mapping whose file shrank was restored"
grep -qF "$T/stats is shorter than at the checkpoint" "$T/shrunk.err" ||
    fail "no error naming the shrunk file: $(cat "$T/shrunk.err")"
cp "$T/stats.keep" "$T/stats"
touch -m -d '2001-02-03 04:05:06' "$T/stats"

restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
grep -qF "warning: $T/stats changed since the checkpoint; it is mapped shared and writable" \
    "$T/restored.err" || fail "no warning about the shared file: $(cat "$T/restored.err")"
same "$T/restored.out" "$T/expected.out"
echo "sharedmap: restored without --force, output matches"
