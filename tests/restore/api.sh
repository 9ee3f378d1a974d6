# api.sh API_STATIC - a program linked with libcrsnap.a checkpoints itself through the API and
# exits; restored, it sees CRS_RESTART (in crs_checkpoint and in its handler) and finishes with
# the output of a run that never stopped.
. "$(dirname "$0")/lib.sh"
prog=$1
"$prog" - 200000000 >"$T/expected.out" || fail "the plain run failed"
"$prog" "$T/self.crsnap" 200000000 >"$T/run.out" 2>"$T/run.err"
rc=$?
[ "$rc" = 3 ] || fail "the checkpointing run exited $rc, expected 3"
[ -f "$T/self.crsnap" ] || fail "no image"
restore restored "$T/self.crsnap"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
# Its stdout was a regular file: the restored process writes on in that file, at its offset.
same "$T/run.out" "$T/expected.out"
[ ! -s "$T/restored.out" ] || fail "output went to the restorer's stdout, not the program's file"
echo "api: a statically linked program restored"
