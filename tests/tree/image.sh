#!/bin/sh
# A job's image as the tools see it: `crsnap info` (and --json) and `crsnap ls` list its
# processes, `crsnap verify` checks every process's image; a damaged or missing one is named
# by verify, info and `restore -n`, and `restore` refuses before anything changes; retention
# removes a job's images with its root's. A job's images are full, and nothing is tracked for
# them.
. "$(dirname "$0")/lib.sh"
need sh sleep cat /usr/bin/python3
start sh -c 'sleep 60 | cat; echo done'
checkpoint_job 3
# a job's images are full: none of its processes tracks written pages (a userfaultfd)
for p in $(descendants "$PID"); do
    ls -l "/proc/$p/fd" 2>/dev/null | grep -q userfaultfd && fail "process $p of the job tracks written pages"
done
"$CRSNAP_BIN" info "$IMG" >"$T/info.txt" || fail "info failed"
grep -q "^tree  *3 processes, their images in ckpt-[0-9]*\.parts" "$T/info.txt" ||
    fail "info shows no tree: $(cat "$T/info.txt")"
grep -q " sleep " "$T/info.txt" && grep -q " cat " "$T/info.txt" || fail "info names no member"
"$CRSNAP_BIN" info --json "$IMG" | "$python3" -c '
import json, sys
t = json.load(sys.stdin)["tree"]
assert len(t["processes"]) == 3, t
assert all(p["state"] == "running" and p["image_bytes"] > 0 for p in t["processes"]), t
' || fail "info --json has no tree of 3 processes"
"$CRSNAP_BIN" ls "$T/imgs" | grep -q "job's processes:.*sleep\|job's processes:.*cat" ||
    fail "ls lists no member: $("$CRSNAP_BIN" ls "$T/imgs")"
"$CRSNAP_BIN" verify "$IMG" | grep -q "a job of 3 processes, every image sound" ||
    fail "verify does not vouch for the job"

parts=${IMG%.crsnap}.parts
part=$(ls "$parts" | head -1)
cp "$parts/$part" "$T/part.bak"
truncate -s 1000 "$parts/$part"
"$CRSNAP_BIN" verify "$IMG" >"$T/v.out" 2>&1 && fail "verify passed a job with a damaged part"
grep -q "of the job" "$T/v.out" || fail "verify does not name the process: $(cat "$T/v.out")"
"$CRSNAP_BIN" info "$IMG" | grep -q "image unreadable" || fail "info hides the damaged part"
"$CRSNAP_BIN" restore -n "$IMG" >"$T/n.out" 2>&1 && fail "restore -n passed a damaged part"
grep -q "of the job" "$T/n.out" || fail "restore -n does not name the process: $(cat "$T/n.out")"
rm "$parts/$part"
kill_tree
"$CRSNAP_BIN" restore "$IMG" >"$T/r.out" 2>&1 && fail "a job missing a process's image restored"
grep -q "of the job" "$T/r.out" || fail "restore does not name the missing image: $(cat "$T/r.out")"
cp "$T/part.bak" "$parts/$part"
"$CRSNAP_BIN" restore -n "$IMG" >/dev/null 2>&1 || fail "the job's image mended does not check"

# retention: with -k 1 the older job goes, its processes' images with it
rm -rf "$T/imgs"; mkdir "$T/imgs"
CRSNAP_KEEP=1 start sh -c 'sleep 60 | cat'
checkpoint_job 3
first=$IMG
checkpoint_job 3
[ ! -e "$first" ] && [ ! -e "${first%.crsnap}.parts" ] ||
    fail "retention kept the older job or its processes' images: $(ls "$T/imgs")"
[ -d "${IMG%.crsnap}.parts" ] || fail "retention removed the newest job's images"
kill_tree
echo "image: info, ls, verify and restore see a job's processes; a damaged one is named"
