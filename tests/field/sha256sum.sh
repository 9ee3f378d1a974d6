#!/bin/sh
# sha256sum (coreutils, unmodified) hashing a large file: it reads the file as fast as the disk
# cache gives it, so the file offset that the image records must be the one that goes with the
# memory of the same instant. Checkpointed partway through, killed and restored.
. "$(dirname "$0")/lib.sh"
need sha256sum
head -c 100000000 /dev/zero | tr '\0' 'x' >"$T/a"
for i in 1 2 3 4 5 6; do cat "$T/a"; echo "$i"; done >"$T/input"
rm -f "$T/a"
reference "$sha256sum" "$T/input"
start "$sha256sum" "$T/input"
wait_cpu 30
checkpoint
kill_now
restore
same_output
echo "sha256sum: restored output matches"
