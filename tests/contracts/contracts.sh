#!/bin/sh
# tests/contracts/contracts.sh - the code that runs in the forked snapshot child and in the
# restart entry may call only what is safe there (no malloc, no stdio, no locks; the restart
# entry nothing at all outside its own files). The rule is kept by the build: for each context,
# the external names its object files use must be in CONTEXT.allow beside this script, and every
# crs_ name they use must be defined by a file of the same context, so that a call into another
# file cannot slip past the check.
# Usage: contracts.sh "OBJECT;OBJECT;..."   (the image layer's objects, as CMake lists them)
set -u
here=$(dirname "$0")
command -v nm >/dev/null 2>&1 || { echo "SKIP: no nm" >&2; exit 77; }
objs=$(printf '%s\n' "$1" | tr ';' '\n')
failed=0

# objects_of FILE...: the objects built from these sources (paths relative to the project).
objects_of() {
    for src in "$@"; do
        o=$(printf '%s\n' "$objs" | grep "/$src\.o\$")
        [ -n "$o" ] || { echo "FAIL: no object for $src" >&2; failed=1; continue; }
        printf '%s\n' "$o"
    done
}

# check CONTEXT SOURCE...
check() {
    ctx=$1; shift
    set -- $(objects_of "$@")
    allow="$here/$ctx.allow"
    defined=$(nm --defined-only "$@" | awk 'NF == 3 {print $3}' | sort -u)
    used=$(nm -u "$@" | awk '$1 == "U" || $1 == "w" || $1 == "v" {print $2}' | sort -u)
    for name in $used; do
        case $name in
        crs_*)
            printf '%s\n' "$defined" | grep -qx "$name" ||
                { echo "FAIL: $ctx calls $name, defined outside the $ctx files" >&2; failed=1; } ;;
        __asan_*|__ubsan_*|__msan_*|__tsan_*|__hwasan_*|__sanitizer_*) ;;  # sanitizer builds
        *)
            grep -v '^#' "$allow" | grep -qx "$name" ||
                { echo "FAIL: $ctx calls $name, which is not in $ctx.allow" >&2; failed=1; } ;;
        esac
    done
    [ $failed = 0 ] && echo "$ctx: $# objects, $(printf '%s\n' "$used" | grep -vc '^crs_') outside names, all allowed"
}

# The snapshot child: the page walk, the writer, publication, and what they read of /proc.
check child snapshot/child.c snapshot/release.c snapshot/pool.c snapshot/walk.c snapshot/fault.c \
    snapshot/sections.c snapshot/publish.c snapshot/writer.c common/proc_util.c snapshot/proc_maps.c \
    snapshot/proc_fds.c snapshot/proc_process.c snapshot/proc_unsaved.c arch/x86_64/clone.S
# The restart entry: no TLS, no libc, the restorer's mappings going away under it.
check restart restart/restart.c arch/x86_64/clone.S arch/x86_64/context.S arch/x86_64/stack.S
exit $failed
