# shellcheck shell=bash
# bench/lib/checks.sh — the stampede and purge-under-load checks, on the running
# `microcache` variant (the shipped configuration). Sourced after bench/lib/common.sh.
# Each prints key=value lines on stdout and returns non-zero when the check fails.

# standalone_check FUNCTION NAME LABEL PASS-TEXT FAIL-TEXT: one check on its own servers
# (PHP-FPM and the microcache variant), its figures also in $BENCH_DIR/raw/NAME.env; exits 1
# when it fails. bench/stampede.sh and bench/purge-under-load.sh.
standalone_check() {
    bench_start_check
    if "$1" | tee "$BENCH_DIR/raw/$2.env"; then
        echo "$3: PASS ($4)"
    else
        echo "$3: FAIL ($5)"
        exit 1
    fi
}

# 200 concurrent first requests for one uncached URL must cause exactly 1 origin execution
# (fastcgi_cache_lock). The URL is /slow/?id=<fresh>: the origin takes 300 ms on /slow/, so
# all 200 requests (200 HTTP/1.1 connections opened at once) arrive while the first one is
# still being rendered.
stampede_check() {
    local n=${BENCH_STAMPEDE:-200} id url cfg out before after i
    id="$(date +%s%N)$RANDOM"
    url=$(bench_url microcache "/slow/?id=$id")
    cfg=$BENCH_DIR/raw/stampede.curl
    out=$BENCH_DIR/raw/stampede.txt
    mkdir -p "$BENCH_DIR/raw"
    : >"$cfg"
    for ((i = 0; i < n; i++)); do
        printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >>"$cfg"
    done
    before=$(renders_of /slow/)
    curl --parallel --parallel-immediate --parallel-max "$n" --http1.1 -sk --max-time 30 \
        -w '%{http_code} %header{x-fastcgi-cache} %{time_total}\n' -K "$cfg" >"$out" 2>"$out.err" || true
    sleep 0.5
    after=$(renders_of /slow/)
    local executions=$((after - before))
    awk -v n="$n" -v ex="$executions" '
        { total++; if ($1 == 200) ok++; st[$2 == "" ? "none" : $2]++
          if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 }
        END {
            printf "stampede_requests=%d\nstampede_ok=%d\nstampede_executions=%d\n", total, ok, ex
            printf "stampede_statuses=%s\n", sprintf("MISS:%d HIT:%d UPDATING:%d STALE:%d other:%d", st["MISS"], st["HIT"], st["UPDATING"], st["STALE"], total - st["MISS"] - st["HIT"] - st["UPDATING"] - st["STALE"])
            printf "stampede_min_s=%.3f\nstampede_max_s=%.3f\n", min, max
            printf "stampede_pass=%d\n", (ex == 1 && ok == n && total == n)
        }' "$out"
    [ "$executions" -eq 1 ] && [ "$(grep -c '^200 ' "$out")" -eq "$n" ]
}

# fill_cache N: N distinct cached entries (/fill/?n=1..N, a tiny page), 16 at a time.
fill_cache() {
    local n=$1 codes=$BENCH_DIR/raw/purge-fill.txt
    curl --parallel --parallel-max 16 --http1.1 -sk --no-progress-meter --max-time 60 -w '%{stderr}%{http_code}\n' \
        "$(bench_url microcache "/fill/?n=[1-$n]&r=$RANDOM")" >/dev/null 2>"$codes" || true
    grep -c '^200$' "$codes" || true
}

# purge_during_wrk PATH PREFIX: wrk on PATH (microcache variant) for BENCH_PURGE_SECONDS, with
# `PURGE /purgeall` sent a quarter of the way in; prints PREFIX_* figures.
purge_during_wrk() {
    local path=$1 p=$2 secs=${BENCH_PURGE_SECONDS:-8} out=$BENCH_DIR/raw/$2.wrk
    local cache=${BENCH_CACHE_DIR:-$BENCH_SHM-microcache/cache}
    local files_before files_after purge wrk_job
    files_before=$(find "$cache" -type f | wc -l)
    (cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c"$BENCH_CONNECTIONS" -d"${secs}s" --timeout 10s \
        -s clean.lua "$(bench_url microcache "$path")") >"$out" 2>&1 &
    wrk_job=$!
    sleep $((secs / 4 > 0 ? secs / 4 : 1))
    purge=$(curl -sk -X PURGE --max-time 60 -o "$BENCH_DIR/raw/$p-response.json" \
        -w '%{http_code} %{time_total}' "$(bench_url microcache /purgeall)" || echo "000 0")
    wait "$wrk_job" || { cat "$out" >&2; return 1; }
    sleep 0.5
    files_after=$(find "$cache" -type f | wc -l)
    echo "${p}_files_before=$files_before"
    echo "${p}_files_after=$files_after"
    echo "${p}_status=${purge% *}"
    echo "${p}_seconds=${purge#* }"
    echo "${p}_response=$(tr -d '\n' <"$BENCH_DIR/raw/$p-response.json" | cut -c1-200)"
    grep '^WRKSTATS' "$out" | awk -F'\t' -v p="$p" '{printf "%s_requests=%d\n%s_rps=%.0f\n%s_p99_ms=%.2f\n%s_max_ms=%.1f\n%s_lost=%d\n", p, $2, p, $2 / ($3 / 1e6), p, $7 / 1000, p, $8 / 1000, p, $4 + $5}'
}

# Purge under load. Fill the cache with BENCH_PURGE_ENTRIES (5000) entries, then run wrk on
# the page (a cached URL) while `PURGE /purgeall` (the shipped purge-all location) empties
# the zone; report the purge's duration, wrk's max latency during it (and in a baseline run
# without a purge), and lost requests (socket errors + non-2xx/3xx), which must be 0.
# A second round does the same with wrk on a static file (/style.css): its max latency is
# the time the purge itself holds the event loop, without the cache lock wait that a purged
# hot URL costs (fastcgi_cache_lock waiters poll every 500 ms).
purge_check() {
    local n=${BENCH_PURGE_ENTRIES:-5000} secs=${BENCH_PURGE_SECONDS:-8}
    local base=$BENCH_DIR/raw/purge-baseline.wrk t0=$SECONDS filled
    mkdir -p "$BENCH_DIR/raw"
    filled=$(fill_cache "$n")
    echo "purge_entries=$n"
    echo "purge_fill_ok=$filled"
    echo "purge_fill_seconds=$((SECONDS - t0))"
    # Warm the page, then a baseline run without a purge.
    run_wrk microcache clean 2 "$BENCH_DIR/raw/warmup.wrk"
    run_wrk microcache clean "$secs" "$base"
    grep '^WRKSTATS' "$base" | awk -F'\t' '{printf "purge_baseline_rps=%.0f\npurge_baseline_p99_ms=%.2f\npurge_baseline_max_ms=%.1f\n", $2 / ($3 / 1e6), $7 / 1000, $8 / 1000}'
    local page static
    page=$(purge_during_wrk "$BENCH_PATH?$BENCH_QUERY" purge_page) || return 1
    echo "$page"
    # Round 2: refill, then a static file under load.
    filled=$(fill_cache "$n")
    echo "purge_refill_ok=$filled"
    (cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c"$BENCH_CONNECTIONS" -d"${secs}s" -s clean.lua \
        "$(bench_url microcache /style.css)") >"$BENCH_DIR/raw/purge-static-baseline.wrk" 2>&1
    grep '^WRKSTATS' "$BENCH_DIR/raw/purge-static-baseline.wrk" | awk -F'\t' '{printf "purge_static_baseline_max_ms=%.1f\n", $8 / 1000}'
    static=$(purge_during_wrk /style.css purge_static) || return 1
    echo "$static"
    local lost pass=0
    lost=$(printf '%s\n%s\n' "$page" "$static" | awk -F= '/_lost=/ {s += $2} END {print s + 0}')
    echo "purge_lost=$lost"
    if [ "$lost" -eq 0 ] && printf '%s\n' "$page" | grep -q '^purge_page_status=200$' \
        && printf '%s\n' "$static" | grep -q '^purge_static_status=200$'; then
        pass=1
    fi
    echo "purge_pass=$pass"
    [ "$pass" = 1 ]
}
