# sockpair.sh PROG - in-process unix socketpairs across a restore: `crsnap info` marks the four
# socketpair ends (and not the other two sockets) as socketpairs, and the restored program finds
# both pairs working with their types and flags, the bound socket bound again, and the socket
# connected to it reported unrestored (and standing in, its peer gone).
. "$(dirname "$0")/lib.sh"
prog=$1
"$prog" "$T" 3000000 >"$T/expected.out" 2>"$T/expected.err" || fail "the uninterrupted run failed"
start run "$prog" "$T" 3000000 "$T/progress"
wait_for "$T/progress"
checkpoint "$PID"
kill_now "$PID" run
"$CRSNAP_BIN" info "$IMG" >"$T/info.out" 2>"$T/info.err" || fail "crsnap info failed"
n=$(grep -c '^ *[0-9]* *socket .*(socketpair, restored)$' "$T/info.out")
[ "$n" = 4 ] || fail "crsnap info shows $n socketpair ends, not 4: $(cat "$T/info.out")"
[ "$(grep -c '^ *[0-9]* *socket ' "$T/info.out")" = 6 ] || fail "crsnap info lacks the other sockets"
grep -q '^ *[0-9]* *socket .*(bound to .*/bound.sock, restored)$' "$T/info.out" ||
    fail "crsnap info does not show the bound socket as restored: $(cat "$T/info.out")"
"$CRSNAP_BIN" info --json "$IMG" >"$T/info.json" 2>>"$T/info.err" || fail "crsnap info --json failed"
[ "$(grep -o '"socketpair":true' "$T/info.json" | wc -l)" = 4 ] &&
    [ "$(grep -o '"socketpair":false' "$T/info.json" | wc -l)" = 2 ] ||
    fail "crsnap info --json does not mark the socketpairs"
restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
same "$T/restored.out" "$T/expected.out"
echo "socketpairs: rebuilt, the bound socket bound again, the connected one reported"
