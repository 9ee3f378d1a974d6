#!/bin/sh
# The sqlite3 command-line shell (unmodified) sorting more than its cache holds: with
# temp_store=FILE its sorter spills into temporary files that it opens and unlinks at once.
# Checkpointed (and stopped: --kill) while such a file is open, then restored: the file with no
# name must come back with its contents, and the query results must be the uninterrupted run's.
. "$(dirname "$0")/lib.sh"
need sqlite3
SQL="PRAGMA temp_store=FILE; PRAGMA cache_size=-256;
CREATE TABLE t(n INTEGER PRIMARY KEY, v TEXT);
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 400000)
INSERT INTO t SELECT n, printf('%08x-%d', (n * 2654435761) % 4294967296, n % 977) FROM c;
SELECT count(*), sum(length(x)), max(x) FROM (SELECT v || n AS x FROM t ORDER BY v DESC, n);
SELECT count(*), sum(length(x)), min(x) FROM (SELECT v || n AS x FROM t ORDER BY substr(v, 3), n);
SELECT count(*), sum(length(x)), max(x) FROM (SELECT n || v AS x FROM t ORDER BY substr(v, 5) DESC);"
reference "$sqlite3" db.sqlite "$SQL"
start "$sqlite3" db.sqlite "$SQL"
# wait until a temporary file with no name is open
n=600
until ls -l "/proc/$PID/fd" 2>/dev/null | grep -q "(deleted)"; do
    alive; n=$((n - 1)); [ "$n" -gt 0 ] || fail "sqlite3 never opened a temporary file"
    sleep 0.01
done
checkpoint --kill
kill_now
"$CRSNAP_BIN" info "$IMG" >"$T/info.txt" 2>&1
grep -q "(deleted) (contents saved" "$T/info.txt" ||
    fail "the image holds no file with no name: $(grep -A30 '^fds' "$T/info.txt")"
restore
same_output
echo "sqlite3: sorted through a temporary file with no name, restored, output matches"
