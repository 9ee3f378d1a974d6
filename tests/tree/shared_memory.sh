#!/bin/sh
# A parent and three children (python3, unmodified: mmap and os.fork) sharing an anonymous
# MAP_SHARED page, each child adding to its own counter there as it counts: checkpointed as
# a job, every process killed, restored. The counters must end as in an uninterrupted run:
# the restored processes share the page again, and the page is of the same instant as each
# child's own count (neither a step lost nor one counted twice).
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
cat >"$T/prog.py" <<'PY'
import mmap, struct, counters
m = mmap.mmap(-1, 4096)            # MAP_SHARED | MAP_ANONYMOUS
counters.run(lambda c, k: struct.pack_into("Q", m, 8 * c, struct.unpack_from("Q", m, 8 * c)[0] + k),
             lambda: [struct.unpack_from("Q", m, 8 * c)[0] for c in range(3)])
PY
reference "$python3" "$T/prog.py"
start "$python3" "$T/prog.py"
wait_grep "progress: started" "$T/run.err"
checkpoint_job 4
kill_tree
restore
same_output
echo "shared memory: 4 processes share their counters again, of the checkpoint's instant"
