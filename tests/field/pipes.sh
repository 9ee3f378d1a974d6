#!/bin/sh
# Python 3 (unmodified) passing lines through an os.pipe() and datagrams through a datagram
# socketpair between two threads, both always holding data waiting; checkpointed, killed and
# restored: every line and datagram must arrive once, in order, across the restore.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
SCRIPT=$(cd "$(dirname "$0")" && pwd)/pipes.py
reference "$python3" "$SCRIPT" 100000
start "$python3" "$SCRIPT" 100000
wait_grep "progress: 10000" "$T/run.err"
checkpoint
kill_now
"$CRSNAP_BIN" info "$IMG" >"$T/info.txt" 2>&1
grep -q "bytes waiting" "$T/info.txt" || fail "nothing was waiting in the pipe or the socketpair"
restore
same_output
echo "python pipes: every line and datagram arrived once, in order, across the restore"
