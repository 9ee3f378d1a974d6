# tests/tree/lib.sh - helpers for the job tests (sourced): an unmodified program that starts
# other processes runs once uninterrupted for a reference, then under `crsnap run`; the whole
# job is checkpointed, every process of it killed with SIGKILL, the job restored, and what it
# leaves behind compared. Builds on the field tests' helpers.
. "$(dirname "$0")/../field/lib.sh"
# Where tests/tree/counters.py is, for the Python programs that import it.
PYTHONPATH=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH

# descendants PID: PID and every process below it, parents first.
descendants() {
    echo "$1"
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do descendants "$c"; done
}

# kill_tree: SIGKILL to every process of the job at once (stopped first, so that none reaps
# or restarts another in between), then waits until all are gone.
kill_tree() {
    all=$(descendants "$PID")
    kill -STOP $all 2>/dev/null
    kill -KILL $all 2>/dev/null
    for p in $all; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
    sleep 0.1
}

# members: how many processes the job's newest image holds (crsnap info's "tree" line).
members() { "$CRSNAP_BIN" info "$IMG" | sed -n 's/^tree *\([0-9]*\) processes.*/\1/p'; }

# checkpoint_job N: checkpoints of the running job until one holds at least N processes (a
# job's children come and go); sets IMG.
checkpoint_job() {
    n=200
    until [ -S "$CRSNAP_SOCKET_DIR/$PID.sock" ]; do
        alive; n=$((n - 1)); [ "$n" -gt 0 ] || fail "the job's root never listened"
        sleep 0.05
    done
    tries=40
    while :; do
        checkpoint
        [ "$(members)" -ge "$1" ] 2>/dev/null && return 0
        tries=$((tries - 1)); [ "$tries" -gt 0 ] || fail "no image held $1 processes"
        sleep 0.05
    done
}
