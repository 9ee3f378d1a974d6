# A sha256 hash chain, for the restore tests: plain Python, unaware of crsnap.
#   python3 chain.py ITERATIONS [PROGRESS_FILE]
# A tenth into the work it writes its pid into PROGRESS_FILE.
import hashlib
import os
import sys

n = int(sys.argv[1])
progress = sys.argv[2] if len(sys.argv) > 2 else None
h = b"crsnap"
for i in range(n):
    h = hashlib.sha256(h).digest()
    if progress and i == n // 10:
        with open(progress + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(progress + ".tmp", progress)
print(h.hex())
