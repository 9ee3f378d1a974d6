# samepid_user.sh PIDS ASYNCIO_PY - an ordinary user restores with no option, and the process
# keeps its pid and its threads' tids (in a user and pid namespace of its own): PIDS (pids.c)
# sees none of its cached ids, CPU clocks, /proc/<pid> or pid-named files change, through three
# generations, each checkpointed from outside (through the waiting crsnap restore's pid, and
# through the pid the process has outside, by request and by SIGUSR1); killing that crsnap
# restore ends the process too, SIGTERM to it reaches the program and its status comes back;
# and python3's asyncio, which remembers its pid, runs to the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/unpriv.sh"
unpriv_setup "$1" "$2"
W=$U_DIR/work
mkdir "$W" && chown "$U1" "$W" || fail "cannot make $W"
cat >"$U_DIR/inner.sh" <<'INNER'
C=$1 prog=$2 py=$3 W=$4
cd "$W" || exit 1
fail() {
    echo "FAIL: $*"
    for f in "$W"/*.err; do [ -s "$f" ] && { echo "--- $f:"; tail -5 "$f"; }; done
    exit 1
}
wait_file() { n=300; while [ ! -e "$1" ] && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
              [ -e "$1" ] || fail "no $1"; }
child_of() { c=$(cat "/proc/$1/task/$1/children" 2>/dev/null); echo "${c% }"; }
# A checkpoint of a process that may still be settling after its restore.
ckpt() { n=0; while ! IMG=$("$C" checkpoint -w "$1" 2>"$W/ckpt.err"); do
             n=$((n + 1)); [ $n -lt 100 ] || fail "no checkpoint of $1: $(cat "$W/ckpt.err")"
             sleep 0.1; done; }
gone() { n=200; while kill -0 "$1" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
         ! kill -0 "$1" 2>/dev/null; }

"$prog" 3000000 "$W/p0" >expected.out || fail "the uninterrupted run failed"
"$C" run -d imgs -- "$prog" 3000000 "$W/p1" >run.out 2>run.err &
P=$!
wait_file "$W/p1"
ckpt "$P"
kill -KILL "$P"; gone "$P" || fail "$P lives on"
[ ! -s run.out ] || fail "the program finished before it was killed"

# Generation 1: checkpointed through the pid of the crsnap restore that waits for it.
"$C" restore -q "$IMG" >gen1.out 2>gen1.err &
R=$!
ckpt "$R"
grep -q "restored under pid" gen1.err && fail "fell back to a new pid: $(cat gen1.err)"
A=$(child_of "$R"); Q=$(child_of "$A")
[ -n "$Q" ] && kill -0 "$Q" || fail "no restored process below $R"
grep -q "^NSpid:.*[[:space:]]$P\$" "/proc/$Q/status" || fail "$Q is not pid $P inside: $(grep NSpid "/proc/$Q/status")"
kill -KILL "$R"
gone "$Q" || fail "the restored process $Q outlived its crsnap restore"

# Generation 2: checkpointed through its own pid outside the namespace.
"$C" restore -q "$IMG" >gen2.out 2>gen2.err &
R=$!
ckpt "$R"
A=$(child_of "$R"); Q=$(child_of "$A")
ckpt "$Q"
"$C" info "$IMG" | grep -q "pid $P, ppid 1 (in a pid namespace of its own; pid $Q outside it)" ||
    fail "crsnap info does not show both pids: $("$C" info "$IMG" | head -3)"
# SIGUSR1 from outside, to the process's outside pid, checkpoints it as it did before.
newest() { ls imgs | grep '^ckpt-.*\.crsnap$' | sort | tail -1; }
before=$(newest)
kill -USR1 "$Q"
n=100; while [ "$(newest)" = "$before" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ "$(newest)" != "$before" ] || fail "SIGUSR1 to $Q made no image"
kill -KILL "$R"; gone "$Q" || fail "generation 2 lives on"

# A signal to the crsnap restore reaches the program, whose end is the command's.
"$C" restore -q "$IMG" >gen2b.out 2>gen2b.err &
R=$!
ckpt "$R"
kill -TERM "$R"
wait "$R"
rc=$?
[ $rc = 143 ] || fail "SIGTERM to crsnap restore: it exited $rc, not as the program killed by it"

# Generation 3, from an image taken inside a namespace, runs to the end.
"$C" restore -q "$IMG" >gen3.out 2>gen3.err
rc=$?
[ $rc = 0 ] || fail "generation 3 exited $rc"
cmp -s run.out expected.out || fail "output differs: $(cat run.out) / $(cat expected.out)"

# Where no namespace may be made (here: a user namespace whose limits say no user and no pid
# namespaces; root there may make a pid namespace without a user namespace), the default
# falls back to a new pid and says what will differ; --same-pid refuses. (Root there is not
# root here: the image, whose directories are root's, is trusted explicitly.)
IMG1=$IMG
nons() {
    unshare -r sh -c 'echo 0 >/proc/sys/user/max_user_namespaces &&
        echo 0 >/proc/sys/user/max_pid_namespaces && exec "$@"' sh "$@"
}
nons "$C" restore -q --trust-image --same-pid "$IMG1" >nons1.out 2>nons1.err
rc=$?
[ $rc = 1 ] || fail "--same-pid without a namespace exited $rc"
grep -q "cannot restore under pid $P: .*no namespace of its own" nons1.err ||
    fail "--same-pid without a namespace says: $(cat nons1.err)"
nons "$C" restore -q --trust-image "$IMG1" >nons2.out 2>nons2.err &
N=$!
n=100; while ! grep -q "restored under pid" nons2.err && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
grep -q "warning: restored under pid [0-9]*, not $P (.*): the program sees another pid" nons2.err ||
    fail "no fallback warning: $(cat nons2.err)"
kill -KILL $N 2>/dev/null; wait $N 2>/dev/null

# asyncio remembers the pid its loop runs in.
python3 "$py" 600000 "$W/a0" >a_expected.out || fail "asyncio: the uninterrupted run failed"
"$C" run -d aimgs -- python3 "$py" 600000 "$W/a1" >a_run.out 2>a_run.err &
P=$!
wait_file "$W/a1"
ckpt "$P"
kill -KILL "$P"; gone "$P" || fail "asyncio lives on"
"$C" restore -q "$IMG" >a_restored.out 2>a_restored.err
rc=$?
[ $rc = 0 ] || fail "asyncio: the restore exited $rc: $(cat a_restored.err)"
cmp -s a_run.out a_expected.out || fail "asyncio output differs: $(tail -3 a_run.out)"
echo ok
INNER
chmod a+r "$U_DIR/inner.sh"
out=$(as_user "$U1" sh "$U_DIR/inner.sh" "$U_CRSNAP" "$U_DIR/$(basename "$1")" \
      "$U_DIR/$(basename "$2")" "$W" 2>&1)
case "$out" in
*"user namespaces are off"*) echo "SKIP: $out"; exit 77 ;;
*ok) echo "samepid_user: same pid and tids as $U1, three generations, asyncio" ;;
*) fail "as $U1: $out" ;;
esac
