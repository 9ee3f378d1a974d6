# tests/lib/slurm.sh - a one-node Slurm cluster of the test's own: munged, slurmctld and slurmd
# from Debian's slurm-wlm and munge packages, with their key, sockets, state, logs and
# configuration in a fresh directory, on ports of their own, so that nothing of the machine's
# is used or changed. Needs root (the daemons run as root; jobs run as the submitting user).
#
# slurm_start      starts the cluster, or skips the test (exit 77) saying why; sets SLURM_DIR
#                  and exports SLURM_CONF. Call slurm_stop from the test's EXIT trap.
# slurm_stop       cancels the jobs, stops the daemons (by their pid files), removes SLURM_DIR.
# job_field ID F   the field F of `scontrol show job ID` (JobState, Restarts...).
# wait_job ID F V [SECS]  waits until field F of job ID is V (default 120 s); 1 if it never is.

slurm_skip() {
    echo "SKIP: $*" >&2
    exit 77
}

slurm_start() {
    [ "$(id -u)" = 0 ] || slurm_skip "starting a Slurm cluster needs root"
    for b in munged slurmctld slurmd sbatch scontrol squeue; do
        command -v $b >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
        command -v $b >/dev/null 2>&1 ||
            slurm_skip "no $b: install slurm-wlm and munge (scripts/deps.sh does)"
    done
    SLURM_DIR=$(mktemp -d /tmp/crsnap-slurm.XXXXXX) || exit 1
    chmod 755 "$SLURM_DIR"
    mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/log"
    dd if=/dev/urandom of="$SLURM_DIR/munge.key" bs=1024 count=1 2>/dev/null
    chmod 600 "$SLURM_DIR/munge.key"
    munged -f --key-file="$SLURM_DIR/munge.key" --socket="$SLURM_DIR/munge.sock" \
        --pid-file="$SLURM_DIR/munged.pid" --log-file="$SLURM_DIR/log/munged.log" \
        --seed-file="$SLURM_DIR/munged.seed" >"$SLURM_DIR/log/munged.out" 2>&1 ||
        slurm_skip "munged does not start: $(tail -n 3 "$SLURM_DIR/log/munged.out" "$SLURM_DIR/log/munged.log" 2>/dev/null)"
    # Ports away from Slurm's defaults (6817, 6818), different for each run.
    port=$((20000 + ($$ % 2000) * 2))
    host=$(hostname -s)
    cat >"$SLURM_DIR/slurm.conf" <<CONF
ClusterName=crsnaptest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/linear
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=30
MinJobAge=600
NodeName=$host CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    chmod 644 "$SLURM_DIR/slurm.conf"
    export SLURM_CONF="$SLURM_DIR/slurm.conf"
    slurmctld -f "$SLURM_CONF" -c >"$SLURM_DIR/log/slurmctld.out" 2>&1 ||
        slurm_skip "slurmctld does not start: $(tail -n 5 "$SLURM_DIR/log/slurmctld.log" "$SLURM_DIR/log/slurmctld.out" 2>/dev/null)"
    slurmd -f "$SLURM_CONF" >"$SLURM_DIR/log/slurmd.out" 2>&1 ||
        slurm_skip "slurmd does not start: $(tail -n 5 "$SLURM_DIR/log/slurmd.log" "$SLURM_DIR/log/slurmd.out" 2>/dev/null)"
    n=300
    while [ "$(sinfo -h -o %T 2>/dev/null)" != idle ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] ||
        slurm_skip "the Slurm node does not come up: $(sinfo 2>&1 | tail -n 2); $(tail -n 5 "$SLURM_DIR/log/slurmd.log" 2>/dev/null)"
    SLURM_VERSION=$(sinfo -V 2>/dev/null)
}

slurm_stop() {
    [ -n "${SLURM_DIR:-}" ] && [ -d "$SLURM_DIR" ] || return 0
    if [ -n "${SLURM_CONF:-}" ]; then
        scancel $(squeue -h -o %i 2>/dev/null) 2>/dev/null
        n=150
        while [ -n "$(squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] && [ $n -gt 0 ]; do
            sleep 0.1; n=$((n - 1))
        done
    fi
    for d in slurmd slurmctld munged; do
        [ -s "$SLURM_DIR/$d.pid" ] && kill "$(cat "$SLURM_DIR/$d.pid")" 2>/dev/null
    done
    for d in slurmd slurmctld munged; do
        n=100
        while [ -s "$SLURM_DIR/$d.pid" ] && kill -0 "$(cat "$SLURM_DIR/$d.pid")" 2>/dev/null &&
            [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    done
    [ -n "${KEEP_SLURM:-}" ] || rm -rf "$SLURM_DIR"
}

job_field() {
    scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# start_now JOB [SETTINGS...]: sets SETTINGS and clears the hold Slurm puts on a requeued job
# (its BeginTime, two minutes) so that it starts now. Asked again while the job still waits:
# an update that lands while the requeue is being finished is overwritten by it.
start_now() {
    sn_job=$1; shift
    scontrol update jobid="$sn_job" "$@" StartTime=now
    n=30
    while [ "$(job_field "$sn_job" JobState)" = PENDING ] && [ $n -gt 0 ]; do
        sleep 2
        [ "$(job_field "$sn_job" JobState)" = PENDING ] || break
        scontrol update jobid="$sn_job" StartTime=now 2>/dev/null
        n=$((n - 1))
    done
}

wait_job() {
    n=$((${4:-120} * 10))
    while [ "$(job_field "$1" "$2")" != "$3" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ "$(job_field "$1" "$2")" = "$3" ]
}
