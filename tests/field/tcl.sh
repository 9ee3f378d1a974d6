#!/bin/sh
# Tcl (tclsh, unmodified): dicts, lists, string and big-integer arithmetic, checkpointed partway
# through, killed and restored.
. "$(dirname "$0")/lib.sh"
need tclsh
cat >"$T/prog.tcl" <<'TCL'
set d [dict create]
set acc 1
set big 1
for {set i 1} {$i <= 400000} {incr i} {
    set k [expr {($i * 7919) % 10007}]
    dict incr d $k
    set acc [expr {($acc * 31 + $k) % 1000000007}]
    if {$i % 100 == 0} { set big [expr {$big * 3 + $i}] }
    if {$i % 40000 == 0} { puts stderr "progress: $i" }
}
set s 0
foreach k [lsort -integer [dict keys $d]] { set s [expr {($s * 131 + [dict get $d $k]) % 1000000007}] }
puts "keys [dict size $d] acc $acc sum $s big [string length $big] [string range $big 0 30]"
TCL
reference "$tclsh" "$T/prog.tcl"
start "$tclsh" "$T/prog.tcl"
wait_grep "progress: 40000$" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "tclsh: restored output matches"
