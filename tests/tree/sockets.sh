#!/bin/sh
# Four python3 processes (unmodified: multiprocessing and socket) talking over unix sockets, each
# with requests and answers always in flight: a worker on a duplex multiprocessing.Pipe (a
# socket pair, both of whose ends the worker also inherited), a server on a listening unix
# socket with the parent connected to it, and an echo process on a datagram socket pair.
# Checkpointed as a job, every process killed, restored: every answer must arrive once, in
# order, as in an uninterrupted run. The connections are joined again with the bytes and
# datagrams waiting in each direction, and the restore does not call them lost.
. "$(dirname "$0")/lib.sh"
need /usr/bin/python3
cat >"$T/prog.py" <<'PY'
import multiprocessing as mp, os, socket, sys, time
N, AHEAD = 500, 8
path = sys.argv[1]

def worker(conn):
    while True:
        n = conn.recv()
        if n is None:
            return
        time.sleep(0.004)
        conn.send((n, n * n % 1000003))

here, there = mp.Pipe()                 # duplex: a socket pair
w = mp.get_context("fork").Process(target=worker, args=(there,))
w.start()
there.close()

ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(path)
ls.listen(1)
server = os.fork()
if server == 0:
    c, _ = ls.accept()
    for line in c.makefile("r"):
        time.sleep(0.004)
        n = int(line)
        c.sendall(b"%d %d\n" % (n, n * 7919 % 65537))
    os._exit(0)
ls.close()
cl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cl.connect(path)
answers = cl.makefile("r")

d_here, d_there = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
echo = os.fork()
if echo == 0:
    d_here.close()
    while True:
        m = d_there.recv(100)
        if m == b"end":
            os._exit(0)
        time.sleep(0.004)
        d_there.send(m[::-1])
d_there.close()

sent, out = 0, []
for i in range(N):
    while sent < min(N, i + AHEAD):
        here.send(sent)
        cl.sendall(b"%d\n" % sent)
        d_here.send(b"datagram-%05d" % sent)
        sent += 1
    out.append("%s %s %s" % (here.recv(), answers.readline().strip(), d_here.recv(100).decode()))
    if i % 50 == 0:
        print("progress: %d" % i, file=sys.stderr, flush=True)
here.send(None)
cl.shutdown(socket.SHUT_WR)
d_here.send(b"end")
w.join()
os.waitpid(server, 0)
os.waitpid(echo, 0)
print("\n".join(out))
PY
reference "$python3" "$T/prog.py" "$T/ref.sock"
start "$python3" "$T/prog.py" "$T/run.sock"
wait_grep "progress: 100" "$T/run.err"
checkpoint_job 4
for f in "$IMG" "${IMG%.crsnap}.parts"/*.crsnap; do "$CRSNAP_BIN" info "$f"; done >"$T/parts.txt"
grep -q "bytes waiting" "$T/parts.txt" || fail "no image holds bytes waiting in a socket"
kill_tree
restore
same_output
grep "not restorable" "$T/run.err" | grep -q "socket\|child process" &&
    fail "the checkpoint says a socket or a process of the job is lost: $(cat "$T/run.err")"
grep "not restored" "$T/restored.err" | grep -q "socket" &&
    fail "the restore says a socket of the job is lost: $(cat "$T/restored.err")"
grep -q "not restored: child process" "$T/restored.err" &&
    fail "the restore says a process of the job is lost: $(cat "$T/restored.err")"
echo "sockets: a socket pair, a unix connection and a datagram pair joined again, nothing lost"
