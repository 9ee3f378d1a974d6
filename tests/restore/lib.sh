# tests/restore/lib.sh - helpers for the whole-process restore tests (sourced): start a program
# under `crsnap run`, checkpoint it once it is well into its work, kill it, restore it, compare.
# Each test has its own scratch directory under $CRSNAP_TEST_TMP and stops at the first failure.
set -u
: "${CRSNAP_BIN:?CRSNAP_BIN is not set}"
: "${CRSNAP_TEST_TMP:?CRSNAP_TEST_TMP is not set}"
# Under the sanitizers only the checks can run (RESTORE_CHECKS_ONLY=1 before sourcing this).
if [ -n "${CRSNAP_SANITIZED:-}" ] && [ -z "${RESTORE_CHECKS_ONLY:-}" ]; then
    echo "skipped: restoring needs the real address space, not the sanitizers' shadow"
    exit 77
fi
T="$CRSNAP_TEST_TMP/restore-$(basename "$0" .sh)-$$"
rm -rf "$T" && mkdir -p "$T/imgs" || exit 1
export CRSNAP_SOCKET_DIR="$T/sock"
mkdir -m 700 "$T/sock"
PIDS=""
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.err; do
        [ -s "$f" ] && { echo "--- $f:" >&2; tail -20 "$f" >&2; }
    done
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
checkpoint() {
    IMG=$("$CRSNAP_BIN" checkpoint -w "$1" 2>"$T/checkpoint.err") ||
        fail "crsnap checkpoint -w $1 failed"
    [ -f "$IMG" ] || fail "crsnap checkpoint printed '$IMG', not an image"
}

# kill_now PID NAME: SIGKILL, and make sure the program had not finished its work yet.
kill_now() {
    kill -KILL "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null; do sleep 0.05; done
    sleep 0.1
    [ ! -s "$T/$2.out" ] || fail "the program finished before it was killed (make it longer)"
}

# restore NAME ARGS...: `crsnap restore ARGS` in the foreground, stdout in $T/NAME.out, stderr in
# $T/NAME.err; sets RC.
restore() {
    name=$1; shift
    "$CRSNAP_BIN" restore -q "$@" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
}

# same FILE EXPECTED_FILE: identical contents.
same() {
    cmp -s "$1" "$2" || fail "$1 differs from $2: $(head -c 300 "$1") / $(head -c 300 "$2")"
}
