# tests/lib/unpriv.sh - run test steps as ordinary users, as most of crsnap's users are, and as a
# second user who plays the hostile neighbour. Sourced by a test script after its lib.sh; needs
# root to create the users (a test run without root skips with a message, exit 77).
#
# unpriv_setup [FILE...]   sets U1 and U2 (two unprivileged users, created when missing), U_DIR
#                          (a fresh 0755 directory outside the build tree, which an ordinary user
#                          may not be able to reach) holding copies of crsnap, libcrsnap.so and
#                          each FILE; U_CRSNAP and U_LIB name the copies. Removed on exit.
# as_user USER CMD [ARG...] runs CMD as USER with a clean environment (HOME, PATH, CRSNAP_LIB,
#                          and CRSNAP_* variables passed in U_ENV, a space-separated list of
#                          NAME=VALUE words).
UNPRIV_NAMES="crsnap-test crsnap-other"

unpriv_skip() {
    echo "SKIP: $*" >&2
    exit 77
}

unpriv_user() {
    id -u "$1" >/dev/null 2>&1 && return 0
    command -v useradd >/dev/null 2>&1 || unpriv_skip "no useradd to create the test user $1"
    useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh "$1" 2>/dev/null ||
        id -u "$1" >/dev/null 2>&1 || unpriv_skip "cannot create the test user $1"
}

unpriv_cleanup() {
    [ -n "${U_DIR:-}" ] && rm -rf "$U_DIR"
}

unpriv_setup() {
    [ "$(id -u)" = 0 ] || unpriv_skip "creating unprivileged test users needs root"
    command -v setpriv >/dev/null 2>&1 || unpriv_skip "no setpriv (util-linux) to switch users"
    for u in $UNPRIV_NAMES; do unpriv_user "$u"; done
    set -- $UNPRIV_NAMES "$@"
    U1=$1 U2=$2
    shift 2
    U_DIR=$(mktemp -d /tmp/crsnap-unpriv.XXXXXX) || exit 1
    chmod 755 "$U_DIR"
    cp "$CRSNAP_BIN" "$U_DIR/crsnap" && cp "$CRSNAP_LIB" "$U_DIR/libcrsnap.so" || exit 1
    for f in "$@"; do cp "$f" "$U_DIR/" || exit 1; done
    chmod -R a+rX "$U_DIR"
    U_CRSNAP=$U_DIR/crsnap
    U_LIB=$U_DIR/libcrsnap.so
    # Keep the cleanup of common.sh's scratch (its processes and directory), if it is in use.
    if command -v cleanup >/dev/null 2>&1; then
        trap 'unpriv_cleanup; cleanup' EXIT
    else
        trap unpriv_cleanup EXIT
    fi
}

as_user() {
    as_user_name=$1
    shift
    setpriv --reuid="$as_user_name" --regid="$as_user_name" --init-groups --reset-env \
        env -i HOME=/nonexistent PATH=/usr/local/bin:/usr/bin:/bin CRSNAP_LIB="$U_LIB" \
        ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${U_ENV:-} "$@"
}
