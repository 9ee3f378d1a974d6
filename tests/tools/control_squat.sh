#!/bin/sh
# Another user squats the default control socket directory of U1, /tmp/crsnap-UID, before U1's
# program starts: as a directory open to all (mode 0777), as a symbolic link to a directory of
# the attacker's, or to a private directory of U1's. The library says which path is wrong and
# why and runs without a control socket; the attacker binds an impostor socket at the expected
# path; `crsnap checkpoint -w` refuses the directory with the same reason (exit 5), prints
# nothing and sends nothing. U1's own directory left open is made private and used. With
# $XDG_RUNTIME_DIR, the socket goes to $XDG_RUNTIME_DIR/crsnap when that is U1's private
# directory (the client finds it from the process's environment), and to /tmp otherwise.
# Runs as two unprivileged users; needs root to make them (skips otherwise).
# usage: control_squat.sh PROBE FAKE_CONTROL
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/unpriv.sh"
PROBE=$1
FAKE=$2
unpriv_setup "$PROBE" "$FAKE"
PROBE_U=$U_DIR/$(basename "$PROBE")
FAKE_U=$U_DIR/$(basename "$FAKE")
uid1=$(id -u "$U1")
uid2=$(id -u "$U2")
# The default path is global on this machine: one left by an earlier run goes, and this one
# goes at the end.
SQ=/tmp/crsnap-$uid1
rm -rf "$SQ"
trap 'rm -rf "$SQ"; unpriv_cleanup; cleanup' EXIT
W1=$U_DIR/u1
W2=$U_DIR/u2
mkdir "$W1" "$W2" && chown "$U1" "$W1" && chown "$U2" "$W2" || exit 1
unset CRSNAP_SOCKET_DIR XDG_RUNTIME_DIR
U_ENV=""

# wait_pidfile FILE: waits until FILE holds a pid; prints it.
wait_pidfile() {
    n=100
    while [ ! -s "$1" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ -s "$1" ] || fail "timed out waiting for $1"
    cat "$1"
}

# start_u1: U1's program under `crsnap run` with $U_ENV as its only settings; sets $pid.
start_u1() {
    rm -f "$W1/pid"
    as_user "$U1" sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$W1/pid" \
        "$U_CRSNAP" run -d "$W1/imgs" "$PROBE_U" sleep 60 >/dev/null 2>"$T/u1.err" &
    CLEANUP_PIDS="$CLEANUP_PIDS $!"
    pid=$(wait_pidfile "$W1/pid")
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
}

# impostor DIR: U2 serves a fake control socket for U1's $pid in DIR; sets $fake.
impostor() {
    rm -f "$W2/ready"
    as_user "$U2" env CRSNAP_SOCKET_DIR="$1" "$FAKE_U" "$W2/ready" 1 \
        "ok 1 /tmp/evil/ckpt-000001.crsnap" "$pid" >"$T/fake.out" 2>&1 &
    CLEANUP_PIDS="$CLEANUP_PIDS $!"
    fake=$(wait_pidfile "$W2/ready")
    CLEANUP_PIDS="$CLEANUP_PIDS $fake"
    [ -S "$1/$pid.sock" ] || fail "no impostor socket at $1/$pid.sock (premise)"
}

# wait_text FILE TEXT: waits until FILE has TEXT.
wait_text() {
    n=100
    while ! grep -qF -- "$2" "$1" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    has "$1" "$2"
}

# refused REASON: U1's `crsnap checkpoint -w $pid` refuses the directory for REASON, prints
# nothing, and the impostor heard nothing.
refused() {
    run_cmd 5 as_user "$U1" "$U_CRSNAP" checkpoint -w "$pid"
    has "$T/err" "refusing the control socket directory: $1"
    [ -s "$T/out" ] && fail "checkpoint -w printed '$(cat "$T/out")' from a squatted directory"
    grep -q "request:" "$T/fake.out" && fail "the client sent a request to the impostor"
    return 0
}

# 1. A directory open to all, made by U2.
as_user "$U2" mkdir -m 777 "$SQ" || fail "U2 cannot create $SQ"
start_u1
why="$SQ is owned by uid $uid2, not you: remove it or set XDG_RUNTIME_DIR"
wait_text "$T/u1.err" "running without a control socket"
has "$T/u1.err" "control socket directory: $why"
impostor "$SQ"
refused "$why"
kill "$fake" "$pid"
rm -rf "$SQ"

# 2. A symbolic link to a directory of U2's, and to a private one of U1's.
as_user "$U2" mkdir -m 777 "$W2/trap"
as_user "$U1" mkdir -m 700 "$W1/private"
for target in "$W2/trap" "$W1/private"; do
    as_user "$U2" ln -s "$target" "$SQ" || fail "U2 cannot create the link $SQ"
    start_u1
    why="$SQ is a symbolic link, not a directory: remove it or set XDG_RUNTIME_DIR"
    wait_text "$T/u1.err" "running without a control socket"
    has "$T/u1.err" "control socket directory: $why"
    [ -z "$(ls -A "$target")" ] || fail "the program made $(ls -A "$target") in $target"
    if [ "$target" = "$W2/trap" ]; then
        impostor "$SQ"
        refused "$why"
        kill "$fake"
    else
        : >"$T/fake.out"
        refused "$why"
    fi
    kill "$pid"
    rm -f "$SQ"
done

# 3. U1's own directory, left open to others: made private, and used.
as_user "$U1" mkdir -m 777 "$SQ"
start_u1
wait_for "$SQ/$pid.sock"
[ "$(stat -c %a "$SQ")" = 700 ] || fail "$SQ is mode $(stat -c %a "$SQ"), expected 700"
run_cmd 0 as_user "$U1" "$U_CRSNAP" checkpoint -w "$pid"
case "$(cat "$T/out")" in "$W1/imgs/"*) ;; *) fail "checkpoint -w printed '$(cat "$T/out")'" ;; esac
kill "$pid"

# 4. XDG_RUNTIME_DIR: U1's private one is used; the client, without it, finds the socket from
# the process's environment. Another user's is not, nor one open to others: /tmp then.
as_user "$U1" mkdir -m 700 "$W1/xdg"
U_ENV="XDG_RUNTIME_DIR=$W1/xdg"
start_u1
wait_for "$W1/xdg/crsnap/$pid.sock"
[ "$(stat -c %a "$W1/xdg/crsnap")" = 700 ] || fail "$W1/xdg/crsnap is not mode 700"
run_cmd 0 as_user "$U1" "$U_CRSNAP" checkpoint -w "$pid"
U_ENV=""
run_cmd 0 as_user "$U1" "$U_CRSNAP" checkpoint -w "$pid"
[ -f "$(cat "$T/out")" ] || fail "checkpoint -w without XDG_RUNTIME_DIR printed '$(cat "$T/out")'"
kill "$pid"
as_user "$U2" mkdir -m 700 "$W2/xdg"
as_user "$U1" mkdir -m 755 "$W1/xdg-open"
for xdg in "$W2/xdg" "$W1/xdg-open"; do
    U_ENV="XDG_RUNTIME_DIR=$xdg"
    start_u1
    wait_for "$SQ/$pid.sock"
    U_ENV=""
    [ -e "$xdg/crsnap" ] && fail "the program used $xdg, which is not U1's private directory"
    run_cmd 0 as_user "$U1" "$U_CRSNAP" checkpoint -w "$pid"
    kill "$pid"
done
echo ok
