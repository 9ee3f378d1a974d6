#!/bin/sh
# `crsnap checkpoint` names what is wrong: bad usage (2), no such process (3), a process that
# does not run crsnap (3), a process of another user (4, tried from the throwaway uid 65534).
# usage: checkpoint_errors.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1

run_cmd 2 "$CRSNAP_BIN" checkpoint
has "$T/err" "no PID given"
for bad in abc 0 -5 12x 99999999999; do
    run_cmd 2 "$CRSNAP_BIN" checkpoint -- "$bad"
    has "$T/err" "is not a process id"
done
run_cmd 2 "$CRSNAP_BIN" checkpoint 1 2
has "$T/err" "one PID only"
run_cmd 2 "$CRSNAP_BIN" checkpoint -q 1
has "$T/err" "unknown option '-q'"

# A pid that is free: take one that just exited.
"$PROBE" exit 0 &
gone=$!
wait $gone
if ! kill -0 $gone 2>/dev/null; then
    run_cmd 3 "$CRSNAP_BIN" checkpoint $gone
    has "$T/err" "no process with pid $gone"
    # the socket a process killed with SIGKILL left behind goes
    python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" \
        "$CRSNAP_SOCKET_DIR/$gone.sock"
    run_cmd 3 "$CRSNAP_BIN" checkpoint $gone
    has "$T/err" "no process with pid $gone (its stale control socket is removed)"
    [ ! -e "$CRSNAP_SOCKET_DIR/$gone.sock" ] || fail "the stale socket is still there"
fi

# A live process without crsnap.
"$PROBE" sleep 30 >/dev/null &
plain=$!
CLEANUP_PIDS="$plain"
run_cmd 3 "$CRSNAP_BIN" checkpoint -w $plain
has "$T/err" "process $plain is not running with crsnap (no control socket at $CRSNAP_SOCKET_DIR/$plain.sock); start it with 'crsnap run'"
unset CRSNAP_SOCKET_DIR
run_cmd 3 "$CRSNAP_BIN" checkpoint $plain
has "$T/err" "is not running with crsnap"

# A socket file that nobody listens on any more.
export CRSNAP_SOCKET_DIR="$T/sock"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" \
    "$CRSNAP_SOCKET_DIR/$plain.sock"
run_cmd 3 "$CRSNAP_BIN" checkpoint $plain
has "$T/err" "stale control socket"
rm -f "$CRSNAP_SOCKET_DIR/$plain.sock"

# Another user's process: its socket directory is 0700, so the kernel refuses uid 65534.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    python3 -c "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(60)" \
        "$CRSNAP_SOCKET_DIR/$plain.sock" &
    CLEANUP_PIDS="$CLEANUP_PIDS $!"
    wait_for "$CRSNAP_SOCKET_DIR/$plain.sock"
    chmod 711 "$T"
    run_cmd 4 setpriv --reuid=65534 --regid=65534 --clear-groups "$CRSNAP_BIN" checkpoint -w $plain
    has "$T/err" "permission denied: process $plain belongs to uid 0"
    unset CRSNAP_SOCKET_DIR
fi
echo ok
