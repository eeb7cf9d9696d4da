#!/usr/bin/env bash
# Edge state hydration, measured (README: "Benchmark", hydration; bench/README.md).
#
#   bench/hydrate.sh          (make bench-hydrate) about 2 minutes; writes bench/hydrate-results.md
#
# One nginx runs the shipped configuration (conf/) with WooCommerce carts from the cache enabled
# in its bench-only copy, as staging does, and one worker pinned to core 0; wrk (one thread) and
# PHP-FPM are pinned to core 1. On the ~20 KB page of bench/www/, with Storefront's header cart,
# side by side in each repetition (order rotated):
#   plain         a HIT, no cart: the page as cached
#   state-cached  a HIT hydrated for a visitor with a cart, the state from its own micro-cache
#                 (the shipped /__microcache/cart-state location)
#   state-php     the same with the state from PHP on every request (a bench-only location
#                 without cache, chosen by the cookie woocommerce_items_in_cart=live)
#   php           the page rendered by PHP for the visitor (a logged-in cookie bypasses the cache),
#                 which is what a cart visitor costs without hydration
# per case: req/s, p50/p99, server CPU per request (the worker's schedstat ns over the run / the
# requests wrk completed) and its ratio to `plain` in the same repetition; medians over
# BENCH_REPS. Then memory: BENCH_RSS_CLIENTS clients at once, each reading a ~10 MB page at
# 2 MB/s, hydrated and plain, and a ~100 KB page hydrated at 20 KB/s (both for ~5 s), each case
# on a new worker (a reload) after one request: the worker's peak RSS above its RSS before
# (VmHWM, reset through /proc/PID/clear_refs), per request. A rewrite that buffered the page would grow by ~10 MB per request on the big page.
#
# Environment (see also bench/lib/common.sh): BENCH_REPS (3), BENCH_DURATION (5), BENCH_WARMUP
# (1), BENCH_RSS_CLIENTS (20), BENCH_HYDRATE_RESULTS (bench/hydrate-results.md).
#
#   HYDRATE_PROFILE=1 bench/hydrate.sh   where the worker's time goes instead: per case (not php)
#   and repetition, `perf record` (cpu-clock, PROFILE_FREQ Hz, 999) on the worker during one
#   BENCH_DURATION wrk run, its CPU per request split by DSO and by symbol in µs:
#   $BENCH_DIR/hydrate/profile-CASE-REP.{dso,sym}.txt. Compare repetitions: on a shared machine
#   the kernel's share (the network stack) varies by tens of µs from run to run.
#   BENCH_NGINX=vendored gives nginx's own symbols (Debian's nginx is stripped).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/lib/hydrate.sh
source "$BENCH_REPO/scripts/lib/hydrate.sh"

reps=${BENCH_REPS:-3}
duration=${BENCH_DURATION:-5}
warmup=${BENCH_WARMUP:-1}
clients=${BENCH_RSS_CLIENTS:-20}
results=${BENCH_HYDRATE_RESULTS:-$BENCH_SRC/hydrate-results.md}
cases=(plain state-cached state-php php)
v=microcache
out=$BENCH_DIR/hydrate
customer=bench0123456789abcdef0123456789ab
session="wp_woocommerce_session_bench=$customer%7C%7C4102444800%7C%7C4102441200%7C%7C0"

# The cookies of each case.
cookie_of() {
    case "$1" in
    plain) echo "" ;;
    state-cached) echo "woocommerce_items_in_cart=1; woocommerce_cart_hash=f00d; $session" ;;
    state-php) echo "woocommerce_items_in_cart=live; woocommerce_cart_hash=f00d; $session" ;;
    php) echo "$BENCH_COOKIE" ;;
    esac
}

# The opt-in of the shipped vhost (as staging/run.sh enables it), and a state location without
# cache for the state-php case.
bench_edit_conf() {
    local dest=$BENCH_DIR/$1/conf
    [ "$1" = "$v" ] || return 0
    hydrate_opt_in "$dest" || die "the shipped files changed: update scripts/lib/hydrate.sh"
    sed -i 's|^\([[:space:]]*\)default  /__microcache/cart-state;|\1live     /__microcache/cart-state-live;\n&|' "$dest/nginx.conf"
    cat >>"$dest/snippets/microcache-hydrate-cart.conf" <<EOF

# bench/hydrate.sh: the state from PHP on every request.
location = /__microcache/cart-state-live {
	internal;
	microcache off;
	include fastcgi_params;
	fastcgi_param SCRIPT_FILENAME $BENCH_DIR/microcache/cart-state.php;
	fastcgi_pass unix:$BENCH_DIR/run/php-fpm.sock;
}
EOF
    grep -q 'cart-state-live;' "$dest/nginx.conf" || die "no map of \$cart_state_uri in $dest/nginx.conf: update bench/hydrate.sh"
}

# The state endpoint and the visitor's cart in its stand-in store: 2 items, 39,80 €.
prepare_state() {
    rm -rf "$BENCH_DIR/microcache"
    cp -a "$BENCH_REPO/deploy/woocommerce" "$BENCH_DIR/microcache"
    mkdir -p "$BENCH_DIR/microcache/carts"
    echo '{"items":{"7":2},"total_cents":3980}' >"$BENCH_DIR/microcache/carts/$customer.json"
    chmod -R a+rX "$BENCH_DIR/microcache"
}

url_of() { bench_url "$v" "$BENCH_PATH?$BENCH_QUERY${1:+&$1}"; }

# fetch CASE [QUERY]: the response's header and body.
fetch() {
    local c
    c=$(cookie_of "$1")
    curl -sk --max-time 30 -D - ${c:+-H "Cookie: $c"} "$(url_of "${2:-}")" | tr -d '\r'
}

# Each case answers what it should before it is measured.
verify() {
    local r hydrated='<span class="count">2 items</span>'
    fetch plain >/dev/null
    r=$(fetch plain)
    if ! grep -qi '^x-fastcgi-cache: HIT' <<<"$r" || ! grep -qF '<span class="count">0 items</span>' <<<"$r"; then
        die "plain: not the cached page as it is"
    fi
    for c in state-cached state-php; do
        r=$(fetch "$c")
        if ! grep -qi '^x-fastcgi-cache: HIT' <<<"$r" || ! grep -qi '^cache-control: private, no-store' <<<"$r" \
            || ! grep -qF "$hydrated" <<<"$r"; then
            die "$c: not a hydrated HIT: $(head -c 600 <<<"$r")"
        fi
    done
    r=$(fetch php)
    grep -qi '^x-fastcgi-cache: BYPASS' <<<"$r" || die "php: not rendered by PHP"
}

hydrate_wrk() {
    local c secs=$2 file=$3
    c=$(cookie_of "$1")
    (cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c"$BENCH_CONNECTIONS" -d"${secs}s" --timeout 10s \
        -s clean.lua ${c:+-H "Cookie: $c"} "$(url_of)") >"$file" 2>&1 || { cat "$file" >&2; die "wrk failed ($1)"; }
}

# measure_case CASE: requests wall_us errors non2xx p50 p99 max cpu_ns renders (tab-separated).
measure_case() {
    local w n0 n1 r0 r1 file=$out/$1.wrk
    w=$(worker_pid "$v") || die "no worker"
    sleep 1
    r0=$(renders)
    n0=$(cpu_ns "$w")
    hydrate_wrk "$1" "$duration" "$file"
    n1=$(cpu_ns "$w")
    r1=$(renders)
    [ "$(worker_pid "$v")" = "$w" ] || die "the worker changed during the run"
    printf '%s\t%s\t%s\n' "$(grep '^WRKSTATS' "$file" | cut -f2-)" "$((n1 - n0))" "$((r1 - r0))"
}

# profile_case CASE REP: the worker's CPU per request (schedstat ns / requests) under perf, split
# in proportion to the samples: $out/profile-CASE-REP.dso.txt and .sym.txt, µs per request first.
profile_case() {
    local w n0 n1 job us sort file=$out/profile-$1-$2
    [ "$warmup" -gt 0 ] && hydrate_wrk "$1" "$warmup" "$out/warmup.wrk"
    w=$(worker_pid "$v") || die "no worker"
    perf record -q -F "${PROFILE_FREQ:-999}" -e cpu-clock -p "$w" -o "$file.data" -- sleep $((duration + 1)) 2>/dev/null &
    job=$!
    sleep 0.5
    n0=$(cpu_ns "$w")
    hydrate_wrk "$1" "$duration" "$file.wrk"
    n1=$(cpu_ns "$w")
    wait "$job" || true
    us=$(awk -F'\t' -v ns=$((n1 - n0)) '/^WRKSTATS/ {print ns / 1e3 / $2}' "$file.wrk")
    for sort in dso dso,sym; do
        perf report -i "$file.data" --no-children --sort "$sort" --stdio -q 2>/dev/null \
            | awk -v us="$us" '$1 ~ /%$/ {p = $1; sub(/%$/, "", p); $1 = ""; printf "%8.2f us %6.2f%% %s\n", p * us / 100, p, $0}' \
                >"$file.${sort#dso,}.txt"
    done
    say "profile $1 ($2): $us us CPU/request; top: $(head -3 "$file.dso.txt" | tr -s ' ' | tr '\n' ';')"
}

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# A new worker (a reload), so that no case reuses the heap an earlier one grew.
fresh_worker() {
    local old w i
    old=$(worker_pid "$v") || die "no worker"
    run_nginx "$v" -s reload || die "nginx ($v) did not reload"
    for ((i = 0; i < BENCH_TIMEOUT * 10; i++)); do
        w=$(worker_pid "$v") || w=""
        if [ -n "$w" ] && [ "$w" != "$old" ] && [ ! -e "/proc/$old" ]; then
            return 0
        fi
        sleep 0.1
    done
    die "nginx ($v): no new worker after a reload"
}

# rss_case NAME CASE QUERY RATE: clients reading the page at RATE at once, on a new worker after
# one request; the worker's peak RSS above its RSS before, in KiB, and the bytes each client got.
rss_case() {
    local w base peak i c pids=() sizes=$out/rss-${1//[^a-z0-9]/_}.sizes
    fresh_worker
    fetch "$2" "$3" >/dev/null
    c=$(cookie_of "$2")
    w=$(worker_pid "$v")
    base=$(kib "$w" VmRSS)
    echo 5 >"/proc/$w/clear_refs"
    : >"$sizes"
    for ((i = 0; i < clients; i++)); do
        curl -sk --max-time 60 --limit-rate "$4" -o /dev/null -w '%{size_download}\n' ${c:+-H "Cookie: $c"} \
            "$(url_of "$3")" >>"$sizes" &
        pids+=($!)
    done
    # These clients only: a bare wait would also wait for nginx's stderr filter.
    wait "${pids[@]}"
    peak=$(kib "$w" VmHWM)
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$base" "$peak" "$clients" "$(sort -u "$sizes" | tr '\n' ' ')"
}

started=$(date +%s)
profile=${HYDRATE_PROFILE:-0}
if [ "$profile" = 1 ]; then bench_prepare perf; else bench_prepare; fi
rm -rf "$out"
mkdir -p "$out" "$BENCH_DIR/raw"
bench_cert
prepare_state
bench_start_php
bench_start_nginx "$v" 2> >(grep -v "directive is deprecated" >&2)
verify
page_bytes=$(fetch plain | sed '1,/^$/d' | wc -c)
say "nginx $NGINX_VERSION, page $page_bytes bytes, ${reps} x ${duration}s per case after ${warmup}s warm-up; load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$profile" = 1 ]; then
    for ((rep = 1; rep <= reps; rep++)); do
        for c in plain state-cached state-php; do profile_case "$c" "$rep"; done
    done
    exit 0
fi

raw=$out/runs.tsv
printf 'rep\tcase\trequests\twall_us\terrors\tnon2xx\tp50_us\tp99_us\tmax_us\tcpu_ns\trenders\n' >"$raw"
loads=()
for ((rep = 1; rep <= reps; rep++)); do
    order=("${cases[@]:$(((rep - 1) % 4))}" "${cases[@]:0:$(((rep - 1) % 4))}")
    loads+=("$(cut -d' ' -f1 /proc/loadavg)")
    for c in "${order[@]}"; do
        [ "$warmup" -gt 0 ] && hydrate_wrk "$c" "$warmup" "$out/warmup.wrk"
        line=$(measure_case "$c")
        printf '%s\t%s\t%s\n' "$rep" "$c" "$line" >>"$raw"
        say "rep $rep/$reps $c: $(awk -F'\t' '{printf "%.0f req/s, %.1f us CPU/req, p99 %.2f ms", $1 / ($2 / 1e6), $8 / 1e3 / $1, $6 / 1e3}' <<<"$line")"
    done
done

say "memory: $clients clients at once"
big=repeat=610 small=repeat=6
rss=$out/rss.tsv
{
    rss_case "hydrated, ~100 KB" state-cached "$small" 20K
    rss_case "hydrated, ~10 MB" state-cached "$big" 2M
    rss_case "plain, ~10 MB" plain "$big" 2M
} >"$rss"
big_bytes=$(fetch plain "$big" | sed '1,/^$/d' | wc -c)
small_bytes=$(fetch plain "$small" | sed '1,/^$/d' | wc -c)

bench_stop_all
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit=$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "nginx=$NGINX_VERSION ($NGINX_BIN)"
    echo "page_bytes=$page_bytes"
    echo "big_bytes=$big_bytes"
    echo "small_bytes=$small_bytes"
    echo "reps=$reps"
    echo "duration=$duration"
    echo "connections=$BENCH_CONNECTIONS"
    echo "clients=$clients"
    echo "loads=${loads[*]}"
    echo "elapsed=$(($(date +%s) - started))"
} >"$out/meta.env"
bench_python "$BENCH_SRC/lib/hydrate_report.py" "$out" >"$results"
cat "$results"
