#!/bin/sh
# A memfd shared three ways (python3, unmodified: os.memfd_create, mmap and os.fork): the
# parent only holds its descriptor, one child maps it and counts in it, the other counts in it
# through the descriptor alone (pread/pwrite). Checkpointed as a job, left to run on, every
# process killed, restored: the parent must read the counts of an uninterrupted run, through
# a memfd of the same name. One object again, not three copies. The same with a file that has
# no name (tempfile.TemporaryFile, O_TMPFILE in /tmp), which comes back as one such file.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
cat >"$T/prog.py" <<'PY'
import mmap, os, struct, sys, tempfile, counters
if sys.argv[1] == "memfd":
    fd = os.memfd_create("counters")
else:
    tmp = tempfile.TemporaryFile()
    fd = tmp.fileno()
os.ftruncate(fd, 4096)
mapped = []
def add(c, k):
    if c == 0:                          # maps it (the parent does not)
        if not mapped:
            mapped.append(mmap.mmap(fd, 4096))
        m = mapped[0]
        struct.pack_into("Q", m, 0, struct.unpack_from("Q", m, 0)[0] + k)
    else:                               # the descriptor alone
        os.pwrite(fd, struct.pack("Q", struct.unpack("Q", os.pread(fd, 8, 8))[0] + k), 8)
def read():
    link = os.readlink("/proc/self/fd/%d" % fd)
    if sys.argv[1] != "memfd":
        link = os.path.dirname(link) + (" (deleted)" if link.endswith("(deleted)") else "")
    return "%s %s" % (struct.unpack("QQ", os.pread(fd, 16, 0)), link)
counters.run(add, read, children=2)
PY
for kind in memfd tmpfile; do
    reference "$python3" "$T/prog.py" $kind
    rm -f "$T/run.err"
    start "$python3" "$T/prog.py" $kind
    wait_grep "progress: started" "$T/run.err"
    checkpoint_job 3
    sleep 0.5
    kill_tree
    restore
    same_output
    echo "$kind: held, mapped and written through a descriptor, one object again"
done
