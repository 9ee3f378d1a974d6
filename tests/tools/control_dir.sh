#!/bin/sh
# The control socket directory, as any user sees it: $XDG_RUNTIME_DIR/crsnap when that is a
# private directory of the user's (the client finds it from the process's environment when its
# own lacks the variable); $CRSNAP_SOCKET_DIR made private when it is the user's own but open
# to others, refused by the client if it is opened again; a symbolic link, a file, and (as
# root) another user's directory refused by the library and by the client with one reason.
# usage: control_dir.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1
REMEDY="remove it or set CRSNAP_SOCKET_DIR to a directory of your own"

# start: the probe under `crsnap run` with the current environment; sets $pid.
start() {
    "$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" sleep 60 >/dev/null 2>"$T/prog.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
}

# wait_text FILE TEXT: waits until FILE has TEXT.
wait_text() {
    n=100
    while ! grep -qF -- "$2" "$1" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    has "$1" "$2"
}

# refused DIR REASON: the library ran without a socket for REASON about DIR, and the client
# refuses the directory for the same reason (exit 5) and prints nothing.
refused() {
    wait_text "$T/prog.err" "running without a control socket"
    has "$T/prog.err" "control socket directory: $1 $2"
    run_cmd 5 "$CRSNAP_BIN" checkpoint -w $pid
    has "$T/err" "refusing the control socket directory: $1 $2"
    [ -s "$T/out" ] && fail "checkpoint -w printed '$(cat "$T/out")'"
    kill $pid
}

# XDG_RUNTIME_DIR, private: the socket is in its crsnap/ (made mode 0700).
unset CRSNAP_SOCKET_DIR
mkdir -m 700 "$T/xdg"
export XDG_RUNTIME_DIR="$T/xdg"
start
wait_for "$T/xdg/crsnap/$pid.sock"
[ "$(stat -c %a "$T/xdg/crsnap")" = 700 ] || fail "$T/xdg/crsnap is not mode 700"
run_cmd 0 "$CRSNAP_BIN" checkpoint -w $pid
[ -f "$(cat "$T/out")" ] || fail "checkpoint -w printed '$(cat "$T/out")'"
run_cmd 0 env -u XDG_RUNTIME_DIR "$CRSNAP_BIN" checkpoint -w $pid
[ -f "$(cat "$T/out")" ] || fail "without XDG_RUNTIME_DIR, checkpoint -w printed '$(cat "$T/out")'"
kill $pid
unset XDG_RUNTIME_DIR

# CRSNAP_SOCKET_DIR of ours, open to others: made private at start; opened again later, the
# client will not use it until it is private again.
export CRSNAP_SOCKET_DIR="$T/open"
mkdir "$T/open"
chmod 777 "$T/open"
start
wait_for "$T/open/$pid.sock"
[ "$(stat -c %a "$T/open")" = 700 ] || fail "$T/open is mode $(stat -c %a "$T/open"), not 700"
chmod 777 "$T/open"
run_cmd 5 "$CRSNAP_BIN" checkpoint -w $pid
has "$T/err" "refusing the control socket directory: $T/open is open to other users (mode 0777): make it mode 0700 or $REMEDY"
chmod 700 "$T/open"
run_cmd 0 "$CRSNAP_BIN" checkpoint -w $pid
kill $pid

# A symbolic link, even to a private directory of ours; a file.
mkdir -m 700 "$T/real"
ln -s "$T/real" "$T/link"
export CRSNAP_SOCKET_DIR="$T/link"
start
refused "$T/link" "is a symbolic link, not a directory: $REMEDY"
[ -z "$(ls -A "$T/real")" ] || fail "the program made $(ls -A "$T/real") through the link"
echo not a directory >"$T/file"
export CRSNAP_SOCKET_DIR="$T/file"
start
refused "$T/file" "is not a directory: $REMEDY"

# Another user's directory, private or open.
if [ "$(id -u)" = 0 ]; then
    for mode in 700 777; do
        mkdir -m $mode "$T/other$mode"
        chown 65534 "$T/other$mode"
        export CRSNAP_SOCKET_DIR="$T/other$mode"
        start
        refused "$T/other$mode" "is owned by uid 65534, not you: $REMEDY"
    done
fi
echo ok
