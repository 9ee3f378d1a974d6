#!/bin/sh
# Lua 5.4 (unmodified): tables, strings, closures and a coroutine suspended mid-iteration,
# checkpointed partway through, killed and restored.
. "$(dirname "$0")/lib.sh"
need lua5.4
cat >"$T/prog.lua" <<'LUA'
local gen = coroutine.wrap(function() local i = 0 while true do i = i + 1 coroutine.yield(i * i) end end)
local t, acc = {}, 7
for i = 1, 3000000 do
    local k = (i * 7919) % 10007
    t[k] = (t[k] or 0) + gen() % 1000003
    acc = (acc * 31 + k + #tostring(i)) % 1000000007
    if i % 300000 == 0 then io.stderr:write("progress: ", i, "\n") end
end
local keys = {}
for k in pairs(t) do keys[#keys + 1] = k end
table.sort(keys)
local s = 0
for _, k in ipairs(keys) do s = (s * 131 + t[k]) % 1000000007 end
print(("keys %d acc %d sum %d"):format(#keys, acc, s))
LUA
reference "$lua5_4" "$T/prog.lua"
start "$lua5_4" "$T/prog.lua"
wait_grep "progress: 300000$" "$T/run.err"
checkpoint
kill_now
restore
same_output
echo "lua5.4: restored output matches"
