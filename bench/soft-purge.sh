#!/usr/bin/env bash
# Soft against hard purge under load, side by side in one run, through the shipped
# configuration (microcache variant of the benchmark: cache lock, stale while updating,
# background update). For each mode: a page that takes 300 ms to render (/slow/) is cached,
# wrk keeps BENCH_SOFT_CLIENTS (200) connections busy on it, the page is purged
# (`PURGE /purge/<page>`, with `Microcache-Purge-Mode: soft` or without), and the 5 s after the
# purge are measured: origin renders of the page, and from nginx's access log the server time
# of every answer (rt=$request_time) between the purge and a marker request 5 s later, with
# how each was served (HIT, STALE, UPDATING, MISS). wrk's own figures cover its whole run (1 s
# before the purge, the 5 s after, and 1 s more).
#
#   bench/soft-purge.sh          (BENCH_NGINX=debian|vendored, BENCH_SOFT_CLIENTS=200)
#
# Expected: soft: 1 render and no answer waits for PHP (the slowest is far below the render
# time) but the one that started the background update (STALE): nginx sends it at once and logs
# it when the update ends, and only its keep-alive connection waits (reported apart); hard:
# 1 render (the cache lock), and the clients that asked meanwhile wait for it.
# Exits 1 when a mode does not render exactly once or soft makes a client wait for PHP.
# Ports BENCH_PORT_BASE + 30 and + 31 (bench/lib/common.sh); results in
# $BENCH_DIR/raw/soft-purge.*.
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

clients=${BENCH_SOFT_CLIENTS:-200}
render_s=0.3    # /slow/'s pause (bench/www/index.php)

bench_start_check
say "load: $(uptime | sed 's/.*load average: //') (2 cores; run when it is lowest)"
log=$BENCH_SHM-microcache/logs/access.log

# round MODE: one purge of a fresh page under load; prints MODE_* figures.
round() {
    local mode=$1 id path url raw=$BENCH_DIR/raw/soft-purge.$1 wrk_job before after header=()
    id="$mode-$(date +%s%N)"
    path="/slow/?id=$id"
    url=$(bench_url microcache "$path")
    [ "$mode" = hard ] || header=(-H "Microcache-Purge-Mode: $mode")
    curl -sk -o /dev/null "$url"
    curl -sk -o /dev/null "$url"
    (cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c"$clients" -d7s --timeout 10s -s clean.lua "$url") \
        >"$raw.wrk" 2>&1 &
    wrk_job=$!
    sleep 1
    before=$(renders_of /slow/)
    curl -sk -X PURGE "${header[@]}" -o "$raw.purge.json" "$(bench_url microcache "/purge$path")"
    sleep 5
    curl -sk -o /dev/null "$(bench_url microcache "/fill/?mark=end-$id")"
    wait "$wrk_job" || { cat "$raw.wrk" >&2; return 1; }
    sleep 1.5   # the access log is flushed every second
    after=$(renders_of /slow/)
    # The answers for the page between the purge's line and the marker's, in the order nginx
    # finished them.
    awk -v id="$id" '
        index($0, "\"PURGE /purge/slow/?id=" id " ") { on = 1; next }
        index($0, "/fill/?mark=end-" id " ") { on = 0 }
        on && index($0, "/slow/?id=" id " ") { print }' "$log" >"$raw.window"
    echo "${mode}_purge=$(tr -d '\n' <"$raw.purge.json" | cut -c1-120)"
    echo "${mode}_renders=$((after - before))"
    sed -n 's/.* cache=\([A-Z-]*\) .* rt=\([0-9.]*\) .*/\1 \2/p' "$raw.window" | sort -k2 -g | awk \
        -v m="$mode" -v slow="$render_s" '
        # The STALE answer is the one that started the background update: nginx sends it at
        # once but logs it (rt) when its update ends, and its keep-alive connection waits.
        $1 == "STALE" { if ($2 > trigger) trigger = $2 }
        { n++; rt[n] = $2; st[$1]++; if ($2 >= slow && $1 != "STALE") waited++ }
        END {
            printf "%s_answers=%d\n", m, n
            printf "%s_served=HIT:%d STALE:%d UPDATING:%d MISS:%d EXPIRED:%d\n", m, st["HIT"], st["STALE"], st["UPDATING"], st["MISS"], st["EXPIRED"]
            printf "%s_rt_p50_ms=%.0f\n%s_rt_p99_ms=%.0f\n%s_rt_p999_ms=%.0f\n%s_rt_max_ms=%.0f\n", \
                m, rt[int(n * 0.50) + 1] * 1000, m, rt[int(n * 0.99) + 1] * 1000, \
                m, rt[int(n * 0.999) + 1] * 1000, m, rt[n] * 1000
            printf "%s_waited_for_php=%d\n", m, waited
            printf "%s_update_starter_rt_ms=%.0f\n", m, trigger * 1000
        }'
    grep '^WRKSTATS' "$raw.wrk" | awk -F'\t' -v m="$mode" '{printf "%s_wrk_requests=%d\n%s_wrk_p99_ms=%.1f\n%s_wrk_max_ms=%.1f\n%s_wrk_errors=%d\n", m, $2, m, $7 / 1000, m, $8 / 1000, m, $4 + $5}'
}

mkdir -p "$BENCH_DIR/raw"
results=$BENCH_DIR/raw/soft-purge.env
{ round soft; round hard; } | tee "$results"
get() { sed -n "s/^$1=//p" "$results"; }

printf '\n%-6s %-8s %-8s %-44s %-8s %-8s %-8s %-8s %-9s %-9s\n' mode renders answers served \
    "p50 ms" "p99 ms" "p99.9" "max ms" "waited" "wrk p99"
for m in soft hard; do
    printf '%-6s %-8s %-8s %-44s %-8s %-8s %-8s %-8s %-9s %-9s\n' "$m" "$(get "${m}_renders")" \
        "$(get "${m}_answers")" "$(get "${m}_served")" "$(get "${m}_rt_p50_ms")" "$(get "${m}_rt_p99_ms")" \
        "$(get "${m}_rt_p999_ms")" "$(get "${m}_rt_max_ms")" "$(get "${m}_waited_for_php")" "$(get "${m}_wrk_p99_ms")"
done
echo "(server time of the answers in the 5 s after the purge; \"waited\": answers that took at least the ${render_s} s render, the STALE one apart; wrk p99: its whole 7 s run, client side)"
echo "soft: the answer that started the background update was logged after $(get soft_update_starter_rt_ms) ms"

if [ "$(get soft_renders)" = 1 ] && [ "$(get hard_renders)" = 1 ] && [ "$(get soft_waited_for_php)" = 0 ]; then
    echo "soft purge: PASS (1 render each; no client waited for PHP after the soft purge)"
else
    echo "soft purge: FAIL (see $BENCH_DIR/raw/soft-purge.*)"
    exit 1
fi
