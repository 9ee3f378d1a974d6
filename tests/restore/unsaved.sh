# unsaved.sh - what a checkpoint cannot bring back is said, not lost in silence: a python3
# program with a TCP connection and a child it writes to through a pipe is checkpointed;
# the checkpoint's log names the socket, the pipe and the child, `crsnap info` (text and JSON)
# lists them, and `crsnap restore` (by default, and -n) says them; the restored program's
# stderr, a file it kept writing, gets no "changed since the checkpoint" warning. The process
# is checkpointed alone (CRSNAP_TREE=0): in a job, the child and the pipe would be the job's
# and come back (tests/tree/).
RESTORE_CHECKS_ONLY=1
. "$(dirname "$0")/lib.sh"
export CRSNAP_TREE=0
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skipped: no $PY"; exit 77; }
start run "$PY" "$(dirname "$0")/unsaved.py" "$T/info"
wait_for "$T/info"
read -r port cpid pipefd sockfd cport <"$T/info"
PIDS="$PIDS $cpid"
sock="fd $sockfd: socket 127.0.0.1:$cport connected to 127.0.0.1:$port (TCP)"
pipe="fd $pipefd: pipe to child process $cpid (sleep)"
child="child process $cpid (sleep)"

# has FILE PREFIX TEXT WHAT: FILE has the line PREFIX TEXT.
has() {
    grep -qxF -- "$2$3" "$1" || fail "$4: no line '$2$3' in: $(cat "$1")"
}

take_checkpoint "$PID"

"$CRSNAP_BIN" info "$IMG" >"$T/info.txt" || fail "crsnap info failed"
# (descriptors the test runner left open may be listed too)
grep -qx "not restored [0-9]*" "$T/info.txt" || fail "info: no 'not restored' in: $(cat "$T/info.txt")"
for l in "$sock" "$pipe" "$child"; do has "$T/info.txt" "  " "$l" info; done
nrec=$(sed -n 's/^not restored //p' "$T/info.txt")
# said FILE WHAT: the restore's lines in FILE: the first five, then how many more
said() {
    has "$1" "crsnap restore: not restored: " "$sock" "$2"
    has "$1" "crsnap restore: not restored: " "$pipe" "$2"
    if [ "$nrec" -le 5 ]; then
        has "$1" "crsnap restore: not restored: " "$child" "$2"
    else
        has "$1" "crsnap restore: not restored: " "and $((nrec - 5)) more (-v lists them all)" "$2"
    fi
}
# the log: the program's stderr, default CRSNAP_LOG; the first five, then how many more
n=50
while ! grep -q "not restorable: \(child\|and\)" "$T/run.err" && [ "$n" -gt 0 ]; do
    sleep 0.1; n=$((n - 1))
done
has "$T/run.err" "crsnap[$PID]: warning: not restorable: " "$sock" log
has "$T/run.err" "crsnap[$PID]: warning: not restorable: " "$pipe" log
if [ "$nrec" -le 5 ]; then
    has "$T/run.err" "crsnap[$PID]: warning: not restorable: " "$child" log
else
    has "$T/run.err" "crsnap[$PID]: warning: not restorable: " \
        "and $((nrec - 5)) more (crsnap info $IMG lists them)" log
fi
"$CRSNAP_BIN" info --json "$IMG" >"$T/info.json" || fail "crsnap info --json failed"
"$PY" - "$T/info.json" "$sockfd" "$port" "$pipefd" "$cpid" "$cport" <<'PYEOF' || fail "info --json: $(cat "$T/info.json")"
import json, sys
j = json.load(open(sys.argv[1]))
sockfd, port, pipefd, cpid, cport = sys.argv[2:7]
want = [
    {"kind": "fd", "fd": int(sockfd),
     "what": "socket 127.0.0.1:%s connected to 127.0.0.1:%s (TCP)" % (cport, port)},
    {"kind": "fd", "fd": int(pipefd), "what": "pipe to child process %s (sleep)" % cpid},
    {"kind": "child", "pid": int(cpid), "what": "child process %s (sleep)" % cpid},
]
got = j["not_restored"]
missing = [w for w in want if w not in got]
if missing:
    sys.exit("missing %s in %s" % (missing, got))
PYEOF

if [ -n "${CRSNAP_SANITIZED:-}" ]; then
    echo "logged and listed (restore -n needs an unsanitized build: the sanitizers' shadow is in the way)"
    exit 0
fi
# while the program still holds its listening socket, a restore could not bind it again:
# refused before anything is done, and said; --force goes on without it
restore busy -n "$IMG"
[ "$RC" = 1 ] || fail "restore -n with the port taken exited $RC"
grep -q "^crsnap restore: descriptor [0-9]*, a socket listening on 127.0.0.1:$port, cannot have its address again: Address already in use$" "$T/busy.err" ||
    fail "restore -n with the port taken said: $(cat "$T/busy.err")"
restore forced -n --force "$IMG"
[ "$RC" = 0 ] || fail "restore -n --force with the port taken exited $RC"
grep -q "^crsnap restore: warning: descriptor [0-9]*, a socket listening on 127.0.0.1:$port" "$T/forced.err" ||
    fail "restore -n --force said: $(cat "$T/forced.err")"

kill_now "$PID" run
# the dry run says what it leaves out
restore dry -n "$IMG"
[ "$RC" = 0 ] || fail "restore -n exited $RC"
said "$T/dry.err" "restore -n"
# the restore, in the background (the restored program waits forever); its stderr is checked
# once it has said what it left out
"$CRSNAP_BIN" restore -q "$IMG" >"$T/restored.out" 2>"$T/restored.err" &
RPID=$!
PIDS="$PIDS $RPID"
n=100
while ! grep -q "not restored: \(child\|and\)" "$T/restored.err" && [ "$n" -gt 0 ]; do
    sleep 0.1; n=$((n - 1))
done
said "$T/restored.err" restore
sleep 0.3
kill -0 "$RPID" 2>/dev/null || fail "the restored program ended"
! grep -q "changed since" "$T/restored.err" || fail "restore warned: $(cat "$T/restored.err")"
! grep -v "^crsnap restore: not restored: " "$T/restored.err" ||
    fail "restore said more: $(cat "$T/restored.err")"
echo "unsaved: logged at the checkpoint, listed by info, said by restore"
