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
import struct, counters
from multiprocessing import shared_memory
m = shared_memory.SharedMemory(create=True, size=4096)
b = m.buf
counters.run(lambda c, k: struct.pack_into("Q", b, 8 * c, struct.unpack_from("Q", b, 8 * c)[0] + k),
             lambda: [struct.unpack_from("Q", b, 8 * c)[0] for c in range(3)])
del b
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
