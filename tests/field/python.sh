#!/bin/sh
# Python 3 (the system's, unmodified): threads, a large dict, a generator and a file being read,
# checkpointed halfway through the file, killed and restored.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
SCRIPT=$(cd "$(dirname "$0")" && pwd)/mix.py
seq 1 600000 | awk '{ print "key" ($1 * 7919 % 100003) }' >"$T/input"
reference "$python3" "$SCRIPT" 400000 "$T/input"
start "$python3" "$SCRIPT" 400000 "$T/input"
wait_grep "progress: line 60000" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "python: restored output matches"
