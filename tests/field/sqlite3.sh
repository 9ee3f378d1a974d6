#!/bin/sh
# The sqlite3 command-line shell (unmodified) filling a database file from a recursive CTE, in
# several transactions (files, fsync, POSIX locks, a rollback journal), checkpointed partway
# through and stopped there (checkpoint --kill: a database changes in place, so the program must
# not run on past the image), then restored; the query results and the database's contents must
# be the uninterrupted run's. JOURNAL=WAL runs it with a write-ahead log instead.
. "$(dirname "$0")/lib.sh"
need sqlite3
SQL="PRAGMA journal_mode=${JOURNAL:-DELETE}; PRAGMA temp_store=${TEMP_STORE:-FILE};
CREATE TABLE t(n INTEGER PRIMARY KEY, v TEXT, h INTEGER);"
for b in 0 1 2 3 4 5 6 7; do
    SQL="$SQL
BEGIN;
WITH RECURSIVE c(n) AS (SELECT $b * 45000 + 1 UNION ALL SELECT n + 1 FROM c WHERE n < ($b + 1) * 45000)
INSERT INTO t SELECT n, printf('%08x-%d', (n * 2654435761) % 4294967296, n % 977), (n * n) % 1000003 FROM c;
CREATE INDEX IF NOT EXISTS t_v ON t(v);
COMMIT;"
done
SQL="$SQL
SELECT count(*), sum(h), min(v), max(v) FROM t;
SELECT v, count(*) FROM t GROUP BY n % 7 ORDER BY 1 LIMIT 3;
PRAGMA integrity_check;"
reference "$sqlite3" db.sqlite "$SQL"
start "$sqlite3" db.sqlite "$SQL"
wait_cpu 50
checkpoint --kill
kill_now
restore
same_output
# and the database the restored process finished
"$sqlite3" "$T/ref/db.sqlite" "SELECT count(*), sum(h), total(length(v)) FROM t" >"$T/ref.db.txt"
"$sqlite3" "$T/run/db.sqlite" "SELECT count(*), sum(h), total(length(v)) FROM t" >"$T/run.db.txt"
same "$T/run.db.txt" "$T/ref.db.txt"
echo "sqlite3: restored output and database match"
