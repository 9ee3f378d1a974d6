#!/bin/sh
# limits.sh LIMITS_PROGRAM fds|noreserve - a program at one of the restorer's limits, taken
# with checkpoint --kill: `crsnap restore -n` says yes exactly when the restore succeeds.
#   fds: 5000 descriptors (more than the 4096 the restorer once took) restore; under a hard
#   RLIMIT_NOFILE too low for them, -n and the restore both refuse before anything changes.
#   noreserve: 64 GiB mapped MAP_NORESERVE with a few MiB written restores on a machine with
#   less memory, because the region is mapped MAP_NORESERVE again.
. "$(dirname "$0")/lib.sh"
PROG=$1
MODE=$2
N=1500000
case $MODE in
fds) ARG=5000 ;;
noreserve)
    ARG=64
    if [ "$(cat /proc/sys/vm/overcommit_memory)" = 2 ]; then
        echo "skipped: vm.overcommit_memory=2 ignores MAP_NORESERVE, no 64 GiB region here"
        exit 77
    fi ;;
*) fail "mode $MODE?" ;;
esac
if [ "$MODE" = fds ] && [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 5100 ]; then
    echo "skipped: the hard RLIMIT_NOFILE ($(ulimit -Hn)) is below 5100"
    exit 77
fi
"$PROG" "$MODE" $ARG $N "$T/ref.progress" >"$T/expected.out" || fail "the uninterrupted run failed"
start run "$PROG" "$MODE" $ARG $N "$T/progress"
wait_for "$T/progress"
take_checkpoint "$PID" --kill
kill_now "$PID" run

if [ "$MODE" = fds ]; then
    # the restorer needs room above descriptor 5003: with a hard limit of 4096 neither the dry
    # run nor the restore goes ahead, and both say why
    (ulimit -n 4096 && restore lowdry -n "$IMG")
    grep -q . "$T/lowdry.err" || fail "restore -n under a low limit said nothing"
    grep -qF "(RLIMIT_NOFILE hard limit" "$T/lowdry.err" ||
        fail "restore -n under a low limit: $(cat "$T/lowdry.err")"
    (ulimit -n 4096 && restore low "$IMG"; echo "$RC" >"$T/low.rc")
    [ "$(cat "$T/low.rc")" = 1 ] || fail "restore under a low limit exited $(cat "$T/low.rc")"
    grep -qF "(RLIMIT_NOFILE hard limit" "$T/low.err" || fail "restore: $(cat "$T/low.err")"
    [ ! -s "$T/low.out" ] || fail "the program ran under a low limit"
fi

restore dry -n "$IMG"
[ "$RC" = 0 ] || fail "restore -n exited $RC: $(cat "$T/dry.err")"
grep -qF "can be restored" "$T/dry.out" || fail "restore -n said: $(cat "$T/dry.out")"
restore restored "$IMG"
[ "$RC" = 0 ] || fail "the restore exited $RC after restore -n said yes"
same "$T/restored.out" "$T/expected.out"
echo "limits $MODE: restore -n and the restore agree, output matches"
