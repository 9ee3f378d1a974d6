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

# ask REPLY STATUS [OPTION]: `crsnap checkpoint OPTION` (-w if not given) of a stand-in that
# answers REPLY must exit STATUS; its output is in $T/out and $T/err.
ask() {
    serve "$1"
    run_cmd "$2" "$CRSNAP_BIN" checkpoint ${3--w} $srv
    wait $srv
}

ask "ok 7 /images/ckpt-7.crsnap" 0
has "$T/requests" "request: checkpoint wait"
[ "$(cat "$T/out")" = "/images/ckpt-7.crsnap" ] || fail "-w printed '$(cat "$T/out")'"

ask "ok 0 -" 0 ""
[ "$(cat "$T/requests")" = "request: checkpoint" ] || fail "sent '$(cat "$T/requests")'"
[ -s "$T/out" ] && fail "without -w nothing is printed, got '$(cat "$T/out")'"

ask "ok 8 /images/with space/ckpt-8.crsnap" 0 --kill
has "$T/requests" "request: checkpoint kill"
[ "$(cat "$T/out")" = "/images/with space/ckpt-8.crsnap" ] || fail "--kill printed '$(cat "$T/out")'"

ask "error 28 no space left on device writing /images/ckpt-9.crsnap.tmp" 1
has "$T/err" "the checkpoint of process $srv failed: no space left on device writing /images/ckpt-9.crsnap.tmp"

ask "error 125 " 1
has "$T/err" "failed: Operation canceled"

ask "error 1 uid 65534 may not checkpoint this process" 4
has "$T/err" "process $srv refused the request: uid 65534 may not checkpoint this process"

# Refused before the request is even read (the send may fail; the reply is still there).
for i in 1 2 3; do
    ask "!error 13 permission denied" 4
    has "$T/err" "process $srv refused the request: permission denied"
done

ask "hello there" 1
has "$T/err" "malformed reply: hello there"

ask "ok seven" 1
has "$T/err" "malformed reply"

ask "-" 1
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
    ask "ok 1 $bad" 1
    has "$T/err" "process $srv sent an invalid image path"
    [ -s "$T/out" ] && fail "the invalid path was printed: $(cat "$T/out")"
done
ask "ok 1 $(printf '/img/\033[2Jx')" 1 --kill
has "$T/err" 'invalid image path: /img/\x1b[2Jx'

# A message with terminal escapes is shown escaped.
ask "$(printf 'error 5 disk \033[31mred\033[0m failed')" 1
has "$T/err" 'failed: disk \x1b[31mred\x1b[0m failed'
grep -q "$(printf '\033')" "$T/err" && fail "a raw escape reached stderr"
echo ok
