# unsaved.py INFO_FILE - holds what a restore cannot bring back: a TCP connection (to a
# listening socket on 127.0.0.1, port chosen by the kernel, which a restore does bring back)
# and a child process with a pipe to its stdin. Writes "PORT CHILDPID PIPEFD SOCKFD CPORT"
# (the connected socket and its own port) into INFO_FILE, then waits.
import socket
import subprocess
import sys
import time

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen()
c = socket.create_connection(s.getsockname())
child = subprocess.Popen(["sleep", "100"], stdin=subprocess.PIPE)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %d %d %d %d\n" % (s.getsockname()[1], child.pid, child.stdin.fileno(),
                                  c.fileno(), c.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(0.05)
