#!/bin/sh
# python3 multiprocessing.Pool (unmodified, fork start method) mid-map: a parent with its
# pool threads, four worker processes, the pipes between them and their locks (semaphores in
# shared memory). Checkpointed as a job, every process killed, restored: the map finishes with
# the uninterrupted run's result, and the pool shuts down.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
cat >"$T/prog.py" <<'PY'
import multiprocessing as mp, sys, time

def work(i):
    time.sleep(0.05)
    return (i * i * 7919) % 1000003

if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(4) as pool:
        out = []
        for n, r in enumerate(pool.imap(work, range(240), chunksize=2)):
            out.append(r)
            if n == 20:
                print("progress: 20", file=sys.stderr, flush=True)
    print(len(out), sum(out), out[:5], out[-5:])
PY
reference "$python3" "$T/prog.py"
start "$python3" "$T/prog.py"
wait_grep "progress: 20" "$T/run.err"
checkpoint_job 5
kill_tree
restore
same_output
echo "pool: multiprocessing.Pool restored mid-map with its $(members) processes, same result"
