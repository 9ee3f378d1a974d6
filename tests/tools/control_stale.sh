#!/bin/sh
# Control sockets of processes that ended do not pile up: a normal exit removes its own, and a
# process that starts removes those that processes killed (SIGKILL, a fatal signal) left in its
# directory. It removes only what is provably stale: a live process's socket stays, a socket
# of a live pid that nobody listens on (the pid was reused) goes, another user's stays.
# usage: control_stale.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1
SD=$CRSNAP_SOCKET_DIR

sockets() { ls "$SD" | sort | tr '\n' ' '; }

# bind_only PATH: a socket file nobody listens on.
bind_only() {
    python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$1"
}

# A normal exit removes its socket.
run_cmd 0 "$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" exit 0
[ -z "$(sockets)" ] || fail "a normal exit left $(sockets)"

# Deaths that leave theirs: SIGKILL, SIGTERM, SIGHUP. All three run at once, so that none of
# them starts after another died (a start cleans up).
dead=""
for how in KILL TERM HUP; do
    "$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" sleep 30 >/dev/null 2>&1 &
    p=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $p"
    wait_for "$SD/$p.sock"
    dead="$dead $p:$how"
done
for d in $dead; do
    kill -${d#*:} ${d%:*}
    wait ${d%:*}
done
dead=$(for d in $dead; do echo ${d%:*}; done)
for p in $dead; do
    [ -S "$SD/$p.sock" ] || fail "process $p left no socket to clean up (premise): $(sockets)"
done

# A live one, whose socket must stay.
"$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" sleep 30 >/dev/null 2>&1 &
live=$!
CLEANUP_PIDS="$CLEANUP_PIDS $live"
wait_for "$SD/$live.sock"
# A live pid that is not ours to serve (reused): its socket file nobody listens on.
sleep 30 &
reused=$!
CLEANUP_PIDS="$CLEANUP_PIDS $reused"
bind_only "$SD/$reused.sock"
# A socket bound by a process that died before it listened (a pid above any pid_max).
bind_only "$SD/99999999.sock.tmp"
# Not a socket, and not named like one: never touched.
echo keep >"$SD/123.sock.note"
mkdir "$SD/456.sock"
# Another user's socket, in our directory: not ours to remove.
foreign=""
if [ "$(id -u)" = 0 ]; then
    bind_only "$SD/99999998.sock"
    chown 65534 "$SD/99999998.sock"
    foreign="99999998.sock"
fi

# The next process to start cleans up.
"$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" sleep 30 >/dev/null 2>&1 &
new=$!
CLEANUP_PIDS="$CLEANUP_PIDS $new"
wait_for "$SD/$new.sock"
want=$(printf '%s\n' "$live.sock" "$new.sock" 123.sock.note 456.sock $foreign | sort | tr '\n' ' ')
n=100
while [ "$(sockets)" != "$want" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$(sockets)" = "$want" ] || fail "after a start, $SD holds '$(sockets)', expected '$want'"

# The live process still answers on the socket it kept.
run_cmd 0 "$CRSNAP_BIN" checkpoint -w $live
[ -f "$(cat "$T/out")" ] || fail "the live process did not answer after the cleanup"
kill $live $new $reused
echo ok
