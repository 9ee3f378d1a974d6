# An asyncio event loop for the restore tests: plain Python, unaware of crsnap. A chain of
# coroutines hashes with asyncio.sleep(0) between steps, and every so often hands work to a
# thread that answers through call_soon_threadsafe, which wakes the loop through its
# socketpair. At the end it sends on that socketpair itself and prints whether it could: if the
# socketpair did not come back, that fails (and the loop could only be woken by its timers).
# There is no timer beside the work: a wake-up byte written just before the checkpoint must come
# back with the socketpair, or the restored loop sleeps for ever (and the test times out).
#   python3 asyncio_wake.py ITERATIONS [PROGRESS_FILE]
# A tenth into the work it writes its pid into PROGRESS_FILE.
import asyncio
import hashlib
import os
import queue
import sys
import threading

n = int(sys.argv[1])
progress = sys.argv[2] if len(sys.argv) > 2 else None


async def step(h, i):
    await asyncio.sleep(0)
    return hashlib.sha256(h + i.to_bytes(4, "little")).digest()


async def main():
    loop = asyncio.get_running_loop()
    work = queue.Queue()

    def worker():
        while True:
            item = work.get()
            if item is None:
                return
            fut, h = item
            for _ in range(3000):  # long enough that the loop is asleep when the answer comes
                h = hashlib.sha256(h).digest()
            loop.call_soon_threadsafe(fut.set_result, h)

    t = threading.Thread(target=worker)
    t.start()
    h = b"crsnap"
    for i in range(n):
        h = await step(h, i)
        if i % 500 == 0:
            fut = loop.create_future()
            work.put((fut, h))
            h = await fut
        if progress and i == n // 10:
            with open(progress + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(progress + ".tmp", progress)
    work.put(None)
    await loop.run_in_executor(None, t.join)
    try:
        loop._csock.send(b"\0")  # the loop's own wake-up socket (CPython's selector loop)
        print("wake-up socketpair: ok")
    except OSError as e:
        print("wake-up socketpair: broken (%s)" % e)
    print(h.hex())


asyncio.run(main())
