# shellcheck shell=bash disable=SC2016 # sed scripts and nginx variables in single quotes
# bench/lib/common.sh — shared by bench/run.sh, bench/stampede.sh, bench/purge-under-load.sh
# and bench/profile.sh. Sourced, not executed.
#
# Three nginx instances, one per variant, each with ONE worker pinned to core 0, in front of
# one PHP-FPM static pool pinned to core 1 (with the load generator):
#
#   limit       the page as a static file from tmpfs (no cache, no PHP, no module)
#   seed        the common stock micro-cache configuration (bench/conf/seed.site)
#   microcache  the SHIPPED configuration (conf/), with the module
#
# All three share the shipped nginx.conf (same events/http tuning, TLS, logging, open file
# cache, cache zone settings); only the vhost differs, plus the module being loaded in
# `microcache` only. Every value that changes from the shipped files is listed in
# render_conf below; the copies are made by the project's one renderer, staging/render-conf.sh.
#
# Runtime files: $BENCH_DIR (default target/bench, or /run/microcache/<checkout id>/bench when
# the checkout is out of www-data's reach: scripts/lib/runtime-dir.sh): configuration copies,
# certificate, pid files, raw results. tmpfs:
# /dev/shm/microcache-bench-$BENCH_PORT_BASE-{limit,seed,microcache,static,php} (cache, access
# logs, the static page, the origin's render log), removed on exit.
#
# Environment (all optional):
#   BENCH_NGINX        debian (default): /usr/sbin/nginx + target/debian/release/*.so
#                      vendored: target/nginx-vendored/nginx + target/release/*.so
#   BENCH_MODULE       another build of the module for that nginx (an experiment's .so)
#   BENCH_DIR          runtime directory (target/bench)
#   BENCH_PHP_CHILDREN pm.max_children of the static pool (4)
#   BENCH_CONNECTIONS  wrk connections (50)
#   BENCH_TIMEOUT      seconds to wait for a daemon to start or stop (20)
#   BENCH_PORT_BASE    the variants listen on 127.0.0.1, ports BENCH_PORT_BASE + 10 .. + 31 (19000)

set -euo pipefail
umask 022

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_SRC=$BENCH_REPO/bench
# shellcheck source=scripts/lib/runtime-dir.sh
source "$BENCH_REPO/scripts/lib/runtime-dir.sh"
# shellcheck source=scripts/lib/pidfile.sh
source "$BENCH_REPO/scripts/lib/pidfile.sh"
# shellcheck source=scripts/lib/php-fpm.sh
source "$BENCH_REPO/scripts/lib/php-fpm.sh"
# shellcheck source=scripts/lib/tls.sh
source "$BENCH_REPO/scripts/lib/tls.sh"
if [ -z "${BENCH_DIR:-}" ]; then
    runtime_dir bench
    BENCH_DIR=$RUNTIME_DIR
    [ -z "$RUNTIME_NOTE" ] || printf 'bench: %s\n' "$RUNTIME_NOTE" >&2
fi
case "$BENCH_DIR" in /*) ;; *) BENCH_DIR="$PWD/$BENCH_DIR" ;; esac
BENCH_PORT_BASE=${BENCH_PORT_BASE:-19000}
# Per port range, so that benchmarks on other ports (other checkouts) are left alone.
BENCH_SHM=/dev/shm/microcache-bench-$BENCH_PORT_BASE
BENCH_NGINX=${BENCH_NGINX:-debian}
BENCH_PHP_CHILDREN=${BENCH_PHP_CHILDREN:-4}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-50}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-20}
BENCH_LISTEN=127.0.0.1
# A name that resolves to 127.0.0.1 without touching /etc/hosts: wrk sends it as SNI, and
# the shipped default server rejects handshakes for unknown names.
BENCH_NAME=localhost
BENCH_VARIANTS=(limit seed microcache)
# Ports BENCH_PORT_BASE + 10 .. + 31.
declare -A BENCH_HTTPS_PORT=([limit]=$((BENCH_PORT_BASE + 10)) [seed]=$((BENCH_PORT_BASE + 20)) [microcache]=$((BENCH_PORT_BASE + 30)))
declare -A BENCH_HTTP_PORT=([limit]=$((BENCH_PORT_BASE + 11)) [seed]=$((BENCH_PORT_BASE + 21)) [microcache]=$((BENCH_PORT_BASE + 31)))
# The page: a catalogue search with three real parameters.
BENCH_PATH=/shop/
BENCH_QUERY='p=2&s=shoes&color=red'
# A logged-in WordPress visitor (bypass workload).
BENCH_COOKIE='wordpress_logged_in_5f3a9c1d2e4b6a7c8d9e0f1a2b3c4d5e=admin%7C1732460000%7CXyZ1aBcDeFgHiJkLmNoPqRsTuVwXyZ012345678%7C0f1e2d3c4b5a69788796a5b4c3d2e1f0; wp-settings-1=libraryContent%3Dbrowse%26editor%3Dtinymce; wp-settings-time-1=1732460000'

# shellcheck disable=SC2034 # used by the scripts that source this file
CLK_TCK=$(getconf CLK_TCK)

say() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

bench_python() { if [ -x /usr/bin/python3 ]; then /usr/bin/python3 "$@"; else python3 "$@"; fi; }

# --- Prerequisites -----------------------------------------------------------------------

bench_select_nginx() {
    case "$BENCH_NGINX" in
    debian)
        NGINX_BIN=/usr/sbin/nginx
        MODULE_SO=$BENCH_REPO/target/debian/release/libngx_http_microcache_module.so
        build_hint="make debian"
        ;;
    vendored)
        NGINX_BIN=$BENCH_REPO/target/nginx-vendored/nginx
        MODULE_SO=$BENCH_REPO/target/release/libngx_http_microcache_module.so
        build_hint="make vendored"
        ;;
    *) die "BENCH_NGINX must be debian or vendored, not '$BENCH_NGINX'" ;;
    esac
    MODULE_SO=${BENCH_MODULE:-$MODULE_SO}
    [ -x "$NGINX_BIN" ] || die "nginx not found: $NGINX_BIN ($build_hint; scripts/install-deps.sh build)"
    [ -f "$MODULE_SO" ] || die "the module is not built: $MODULE_SO (run '$build_hint' first; the benchmark builds nothing)"
    # shellcheck disable=SC2034 # used by the scripts that source this file
    NGINX_VERSION=$("$NGINX_BIN" -v 2>&1 | sed 's/.*version: //')
}

bench_check_tools() {
    local t
    for t in wrk curl openssl taskset pgrep php-fpm8.2; do
        command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] \
            || die "$t not found: scripts/install-deps.sh bench"
    done
    PHP_FPM_BIN=$(command -v php-fpm8.2 || echo /usr/sbin/php-fpm8.2)
    [ "$(nproc --all)" -ge 2 ] || die "needs 2 cores (nginx worker on core 0, wrk on core 1)"
    if [ ! -f /etc/nginx/mime.types ] || [ ! -f /etc/nginx/fastcgi_params ]; then
        die "/etc/nginx/mime.types or fastcgi_params missing: scripts/install-deps.sh bench"
    fi
    if [ ! -f "$BENCH_REPO/conf/nginx.conf" ] || [ ! -f "$BENCH_REPO/conf/sites-available/example.com" ]; then
        die "the shipped configuration (conf/) is missing"
    fi
}

# Only one benchmark at a time on these ports and tmpfs directories, whichever checkout runs it.
bench_lock() {
    local why
    why=$(reachable_dir "$BENCH_DIR" 2>&1) || die "$why. Choose a BENCH_DIR that $WORKER_USER can enter, or leave it unset."
    exec 9>"$BENCH_SHM.lock"
    flock -n 9 || die "another benchmark is running on ports $BENCH_PORT_BASE+ (lock $BENCH_SHM.lock; another BENCH_PORT_BASE avoids it)"
}

# --- Configuration -----------------------------------------------------------------------

bench_cert() {
    self_signed_cert "$BENCH_NAME" "$BENCH_DIR/tls/cert.pem" "$BENCH_DIR/tls/key.pem" \
        || die "openssl could not create a certificate"
}

# render_conf VARIANT: the shipped conf/ rendered (staging/render-conf.sh) into
# $BENCH_DIR/VARIANT/conf with only these values changed (all variants):
#   - listen ports and address (127.0.0.1 only; the [::] lines dropped), server_name
#     example.com -> localhost, the HTTPS redirect's port;
#   - paths: configuration dir, module .so, pid, logs, cache dir, certificate, document root,
#     PHP-FPM socket;
#   - worker_processes auto -> 1 (the benchmark's one worker; worker_cpu_affinity auto then
#     pins it to core 0, which bench_start_nginx verifies);
#   - the worker user when not run as root.
# microcache: the shipped vhost and snippets, as they are.
# limit, seed: no load_module; the $microcache_* fields of the shipped log_format print "-";
#   the vhost is bench/conf/VARIANT.site (limit's document root: the static page on tmpfs);
#   seed's fastcgi snippet is the shipped snippets/fastcgi-microcache.conf with the key,
#   REQUEST_URI and skip variables replaced by the stock ones ($request_uri, $skip_cache).
render_conf() {
    local v=$1 dest=$BENCH_DIR/$1/conf shm=$BENCH_SHM-$1 site="" root=$BENCH_DIR/www
    local https=${BENCH_HTTPS_PORT[$1]}
    [ "$v" = microcache ] || site=$BENCH_SRC/conf/$v.site
    [ "$v" != limit ] || root=$BENCH_SHM-static
    rm -rf "$dest"
    mkdir -p "$BENCH_DIR/$v/prefix" "$BENCH_DIR/$v/run" "${BENCH_CACHE_DIR:-$shm/cache}" "$shm/logs"
    MC_LISTEN=$BENCH_LISTEN MC_HTTP_PORT=${BENCH_HTTP_PORT[$v]} MC_HTTPS_PORT=$https \
    MC_SERVER_NAME=$BENCH_NAME MC_USER=$WORKER_USER MC_SITE=$site MC_NGINX_COMMON=/etc/nginx \
    MC_STRICT_PATHS=1 MC_PATHS="/etc/nginx/ $dest/
/usr/lib/nginx/modules/ngx_http_microcache_module.so $MODULE_SO
/run/nginx.pid $BENCH_DIR/$v/run/nginx.pid
/var/log/nginx/ $shm/logs/
/dev/shm/nginx-cache ${BENCH_CACHE_DIR:-$shm/cache}
/etc/letsencrypt/live/example.com/fullchain.pem $BENCH_DIR/tls/cert.pem
/etc/letsencrypt/live/example.com/privkey.pem $BENCH_DIR/tls/key.pem
/var/www/example.com $root
/var/www/microcache/ $BENCH_DIR/microcache/
/run/php/php8.2-fpm.sock $BENCH_DIR/run/php-fpm.sock" \
        "$BENCH_REPO/staging/render-conf.sh" "$BENCH_REPO/conf" "$dest" || die "$v: the configuration could not be rendered"

    grep -q '^worker_processes auto;' "$dest/nginx.conf" \
        || die "conf/nginx.conf has no 'worker_processes auto;' line to set to 1; update bench/lib/common.sh"
    sed -i 's/^worker_processes auto;/worker_processes 1;/' "$dest/nginx.conf"
    if [ "$v" != microcache ]; then
        rm -f "$dest/modules-enabled/"*.conf
        # The stock log line: same fields, the module's ones empty.
        sed -i -E 's/\$microcache_[a-z_]+/-/g' "$dest/nginx.conf"
    fi
    if [ "$v" = seed ]; then
        sed -e '/fastcgi_param[[:space:]]\+REQUEST_URI[[:space:]]\+\$microcache_request_uri;/d' \
            -e 's|fastcgi_cache_key[[:space:]]\+\$microcache_key;|fastcgi_cache_key "$scheme$request_method$host$request_uri";|' \
            -e 's/\$microcache_skip\b/$skip_cache/g' \
            "$dest/snippets/fastcgi-microcache.conf" >"$dest/snippets/fastcgi-seed.conf"
        if sed -e 's/#.*//' "$dest/snippets/fastcgi-seed.conf" | grep -q 'microcache_'; then
            die "conf/snippets/fastcgi-microcache.conf uses module variables the seed variant cannot map; update bench/lib/common.sh"
        fi
    fi
    grep -q "$BENCH_LISTEN:$https ssl" "$dest/sites-available/"* || die "$v: the site does not listen on $BENCH_LISTEN:$https"
}

# The origin: the shipped static pool (deploy/php-fpm/www.conf) and opcache settings, with
# the socket, logs, pool size and user changed (scripts/lib/php-fpm.sh); pinned to core 1
# with wrk. bench/www/index.php logs each execution to the render log on tmpfs.
bench_start_php() {
    rm -rf "$BENCH_DIR/www"
    mkdir -p "$BENCH_SHM-php"
    cp -a "$BENCH_SRC/www" "$BENCH_DIR/www"
    chmod -R a+rX "$BENCH_DIR/www"
    php_fpm_configure "$BENCH_DIR" "$WORKER_USER" "$WORKER_GROUP" "$BENCH_PHP_CHILDREN" "$BENCH_SHM-php/renders.log"
    grep -q '^pm = static' "$BENCH_DIR/php/www.conf" || die "deploy/php-fpm/www.conf is not a static pool"
    php_fpm_test "$BENCH_DIR" || die "PHP-FPM configuration test failed"
    php_fpm_start "$BENCH_DIR" "$BENCH_TIMEOUT" taskset -c 1 \
        || die "PHP-FPM did not start or its socket did not appear: $BENCH_DIR/logs/php-fpm.log"
}

# --- Processes ---------------------------------------------------------------------------

our_pid() { owned_pid "$1" "$BENCH_DIR"; }
bench_stop() { stop_owned "$1" "$BENCH_DIR" "$BENCH_TIMEOUT" >/dev/null; }

run_nginx() {
    local v=$1
    shift
    "$NGINX_BIN" -p "$BENCH_DIR/$v/prefix/" -c "$BENCH_DIR/$v/conf/nginx.conf" -e "$BENCH_SHM-$v/logs/error.log" "$@"
}

# The worker process of a variant's master (not the cache manager or loader).
worker_pid() {
    local v=$1 master c
    master=$(our_pid "$BENCH_DIR/$v/run/nginx.pid") || return 1
    for c in $(pgrep -P "$master"); do
        if tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q 'worker process'; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

bench_url() { echo "https://$BENCH_NAME:${BENCH_HTTPS_PORT[$1]}$2"; }

bench_start_nginx() {
    local v=$1 i code w
    render_conf "$v"
    # A benchmark may change its bench-only copy (bench/hydrate.sh enables hydration).
    if declare -F bench_edit_conf >/dev/null; then bench_edit_conf "$v"; fi
    run_nginx "$v" -t -q || die "nginx -t failed for $v ($BENCH_DIR/$v/conf, $BENCH_SHM-$v/logs/error.log)"
    run_nginx "$v" || die "nginx ($v) did not start: $BENCH_SHM-$v/logs/error.log"
    for ((i = 0; i < BENCH_TIMEOUT * 10; i++)); do
        w=$(worker_pid "$v") && break
        sleep 0.1
    done
    [ -n "${w:-}" ] || die "nginx ($v): no worker process"
    local affinity
    affinity=$(taskset -pc "$w" | sed 's/.*: //')
    [ "$affinity" = 0 ] || die "nginx ($v): worker $w runs on CPUs '$affinity', not core 0 (worker_cpu_affinity)"
    code=000
    for ((i = 0; i < BENCH_TIMEOUT * 5; i++)); do
        code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 5 "$(bench_url "$v" /robots.txt)" || true)
        [ "$code" != 000 ] && break
        sleep 0.2
    done
    [ "$code" != 000 ] || die "nginx ($v) does not answer on port ${BENCH_HTTPS_PORT[$v]}"
}

bench_stop_all() {
    local v
    for v in "${BENCH_VARIANTS[@]}"; do
        bench_stop "$BENCH_DIR/$v/run/nginx.pid"
        # Keep the error log for inspection.
        [ -f "$BENCH_SHM-$v/logs/error.log" ] && cp "$BENCH_SHM-$v/logs/error.log" "$BENCH_DIR/$v/error.log" 2>/dev/null
    done
    bench_stop "$BENCH_DIR/run/php-fpm.pid"
    rm -rf "$BENCH_SHM-limit" "$BENCH_SHM-seed" "$BENCH_SHM-microcache" "$BENCH_SHM-static" "$BENCH_SHM-php"
    return 0
}

# The page for `limit`: the origin's own bytes for the clean URL, fetched once through the
# seed variant, saved as /shop/index.html on tmpfs.
bench_make_static() {
    mkdir -p "$BENCH_SHM-static$BENCH_PATH"
    curl -sfk -o "$BENCH_SHM-static${BENCH_PATH}index.html" -H "Cookie: wordpress_no_cache=1" \
        "$(bench_url seed "$BENCH_PATH?$BENCH_QUERY")" || die "could not fetch the page from PHP through seed"
    chmod -R a+rX "$BENCH_SHM-static"
    BENCH_PAGE_BYTES=$(stat -c %s "$BENCH_SHM-static${BENCH_PATH}index.html")
    [ "$BENCH_PAGE_BYTES" -gt 10000 ] || die "the rendered page is only $BENCH_PAGE_BYTES bytes"
}

# --- Measurement -------------------------------------------------------------------------

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The same CPU time in ns (sum_exec_runtime), as a cross-check of the tick-based figure.
cpu_ns() { if [ -r "/proc/$1/schedstat" ]; then awk '{print $1}' "/proc/$1/schedstat"; else echo 0; fi; }
renders() { wc -l <"$BENCH_SHM-php/renders.log"; }
renders_of() { grep -c "^$1" "$BENCH_SHM-php/renders.log" || true; }
access_log_size() { stat -c %s "$BENCH_SHM-$1/logs/access.log" 2>/dev/null || echo 0; }

# run_wrk VARIANT WORKLOAD SECONDS OUTFILE: wrk on core 1, one thread.
run_wrk() {
    local v=$1 wl=$2 secs=$3 out=$4 script args=()
    case "$wl" in
    clean) script=clean.lua ;;
    utm) script=utm.lua ;;
    bypass) script=clean.lua; args=(-H "Cookie: $BENCH_COOKIE") ;;
    *) die "unknown workload $wl" ;;
    esac
    (cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c"$BENCH_CONNECTIONS" -d"${secs}s" --timeout 10s \
        -s "$script" "${args[@]}" "$(bench_url "$v" "$BENCH_PATH?$BENCH_QUERY")") >"$out" 2>&1 \
        || { cat "$out" >&2; die "wrk failed ($v, $wl)"; }
}

# measure VARIANT WORKLOAD SECONDS -> one tab-separated line of raw figures on stdout:
# requests wall_us errors non2xx p50_us p99_us max_us cpu_ticks cpu_ns renders logged HIT MISS
# EXPIRED STALE UPDATING REVALIDATED BYPASS none
# The access log is buffered (flush=1s): wait for it before and after.
measure() {
    local v=$1 wl=$2 secs=$3 out w t0 t1 n0 n1 r0 r1 o0 o1 wrk_line
    out=$BENCH_DIR/raw/$v-$wl.wrk
    mkdir -p "$BENCH_DIR/raw"
    w=$(worker_pid "$v") || die "nginx ($v) has no worker"
    sleep 1.2
    o0=$(access_log_size "$v")
    r0=$(renders)
    t0=$(cpu_ticks "$w")
    n0=$(cpu_ns "$w")
    run_wrk "$v" "$wl" "$secs" "$out"
    t1=$(cpu_ticks "$w")
    n1=$(cpu_ns "$w")
    r1=$(renders)
    sleep 1.2
    o1=$(access_log_size "$v")
    [ "$(worker_pid "$v")" = "$w" ] || die "nginx ($v): the worker changed during the run"
    wrk_line=$(grep '^WRKSTATS' "$out") || { cat "$out" >&2; die "no WRKSTATS line from wrk ($v, $wl)"; }
    local statuses
    statuses=$(tail -c +"$((o0 + 1))" "$BENCH_SHM-$v/logs/access.log" | head -c "$((o1 - o0))" | awk '
        { n++; s = "none"; if (match($0, / cache=[A-Z]+ /)) s = substr($0, RSTART + 7, RLENGTH - 8); c[s]++ }
        END { printf "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d", n, c["HIT"], c["MISS"], c["EXPIRED"], c["STALE"], c["UPDATING"], c["REVALIDATED"], c["BYPASS"], c["none"] }')
    printf '%s\t%s\t%s\n' "$(echo "$wrk_line" | cut -f2-)" "$((t1 - t0))	$((n1 - n0))	$((r1 - r0))" "$statuses"
}

# Every bench command starts here: packages, the nginx build to use, the tools it needs (plus
# any named), the lock against a concurrent run, clean-up on exit, and the leftovers of an
# interrupted run (only processes whose pid files are ours).
# shellcheck disable=SC2120 # the tools are optional arguments
bench_prepare() {
    "$BENCH_REPO/scripts/install-deps.sh" bench
    bench_select_nginx
    bench_check_tools
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found: scripts/install-deps.sh bench"
    done
    bench_lock
    trap 'bench_stop_all' EXIT
    trap 'exit 130' INT TERM HUP
    bench_stop_all
}

# The standalone checks (stampede, purge under load): PHP-FPM and the microcache variant alone.
bench_start_check() {
    bench_prepare
    bench_cert
    bench_start_php
    bench_start_nginx microcache
    mkdir -p "$BENCH_DIR/raw"
}

# callgrind_count VARIANT WORKLOAD SECONDS OUT: the variant's configuration run as ONE process
# (master_process off, daemon off) under callgrind on core 0. After a 3 s wrk warm-up (cache
# entry, open file caches, the utm keys), instructions are counted during a SECONDS wrk run
# (4 connections, core 1); the 4 connections' TLS handshakes are counted too, a small constant
# against thousands of requests, the same for every variant. Writes OUT.out (callgrind's
# counts), OUT.log and OUT.wrk; prints the number of requests wrk completed.
callgrind_count() {
    local v=$1 wl=$2 secs=$3 out=$4 conf=$BENCH_DIR/$1/conf/nginx-callgrind.conf script=clean.lua vg i url
    [ "$wl" != utm ] || script=utm.lua
    url=$(bench_url "$v" "$BENCH_PATH?$BENCH_QUERY")
    { echo "master_process off; daemon off;"; cat "$BENCH_DIR/$v/conf/nginx.conf"; } >"$conf"
    "$NGINX_BIN" -t -q -p "$BENCH_DIR/$v/prefix/" -c "$conf" -e "$BENCH_SHM-$v/logs/error.log" 2>/dev/null \
        || die "$v: nginx -t failed on $conf"
    taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out.out" \
        "$NGINX_BIN" -p "$BENCH_DIR/$v/prefix/" -c "$conf" -e "$BENCH_SHM-$v/logs/error.log" >"$out.log" 2>&1 &
    vg=$!
    for ((i = 0; i < 300; i++)); do
        curl -sk -o /dev/null --max-time 5 "$(bench_url "$v" /robots.txt)" && break
        sleep 0.2
    done
    (cd "$BENCH_SRC/lua" && wrk -t1 -c4 -d3s -s "$script" "$url") >/dev/null 2>&1 || true
    callgrind_control -i on "$vg" >/dev/null
    (cd "$BENCH_SRC/lua" && taskset -c 1 wrk -t1 -c4 -d"${secs}s" -s "$script" "$url") >"$out.wrk" 2>&1 || true
    callgrind_control -i off "$vg" >/dev/null
    kill -TERM "$vg" 2>/dev/null || true
    wait "$vg" 2>/dev/null || true
    awk -F'\t' '/^WRKSTATS/ {print $2}' "$out.wrk"
}
