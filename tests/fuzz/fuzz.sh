#!/bin/sh
# tests/fuzz/fuzz.sh - makes seed images (a program under `crsnap run` that holds every kind of
# section, checkpointed; and the image tests' hand-made image) and runs the image fuzzer on them.
#   fuzz.sh SEED_PROG IMAGE_MAKE FUZZ_IMAGE
# Environment: FUZZ_ITERATIONS (default 200), FUZZ_SEED (default 1), FUZZ_TIMEOUT (seconds per
# command, default 10), FUZZ_STRICT=1 for --strict-text, FUZZ_KEEP=DIR to keep the seed images
# (and the files they refer to) for reproducing a failure by hand. Failing mutants go to
# $CRSNAP_TEST_TMP/fuzz-failures. A long run by hand is described in fuzz_image.c.
set -u
SEED_PROG=$1 IMAGE_MAKE=$2 FUZZ=$3
: "${CRSNAP_BIN:?CRSNAP_BIN is not set}"
: "${CRSNAP_TEST_TMP:?CRSNAP_TEST_TMP is not set}"
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
T=${FUZZ_KEEP:-$CRSNAP_TEST_TMP/fuzz-$$}
OUT=$CRSNAP_TEST_TMP/fuzz-failures
rm -rf "$T" && mkdir -p "$T/imgs" "$T/data" "$T/seeds" "$OUT" || exit 1
export CRSNAP_SOCKET_DIR="$T/sock"
mkdir -m 700 "$T/sock"
PID=
cleanup() {
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
    [ -n "${FUZZ_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. a real image: the seed program, checkpointed under crsnap run
"$CRSNAP_BIN" run -d "$T/imgs" -- "$SEED_PROG" "$T/data" "$T/ready" </dev/null >/dev/null \
    2>"$T/prog.err" &
PID=$!
n=200
while [ ! -e "$T/ready" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ -e "$T/ready" ] || fail "the seed program did not start: $(cat "$T/prog.err")"
IMG=$("$CRSNAP_BIN" checkpoint -w "$PID" 2>"$T/ckpt.err") || fail "checkpoint: $(cat "$T/ckpt.err")"
kill -KILL "$PID"
wait "$PID" 2>/dev/null
PID=
cp "$IMG" "$T/seeds/real.crsnap" || exit 1
# 2. the image tests' own image: the test process, with a pipe's bytes and a file with no name
"$IMAGE_MAKE" "$T/data/ckpt-000001.crsnap" "$T/data" 1 || fail "image_make"
cp "$T/data/ckpt-000001.crsnap" "$T/seeds/made.crsnap" || exit 1

# The seeds must be sound, or the fuzzer would only ever mutate a refused image.
for s in "$T/seeds/real.crsnap" "$T/seeds/made.crsnap"; do
    "$CRSNAP_BIN" verify -q "$s" || fail "seed $s does not verify"
    "$CRSNAP_BIN" info --json "$s" >/dev/null || fail "seed $s: info fails"
done
# (Under the sanitizers the program's image holds the sanitizer's shadow, where the restorer
# has its own: there a dry run of it stops at the layout check, which is as it should be.)
if [ -z "${CRSNAP_SANITIZED:-}" ]; then
    "$CRSNAP_BIN" restore -n "$T/seeds/real.crsnap" >/dev/null 2>"$T/dry.err" ||
        fail "the real seed does not pass restore -n: $(cat "$T/dry.err")"
fi

strict=
[ "${FUZZ_STRICT:-}" = 1 ] && strict=--strict-text
"$FUZZ" --seed "${FUZZ_SEED:-1}" --iterations "${FUZZ_ITERATIONS:-200}" \
    --timeout "${FUZZ_TIMEOUT:-10}" --out "$OUT" $strict "$CRSNAP_BIN" \
    "$T/seeds/real.crsnap" "$T/seeds/made.crsnap"
