#!/bin/sh
# A file mapped shared and writable is the process's own output (the JVM's hsperfdata file is
# one): it changes after the checkpoint, and the restore goes on with a warning, no --force;
# the change is seen by its contents even when its size and mtime are those of the checkpoint.
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
stamp=$(stat -c %.9Y "$T/stats")
sleep 0.3                       # the counter moves on in the file after the checkpoint
kill_now "$PID" run

# a write through a shared mapping need change neither size nor mtime: the contents tell
touch -m -d "@$stamp" "$T/stats"
[ "$(stat -c %.9Y "$T/stats")" = "$stamp" ] || fail "cannot set the mtime back"
restore dry -n "$IMG"
[ "$RC" = 0 ] || fail "restore -n exited $RC"
grep -qF "warning: $T/stats changed since the checkpoint; it is mapped shared and writable" \
    "$T/dry.err" ||
    fail "a changed shared file with its old size and mtime was not seen: $(cat "$T/dry.err")"
touch -m -d '2001-02-03 04:05:06' "$T/stats"

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
