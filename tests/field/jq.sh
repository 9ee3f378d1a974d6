#!/bin/sh
# jq (unmodified) reducing a large JSON stream read from a file, checkpointed once it has used
# some CPU time, killed and restored.
. "$(dirname "$0")/lib.sh"
need jq
seq 1 60000 | awk '{ printf "{\"id\":%d,\"k\":\"k%d\",\"v\":[%d,%d]}\n", $1, $1 % 997, $1 % 13, $1 * 7 % 101 }' >"$T/input"
F='reduce inputs as $o ({}; .[$o.k] += ($o.v[0] * $o.v[1] + 1)) | [to_entries[] | .value] | add'
reference "$jq" -n "$F" "$T/input"
start "$jq" -n "$F" "$T/input"
wait_cpu 60
checkpoint
kill_now
restore
same_output
echo "jq: restored output matches"
