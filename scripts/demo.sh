#!/bin/sh
# The README's demo: an unmodified Python program computing a long SHA-256 hash chain runs under
# `crsnap run`, is checkpointed twice (the second image holds only what changed since the first),
# killed, and restored from the newest image and its parent; the restored process
# finishes with the same answer as an uninterrupted run. Builds nothing: run it after the
# README's build command. Exits non-zero if any step fails.
#   usage: scripts/demo.sh [BUILD_DIR]     (default: build)
#   CRSNAP_DEMO_ROUNDS sets the length of the computation (default 30000000, some 15 s).
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in
/*) CRSNAP=$BUILD/tools/crsnap ;;
*) CRSNAP=$(pwd)/$BUILD/tools/crsnap ;;
esac
ROUNDS=${CRSNAP_DEMO_ROUNDS:-30000000}

[ -x "$CRSNAP" ] || { echo "demo: $CRSNAP not found; build first (see README.md)" >&2; exit 1; }
# The system's Python (an ordinary, unmodified dynamic program), else the first in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || { echo "demo: python3 is needed (scripts/deps.sh installs it)" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/crsnap-demo.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The demo's control sockets live in its scratch directory: the one of the process it kills
# would otherwise stay behind in /tmp/crsnap-UID.
export CRSNAP_SOCKET_DIR="$W/sock"

step() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
die() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }

# wait_progress LOG PERCENT: waits until LOG reports at least PERCENT done.
wait_progress() {
    while :; do
        pct=$(sed -n 's/^progress: *\([0-9]*\)%.*/\1/p' "$1" | tail -n 1)
        [ -n "$pct" ] && [ "$pct" -ge "$2" ] && return 0
        kill -0 "$3" 2>/dev/null || die "the program ended before reaching $2%: $(cat "$1")"
        sleep 0.2
    done
}

cat >"$W/chain.py" <<'EOF'
# A hash chain: each round hashes the previous digest. Deterministic, CPU-bound, no I/O but
# its progress lines, and long enough to be interrupted.
import hashlib, sys
rounds = int(sys.argv[1])
h = b"crsnap demo"
step = rounds // 10
for i in range(1, rounds + 1):
    h = hashlib.sha256(h).digest()
    if i % step == 0:
        print(f"progress: {100 * i // rounds:3d}%  round {i}  {h.hex()[:16]}", flush=True)
print(f"answer: {h.hex()}", flush=True)
EOF

step "Reference: the same computation without crsnap (in the background)"
"$PY" "$W/chain.py" "$ROUNDS" >"$W/reference.log" 2>&1 </dev/null &
REF=$!
PIDS="$REF"
echo "$PY chain.py $ROUNDS, pid $REF"

step "Start the program under crsnap: 'crsnap run -d DIR $PY chain.py $ROUNDS'"
"$CRSNAP" run -d "$W/images" "$PY" "$W/chain.py" "$ROUNDS" >>"$W/run.log" 2>&1 </dev/null &
PID=$!
PIDS="$PIDS $PID"
echo "running as pid $PID, output in run.log"
wait_progress "$W/run.log" 20 "$PID"
cat "$W/run.log"

step "Checkpoint it while it runs: 'crsnap checkpoint -w $PID'"
IMG=$("$CRSNAP" checkpoint -w "$PID") || die "crsnap checkpoint failed"
echo "$IMG"
[ -f "$IMG" ] || die "the image $IMG does not exist"

step "Let it run a little, and checkpoint it again: this image holds only what changed"
wait_progress "$W/run.log" 30 "$PID"
IMG2=$("$CRSNAP" checkpoint -w "$PID") || die "the second crsnap checkpoint failed"
echo "$IMG2"
"$CRSNAP" info "$IMG2" | grep -q "^parent: *$(basename "$IMG")" ||
    die "the second image is not incremental on the first"

step "The image directory and the newest image (with its parent)"
show "$CRSNAP" ls "$W/images" || die "crsnap ls failed"
show "$CRSNAP" info "$IMG2" || die "crsnap info failed"
show "$CRSNAP" verify "$IMG2" || die "crsnap verify failed"

step "Let it run a little more, then kill it as a crash would (kill -9)"
wait_progress "$W/run.log" 40 "$PID"
kill -KILL "$PID"
wait "$PID" 2>/dev/null || true
cat "$W/run.log"
grep -q '^answer' "$W/run.log" && die "the program finished before it could be killed; raise CRSNAP_DEMO_ROUNDS"

step "Restore it from the newest image: 'crsnap restore $W/images'"
echo "(crsnap restore warns that run.log changed: the program went on writing to it after the"
echo " checkpoint. The restored process goes on from the checkpoint, so it redoes the rounds"
echo " between the checkpoint and the kill, and appends to the same log.)"
echo "-- restored process output --" >>"$W/run.log"
"$CRSNAP" restore "$W/images" </dev/null || die "crsnap restore failed (exit $?)"
sed -n '/^-- restored process output --$/,$p' "$W/run.log"

step "Compare with the uninterrupted run"
wait "$REF" || die "the reference run failed"
want=$(grep '^answer' "$W/reference.log") || die "the reference run printed no answer"
got=$(sed -n '/^-- restored process output --$/,$p' "$W/run.log" | grep '^answer') ||
    die "the restored process printed no answer"
echo "uninterrupted: $want"
echo "restored:      $got"
[ "$want" = "$got" ] || die "the answers differ"
printf '\ndemo: OK, the restored process finished with the same answer\n'
