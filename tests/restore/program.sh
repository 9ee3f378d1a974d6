# program.sh NAME CMD... - the basic round trip for one unmodified program: its uninterrupted
# output; then run it under crsnap, checkpoint it once it is a tenth into its work, SIGKILL it,
# restore the image, and compare what the restored process prints with the uninterrupted run.
# CMD may use @PROGRESS@, which becomes a file the program creates a tenth into its work, and
# @TMP@, the test's scratch directory.
. "$(dirname "$0")/lib.sh"
label=$1; shift
expand() {
    for a in "$@"; do
        [ "$a" = "@PROGRESS@" ] && a="$T/progress"
        [ "$a" = "@TMP@" ] && a="$T"
        printf '%s\n' "$a"
    done
}
set -- $(expand "$@")
"$@" >"$T/expected.out" 2>"$T/expected.err" || fail "the uninterrupted run failed"
rm -f "$T/progress"
start run "$@"
wait_for "$T/progress"
checkpoint "$PID"
kill_now "$PID" run
# RESTORE_ARGS: options for crsnap restore (--same-pid for programs that remember their pid).
restore restored ${RESTORE_ARGS:-} "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
same "$T/restored.out" "$T/expected.out"
echo "$label: restored output matches"
