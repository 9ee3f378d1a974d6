#!/bin/sh
# bash (unmodified) looping over a pipeline and a command substitution, whose children are
# almost always running: the job (bash, its subshells, sleep, tr, cat) is checkpointed while
# it runs until an image holds more than one process, every process is killed with SIGKILL,
# and the job is restored; then it is checkpointed with --kill and restored again. Its output
# must be the uninterrupted run's, byte for byte, both times.
. "$(dirname "$0")/lib.sh"
need bash sleep tr
cat >"$T/prog.sh" <<'SH'
# output only at the end: what the job printed before a checkpoint is not printed again
i=0 acc=""
while [ $i -lt 30 ]; do
    out=$(sleep 0.2; echo "item $i")
    up=$(echo "$out" | tr a-z A-Z | cat)
    acc="$acc$up;"
    [ $i = 3 ] && echo "progress: 3" >&2
    i=$((i + 1))
done
echo "$acc"
SH
reference "$bash" "$T/prog.sh"

start "$bash" "$T/prog.sh"
wait_grep "progress: 3" "$T/run.err"
checkpoint_job 2
kill_tree
restore
same_output
echo "bash pipeline: a job of $(members) processes, killed with SIGKILL, restored and finished"

rm -rf "$T/run"/* "$T/imgs"; : >"$T/run.err"
start "$bash" "$T/prog.sh"
wait_grep "progress: 3" "$T/run.err"
checkpoint --kill
while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
restore
same_output
echo "bash pipeline: checkpointed with --kill ($(members) processes), restored and finished"
