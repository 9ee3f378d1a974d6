#!/bin/sh
# The client side of the control protocol, against a stand-in server: the request line sent for
# each option, the path printed with -w and --kill (and nothing without), and every kind of
# reply: an error, a refusal, a malformed line, a connection closed without a reply.
# usage: checkpoint_protocol.sh FAKE_CONTROL
. "$(dirname "$0")/lib.sh"
FAKE=$1

# serve REPLY: starts the stand-in for one connection; sets $srv to its pid.
serve() {
    rm -f "$T/ready"
    "$FAKE" "$T/ready" 1 "$1" >"$T/requests" 2>&1 &
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
echo ok
