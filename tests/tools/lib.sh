# tests/tools/lib.sh - helpers shared by the tools tests (sourced). Each test gets its own
# scratch directory under $CRSNAP_TEST_TMP and stops at the first failed check.
set -u
: "${CRSNAP_BIN:?CRSNAP_BIN is not set}"
: "${CRSNAP_TEST_TMP:?CRSNAP_TEST_TMP is not set}"
# Scratch directories no one else can write, or crsnap restore rightly refuses their images.
umask 022
# Descriptors the test runner left open (ctest's log) are not the programs' to inherit.
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
T="$CRSNAP_TEST_TMP/tools-$(basename "$0" .sh)-$$"
rm -rf "$T" && mkdir -p "$T" || exit 1
# Control sockets of the programs a test starts live in its scratch directory, so that a
# program killed by a test leaves nothing behind in /tmp.
export CRSNAP_SOCKET_DIR="$T/sock"
mkdir -m 700 "$CRSNAP_SOCKET_DIR" || exit 1
CLEANUP_PIDS=""
cleanup() {
    for p in $CLEANUP_PIDS; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    [ -s "$T/err" ] && { echo "--- stderr of the last command:" >&2; cat "$T/err" >&2; }
    exit 1
}

# run_cmd STATUS CMD...: runs CMD with stdout in $T/out, stderr in $T/err; checks its status.
run_cmd() {
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

# has FILE TEXT: FILE contains TEXT (fixed string).
has() {
    grep -qF -- "$2" "$1" || fail "$1 lacks '$2'; it has: $(cat "$1")"
}

# wait_for FILE [TENTHS]: waits until FILE exists (default 10 s).
wait_for() {
    n=${2:-100}
    while [ ! -e "$1" ] && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ -e "$1" ] || fail "timed out waiting for $1"
}

# has_line FILE LINE: FILE has exactly this line.
has_line() {
    grep -qxF -- "$2" "$1" || fail "$1 lacks the line '$2'; it has: $(cat "$1")"
}

# restore_half_or_done WHAT: the test ends here, successfully, when this build cannot restore
# what it checkpointed, saying "WHAT half not run" and why: a sanitized `crsnap restore` cannot
# restore a sanitized image (the shadow of both lies at the same fixed addresses).
restore_half_or_done() {
    if [ -n "${CRSNAP_SANITIZED:-}" ]; then
        echo "$1 half not run: sanitized build"
        echo ok
        exit 0
    fi
    if ! "$CRSNAP_BIN" restore --help >/dev/null 2>&1; then
        echo "$1 half not run: this build has no 'crsnap restore' yet"
        echo ok
        exit 0
    fi
}

# count DIR: the complete images in DIR.
count() { ls "$1" 2>/dev/null | grep -c '^ckpt-.*\.crsnap$'; }

# wait_count DIR N [TENTHS]: waits until DIR has N images (30 s, or TENTHS tenths of a second,
# at most); else fails with what DIR holds and the program's stderr ($T/prog.err).
wait_count() {
    wait_n=${3:-300}
    while [ "$(count "$1")" -lt "$2" ] && [ $wait_n -gt 0 ]; do
        sleep 0.1
        wait_n=$((wait_n - 1))
    done
    [ "$(count "$1")" -ge "$2" ] ||
        fail "$1 has $(count "$1") images, expected $2: $(ls -a "$1"); the program's stderr: $(cat "$T/prog.err" 2>/dev/null)"
}
