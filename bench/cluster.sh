#!/usr/bin/env bash
# The cluster benchmark (README: "More than one machine"; bench/README.md): the shipped
# conf/cluster/ files on this machine (scripts/lib/cluster.sh), one PHP-FPM origin, side by side
# in one run:
#   single      the front in front of one cache node
#   cluster     the front in front of three nodes, sharded by $microcache_key (as shipped)
#   cluster-rr  the same three nodes, round robin (the upstream block without its hash)
# Each run starts from empty caches (PURGE /purgeall through the sharded front) and is the utm
# workload over CLUSTER_PAGES pages (bench/lua/utm.lua: fresh tracking ids on every request):
# req/s at the front, p50/p99, and how many times PHP rendered a page. Then the latency of a
# purge as a client sees it on a kept connection: applied on one node only (signed, as a peer
# sends it), through a node (itself and two peers), and through the front (three peers).
#
# Everything shares this machine's cores (no pinning): the figures compare the variants with
# each other, measured side by side. Writes bench/cluster-results.md and the README's cluster
# figures (bench/lib/readme_table.py).
#
# Environment: CLUSTER_REPS (3)  CLUSTER_DURATION (5 s)  CLUSTER_PAGES (200)
#   CLUSTER_CONNECTIONS (50)  CLUSTER_PURGES (40, per kind)  CLUSTER_PORT_BASE (19950)
#   CLUSTER_NGINX (debian | vendored)  CLUSTER_RESULTS (bench/cluster-results.md)
set -euo pipefail
umask 022

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/runtime-dir.sh
source "$repo/scripts/lib/runtime-dir.sh"
# shellcheck source=scripts/lib/pidfile.sh
source "$repo/scripts/lib/pidfile.sh"
# shellcheck source=scripts/lib/php-fpm.sh
source "$repo/scripts/lib/php-fpm.sh"
# shellcheck source=scripts/lib/tls.sh
source "$repo/scripts/lib/tls.sh"
# wrk sends the URL's host as the TLS server name, so the site needs a name that resolves to the
# front without touching /etc/hosts: localhost, on 127.0.0.1. The nodes stay on 127.0.0.3-5.
CLUSTER_NAME=localhost CLUSTER_FRONT_ADDR=127.0.0.1
# shellcheck source=scripts/lib/cluster.sh
source "$repo/scripts/lib/cluster.sh"

reps=${CLUSTER_REPS:-3}
duration=${CLUSTER_DURATION:-5}
pages=${CLUSTER_PAGES:-200}
connections=${CLUSTER_CONNECTIONS:-50}
purges=${CLUSTER_PURGES:-40}
results=${CLUSTER_RESULTS:-$repo/bench/cluster-results.md}
case ${CLUSTER_NGINX:-debian} in
debian) nginx=/usr/sbin/nginx so=$repo/target/debian/release/libngx_http_microcache_module.so ;;
vendored) nginx=$repo/target/nginx-vendored/nginx so=$repo/target/release/libngx_http_microcache_module.so ;;
*) echo "CLUSTER_NGINX: debian or vendored" >&2; exit 2 ;;
esac
say() { printf '[cluster bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'cluster bench: %s\n' "$*" >&2; exit 1; }
for t in wrk curl openssl python3; do command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh bench)"; done
[ -f "$so" ] || die "module not built: $so"

started=$(date +%s)
cluster_setup "$nginx" "$so" "${CLUSTER_PORT_BASE:-19950}" bench-cluster
trap cluster_stop EXIT
trap 'exit 143' TERM INT
declare -A port=([cluster]=$front_https)
cluster_add_front rr '/hash .microcache_key consistent;/d'
port[cluster-rr]=$added_https
cluster_add_front single "/server ${node_addrs[1]}:/d; /server ${node_addrs[2]}:/d"
port[single]=$added_https
cluster_start || die "$(cluster_failure)"
raw=$cluster_dir/raw
mkdir -p "$raw"
say "$(cluster_version), ${reps} x ${duration}s per variant, $pages pages, wrk -t1 -c$connections; uptime: $(uptime | sed 's/.*average/load average/')"

# purge_all: every node's cache emptied, through the sharded front.
purge_all() {
    curl -sk --max-time 30 -o /dev/null -X PURGE --resolve "$cluster_name:$front_https:$front_addr" \
        "https://$cluster_name:$front_https/purgeall"
}

printf 'rep\tvariant\trequests\tduration_us\terrors\tnon2xx\tp50_us\tp99_us\tmax_us\trenders\tpages_rendered\n' >"$raw/runs.tsv"
variants=(single cluster cluster-rr)
for ((rep = 1; rep <= reps; rep++)); do
    order=("${variants[@]:$(((rep - 1) % 3))}" "${variants[@]:0:$(((rep - 1) % 3))}")
    for v in "${order[@]}"; do
        purge_all
        before=$(wc -l <"$cluster_renders")
        (cd "$repo/bench/lua" && wrk -t1 -c"$connections" -d"${duration}s" --timeout 10s -s utm.lua \
            "https://$cluster_name:${port[$v]}/shop/" -- "$pages") >"$raw/$v.$rep.wrk" 2>&1 \
            || die "wrk failed ($v): $(cat "$raw/$v.$rep.wrk")"
        stats=$(grep '^WRKSTATS' "$raw/$v.$rep.wrk" | cut -f2-) || die "no WRKSTATS from wrk ($v)"
        rendered=$(tail -n +"$((before + 1))" "$cluster_renders")
        line=$(printf '%s\t%s\t%s\t%s\t%s' "$rep" "$v" "$stats" "$(grep -c . <<<"$rendered")" \
            "$(awk '{ print $4 }' <<<"$rendered" | sort -u | grep -c .)")
        printf '%s\n' "$line" >>"$raw/runs.tsv"
        say "rep $rep $v: $(awk -F'\t' '{ printf "%.0f req/s, %d renders of %d pages", $3 / ($4 / 1e6), $9, $10 }' <<<"$line")"
    done
done

# --- Purge latency, as a client sees it on a kept connection (curl's time per request) ------
# Pages cached on every node, then purged one after the other: KIND=local signed as a peer
# sends them to node 1 (applied there only), node through node 1 (itself and two peers), front
# through the front (three peers).
node1=http://${node_addrs[0]}:$node_port
fill() {
    local n
    for n in 0 1 2; do
        curl -s --max-time 30 -o /dev/null -H "Host: $cluster_name" \
            "http://${node_addrs[$n]}:$node_port/shop/?q=$1&p=[1-$purges]"
    done
}
per_request='%{http_code}\t%{time_total}\n'
printf 'kind\tstatus\tseconds\n' >"$raw/purges.tsv"
fill local
signed=()
for ((i = 1; i <= purges; i++)); do
    signed+=(--next -s -o /dev/null -w "$per_request" -X PURGE -H "Host: $cluster_name"
        -H "$(cluster_sign "$cluster_secret" PURGE "/purge/shop/?q=local&p=$i")" "$node1/purge/shop/?q=local&p=$i")
done
curl --max-time 60 "${signed[@]:1}" | sed 's/^/local\t/' >>"$raw/purges.tsv"
fill node
curl -s --max-time 60 -o /dev/null -w "$per_request" -X PURGE -H "Host: $cluster_name" \
    "$node1/purge/shop/?q=node&p=[1-$purges]" | sed 's/^/node\t/' >>"$raw/purges.tsv"
fill front
curl -sk --max-time 60 -o /dev/null -w "$per_request" -X PURGE --resolve "$cluster_name:$front_https:$front_addr" \
    "https://$cluster_name:$front_https/purge/shop/?q=front&p=[1-$purges]" | sed 's/^/front\t/' >>"$raw/purges.tsv"

{
    echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "cpus=$(nproc --all)"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "nginx=$(cluster_version) ($nginx)"
    echo "openssl=$(openssl version | cut -d' ' -f1-2)"
    echo "php=$("$PHP_FPM_BIN" -v | head -1 | cut -d' ' -f1-2)"
    echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    echo "commit=$(git -C "$repo" rev-parse --short HEAD)"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "reps=$reps"
    echo "duration=$duration"
    echo "pages=$pages"
    echo "connections=$connections"
    echo "elapsed_s=$(($(date +%s) - started))"
} >"$raw/meta.env"
python3 "$repo/bench/lib/cluster_report.py" "$raw" >"$results.tmp"
mv "$results.tmp" "$results"
if [ "$results" = "$repo/bench/cluster-results.md" ]; then
    python3 "$repo/bench/lib/readme_table.py" "$results" "$repo/README.md"
fi
cat "$results"
