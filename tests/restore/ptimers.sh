# ptimers.sh PROGRAM - POSIX timers (tests/restore/ptimers.c) through a live checkpoint (the
# program goes on and checks its timers itself) and through checkpoint --kill and restore: the
# same timer ids, clocks, signals and values, the periodic signals still arriving on their
# threads, and the one-shots with the time they had left, no more (compared with what
# `crsnap info --json` says the image holds); through two generations of restores; a
# SIGEV_THREAD timer's process refused with the reason; then a restore as an unprivileged user,
# when root.
. "$(dirname "$0")/lib.sh"
prog=$1
"$prog" 300000 "$T/progress" "$T/plain.left" >"$T/expected.out" 2>"$T/expected.err" ||
    fail "the uninterrupted run failed"
grep -qv ' ok$' "$T/expected.out" && fail "the uninterrupted run is not all ok"

# live: the checkpoint must not disturb the timers of the process that goes on
rm -f "$T/progress"
start live "$prog" 3000000 "$T/progress" "$T/live.left"
wait_for "$T/progress"
checkpoint "$PID"
while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
sleep 0.1
same "$T/live.out" "$T/expected.out"

# the image lists the five timers; the restore brings back all but the one on a thread's CPU
# clock, which the checkpoint, info and the restore each say is not restored
rm -f "$T/progress"
start run "$prog" 3000000 "$T/progress" "$T/restored.left"
wait_for "$T/progress"
take_checkpoint "$PID" --kill
while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
"$CRSNAP_BIN" info "$IMG" >"$T/info.txt" || fail "crsnap info failed"
grep -q '^timers     5$' "$T/info.txt" || fail "info lists no 5 timers: $(cat "$T/info.txt")"
grep -q "^  POSIX timer 4: it counts a thread's CPU time" "$T/info.txt" ||
    fail "info does not list the CPU-clock timer as not restored: $(cat "$T/info.txt")"
grep -q "not restorable: POSIX timer 4: it counts a thread's CPU time" "$T/run.err" ||
    fail "the checkpoint did not say the CPU-clock timer is not restorable: $(cat "$T/run.err")"
"$CRSNAP_BIN" info --json "$IMG" >"$T/info.json" || fail "crsnap info --json failed"
restore restored "$IMG"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
same "$T/restored.out" "$T/expected.out"
grep -q "not restored: POSIX timer 4: it counts a thread's CPU time" "$T/restored.err" ||
    fail "the restore did not say the CPU-clock timer is not restored: $(cat "$T/restored.err")"
# The one-shots' time left after the restore: at most what the image holds (the timer was not
# armed afresh), and not far below it (the restored work takes seconds, not minutes).
python3 - "$T/info.json" "$T/restored.left" <<'PY' || fail "the one-shots' time left is wrong"
import json, sys
timers = json.load(open(sys.argv[1]))["timers"]
left = [int(x) for x in open(sys.argv[2]).read().split()]
saved = {t["notify"]: t for t in timers if t["interval_ns"] == 0 and t["restored"]}
assert len(timers) == 5, timers
assert [t["id"] for t in timers if not t["restored"]] == [4], timers
for now_ms, kind in zip(left, ("signal", "none")):
    image_ms = saved[kind]["left_ns"] // 1000000
    print(kind, "image", image_ms, "ms, after the restore", now_ms, "ms")
    assert image_ms - 120000 < now_ms <= image_ms, (kind, image_ms, now_ms)
PY

# a restored process's timers come back again from its own checkpoint
rm -f "$T/progress"
two_generations "$prog" 6000000 "$T/progress" "$T/second.left"
same "$T/second.out" "$T/expected.out"

# A timer_create(SIGEV_THREAD) timer: glibc's helper thread blocks every signal, so the
# checkpoint cannot stop it; it fails and says why, and the program goes on.
rm -f "$T/progress"
start sigev "$prog" --sigev-thread "$T/progress" 6
wait_for "$T/progress"
"$CRSNAP_BIN" checkpoint -w "$PID" >"$T/sigev-checkpoint.out" 2>"$T/sigev-checkpoint.err" &&
    fail "a process with a SIGEV_THREAD timer was checkpointed"
grep -q 'timer_create(SIGEV_THREAD) timer' "$T/sigev-checkpoint.err" ||
    fail "the failure does not name the SIGEV_THREAD timer: $(cat "$T/sigev-checkpoint.err")"
while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
sleep 0.1
grep -qx 'SIGEV_THREAD timer runs ok' "$T/sigev.out" || fail "the program did not go on: $(cat "$T/sigev.out")"

# as an ordinary user: timer_create's chosen ids need no privilege
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    . "$(dirname "$0")/../lib/unpriv.sh"
    unpriv_setup "$prog"
    U_PROG=$U_DIR/$(basename "$prog")
    D=$U_DIR/u1
    mkdir -m 700 "$D" && chown "$U1:$U1" "$D" || fail "cannot make $D"
    U_ENV="CRSNAP_SOCKET_DIR=$D/sock"
    as_user "$U1" mkdir -m 700 "$D/sock" "$D/imgs" || fail "cannot make $D/imgs"
    # the user's own output files, which the restored process opens again as that user
    as_user "$U1" touch "$D/user.out" "$D/user.err" || fail "cannot make the output files"
    as_user "$U1" sh -c 'echo $$ >"$0"; exec "$@"' "$D/pid" "$U_CRSNAP" run -d "$D/imgs" -- \
        "$U_PROG" 3000000 "$D/progress" "$D/left" >>"$D/user.out" 2>>"$D/user.err" &
    wait_for "$D/progress"
    read_pid "$D/pid"
    PIDS="$PIDS $PID"
    UIMG=$(as_user "$U1" "$U_CRSNAP" checkpoint -w --kill "$PID" 2>"$T/user-checkpoint.err") ||
        fail "the user's checkpoint failed"
    while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
    [ -s "$D/user.out" ] && fail "the user's program finished before it was killed"
    as_user "$U1" "$U_CRSNAP" restore -q "$UIMG" >"$T/user-restored.out" 2>"$T/user-restored.err" ||
        fail "the user's restore failed: $(cat "$T/user-restored.err")"
    same "$D/user.out" "$T/expected.out"
fi
echo "ptimers: timers kept live, and back under their ids after a restore"
