#!/bin/sh
# The settings `crsnap run` passes reach the library in the program: SIGUSR1 takes a checkpoint
# by default, -s picks another signal (SIGUSR1 then keeps its default action, as with -s none),
# -i takes periodic checkpoints and -k keeps only the newest.
# usage: run_live.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1

# start SECONDS ARGS...: runs the probe (sleeping SECONDS) under crsnap run with ARGS, and
# waits until its runtime listens.
start() {
    secs=$1; shift
    "$CRSNAP_BIN" run "$@" "$PROBE" sleep "$secs" >"$T/prog.out" 2>"$T/prog.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
}
# finish STATUS: waits for the program; checks how it ended.
finish() {
    wait $pid
    st=$?
    [ $st = "$1" ] || fail "the program exited $st, expected $1: $(cat "$T/prog.err")"
}

start 30 -d "$T/usr1"
kill -USR1 $pid
wait_count "$T/usr1" 1 100
kill -TERM $pid
finish 143

start 30 -d "$T/usr2" -s USR2
kill -USR2 $pid
wait_count "$T/usr2" 1 100
kill -USR1 $pid
finish 138
[ "$(count "$T/usr2")" = 1 ] || fail "with -s USR2, SIGUSR1 took a checkpoint"

start 30 -d "$T/none" -s none
kill -USR1 $pid
finish 138
[ "$(count "$T/none")" = 0 ] || fail "-s none still took a checkpoint on SIGUSR1"

# full images only: -k then counts images, with no chain to keep (restore/incr.sh has chains)
start 30 -d "$T/periodic" -i 0.05 -k 2 --full-every 1
# newest DIR: the highest sequence number in DIR (0 if none).
newest() {
    ls "$1" | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.crsnap$/\1/p' | sort -n | tail -n 1 | grep . || echo 0
}
n=100
while [ "$(newest "$T/periodic")" -lt 4 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ $n -gt 0 ] || fail "-i 0.05 did not reach a fourth image: $(ls "$T/periodic")"
kill -TERM $pid
finish 143
[ "$(count "$T/periodic")" = 2 ] || fail "-k 2 kept $(count "$T/periodic") images: $(ls "$T/periodic")"
# A child the program spawns inherits LD_PRELOAD and is a member of its job: a runtime of its
# own (a control socket), but no timer and no images of its own; asked for a checkpoint, it
# names the root; a checkpoint of the root holds both. With CRSNAP_TREE=0 it stays out.
"$CRSNAP_BIN" run -d "$T/kids" -i 0.2 sh -c '"$0" sleep 30 & echo $! >"$1"; wait' "$PROBE" "$T/kid.pid" \
    >"$T/prog.out" 2>"$T/prog.err" &
pid=$!
CLEANUP_PIDS="$CLEANUP_PIDS $pid"
wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
wait_for "$T/kid.pid"
kid=$(cat "$T/kid.pid")
CLEANUP_PIDS="$CLEANUP_PIDS $kid"
tr '\0' '\n' <"/proc/$kid/environ" | grep -q "^CRSNAP_PID=$pid\$" ||
    fail "the child does not see CRSNAP_PID=$pid"
wait_for "$CRSNAP_SOCKET_DIR/$kid.sock"
"$CRSNAP_BIN" checkpoint -w "$kid" >"$T/kid.out" 2>&1 && fail "a member took a checkpoint of its own"
grep -q "part of a job: checkpoint its root, pid $pid" "$T/kid.out" ||
    fail "a member's refusal does not name the root: $(cat "$T/kid.out")"
img=$("$CRSNAP_BIN" checkpoint -w "$pid") || fail "the job's checkpoint failed"
"$CRSNAP_BIN" info "$img" | grep -q "^tree  *2 processes" || fail "the job's image is not of 2 processes"
for f in "$T/kids"/*.crsnap; do
    "$CRSNAP_BIN" info "$f" | grep -q "pid $pid," || fail "an image of another process: $f"
done
ls "$T/kids"/*.parts/"$kid.crsnap" >/dev/null 2>&1 || fail "no image of the child in the job"
kill -TERM $kid $pid
wait $pid 2>/dev/null

CRSNAP_TREE=0 "$CRSNAP_BIN" run -d "$T/alone" sh -c '"$0" sleep 30 & echo $! >"$1"; wait' "$PROBE" \
    "$T/kid2.pid" >"$T/prog.out" 2>"$T/prog.err" &
pid=$!
CLEANUP_PIDS="$CLEANUP_PIDS $pid"
wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
wait_for "$T/kid2.pid"
kid=$(cat "$T/kid2.pid")
CLEANUP_PIDS="$CLEANUP_PIDS $kid"
sleep 1
[ ! -e "$CRSNAP_SOCKET_DIR/$kid.sock" ] || fail "with CRSNAP_TREE=0 a child started its own runtime"
kill -TERM $kid $pid
echo ok
