#!/bin/sh
# tests/tools/abi.sh - libcrsnap.so exports exactly what runtime/libcrsnap.map lists: the API of
# include/crsnap.h and the libc functions the library stands in front of. Anything else that
# appears is an internal name leaking into every program that preloads the library.
# Usage: abi.sh LIBCRSNAP.SO MAPFILE HEADER
set -u
lib=$1 map=$2 header=$3
command -v nm >/dev/null 2>&1 || { echo "SKIP: no nm" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
listed=$(sed -n '/global:/,/local:/p' "$map" | grep -o '^ *[A-Za-z_][A-Za-z0-9_]*;' |
         tr -d ' ;' | sort -u)
[ -n "$listed" ] || fail "no global names found in $map"
[ "$exported" = "$listed" ] ||
    fail "exported set differs from $map:
$(printf '%s\n' "$exported" > "${TMPDIR:-/tmp}/abi.$$.e"; printf '%s\n' "$listed" |
  diff - "${TMPDIR:-/tmp}/abi.$$.e"; rm -f "${TMPDIR:-/tmp}/abi.$$.e")"

# Every function the header declares is exported (the map cannot silently drop one).
for f in $(grep -o '\bcrs_[a-z_]*(' "$header" | tr -d '(' | sort -u); do
    grep -qx "$f" <<EOT || fail "$f is declared in $header but not exported"
$exported
EOT
done
# Every crs_ name exported is declared in the header.
for f in $(printf '%s\n' "$exported" | grep '^crs_'); do
    grep -q "\\b$f(" "$header" || fail "$f is exported but not declared in $header"
done
echo "libcrsnap.so exports $(printf '%s\n' "$exported" | wc -l) names, as listed"
