#!/bin/sh
# A program that closes every descriptor from 3 up (close_range(3, ~0U), os.closerange) closes
# the library's own too. The library makes them again, says so once, and checkpoints go on:
# periodic ones with sequence numbers that run on without gaps, and the trigger signal, which
# reaches a coordinator asleep on the closed eventfd. When they cannot be made again (the
# descriptor table is full), checkpoints are off with one line and a request gets that error,
# until descriptors are free again.
# usage: run_closed_fds.sh
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

lines() { grep -c "$1" "$T/prog.err"; }
# gaps DIR: fails unless DIR's images are numbered 1..N (keep 0: none deleted), from one listing.
gaps() {
    ls "$1" >"$T/ls"
    nums=$(sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.crsnap$/\1/p' "$T/ls" | sort -n | tr '\n' ' ')
    [ "$nums" = "$(seq -s ' ' 1 "$(grep -c '^ckpt-.*\.crsnap$' "$T/ls")") " ] ||
        fail "sequence numbers were consumed: $nums"
}
# start DIR ARGS... -- SCRIPT: python3 -c SCRIPT under crsnap run; waits for "closed" on stdout.
start() {
    d=$1; shift
    "$CRSNAP_BIN" run -d "$d" -k 0 "$@" >"$T/prog.out" 2>"$T/prog.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    n=600                               # python3 starts slowly on a loaded machine
    while ! grep -q closed "$T/prog.out" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    grep -q closed "$T/prog.out" || fail "the program did not start: $(cat "$T/prog.err")"
}
CLOSE='import os, sys, time
os.closerange(3, 1 << 20)
print("closed", flush=True)
while True:
    time.sleep(0.05)'

# 1. periodic checkpoints go on, numbered without gaps, with one line about the descriptors
start "$T/periodic" -i 0.2 python3 -S -c "$CLOSE"
wait_count "$T/periodic" $(($(count "$T/periodic") + 4))
kill -0 $pid 2>/dev/null || fail "the program died: $(cat "$T/prog.err")"
[ "$(lines 'closed the library')" = 1 ] ||
    fail "expected one line about the closed descriptors: $(cat "$T/prog.err")"
[ "$(lines 'checkpoint failed')" = 0 ] || fail "checkpoints failed: $(cat "$T/prog.err")"
kill -TERM $pid
wait $pid 2>/dev/null
gaps "$T/periodic"
for f in "$T"/periodic/ckpt-*.crsnap; do
    "$CRSNAP_BIN" verify "$f" >/dev/null 2>"$T/err" || fail "$f does not verify"
done

# 2. no timer: the trigger signal wakes a coordinator asleep on the closed eventfd; the control
# socket is made again too
start "$T/signal" python3 -S -c "$CLOSE"
kill -USR1 $pid
wait_count "$T/signal" 1
wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
run_cmd 0 "$CRSNAP_BIN" checkpoint -w $pid
has "$T/out" "$T/signal/ckpt-000002.crsnap"
[ "$(lines 'closed the library')" = 1 ] ||
    fail "expected one line about the closed descriptors: $(cat "$T/prog.err")"
kill -TERM $pid
wait $pid 2>/dev/null

# 3. the table is full: checkpoints are off, said once; a request fails with that reason; once
# the program frees descriptors (SIGUSR2 here), the next request works
start "$T/full" -i 0.5 python3 -S -c 'import os, resource, signal, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
os.closerange(3, 1 << 20)
held = []
while True:
    try:
        held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        break
def free(sig, frame):
    for fd in held:
        os.close(fd)
    held.clear()
signal.signal(signal.SIGUSR2, free)
print("closed", flush=True)
while True:
    time.sleep(0.05)'
sleep 1.5
kill -0 $pid 2>/dev/null || fail "the program died: $(cat "$T/prog.err")"
[ "$(lines 'are off until they can')" = 1 ] ||
    fail "expected one line saying checkpoints are off: $(cat "$T/prog.err")"
# a request the timer made before the descriptors went may fail once; none after that
f0=$(lines 'checkpoint failed')
[ "$f0" -le 1 ] || fail "failures repeat while checkpoints are off: $(cat "$T/prog.err")"
images=$(count "$T/full")
sleep 1
[ "$(lines 'checkpoint failed')" = "$f0" ] || fail "the timer still fails checkpoints: $(cat "$T/prog.err")"
kill -USR1 $pid
n=100
while [ "$(lines 'checkpoint failed')" = "$f0" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$(lines 'checkpoint failed: checkpoints are off')" -ge 1 ] &&
    [ "$(lines 'checkpoint failed')" = $((f0 + 1)) ] ||
    fail "a request while checkpoints are off did not fail once with the reason: $(cat "$T/prog.err")"
[ "$(count "$T/full")" = "$images" ] || fail "images while checkpoints are off"
kill -USR2 $pid
sleep 0.3
kill -USR1 $pid
wait_count "$T/full" $((images + 1))
has "$T/prog.err" "are back: checkpoints are on"
# numbers run on: the failed requests consumed none
gaps "$T/full"
kill -TERM $pid
wait $pid 2>/dev/null
echo ok
