#!/usr/bin/env bash
# The microcache benchmark (README: "Benchmark"; bench/README.md): `make bench`, or bench/run.sh.
#
# In one run, on this 2-core machine, side by side:
#   limit       nginx serving the same ~20 KB page as a static file from tmpfs
#   seed        the same site with the common stock micro-cache configuration
#               (key "$scheme$request_method$host$request_uri", set $skip_cache + if regexes)
#   microcache  the shipped configuration (conf/) with the module
# in front of a real PHP-FPM static pool rendering the page in a few ms. Each nginx has ONE
# worker pinned to core 0; wrk (one thread) and PHP-FPM are pinned to core 1.
#
# Workloads: clean (one URL, all HITs), utm (fresh random utm_*/gclid values and reordered
# real parameters on every request), bypass (a logged-in WordPress cookie).
# Per variant x workload: req/s, p50/p99, HIT %, origin executions per 1000 requests, and the
# server CPU time per request (the worker's utime+stime from /proc/PID/stat over the run,
# divided by the requests wrk completed) as a ratio to `limit` in the same repetition.
# Medians over BENCH_REPS repetitions. Then: the normaliser micro-benchmark
# (cargo bench -p microcache-core), the stampede check (bench/stampede.sh) and the
# purge-under-load check (bench/purge-under-load.sh). The table goes to bench/results.md
# and to stdout; the README's benchmark figures are regenerated from it
# (bench/lib/readme_table.py).
#
# It installs only the Debian packages of scripts/packages/bench.list and builds nothing but
# the cargo bench target: build the module first (`make debian`; `make vendored` for
# BENCH_NGINX=vendored).
#
# Environment (see also bench/lib/common.sh):
#   BENCH_REPS (5)  BENCH_DURATION (5, seconds per measured run)  BENCH_WARMUP (2, seconds)
#   BENCH_WORKLOADS ("clean utm bypass")   BENCH_CARGO (1: run the cargo bench)
#   BENCH_CHECKS (1: run the stampede and purge checks)
#   BENCH_RESULTS (bench/results.md)       BENCH_NGINX (debian | vendored)
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=bench/lib/checks.sh
source "$BENCH_SRC/lib/checks.sh"

reps=${BENCH_REPS:-5}
duration=${BENCH_DURATION:-5}
warmup=${BENCH_WARMUP:-2}
read -r -a workloads <<<"${BENCH_WORKLOADS:-clean utm bypass}"
results=${BENCH_RESULTS:-$BENCH_SRC/results.md}
{ [ "$reps" -ge 1 ] && [ "$duration" -ge 1 ]; } || die "BENCH_REPS and BENCH_DURATION must be >= 1"

started=$(date +%s)
bench_prepare

mkdir -p "$BENCH_DIR/raw"
rm -f "$BENCH_DIR"/raw/*
meta=$BENCH_DIR/raw/meta.env

# --- The normaliser micro-benchmark first, on an idle machine --------------------------
if [ "${BENCH_CARGO:-1}" = 1 ]; then
    command -v cargo >/dev/null || die "cargo not found (the normaliser micro-benchmark; BENCH_CARGO=0 skips it)"
    say "cargo bench -p microcache-core (the normaliser)"
    (cd "$BENCH_REPO" && taskset -c 0 cargo bench -q -p microcache-core) >"$BENCH_DIR/raw/cargo-bench.txt" 2>"$BENCH_DIR/raw/cargo-bench.err" \
        || { cat "$BENCH_DIR/raw/cargo-bench.err" >&2; die "cargo bench failed"; }
fi

# --- Servers -----------------------------------------------------------------------------
say "nginx: $NGINX_BIN ($NGINX_VERSION), module $MODULE_SO"
bench_cert
bench_start_php
for v in "${BENCH_VARIANTS[@]}"; do
    bench_start_nginx "$v"
done
bench_make_static
say "page: $BENCH_PAGE_BYTES bytes; PHP-FPM pool of $BENCH_PHP_CHILDREN; wrk -t1 -c$BENCH_CONNECTIONS; ${reps} x ${duration}s runs after ${warmup}s warm-up"

{
    echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "cpus=$(nproc --all)"
    echo "mem=$(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "nginx=$NGINX_VERSION ($NGINX_BIN)"
    echo "module=${MODULE_SO#"$BENCH_REPO"/}"
    echo "openssl=$(openssl version | cut -d' ' -f1-2)"
    echo "php=$("$PHP_FPM_BIN" -v | head -1 | cut -d' ' -f1-2)"
    echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo "commit=$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$BENCH_REPO" --no-optional-locks status --porcelain -- src microcache-core conf 2>/dev/null | grep -q . && echo ' (+ uncommitted changes in src/, microcache-core/ or conf/)')"
    echo "sort_args=$(sed -e 's/#.*//' "$BENCH_REPO/conf/sites-available/example.com" | grep -o 'microcache_sort_args[[:space:]]*[a-z]*' | awk '{print $2}' | tail -1)"
    echo "page_bytes=$BENCH_PAGE_BYTES"
    echo "php_children=$BENCH_PHP_CHILDREN"
    echo "connections=$BENCH_CONNECTIONS"
    echo "reps=$reps"
    echo "duration=$duration"
    echo "warmup=$warmup"
    echo "clk_tck=$CLK_TCK"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
} >"$meta"

# --- The measured runs -------------------------------------------------------------------
raw=$BENCH_DIR/raw/runs.tsv
printf 'rep\tworkload\tvariant\trequests\twall_us\terrors\tnon2xx\tp50_us\tp99_us\tmax_us\tcpu_ticks\tcpu_ns\trenders\tlogged\tHIT\tMISS\tEXPIRED\tSTALE\tUPDATING\tREVALIDATED\tBYPASS\tnone\n' >"$raw"
for ((rep = 1; rep <= reps; rep++)); do
    for wl in "${workloads[@]}"; do
        # Rotate the variants' order from one repetition to the next.
        order=("${BENCH_VARIANTS[@]:$(((rep - 1) % 3))}" "${BENCH_VARIANTS[@]:0:$(((rep - 1) % 3))}")
        for v in "${order[@]}"; do
            if [ "$warmup" -gt 0 ]; then
                run_wrk "$v" "$wl" "$warmup" "$BENCH_DIR/raw/warmup.wrk"
            fi
            line=$(measure "$v" "$wl" "$duration")
            printf '%s\t%s\t%s\t%s\n' "$rep" "$wl" "$v" "$line" >>"$raw"
            say "rep $rep/$reps $wl $v: $(echo "$line" | awk -F'\t' -v tck="$CLK_TCK" '{printf "%.0f req/s, %.1f us CPU/req, %d origin, %d HIT of %d", $1 / ($2 / 1e6), $8 / tck * 1e6 / $1, $10, $12, $11}')"
        done
    done
done

# --- Checks ------------------------------------------------------------------------------
if [ "${BENCH_CHECKS:-1}" = 1 ]; then
    say "stampede: 200 concurrent first requests for one uncached URL"
    stampede_check >"$BENCH_DIR/raw/stampede.env" || true
    say "purge under load"
    purge_check >"$BENCH_DIR/raw/purge.env" || true
fi

bench_stop_all
elapsed=$(($(date +%s) - started))
echo "elapsed_s=$elapsed" >>"$meta"

bench_python "$BENCH_SRC/lib/report.py" "$BENCH_DIR/raw" >"$results.tmp"
mv "$results.tmp" "$results"
# The README's figures are generated from bench/results.md, never copied by hand.
if [ "$results" = "$BENCH_SRC/results.md" ]; then
    bench_python "$BENCH_SRC/lib/readme_table.py" "$results" "$BENCH_REPO/README.md"
fi
cat "$results"
say "written to ${results#"$BENCH_REPO"/} (raw figures in ${BENCH_DIR#"$BENCH_REPO"/}/raw); ${elapsed}s"
