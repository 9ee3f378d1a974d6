#!/bin/sh
# A parent and three children (python3 and its ctypes, calling libc's shmget and shmat) adding
# to counters in a SysV shared memory segment the parent attached before forking. Checkpointed
# as a job, left to run on, every process killed, restored: the counters must end as in an
# uninterrupted run. 1: a segment made with IPC_PRIVATE, left behind by the killed job with
# newer contents: put back as it was, one segment for all four again. 2: a segment with a key,
# removed after the kill (as by a reboot): made again under its key, with its contents of the
# checkpoint's instant.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3 ipcrm
KEY=$((0x63720000 + $$ % 65536))
cleanup_sysv() { ipcrm -M "$KEY" 2>/dev/null; :; }
trap 'cleanup_sysv; cleanup' EXIT
cat >"$T/prog.py" <<'PY'
import ctypes, sys, counters
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
sid = libc.shmget(int(sys.argv[1]), 4096, 0o1000 | 0o600)   # IPC_CREAT
n = (ctypes.c_uint64 * 3).from_address(libc.shmat(sid, None, 0))
def add(c, k):
    n[c] += k
counters.run(add, lambda: list(n))
libc.shmctl(sid, 0, None)               # IPC_RMID
PY
for key in 0 "$KEY"; do
    reference "$python3" "$T/prog.py" "$key"
    rm -f "$T/run.err"
    start "$python3" "$T/prog.py" "$key"
    wait_grep "progress: started" "$T/run.err"
    checkpoint_job 4
    sleep 0.5                           # the counters go on in the segment
    kill_tree
    if [ "$key" != 0 ]; then
        ipcrm -M "$key" || fail "no segment with key $key to remove"
    fi
    restore
    same_output
    grep "warning" "$T/restored.err" | grep -q "changed since" &&
        fail "the restore warns about the job's own segment: $(cat "$T/restored.err")"
    echo "sysv key $key: one segment again, as it was at the checkpoint"
done
