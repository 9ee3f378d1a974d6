#!/bin/sh
# GNU sort (unmodified) sorting a large file with a small buffer, so that it spills sorted runs
# into temporary files and merges them, on two threads; checkpointed partway through, killed,
# restored (-f: the temporary and output files changed after the checkpoint and are rewritten
# from the saved offsets); the sorted file must be the uninterrupted run's.
. "$(dirname "$0")/lib.sh"
need sort
seq 1 2500000 | awk '{ printf "%08x %d\n", ($1 * 2654435761) % 4294967296, $1 }' >"$T/input"
mkdir "$T/ref/tmp" "$T/run/tmp"
reference "$sort" --parallel=2 -S 8M -T tmp -o out "$T/input"
start "$sort" --parallel=2 -S 8M -T tmp -o out "$T/input"
wait_cpu 50
checkpoint
kill_now "$T/run/out"
restore -f
same "$T/run/out" "$T/ref/out"
echo "sort: restored output matches"
