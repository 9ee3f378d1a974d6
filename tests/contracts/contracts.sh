#!/bin/sh
# tests/contracts/contracts.sh - the code that runs in the forked snapshot child and in the
# restart entry may call only what is safe there (no malloc, no stdio, no locks; the restart
# entry nothing at all outside its own files). The rule is kept by the build: for each context,
# the external names its object files use must be in CONTEXT.allow beside this script, and every
# crs_ name they use must be defined by a file of the same context, so that a call into another
# file cannot slip past the check.
# Code of the snapshot child may also sit in a file that holds code of other contexts (a kind of
# descriptor in fds/ has its child side beside its restore side): such functions are marked
# CRS_CHILD_CODE, which puts them in the section crs_child_text, and every reference made from
# that section, in any object, is checked the same way; a call from it into ordinary code of its
# own file fails. (tests/image/test_fdkinds.c checks that the table's child operations are in
# that section.)
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


# symbols OBJECT: "section name" for each symbol of the object.
symbols() {
    objdump -t "$1" | awk -F'\t' 'NF == 2 { n = split($1, a, " "); split($2, b, " ");
        if (b[2] != "") print a[n], b[2] }'
}

# Names defined in crs_child_text, and crs_ data, across every object.
marked_defined() {
    for o in $objs; do
        symbols "$o" | awk '$1 == "crs_child_text" { print $2 }
                            $1 ~ /^\.(data|rodata|bss)/ && $2 ~ /^crs_/ { print $2 }'
    done
}

# What the code in crs_child_text refers to, across every object: external names are printed
# for the caller to check; a reference into another code section of the same file fails here.
marked_used() {
    for o in $objs; do
        objdump -h "$o" | grep -q ' crs_child_text ' || continue
        syms=$(symbols "$o")
        objdump -r -j crs_child_text "$o" |
        awk 'NR > 4 && NF == 3 { sub(/[-+]0x[0-9a-f]+$/, "", $3); print $3 }' |
        sort -u | while read -r name; do
            sec=$(printf '%s\n' "$syms" | awk -v n="$name" '$2 == n { print $1; exit }')
            [ -n "$sec" ] || sec=$name          # a section symbol names its section
            case $sec in
            crs_child_text) ;;
            '*UND*') printf '%s\n' "$name" ;;
            .text*) echo "FAIL: child code in $(basename "$o") refers to $name, in $sec," \
                         "which is not marked CRS_CHILD_CODE" >&2
                    echo "MARKED_FAIL" ;;
            *) ;;                               # strings and other data
            esac
        done
    done
}

# check CONTEXT SOURCE...
check() {
    ctx=$1; shift
    set -- $(objects_of "$@")
    allow="$here/$ctx.allow"
    defined=$(nm --defined-only "$@" | awk 'NF == 3 {print $3}' | sort -u)
    used=$(nm -u "$@" | awk '$1 == "U" || $1 == "w" || $1 == "v" {print $2}' | sort -u)
    if [ "$ctx" = child ]; then
        # names defined in the marked section anywhere, and the data they may read (tables)
        defined=$(printf '%s\n%s\n' "$defined" "$(marked_defined)" | sort -u)
        used=$(printf '%s\n%s\n' "$used" "$(marked_used)" | grep -v '^$' | sort -u)
    fi
    for name in $used; do
        case $name in
        MARKED_FAIL) failed=1 ;;
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
check child snapshot/child.c snapshot/release.c snapshot/pool.c snapshot/pageidx.c snapshot/walk.c \
    snapshot/incr.c \
    snapshot/fault.c snapshot/sections.c snapshot/maphash.c snapshot/publish.c snapshot/writer.c \
    common/proc_util.c common/filehash.c \
    snapshot/proc_maps.c snapshot/proc_fds.c snapshot/proc_process.c snapshot/proc_unsaved.c \
    snapshot/proc_shm.c \
    arch/x86_64/clone.S
# The restart entry: no TLS, no libc, the restorer's mappings going away under it.
check restart restart/restart.c arch/x86_64/clone.S arch/x86_64/context.S arch/x86_64/stack.S
exit $failed
