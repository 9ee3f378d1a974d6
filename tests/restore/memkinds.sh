#!/bin/sh
# memkinds.sh self|user|user-memlock LABEL PROG ARGS... - a program that checks its own memory
# after its work (memlock.c, guard.c, sysvshm.c, shmobj.c) prints the same lines as an
# uninterrupted run, and no BROKEN one, when (a) a checkpoint is taken and it goes on, and (b)
# it is checkpointed with --kill and restored. "self" runs it as the user running the tests;
# "user" as an unprivileged user (tests/lib/unpriv.sh; skipped without root), whose limits
# apply; "user-memlock" restores with a hard RLIMIT_MEMLOCK of 512 KiB, below what the program
# locked: the restore must say so and why, and the program still find its data whole. ARGS may
# use @PROGRESS@ (a file the program creates a tenth into its work, the cue to checkpoint) and
# @TMP@ (a scratch directory the program may write).
. "$(dirname "$0")/lib.sh"
who=$1 label=$2 PROG=$3
shift 3
C=$CRSNAP_BIN
low=
if [ "$who" = user-memlock ]; then
    who=user low="prlimit --memlock=524288:524288"
fi
if [ "$who" = user ]; then
    . "$(dirname "$0")/../lib/unpriv.sh"
    unpriv_setup "$PROG"
    PROG=$U_DIR/$(basename "$PROG")
    C=$U_CRSNAP
    W=$U_DIR/work
    mkdir -m 700 "$W" "$W/imgs" "$W/sock" && chown -R "$U1:$U1" "$W" || fail "cannot make $W"
else
    W=$T/work
    mkdir -p "$W/imgs"
fi
expand() {
    for a in "$@"; do
        [ "$a" = "@PROGRESS@" ] && a="$W/progress"
        [ "$a" = "@TMP@" ] && a="$W"
        printf '%s\n' "$a"
    done
}
set -- $(expand "$@")

# a SysV segment the program could not remove (a failed run) goes with the test
sysv_cleanup() {
    [ -f "$W/key" ] && ipcrm -M "$(cat "$W/key")" 2>/dev/null
    [ -f "$W/shmname" ] && rm -f "$(cat "$W/shmname")"
    [ -n "${U_DIR:-}" ] && unpriv_cleanup
    cleanup
}
trap sysv_cleanup EXIT

# as_who CMD...: CMD as the test's user, with the library that user can read
as_who() {
    low=
if [ "$who" = user-memlock ]; then
    who=user low="prlimit --memlock=524288:524288"
fi
if [ "$who" = user ]; then
        setpriv --reuid="$U1" --regid="$U1" --init-groups --reset-env \
            env -i HOME=/nonexistent PATH=/usr/bin:/bin CRSNAP_LIB="$U_LIB" \
            CRSNAP_SOCKET_DIR="$W/sock" "$@"
    else
        "$@"
    fi
}

# run_under NAME: the program under `crsnap run`, its stdout through a pipe into $T/NAME.out
# (so that a restored process writes to the restorer's stdout instead); sets PID
run_under() {
    name=$1; shift
    rm -f "$W/progress" "$W/pid"
    # stderr into a file the user can open again at the restore
    ( as_who sh -c 'echo $$ >"$0"; c=$1 d=$2 e=$3; shift 3; exec "$c" run -d "$d" -- "$@" 2>"$e"' \
          "$W/pid" "$C" "$W/imgs" "$W/$name.err" "$PROG" "$@" & wait ) | cat >"$T/$name.out" &
    read_pid "$W/pid"
    rm -f "$W/pid"
    PIDS="$PIDS $PID"
    wait_for "$W/progress"
}
# ckpt ARGS...: `crsnap checkpoint -w ARGS PID` until the program serves its socket; sets IMG
ckpt() {
    n=100
    until IMG=$(as_who "$C" checkpoint -w "$@" "$PID" 2>"$T/checkpoint.err"); do
        n=$((n - 1))
        [ $n -gt 0 ] || fail "crsnap checkpoint -w $* $PID failed: $(cat "$T/checkpoint.err")"
        sleep 0.1
    done
    [ -f "$IMG" ] || fail "crsnap checkpoint printed '$IMG', not an image"
}
gone() {
    n=600
    while kill -0 "$1" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    kill -0 "$1" 2>/dev/null && fail "process $1 did not end"
    wait
}

as_who "$PROG" "$@" >"$T/expected.out" 2>"$T/expected.err" || fail "the uninterrupted run failed"
grep -q BROKEN "$T/expected.out" && fail "the uninterrupted run fails its own checks: $(cat "$T/expected.out")"
[ -s "$T/expected.out" ] || fail "the uninterrupted run printed nothing"
# let the program clean what it leaves between runs (a SysV segment, a /dev/shm object)
[ -n "${MEMKINDS_RESET:-}" ] && as_who $MEMKINDS_RESET

# (a) live: a checkpoint, and the program goes on
if [ -z "$low" ]; then
    run_under live "$@"
    ckpt
    gone "$PID"
    same "$T/live.out" "$T/expected.out"
    [ -n "${MEMKINDS_RESET:-}" ] && as_who $MEMKINDS_RESET
fi

# (b) checkpoint --kill, restore
run_under run "$@"
ckpt --kill
gone "$PID"
[ -s "$T/run.out" ] && fail "the program finished before the checkpoint ended it"
# what `crsnap info` says of it
case $label in
# (mappings made after mlockall(MCL_FUTURE) are locked too: two regions at least)
memlock) info='^  locked +([2-9]|[1-9][0-9]+) +[0-9.]+ [KMG]iB +\(mlock\)$'
         json='"locked_regions":([2-9]|[1-9][0-9]+),"locked_bytes":[0-9]+' ;;
guard) info='^guard pages +5 in 4 runs$' json='"guard_pages":5' ;;
sysv) info='^  sysv key 0x0{8} id [0-9]+, 4\.0 KiB, mode 0600, removed$'
      json='"kind":"sysv","key":[0-9]+,"id":[0-9]+,"removed":false,"size":12388,"mode":384,"instant":true' ;;
shm) info='^  posix /dev/shm/crsnap-test-[0-9]+, 12 KiB, mode 0640$'
     json='"kind":"posix","path":"/dev/shm/crsnap-test-[0-9]+","size":12388,"mode":416,"instant":true' ;;
*) info= json= ;;
esac
"$CRSNAP_BIN" info "$IMG" >"$T/info.out" 2>&1 || fail "crsnap info failed: $(cat "$T/info.out")"
[ -z "$info" ] || grep -Eq "$info" "$T/info.out" || fail "crsnap info does not say /$info/: $(cat "$T/info.out")"
"$CRSNAP_BIN" info --json "$IMG" >"$T/info.json" 2>&1 || fail "crsnap info --json failed"
[ -z "$json" ] || grep -Eq "$json" "$T/info.json" || fail "crsnap info --json lacks /$json/"
as_who $low "$C" restore -q "$IMG" >"$T/restored.out" 2>"$T/restored.err"
RC=$?
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
if [ -n "$low" ]; then
    grep -q "warning: .* of the locked regions (.*) are not locked again: .*; RLIMIT_MEMLOCK is 512 KiB" \
        "$T/restored.err" || fail "no warning that says why the locks are not back: $(cat "$T/restored.err")"
    grep -qx "data whole ok" "$T/restored.out" && grep -qx "mlock region locked BROKEN" "$T/restored.out" ||
        fail "the restored program did not run to its checks: $(cat "$T/restored.out")"
    echo "$label: with less RLIMIT_MEMLOCK, restored unlocked with a warning that says why"
    exit 0
fi
same "$T/restored.out" "$T/expected.out"
grep -q "warning" "$T/restored.err" && fail "the restore warned: $(cat "$T/restored.err")"
# (b2) SysV: the key held by another segment at restore: refused, and --force restores with a
# segment of the program's own (whose key check then fails, as it should)
if [ "$label" = sysv ]; then
    run_under squat "$@"
    ckpt --kill
    gone "$PID"
    key=$(cat "$W/key")
    ipcrm -M "$key" || fail "cannot remove the segment of key $key"
    as_who "$PROG" squat "$W" || fail "cannot make another segment under key $key"
    as_who "$C" restore -q "$IMG" >"$T/squat.out" 2>"$T/squat.err"
    [ $? != 0 ] || fail "a restore went on while another segment holds key $key"
    grep -q "SysV shared memory key $key is another segment's now (id [0-9]*, 4096 bytes; the process had id [0-9]*, 12388 bytes); --force" \
        "$T/squat.err" || fail "no error naming the key: $(cat "$T/squat.err")"
    as_who "$C" restore -q -f "$IMG" >"$T/squat.out" 2>"$T/squat.err"
    [ $? = 0 ] || fail "restore --force with the key taken failed: $(cat "$T/squat.err")"
    grep -q "warning: SysV shared memory key $key is another segment's now .*: the restored process gets a segment of its own, without the key" \
        "$T/squat.err" || fail "no warning about the key: $(cat "$T/squat.err")"
    grep -qx "the key names the segment BROKEN" "$T/squat.out" &&
        [ "$(grep -c ' ok$' "$T/squat.out")" = 4 ] ||
        fail "the forced restore did not run as it should: $(cat "$T/squat.out")"
    ipcrm -M "$key"
fi

# (c) shared memory: a checkpoint while the program writes on, SIGKILL a little later, restore:
# the image must hold the shared pages of the checkpoint's instant, not later ones
case $label in
sysv|shm)
    [ -n "${MEMKINDS_RESET:-}" ] && as_who $MEMKINDS_RESET
    run_under later "$@"
    ckpt
    sleep 0.3
    kill -KILL "$PID"
    gone "$PID"
    [ -s "$T/later.out" ] && fail "the program finished before it was killed"
    # a /dev/shm object lives in memory: gone after a reboot, made again from the image
    if [ "$label" = shm ]; then
        [ -f "$(cat "$W/shmname")" ] || fail "no /dev/shm object $(cat "$W/shmname") after the kill"
        rm -f "$(cat "$W/shmname")"
    fi
    as_who "$C" restore -q "$IMG" >"$T/restored2.out" 2>"$T/restored2.err"
    RC=$?
    [ "$RC" = 0 ] || fail "crsnap restore of the live checkpoint exited $RC"
    same "$T/restored2.out" "$T/expected.out"
    ;;
esac
echo "$label ($who): live and restored runs pass their own checks"
