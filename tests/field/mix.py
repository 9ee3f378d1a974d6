# A Python workload for the field tests: worker threads, a large dict, a generator suspended
# mid-iteration, and a file read line by line while the work goes on. Progress lines go to
# stderr; the result, printed only at the end, to stdout. Deterministic.
import hashlib, sys, threading

rounds = int(sys.argv[1])
src = sys.argv[2]

def chain(seed, n):
    h = seed.encode()
    for _ in range(n):
        h = hashlib.sha256(h).digest()
    return h.hex()

results = {}
lock = threading.Lock()

def worker(k):
    r = chain("thread-%d" % k, rounds)
    with lock:
        results[k] = r

def squares():
    i = 0
    while True:
        yield i * i
        i += 1

threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
for t in threads:
    t.start()

table = {}
gen = squares()
total = 0
with open(src) as f:
    for n, line in enumerate(f):
        key = line.strip()
        table[key] = table.get(key, 0) + next(gen) % 1000003
        h = hashlib.sha256(key.encode()).hexdigest()
        total = (total * 31 + int(h[:8], 16)) % (1 << 61)
        if n % 20000 == 0:
            print("progress: line %d" % n, file=sys.stderr, flush=True)
for t in threads:
    t.join()
print("lines:", n + 1, "keys:", len(table), "total:", total)
print("table:", hashlib.sha256(repr(sorted(table.items())).encode()).hexdigest())
for k in sorted(results):
    print("thread", k, results[k])
