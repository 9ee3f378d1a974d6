#!/bin/sh
# The trigger signal sent at once (`crsnap run ... & kill -USR1 $!`) neither kills the program
# nor is lost: crsnap run holds it blocked across the exec and the library takes it once its
# handler is in place. Many runs, the signal landing in crsnap run before the exec (a test hook
# holds it there) or anywhere between crsnap run's start and the library's init; each must
# end in an image, with the program alive. The hold is not inherited: the program's children
# and the program itself run with the mask they would have had.
# usage: run_startup.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1
RUNS=${CRSNAP_STARTUP_RUNS:-30}

# blocked PID SIG: SIG is in PID's blocked mask (shell builtins only: polled in a tight loop).
blocked() {
    m=
    while read -r k v; do
        [ "$k" = SigBlk: ] && { m=$v; break; }
    done <"/proc/$1/status" 2>/dev/null
    [ -n "$m" ] && [ $(( 0x$m >> ($2 - 1) & 1 )) = 1 ]
}

# sleeping PID: PID is in nanosleep or clock_nanosleep.
sleeping() {
    read -r nr rest <"/proc/$1/syscall" 2>/dev/null || return 1
    [ "$nr" = 35 ] || [ "$nr" = 230 ]
}
BIN=$(readlink -f "$CRSNAP_BIN")
i=0
while [ $i -lt $RUNS ]; do
    d="$T/d$i"
    # odd runs: crsnap run pauses between holding the signal and the exec
    if [ $((i % 2)) = 1 ]; then delay=300; else delay=0; fi
    CRSNAP_TEST_RUN_EXEC_DELAY_MS=$delay "$CRSNAP_BIN" run -d "$d" "$PROBE" sleep 30 \
        >"$T/prog.out" 2>"$T/prog.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    # The shell's forked child before it execs crsnap has the default action: not ours.
    if [ $delay -gt 0 ]; then
        # crsnap run holds the exec back (it sleeps in the test hook, after its own startup,
        # which takes long under a sanitizer): send it there
        n=1000
        while ! { [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$BIN" ] && sleeping $pid; } &&
            [ $n -gt 0 ]; do
            sleep 0.01; n=$((n - 1))
        done
        [ $n -gt 0 ] || fail "run $i: crsnap run was never seen holding the exec back"
    else
        # as soon as crsnap run holds it (or, if the poll missed that, once the runtime listens)
        n=20000
        while ! blocked $pid 10 && [ ! -e "$CRSNAP_SOCKET_DIR/$pid.sock" ] &&
            kill -0 $pid 2>/dev/null && [ $n -gt 0 ]; do
            n=$((n - 1))
        done
    fi
    kill -USR1 $pid 2>/dev/null
    n=100
    while [ "$(count "$d")" -lt 1 ] && kill -0 $pid 2>/dev/null && [ $n -gt 0 ]; do
        sleep 0.1; n=$((n - 1))
    done
    if ! kill -0 $pid 2>/dev/null; then
        wait $pid
        st=$?
        fail "run $i: the program died (status $st) of a signal sent at startup: $(cat "$T/prog.err")"
    fi
    [ "$(count "$d")" -ge 1 ] ||
        fail "run $i: a signal sent at startup was lost (no image; SigBlk $(grep SigBlk /proc/$pid/status)): $(cat "$T/prog.err")"
    blocked $pid 10 && fail "run $i: the program still has SIGUSR1 blocked"
    kill -TERM $pid
    wait $pid
    st=$?
    [ $st = 143 ] || fail "run $i: the program exited $st, expected 143: $(cat "$T/prog.err")"
    i=$((i + 1))
done

# The hold is the program's alone: what it starts sees neither the variable nor the mask.
"$CRSNAP_BIN" run -d "$T/kids" sh -c 'env >"$1"; grep SigBlk /proc/self/status >>"$1"' sh \
    "$T/kid.env" >"$T/prog.out" 2>"$T/prog.err" || fail "crsnap run sh failed: $(cat "$T/prog.err")"
grep -q '^CRSNAP_HELD_SIGNAL=' "$T/kid.env" && fail "a child of the program inherited CRSNAP_HELD_SIGNAL"
grep -q '^SigBlk:[[:space:]]*0*$' "$T/kid.env" || fail "a child of the program inherited a blocked mask: $(grep SigBlk "$T/kid.env")"

# A caller that blocks SIGUSR1 itself keeps it blocked in the program (the library unblocks
# only what crsnap run blocked).
if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
os.execv(sys.argv[1], sys.argv[1:])' "$CRSNAP_BIN" run -d "$T/own" "$PROBE" sleep 30 \
        >"$T/prog.out" 2>"$T/prog.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
    sleep 0.5
    blocked $pid 10 || fail "a SIGUSR1 the caller blocked was unblocked in the program"
    kill -TERM $pid
    wait $pid
fi
# With -s none nothing is held: SIGUSR1 keeps its default action in the program.
"$CRSNAP_BIN" run -s none -d "$T/none" "$PROBE" sleep 30 >"$T/prog.out" 2>"$T/prog.err" &
pid=$!
CLEANUP_PIDS="$CLEANUP_PIDS $pid"
wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
# (the library blocks everything for a moment while it starts its thread, after the socket)
n=100
while blocked $pid 10 && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
blocked $pid 10 && fail "with -s none the program has SIGUSR1 blocked"
kill -USR1 $pid
wait $pid
st=$?
[ $st = 138 ] || fail "with -s none SIGUSR1 ended the program with $st, expected 138"
echo ok
