#!/usr/bin/env bash
# Before/after numbers for configuration-level proposals, in bench-only copies of the
# shipped configuration (conf/ is never touched): the microcache variant is rendered as in
# bench/run.sh, one change is applied to the copy, and callgrind counts the instructions per
# request of a single-process nginx (deterministic, unlike timings on this VM), next to the
# unchanged configuration and to `limit`.
#
#   bench/experiment.sh [WORKLOAD]        default: utm
#
# Environment: BENCH_NGINX (vendored recommended: symbols), BENCH_MODULE,
# EXPERIMENT_SECONDS (8: the counted wrk run per configuration), EXPERIMENTS (names below).
set -euo pipefail
# shellcheck source=bench/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

wl=${1:-utm}
secs=${EXPERIMENT_SECONDS:-8}
out=$BENCH_DIR/experiment
read -r -a names <<<"${EXPERIMENTS:-shipped no-log-fields exact-fpm-locations no-open-file-cache access-log-off limit}"

# Each experiment: a sed script applied to the rendered microcache configuration files.
# shellcheck disable=SC2016,SC2028 # sed scripts: literal $ and \t on purpose
experiment_sed() {
    case "$1" in
    shipped) echo '' ;;
    # The shipped log line without the module's two fields (skip reason, stripped args).
    no-log-fields) echo 's/ skip=\$microcache_skip_reason / /; s/stripped="\$microcache_stripped" //' ;;
    # /fpm-ping and /fpm-status as exact locations instead of one regex location that every
    # request (and every internal redirect) is matched against.
    exact-fpm-locations) echo 's|^location ~ \^/fpm-(ping\|status)\$ {|location = /fpm-status {|' ;;
    # What the open file cache saves on cache files (nginx opens them through it).
    no-open-file-cache) echo 's/^\topen_file_cache max=.*/\topen_file_cache off;/' ;;
    # Upper bound of the access log's cost.
    access-log-off) echo 's|^\taccess_log .*microcache buffer=.*|\taccess_log off;|' ;;
    limit) echo '' ;;
    *) die "unknown experiment $1" ;;
    esac
}

bench_prepare valgrind
rm -rf "$out"
mkdir -p "$out"
bench_cert
bench_start_php
# limit needs its static page, fetched through seed.
bench_start_nginx seed 2> >(grep -v "directive is deprecated" >&2)
bench_make_static
bench_stop "$BENCH_DIR/seed/run/nginx.pid"

printf '| configuration | Ir / request | vs shipped | vs limit |\n|---|--:|--:|--:|\n' >"$out/table.md"
declare -A ir
for name in "${names[@]}"; do
    v=microcache
    [ "$name" = limit ] && v=limit
    render_conf "$v"
    script=$(experiment_sed "$name")
    if [ -n "$script" ]; then
        before=$(cat "$BENCH_DIR/$v/conf/nginx.conf" "$BENCH_DIR/$v/conf/snippets/"*.conf | md5sum)
        sed -i -e "$script" "$BENCH_DIR/$v/conf/nginx.conf" "$BENCH_DIR/$v/conf/snippets/"*.conf "$BENCH_DIR/$v/conf/sites-available/"*
        if [ "$name" = exact-fpm-locations ]; then
            # shellcheck disable=SC2016
            printf '\nlocation = /fpm-ping {\n\tallow 127.0.0.1;\n\tdeny all;\n\taccess_log off;\n\tinclude fastcgi_params;\n\tfastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\tfastcgi_pass unix:%s;\n}\n' \
                "$BENCH_DIR/run/php-fpm.sock" >>"$BENCH_DIR/$v/conf/snippets/microcache-admin.conf"
        fi
        after=$(cat "$BENCH_DIR/$v/conf/nginx.conf" "$BENCH_DIR/$v/conf/snippets/"*.conf | md5sum)
        [ "$before" != "$after" ] || die "experiment $name changed nothing: the shipped configuration changed; update bench/experiment.sh"
    fi
    requests=$(callgrind_count "$v" "$wl" "$secs" "$out/$name")
    [ "${requests:-0}" -gt 0 ] || die "experiment $name: wrk completed no request ($out/$name.wrk)"
    total=$(callgrind_annotate "$out/$name.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    ir[$name]=$((total / requests))
    say "$name: ${ir[$name]} Ir/request ($requests requests)"
done
for name in "${names[@]}"; do
    awk -v n="$name" -v x="${ir[$name]}" -v s="${ir[shipped]:-0}" -v l="${ir[limit]:-0}" \
        'BEGIN {printf "| %s | %d | %s | %s |\n", n, x, (s ? sprintf("%+.1f %%", (x / s - 1) * 100) : "-"), (l ? sprintf("%.3f ×", x / l) : "-")}' >>"$out/table.md"
done
bench_stop_all
echo "## Configuration experiments ($wl workload, callgrind, $NGINX_VERSION)"
echo
cat "$out/table.md"
