#!/bin/sh
# Images on other file systems: tmpfs, overlayfs, ramfs (which refuses O_DIRECT), and a ring
# whose writes the file system refuses: each checkpoint succeeds and verifies, and the job's
# log says once, not at every checkpoint, which fallback the writer took. A full file system
# and a directory that vanished are clean checkpoint failures (the program goes on, nothing
# is left behind, the older image stays). Mounts need root: they are made in a private mount
# namespace, so nothing outside the test sees them.
# usage: writer_fs.sh STEPS
. "$(dirname "$0")/lib.sh"
STEPS=$1
if [ -z "${WRITER_FS_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: mounting test file systems needs root" >&2; exit 77; }
    command -v unshare >/dev/null 2>&1 || { echo "SKIP: no unshare" >&2; exit 77; }
    rm -rf "$T"
    WRITER_FS_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi

# start NAME DIR [ENV...]: the steps program with 3 MiB of ballast under crsnap run, writing
# images into DIR (a checkpoint every 0.2 s); its log in $T/NAME.err.
start() {
    name=$1 dir=$2
    shift 2
    env STEPS_BALLAST_MB=3 "$@" "$CRSNAP_BIN" run -d "$dir" -i 0.2 "$STEPS" 100000 10 \
        >/dev/null 2>"$T/$name.err" &
    pid=$!
    CLEANUP_PIDS="$CLEANUP_PIDS $pid"
    wait_for "$CRSNAP_SOCKET_DIR/$pid.sock"
}
# images NAME DIR N: waits until DIR has had N checkpoints (at least N images there), verifies
# the newest, stops the program.
images() {
    n=200
    while [ "$(count "$2")" -lt "$3" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    [ "$(count "$2")" -ge "$3" ] || fail "$1: $(count "$2") images in $2: $(cat "$T/$1.err")"
    sleep 1                                  # a few more checkpoints, for the "once"
    kill -KILL $pid; wait $pid 2>/dev/null
    run_cmd 0 "$CRSNAP_BIN" verify "$2/$(ls "$2" | grep '^ckpt-.*\.crsnap$' | sort | tail -n 1)"
}
# once NAME TEXT: the log has TEXT on exactly one line.
once() {
    got=$(grep -cF -- "$2" "$T/$1.err")
    [ "$got" = 1 ] || fail "$1: '$2' said $got times: $(cat "$T/$1.err")"
}

trap 'for m in tmpfs ramfs full ovl/m; do umount "$T/$m" 2>/dev/null; done; cleanup' EXIT
mkdir -p "$T/tmpfs" "$T/ramfs" "$T/full" "$T/ovl/lower" "$T/ovl/upper" "$T/ovl/work" "$T/ovl/m"
mount -t tmpfs none "$T/tmpfs" || { echo "SKIP: cannot mount tmpfs" >&2; exit 77; }
mount -t ramfs none "$T/ramfs" || { echo "SKIP: cannot mount ramfs" >&2; exit 77; }
mount -t tmpfs -o size=2m none "$T/full" || exit 1
mount -t overlay overlay -o "lowerdir=$T/ovl/lower,upperdir=$T/ovl/upper,workdir=$T/ovl/work" \
    "$T/ovl/m" || { echo "SKIP: cannot mount overlayfs" >&2; exit 77; }

# tmpfs and overlayfs: images as on disk, nothing to complain about (CRSNAP_LOG=1 shows the
# path taken, once).
for fs in tmpfs ovl/m; do
    name=$(echo "$fs" | tr / _)
    start "$name" "$T/$fs/imgs" CRSNAP_LOG=1
    images "$name" "$T/$fs/imgs" 3
    once "$name" "images in $T/$fs/imgs are written"
    grep -q "note:" "$T/$name.err" && fail "$name: a fallback on $fs: $(cat "$T/$name.err")"
done

# ramfs refuses O_DIRECT: buffered writes, said once, at the default log level.
start ramfs "$T/ramfs/imgs"
images ramfs "$T/ramfs/imgs" 3
once ramfs "note: the file system of $T/ramfs/imgs refuses O_DIRECT"

# Ring writes refused (the test hook puts a flag on them that the kernel rejects): pwrite.
start ring "$T/tmpfs/ring" CRSNAP_TEST_URING_RWF=2147483648
images ring "$T/tmpfs/ring" 3
once ring "note: images in $T/tmpfs/ring are written with pwrite, not io_uring"

# A full file system: the checkpoint fails cleanly, the program goes on, no temp file stays.
start full "$T/full/imgs"
n=100
while ! grep -q "checkpoint failed" "$T/full.err" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
has "$T/full.err" "No space left on device"
kill -0 $pid || fail "the program died when its file system was full"
kill -KILL $pid; wait $pid 2>/dev/null
# (a snapshot child of the killed program may still be cleaning up its temp file)
leftovers() { ls -A "$T/full/imgs" | grep -v '^latest$' | grep -v '^ckpt-.*\.crsnap$'; }
n=50
while [ -n "$(leftovers)" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
[ -z "$(leftovers)" ] || fail "leftovers in the full directory: $(ls -a "$T/full/imgs")"

# The directory vanishes (and its name becomes a file): failures, the program goes on.
start gone "$T/tmpfs/gone"
n=100
while [ "$(count "$T/tmpfs/gone")" -lt 1 ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
# (a checkpoint between the two may make the directory again: until the name is a file)
until [ -f "$T/tmpfs/gone" ]; do rm -rf "$T/tmpfs/gone"; : 2>/dev/null >"$T/tmpfs/gone"; done
n=300                                   # (a loaded machine may be slow to try again)
while ! grep -q "checkpoint failed" "$T/gone.err" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
has "$T/gone.err" "checkpoint failed"
kill -0 $pid || fail "the program died when its image directory vanished"
kill -KILL $pid; wait $pid 2>/dev/null
exit 0
