# crash.sh MT_WORKER ROUNDS - a crash of the snapshot child (forced by a test hook) is reported
# with where it happened and loses nothing: when it happens only while memory is being released,
# the runtime takes the snapshot again without releasing, and that image restores; when it
# happens every time, the checkpoint fails, no file is left behind and the program carries on.
. "$(dirname "$0")/lib.sh"
prog=$1
rounds=$2
"$prog" "$T/expected.dat" "$rounds" >"$T/expected.out" 2>&1 || fail "the uninterrupted run failed"

# 1. a crash while releasing: retried, and the image is whole
export CRSNAP_TEST_CHILD_CRASH=release
start run "$prog" "$T/run.dat" "$rounds" "$T/progress"
wait_for "$T/progress"
checkpoint "$PID"
grep -q "the snapshot child crashed (SIGSEGV) at 0x.*touching 0x10" "$T/run.err" ||
    fail "the crash was not reported with its place"
grep -q "trying again without releasing memory" "$T/run.err" || fail "no retry was announced"
"$CRSNAP_BIN" verify "$IMG" >/dev/null 2>"$T/verify.err" || fail "the retried image does not verify"
kill_now "$PID" run
restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
same "$T/restored.out" "$T/expected.out"
same "$T/run.dat" "$T/expected.dat"
unset CRSNAP_TEST_CHILD_CRASH

# 2. a crash every time: the checkpoint fails cleanly and the program finishes its work
rm -rf "$T/imgs" "$T/progress" && mkdir "$T/imgs"
export CRSNAP_TEST_CHILD_CRASH=always
start run2 "$prog" "$T/run2.dat" "$rounds" "$T/progress"
unset CRSNAP_TEST_CHILD_CRASH
wait_for "$T/progress"
if "$CRSNAP_BIN" checkpoint -w "$PID" >/dev/null 2>"$T/checkpoint2.err"; then
    fail "a checkpoint whose child crashes succeeded"
fi
grep -q "the snapshot child crashed (SIGSEGV) at 0x" "$T/checkpoint2.err" ||
    fail "the failure does not say the child crashed: $(cat "$T/checkpoint2.err")"
[ -z "$(ls -A "$T/imgs")" ] || fail "files were left behind: $(ls -A "$T/imgs")"
wait
same "$T/run2.out" "$T/expected.out"
same "$T/run2.dat" "$T/expected.dat"
echo "crash: reported, retried without release, nothing lost"
