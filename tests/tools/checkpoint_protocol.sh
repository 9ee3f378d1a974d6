#!/bin/sh
# The client side of the control protocol, against a stand-in server: the request line sent for
# each option, the path printed with -w and --kill (and nothing without), and every kind of
# reply: an error, a refusal, a malformed line, a connection closed without a reply. And what
# the client does not believe: a server that is not the process asked for, an image path that
# is not absolute or holds control characters, terminal escapes in a message.
# usage: checkpoint_protocol.sh FAKE_CONTROL
. "$(dirname "$0")/lib.sh"
FAKE=$1

# serve REPLY [PID]: starts the stand-in for one connection (an impostor at PID's socket, with
# PID); sets $srv to its pid.
serve() {
    rm -f "$T/ready"
    "$FAKE" "$T/ready" 1 "$@" >"$T/requests" 2>&1 &
    srv=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $srv"
    wait_for "$T/ready"
}

serve "ok 7 /images/ckpt-7.crsnap"
run_cmd 0 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/requests" "request: checkpoint wait"
[ "$(cat "$T/out")" = "/images/ckpt-7.crsnap" ] || fail "-w printed '$(cat "$T/out")'"

serve "ok 0 -"
run_cmd 0 "$CRSNAP_BIN" checkpoint $srv
wait $srv
[ "$(cat "$T/requests")" = "request: checkpoint" ] || fail "sent '$(cat "$T/requests")'"
[ -s "$T/out" ] && fail "without -w nothing is printed, got '$(cat "$T/out")'"

serve "ok 8 /images/with space/ckpt-8.crsnap"
run_cmd 0 "$CRSNAP_BIN" checkpoint --kill $srv
wait $srv
has "$T/requests" "request: checkpoint kill"
[ "$(cat "$T/out")" = "/images/with space/ckpt-8.crsnap" ] || fail "--kill printed '$(cat "$T/out")'"

serve "error 28 no space left on device writing /images/ckpt-9.crsnap.tmp"
run_cmd 1 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/err" "the checkpoint of process $srv failed: no space left on device writing /images/ckpt-9.crsnap.tmp"

serve "error 125 "
run_cmd 1 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/err" "failed: Operation canceled"

serve "error 1 uid 65534 may not checkpoint this process"
run_cmd 4 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/err" "process $srv refused the request: uid 65534 may not checkpoint this process"

# Refused before the request is even read (the send may fail; the reply is still there).
for i in 1 2 3; do
    serve "!error 13 permission denied"
    run_cmd 4 "$CRSNAP_BIN" checkpoint -w $srv
    wait $srv
    has "$T/err" "process $srv refused the request: permission denied"
done

serve "hello there"
run_cmd 1 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/err" "malformed reply: hello there"

serve "ok seven"
run_cmd 1 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/err" "malformed reply"

serve "-"
run_cmd 1 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/err" "closed the connection without a reply"

# An impostor: a socket at the right place for a live process of ours, served by another
# process. Nothing is sent to it and nothing it says is printed.
sleep 60 &
victim=$!
CLEANUP_PIDS="$CLEANUP_PIDS $victim"
for opt in -w --kill ""; do
    serve "ok 9 /attacker/ckpt-000009.crsnap" $victim
    run_cmd 5 "$CRSNAP_BIN" checkpoint $opt $victim
    has "$T/err" "the control socket for $victim is served by pid $srv, not $victim"
    [ -s "$T/out" ] && fail "the impostor's path was printed: $(cat "$T/out")"
    wait $srv
    grep -q "request: checkpoint" "$T/requests" && fail "a request was sent to the impostor"
done
kill $victim

# Image paths that a script must not be handed.
for bad in "ckpt-1.crsnap" "$(printf '/img/\033]0;owned\007ckpt-1.crsnap')" \
           "$(printf '/img/a\rb.crsnap')"; do
    serve "ok 1 $bad"
    run_cmd 1 "$CRSNAP_BIN" checkpoint -w $srv
    wait $srv
    has "$T/err" "process $srv sent an invalid image path"
    [ -s "$T/out" ] && fail "the invalid path was printed: $(cat "$T/out")"
done
serve "ok 1 $(printf '/img/\033[2Jx')"
run_cmd 1 "$CRSNAP_BIN" checkpoint --kill $srv
wait $srv
has "$T/err" 'invalid image path: /img/\x1b[2Jx'

# A message with terminal escapes is shown escaped.
serve "$(printf 'error 5 disk \033[31mred\033[0m failed')"
run_cmd 1 "$CRSNAP_BIN" checkpoint -w $srv
wait $srv
has "$T/err" 'failed: disk \x1b[31mred\x1b[0m failed'
grep -q "$(printf '\033')" "$T/err" && fail "a raw escape reached stderr"
echo ok
