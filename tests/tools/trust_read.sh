#!/bin/sh
# What `crsnap restore`, `ls`, `info` and `verify` believe when they read a directory of images,
# as whichever user runs the suite: restore DIR chooses by the number in the name, passes over
# damaged images, FIFOs and symlinks named like images, refuses a symlinked DIR, follows
# `latest` only as the writer makes it, and refuses an image in a directory others can write
# (unless sticky) or that others can write, unless --trust-image; nothing hangs on a FIFO or a
# symlink loop; strings from an image never reach the terminal raw, and --json is valid UTF-8.
# usage: trust_read.sh PROBE MAKE_IMAGE
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/trust.sh"
PROBE=$1
MK=$2
B=$CRSNAP_BIN
D=$T/imgs
mkdir -m 755 "$D"
chmod 755 "$T"

# Two real images of a program started by `crsnap run`.
"$B" run -d "$D" "$PROBE" sleep 60 >"$T/prog.out" 2>"$T/prog.err" &
pid=$!
CLEANUP_PIDS=$pid
# dry_ok WANT ARGS...: `crsnap restore -n ARGS` accepts (see dry_accepted).
dry_ok() {
    want=$1; shift
    timeout 30 "$B" restore -n "$@" >"$T/out" 2>"$T/err"
    dry_accepted "$want" $? "$@"
}
checkpoint_retry "$pid" "$B"; IMG1=$IMG
checkpoint_retry "$pid" "$B"; IMG2=$IMG
kill -KILL "$pid"
wait "$pid" 2>/dev/null
[ "$IMG1" != "$IMG2" ] || fail "two checkpoints, one image"
N1=$(basename "$IMG1")
N2=$(basename "$IMG2")

# the newest by name is restorable
dry_ok "$D/$N2" "$D"

# by the name, not by the sequence number in the header: image 1 under a higher name wins
cp -p "$IMG1" "$D/ckpt-000050.crsnap"
dry_ok "$D/ckpt-000050.crsnap" "$D"
rm "$D/ckpt-000050.crsnap"

# damaged, FIFO and symlink images with higher numbers are passed over, said so, never hang
head -c 5000 "$IMG2" >"$D/ckpt-000060.crsnap"
chmod 600 "$D/ckpt-000060.crsnap"
mkfifo -m 600 "$D/ckpt-999999.crsnap"
ln -s "$N1" "$D/ckpt-999998.crsnap"
dry_ok "$D/$N2" "$D"
has "$T/err" "passing over ckpt-999999.crsnap: not a regular file"
has "$T/err" "passing over ckpt-999998.crsnap: a symbolic link, not an image"
has "$T/err" "passing over ckpt-000060.crsnap: truncated"
run_cmd 0 timeout 10 "$B" ls "$D"
grep -q "damaged: ckpt-999999.crsnap: not a regular file (a FIFO)" "$T/out" || fail "ls: FIFO: $(cat "$T/out")"
grep -q "damaged: ckpt-999998.crsnap: a symbolic link" "$T/out" || fail "ls: symlink: $(cat "$T/out")"
run_cmd 1 timeout 10 "$B" info "$D/ckpt-999999.crsnap"
has "$T/err" "not a regular file (a FIFO)"
run_cmd 1 timeout 10 "$B" verify "$D/ckpt-999999.crsnap"
run_cmd 1 timeout 10 "$B" restore -n "$D/ckpt-999999.crsnap"
has "$T/err" "not a regular file (a FIFO)"
# named, the user's own symlink to a name beside it is followed, as `latest` is
dry_ok "$D/ckpt-999998.crsnap" "$D/ckpt-999998.crsnap"
ln -s loop-b "$T/loop-a"
ln -s loop-a "$T/loop-b"
for c in info verify ls "restore -n"; do
    run_cmd 1 timeout 10 "$B" $c "$T/loop-a"
    has "$T/err" "symbolic link"
done
rm "$D/ckpt-000060.crsnap" "$D/ckpt-999999.crsnap" "$D/ckpt-999998.crsnap"

# a symlinked DIR is refused, with what to name instead
ln -s "$D" "$T/link"
run_cmd 4 "$B" restore -n "$T/link"
has "$T/err" "refusing $T/link: it is a symbolic link to a directory, which restore does not follow"
run_cmd 4 "$B" restore -n "$T/link/"

# `latest` as the writer makes it is followed; one that leads out of the directory is not
[ -L "$D/latest" ] || fail "the writer made no latest link"
dry_ok "$D/latest" "$D/latest"
ln -sfn "../imgs/$N1" "$D/latest"
run_cmd 4 "$B" restore -n "$D/latest"
has "$T/err" "not to an image in the same directory: name the image itself"
ln -sfn "$N1" "$D/latest"
if [ "$(id -u)" = 0 ]; then
    chown -h 65534 "$D/latest"
    run_cmd 4 "$B" restore -n "$D/latest"
    has "$T/err" "is a symbolic link owned by "
fi

# a directory others can write: refused, the reason and the way out said; --trust-image
chmod 777 "$D"
run_cmd 4 "$B" restore -n "$IMG2"
has "$T/err" "directory $D is writable by its group and others (and not sticky)"
has "$T/err" "--trust-image"
run_cmd 4 "$B" restore -n "$D"
run_cmd 4 "$B" restore "$D"
dry_ok "$IMG2" --trust-image "$IMG2"
chmod 775 "$D"
run_cmd 4 "$B" restore -n "$IMG2"
has "$T/err" "writable by its group"
# ... unless it is sticky (as /tmp): the user's own image there is theirs alone
chmod 1777 "$D"
dry_ok "$IMG2" "$IMG2"
chmod 755 "$D"
# a directory higher up that others can write is as bad
chmod 757 "$T"
run_cmd 4 "$B" restore -n "$IMG2"
has "$T/err" "directory $T is writable by others"
chmod 755 "$T"
# an image others can write
chmod 606 "$IMG2"
run_cmd 4 "$B" restore -n "$IMG2"
has "$T/err" "it is writable by others"
dry_ok "$IMG1" "$D"
has "$T/err" "passing over $N2: it is writable by others"
run_cmd 0 "$B" ls "$D"
has "$T/out" "$N2  (not trusted: it is writable by others)"
chmod 600 "$IMG2"

# strings from an image: escape sequences, C1 controls and invalid UTF-8 in the program name,
# an argument, the working directory and the directory of its files
bad=$(printf 'x\033]0;pwned\007\033[31m\302\233\377\376')
E="$T/$bad"
mkdir "$E" || fail "cannot make a directory with a hostile name"
ln -s "$MK" "$E/$(printf '\033[2Jmk')"
(cd "$E" && "./$(printf '\033[2Jmk')" "$E/ckpt-000001.crsnap" "$E" 1 0 "$bad") ||
    fail "make_image in $E"
I="$E/ckpt-000001.crsnap"
esc=$(printf '\033')
c1=$(printf '\302\233')
for c in "info" "verify" "ls"; do
    if [ "$c" = ls ]; then arg=$E; else arg=$I; fi
    run_cmd 0 "$B" $c "$arg"
    grep -q "$esc" "$T/out" "$T/err" && fail "$c printed a raw ESC: $(cat -v "$T/out")"
    grep -q "$c1" "$T/out" "$T/err" && fail "$c printed a raw C1 control"
    python3 -c 'import sys; sys.stdin.buffer.read().decode("utf-8")' <"$T/out" ||
        fail "$c printed invalid UTF-8"
done
run_cmd 0 "$B" info "$I"
has "$T/out" 'x\x1b]0;pwned\x07\x1b[31m\xc2\x9b\xff\xfe'
has "$T/out" '(\x1b[2Jmk)'
run_cmd 0 "$B" info --json "$I"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
assert d["argv"][-1] == "x\x1b]0;pwned\x07\x1b[31m\x9b\ufffd\ufffd", d["argv"]
assert d["comm"] == "\x1b[2Jmk", d["comm"]
assert "pwned" in d["cwd"]
' "$T/out" || fail "info --json: $(cat "$T/out")"
grep -q "$esc" "$T/out" && fail "info --json printed a raw ESC"
# a restore message that quotes the image
run_cmd 1 "$B" restore -n "$I"
grep -q "$esc" "$T/out" "$T/err" && fail "restore printed a raw ESC: $(cat -v "$T/err")"
run_cmd 1 "$B" verify "$E/nothing$bad"
grep -q "$esc" "$T/err" && fail "verify printed a raw ESC"
echo ok
