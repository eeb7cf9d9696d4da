#!/usr/bin/env bash
# Purge under load: fill the shipped configuration's cache (microcache variant of the
# benchmark) with BENCH_PURGE_ENTRIES (5000) entries, then run wrk on a cached URL while
# `PURGE /purgeall` empties the zone. Prints the purge's duration, wrk's max latency during
# it (and without it), and lost requests. Exits 1 if any request was lost (socket errors,
# non-2xx/3xx) or the purge failed.
#
#   bench/purge-under-load.sh    (BENCH_NGINX=debian|vendored, BENCH_PURGE_SECONDS=8)
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=bench/lib/checks.sh
source "$BENCH_SRC/lib/checks.sh"

standalone_check purge_check purge "purge under load" "no request lost" "see $BENCH_DIR/raw/purge.env"
