"""tests/tree/counters.py - the program shape the shared-memory job tests share: children each
add 1..150 to a counter of their own, a step every 20 ms, in memory that the test shares among
them in its own way; the parent says "progress: started", waits for them, and prints what the
memory holds. An uninterrupted run prints the sums (11325 each); a restore that lost the
sharing or the instant prints something else.

run(add, read, children=3): add(child, k) adds k to the child's counter, in the child; read()
is what the parent prints at the end.
"""
import os
import sys
import time


def run(add, read, children=3):
    kids = []
    for c in range(children):
        pid = os.fork()
        if pid == 0:
            for k in range(1, 151):
                add(c, k)
                time.sleep(0.02)
            os._exit(0)
        kids.append(pid)
    time.sleep(0.6)
    print("progress: started", file=sys.stderr, flush=True)
    for p in kids:
        os.waitpid(p, 0)
    print(read())
