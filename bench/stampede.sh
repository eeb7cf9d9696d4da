#!/usr/bin/env bash
# Stampede check: 200 concurrent first requests for one uncached URL through the shipped
# configuration (microcache variant of the benchmark) must cause exactly 1 origin (PHP)
# execution. Exits 0 when they do, 1 otherwise.
#
#   bench/stampede.sh            (BENCH_NGINX=debian|vendored, BENCH_STAMPEDE=200)
#
# Starts its own PHP-FPM and nginx on 127.0.0.1, ports BENCH_PORT_BASE + 30 and + 31
# (19030-19031; bench/lib/common.sh), and stops them on exit. Needs the module built
# (make debian / make vendored).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=bench/lib/checks.sh
source "$BENCH_SRC/lib/checks.sh"

standalone_check stampede_check stampede stampede "exactly 1 origin execution" "see $BENCH_DIR/raw/stampede.txt"
