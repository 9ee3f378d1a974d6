#!/bin/sh
# `crsnap checkpoint` against the real runtime in a program started by `crsnap run`: -w prints
# the path of an image that exists, a queued request writes one too, --kill leaves an image and
# no process, and the socket refuses another user both ways (uid 65534 asking root's process,
# root asking uid 65534's process).
# usage: checkpoint_live.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1

"$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" sleep 30 >"$T/prog.out" 2>"$T/prog.err" &
pid=$!
CLEANUP_PIDS=$pid
wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"

run_cmd 0 "$CRSNAP_BIN" checkpoint -w $pid
img=$(cat "$T/out")
case "$img" in "$T/imgs/"*) ;; *) fail "-w printed '$img', not a path in $T/imgs" ;; esac
[ -f "$img" ] || fail "-w printed $img, which does not exist"

run_cmd 0 "$CRSNAP_BIN" checkpoint $pid
[ -s "$T/out" ] && fail "a queued request printed '$(cat "$T/out")'"
n=100
while [ "$(ls "$T/imgs" | grep -c '^ckpt-.*\.crsnap$')" -lt 2 ] && [ $n -gt 0 ]; do
    sleep 0.1; n=$((n - 1))
done
[ $n -gt 0 ] || fail "the queued checkpoint wrote no second image: $(ls "$T/imgs")"

run_cmd 0 "$CRSNAP_BIN" checkpoint --kill $pid
img=$(cat "$T/out")
[ -f "$img" ] || fail "--kill printed $img, which does not exist"
kill -0 $pid 2>/dev/null && fail "process $pid still runs after checkpoint --kill"
wait $pid
st=$?
[ $st = 0 ] || fail "the process killed by checkpoint --kill exited $st, expected 0"
run_cmd 3 "$CRSNAP_BIN" checkpoint $pid
has "$T/err" "no process with pid $pid"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 711 "$T"
    asnobody="setpriv --reuid=65534 --regid=65534 --clear-groups"

    # Root's process, asked by uid 65534 (its socket directory is mode 0700).
    "$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" sleep 30 >/dev/null 2>&1 &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
    run_cmd 4 $asnobody "$CRSNAP_BIN" checkpoint -w $pid
    has "$T/err" "permission denied: process $pid belongs to uid 0"
    kill $pid

    # Uid 65534's process, asked by root: the server checks the peer's uid.
    export CRSNAP_SOCKET_DIR="$T/sock-nobody"
    mkdir -m 700 "$CRSNAP_SOCKET_DIR" "$T/imgs-nobody"
    chown 65534:65534 "$CRSNAP_SOCKET_DIR" "$T/imgs-nobody"
    $asnobody "$CRSNAP_BIN" run -d "$T/imgs-nobody" "$PROBE" sleep 30 >/dev/null 2>&1 &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
    run_cmd 4 "$CRSNAP_BIN" checkpoint -w $pid
    has "$T/err" "process $pid"
    ls "$T/imgs-nobody" | grep -q crsnap && fail "a refused request wrote an image"
    kill $pid
fi
echo ok
