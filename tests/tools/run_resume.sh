#!/bin/sh
# `crsnap run -r --exit-on USR1`: the signal ends the program with status 85 once its image is
# written; the same command again resumes from that image (no step is done twice) and the two
# outputs together are those of an uninterrupted run; periodic checkpoints go on after the
# resume. A failed checkpoint at the signal gives status 86; a damaged newest image makes
# --resume fall back to the older one, and none at all that restores is an error, not a
# silent fresh start.
# usage: run_resume.sh STEPS
. "$(dirname "$0")/lib.sh"
STEPS=$1
N=150
MS=15
[ -n "${CRSNAP_SANITIZED:-}" ] && MS=30

# lines FILE: number of lines.
lines() { if [ -e "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# wait_lines FILE N: waits (20 s at most) until FILE has N lines.
wait_lines() {
    n=200
    while [ "$(lines "$1")" -lt "$2" ] && [ $n -gt 0 ]; do
        sleep 0.1; n=$((n - 1))
    done
    [ "$(lines "$1")" -ge "$2" ] || fail "$1 has $(lines "$1") lines, expected $2"
}
# job NAME ARGS...: the job under `crsnap run -r`, in the background, output in $T/NAME.out,
# errors in $T/NAME.err; pid in $pid.
job() {
    name=$1; shift
    "$CRSNAP_BIN" run -r "$@" "$STEPS" $N $MS >"$T/$name.out" 2>"$T/$name.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
}
# ends STATUS NAME: waits for the job; checks its status.
ends() {
    wait $pid
    st=$?
    [ $st = "$1" ] || fail "$2 exited $st, expected $1: $(cat "$T/$2.err")"
}
# first_step FILE: the number of the first "step" line.
first_step() { sed -n '1s/^step \([0-9]*\) .*/\1/p' "$1"; }
last_step() { grep '^step' "$1" | tail -n 1 | sed 's/^step \([0-9]*\) .*/\1/'; }

"$STEPS" $N 0 >"$T/ref.out" || fail "the reference run failed"

# 1. USR1 half way: image, status 85, the log says so.
export STEPS_LOG="$T/steps.log"
job run1 --exit-on USR1 -d "$T/d" -i 0.4 -k 0
wait_lines "$T/run1.out" 40
kill -USR1 $pid
ends 85 run1
has "$T/run1.err" "SIGUSR1: checkpoint $T/d/ckpt-"
has "$T/run1.err" "written; ending the program with status 85"
has "$T/run1.err" "no image of this job in $T/d: starting the program"
grep -q '^result' "$T/run1.out" && fail "run 1 finished before the signal (make it longer)"
k=$(last_step "$T/run1.out")
images1=$(count "$T/d")
newest1=$(ls "$T/d" | grep '^ckpt-.*\.crsnap$' | sort | tail -n 1)

# A sanitized crsnap cannot restore a sanitized program (the shadow of both lies at the same
# fixed addresses): there only what ends the program is checked.
if [ -z "${CRSNAP_SANITIZED:-}" ]; then
# 2. The same command resumes from the newest image and finishes; together, the outputs are
# the uninterrupted run's, and no step was done twice.
job run2 --exit-on USR1 -d "$T/d" -i 0.4 -k 0
ends 0 run2
has "$T/run2.err" "crsnap run: resuming from $T/d/$newest1"
[ "$(first_step "$T/run2.out")" = $((k + 1)) ] ||
    fail "run 2 starts at step $(first_step "$T/run2.out"), not $((k + 1)): it did not resume"
cat "$T/run1.out" "$T/run2.out" >"$T/both.out"
same_file() { cmp -s "$1" "$2" || fail "$1 differs from $2: $(diff "$1" "$2" | head -5)"; }
same_file "$T/both.out" "$T/ref.out"
[ "$(lines "$STEPS_LOG")" = $N ] || fail "$(lines "$STEPS_LOG") steps done for $N: work redone"
# The resumed program went on taking its periodic checkpoints into the same directory.
[ "$(count "$T/d")" -gt "$images1" ] ||
    fail "no periodic checkpoint after the resume ($(ls "$T/d"))"

fi

# 3. The checkpoint at the signal fails (the directory became a file): status 86, loudly.
job fail1 --exit-on USR1,TERM -d "$T/gone"
wait_lines "$T/fail1.out" 10
rm -rf "$T/gone" && : >"$T/gone"
kill -TERM $pid
ends 86 fail1
has "$T/fail1.err" "SIGTERM: the checkpoint FAILED"
has "$T/fail1.err" "ending the program with status 86 and no new image"

if [ -z "${CRSNAP_SANITIZED:-}" ]; then
# 4. Two images, the newest damaged: --resume says so and takes the older one.
rm -f "$STEPS_LOG"
job dmg1 --exit-on TERM -d "$T/dmg" -k 0
wait_lines "$T/dmg1.out" 20
older=$("$CRSNAP_BIN" checkpoint -w $pid 2>"$T/err") || fail "crsnap checkpoint failed"
j=$(last_step "$T/dmg1.out")        # steps done by the time the older image was taken, or more
wait_lines "$T/dmg1.out" 50
kill -TERM $pid
ends 85 dmg1
newest=$(ls "$T/dmg"/ckpt-*.crsnap | sort | tail -n 1)
[ "$newest" != "$older" ] || fail "no second image"
size=$(stat -c %s "$newest")
truncate -s $((size / 2)) "$newest"
job dmg2 --exit-on TERM -d "$T/dmg" -k 0
ends 0 dmg2
has "$T/dmg2.err" "crsnap run: $newest cannot be read"
has "$T/dmg2.err" "trying an older image"
has "$T/dmg2.err" "crsnap run: resuming from $older"
f=$(first_step "$T/dmg2.out")
[ "$f" -gt 1 ] && [ "$f" -le $((j + 1)) ] ||
    fail "run after the damage starts at step $f (older image taken at or before step $j)"
tail -n +"$f" "$T/ref.out" >"$T/ref.tail"
same_file "$T/dmg2.out" "$T/ref.tail"

# 5. Nothing that restores: an error, never a silent fresh start (unless asked).
for img in "$T/dmg"/ckpt-*.crsnap; do truncate -s 100 "$img"; done
job dmg3 --exit-on TERM -d "$T/dmg"
ends 1 dmg3
has "$T/dmg3.err" "could not be restored, so the program is not started afresh"
[ -s "$T/dmg3.out" ] && fail "the program started although its images were damaged"
job dmg4 --fresh-if-unrestorable -d "$T/dmg"
ends 0 dmg4
same_file "$T/dmg4.out" "$T/ref.out"

# 6. Another program's images (other arguments) are not this job's.
"$CRSNAP_BIN" run -r -d "$T/d" "$STEPS" 3 0 >"$T/other.out" 2>"$T/other.err" ||
    fail "another job in the same directory failed: $(cat "$T/other.err")"
has "$T/other.err" "is an image of another program or arguments"
[ "$(first_step "$T/other.out")" = 1 ] || fail "another job resumed an image not its own"
fi

# 7. A process the program forked keeps the signal's usual meaning (SIGTERM ends it).
if command -v python3 >/dev/null 2>&1; then
    "$CRSNAP_BIN" run --exit-on TERM -d "$T/fork" python3 -c '
import os, signal, time
pid = os.fork()
if pid == 0:
    time.sleep(5)
    os._exit(0)
os.kill(pid, signal.SIGTERM)
_, st = os.waitpid(pid, 0)
print("child", os.WTERMSIG(st) if os.WIFSIGNALED(st) else "exit %d" % os.WEXITSTATUS(st))
' >"$T/fork.out" 2>"$T/fork.err" || fail "the forking program failed: $(cat "$T/fork.err")"
    has "$T/fork.out" "child 15"
fi

# 8. Usage errors.
run_cmd 2 "$CRSNAP_BIN" run --exit-on KILL "$STEPS" 1
has "$T/err" "'KILL' is not a usable signal"
run_cmd 2 "$CRSNAP_BIN" run -s TERM --exit-on USR1,TERM "$STEPS" 1
has "$T/err" "it cannot also be an --exit-on signal"
run_cmd 2 env CRSNAP_SIGNAL=TERM "$CRSNAP_BIN" run --exit-on USR1,TERM "$STEPS" 1
has "$T/err" "it cannot also be an --exit-on signal"
run_cmd 2 "$CRSNAP_BIN" run --fresh-if-unrestorable "$STEPS" 1
exit 0
