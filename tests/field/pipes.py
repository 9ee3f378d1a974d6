# For the field tests: plain Python, unaware of crsnap, passing work between threads through
# the kernel. A producer thread writes numbered lines into an os.pipe() and datagrams into a
# datagram socketpair as fast as they are taken, faster than the consumer (the main thread)
# takes them, so both are always full or nearly. The consumer checks that every line and every datagram arrives once, in
# order, and prints a digest: data lost or repeated across a checkpoint changes it.
#   python3 pipes.py COUNT
import hashlib
import os
import socket
import sys
import threading
import time

n = int(sys.argv[1])
r, w = os.pipe()
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)


def producer():
    with os.fdopen(w, "w", buffering=1) as out:
        for i in range(n):
            out.write("line %d\n" % i)
            a.send(b"datagram %d" % i)  # blocks while the consumer's queues are full
    a.send(b"end")


t = threading.Thread(target=producer)
t.start()
h = hashlib.sha256()
lines = os.fdopen(r, "r")
for i in range(n):
    line = lines.readline()
    if line != "line %d\n" % i:
        print("pipe: expected line %d, got %r" % (i, line))
        sys.exit(1)
    d = b.recv(100)
    if d != b"datagram %d" % i:
        print("socketpair: expected datagram %d, got %r" % (i, d))
        sys.exit(1)
    h.update(line.encode() + d)
    if i % 100 == 0:
        time.sleep(0.002)              # slower than the producer
    if i == n // 10:
        print("progress: %d" % i, file=sys.stderr, flush=True)
t.join()
print("end marker:", b.recv(100).decode())
print(h.hexdigest())
