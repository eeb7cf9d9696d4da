# shellcheck shell=bash
# Sourced by scripts/test-shipped.sh and scripts/test-docker.sh: one line per check, PASS,
# FAIL or SKIP, with what the check saw; the counts and the time at the end.

passed=0 failed=0 tests_started=$SECONDS
pass() { passed=$((passed + 1)); printf 'PASS  %s — %s\n' "$1" "$2"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s — %s\n' "$1" "$2"; }
skip() { printf 'SKIP  %s — %s\n' "$1" "$2"; }
# check NAME SAW COMMAND...: PASS when COMMAND succeeds.
check() {
    local what=$1 saw=$2
    shift 2
    if "$@"; then pass "$what" "$saw"; else fail "$what" "$saw"; fi
}
section() { printf '\n== %s\n' "$*"; }
# finish NAME: the time taken and the counts, then exit: 0 when no check failed.
finish() {
    printf '\n%s: %ss\n' "$1" "$((SECONDS - tests_started))"
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
}
