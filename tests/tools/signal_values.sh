#!/bin/sh
# tests/tools/signal_values.sh - `crsnap run -s X` and CRSNAP_SIGNAL=X (read by the library
# in the program) accept and refuse exactly the same values: one parser serves both.
# Usage: signal_values.sh PROBE
. "$(dirname "$0")/lib.sh"
PROBE=$1
: "${CRSNAP_LIB:?CRSNAP_LIB is not set}"
export CRSNAP_DIR="$T/img"

# by_option X: "yes" if `crsnap run -s X` starts the program, "no" if it refuses X (status 2)
by_option() {
    "$CRSNAP_BIN" run -s "$1" "$PROBE" exit 0 >"$T/out" 2>"$T/err"
    case $? in
    0) echo yes ;;
    2) grep -q "is not a usable signal" "$T/err" && echo no || echo "status 2 ($(cat "$T/err"))" ;;
    *) echo "status $? ($(cat "$T/err"))" ;;
    esac
}

# by_env X: "yes" if the library preloaded with CRSNAP_SIGNAL=X starts, "no" if it refuses X
by_env() {
    CRSNAP_SIGNAL="$1" LD_PRELOAD="$CRSNAP_LIB" "$PROBE" exit 0 >"$T/out" 2>"$T/err" ||
        { echo "status $? ($(cat "$T/err"))"; return; }
    grep -q "invalid CRSNAP_SIGNAL" "$T/err" && echo no || echo yes
}

# check X WANT: both say WANT (yes or no) for X
check() {
    o=$(by_option "$1")
    e=$(by_env "$1")
    [ "$o" = "$e" ] || fail "'$1': crsnap run -s says $o, CRSNAP_SIGNAL says $e"
    [ "$o" = "$2" ] || fail "'$1': accepted is $o, expected $2"
}

for v in USR1 usr2 SIGUSR1 sigusr2 10 12 none NONE HUP INT TERM SIGTERM CHLD WINCH 1 31 SYS \
         RTMIN RTMIN+1 SIGRTMIN+2 rtmin+3 RTMAX RTMAX-1 RTMAX-3 RTMIN+30 RTMAX-30 34 64; do
    check "$v" yes
done
for v in 0 KILL SIGKILL 9 STOP 19 SEGV SIGSEGV 11 BUS FPE ILL TRAP ABRT 6 32 33 65 99 -3 \
         RTMAX-2 RTMIN+28 62 RTMIN+31 RTMAX-31 RTMIN-1 RTMAX+1 RTMIN+x RTMIN+ SIG10 " 10" \
         "10 " "USR1 " 1e1 0x0a BOGUS SIG "" 00010 RTMIN+00001; do
    check "$v" no
done
echo "signal values: ok"
