#!/bin/sh
# `crsnap run -r` resumes only what `crsnap restore` would trust: an image of another owner in
# the job's directory is passed over (the user's own older image is resumed), and a directory
# that others can write is refused with status 4 before any image is read. As an unprivileged
# user (tests/lib/unpriv.sh); skips without root.
# usage: resume_trust.sh STEPS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/unpriv.sh"
STEPS=$1
unpriv_setup "$STEPS"
U_STEPS=$U_DIR/$(basename "$STEPS")
D=$U_DIR/u1
mkdir -m 700 "$D" && chown "$U1:$U1" "$D" || fail "cannot make $D"
U_ENV="CRSNAP_SOCKET_DIR=$D/sock"
as_user "$U1" mkdir -m 700 "$D/sock" "$D/imgs" || fail "cannot make $D/imgs"

# signalled NAME: the job under `crsnap run -r --exit-on USR1`, signalled once it has done 20
# steps (a resumed one: 20 more); it must end with status 85 and an image.
signalled() {
    rm -f "$D/pid"
    # (as_user is a function: $! would be the subshell's pid, so the job writes its own.)
    as_user "$U1" sh -c 'echo $$ >"$0"; exec "$@"' "$D/pid" \
        "$U_CRSNAP" run -r --exit-on USR1 -d "$D/imgs" -i 0 -- "$U_STEPS" 300 15 \
        >"$T/$1.out" 2>"$T/$1.err" &
    bg=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $bg"
    n=200
    # (the output file may not be made yet: cat, so that grep always counts)
    while [ "$(cat "$T/$1.out" 2>/dev/null | grep -c '^step')" -lt 20 ] && [ $n -gt 0 ]; do
        sleep 0.1; n=$((n - 1))
    done
    [ -s "$D/pid" ] || fail "$1 did not start: $(cat "$T/$1.err")"
    pid=$(cat "$D/pid")
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    kill -USR1 "$pid"
    wait $bg
    st=$?
    [ $st = 85 ] || fail "$1 exited $st, not 85: $(cat "$T/$1.err")"
}
signalled run1
[ -f "$D/imgs/ckpt-000001.crsnap" ] || fail "no image after the signal: $(cat "$T/run1.err")"

# The newest image becomes another user's (as root could make it, or anyone, had the directory
# been open once): it must be passed over, the older one of the user's own resumed.
if [ -z "${CRSNAP_SANITIZED:-}" ]; then
    signalled run2
    [ -f "$D/imgs/ckpt-000002.crsnap" ] || fail "no second image: $(cat "$T/run2.err")"
    chown "$U2:$U2" "$D/imgs/ckpt-000002.crsnap"
    chmod 644 "$D/imgs/ckpt-000002.crsnap"
fi
if [ -z "${CRSNAP_SANITIZED:-}" ]; then
    as_user "$U1" "$U_CRSNAP" run -r --exit-on USR1 -d "$D/imgs" -i 0 -- "$U_STEPS" 300 15 \
        >"$T/run3.out" 2>"$T/run3.err"
    st=$?
    [ $st = 0 ] || fail "the resumed run exited $st: $(cat "$T/run3.err")"
    has "$T/run3.err" "ckpt-000002.crsnap is not trusted"
    has "$T/run3.err" "resuming from $D/imgs/ckpt-000001.crsnap"
    grep -q '^result' "$T/run3.out" || fail "the resumed run did not finish: $(cat "$T/run3.err")"
    grep -q '^step 1 ' "$T/run3.out" && fail "the resumed run started afresh"
fi

# A directory others can write: refused before any image is read.
chmod 777 "$D/imgs"
as_user "$U1" "$U_CRSNAP" run -r -d "$D/imgs" -i 0 -- "$U_STEPS" 3 1 >"$T/run4.out" 2>"$T/run4.err"
st=$?
[ $st = 4 ] || fail "run -r from a world-writable directory exited $st, not 4: $(cat "$T/run4.err")"
has "$T/run4.err" "not resuming from $D/imgs"
[ -s "$T/run4.out" ] && fail "the program ran although the directory was refused"
echo "resume trust: another owner's image passed over, an open directory refused"
exit 0
