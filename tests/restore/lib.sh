# tests/restore/lib.sh - helpers for the whole-process restore tests (sourced): start a program
# under `crsnap run`, checkpoint it once it is well into its work, kill it, restore it, compare.
# Each test has its own scratch directory under $CRSNAP_TEST_TMP and stops at the first failure.
. "$(dirname "$0")/../lib/common.sh"
# Under the sanitizers only the checks can run (RESTORE_CHECKS_ONLY=1 before sourcing this).
if [ -n "${CRSNAP_SANITIZED:-}" ] && [ -z "${RESTORE_CHECKS_ONLY:-}" ]; then
    echo "skipped: restoring needs the real address space, not the sanitizers' shadow"
    exit 77
fi
scratch restore

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.err; do
        [ -s "$f" ] && { echo "--- $f:" >&2; tail -20 "$f" >&2; }
    done
    echo "FAIL: $*" >&2      # again at the end: a log cut short keeps its end
    exit 1
}

# wait_for FILE [TENTHS]: waits until FILE exists (default 20 s).
wait_for() {
    n=${2:-200}
    while [ ! -e "$1" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ -e "$1" ] || fail "timed out waiting for $1"
}

# read_pid FILE: the pid a test program wrote into FILE, once it is all there (a program may
# create the file before it writes into it).
read_pid() {
    wait_for "$1"
    n=100
    while [ ! -s "$1" ] && [ "$n" -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
    PID=$(cat "$1")
    case "$PID" in ''|*[!0-9]*) fail "no pid in $1: '$PID'" ;; esac
}

# start NAME CMD...: runs CMD under `crsnap run` in the background, its stdout through a pipe
# into $T/NAME.out (so that the restored process writes to the restorer's stdout instead) and
# its stderr in $T/NAME.err. Sets PID.
start() {
    name=$1; shift
    rm -f "$T/pid"
    ( "$CRSNAP_BIN" run -d "$T/imgs" -- "$@" 2>"$T/$name.err" &
      echo $! >"$T/pid"; wait ) | cat >"$T/$name.out" &
    wait_for "$T/pid"
    PID=$(cat "$T/pid")
    PIDS="$PIDS $PID"
}

# checkpoint PID: a checkpoint now, waited for; sets IMG to its path.
checkpoint() { take_checkpoint "$1"; }

# kill_now PID NAME: SIGKILL, and make sure the program had not finished its work yet.
kill_now() { kill_wait "$1" "$T/$2.out"; }

# restore NAME ARGS...: `crsnap restore ARGS` in the foreground, stdout in $T/NAME.out, stderr in
# $T/NAME.err; sets RC.
restore() {
    name=$1; shift
    "$CRSNAP_BIN" restore -q "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}

# two_generations CMD...: CMD under `crsnap run` (it must create $T/progress once it is well
# into its work), checkpointed, killed and restored in the background; the restored process
# is checkpointed in turn, killed, and restored from that second image in the foreground,
# stdout in $T/second.out. The second restore must exit 0.
two_generations() {
    start run "$@"
    wait_for "$T/progress"
    checkpoint "$PID"
    first=$IMG
    kill_now "$PID" run
    # The first restore runs in the background; crsnap checkpoint takes its pid for the process.
    rm -f "$T/pid"
    ( "$CRSNAP_BIN" restore -q "$first" 2>"$T/first.err" & echo $! >"$T/pid"; wait ) |
        cat >"$T/first.out" &
    wait_for "$T/pid"
    RPID=$(cat "$T/pid")
    PIDS="$PIDS $RPID"
    tries=0
    while ! IMG=$("$CRSNAP_BIN" checkpoint -w "$RPID" 2>"$T/checkpoint.err"); do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || fail "the restored process does not take a checkpoint"
        kill -0 "$RPID" 2>/dev/null || fail "the restored process is gone"
        sleep 0.1
    done
    [ "$IMG" != "$first" ] && [ -f "$IMG" ] || fail "no second image ($IMG)"
    kill_now "$RPID" first
    restore second "$IMG"
    [ "$RC" = 0 ] || fail "the second restore exited $RC"
}
