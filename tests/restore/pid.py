# For the restore tests: a hash chain that prints its pid with the result and exits with 5.
#   python3 pid.py ITERATIONS PROGRESS_FILE
# A tenth into the work it writes its pid into PROGRESS_FILE.
import hashlib
import os
import sys

n = int(sys.argv[1])
h = b"pid"
for i in range(n):
    h = hashlib.sha256(h).digest()
    if i == n // 10:
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
print(os.getpid(), h.hex())
sys.exit(5)
