# shellcheck shell=bash
# Sourced by the scripts/test-*.sh checks: PASS/FAIL lines and their counts.
passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s — %s\n' "$1" "$2"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s — %s\n' "$1" "$2"; }
skip() { printf 'SKIP  %s — %s\n' "$1" "$2"; }
# check NAME SAW-TEXT CONDITION...
check() {
    local what=$1 saw=$2
    shift 2
    if "$@"; then pass "$what" "$saw"; else fail "$what" "$saw"; fi
}
section() { printf '\n== %s\n' "$*"; }
