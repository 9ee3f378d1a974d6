#!/bin/sh
# Java (OpenJDK's java and javac, unmodified): a thread pool, a large heap, the JVM's own
# threads (JIT, GC, signal dispatcher), checkpointed partway through, killed and restored.
# The JVM keeps its performance counters in a shared mapping of /tmp/hsperfdata_USER/PID, which
# it goes on updating after the checkpoint: a writable shared mapping, so the restore only warns.
. "$(dirname "$0")/lib.sh"
need java javac
"$javac" -d "$T" "$(dirname "$0")/Field.java" || fail "javac failed"
reference "$java" -Xmx256m -cp "$T" Field 600000
start "$java" -Xmx256m -cp "$T" Field 600000
wait_grep "progress: 1200000$" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "java: restored output matches"
