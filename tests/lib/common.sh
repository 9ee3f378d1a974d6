# tests/lib/common.sh - what the restore and field test helpers share (sourced by their lib.sh,
# which define fail): the environment check, a scratch directory per test that goes away on
# exit with the processes the test started, and the checkpoint, kill and compare steps.
set -u
: "${CRSNAP_BIN:?CRSNAP_BIN is not set}"
: "${CRSNAP_TEST_TMP:?CRSNAP_TEST_TMP is not set}"
# Scratch directories no one else can write, or crsnap restore rightly refuses their images.
umask 022
# The test runner may leave descriptors of its own open (ctest: its log, which other tests
# write to meanwhile). Programs started here would inherit them into their images, and a
# restore would then warn that the file changed: close them.
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-

cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP_T:-}" ] || rm -rf "$T"
}

# scratch SUITE [DIR...]: sets T to a new $CRSNAP_TEST_TMP/SUITE-TEST-PID holding imgs/, the
# DIRs and the control-socket directory; on exit every pid in PIDS is killed and T removed
# (kept when KEEP_T is set).
scratch() {
    T="$CRSNAP_TEST_TMP/$1-$(basename "$0" .sh)-$$"
    shift
    rm -rf "$T" && mkdir -p "$T/imgs" || exit 1
    for scratch_dir in "$@"; do mkdir "$T/$scratch_dir" || exit 1; done
    export CRSNAP_SOCKET_DIR="$T/sock"
    mkdir -m 700 "$T/sock"
    PIDS=""
    trap cleanup EXIT
}

# take_checkpoint PID [OPTIONS...]: `crsnap checkpoint -w OPTIONS PID`, waited for; sets IMG
# to the image's path.
take_checkpoint() {
    ckpt_pid=$1; shift
    IMG=$("$CRSNAP_BIN" checkpoint -w "$@" "$ckpt_pid" 2>"$T/checkpoint.err") ||
        fail "crsnap checkpoint -w ${*:+$* }$ckpt_pid failed"
    [ -f "$IMG" ] || fail "crsnap checkpoint printed '$IMG', not an image"
}

# kill_wait PID DONE_FILE: SIGKILL, and make sure the program had not finished its work yet
# (DONE_FILE, the output it writes at the end, must still be empty).
kill_wait() {
    kill -KILL "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null; do sleep 0.05; done
    sleep 0.1
    [ ! -s "$2" ] || fail "the program finished before it was killed (make it longer)"
}

# same FILE EXPECTED_FILE: identical contents.
same() {
    cmp -s "$1" "$2" || fail "$1 differs from $2: $(head -c 300 "$1") / $(head -c 300 "$2")"
}

# take_pid PID: (root) a sleeping process of the test's own under PID, so that a restore finds
# the pid busy, as it often does on a machine whose pids have wrapped; sets TAKEN. The next pid
# is set through ns_last_pid, and another process may fork first: tries again.
take_pid() {
    tries=200
    while [ "$tries" -gt 0 ]; do
        echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid || return 1
        sleep 600 &
        if [ "$!" = "$1" ]; then TAKEN=$!; PIDS="$PIDS $!"; return 0; fi
        kill "$!" 2>/dev/null; wait "$!" 2>/dev/null
        tries=$((tries - 1))
    done
    return 1
}
