#!/usr/bin/env bash
# Stampede check: 200 concurrent first requests for one uncached URL through the shipped
# configuration (microcache variant of the benchmark) must cause exactly 1 origin (PHP)
# execution. Exits 0 when they do, 1 otherwise.
#
#   bench/stampede.sh            (BENCH_NGINX=debian|vendored, BENCH_STAMPEDE=200)
#
# Starts its own PHP-FPM and nginx on 127.0.0.1:19030-19031 (bench/lib/common.sh) and stops
# them on exit. Needs the module built (make debian / make vendored).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=bench/lib/checks.sh
source "$BENCH_SRC/lib/checks.sh"

"$BENCH_REPO/scripts/install-deps.sh" bench
bench_select_nginx
bench_check_tools
bench_lock
trap 'bench_stop_all' EXIT
trap 'exit 130' INT TERM HUP
bench_stop_all
bench_cert
bench_start_php
bench_start_nginx microcache
mkdir -p "$BENCH_DIR/raw"
if stampede_check | tee "$BENCH_DIR/raw/stampede.env"; then
    echo "stampede: PASS (exactly 1 origin execution)"
else
    echo "stampede: FAIL (see $BENCH_DIR/raw/stampede.txt)"
    exit 1
fi
