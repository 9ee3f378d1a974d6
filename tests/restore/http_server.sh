# http_server.sh - a real server comes back serving: python3's http.server, checkpointed while
# it serves, killed, restored; the restored process answers on the same port (its listening
# socket bound and listening again), and nothing about that socket is said to be lost.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skipped: no $PY"; exit 77; }
mkdir -p "$T/www"
echo "served by a restored process" >"$T/www/page.txt"
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# get NAME: fetches page.txt into $T/NAME.got, retrying for up to 10 s.
get() {
    "$PY" - "$port" "$T/$1.got" <<'PYEOF' || fail "GET $1 failed"
import sys, time, urllib.request
for i in range(100):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%s/page.txt" % sys.argv[1], timeout=5).read()
        open(sys.argv[2], "wb").write(body)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PYEOF
    same "$T/$1.got" "$T/www/page.txt"
}

start run "$PY" -m http.server --bind 127.0.0.1 --directory "$T/www" "$port"
get live
checkpoint "$PID"
kill_wait "$PID" "$T/nothing" # (it prints as it serves: no end to wait for)
"$CRSNAP_BIN" restore -q "$IMG" >"$T/restored.out" 2>"$T/restored.err" &
RPID=$!
PIDS="$PIDS $RPID"
get restored
get again
kill -0 "$RPID" 2>/dev/null || fail "the restored server ended"
! grep -q "listening" "$T/restored.err" || fail "restore said: $(cat "$T/restored.err")"
echo "http_server: the restored server serves on port $port"
