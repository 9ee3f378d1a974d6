#!/bin/sh
# tests/tools/signal_values.sh - `crsnap run -s X` and CRSNAP_SIGNAL=X (read by the library
# in the program) accept and refuse exactly the same values: one parser serves both. The same
# for -i and CRSNAP_INTERVAL, -k and CRSNAP_KEEP.
# Usage: signal_values.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1
: "${CRSNAP_LIB:?CRSNAP_LIB is not set}"
export CRSNAP_DIR="$T/img"

# by_option OPT X: "yes" if `crsnap run OPT X` starts the program, "no" if it refuses X
# (status 2, saying why)
by_option() {
    "$CRSNAP_BIN" run "$1" "$2" "$PROBE" exit 0 >"$T/out" 2>"$T/err"
    case $? in
    0) echo yes ;;
    2) grep -q "crsnap run: $1" "$T/err" && echo no || echo "status 2 ($(cat "$T/err"))" ;;
    *) echo "status $? ($(cat "$T/err"))" ;;
    esac
}

# by_env VAR X: "yes" if the library preloaded with VAR=X starts, "no" if it refuses X
by_env() {
    env "$1=$2" LD_PRELOAD="$CRSNAP_LIB" "$PROBE" exit 0 >"$T/out" 2>"$T/err" ||
        { echo "status $? ($(cat "$T/err"))"; return; }
    grep -q "invalid $1" "$T/err" && echo no || echo yes
}

# check OPT VAR X WANT: both say WANT (yes or no) for X
check() {
    o=$(by_option "$1" "$3")
    e=$(by_env "$2" "$3")
    [ "$o" = "$e" ] || fail "'$3': crsnap run $1 says $o, $2 says $e"
    [ "$o" = "$4" ] || fail "'$3': accepted by $1 and $2 is $o, expected $4"
}

for v in USR1 usr2 SIGUSR1 sigusr2 10 12 none NONE HUP INT TERM SIGTERM CHLD WINCH 1 31 SYS \
         RTMIN RTMIN+1 SIGRTMIN+2 rtmin+3 RTMAX RTMAX-1 RTMAX-3 RTMIN+30 RTMAX-30 34 64; do
    check -s CRSNAP_SIGNAL "$v" yes
done
for v in 0 KILL SIGKILL 9 STOP 19 SEGV SIGSEGV 11 BUS FPE ILL TRAP ABRT 6 32 33 65 99 -3 \
         RTMAX-2 RTMIN+28 62 RTMIN+31 RTMAX-31 RTMIN-1 RTMAX+1 RTMIN+x RTMIN+ SIG10 " 10" \
         "10 " "USR1 " 1e1 0x0a BOGUS SIG "" 00010 RTMIN+00001; do
    check -s CRSNAP_SIGNAL "$v" no
done
# the interval and the number of images kept, likewise
for v in 0 1 1.5 0.001 1e8 " 2" "2 " 600; do check -i CRSNAP_INTERVAL "$v" yes; done
for v in x -1 1e99 nan inf "" 3s 0.0001 1e9; do check -i CRSNAP_INTERVAL "$v" no; done
for v in 0 1 3 1000000 " 4" "4 "; do check -k CRSNAP_KEEP "$v" yes; done
for v in -2 x 1.5 "" 1000001 3k; do check -k CRSNAP_KEEP "$v" no; done
echo "signal, interval and keep values: ok"
