#!/bin/sh
# A checkpoint that races the program's exit publishes nothing: the snapshot child reads the
# process's pid and name from /proc of its parent, and once the parent is gone that names
# another process (the reaper, often pid 1). Test hooks hold the child back before it reads
# them (CRSNAP_TEST_FDS_DELAY_MS) or slow its writes (CRSNAP_TEST_WRITE_DELAY_MS); the program
# ends meanwhile. Every image left in the directory is of the program, the earlier image and
# `latest` are intact, and no temporary file is left.
# usage: run_exit_race.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1

# children PID: the pids of PID's children (the snapshot child, while it writes).
children() { cat /proc/"$1"/task/*/children 2>/dev/null; }

# race NAME HOOK=VALUE: one good image, then a checkpoint whose child is still at work when
# the program is killed.
race() {
    d="$T/$1"
    env "$2" "$CRSNAP_BIN" run -d "$d" "$PROBE" sleep 60 >"$T/prog.out" 2>"$T/prog.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
    kill -USR1 $pid
    wait_count "$d" 1
    first=$(ls "$d" | grep '^ckpt-.*\.crsnap$')
    n=100
    while [ -n "$(children $pid)" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
    kill -USR1 $pid
    n=200
    while [ -z "$(children $pid)" ] && [ $n -gt 0 ]; do sleep 0.01; n=$((n - 1)); done
    kid=$(children $pid)
    [ -n "$kid" ] || fail "$1: no snapshot child seen"
    kill -KILL $pid
    wait $pid 2>/dev/null
    # the orphaned child finishes (or fails) on its own; where nothing reaps orphans it stays
    # a zombie, which is finished too. A sanitized child on a loaded machine takes a while.
    n=1200
    for k in $kid; do
        while [ -e "/proc/$k" ] && [ "$(cut -d' ' -f3 "/proc/$k/stat" 2>/dev/null)" != Z ] &&
              [ $n -gt 0 ]; do
            sleep 0.05; n=$((n - 1))
        done
    done
    for f in "$d"/ckpt-*.crsnap; do
        "$CRSNAP_BIN" info "$f" >"$T/info" 2>"$T/err" || fail "$1: crsnap info $f failed"
        grep -q "pid $pid," "$T/info" ||
            fail "$1: $f is not an image of the program (pid $pid): $(grep '^program' "$T/info")"
    done
    [ "$(count "$d")" = 1 ] || fail "$1: images of an ended process were published: $(ls "$d")"
    [ "$(readlink "$d/latest")" = "$first" ] || fail "$1: latest is $(readlink "$d/latest"), not $first"
    [ -z "$(ls -A "$d" | grep -v -e '^ckpt-.*\.crsnap$' -e '^latest$')" ] ||
        fail "$1: leftovers in $d: $(ls -A "$d")"
}

race before-reading CRSNAP_TEST_FDS_DELAY_MS=500
race while-writing CRSNAP_TEST_WRITE_DELAY_MS=100
echo ok
