#!/bin/sh
# make -j2 (unmodified) building a small C project: make, its jobserver pipe, the shells it
# runs, gcc and the compiler and assembler gcc runs, two at a time. Checkpointed with --kill
# as a job while it compiles, restored: the build finishes, and the program it built prints
# what the uninterrupted build's prints.
. "$(dirname "$0")/lib.sh"
need make gcc
mkdir "$T/src"
i=0
while [ $i -lt 16 ]; do
    cat >"$T/src/f$i.c" <<C
/* enough work for the compiler that the build takes a while */
#define R(x) x x x x x x x x
unsigned f$i(unsigned v) { R(R(R(v = v * 2654435761u + $i;))) return v; }
C
    i=$((i + 1))
done
{
    echo '#include <stdio.h>'
    i=0; while [ $i -lt 16 ]; do echo "unsigned f$i(unsigned);"; i=$((i + 1)); done
    echo 'int main(void) { unsigned v = 1;'
    i=0; while [ $i -lt 16 ]; do echo "v = f$i(v);"; i=$((i + 1)); done
    printf '%s\n' 'printf("%u\n", v); return 0; }'
} >"$T/src/main.c"
cat >"$T/src/Makefile" <<'MK'
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard *.c)))
prog: $(OBJS)
	gcc -o $@ $(OBJS)
%.o: %.c
	@echo "progress: $@" >&2
	gcc -O2 -c $< -o $@
MK
cp -r "$T/src/." "$T/ref/"
cp -r "$T/src/." "$T/run/"
(cd "$T/ref" && make -s -j2 >/dev/null 2>&1 && ./prog) >"$T/expected.out" ||
    fail "the uninterrupted build failed"
# with --kill: the compilers' temporary files, which they delete as they go, stay as they were
start make -s -j2
wait_grep "progress: f2.o" "$T/run.err"
checkpoint --kill
while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
restore
(cd "$T/run" && ./prog) >"$T/built.out" 2>&1 || fail "the restored build left no program"
same "$T/built.out" "$T/expected.out"
echo "make: make -j2 restored mid-build with $(members) processes; the program it built runs"
