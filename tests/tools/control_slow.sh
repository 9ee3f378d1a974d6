#!/bin/sh
# Slow control clients cannot stall a process: while several clients trickle a byte every
# 1.5 s into its control socket (and connect again whenever they are dropped), periodic
# checkpoints go on being written, `crsnap checkpoint -w` is still answered, and each trickling
# connection is ended by the server's deadline for a whole request rather than kept alive byte
# by byte.
# usage: control_slow.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1
SLOW=4

CRSNAP_INTERVAL=0.5 CRSNAP_KEEP=0 "$CRSNAP_BIN" run -d "$T/imgs" "$PROBE" sleep 60 \
    >"$T/prog.out" 2>"$T/prog.err" &
pid=$!
CLEANUP_PIDS=$pid
wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
wait_count "$T/imgs" 1 200

# Each trickler: one byte of junk (never a newline) every 1.5 s, for as long as $T/trickle
# exists; it notes each reply the server sends when it ends the connection.
touch "$T/trickle"
i=0
while [ $i -lt $SLOW ]; do
    python3 - "$CRSNAP_SOCKET_DIR/$pid.sock" "$T/trickle" >"$T/slow.$i" 2>&1 <<'EOF' &
import os, socket, sys, time
path, flag = sys.argv[1], sys.argv[2]
while os.path.exists(flag):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(0.05)
    try:
        while os.path.exists(flag):
            try:
                got = s.recv(256)       # the server's last word, if it ended the connection
            except socket.timeout:
                got = None
            if got is not None:
                print("dropped:", got.decode(errors="replace").strip() or "EOF", flush=True)
                break
            s.send(b"x")
            time.sleep(1.5)
    except OSError as e:
        print("dropped:", e, flush=True)
    s.close()
EOF
    CLEANUP_PIDS="$CLEANUP_PIDS $!"
    i=$((i + 1))
done
sleep 1
before=$(count "$T/imgs")

# Progress, not timing: three more periodic images while the tricklers keep at it.
wait_count "$T/imgs" $((before + 3)) 200
run_cmd 0 "$CRSNAP_BIN" checkpoint -w $pid
[ -f "$(cat "$T/out")" ] || fail "checkpoint -w printed '$(cat "$T/out")' under slow clients"

# Every trickler was dropped by the deadline (they never finish a request).
n=300
while [ $n -gt 0 ]; do
    dropped=0
    i=0
    while [ $i -lt $SLOW ]; do
        grep -q "dropped: error 110" "$T/slow.$i" && dropped=$((dropped + 1))
        i=$((i + 1))
    done
    [ $dropped = $SLOW ] && break
    sleep 0.1; n=$((n - 1))
done
[ $n -gt 0 ] || fail "a trickling client was never dropped: $(cat "$T"/slow.*)"
rm -f "$T/trickle"
kill $pid
echo ok
