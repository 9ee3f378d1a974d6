#!/bin/sh
# The communication layer example: its async handler closes the layer and drains the calls in
# flight, the application thread waits at the front of a call during the checkpoint and goes on
# after it (CONTINUE), its sync handler runs in it, and the result is the one of a run without
# a checkpoint. When `crsnap restore` exists, the run is also stopped right after its
# checkpoint and restored: RESTART in both handlers, then the same result.
# usage: example_comm_layer.sh COMM_LAYER
. "$(dirname "$0")/lib.sh"
EX=$1
RESULT="result: 200 calls, state 931dd3c4d6cac8d0"

run_cmd 0 "$EX" "$T/imgs"
has_line "$T/out" "layer: PREPARE: closed, 0 calls in flight, 1 caller waiting at the front"
has_line "$T/out" "layer: CONTINUE: reopened"
has "$T/out" "main: checkpoint returned CONTINUE; image $T/imgs/ckpt-"
grep -q "^app: call [0-9]* waited at the front of the layer during the checkpoint, then went on$" \
    "$T/out" || fail "the application thread did not wait at the front: $(cat "$T/out")"
has_line "$T/out" "app: its CRS_SYNC handler saw PREPARE CONTINUE"
has_line "$T/out" "$RESULT"
img=$(sed -n "s/^main: checkpoint returned CONTINUE; image //p" "$T/out")
[ -f "$img" ] || fail "the image $img does not exist"
# The thread waited before the layer reopened, and went on after it.
awk '/waited at the front/ { if (!reopened) exit 1 } /CONTINUE: reopened/ { reopened = 1 }' \
    "$T/out" || fail "the call went on before the layer reopened: $(cat "$T/out")"

restore_half_or_done RESTART
run_cmd 0 "$EX" "$T/imgs2" --exit-after-checkpoint
cp "$T/out" "$T/run2.out"
grep -q "^result" "$T/run2.out" && fail "the run went on after its checkpoint"
run_cmd 0 "$CRSNAP_BIN" restore "$T/imgs2"
# The restored process writes on the stdout it had (the file, reopened); also accept the
# restorer's own output in case the file was left behind.
cat "$T/run2.out" "$T/out" >"$T/all"
has_line "$T/all" "layer: RESTART: restored from an image; reconnecting to the peer"
has_line "$T/all" "main: checkpoint returned RESTART (restart 1)"
has_line "$T/all" "app: its CRS_SYNC handler saw PREPARE RESTART"
has_line "$T/all" "$RESULT"
echo ok
