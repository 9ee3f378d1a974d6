# failures.sh MAPFILE - every check that comes before a restore changes anything: a damaged or
# truncated image, a missing, changed or truncated mapped file, a missing open file, another
# kernel or libc; each gets its one-line message and exit status 1, and the image still
# restores once the cause is gone (through forced re-executions, and from its directory).
RESTORE_CHECKS_ONLY=1
. "$(dirname "$0")/lib.sh"
prog=$1
head -c 300000 /dev/urandom >"$T/data"
"$prog" "$T/data" 600000 >"$T/expected.out" || fail "the uninterrupted run failed"
touch -r "$T/data" "$T/data.time"
start run "$prog" "$T/data" 600000 "$T/progress"
wait_for "$T/progress"
# --kill: the process exits as soon as its image is durable, so a slow checkpoint (a sanitized
# build on a loaded machine) cannot let it finish first
take_checkpoint "$PID" --kill
kill_now "$PID" run

# expect_fail WHAT TEXT ARGS...: restore fails with status 1, TEXT in its one-line message.
expect_fail() {
    what=$1; text=$2; shift 2
    restore fail "$@"
    [ "$RC" = 1 ] || fail "$what: crsnap restore exited $RC, expected 1"
    grep -qF -- "$text" "$T/fail.err" || fail "$what: no '$text' in: $(cat "$T/fail.err")"
    [ "$(grep -c . "$T/fail.err")" = 1 ] || fail "$what: more than one line: $(cat "$T/fail.err")"
    [ ! -s "$T/fail.out" ] || fail "$what: the program ran"
}

size=$(stat -c %s "$IMG")
cp "$IMG" "$T/damaged.crsnap"
printf 'XXXXXXXX' | dd of="$T/damaged.crsnap" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_fail "damaged image" "damaged" "$T/damaged.crsnap"
head -c $((size - 100)) "$IMG" >"$T/short.crsnap"
expect_fail "truncated image" "short.crsnap: " "$T/short.crsnap"
echo "not an image at all, but long enough to have a header and a trailer in it.............." \
    >"$T/text.crsnap"
expect_fail "not an image" "text.crsnap: " "$T/text.crsnap"
expect_fail "no image" "No such file" "$T/none.crsnap"
mkdir "$T/empty"
expect_fail "empty directory" "no complete image" "$T/empty"

CRSNAP_TEST_FAKE_RELEASE=0.0.1-other expect_fail "kernel" \
    "incompatible host: image taken on kernel $(uname -r), this is 0.0.1-other" "$IMG"
CRSNAP_TEST_FAKE_LIBC=1.0 expect_fail "libc" "incompatible host: image taken with glibc" "$IMG"
CRSNAP_TEST_FAKE_XFEATURES=0x3 expect_fail "xfeatures" "CPU state features (XCR0)" "$IMG"

touch -m -d '2001-02-03 04:05:06' "$T/data"
expect_fail "changed file" "$T/data changed since the checkpoint (size/mtime differ)" "$IMG"
mv "$T/data" "$T/data.away"
expect_fail "missing file" "$T/data is missing" "$IMG"
mv "$T/data.away" "$T/data"
# A mapped file cut short after the checkpoint: a touch past its new end would be SIGBUS (in
# the restorer itself, which writes the saved dirty page there), so even --force refuses, and
# the dry run says so first.
cp -p "$T/data" "$T/data.keep"
truncate -s 4096 "$T/data"
expect_fail "truncated file, dry run" \
    "$T/data is shorter than at the checkpoint (4096 bytes, was 300000)" -n "$IMG"
expect_fail "truncated file" "$T/data is shorter than at the checkpoint" "$IMG"
expect_fail "truncated file, --force" "$T/data is shorter than at the checkpoint" --force "$IMG"
mv "$T/data.keep" "$T/data"
# A FIFO at the mapped file's name: refused, never waited on, even with --force.
mv "$T/data" "$T/data.keep"
mkfifo "$T/data"
expect_fail "FIFO for a mapped file, dry run" "$T/data is no longer a regular file" -n "$IMG"
expect_fail "FIFO for a mapped file, --force" "$T/data is no longer a regular file" --force "$IMG"
rm "$T/data"
mv "$T/data.keep" "$T/data"
if [ -n "${CRSNAP_SANITIZED:-}" ]; then
    echo "failures: every check reported (restoring itself needs an unsanitized build)"
    exit 0
fi
restore forced --force "$IMG"       # same contents, new mtime: a warning, and it restores
[ "$RC" = 0 ] || fail "--force: crsnap restore exited $RC"
grep -qF "warning: $T/data changed" "$T/forced.err" || fail "--force: no warning"
same "$T/forced.out" "$T/expected.out"
touch -r "$T/data.time" "$T/data"

# The cause gone, the same image restores, from its directory, across three re-executions.
restore dry -n "$T/imgs"
[ "$RC" = 0 ] || fail "dry run exited $RC: $(cat "$T/dry.err")"
grep -qF "can be restored" "$T/dry.out" || fail "dry run said: $(cat "$T/dry.out")"
CRSNAP_TEST_FORCE_REEXEC=3 restore restored "$T/imgs"
[ "$RC" = 0 ] || fail "crsnap restore exited $RC"
same "$T/restored.out" "$T/expected.out"
echo "failures: every check reported, then restored"
