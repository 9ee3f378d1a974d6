#!/bin/sh
# An ordinary user's job: a bash loop over pipelines and command substitutions, and a
# multiprocessing.Pool, each checkpointed with --kill and restored by that user with no option:
# the job comes back under its pids in a user and pid namespace of its own (the processes that
# restore its children keep the capability to choose pids over their exec, and drop it before
# the program runs), and finishes as the uninterrupted run.
. "$(dirname "$0")/../field/lib.sh"
. "$(dirname "$0")/../lib/unpriv.sh"
need bash /usr/bin/python3
unpriv_setup
W=$U_DIR/work
mkdir "$W" && chown "$U1" "$W" || fail "cannot make $W"
cat >"$U_DIR/prog.sh" <<'SH'
p0=$BASHPID acc=""
i=0
while [ $i -lt 24 ]; do
    out=$(sleep 0.2; echo "item $i")
    acc="$acc$(echo "$out" | tr a-z A-Z | cat);"
    [ $i = 3 ] && echo "progress: 3" >&2
    i=$((i + 1))
done
[ "$BASHPID" = "$p0" ] && echo "same pid" || echo "pid $p0 became $BASHPID"
grep -q CapEff:.0000000000000000 /proc/self/status && echo "no capability" || echo "capabilities"
echo "$acc"
SH
cat >"$U_DIR/prog.py" <<'PY'
import multiprocessing as mp, sys, time
def work(i):
    time.sleep(0.05)
    return (i * i * 7919) % 1000003
if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(3) as pool:
        out = []
        for n, r in enumerate(pool.imap(work, range(150), chunksize=2)):
            out.append(r)
            if n == 20:
                print("progress: 3", file=sys.stderr, flush=True)
    print(len(out), sum(out))
PY
cat >"$U_DIR/inner.sh" <<'INNER'
C=$1 W=$2; shift 2
cd "$W" || exit 1
fail() { echo "FAIL: $*"; for f in "$W"/*.err; do [ -s "$f" ] && { echo "--- $f:"; tail -5 "$f"; }; done; exit 1; }
"$@" >expected.out 2>/dev/null || fail "the uninterrupted run failed"
rm -rf imgs
"$C" run -d imgs -- "$@" >run.out 2>run.err &
P=$!
n=600; until grep -q "progress: 3" run.err 2>/dev/null; do
    n=$((n - 1)); [ $n -gt 0 ] || fail "no progress"; sleep 0.1; done
IMG=$("$C" checkpoint --kill "$P" 2>ckpt.err) || fail "checkpoint: $(cat ckpt.err)"
wait "$P" 2>/dev/null
"$C" info "$IMG" | grep -q "^tree" || fail "not a job's image: $(cat ckpt.err)"
"$C" restore -q "$IMG" 2>restored.err || fail "the restore failed: $(cat restored.err)"
# its output is run.out, reopened at its offset: it printed nothing before the checkpoint
cmp -s run.out expected.out ||
    fail "output differs: $(head -c 300 run.out) / $(head -c 300 expected.out)"
echo ok
INNER
chmod a+r "$U_DIR/inner.sh" "$U_DIR/prog.sh" "$U_DIR/prog.py"
for prog in "bash $U_DIR/prog.sh" "/usr/bin/python3 $U_DIR/prog.py"; do
    out=$(as_user "$U1" sh "$U_DIR/inner.sh" "$U_CRSNAP" "$W" $prog 2>&1)
    case "$out" in
    *"user namespaces are off"*) echo "SKIP: $out"; exit 77 ;;
    *ok) echo "user: $prog restored as $U1 under its pids" ;;
    *) fail "as $U1, $prog: $out" ;;
    esac
done
