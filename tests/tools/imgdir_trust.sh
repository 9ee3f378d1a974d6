#!/bin/sh
# The image writer, run by an ordinary user, trusts only a directory of that user's own:
# (a) a DIR owned by someone else or writable by others (/tmp included) and (b) a DIR that is a
# symbolic link are refused at each checkpoint with a message that says what to do, while the
# program runs on; (c) links planted at the temporary names of earlier versions neither block
# a checkpoint nor lead it outside DIR; (d) retention deletes only this job's images (another
# job's, an image without a job id and a FIFO named like an image stay); (e) two jobs
# checkpointing into one DIR at once, and two restores of one image continuing there, never
# overwrite an image: every name is distinct, every image sound, each header's number its
# name's; (f) a read-only DIR is reported as read-only, exit 1, not as another user's.
# usage: imgdir_trust.sh PROBE
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/unpriv.sh"
unpriv_setup "$1"
P=$U_DIR/$(basename "$1")
H=$U_DIR/home                       # U1's own place
mkdir -m 700 "$H" && chown "$U1:" "$H" || fail "cannot make U1's directory"
U_ENV="CRSNAP_SOCKET_DIR=$H/sock"
u1() { as_user "$U1" "$@"; }
# $U1_BG CMD... &: as_user's command line, spelled out so that $! is CMD's own pid (a function
# run in the background would be a subshell).
u1_bg() {
    U1_BG="setpriv --reuid=$U1 --regid=$U1 --init-groups --reset-env env -i HOME=/nonexistent"
    U1_BG="$U1_BG PATH=/usr/local/bin:/usr/bin:/bin CRSNAP_LIB=$U_LIB"
    U1_BG="$U1_BG ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${U_ENV:-}"
}
u1mkdir() { mkdir -m "${2:-700}" "$1" && chown "$U1:" "$1" || fail "mkdir $1"; }

# start DIR [RUN OPTION...]: U1 runs the probe under `crsnap run -d DIR`; sets PID.
start() {
    start_dir=$1; shift
    u1_bg
    $U1_BG "$U_CRSNAP" run -d "$start_dir" "$@" "$P" sleep 120 >>"$T/prog.out" 2>>"$T/prog.err" &
    PID=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $PID"
    wait_for "$H/sock/$PID.sock"
}
stop() { kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
# ckpt PID: a checkpoint that must succeed; IMG is its path.
ckpt() {
    run_cmd 0 u1 "$U_CRSNAP" checkpoint -w "$1"
    IMG=$(cat "$T/out")
    [ -f "$IMG" ] || fail "checkpoint -w printed '$IMG', not an image"
}
images() { ls -A "$1" | grep -c '^ckpt-.*\.crsnap$'; }

# refused DIR TEXT: U1's checkpoint into DIR fails (exit 1) saying TEXT, and the program runs on.
refused() {
    start "$1"
    run_cmd 1 u1 "$U_CRSNAP" checkpoint -w "$PID"
    has "$T/err" "$2"
    has "$T/err" "use a directory of your own"
    kill -0 "$PID" 2>/dev/null || fail "the program ended after a refused checkpoint"
    stop "$PID"
}

# (a) someone else's directory, a directory others can write into, /tmp itself
echo "imgdir_trust: (a)"
u2uid=$(id -u "$U2")
mkdir -m 777 "$U_DIR/u2open" && chown "$U2:" "$U_DIR/u2open" && chmod 777 "$U_DIR/u2open"
refused "$U_DIR/u2open" "belongs to uid $u2uid, not to you"
u1mkdir "$H/open" 777
chmod 777 "$H/open"
refused "$H/open" "is writable by group and others (mode 0777)"
u1mkdir "$H/group" 770
chmod 770 "$H/group"
refused "$H/group" "is writable by group (mode 0770)"
refused /tmp "is shared: others can write into it (mode 1777"
for d in "$U_DIR/u2open" "$H/open" "$H/group"; do
    [ -z "$(ls -A "$d")" ] || fail "a refused checkpoint left files in $d: $(ls -A "$d")"
done

# (b) a symbolic link at DIR, even to a directory of U1's own
echo "imgdir_trust: (b)"
u1mkdir "$H/real"
ln -s "$H/real" "$H/link" && chown -h "$U1:" "$H/link"
start "$H/link"
run_cmd 1 u1 "$U_CRSNAP" checkpoint -w "$PID"
has "$T/err" "image directory $H/link is a symbolic link"
kill -0 "$PID" 2>/dev/null || fail "the program ended after a refused checkpoint"
stop "$PID"
[ -z "$(ls -A "$H/real")" ] || fail "images went through the link: $(ls -A "$H/real")"

# A DIR that crsnap run makes is U1's alone.
start "$H/imgs"
[ "$(stat -c %a "$H/imgs")" = 700 ] || fail "crsnap run made DIR with mode $(stat -c %a "$H/imgs")"

# (c) links at every temporary name earlier versions would use (the snapshot child's pid is
echo "imgdir_trust: (c)"
# a little above the program's), pointing outside DIR
echo victim >"$H/victim"
chown "$U1:" "$H/victim"
python3 - "$H/imgs" "$H/victim" "$PID" <<'EOF' || fail "cannot plant the links"
import os, sys
d, victim, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
for p in range(pid, pid + 2000):
    for s in (1, 2, 3):
        os.symlink(victim, "%s/.ckpt-%06d.crsnap.tmp-%d" % (d, s, p))
    os.symlink(victim, "%s/.latest.tmp-%d" % (d, p))
EOF
planted=$(ls -A "$H/imgs" | grep -c tmp-)
for n in 1 2 3; do
    ckpt "$PID"
    [ "$IMG" = "$H/imgs/ckpt-00000$n.crsnap" ] || fail "checkpoint $n wrote $IMG"
done
[ "$(cat "$H/victim")" = victim ] || fail "the file the links point to changed"
[ "$(readlink "$H/imgs/latest")" = ckpt-000003.crsnap ] || fail "latest: $(readlink "$H/imgs/latest")"
[ "$(ls -A "$H/imgs" | grep -c tmp-)" = "$planted" ] || fail "temporary names left or removed"
stop "$PID"

# (d) retention (-k 1) in a directory shared by two jobs: each deletes only its own images
echo "imgdir_trust: (d)"
S=$H/shared
u1mkdir "$S"
mkfifo "$S/ckpt-000000.crsnap" && chown "$U1:" "$S/ckpt-000000.crsnap"
start "$S" -k 1 --full-every 1
A=$PID
start "$S" -k 1 --full-every 1
B=$PID
ckpt $A
# an image of an earlier version (no job id): its header's job id bytes (48..63) are zero
cp "$IMG" "$S/ckpt-000002.crsnap" && chown "$U1:" "$S/ckpt-000002.crsnap"
dd if=/dev/zero of="$S/ckpt-000002.crsnap" bs=1 seek=48 count=16 conv=notrunc 2>/dev/null
ckpt $B
ckpt $A
a_img=$IMG
ckpt $B
b_img=$IMG
[ -p "$S/ckpt-000000.crsnap" ] || fail "retention removed the FIFO"
[ -f "$S/ckpt-000002.crsnap" ] || fail "retention removed the image without a job id"
[ -f "$a_img" ] && [ -f "$b_img" ] || fail "retention removed a job's newest image: $(ls -A "$S")"
[ "$(images "$S")" = 4 ] || fail "expected the FIFO and 3 images, have: $(ls -A "$S")"
run_cmd 0 "$U_CRSNAP" info --json "$a_img"
has "$T/out" "\"pid\":$A,"
run_cmd 0 "$U_CRSNAP" info --json "$b_img"
has "$T/out" "\"pid\":$B,"
stop $A
stop $B

# (e) two jobs checkpointing into one DIR at once (writes slowed, so that they overlap)
echo "imgdir_trust: (e)"
R=$H/race
u1mkdir "$R"
U_ENV="CRSNAP_SOCKET_DIR=$H/sock CRSNAP_TEST_WRITE_DELAY_MS=20"
start "$R" -k 0
A=$PID
start "$R" -k 0
B=$PID
U_ENV="CRSNAP_SOCKET_DIR=$H/sock"
# all_sound DIR COUNT: COUNT images, each sound, each header numbered as its name
all_sound() {
    [ "$(images "$1")" = "$2" ] || fail "expected $2 images in $1, have: $(ls -A "$1")"
    for f in "$1"/ckpt-*.crsnap; do
        run_cmd 0 "$U_CRSNAP" verify "$f"
        run_cmd 0 "$U_CRSNAP" info --json "$f"
        n=$(basename "$f" .crsnap | sed 's/^ckpt-0*//')
        has "$T/out" "\"seq\":$n,"
    done
}
# race ROUNDS PID1 PID2 [WHAT]: ROUNDS times, U1 checkpoints PID1 and PID2 at once; both
# succeed and are published under different names (the last ones in $T/a.out and $T/b.out).
race() {
    round=0
    while [ $round -lt "$1" ]; do
        u1 "$U_CRSNAP" checkpoint -w $2 >"$T/a.out" 2>"$T/a.err" &
        ca=$!
        u1 "$U_CRSNAP" checkpoint -w $3 >"$T/b.out" 2>"$T/b.err" &
        cb=$!
        wait $ca || fail "checkpoint of ${4:-}$2 failed: $(cat "$T/a.err")"
        wait $cb || fail "checkpoint of ${4:-}$3 failed: $(cat "$T/b.err")"
        [ "$(cat "$T/a.out")" != "$(cat "$T/b.out")" ] ||
            fail "both were published as $(cat "$T/a.out")"
        round=$((round + 1))
    done
}
race 6 $A $B
all_sound "$R" 12
ckpt $A
first=$IMG
stop $A
stop $B

# ... and two restores of one image, continuing in that DIR
echo "imgdir_trust: ... and two restores"
# (a restore cannot run under the sanitizers, whose shadow memory sits where it must map)
if [ -z "${CRSNAP_SANITIZED:-}" ]; then
    # --new-pid: each restore is the restored process, whose control socket its pid names.
    for k in 1 2; do
        u1_bg
        $U1_BG "$U_CRSNAP" restore -q --new-pid "$first" >"$T/restored$k.out" 2>"$T/restored$k.err" &
        eval "R$k=\$!"
        CLEANUP_PIDS="$CLEANUP_PIDS $!"
    done
    for r in $R1 $R2; do
        n=100
        while [ ! -e "$H/sock/$r.sock" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        [ -e "$H/sock/$r.sock" ] || fail "restored $r has no control socket: $(cat "$T"/restored*.err)"
    done
    race 3 $R1 $R2 "restored "
    all_sound "$R" 19
    latest=$(readlink "$R/latest")
    [ "$R/$latest" = "$(cat "$T/a.out")" ] || [ "$R/$latest" = "$(cat "$T/b.out")" ] ||
        fail "latest is $latest, not the newest image of this job"
    stop $R1
    stop $R2
fi

# (f) a read-only DIR: said so, exit 1 (not 4, not "another user")
echo "imgdir_trust: (f)"
u1mkdir "$H/ro"
start "$H/ro"
chmod 555 "$H/ro"
run_cmd 1 u1 "$U_CRSNAP" checkpoint -w "$PID"
has "$T/err" "image directory $H/ro is not writable: read-only (mode 0555)"
grep -q "belongs to" "$T/err" && fail "a read-only DIR reported as another user's"
stop "$PID"
# ... and a read-only file system, made in a mount namespace of the program's own
if command -v unshare >/dev/null && command -v nsenter >/dev/null &&
    unshare -m true 2>/dev/null; then
    echo "imgdir_trust: (f) read-only file system"
    u1mkdir "$H/rofs"
    u1_bg
    unshare -m --propagation private sh -c "mount -t tmpfs -o size=8m,mode=700,uid=$(id -u "$U1") \
        none '$H/rofs' && exec $U1_BG '$U_CRSNAP' run -d '$H/rofs' '$P' sleep 120" \
        >>"$T/prog.out" 2>>"$T/prog.err" &
    PID=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $PID"
    wait_for "$H/sock/$PID.sock"
    nsenter -t "$PID" -m mount -o remount,ro "$H/rofs" || fail "cannot remount read-only"
    run_cmd 1 u1 "$U_CRSNAP" checkpoint -w "$PID"
    has "$T/err" "image directory $H/rofs is not writable: read-only file system"
    stop "$PID"
fi
echo "imgdir_trust: ok"
