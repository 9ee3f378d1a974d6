# tests/lib/trust.sh - what the tests of restore's trust rules share, whichever user they run
# crsnap as. Sourced after tests/tools/lib.sh (fail, has, has_line and the scratch directory T).
#
# checkpoint_retry PID CMD...   runs `CMD... checkpoint -w PID` (CMD: crsnap, or a command that
#                               runs it as another user) until it succeeds, for 10 s at most
#                               (the program may not serve its socket yet); sets IMG to the
#                               path it printed, which must be a file.
# dry_accepted WANT STATUS ARGS...  checks a finished `crsnap restore -n ARGS` (its status, its
#                               output in $T/out and $T/err): it accepted and said "WANT: can be
#                               restored"; for a DIR (the last of ARGS), "using WANT" too. Under
#                               the sanitizers, whose shadow memory overlaps any image's layout,
#                               a dry run ends at that layout check (status 1, "overlaps"), after
#                               the choice and the trust checks these tests are about.

checkpoint_retry() {
    retry_pid=$1
    shift
    retry_n=100
    until IMG=$("$@" checkpoint -w "$retry_pid" 2>"$T/err"); do
        retry_n=$((retry_n - 1))
        [ $retry_n -gt 0 ] || fail "crsnap checkpoint -w $retry_pid never succeeded"
        sleep 0.1
    done
    [ -f "$IMG" ] || fail "checkpoint printed '$IMG'"
}

dry_accepted() {
    dry_want=$1 dry_got=$2
    shift 2
    for dry_last; do :; done
    if [ -d "$dry_last" ]; then has "$T/err" "using $dry_want"; fi
    if [ -n "${CRSNAP_SANITIZED:-}" ] && [ "$dry_got" = 1 ] &&
        grep -q "overlaps the saved region" "$T/err"; then
        return 0
    fi
    [ "$dry_got" = 0 ] || fail "'crsnap restore -n $*' exited $dry_got, expected 0"
    has_line "$T/out" "$dry_want: can be restored"
}
