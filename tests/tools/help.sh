#!/bin/sh
# Every subcommand answers --help on stdout with status 0; the bare command and an unknown one
# print usage on stderr with status 2.
. "$(dirname "$0")/lib.sh"

run_cmd 0 "$CRSNAP_BIN" --help
has "$T/out" "usage: crsnap COMMAND"
for c in run checkpoint restore info verify ls; do has "$T/out" "  $c "; done
run_cmd 0 "$CRSNAP_BIN" --version
has "$T/out" "crsnap "
run_cmd 2 "$CRSNAP_BIN"
has "$T/err" "usage: crsnap"
run_cmd 2 "$CRSNAP_BIN" frobnicate
has "$T/err" "unknown command 'frobnicate'"

run_cmd 0 "$CRSNAP_BIN" run --help
has "$T/out" "usage: crsnap run [-r] [--exit-on SIG[,SIG...]] [-d DIR] [-i SECONDS] [-k KEEP] [-s SIGNAL]"
has "$T/out" "  -r, --resume"
has "$T/out" "      --exit-on SIG[,SIG...]"
has "$T/out" "exit status: 85 after an --exit-on signal"
has "$T/out" "exit status"
run_cmd 0 "$CRSNAP_BIN" run -h
has "$T/out" "usage: crsnap run"

run_cmd 0 "$CRSNAP_BIN" checkpoint --help
has "$T/out" "usage: crsnap checkpoint [-w] [--kill] PID"
has "$T/out" "exit status"
run_cmd 0 "$CRSNAP_BIN" checkpoint -h
has "$T/out" "usage: crsnap checkpoint"
echo ok
