# changed.py OUT LOG INPUT PROGRESS N - for each of N lines of INPUT (read as it goes): writes
# "I LINE" to stdout, "I" to OUT (opened write-only) and to LOG (opened for appending),
# flushing each; creates PROGRESS after line 10.
import sys
import time

out_path, log_path, in_path, progress, n = sys.argv[1:6]
out = open(out_path, "w")
log = open(log_path, "a")
inp = open(in_path)
for i in range(int(n)):
    line = inp.readline()
    sys.stdout.write("%d %s" % (i, line))
    sys.stdout.flush()
    out.write("%d\n" % i)
    out.flush()
    log.write("%d\n" % i)
    log.flush()
    if i == 10:
        open(progress, "w").close()
    time.sleep(0.02)
