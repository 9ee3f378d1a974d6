# sockmark.sh PROGRAM - socket options that need a privilege the restore lacks are a warning,
# not silence, and the others still come back: a listener with SO_MARK and SO_PRIORITY 7
# and a send buffer twice net.core.wmem_max (SO_SNDBUFFORCE: CAP_NET_ADMIN) and SO_RCVBUF is checkpointed
# with --kill, restored once with every capability (all four come back) and once without
# CAP_NET_ADMIN and CAP_NET_RAW (SO_MARK, SO_PRIORITY and SO_SNDBUF are said not set back,
# SO_RCVBUF comes back). Restored by root while another process has its pid (pids wrap), it
# goes into a pid namespace of its own and still holds root's capabilities there.
. "$(dirname "$0")/lib.sh"
prog=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: setting SO_MARK needs root"; exit 77; }
command -v setpriv >/dev/null 2>&1 || { echo "SKIP: no setpriv"; exit 77; }
rm -f "$T/progress"
start run "$prog" 3000000 "$T/progress"
wait_for "$T/progress"
take_checkpoint "$PID" --kill
while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done

restore privileged "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
printf 'mark 42\npriority 7\nrcvbuf ok\nforced sndbuf ok\n' >"$T/want.out"
same "$T/privileged.out" "$T/want.out"
grep -q 'not set back' "$T/privileged.err" && fail "a privileged restore warned: $(cat "$T/privileged.err")"

take_pid "$PID" || fail "could not make pid $PID busy"
restore busy "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore with its pid busy exited $RC"
same "$T/busy.out" "$T/want.out"
grep -q 'not set back' "$T/busy.err" && fail "a root restore in a pid namespace warned: $(cat "$T/busy.err")"
kill "$TAKEN"

setpriv --inh-caps=-net_admin,-net_raw --bounding-set=-net_admin,-net_raw \
    "$CRSNAP_BIN" restore -q "$IMG" >"$T/bare.out" 2>"$T/bare.err" ||
    fail "the restore without CAP_NET_ADMIN failed"
printf 'mark 0\npriority 0\nrcvbuf ok\nforced sndbuf BROKEN\n' >"$T/want.out"
same "$T/bare.out" "$T/want.out"
grep -q 'descriptor [0-9]*: socket option SO_MARK is not set back to 42' "$T/bare.err" ||
    fail "no warning for SO_MARK: $(cat "$T/bare.err")"
grep -q 'socket option SO_PRIORITY is not set back to 7' "$T/bare.err" ||
    fail "no warning for SO_PRIORITY: $(cat "$T/bare.err")"
grep -q "socket option SO_SNDBUF is not set back to $((4 * $(cat /proc/sys/net/core/wmem_max)))" \
    "$T/bare.err" ||
    fail "no warning for SO_SNDBUF: $(cat "$T/bare.err")"
echo "sockmark: privileged options come back with the privilege, and are warned about without"
