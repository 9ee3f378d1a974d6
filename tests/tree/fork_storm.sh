#!/bin/sh
# fork_storm.sh PROGRAM - the program's forks and the runtime's own descriptors: the root of a
# job forks children one after another while a thread of its keeps connecting to its control
# socket, and the coordinator waits (a test hook) between accepting each connection and
# recording it. No child may find one of those connections among its descriptors: a fork
# waits for the coordinator's change to its descriptors to be whole (without that, most
# children have one, which their images would show as the program's own connection).
. "$(dirname "$0")/lib.sh"
prog=$1
(cd "$T/run" && CRSNAP_TEST_ACCEPT_DELAY_US=2000 "$CRSNAP_BIN" run -d "$T/imgs" -- "$prog" 3) \
    >"$T/storm.out" 2>"$T/storm.err" </dev/null || fail "the program failed"
read -r _ forks _ conns _ leaked <"$T/storm.out" || fail "no result: $(cat "$T/storm.out")"
[ "$forks" -ge 20 ] || fail "only $forks forks"
[ "$conns" -ge 20 ] || fail "only $conns control connections came through"
[ "$leaked" = 0 ] || fail "$leaked of $forks forked children held a connection of the parent's control socket"
echo "fork_storm: $forks forks during $conns control connections, none leaked"
