# deleted_big.sh - a file with no name larger than what a checkpoint saves of such files: the
# library says at the checkpoint that it is left out, and a restore refuses the image with a
# message that says why, rather than bring back a program whose file is gone.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
start run python3 -c '
import sys, tempfile, time
f = tempfile.TemporaryFile(dir=sys.argv[1])
f.write(b"x" * (17 << 20))
f.flush()
open(sys.argv[2], "w").close()
time.sleep(60)
' "$T" "$T/progress"
wait_for "$T/progress"
checkpoint "$PID"
grep -q "1 deleted open files not saved (more than 16 MiB in all" "$T/run.err" ||
    fail "the checkpoint did not say the file was left out"
kill_now "$PID" run
restore fail "$IMG"
[ "$RC" = 1 ] || fail "crsnap restore exited $RC, expected 1"
grep -q "its contents are not in the image (more than 16 MiB of such files" "$T/fail.err" ||
    fail "no reason given: $(cat "$T/fail.err")"
echo "deleted_big: left out with a message, and the restore refuses it"
