#!/bin/sh
# bc (unmodified) computing digits of pi with its arbitrary precision library, checkpointed
# once it has used some CPU time, killed and restored.
. "$(dirname "$0")/lib.sh"
need bc
echo 'scale=2000; 4*a(1)' >"$T/pi.bc"
reference "$bc" -l -q "$T/pi.bc"
start "$bc" -l -q "$T/pi.bc"
wait_cpu 40
checkpoint
kill_now
restore
same_output
echo "bc: restored output matches"
