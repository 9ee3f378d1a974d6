#!/bin/sh
# tests/image/tools.sh - `crsnap verify`, `crsnap info` and `crsnap ls` on real images: exit
# statuses, what they print, damaged and unfinished images in a listing, the progress line on
# a terminal only. usage: tools.sh MAKE_IMAGE
set -u
MK=$1
B=$CRSNAP_BIN
D=$CRSNAP_TEST_TMP/image/tools
rm -rf "$D"
mkdir -p "$D"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect STATUS CMD...: runs CMD, output in $D/out and $D/err
    want=$1; shift
    "$@" >"$D/out" 2>"$D/err"
    got=$?
    [ "$got" = "$want" ] || { cat "$D/err" >&2; fail "$* exited $got, expected $want"; }
}

"$MK" "$D/ckpt-000001.crsnap" "$D" 1 || fail "make_image 1"
"$MK" "$D/ckpt-000002.crsnap" "$D" 2 || fail "make_image 2"
img=$D/ckpt-000002.crsnap

# verify: sound image
expect 0 "$B" verify "$img"
grep -q ": ok, " "$D/out" || fail "verify prints no ok line"
[ -s "$D/err" ] && fail "verify wrote to stderr when it is not a terminal"
expect 0 "$B" verify -q "$img"
[ -s "$D/out" ] && fail "verify -q printed something"

# info, text and JSON
expect 0 "$B" info "$img"
for w in program threads regions memory size pause fds; do
    grep -q "^$w " "$D/out" || fail "info lacks a '$w' line"
done
grep -q "image_make" "$D/out" || fail "info does not name the program"
grep -q "pipe .*(12 bytes waiting)" "$D/out" || fail "info does not show the bytes waiting in the pipe"
grep -q "gone.tmp (deleted) (contents saved: 33 B)" "$D/out" ||
    fail "info does not show the saved contents of the file with no name"
expect 0 "$B" info --json "$img"
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["seq"]==2 and d["memory_saved"]>0 and d["threads"][0]["main"]' "$D/out" ||
        fail "info --json is not the expected JSON"
fi

# usage and help
for c in verify info ls; do
    expect 0 "$B" $c --help
    grep -q "^usage: crsnap $c" "$D/out" || fail "$c --help"
    expect 2 "$B" $c
    expect 2 "$B" $c --no-such-option x
done
expect 1 "$B" ls "$D/nonexistent"
[ "$(wc -l <"$D/err")" = 1 ] || fail "ls on a missing directory: not one line"

# ls: newest first, damaged and unfinished ones listed as such
head -c 5000 "$img" >"$D/ckpt-000003.crsnap"
echo partial >"$D/.ckpt-000004.crsnap.tmp-99999999"
echo unrelated >"$D/notes.txt"
expect 0 "$B" ls "$D"
[ "$(wc -l <"$D/out")" = 5 ] || { cat "$D/out"; fail "ls: expected a header and 4 lines"; }
sed -n 2p "$D/out" | grep -q "incomplete: .ckpt-000004" || fail "ls: unfinished image not first"
sed -n 3p "$D/out" | grep -q "damaged: ckpt-000003.crsnap: truncated" || fail "ls: damaged image"
sed -n 4p "$D/out" | grep -q "^ *2 .*image_make" || fail "ls: image 2"
sed -n 5p "$D/out" | grep -q "^ *1 " || fail "ls: image 1"
grep -q notes "$D/out" && fail "ls lists other files"

# a damaged image: one line, exit 1
expect 1 "$B" verify "$D/ckpt-000003.crsnap"
[ "$(wc -l <"$D/err")" = 1 ] || fail "verify: not one line"
grep -q "^crsnap verify: .*ckpt-000003.crsnap: truncated: trailer missing (file is 5000 bytes)$" "$D/err" ||
    fail "verify message: $(cat "$D/err")"

# the progress line appears on a terminal, and only there
if command -v script >/dev/null; then
    script -qec "$B verify $img" /dev/null >"$D/tty" 2>&1
    grep -q "verified .* of " "$D/tty" || fail "no progress line on a terminal"
fi
exit 0
