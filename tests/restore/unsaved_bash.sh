# unsaved_bash.sh - bash in the middle of `out=$(...)`: its child (the subshell) and the pipe it
# reads the output from cannot come back, and the checkpoint's log, `crsnap info` and `crsnap
# restore -n` say so. Checkpointed alone (CRSNAP_TREE=0): in a job, the subshell and its pipe
# would be the job's and come back (tests/tree/bash_pipeline.sh).
RESTORE_CHECKS_ONLY=1
. "$(dirname "$0")/lib.sh"
export CRSNAP_TREE=0
BASH=$(command -v bash) || { echo "skipped: no bash"; exit 77; }
# the subshell writes its pid once it runs: bash is then reading the pipe
start run "$BASH" -c 'out=$(sh -c "echo \$PPID" >"$1.tmp"; mv "$1.tmp" "$1"; sleep 100; echo x); echo "got $out"' bash "$T/sub"
read_pid "$T/sub"
sub=$PID
PIDS="$PIDS $sub"
PID=$(cat "$T/pid")
take_checkpoint "$PID"
"$CRSNAP_BIN" info "$IMG" >"$T/info.txt" || fail "crsnap info failed"
grep -qE "^  fd [0-9]+: pipe from child process $sub \(bash\)\$" "$T/info.txt" &&
    grep -qxF "  child process $sub (bash)" "$T/info.txt" || fail "info: $(cat "$T/info.txt")"
# the log says the first five: the child comes last, after the descriptors (the test runner
# may have left some open)
nrec=$(sed -n 's/^not restored //p' "$T/info.txt")
[ "$nrec" -le 5 ] || { echo "skipped: $nrec objects not restorable, the log names five"; exit 77; }
n=50
while ! grep -q "not restorable: child" "$T/run.err" && [ "$n" -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
grep -qE "^crsnap\[$PID\]: warning: not restorable: fd [0-9]+: pipe from child process $sub \(bash\)\$" "$T/run.err" ||
    fail "log: no pipe from the subshell $sub in: $(cat "$T/run.err")"
grep -qxF "crsnap[$PID]: warning: not restorable: child process $sub (bash)" "$T/run.err" ||
    fail "log: no child $sub in: $(cat "$T/run.err")"
if [ -n "${CRSNAP_SANITIZED:-}" ]; then
    echo "logged and listed (restore -n needs an unsanitized build: the sanitizers' shadow is in the way)"
    exit 0
fi
restore dry -n "$IMG"
[ "$RC" = 0 ] || fail "restore -n exited $RC"
grep -qxF "crsnap restore: not restored: child process $sub (bash)" "$T/dry.err" &&
    grep -qE "^crsnap restore: not restored: fd [0-9]+: pipe from child process $sub \(bash\)\$" "$T/dry.err" ||
    fail "restore -n: $(cat "$T/dry.err")"
echo "unsaved_bash: the command substitution's child and pipe are reported"
