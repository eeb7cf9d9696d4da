#!/usr/bin/env bash
# The cache index benchmark (README: "Benchmark", bench/README.md): purges in a cache of 100k
# entries on tmpfs, side by side in one run,
#   index   through microcache_index;
#   walk    the same cache and purge locations without microcache_index (the directory walk;
#           a single URL is removed by the file name its key hashes to);
#   C       ngx_cache_purge from Debian's libnginx-mod-http-cache-purge (version 2.3: exact
#           keys only, no wildcard), loaded into the same nginx when BENCH_NGINX=debian.
# The cache: BENCH_INDEX_GROUPS (100) groups of 1000 pages /e/GGG/IIII in a proxy_cache zone,
# each page tagged "g-GGG t-IIII p-GGG-IIII" (its group's tag is shared by 1000 pages), and a
# second zone of 1000 pages /s/000/IIII for prefix purges in a small cache. The origin is a
# `return 200` server of the same nginx: the fill costs what storing costs, no PHP.
#
# One nginx worker pinned to core 0; curl and wrk on core 1. Measured: the server time of the
# purges (elapsed_us in their answers; curl's total for ngx_cache_purge, which does not say),
# a purge of the whole zone while wrk GETs a cached page (p99 against an idle run, errors),
# the index rebuild after a restart (time, the worker's CPU share), memory per index entry
# (microcache_status bytes_used / entries). Writes BENCH_INDEX_RESULTS
# (bench/index-results.md); raw figures in $BENCH_DIR/index/.
#
#   bench/index-purge.sh     (make bench-index; BENCH_NGINX=debian|vendored, BENCH_PORT_BASE)
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

groups=${BENCH_INDEX_GROUPS:-100}
reps=${BENCH_INDEX_REPS:-5}
results=${BENCH_INDEX_RESULTS:-$BENCH_SRC/index-results.md}
port=$((BENCH_PORT_BASE + 40))
base=http://127.0.0.1:$port
shm=$BENCH_SHM-index
out=$BENCH_DIR/index
pid_file=$out/run/nginx.pid
cpurge_so=/usr/lib/nginx/modules/ngx_http_cache_purge_module.so
reps=$((reps > 5 ? 5 : reps))
{ [ "$groups" -ge 20 ] && [ "$groups" -le 999 ]; } || die "BENCH_INDEX_GROUPS must be 20 to 999"

started=$(date +%s)
bench_prepare
index_cleanup() {
    bench_stop "$pid_file"
    [ -f "$shm/error.log" ] && cp "$shm/error.log" "$out/error.log"
    rm -rf "$shm"
}
trap 'index_cleanup; bench_stop_all' EXIT
rm -rf "$out" "$shm"
mkdir -p "$out/run" "$out/prefix" "$shm"
chmod 755 "$shm"
raw=$out/purges.tsv
printf 'what\tvariant\tpurged\tindex\tserver_us\tclient_us\tcpu_us\n' >"$raw"

cpurge=0
[ "$BENCH_NGINX" = debian ] && [ -f "$cpurge_so" ] && cpurge=1

# write_conf VARIANT: index (microcache_index on both zones) or walk (none).
write_conf() {
    local index="" cpurge_load="" cpurge_location=""
    local loader="loader_files=1000000 loader_threshold=60s loader_sleep=1ms"
    if [ "$1" = index ]; then
        index="microcache_index big size=64m; microcache_index small size=1m;"
    fi
    if [ "$cpurge" = 1 ]; then
        cpurge_load="load_module $cpurge_so;"
        # The key the pages are stored under: $microcache_key of a GET without a query.
        cpurge_location="location ~ ^/cpurge(/.*)\$ { proxy_cache_purge big \"httpGET\$host\$1\"; }"
    fi
    cat >"$out/nginx.conf" <<CONF
load_module $MODULE_SO;
$cpurge_load
worker_processes 1;
worker_cpu_affinity 01;
error_log $shm/error.log info;
pid $pid_file;
events { worker_connections 1024; }
http {
    access_log off;
    proxy_temp_path $shm/tmp;
    proxy_cache_path $shm/big levels=1:2 keys_zone=big:64m inactive=1d $loader;
    proxy_cache_path $shm/small levels=1:2 keys_zone=small:1m inactive=1d $loader;
    $index
    server {
        listen unix:$shm/origin.sock;
        location ~ "^/[a-z]+/(?<g>[0-9]+)/(?<i>[0-9]+)\$" {
            add_header Surrogate-Key "g-\$g t-\$i p-\$g-\$i";
            return 200 "page \$g/\$i\n";
        }
    }
    server {
        listen $BENCH_LISTEN:$port;
        microcache on;
        location /e/ {
            proxy_pass http://unix:$shm/origin.sock;
            proxy_cache big;
            proxy_cache_key \$microcache_key;
            proxy_cache_valid 200 1d;
        }
        location /s/ {
            proxy_pass http://unix:$shm/origin.sock;
            proxy_cache small;
            proxy_cache_key \$microcache_key;
            proxy_cache_valid 200 1d;
        }
        location /purge/ { microcache_purge big; }
        location /purge-small/ { microcache_purge small; }
        location = /purgeall { microcache_purge big "*"; }
        location = /status { microcache_status; }
        $cpurge_location
    }
}
CONF
}

run() { "$NGINX_BIN" -p "$out/prefix/" -c "$out/nginx.conf" -e "$shm/error.log" "$@"; }

start_nginx() {
    run -t -q || die "nginx -t failed: $shm/error.log"
    run || die "nginx did not start: $shm/error.log"
    wait_worker
}

# The worker (the only one), once it answers; sets $worker.
wait_worker() {
    local master c
    worker=""
    for _ in $(seq 200); do
        master=$(our_pid "$pid_file" 2>/dev/null) || { sleep 0.05; continue; }
        for c in $(pgrep -P "$master"); do
            if tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep 'worker process' | grep -qv 'shutting down'; then
                worker=$c
            fi
        done
        [ -n "$worker" ] && curl -s -o /dev/null "$base/status" && return 0
        sleep 0.05
    done
    die "nginx: no worker answers ($shm/error.log)"
}

# nginx's cache loader walks the cache directory once, a minute after a start: measurements
# wait until it is done (the zones let it do all its work at once).
wait_loader() {
    local master
    master=$(our_pid "$pid_file") || die "nginx is not running"
    for _ in $(seq 1800); do
        pgrep -P "$master" -f 'cache loader process' >/dev/null || return 0
        sleep 0.1
    done
    die "nginx's cache loader still runs after 3 minutes"
}

reload_as() {
    write_conf "$1"
    run -t -q || die "nginx -t failed: $shm/error.log"
    local old=$worker
    run -s reload
    for _ in $(seq 200); do
        kill -0 "$old" 2>/dev/null || break
        sleep 0.05
    done
    wait_worker
    [ "$worker" != "$old" ] || die "the reload left the old worker"
}

status() { curl -s "$base/status"; }
# index_figure ZONE NAME: a figure of one index in microcache_status.
index_figure() { status | grep -o "\"$1\":{\"state\"[^}]*" | grep -o "\"$2\":\"\{0,1\}[^\",}]*" | sed 's/.*:"\{0,1\}//'; }
files() { find "$shm/$1" -type f | wc -l; }

# fill [LAST_GROUP]: the pages of groups 0 to LAST_GROUP (all), and the small zone's; the
# missing ones are stored, the others are hits. 16 requests at a time.
fill() {
    local last=${1:-$((groups - 1))}
    taskset -c 1 curl -s --no-progress-meter --parallel --parallel-max 16 \
        "$base/e/[000-$(printf %03d "$last")]/[0000-0999]" >/dev/null || true
    taskset -c 1 curl -s --no-progress-meter --parallel --parallel-max 16 "$base/s/000/[0000-0999]" >/dev/null || true
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# purge WHAT VARIANT CURL_ARGS...: one purge; its figures go to the raw table, with the
# worker's CPU time meanwhile (the purge's and its request's).
purge() {
    local what=$1 variant=$2 answer time ns0 ns1
    shift 2
    ns0=$(cpu_ns "$worker")
    answer=$(taskset -c 1 curl -s -w '\n%{time_total}' "$@")
    ns1=$(cpu_ns "$worker")
    time=$(tail -1 <<<"$answer")
    answer=$(head -n -1 <<<"$answer")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$what" "$variant" \
        "$(grep -o '"purged":[0-9]*' <<<"$answer" | head -1 | cut -d: -f2)" \
        "$(grep -o '"index":"[a-z]*' <<<"$answer" | cut -d'"' -f4)" \
        "$(grep -o '"elapsed_us":[0-9]*' <<<"$answer" | cut -d: -f2)" \
        "$(awk -v t="$time" 'BEGIN {printf "%.0f", t * 1e6}')" $(((ns1 - ns0) / 1000)) >>"$raw"
}

# purges VARIANT FIRST N: N purges of a group's tag (groups FIRST .. FIRST+N-1, 1000 pages
# each), 20 of a page (group FIRST+N), N of a prefix of 10 pages in the large zone (group
# FIRST+N+1) and in the small one (pages FIRST*10 ..).
purges() {
    local v=$1 first=$2 n=$3 k
    for ((k = 0; k < n; k++)); do
        purge tag "$v" -X PURGE -H "Surrogate-Key: g-$(printf %03d $((first + k)))" "$base/purge/"
    done
    for ((k = 0; k < 20; k++)); do
        purge url "$v" "$base/purge/e/$(printf %03d $((first + n)))/$(printf %04d $((100 + k)))"
    done
    for ((k = 0; k < n; k++)); do
        purge prefix-large "$v" "$base/purge/e/$(printf %03d $((first + n + 1)))/$(printf %03d $((10 + k)))*"
        purge prefix-small "$v" "$base/purge-small/s/000/$(printf %03d $((first + k)))*"
    done
}

say "nginx: $NGINX_BIN ($NGINX_VERSION), module $MODULE_SO; ngx_cache_purge: $([ "$cpurge" = 1 ] && echo "$cpurge_so" || echo no)"
{
    echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "cpus=$(nproc --all)"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "nginx=$NGINX_VERSION ($NGINX_BIN)"
    echo "cpurge=$([ "$cpurge" = 1 ] && dpkg-query -W -f '${Package} ${Version}' libnginx-mod-http-cache-purge || echo none)"
    echo "commit=$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$BENCH_REPO" --no-optional-locks status --porcelain -- src microcache-core 2>/dev/null | grep -q . && echo ' (+ uncommitted changes)')"
    echo "entries=$((groups * 1000))"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "load_before=$(load)"
} >"$out/meta.env"

# --- Fill --------------------------------------------------------------------------------
write_conf index
start_nginx
t0=$(date +%s.%N)
fill
t1=$(date +%s.%N)
big=$(files big)
say "filled: $big + $(files small) entries in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}') s"
[ "$big" -ge $((groups * 1000)) ] || die "only $big of $((groups * 1000)) pages are cached"
{
    echo "fill_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"
    echo "index_entries=$(index_figure big entries)"
    echo "index_tags=$(index_figure big tags)"
    echo "index_links=$(index_figure big tag_links)"
    echo "index_bytes_used=$(index_figure big bytes_used)"
    echo "index_bytes=$(index_figure big bytes)"
    echo "key_len=$(grep -a -m1 -o 'KEY: .*' "$(find "$shm/big" -type f | head -1)" | cut -c6- | tr -d '\n' | wc -c)"
} >>"$out/meta.env"

# --- Through the index -------------------------------------------------------------------
wait_loader
echo "load_index=$(load)" >>"$out/meta.env"
say "index: $reps tag purges, 20 URL purges, $reps prefix purges in each zone"
purges index 1 "$reps"

# --- The directory walk: the same cache, no index -----------------------------------------
reload_as walk
say "walk: 3 tag purges, 20 URL purges, 3 prefix purges in each zone"
purges walk 10 3

# --- ngx_cache_purge ---------------------------------------------------------------------
if [ "$cpurge" = 1 ]; then
    say "ngx_cache_purge: 20 URL purges"
    for ((k = 0; k < 20; k++)); do
        purge url C "$base/cpurge/e/015/$(printf %04d $((100 + k)))"
    done
fi

# --- The rebuild after a restart ---------------------------------------------------------
# The groups purged so far are 1 to 15.
fill 15
bench_stop "$pid_file"
write_conf index
entries=$(files big)
echo "load_rebuild=$(load)" >>"$out/meta.env"
t0=$(date +%s%N)
start_nginx
ns0=$(cpu_ns "$worker")
state=""
for _ in $(seq 3000); do
    state=$(index_figure big state)
    [ "$state" = ready ] && break
    sleep 0.02
done
t1=$(date +%s%N)
ns1=$(cpu_ns "$worker")
[ "$state" = ready ] || die "the index was not rebuilt in 60 s"
{
    echo "rebuild_files=$entries"
    echo "rebuild_entries=$(index_figure big entries)"
    echo "rebuild_ms=$(((t1 - t0) / 1000000))"
    echo "rebuild_cpu_ms=$(((ns1 - ns0) / 1000000))"
} >>"$out/meta.env"
say "rebuilt: $(index_figure big entries) entries in $(((t1 - t0) / 1000000)) ms, worker CPU $(((ns1 - ns0) / 1000000)) ms"
purge tag-after-rebuild index -X PURGE -H "Surrogate-Key: g-008" "$base/purge/"
purge url-after-rebuild index "$base/purge/e/009/0000"

# --- A purge of the whole zone under load ------------------------------------------------
say "zone purge under load, once nginx's cache loader is done"
wait_loader
fill 15
echo "load_zone=$(load)" >>"$out/meta.env"
hot=/e/000/0000
(cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c"$BENCH_CONNECTIONS" -d2s -s clean.lua "$base$hot") >/dev/null 2>&1
for run_name in idle purge; do
    (cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c"$BENCH_CONNECTIONS" -d6s --timeout 10s -s clean.lua "$base$hot") \
        >"$out/wrk-$run_name.txt" 2>&1 &
    wrk_job=$!
    if [ "$run_name" = purge ]; then
        sleep 1
        zone_files=$(files big)
        purge zone index -X PURGE "$base/purgeall"
    fi
    wait "$wrk_job" || die "wrk failed: $out/wrk-$run_name.txt"
    grep '^WRKSTATS' "$out/wrk-$run_name.txt" | awk -F'\t' -v r="$run_name" \
        '{printf "wrk_%s_requests=%d\nwrk_%s_errors=%d\nwrk_%s_p99_us=%d\nwrk_%s_max_us=%d\n", r, $2, r, $4 + $5, r, $7, r, $8}' \
        >>"$out/meta.env"
done
{
    echo "zone_files=$zone_files"
    echo "zone_files_left=$(files big)"
    echo "load_after=$(load)"
    echo "elapsed_s=$(($(date +%s) - started))"
} >>"$out/meta.env"

bench_python "$BENCH_SRC/lib/index_report.py" "$out" >"$results.tmp"
mv "$results.tmp" "$results"
cat "$results"
say "written to ${results#"$BENCH_REPO"/} (raw figures in $out); $(($(date +%s) - started)) s"
