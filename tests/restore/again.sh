# again.sh - a restored process is checkpointed again, killed, and restored from the second
# image: the output must still match an uninterrupted run's.
. "$(dirname "$0")/lib.sh"
chain=$1
n=$2
/usr/bin/python3 "$chain" "$n" >"$T/expected.out" || fail "the uninterrupted run failed"
two_generations /usr/bin/python3 "$chain" "$n" "$T/progress"
same "$T/second.out" "$T/expected.out"
echo "again: restored twice, output matches"
