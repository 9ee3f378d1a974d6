# lazy.sh root|kill|user PROG - lazy restore (crsnap restore --lazy) of lazy.c, which checks
# its memory after its work. root: the restored process prints what an uninterrupted run
# prints (every page, a fork, syscalls on pages not back yet, mremap, madvise, threads), and
# the helper did run. kill: the helper serves faults only (a test hook) and is killed with
# SIGKILL while the process is half-way through its pages: the process dies of SIGBUS and
# never reports a wrong page. user: as an unprivileged user, where userfaultfd is refused
# (vm.unprivileged_userfaultfd=0), one line says so and the restore is eager and right.
. "$(dirname "$0")/lib.sh"
mode=$1 PROG=$2
MIB=48 ITER=3000000

uffd_for_root() {
    [ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 1 ] || {
        echo "skipped: userfaultfd for kernel-mode faults needs root here"; exit 77; }
}

case $mode in
root)
    uffd_for_root
    "$PROG" $MIB $ITER "$T/progress" >"$T/expected.out" 2>"$T/expected.err" ||
        fail "the uninterrupted run failed"
    grep -q BROKEN "$T/expected.out" && fail "the uninterrupted run reports BROKEN"
    rm -f "$T/progress"
    start run "$PROG" $MIB $ITER "$T/progress"
    wait_for "$T/progress"
    checkpoint "$PID"
    kill_now "$PID" run
    CRSNAP_TEST_LAZY_PIDFILE=$T/helper restore restored --lazy "$IMG"
    [ "$RC" = 0 ] || fail "crsnap restore --lazy exited $RC"
    [ -s "$T/helper" ] || fail "no lazy helper ran"
    grep -q "restoring eagerly" "$T/restored.err" && fail "the restore fell back to eager"
    same "$T/restored.out" "$T/expected.out"
    echo "lazy: restored output matches"
    ;;
kill)
    uffd_for_root
    start run "$PROG" $MIB $ITER "$T/progress" "$T/half" "$T/go"
    wait_for "$T/progress"
    checkpoint "$PID"
    kill_now "$PID" run
    rm -f "$T/half" "$T/go" "$T/helper"
    ( CRSNAP_TEST_LAZY_NO_PREFETCH=1 CRSNAP_TEST_LAZY_PIDFILE=$T/helper \
          "$CRSNAP_BIN" restore -q --lazy "$IMG" >"$T/restored.out" 2>"$T/restored.err"
      echo $? >"$T/rc" ) &
    wait_for "$T/half" 600
    read_pid "$T/helper"
    kill -0 "$PID" 2>/dev/null || fail "the helper is gone before it was killed"
    kill -9 "$PID"
    touch "$T/go"
    wait_for "$T/rc" 300
    rc=$(cat "$T/rc")
    grep -q BROKEN "$T/restored.out" && fail "the process saw a wrong page after the helper died"
    [ "$rc" = 135 ] || fail "the process ended with status $rc, not SIGBUS (135)"
    grep -q "gets SIGBUS" "$T/restored.err" || fail "no message about the helper's death"
    echo "lazy: helper killed, the process died of SIGBUS"
    ;;
user)
    . "$(dirname "$0")/../lib/unpriv.sh"
    unpriv_setup "$PROG"
    [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ] ||
        unpriv_skip "vm.unprivileged_userfaultfd is not 0: nothing to fall back from"
    P=$U_DIR/$(basename "$PROG")
    W=$U_DIR/work
    mkdir -m 700 "$W" "$W/imgs" && chown -R "$U1:$U1" "$W" || fail "cannot make $W"
    as_user "$U1" "$P" 8 $ITER "$W/progress" >"$T/expected.out" 2>&1 ||
        fail "the uninterrupted run failed"
    rm -f "$W/progress"
    ( as_user "$U1" sh -c 'echo $$ >"$0"; exec "$1" run -d "$2" -- "$3" 8 "$4" "$5" 2>/dev/null' \
          "$W/pid" "$U_CRSNAP" "$W/imgs" "$P" $ITER "$W/progress" & wait ) | cat >"$T/run.out" &
    read_pid "$W/pid"
    wait_for "$W/progress"
    IMG=$(as_user "$U1" "$U_CRSNAP" checkpoint -w "$PID") || fail "no checkpoint"
    kill -9 "$PID"
    as_user "$U1" "$U_CRSNAP" restore -q --lazy "$IMG" >"$T/restored.out" 2>"$T/restored.err"
    RC=$?
    [ "$RC" = 0 ] || fail "crsnap restore --lazy as $U1 exited $RC"
    n=$(grep -c "restoring eagerly" "$T/restored.err")
    [ "$n" = 1 ] || fail "expected one line saying the restore is eager, got $n"
    grep "restoring eagerly" "$T/restored.err"
    same "$T/restored.out" "$T/expected.out"
    echo "lazy: unprivileged, eager restore with one line"
    ;;
*)
    fail "usage: lazy.sh root|kill|user PROG"
    ;;
esac
