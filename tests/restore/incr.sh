#!/bin/sh
# incr.sh self|user chain|keep|every PROG - incremental images of incr.c, a program that rewrites,
# discards, moves and remaps its memory in rounds while a thread rewrites pages in a tight loop:
#   chain  six checkpoints: the first full, the others incremental and much smaller; info, ls
#          and verify say so; killed, restored from the newest, every page is what the program
#          wrote; the restored process's next image is full, the one after incremental on it,
#          and a restore from that is whole too. A moved directory restores; a missing, damaged
#          or replaced parent is refused before anything changes.
#   keep   -k 2: the images the two newest depend on are kept, and the newest restores.
#   every  --full-every 3, the default (incremental after the first), and 1 (every image full).
#   late   a chain taken while the runtime waits after each snapshot before it resets the
#          tracking (a test hook), so that much is written in between: restored whole.
# "user" runs it all as an unprivileged user (tests/lib/unpriv.sh; skipped without root).
. "$(dirname "$0")/lib.sh"
who=$1 mode=$2 PROG=$3
C=$CRSNAP_BIN
if [ "$who" = user ]; then
    . "$(dirname "$0")/../lib/unpriv.sh"
    unpriv_setup "$PROG"
    PROG=$U_DIR/$(basename "$PROG")
    C=$U_CRSNAP
    W=$U_DIR/work
    mkdir -m 700 "$W" "$W/sock" && chown -R "$U1:$U1" "$W" || fail "cannot make $W"
else
    W=$T/work
    mkdir -p "$W"
fi

as_who() {
    if [ "$who" = user ]; then
        setpriv --reuid="$U1" --regid="$U1" --init-groups --reset-env \
            env -i HOME=/nonexistent PATH=/usr/bin:/bin CRSNAP_LIB="$U_LIB" \
            CRSNAP_SOCKET_DIR="$W/sock" ${CRSNAP_FULL_EVERY:+CRSNAP_FULL_EVERY=$CRSNAP_FULL_EVERY} \
            ${CRSNAP_TEST_RESET_DELAY_MS:+CRSNAP_TEST_RESET_DELAY_MS=$CRSNAP_TEST_RESET_DELAY_MS} "$@"
    else
        "$@"
    fi
}

# bg CMD...: CMD as the test's user in the background, its pid in BG (the program's own:
# setpriv, env and crsnap run each exec the next).
bg() {
    out=$1 err=$2
    shift 2
    if [ "$who" = user ]; then
        setpriv --reuid="$U1" --regid="$U1" --init-groups --reset-env \
            env -i HOME=/nonexistent PATH=/usr/bin:/bin CRSNAP_LIB="$U_LIB" \
            CRSNAP_SOCKET_DIR="$W/sock" ${CRSNAP_FULL_EVERY:+CRSNAP_FULL_EVERY=$CRSNAP_FULL_EVERY} \
            ${CRSNAP_TEST_RESET_DELAY_MS:+CRSNAP_TEST_RESET_DELAY_MS=$CRSNAP_TEST_RESET_DELAY_MS} \
            "$@" >"$out" 2>"$err" &
    else
        "$@" >"$out" 2>"$err" &
    fi
    BG=$!
}

# run_prog OPTIONS...: the program under crsnap run, in the background; sets PID.
run_prog() {
    rm -f "$W/progress" "$W/check"
    bg "$T/run.out" "$T/run.err" "$C" run -d "$W/${IMGDIR:-imgs}" -s none "$@" -- "$PROG" "$W"
    PID=$BG
    PIDS="$PIDS $PID"
    wait_for "$W/progress"
}

# ckpt PID: a checkpoint, waited for; appends its path to IMGS.
ckpt() {
    IMG=$(as_who "$C" checkpoint -w "$1" 2>"$T/checkpoint.err") ||
        fail "checkpoint of $1 failed: $(cat "$T/checkpoint.err")"
    IMGS="$IMGS $IMG"
    sleep 0.2
}

# ckpt_restored PID: the same, retried while the restored process sets up its control socket.
ckpt_restored() {
    tries=0
    while ! IMG=$(as_who "$C" checkpoint -w "$1" 2>"$T/checkpoint.err"); do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || fail "the restored process does not take a checkpoint: $(cat "$T/checkpoint.err")"
        kill -0 "$1" 2>/dev/null || fail "the restored process is gone: $(cat "$T/restored.err")"
        sleep 0.1
    done
    IMGS="$IMGS $IMG"
    sleep 0.2
}

# parent_of IMG: the name of IMG's parent ("-" for a full image), from crsnap info --json.
parent_of() {
    as_who "$C" info --json "$1" >"$T/info.json" 2>"$T/info.err" || fail "info $1: $(cat "$T/info.err")"
    p=$(sed -n 's/.*"parent": *"\([^"]*\)".*/\1/p' "$T/info.json")
    echo "${p:--}"
}

# restored_ok NAME: the program restored (NAME) checked every kind of its memory
restored_ok() {
    n=$(grep -c ' ok$' "$W/result")
    grep -q BROKEN "$W/result" && fail "$1: restored memory differs: $(cat "$W/result")"
    [ "$n" = 5 ] || fail "$1: expected 5 checks, got: $(cat "$W/result") $(cat "$T/$1.err")"
}

# restore_check NAME IMG [extra work while it runs]: restore IMG in the background, let the
# program check its memory, wait.
restore_bg() {
    rm -f "$W/check" "$W/result"
    bg "$T/$1.out" "$T/$1.err" "$C" restore -q "$2"
    RPID=$BG
    PIDS="$PIDS $RPID"
}
restore_finish() {
    touch "$W/check"
    wait "$RPID"
    rc=$?
    [ "$rc" = 0 ] || fail "restore of $2 exited $rc: $(cat "$T/$1.err")"
    restored_ok "$1"
}

size() { stat -c %s "$1"; }

case "$mode" in
chain)
    run_prog --full-every 8
    IMGS=
    for i in 1 2 3 4 5 6; do ckpt "$PID"; done
    set -- $IMGS
    first=$1
    [ "$(parent_of "$first")" = - ] || fail "the first image of a run is incremental"
    full=$(size "$first")
    prev=$first
    shift
    for img in "$@"; do
        [ "$(parent_of "$img")" = "$(basename "$prev")" ] ||
            fail "$img: parent $(parent_of "$img"), not $(basename "$prev")"
        [ $(($(size "$img") * 2)) -lt "$full" ] ||
            fail "incremental $img is $(size "$img") bytes, the full one $full"
        prev=$img
    done
    newest=$prev
    as_who "$C" info "$newest" >"$T/info.txt" 2>&1 || fail "info on a chain"
    grep -q "^parent: *$(basename "$4")" "$T/info.txt" || fail "info says no parent: $(cat "$T/info.txt")"
    as_who "$C" verify "$newest" >"$T/verify.txt" 2>&1 || fail "verify on a chain: $(cat "$T/verify.txt")"
    as_who "$C" ls "$W/imgs" >"$T/ls.txt" 2>&1 || fail "ls"
    grep "$(basename "$newest")" "$T/ls.txt" | grep -q "incr" || fail "ls: $(cat "$T/ls.txt")"
    kill_wait "$PID" "$T/run.out"

    # moved elsewhere: parents are found next to the image
    as_who mkdir "$W/moved" || fail "mkdir"
    as_who cp -p "$W"/imgs/ckpt-*.crsnap "$W/moved/" || fail "cp"
    as_who "$C" restore -n "$W/moved/$(basename "$newest")" >"$T/n.out" 2>&1 ||
        fail "restore -n of a moved chain: $(cat "$T/n.out")"
    # a missing parent: refused, with its name
    as_who rm "$W/moved/$(basename "$3")"
    as_who "$C" restore -n "$W/moved/$(basename "$newest")" >"$T/n.out" 2>&1 &&
        fail "restore -n with a missing parent succeeded"
    grep -q "$(basename "$3").*missing" "$T/n.out" || fail "missing parent: $(cat "$T/n.out")"
    as_who "$C" verify "$W/moved/$(basename "$newest")" >"$T/n.out" 2>&1 &&
        fail "verify with a missing parent succeeded"
    # another image under the parent's name: refused
    as_who cp "$W/moved/$(basename "$2")" "$W/moved/$(basename "$3")"
    as_who "$C" restore -n "$W/moved/$(basename "$newest")" >"$T/n.out" 2>&1 &&
        fail "restore -n with a wrong parent succeeded"
    grep -q "not its parent" "$T/n.out" || fail "wrong parent: $(cat "$T/n.out")"
    # a damaged ancestor (a byte of its page data): refused before anything changes
    as_who cp -p "$W/imgs/$(basename "$3")" "$W/moved/"
    as_who sh -c "printf 'X' | dd of='$W/moved/$(basename "$first")' bs=1 seek=200 conv=notrunc 2>/dev/null"
    as_who "$C" restore "$W/moved/$(basename "$newest")" >"$T/n.out" 2>&1 &&
        fail "restore with a damaged ancestor succeeded"
    grep -q "damaged" "$T/n.out" || fail "damaged ancestor: $(cat "$T/n.out")"

    # the newest, whole; the restored process's next image is full, the one after on it
    restore_bg restored "$newest"
    IMGS=
    ckpt_restored "$RPID"
    ckpt "$RPID"
    set -- $IMGS
    [ "$(parent_of "$1")" = - ] || fail "the first image after a restore is incremental"
    [ "$(parent_of "$2")" = "$(basename "$1")" ] || fail "the second image after a restore: parent $(parent_of "$2")"
    restore_finish restored "$newest"
    restore_bg again "$2"
    sleep 0.3
    restore_finish again "$2"
    ;;
keep)
    run_prog -k 2 --full-every 8
    IMGS=
    for i in 1 2 3 4 5 6; do ckpt "$PID"; done
    kill_wait "$PID" "$T/run.out"
    for img in $IMGS; do [ -f "$img" ] || fail "retention deleted $img, which a kept image needs"; done
    # a full image starts a new chain: what only older chains need goes
    IMGDIR=imgs2
    run_prog -k 1 --full-every 2
    IMGS=
    for i in 1 2 3; do ckpt "$PID"; done
    kill_wait "$PID" "$T/run.out"
    set -- $IMGS
    [ ! -f "$1" ] && [ ! -f "$2" ] || fail "retention kept images no kept one needs"
    [ -f "$3" ] || fail "retention deleted the newest"
    n=$(ls "$W/imgs2" | grep -c '^ckpt-')
    [ "$n" = 1 ] || fail "retention kept $n images: $(ls "$W/imgs2")"
    restore_bg restored "$3"
    sleep 0.3
    restore_finish restored "$3"
    ;;
every)
    for v in 0 65 x; do
        as_who "$C" run -d "$W/imgs" --full-every "$v" -- true 2>"$T/fe.err"
        rc=$?
        [ "$rc" = 2 ] && grep -q "full-every" "$T/fe.err" ||
            fail "--full-every $v: exit $rc, $(cat "$T/fe.err")"
    done
    run_prog --full-every 3
    IMGS=
    for i in 1 2 3 4 5; do ckpt "$PID"; done
    kill_wait "$PID" "$T/run.out"
    set -- $IMGS
    got=
    for img in "$@"; do p=$(parent_of "$img"); got="$got ${p%%.crsnap}"; done
    b1=$(basename "$1" .crsnap) b2=$(basename "$2" .crsnap) b4=$(basename "$4" .crsnap)
    [ "$got" = " - $b1 $b2 - $b4" ] || fail "--full-every 3: parents$got"
    restore_bg restored "$5"
    sleep 0.3
    restore_finish restored "$5"
    # the default: incremental after the first
    IMGDIR=imgs-default
    run_prog
    IMGS=
    for i in 1 2 3; do ckpt "$PID"; done
    kill_wait "$PID" "$T/run.out"
    set -- $IMGS
    [ "$(parent_of "$1")" = - ] && [ "$(parent_of "$2")" = "$(basename "$1")" ] &&
        [ "$(parent_of "$3")" = "$(basename "$2")" ] || fail "by default the images are not incremental"
    IMGDIR=imgs-full
    export CRSNAP_FULL_EVERY=1
    run_prog
    unset CRSNAP_FULL_EVERY
    IMGS=
    for i in 1 2 3; do ckpt "$PID"; done
    kill_wait "$PID" "$T/run.out"
    for img in $IMGS; do [ "$(parent_of "$img")" = - ] || fail "CRSNAP_FULL_EVERY=1: $img is incremental"; done
    ;;
late)
    # the writer thread rewrites its 4 MiB many times over in 150 ms: a page it writes
    # between a snapshot and the reset must be in the next image too
    export CRSNAP_TEST_RESET_DELAY_MS=150
    run_prog --full-every 8
    unset CRSNAP_TEST_RESET_DELAY_MS
    IMGS=
    for i in 1 2 3 4 5 6; do ckpt "$PID"; done
    kill_wait "$PID" "$T/run.out"
    set -- $IMGS
    [ "$(parent_of "$6")" = "$(basename "$5")" ] || fail "the newest image is not incremental"
    restore_bg restored "$6"
    sleep 0.3
    restore_finish restored "$6"
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
echo "incremental images ($mode, $who): ok"
