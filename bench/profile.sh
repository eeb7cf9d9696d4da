#!/usr/bin/env bash
# Where the nginx worker's time goes, per variant: `perf record` (software cpu-clock
# sampling: this VM has no hardware counters) on the worker while wrk runs a workload, then
# the CPU time per request split by DSO (kernel, libcrypto, nginx, libc, the module, ...) and
# by symbol, side by side for the variants, in µs per request.
#
#   bench/profile.sh [WORKLOAD ...]          default: clean utm
#
# Environment: BENCH_NGINX=vendored is the useful choice here (nginx 1.28.3 with symbols;
# Debian's /usr/sbin/nginx is stripped, so its own functions show as one "nginx" DSO),
# PROFILE_SECONDS (6), PROFILE_FREQ (999 Hz), PROFILE_TOP (40 symbols),
# PROFILE_CALLGRIND=1 also runs callgrind on a single-process nginx (master_process off)
# for PROFILE_CALLGRIND_SECONDS (10) of wrk (4 connections) per variant and workload:
# instruction counts (Ir) per request (divided by the requests wrk completed), per function
# and inclusive, which show the cost of whole call trees (ngx_http_file_cache_open, the
# module's handlers, ...) without the noise of this VM's timing.
# Output: target/bench/profile/ (perf data, reports) and a summary on stdout.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

read -r -a workloads <<<"${*:-clean utm}"
secs=${PROFILE_SECONDS:-6}
freq=${PROFILE_FREQ:-999}
top=${PROFILE_TOP:-40}
out=$BENCH_DIR/profile

bench_prepare perf
rm -rf "$out"
mkdir -p "$out" "$BENCH_DIR/raw"

bench_cert
bench_start_php
for v in "${BENCH_VARIANTS[@]}"; do
    bench_start_nginx "$v" 2> >(grep -v "directive is deprecated" >&2)
done
bench_make_static
say "nginx $NGINX_VERSION ($BENCH_NGINX), perf at $freq Hz for ${secs}s per run"

for wl in "${workloads[@]}"; do
    for v in "${BENCH_VARIANTS[@]}"; do
        run_wrk "$v" "$wl" 2 "$BENCH_DIR/raw/warmup.wrk"
        w=$(worker_pid "$v")
        t0=$(cpu_ticks "$w")
        perf record -q -F "$freq" -e cpu-clock -p "$w" -o "$out/$wl-$v.data" -- sleep $((secs + 1)) 2>/dev/null &
        perf_job=$!
        sleep 0.5
        run_wrk "$v" "$wl" "$secs" "$out/$wl-$v.wrk"
        t1=$(cpu_ticks "$w")
        wait "$perf_job" || true
        requests=$(awk -F'\t' '/^WRKSTATS/ {print $2}' "$out/$wl-$v.wrk")
        echo "$((t1 - t0)) $requests" >"$out/$wl-$v.cpu"
        perf report -i "$out/$wl-$v.data" --no-children --sort dso --stdio -q 2>/dev/null >"$out/$wl-$v.dso.txt"
        perf report -i "$out/$wl-$v.data" --no-children --sort dso,sym --stdio -q 2>/dev/null >"$out/$wl-$v.sym.txt"
        say "$wl $v: profiled ($requests requests)"
    done
done

if [ "${PROFILE_CALLGRIND:-0}" = 1 ]; then
    command -v valgrind >/dev/null || die "valgrind not found: scripts/install-deps.sh bench"
    cg_secs=${PROFILE_CALLGRIND_SECONDS:-10}
    for v in "${BENCH_VARIANTS[@]}"; do
        # callgrind runs the same configuration as one process.
        bench_stop "$BENCH_DIR/$v/run/nginx.pid"
        for wl in "${workloads[@]}"; do
            callgrind_count "$v" "$wl" "$cg_secs" "$out/callgrind.$wl-$v" >"$out/callgrind.$wl-$v.requests"
            say "callgrind $wl $v: done"
        done
    done
fi

bench_stop_all
bench_python "$BENCH_SRC/lib/profile_report.py" "$out" "$top" "${workloads[@]}" | tee "$out/summary.md"
