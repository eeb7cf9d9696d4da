# shellcheck shell=bash disable=SC2034 # WORKER_GROUP, RUNTIME_NOTE: for the scripts that source it
# Sourced by staging/run.sh, scripts/test-shipped.sh and bench/lib/common.sh: the user the
# local nginx workers and PHP-FPM pool run as, and where a local run keeps its files.
#
# Run as root, the workers drop to www-data as in production, and www-data must be able to
# enter every directory on the way to the document root, the PHP-FPM socket and the cache.
# A checkout in a private directory (root's home is mode 0700) is out of its reach: the
# runtime files then go under /run/microcache/ instead of the checkout's target/.

MC_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ "$(id -u)" -eq 0 ]; then
    WORKER_USER=www-data WORKER_GROUP=www-data
else
    WORKER_USER=$(id -un) WORKER_GROUP=$(id -gn)
fi

# blocked_dir PATH: prints the first directory on the way to PATH (as far as it exists) that
# WORKER_USER cannot enter; fails when there is none.
blocked_dir() {
    local walk="" part parts=() dirs=()
    [ "$WORKER_USER" != "$(id -un)" ] && id -u "$WORKER_USER" >/dev/null 2>&1 || return 1
    IFS=/ read -r -a parts <<<"${1#/}"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        walk+=/$part
        [ -d "$walk" ] || break
        dirs+=("$walk")
    done
    [ ${#dirs[@]} -gt 0 ] || return 1
    # shellcheck disable=SC2016 # the script's own positional parameters
    runuser -u "$WORKER_USER" -- sh -c 'for d; do [ -x "$d" ] || { echo "$d"; exit 0; }; done; exit 1' sh "${dirs[@]}"
}

# blocked_reason DIR: why WORKER_USER cannot enter DIR, in a few words.
blocked_reason() { stat -c "$WORKER_USER cannot enter %n (%A %U:%G)" "$1"; }

# runtime_dir NAME: sets RUNTIME_DIR to the checkout's target/NAME or, when WORKER_USER cannot
# reach the checkout, to /run/microcache/<checkout id>/NAME; RUNTIME_NOTE then says why.
runtime_dir() {
    local blocked
    RUNTIME_DIR=$MC_REPO/target/$1 RUNTIME_NOTE=""
    if blocked=$(blocked_dir "$RUNTIME_DIR"); then
        RUNTIME_DIR=/run/microcache/$(printf '%s' "$MC_REPO" | sha256sum | cut -c1-12)/$1
        RUNTIME_NOTE="$(blocked_reason "$blocked"): runtime files in $RUNTIME_DIR instead of the checkout"
    fi
}

# reachable_dir DIR: creates DIR (what it creates readable by all) unless WORKER_USER cannot
# enter it; then fails, saying why.
reachable_dir() {
    local blocked
    if ! blocked=$(blocked_dir "$1"); then
        (umask 022 && mkdir -p "$1") || return 1
        blocked=$(blocked_dir "$1") || return 0
    fi
    echo "$(blocked_reason "$blocked"), on the way to $1; nginx workers and PHP-FPM run as $WORKER_USER (as in production) and must reach it" >&2
    return 1
}
