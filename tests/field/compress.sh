#!/bin/sh
# A compressor (gzip, xz or zstd; unmodified) compressing a large file into a file: the output
# file is being written at the checkpoint and after it, so the restore is forced (-f: the file
# changed since the checkpoint) and the restored process rewrites it from the saved offset. The
# compressed file must be the uninterrupted run's, byte for byte.
# usage: compress.sh gzip|xz|zstd     (xz on two threads)
. "$(dirname "$0")/lib.sh"
need "$1"
PROG=$(command -v "$1")
case "$1" in
gzip) set -- -6; lines=1500000 ;;
xz) set -- -2 -T2 --block-size=1MiB; lines=800000 ;;
zstd) set -- -q -12 --single-thread; lines=1500000 ;;
esac
# compressible but not trivially: numbers and words
seq 1 $lines | awk '{ print $1, $1 * 7 % 1009, "w" ($1 % 97) }' >"$T/input"
(cd "$T/ref" && "$PROG" "$@" -c <"$T/input" >out) || fail "the uninterrupted run failed"
start sh -c "exec \"\$0\" \"\$@\" -c <\"$T/input\" >out" "$PROG" "$@"
wait_size "$T/run/out" 300000
checkpoint
kill_now
[ "$(stat -c %s "$T/run/out")" -lt "$(stat -c %s "$T/ref/out")" ] ||
    fail "the program finished before it was killed (make it longer)"
restore -f
same "$T/run/out" "$T/ref/out"
echo "$PROG: restored output matches"
