#!/bin/sh
# A parent and three children (python3, unmodified: multiprocessing.shared_memory, a POSIX
# object in /dev/shm, and os.fork) adding to counters in the object. Checkpointed as a job, left
# to run on (so the object changes after the checkpoint), every process killed, restored: the
# counters must end as in an uninterrupted run. The object outlived the job with newer
# contents; the job's restore puts back its contents of the checkpoint's instant, which the
# processes' own state agrees with, and says nothing about it having changed.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
cat >"$T/prog.py" <<'PY'
import os, struct, sys, time
from multiprocessing import shared_memory
m = shared_memory.SharedMemory(create=True, size=4096)
kids = []
for c in range(3):
    pid = os.fork()
    if pid == 0:
        for k in range(1, 151):
            v = struct.unpack_from("Q", m.buf, 8 * c)[0]
            struct.pack_into("Q", m.buf, 8 * c, v + k)
            time.sleep(0.02)
        os._exit(0)
    kids.append(pid)
time.sleep(0.6)
print("progress: started", file=sys.stderr, flush=True)
for p in kids:
    os.waitpid(p, 0)
print([struct.unpack_from("Q", m.buf, 8 * c)[0] for c in range(3)])
m.close()
m.unlink()
PY
reference "$python3" "$T/prog.py"
start "$python3" "$T/prog.py"
wait_grep "progress: started" "$T/run.err"
checkpoint_job 5                        # the parent, its children, the resource tracker
sleep 0.5                               # the counters go on in the object
kill_tree
restore
same_output
grep "warning" "$T/restored.err" | grep -q "/dev/shm" &&
    fail "the restore warns about the job's own object: $(cat "$T/restored.err")"
echo "named shared memory: the object put back as it was, the counters end right"
