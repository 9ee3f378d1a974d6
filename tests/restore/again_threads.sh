# again_threads.sh MT_WORKER ROUNDS - the multi-threaded program through two generations:
# checkpoint, kill, restore; checkpoint the restored process, kill it, restore again. Its
# threads (new tids each time), its file and its output must still come out right.
. "$(dirname "$0")/lib.sh"
prog=$1
rounds=$2
"$prog" "$T/expected.dat" "$rounds" >"$T/expected.out" 2>&1 || fail "the uninterrupted run failed"
two_generations "$prog" "$T/run.dat" "$rounds" "$T/progress"
same "$T/second.out" "$T/expected.out"
same "$T/run.dat" "$T/expected.dat"
echo "again_threads: two generations, output and file match"
