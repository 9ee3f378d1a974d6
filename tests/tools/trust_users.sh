#!/bin/sh
# Restore trusts only the restoring user's own images, where no one else could have put them:
# U2 plants images for U1 (a world-writable directory, a sticky one), U1's restore refuses them
# and says why, restore -n as well, --trust-image proceeds; restore DIR picks U1's newest own
# image over U2's higher-numbered one; root refuses U1's image. Needs root to make the users
# (skips otherwise).
# usage: trust_users.sh PROBE
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/unpriv.sh"
. "$(dirname "$0")/../lib/trust.sh"
unpriv_setup "$1"
PROBE=$U_DIR/$(basename "$1")
C=$U_CRSNAP

H=$U_DIR/u1
mkdir -m 755 "$H" "$H/imgs"
chown "$U1:$U1" "$H" "$H/imgs"
# (as_user's own way, but not through a function: $! must be the program's pid)
setpriv --reuid="$U1" --regid="$U1" --init-groups --reset-env \
    env -i HOME=/nonexistent PATH=/usr/bin:/bin CRSNAP_LIB="$U_LIB" \
    ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} \
    sh -c 'exec "$0" run -d "$1" "$2" sleep 60 >"$3" 2>&1' "$C" "$H/imgs" "$PROBE" "$H/prog.out" &
pid=$!
CLEANUP_PIDS=$pid
checkpoint_retry "$pid" as_user "$U1" "$C"
kill -KILL "$pid"
wait "$pid" 2>/dev/null

# u1_run ARGS...: `crsnap ARGS` as U1, output in $T/out and $T/err; killed after 30 s (a hang
# is a failure, not a stuck suite)
u1_run() {
    timeout 30 setpriv --reuid="$U1" --regid="$U1" --init-groups --reset-env \
        env -i PATH=/usr/bin:/bin ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} \
        "$C" "$@" >"$T/out" 2>"$T/err"
}
# u1 STATUS ARGS...: u1_run, status checked
u1() {
    want=$1; shift
    u1_run "$@"
    got=$?
    [ "$got" = "$want" ] || fail "U1: 'crsnap $*' exited $got, expected $want"
}
# u1_dry WANT ARGS...: U1's `crsnap restore -n ARGS` accepts (see dry_accepted).
u1_dry() {
    want=$1; shift
    u1_run restore -n "$@"
    dry_accepted "$want" $? "$@"
}
u1_dry "$IMG" "$IMG"

# plant FILE: a copy of U1's image that U2 owns (and made readable, as a planter would)
plant() {
    cp "$IMG" "$1" && chown "$U2:$U2" "$1" && chmod 644 "$1" || fail "cannot plant $1"
}

# (a) a world-writable directory that is not sticky: nothing in it is trusted, whoever owns it
W=$U_DIR/shared
mkdir -m 777 "$W"
plant "$W/ckpt-000009.crsnap"
as_user "$U1" cp "$IMG" "$W/ckpt-000001.crsnap" || fail "U1 cannot copy into $W"
for img in "$W/ckpt-000009.crsnap" "$W/ckpt-000001.crsnap" "$W"; do
    u1 4 restore -n "$img"
    has "$T/err" "refusing $img: directory $W is writable by its group and others (and not sticky)"
    has "$T/err" "if you know where this one comes from, --trust-image restores it anyway"
    [ -s "$T/out" ] && fail "a refused dry run printed '$(cat "$T/out")'"
done
u1 4 restore "$W/ckpt-000009.crsnap"
u1_dry "$W/ckpt-000009.crsnap" --trust-image "$W/ckpt-000009.crsnap"
has "$T/err" "warning: trusting"
# with the option, a DIR restores its newest image, whoever made it
u1_dry "$W/ckpt-000009.crsnap" --trust-image "$W"

# (b) a sticky directory: U1's own image is trusted, U2's planted one is not
S=$U_DIR/sticky
mkdir -m 1777 "$S"
as_user "$U1" cp "$IMG" "$S/ckpt-000001.crsnap" || fail "U1 cannot copy into $S"
plant "$S/ckpt-000005.crsnap"
u1_dry "$S/ckpt-000001.crsnap" "$S/ckpt-000001.crsnap"
u1 4 restore -n "$S/ckpt-000005.crsnap"
has "$T/err" "refusing $S/ckpt-000005.crsnap: it is owned by user $U2 (uid $(id -u "$U2")), not by you"

# (c) restore DIR picks U1's newest own image, passing over U2's higher-numbered one, and a
# FIFO U2 made (e) hangs nothing
as_user "$U2" mkfifo -m 666 "$S/ckpt-999999.crsnap" || fail "U2 cannot make a FIFO in $S"
u1_dry "$S/ckpt-000001.crsnap" "$S"
has "$T/err" "passing over ckpt-000005.crsnap: it is owned by user $U2"
u1 0 ls "$S"
has "$T/out" "ckpt-000005.crsnap  (not trusted: it is owned by user $U2"
grep "ckpt-000001.crsnap" "$T/out" | grep -q "not trusted" && fail "ls: U1's own image marked"
u1 1 info "$S/ckpt-999999.crsnap"
u1 1 verify "$S/ckpt-999999.crsnap"
rm "$S/ckpt-000001.crsnap"
u1 4 restore -n "$S"
has "$T/err" "none of its images is yours: ckpt-000005.crsnap: it is owned by user $U2"

# (d) a symlinked DIR is refused; a `latest` U2 made is not followed
as_user "$U1" ln -s "$H/imgs" "$H/link" || fail "ln"
u1 4 restore -n "$H/link"
has "$T/err" "symbolic link to a directory"
as_user "$U1" cp "$IMG" "$S/ckpt-000002.crsnap"
as_user "$U2" ln -s ckpt-000002.crsnap "$S/latest" || fail "U2 cannot make a link in $S"
u1 4 restore -n "$S/latest"
has "$T/err" "is a symbolic link owned by user $U2"
u1_dry "$S/ckpt-000002.crsnap" "$S/ckpt-000002.crsnap"

# (f) root does not restore U1's image either
run_cmd 4 "$C" restore -n "$IMG"
has "$T/err" "directory $H is owned by user $U1"
mkdir -m 755 "$U_DIR/root"
cp -p "$IMG" "$U_DIR/root/ckpt-000001.crsnap"
run_cmd 4 "$C" restore -n "$U_DIR/root/ckpt-000001.crsnap"
has "$T/err" "it is owned by user $U1 (uid $(id -u "$U1")), not by root"
run_cmd 4 "$C" restore -n "$U_DIR/root"
echo ok
