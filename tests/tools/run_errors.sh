#!/bin/sh
# `crsnap run` refuses what it cannot do, before starting anything, with a clear message:
# bad options (2), a program that is not there (127) or not executable (126), a static binary
# that cannot be preloaded (2), a library that cannot be found (1).
# usage: run_errors.sh PROBE [STATIC_PROGRAM]
. "$(dirname "$0")/lib.sh"
PROBE=$1
STATIC=${2:-}

run_cmd 2 "$CRSNAP_BIN" run
has "$T/err" "no program given"
run_cmd 2 "$CRSNAP_BIN" run -d
has "$T/err" "needs a value"
run_cmd 2 "$CRSNAP_BIN" run -z "$PROBE" exit 0
has "$T/err" "unknown option '-z'"
for bad in x -1 1e99 nan inf "" 3s 0.0001; do
    run_cmd 2 "$CRSNAP_BIN" run -i "$bad" "$PROBE" exit 0
    has "$T/err" "-i wants seconds, 0.001 to 1e8 (0 = none)"
done
for bad in -2 x 1.5 ""; do
    run_cmd 2 "$CRSNAP_BIN" run -k "$bad" "$PROBE" exit 0
    has "$T/err" "-k wants a whole number"
done
for bad in KILL 9 STOP 0 65 FOO RTMIN+99 RTMIN-1 RTMAX+1 RTMAX-2 SIGSEGV ""; do
    run_cmd 2 "$CRSNAP_BIN" run -s "$bad" "$PROBE" exit 0
    has "$T/err" "is not a usable signal"
done
run_cmd 2 "$CRSNAP_BIN" run -d "" "$PROBE" exit 0
has "$T/err" "-d needs a directory name"
touch "$T/file"
run_cmd 2 "$CRSNAP_BIN" run -d "$T/file" "$PROBE" exit 0
has "$T/err" "is not a directory"

run_cmd 127 "$CRSNAP_BIN" run crsnap-no-such-program-here
has "$T/err" "crsnap-no-such-program-here: command not found"
run_cmd 127 "$CRSNAP_BIN" run "$T/nothing/here"
has "$T/err" "$T/nothing/here: No such file or directory"
printf 'not a program\n' >"$T/plain"
chmod 644 "$T/plain"
run_cmd 126 "$CRSNAP_BIN" run "$T/plain"
has "$T/err" "permission denied"
run_cmd 126 "$CRSNAP_BIN" run "$T"
has "$T/err" "is a directory"

# A set-user-ID program would silently run without the library.
cp "$PROBE" "$T/suid"
chown 65534 "$T/suid" 2>/dev/null && chmod 4755 "$T/suid" && [ "$(id -u)" != 65534 ] && {
    run_cmd 2 "$CRSNAP_BIN" run "$T/suid" exit 0
    has "$T/err" "$T/suid is set-user-ID or set-group-ID, so the loader ignores LD_PRELOAD"
}

CRSNAP_LIB="$T/missing.so" run_cmd 1 "$CRSNAP_BIN" run "$PROBE" exit 0
has "$T/err" "CRSNAP_LIB=$T/missing.so: no such library file"

if [ -n "$STATIC" ]; then
    run_cmd 2 "$CRSNAP_BIN" run "$STATIC"
    has "$T/err" "crsnap run: $STATIC is statically linked, so the library cannot be preloaded; link it with -lcrsnap and call crs_init() instead"
    # A script whose interpreter is static is refused the same way.
    printf '#!%s\n' "$STATIC" >"$T/script"
    chmod 755 "$T/script"
    run_cmd 2 "$CRSNAP_BIN" run "$T/script"
    has "$T/err" "is statically linked"
    # ...but a script for a dynamic interpreter runs.
    printf '#!/bin/sh\nexit 5\n' >"$T/script"
    run_cmd 5 "$CRSNAP_BIN" run "$T/script"
fi
echo ok
