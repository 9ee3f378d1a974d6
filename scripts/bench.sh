#!/bin/sh
# The README's benchmark command: builds with `cmake --build`, runs the benchmarks in bench/,
# prints a table and rewrites docs/BENCHMARKS.md (machine facts, date, every figure with its
# same-run baseline). Usage: scripts/bench.sh [pause] [write] [cow] [restore] [overhead]
# [incr] [eager] [lazy] [tree] (default: all), or scripts/bench.sh report (only rewrites the table and the document). BENCH_QUICK=1 runs fewer sizes (a few minutes); BENCH_BUILD picks the build
# directory (default build); BENCH_REPS overrides the repetitions; BENCH_NO_BUILD=1 skips the
# build. Parts not re-run keep their last figures, each with the date it was measured (the run
# before is kept as PART.tsv.prev in the results directory).
set -e
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BENCH_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
BIN=$BUILD/bench
RES=$BUILD/bench-results
mkdir -p "$RES"
if [ -n "${BENCH_NO_BUILD:-}" ]; then
    echo "bench.sh: BENCH_NO_BUILD set, using the programs already built in $BUILD" >&2
elif ! cmake --build "$BUILD" -j"$(nproc)" >"$RES/build.log" 2>&1; then
    tail -20 "$RES/build.log" >&2
    echo "bench.sh: the build failed (full log in $RES/build.log)" >&2
    exit 1
fi
export BENCH_DIR=${BENCH_DIR:-$BUILD/bench-tmp}
mkdir -p "$RES" "$BENCH_DIR"
MODE=full
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && MODE=quick

parts=${*:-pause write cow restore overhead incr eager lazy tree}
[ "$parts" = report ] && parts=""   # only rewrite the table and the document
for p in $parts; do
    case $p in
    pause|write|cow|restore|overhead|incr|eager|lazy|tree) ;;
    *) echo "bench.sh: unknown part '$p' (pause write cow restore overhead incr eager lazy tree, or report)" >&2; exit 2 ;;
    esac
    echo "== $p ($MODE) ==" >&2
    start=$(date -u '+%Y-%m-%d %H:%M UTC')
    t0=$(date +%s)
    "$BIN/bench_$p" >"$RES/$p.tsv.new" 2>"$RES/$p.log" || echo "bench.sh: bench_$p exited $?" >&2
    secs=$(( $(date +%s) - t0 ))
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    [ -f "$RES/$p.tsv" ] && mv "$RES/$p.tsv" "$RES/$p.tsv.prev"
    { printf 'PART\t%s\t%s\t%s\t%s\t%s\n' "$p" "$start" "$MODE" "$secs" "$load"; cat "$RES/$p.tsv.new"; } >"$RES/$p.tsv"
    echo "   took ${secs} s, load average after: $load" >&2
    rm -f "$RES/$p.tsv.new"
done

# The table: every part's last figures.
printf '%-9s %-26s %-32s %10s %-6s %-29s %10s %8s  %s\n' part case figure median unit baseline median ratio verdict
for p in pause write restore cow overhead incr eager lazy tree; do
    [ -f "$RES/$p.tsv" ] || continue
    awk -F'\t' '$1 == "ROW" {
        printf "%-9s %-26s %-32s %10s %-6s %-29s %10s %8s  %s\n", $2, $3, $4, $6, $5, $10, $11, $15, $17 }' "$RES/$p.tsv"
done

# Machine facts.
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
cores=$(nproc)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
kernel=$(uname -sr)
fs=$(findmnt -no SOURCE,FSTYPE,OPTIONS -T "$BENCH_DIR" | head -1)
dev=$(findmnt -no SOURCE -T "$BENCH_DIR" | head -1)
disk=$(lsblk -dno NAME,SIZE,ROTA,MODEL "$dev" 2>/dev/null | awk '{printf "%s %s rotational=%s %s", $1, $2, $3, $4}')
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
virt=$(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -1)
zv=$(zstd --version 2>/dev/null | sed 's/^\*\*\* //; s/ \*\*\*$//')
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
ccv=$($cc --version 2>/dev/null | head -1)
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
now=$(date -u '+%Y-%m-%d %H:%M UTC')

DOC=docs/BENCHMARKS.md
KEEP=$(mktemp)
marker='<!-- Everything below this line is written by hand and kept by scripts/bench.sh. -->'
if [ -f "$DOC" ] && grep -qF "$marker" "$DOC"; then
    awk -v m="$marker" 'found { print } $0 == m { found = 1 }' "$DOC" >"$KEEP"
fi
OUT=$(mktemp)
{
cat <<EOF
# crsnap benchmarks

Written by \`scripts/bench.sh\` on $now (mode of each part below). Run it again with
\`scripts/bench.sh\` (full sizes, long) or \`BENCH_QUICK=1 scripts/bench.sh\` (a few minutes);
\`scripts/bench.sh cow restore\` re-runs only those parts. Every figure is the **median of the
repetitions** (n), with the spread as min-max, next to a **baseline measured in the same run on
the same data**; the ratio is figure / baseline. No benchmark is a pass/fail test.

## Machine

| | |
|---|---|
| CPU | $cpu ($virt guest) |
| cores | $cores |
| memory | $mem |
| kernel | $kernel |
| disk / file system of the images | $disk; $fs |
| transparent huge pages | $thp |
| zstd CLI | $zv |
| compiler, build | $ccv, $btype |
| source | commit $commit (plus the working tree) |

EOF
title_of() {
    case $1 in
    pause) echo "1. Pause versus resident memory" ;;
    write) echo "2 and 6. Write throughput, image size, io_uring versus pwrite, disk" ;;
    cow) echo "4. Copy-on-write cost" ;;
    restore) echo "3. Restore time" ;;
    overhead) echo "5. Steady-state overhead" ;;
    incr) echo "7. Incremental images: size and write time against a full image" ;;
    eager) echo "8. Eager restore against the populate limit" ;;
    lazy) echo "9. Lazy restore against the eager restore" ;;
    tree) echo "10. The pause of a job of four processes" ;;
    esac
}
for p in pause write restore cow overhead incr eager lazy tree; do
    f=$RES/$p.tsv
    if [ ! -f "$f" ]; then
        # No figures for it in this build's results (a fresh build, one part run): the
        # document's section stays as it was, with the date it was measured.
        [ -f "$DOC" ] && awk -v h="## $(title_of "$p")" -v m="$marker" '
            $0 == h { on = 1; print; next }
            on && (/^## / || $0 == m) { on = 0 }
            on' "$DOC"
        continue
    fi
    awk -F'\t' -v part="$p" -v t="$(title_of "$p")" '
    function spread(med, lo, hi, n) {
        if (n == 0) return "n/a"
        if (n == 1 || lo == hi) return med
        return med " (" lo "-" hi ")"
    }
    $1 == "PART" {
        printf "## %s\n\nMeasured %s, %s mode, in %s s; load average (1, 5, 15 min) at the end: %s.\n\n", t, $3, $4, $5, $6
        printf "| case | figure | value | n | baseline | baseline value | ratio | target | verdict | note |\n"
        printf "|---|---|---|---|---|---|---|---|---|---|\n"
    }
    $1 == "ROW" {
        printf "| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s |\n", $3, $4, $5,
            spread($6, $7, $8, $9), $9, $10, spread($11, $12, $13, $14), $15, $16,
            ($17 == "met" ? "met" : ($17 == "missed" ? "**missed**" : $17)), ($18 == "-" ? "" : $18)
    }
    $1 == "NOTE" { notes = notes "- " $3 "\n" }
    END { if (notes != "") printf "\n%s", notes; printf "\n" }' "$f"
    if [ -s "$RES/$p.log" ] && grep -qiE 'fail|error|cannot' "$RES/$p.log"; then
        echo "Messages from this part:"
        echo
        grep -iE 'fail|error|cannot' "$RES/$p.log" | sort | uniq -c | head -8 | sed 's/^ *\([0-9]*\) /- (x\1) /'
        echo
    fi
done
echo "$marker"
cat "$KEEP"
} >"$OUT"
mkdir -p docs
# The document names no machine paths: the repository and the build directory become relative.
sed -e "s|$BUILD/|$(basename "$BUILD")/|g" -e "s|$ROOT/||g" "$OUT" >"$DOC"
rm -f "$KEEP" "$OUT"
echo "bench.sh: wrote $DOC" >&2
