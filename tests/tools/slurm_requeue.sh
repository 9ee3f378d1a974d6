#!/bin/sh
# On a real Slurm cluster, started by this test on this machine: the example batch script
# (examples/slurm/crsnap-job.sbatch) runs a job that computes a known result, as an ordinary
# user. It is preempted (`scontrol requeue`: Slurm sends SIGTERM) and, in a second job, warned
# before its time limit (--signal=B:USR1@N); each time crsnap checkpoints and ends it, the job
# is requeued and resumes from its image. Each job finishes with the output of an uninterrupted
# run, every step done exactly once (no work redone, none restarted from scratch). A job the
# user cancels is checkpointed but stays cancelled.
# usage: slurm_requeue.sh STEPS SBATCH_SCRIPT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/unpriv.sh"
. "$(dirname "$0")/../lib/slurm.sh"
STEPS=$1
SCRIPT=$2
[ -n "${CRSNAP_SANITIZED:-}" ] && { echo "SKIP: not under the sanitizers (a minute of jobs)" >&2; exit 77; }

unpriv_setup "$STEPS" "$SCRIPT"
trap 'slurm_stop; unpriv_cleanup; cleanup' EXIT
slurm_start
echo "Slurm: $SLURM_VERSION"
JOBS=$U_DIR/jobs
mkdir "$JOBS" && chown "$U1" "$JOBS" || exit 1
U_STEPS=$U_DIR/$(basename "$STEPS")
U_SCRIPT=$U_DIR/$(basename "$SCRIPT")

# submit NAME N MS [SBATCH_OPTION...]: submits the example script as $U1 running the steps
# program; its output in $JOBS/NAME.out, its log in NAME.err, images in NAME.img, each step
# done appended to NAME.steps. Sets JOB.
submit() {
    name=$1 n=$2 ms=$3
    shift 3
    U_ENV="SLURM_CONF=$SLURM_CONF CRSNAP=$U_CRSNAP CRSNAP_DIR=$JOBS/$name.img CRSNAP_INTERVAL=0 STEPS_LOG=$JOBS/$name.steps" \
        as_user "$U1" sbatch --parsable -D "$JOBS" -J "$name" -o "$JOBS/$name.out" \
        -e "$JOBS/$name.err" "$@" "$U_SCRIPT" "$U_STEPS" "$n" "$ms" >"$T/sbatch.out" 2>"$T/err" ||
        fail "sbatch failed"
    JOB=$(cut -d';' -f1 "$T/sbatch.out")
}
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
wait_lines() {
    n=600
    while [ "$(lines "$1")" -lt "$2" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ "$(lines "$1")" -ge "$2" ] || fail "$1 has $(lines "$1") lines, not $2: $(cat "$JOBS"/*.err)"
}
job_fail() {
    fail "job $1: $2: $(scontrol show job "$1" | head -n 8); its log: $(cat "$JOBS/$3.err")"
}
# check NAME N MS: the job's output is an uninterrupted run's, and each step ran once, in order.
check() {
    "$STEPS" "$2" 0 >"$T/$1.ref"
    cmp -s "$JOBS/$1.out" "$T/$1.ref" ||
        fail "$1: output differs from an uninterrupted run: $(diff "$JOBS/$1.out" "$T/$1.ref" | head -n 5)"
    seq 1 "$2" >"$T/$1.once"
    redone=$(($(lines "$JOBS/$1.steps") - $2))
    cmp -s "$JOBS/$1.steps" "$T/$1.once" ||
        fail "$1: steps not done exactly once each ($redone redone): $(uniq -d "$JOBS/$1.steps" | head -n 3)"
    echo "$1: same output as an uninterrupted run, $(job_field "$JOB" Restarts) restart(s), $redone steps redone"
}

# 1. Preemption: the administrator requeues the running job. Slurm sends SIGTERM to its
# processes (SIGKILL after KillWait): crsnap checkpoints on the TERM and ends with 85.
submit pre 600 30
wait_lines "$JOBS/pre.out" 60
scontrol requeue "$JOB" || fail "scontrol requeue $JOB failed"
wait_job "$JOB" Restarts 1 30 || job_fail "$JOB" "not requeued" pre
wait_job "$JOB" JobState PENDING 60 || job_fail "$JOB" "not pending after the requeue" pre
grep -q "SIGTERM: checkpoint .* written; ending the program with status 85" "$JOBS/pre.err" ||
    job_fail "$JOB" "no checkpoint on SIGTERM" pre
# Slurm holds a requeued job for a while (its BeginTime): let it start now.
start_now "$JOB"
wait_job "$JOB" JobState COMPLETED 120 || job_fail "$JOB" "did not complete" pre
grep -q "crsnap run: resuming from $JOBS/pre.img/ckpt-" "$JOBS/pre.err" ||
    job_fail "$JOB" "the second run did not resume" pre
check pre 600 30

# 2. The time limit: a 1-minute job warned up to 59 s before it (Slurm looks at time limits
# about every 30 s, so the warning comes within that). crsnap checkpoints on the USR1 and
# ends with 85, and the script requeues the job itself.
submit lim 1000 50 --time=1 --signal=B:USR1@59
wait_lines "$JOBS/lim.out" 5
wait_job "$JOB" Restarts 1 90 || job_fail "$JOB" "not requeued before its time limit" lim
wait_job "$JOB" JobState PENDING 60 || job_fail "$JOB" "not pending after the requeue" lim
grep -q "SIGUSR1: checkpoint .* written; ending the program with status 85" "$JOBS/lim.err" ||
    job_fail "$JOB" "no checkpoint on the time-limit warning" lim
grep -q "crsnap-job: checkpointed, requeueing job $JOB" "$JOBS/lim.err" ||
    job_fail "$JOB" "the script did not requeue itself" lim
# The next run gets the time it needs to finish.
start_now "$JOB" TimeLimit=5
wait_job "$JOB" JobState COMPLETED 120 || job_fail "$JOB" "did not complete" lim
grep -q "crsnap run: resuming from $JOBS/lim.img/ckpt-" "$JOBS/lim.err" ||
    job_fail "$JOB" "the second run did not resume" lim
check lim 1000 50

# 3. The user cancels the job: checkpointed on the SIGTERM, but not requeued.
submit can 3000 20
wait_lines "$JOBS/can.out" 30
U_ENV="SLURM_CONF=$SLURM_CONF" as_user "$U1" scancel "$JOB" || fail "scancel $JOB failed"
wait_job "$JOB" JobState CANCELLED 60 || job_fail "$JOB" "not cancelled" can
n=100
while ! grep -q "ending the program with status 85" "$JOBS/can.err" && [ $n -gt 0 ]; do
    sleep 0.1; n=$((n - 1))
done
grep -q "SIGTERM: checkpoint .* written; ending the program with status 85" "$JOBS/can.err" ||
    job_fail "$JOB" "no checkpoint on scancel" can
sleep 2
[ "$(job_field "$JOB" Restarts)" = 0 ] && [ "$(job_field "$JOB" JobState)" = CANCELLED ] ||
    job_fail "$JOB" "a cancelled job was requeued" can
echo "can: cancelled, checkpointed, not requeued"
exit 0
