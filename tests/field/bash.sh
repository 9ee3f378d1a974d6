#!/bin/sh
# bash (unmodified) running a shell loop: arithmetic, an associative array, string building,
# reading a file with `read`, checkpointed partway through, killed and restored.
. "$(dirname "$0")/lib.sh"
need bash
seq 1 20000 >"$T/input"
cat >"$T/prog.sh" <<'SH'
declare -A seen
acc=1 n=0
while read -r line; do
    n=$((n + 1))
    k=$(( (line * 7919) % 1009 ))
    seen[$k]=$(( ${seen[$k]:-0} + 1 ))
    acc=$(( (acc * 31 + k + ${#line}) % 1000000007 ))
    s="$s${line: -1}"
    [ $((n % 2000)) = 0 ] && echo "progress: $n" >&2
done <"$1"
sum=0
for k in "${!seen[@]}"; do sum=$(( (sum + k * seen[$k]) % 1000000007 )); done
echo "lines $n keys ${#seen[@]} acc $acc sum $sum tail ${s: -20} len ${#s}"
SH
reference "$bash" "$T/prog.sh" "$T/input"
start "$bash" "$T/prog.sh" "$T/input"
wait_grep "progress: 2000$" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "bash: restored output matches"
