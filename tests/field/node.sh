#!/bin/sh
# Node.js (unmodified): libuv's event loop on epoll and eventfd, its worker threads, timers,
# promises and file reads, checkpointed partway through, killed and restored.
. "$(dirname "$0")/lib.sh"
need node
SCRIPT=$(cd "$(dirname "$0")" && pwd)/node.js
seq 1 5000 >"$T/input"
reference "$node" "$SCRIPT" 1500 "$T/input"
start "$node" "$SCRIPT" 1500 "$T/input"
wait_grep "progress: 150$" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "node: restored output matches"
