# tests/field/lib.sh - helpers for the field tests (sourced): an unmodified program we did not
# write runs once uninterrupted for a reference, then under `crsnap run`; it is checkpointed
# once it is well into its work (a progress marker it prints, a file it writes, or CPU time it
# has used), killed with SIGKILL, restored, and what it leaves behind is compared.
. "$(dirname "$0")/../lib/common.sh"
if [ -n "${CRSNAP_SANITIZED:-}" ]; then
    echo "skipped: restoring needs the real address space, not the sanitizers' shadow"
    exit 77
fi
scratch field ref run

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.out; do
        [ -s "$f" ] && { echo "--- $f:" >&2; tail -c 600 "$f" >&2; echo >&2; }
    done
    for f in "$T"/*.err; do
        [ -s "$f" ] && { echo "--- $f:" >&2; tail -c 1500 "$f" >&2; echo >&2; }
    done
    # Again at the end: a log cut short keeps its end.
    echo "FAIL: $*" >&2
    exit 1
}

# need PROGRAM...: skip the test (77) when a program is not installed; sets the variable named
# after each program's basename (dots and dashes as underscores) to its path.
need() {
    for p in "$@"; do
        path=$(command -v "$p" 2>/dev/null) || { echo "skipped: $p is not installed"; exit 77; }
        var=$(basename "$p" | tr '.-' '__')
        eval "$var=\$path"
    done
}

# reference CMD...: the uninterrupted run, in $T/ref, stdout in $T/expected.out.
reference() {
    (cd "$T/ref" && "$@") >"$T/expected.out" 2>"$T/expected.err" </dev/null ||
        fail "the uninterrupted run failed: $*"
}

# start CMD...: CMD under `crsnap run` in $T/run, in the background; its stdout goes through a
# pipe into $T/run.out (so that the restored process writes to the restorer's stdout instead),
# its stderr to $T/run.err. Sets PID.
start() {
    rm -f "$T/pid"
    ( cd "$T/run" && { "$CRSNAP_BIN" run -d "$T/imgs" -- "$@" 2>"$T/run.err" </dev/null &
      echo $! >"$T/pid"; wait; } ) | cat >"$T/run.out" &
    n=200
    while [ ! -s "$T/pid" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    PID=$(cat "$T/pid") || fail "crsnap run did not start"
    PIDS="$PIDS $PID"
}

alive() { kill -0 "$PID" 2>/dev/null || fail "the program ended before it was checkpointed"; }

# wait_grep PATTERN FILE: waits (up to 60 s) until FILE holds a line matching PATTERN.
wait_grep() {
    n=600
    until grep -q -- "$1" "$2" 2>/dev/null; do
        alive; n=$((n - 1)); [ "$n" -gt 0 ] || fail "timed out waiting for '$1' in $2"
        sleep 0.1
    done
}

# wait_size FILE BYTES: waits until FILE holds at least BYTES.
wait_size() {
    n=600
    until [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; do
        alive; n=$((n - 1)); [ "$n" -gt 0 ] || fail "timed out waiting for $1 to reach $2 bytes"
        sleep 0.1
    done
}

# wait_cpu TICKS: waits until the program has used TICKS clock ticks (1/100 s) of CPU time,
# all its threads together: progress that does not depend on how loaded the machine is.
wait_cpu() {
    n=1200
    while :; do
        t=$(awk '{print $14 + $15}' "/proc/$PID/stat" 2>/dev/null) || t=0
        [ "$t" -ge "$1" ] && return 0
        alive; n=$((n - 1)); [ "$n" -gt 0 ] || fail "timed out waiting for $1 ticks of CPU time"
        sleep 0.05
    done
}

# checkpoint [--kill]: a checkpoint of $PID now, waited for; sets IMG. With --kill the program
# exits once the image is written, without running on: the files it writes in place stay as
# they were at the checkpoint.
checkpoint() { take_checkpoint "$PID" "$@"; }

# kill_now [DONE_FILE]: SIGKILL; the program must not have finished its work (DONE_FILE, by
# default its stdout, must still be empty).
kill_now() { kill_wait "$PID" "${1:-$T/run.out}"; }

# restore [OPTIONS]: `crsnap restore -q OPTIONS $IMG` in $T/run (the working directory is the
# restored process's own, this only matters to the restorer), stdout in $T/restored.out,
# stderr in $T/restored.err; the restored program must exit 0.
restore() {
    (cd "$T/run" && "$CRSNAP_BIN" restore -q "$@" "$IMG") >"$T/restored.out" 2>"$T/restored.err" </dev/null
    RC=$?
    [ "$RC" = 0 ] || fail "crsnap restore exited $RC"
}

# same_output: the restored process's stdout is the uninterrupted run's.
same_output() { same "$T/restored.out" "$T/expected.out"; }
