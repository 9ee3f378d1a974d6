#!/bin/sh
# `cmake --install` puts the command, both libraries, the header, the pkg-config file and both
# man pages in place; the installed crsnap finds the installed library by itself (even moved to
# another prefix), and a program built from the installed header and pkg-config file links.
# usage: install.sh BUILD_DIR PROBE
. "$(dirname "$0")/lib.sh"
BUILD=$1
PROBE=$2
P="$T/prefix"

run_cmd 0 cmake --install "$BUILD" --prefix "$P"
for f in bin/crsnap include/crsnap.h share/man/man1/crsnap.1 share/man/man3/crsnap.3; do
    [ -f "$P/$f" ] || fail "cmake --install did not install $f"
done
lib=$(ls -d "$P"/lib*/libcrsnap.so.0 "$P"/lib/*/libcrsnap.so.0 2>/dev/null | head -n 1)
[ -n "$lib" ] || fail "no libcrsnap.so.0 installed under $P"
libdir=$(dirname "$lib")
[ -f "$libdir/libcrsnap.a" ] || fail "libcrsnap.a not installed next to $lib"
[ -f "$libdir/pkgconfig/crsnap.pc" ] || fail "crsnap.pc not installed"

# The installed command preloads the installed library, not the build tree's.
unset CRSNAP_LIB
run_cmd 0 "$P/bin/crsnap" run "$PROBE" env
has_line "$T/out" "LD_PRELOAD=$(realpath "$lib")"

# The man pages render, and cover every subcommand and function.
if command -v man >/dev/null; then
    MANWIDTH=80 man -l "$P/share/man/man1/crsnap.1" >"$T/man1" 2>"$T/err" || fail "man crsnap.1"
    for c in run checkpoint restore info verify ls; do has "$T/man1" "crsnap $c"; done
    has "$T/man1" "EXIT STATUS"
    MANWIDTH=80 man -l "$P/share/man/man3/crsnap.3" >"$T/man3" 2>"$T/err" || fail "man crsnap.3"
    for f in crs_init crs_register crs_unregister crs_enter_cs crs_leave_cs crs_checkpoint \
             crs_request_checkpoint crs_last_checkpoint crs_unrestored_fds crs_restart_count; do
        has "$T/man3" "$f"
    done
fi

# A program compiled against the installed header and pkg-config file.
if [ -z "${CRSNAP_SANITIZED:-}" ] && command -v cc >/dev/null && command -v pkg-config >/dev/null; then
    printf '#include <crsnap.h>\nint main(void) { return crs_restart_count(); }\n' >"$T/use.c"
    PKG_CONFIG_PATH="$libdir/pkgconfig" run_cmd 0 sh -c \
        "cc -o '$T/use' '$T/use.c' \$(pkg-config --define-variable=prefix='$P' --cflags --libs crsnap)"
    LD_LIBRARY_PATH="$libdir" run_cmd 0 "$T/use"
fi
echo ok
