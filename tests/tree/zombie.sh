#!/bin/sh
# A parent that has not reaped its ended child yet (python3, unmodified os.fork): the job is
# checkpointed with the child a zombie, killed, restored; the restored parent reaps a child
# under the same pid with the same exit status, and one killed by a signal likewise.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
cat >"$T/prog.py" <<'PY'
import os, signal, sys, time
a = os.fork()
if a == 0:
    os._exit(7)
b = os.fork()
if b == 0:
    signal.pause()
    os._exit(0)
os.kill(b, signal.SIGTERM)
time.sleep(0.5)                # both have ended, neither is reaped
x = 0
for i in range(60):
    if i == 5:
        print("progress: 5", file=sys.stderr, flush=True)
    x = (x * 31 + i) % 1000003
    time.sleep(0.1)
pa, sa = os.waitpid(a, 0)
pb, sb = os.waitpid(b, 0)
print("x", x, "a", pa == a, os.WEXITSTATUS(sa) if os.WIFEXITED(sa) else "signal",
      "b", pb == b, os.WTERMSIG(sb) if os.WIFSIGNALED(sb) else "exit")
PY
reference "$python3" "$T/prog.py"
start "$python3" "$T/prog.py"
wait_grep "progress: 5" "$T/run.err"
checkpoint_job 3
"$CRSNAP_BIN" info "$IMG" >"$T/info.txt"
[ "$(grep -c "ended, exit status 7, not reaped\|ended, killed by signal 15, not reaped" "$T/info.txt")" = 2 ] ||
    fail "the image does not show the two ended children: $(cat "$T/info.txt")"
kill_tree
restore
same_output
echo "zombie: the restored parent reaps its ended children, same pids, same statuses"
