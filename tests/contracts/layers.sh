#!/bin/sh
# tests/contracts/layers.sh - the folders are layers: each may include headers only from the
# folders below it in this list, so the include graph between folders has no cycle and a
# newcomer can read the code from the bottom up (docs/ARCHITECTURE.md).
# Usage: layers.sh SOURCE_DIR
set -u
cd "$1" || exit 1
# bottom first; a folder on the same line as another may not include it either
order="arch
common io
image
restart
restore
snapshot
fds
runtime
tools"
failed=0
rank() { printf '%s\n' "$order" | grep -nw -- "$1" | cut -d: -f1; }
for dir in $(printf '%s\n' "$order" | tr ' ' '\n'); do
    [ -d "$dir" ] || { echo "FAIL: no folder $dir" >&2; failed=1; continue; }
    mine=$(rank "$dir")
    for used in $(find "$dir" -name '*.[chS]' -exec grep -ho '^#include "[a-z_0-9]*/' {} + |
                  sed 's/^#include "//; s|/$||' | sort -u); do
        [ "$used" = "$dir" ] && continue
        [ "$dir" = arch ] && [ "$used" = x86_64 ] && continue
        theirs=$(rank "$used")
        if [ -z "$theirs" ] || [ "$theirs" -ge "$mine" ]; then
            echo "FAIL: $dir includes $used/, which is not below it:" >&2
            grep -ln "^#include \"$used/" $(find "$dir" -name '*.[chS]') >&2
            failed=1
        fi
    done
done
# a folder's headers are named with it, so a same-folder include is never "../x/y.h"
if grep -rn '^#include "\.\./' $(printf '%s\n' "$order" | tr ' ' '\n') >&2; then
    echo "FAIL: include by relative path (use \"folder/file.h\")" >&2
    failed=1
fi
[ $failed = 0 ] && echo "layers: no folder includes one above it"
exit $failed
