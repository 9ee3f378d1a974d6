#!/bin/sh
# Processes started with a cleaned environment stay in the job: `env -i awk` at the end of a
# bash pipeline, and a python3 child that subprocess.run() starts with env={}. Each loses
# LD_PRELOAD and the CRSNAP_* settings, which the library puts back at the exec; checkpointed
# as a job with every process in it, killed, restored: the uninterrupted run's output. And a
# child of os.posix_spawn() with an empty environment starts with the library.
. "$(dirname "$0")/lib.sh"
need bash seq /usr/bin/awk /usr/bin/python3

# 1. env -i (execvp in env, which runs the library).
cat >"$T/prog.sh" <<'SH'
seq 1 40000 | env -i /usr/bin/awk '{ s = (s * 31 + $1) % 1000000007; n++; if (n % 4000 == 0) { print "progress: " n > "/dev/stderr"; fflush("/dev/stderr") }; for (i = 0; i < 2000; i++) x++ } END { print n, s }'
SH
reference "$bash" "$T/prog.sh"
start "$bash" "$T/prog.sh"
wait_grep "progress: 8000" "$T/run.err"
checkpoint_job 3
kill_tree
restore
same_output
echo "env -i: awk stayed in the job and came back"

# 2. subprocess with env={} (execve in a vfork child of python3).
cat >"$T/prog.py" <<'PY'
import subprocess
child = """import sys, time
s = 0
for i in range(400):
    s += i * i
    time.sleep(0.01)
    if i == 100:
        print("progress: 100", file=sys.stderr, flush=True)
print(s)"""
r = subprocess.run(["/usr/bin/python3", "-c", child], env={}, stdout=subprocess.PIPE, text=True)
print("child said", r.stdout.strip(), "status", r.returncode)
PY
reference "$python3" "$T/prog.py"
rm -f "$T/run.err"
start "$python3" "$T/prog.py"
wait_grep "progress: 100" "$T/run.err"
checkpoint_job 2
kill_tree
restore
same_output
echo "env={}: the python child stayed in the job and came back"

# 3. posix_spawn with an empty environment: the child has the library and the job's settings.
"$CRSNAP_BIN" run -d "$T/imgs3" "$python3" -c '
import os
pid = os.posix_spawn("/bin/sh", ["sh", "-c", "grep -c libcrsnap /proc/$$/maps; echo ${CRSNAP_PID:-none}"], {})
_, st = os.waitpid(pid, 0)
print("me", os.getpid())' >"$T/spawn.out" 2>"$T/spawn.err" || fail "the posix_spawn job failed: $(cat "$T/spawn.err")"
me=$(sed -n 's/^me //p' "$T/spawn.out")
[ "$(sed -n 2p "$T/spawn.out")" = "$me" ] && [ "$(sed -n 1p "$T/spawn.out")" -ge 1 ] ||
    fail "a child of posix_spawn with an empty environment lost the library: $(cat "$T/spawn.out")"
echo "posix_spawn: the child runs the library, in the job"
