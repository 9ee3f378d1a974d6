#!/bin/sh
# tests/runtime/restart.sh RT_PROG - the restart side of the runtime: `rt_prog restart`
# checkpoints and exits; `crsnap restore` brings it back, and the restored program checks that
# its crs_checkpoint() returned CRS_RESTART, that every handler saw RESTART, and that it runs
# and checkpoints on. Its exit status is the test's (77 = skipped).
set -u
prog=$1
"$prog" restart || exit $?
img=$(ls "$CRSNAP_DIR"/ckpt-000001.crsnap) || exit 1
"$CRSNAP_BIN" restore "$img"
rc=$?
[ $rc -eq 0 ] || echo "restore of $img ended with status $rc" >&2
[ -f "$CRSNAP_DIR/ckpt-000002.crsnap" ] || { echo "no checkpoint after the restart" >&2; exit 1; }
exit $rc
