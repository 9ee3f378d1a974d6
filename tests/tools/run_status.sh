#!/bin/sh
# `crsnap run` replaces itself with the program: the exit status and a death by signal reach
# the caller unchanged, the pid is the program's, and the environment configures the library.
# usage: run_status.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1

run_cmd 0 "$CRSNAP_BIN" run "$PROBE" exit 0
run_cmd 3 "$CRSNAP_BIN" run "$PROBE" exit 3
run_cmd 0 "$CRSNAP_BIN" run -- "$PROBE" exit 0
run_cmd 3 "$CRSNAP_BIN" run -i 0 -k 1 -- "$PROBE" exit 3

# Killed by SIGTERM: the shell reports 128+15.
run_cmd 143 "$CRSNAP_BIN" run "$PROBE" signal 15
run_cmd 130 "$CRSNAP_BIN" run "$PROBE" signal 2

# Signals sent to the pid that `crsnap run` had reach the program itself.
"$CRSNAP_BIN" run "$PROBE" sleep 20 >/dev/null 2>&1 &
p=$!
CLEANUP_PIDS=$p
sleep 0.5
kill -HUP $p
wait $p
st=$?
[ "$st" = 129 ] || fail "program under crsnap run got SIGHUP but exited $st, expected 129"

# Same pid: the program is the process the caller started.
"$CRSNAP_BIN" run "$PROBE" pid >"$T/pid" 2>"$T/err" &
p=$!
wait $p
[ "$(cat "$T/pid")" = "$p" ] || fail "program pid $(cat "$T/pid") is not crsnap run's pid $p"

# Arguments pass through untouched, options after PROGRAM included.
run_cmd 0 "$CRSNAP_BIN" run "$PROBE" args -d x -- "a b" ""
has "$T/out" "[args][-d][x][--][a b][]"

# The environment: library first in LD_PRELOAD, settings from the options.
LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 run_cmd 0 "$CRSNAP_BIN" run -d "$T/imgs" -i 2.5 -k 4 -s USR2 "$PROBE" env
lib=$(realpath "$CRSNAP_LIB")
has_line "$T/out" "LD_PRELOAD=$lib:/lib/x86_64-linux-gnu/libm.so.6"
has_line "$T/out" "CRSNAP_DIR=$T/imgs"
has_line "$T/out" "CRSNAP_INTERVAL=2.5"
has_line "$T/out" "CRSNAP_KEEP=4"
has_line "$T/out" "CRSNAP_SIGNAL=12"
[ -d "$T/imgs" ] || fail "crsnap run -d did not create the image directory"

# Defaults: trigger signal USR1; a relative -d becomes absolute; the library is not doubled.
cd "$T"
LD_PRELOAD="$lib" run_cmd 0 "$CRSNAP_BIN" run -d rel "$PROBE" env
has_line "$T/out" "LD_PRELOAD=$lib"
has_line "$T/out" "CRSNAP_DIR=$T/rel"
has_line "$T/out" "CRSNAP_SIGNAL=10"
has_line "$T/out" "CRSNAP_INTERVAL=(unset)"
run_cmd 0 "$CRSNAP_BIN" run -k 0 -s none "$PROBE" env
has_line "$T/out" "CRSNAP_KEEP=0"
has_line "$T/out" "CRSNAP_SIGNAL=none"
run_cmd 0 "$CRSNAP_BIN" run -s RTMIN+1 "$PROBE" env
has "$T/out" "CRSNAP_SIGNAL=$(( $(kill -l RTMIN 2>/dev/null || echo 34) + 1 ))"

# Found through PATH, like a shell would.
PATH="$(dirname "$PROBE"):$PATH" run_cmd 3 "$CRSNAP_BIN" run "$(basename "$PROBE")" exit 3
echo ok
