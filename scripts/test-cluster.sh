#!/usr/bin/env bash
# A cluster on this machine, made of the SHIPPED conf/cluster/ files (README: "More than one
# machine"): the fronts on 127.0.0.2 and three cache nodes on 127.0.0.3-5, one real PHP-FPM
# origin behind all three. Each check prints PASS or FAIL with what it saw:
# - with sharding, PHP renders each normalised URL once for the whole cluster; without it
#   (the same front, round robin), once per node;
# - a purge sent to one node, or to the front, removes the entry on every node, and every node
#   sees it exactly once (access logs): no loops;
# - a purge signed with another secret is refused (403); one signed with the cluster's is
#   applied and not sent on;
# - one node stopped: GETs through the front still succeed, and only the stopped node's share
#   of the keys moves (about 1/3); a purge names the node as failed (502); a node that drops
#   connections instead costs a purge its connect timeout, no more.
#
#   scripts/test-cluster.sh NGINX MODULE_SO
#
# Environment: CLUSTER_PORT_BASE (19900): the front's HTTP and HTTPS ports are BASE+1 and +2,
# the round-robin front's BASE+3 and +4, the nodes' BASE+10. Runtime files:
# target/test-cluster, or /run/microcache/<checkout id>/test-cluster when the checkout is out
# of www-data's reach (scripts/lib/runtime-dir.sh).
set -uo pipefail
umask 022

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
# shellcheck source=scripts/lib/testing.sh
source scripts/lib/testing.sh
# shellcheck source=scripts/lib/runtime-dir.sh
source scripts/lib/runtime-dir.sh
# shellcheck source=scripts/lib/pidfile.sh
source scripts/lib/pidfile.sh
# shellcheck source=scripts/lib/php-fpm.sh
source scripts/lib/php-fpm.sh
# shellcheck source=scripts/lib/tls.sh
source scripts/lib/tls.sh
# shellcheck source=scripts/lib/cluster.sh
source scripts/lib/cluster.sh

[ $# = 2 ] || { echo "usage: $0 NGINX MODULE_SO" >&2; exit 2; }
cluster_setup "$1" "$2" "${CLUSTER_PORT_BASE:-19900}" test-cluster
trap cluster_stop EXIT
trap 'exit 143' TERM INT
section "cluster: $(cluster_version)"
# The same front without the hash: round robin.
cluster_add_front rr '/hash .microcache_key consistent;/d'
rr_https=$added_https
cluster_start || { fail "start" "$(cluster_failure)"; finish test-cluster; }
pass "start" "front $front_addr:$front_https, round-robin front $front_addr:$rr_https, nodes ${node_addrs[*]} (port $node_port), PHP-FPM; nginx -t clean on all"
rr_get() { https_get "$rr_https" "$front_addr" "$@"; }

# --- helpers (every request bounded by --max-time) ---
# get_node N PATH: a GET of PATH straight from node N (1-3); prints its X-FastCGI-Cache.
get_node() {
    curl -s --max-time 5 -o /dev/null -D - -H "Host: $cluster_name" "http://${node_addrs[$1 - 1]}:$node_port$2" \
        | tr -d '\r' | sed -n 's/^x-fastcgi-cache: //Ip'
}
# states PATH: the X-FastCGI-Cache of PATH on each node.
states() { echo "$(get_node 1 "$1") $(get_node 2 "$1") $(get_node 3 "$1")"; }
# purge URL [curl args...]: sets $answer ("STATUS BODY") and $purge_time (seconds).
purge() {
    local url=$1 out
    shift
    out=$(curl -sk --max-time 10 -w '\n%{http_code} %{time_total}' "$@" "$url")
    purge_time=${out##* }
    out=${out% *}
    answer="${out##*$'\n'} ${out%$'\n'*}"
    answer=${answer%$'\n'}
}
# renders_of PATTERN: how many times PHP rendered each URI matching PATTERN (an ERE), as
# "COUNT URI" lines.
renders_of() { awk -v p="^$1\$" '$4 ~ p { n[$4]++ } END { for (u in n) print n[u], u }' "$cluster_renders"; }
# fanouts NODE PATH: the purges of PATH node NODE received from a peer or the front.
fanouts() { grep -cF "\"GET $2 HTTP/1.0\"" "$cluster_dir/node$1/logs/access.log" | tr -d ' '; }

section "sharding: one render per normalised URL for the whole cluster"
# 31 pages, each asked 3 times with other tracking ids and the arguments in another order, on
# one connection (one worker: round robin then sends each page to each node in turn).
front_get "/?utm_source=s1&p=[1-31]&gclid=g1" "/?p=[1-31]&utm_medium=m2" "/?fbclid=f3&p=[1-31]" >/dev/null
counts=$(renders_of '/[?]p=[0-9]+' | awk '{ print $1 }' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
pages=$(renders_of '/[?]p=[0-9]+' | wc -l)
check "sharded: 93 requests for 31 URLs" "renders per URL (count x renders): ${counts%,}; $pages URLs" \
    test "$pages" = 31 -a "$counts" = " 31 1,"
rr_get "/?utm_source=s1&p=[101-131]&gclid=g1" "/?p=[101-131]&utm_medium=m2" "/?fbclid=f3&p=[101-131]" >/dev/null
counts=$(renders_of '/[?]p=1[0-9][0-9]' | awk '{ print $1 }' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
check "round robin (the same front without the hash): 93 requests for 31 URLs" \
    "renders per URL (count x renders): ${counts%,}" test "$counts" = " 31 3,"

section "a purge sent to one node purges every node, and each node sees it once"
for n in 1 2 3; do get_node "$n" "/?p=500" >/dev/null; done
before=$(states "/?p=500")
purge "http://${node_addrs[1]}:$node_port/purge/?p=500" -H "Host: $cluster_name"
after=$(states "/?p=500")
peers="[{\"peer\":\"${node_addrs[0]}:$node_port\",\"status\":200,\"purged\":1},{\"peer\":\"${node_addrs[1]}:$node_port\",\"self\":true},{\"peer\":\"${node_addrs[2]}:$node_port\",\"status\":200,\"purged\":1}]"
ok=false
[ "$before $after" = "HIT HIT HIT MISS MISS MISS" ] && [[ $answer == "200 "*"\"peers\":$peers}" ]] && ok=true
check "cached on every node, then purged through node 2" "before: $before; answer: $answer; after: $after" "$ok"
for n in 1 2 3; do get_node "$n" "/?p=501" >/dev/null; done
purge "https://$cluster_name:$front_https/purge/?p=501" --resolve "$cluster_name:$front_https:$front_addr"
after=$(states "/?p=501")
ok=false
[ "$after" = "MISS MISS MISS" ] && [[ $answer == "200 {\"mode\":\"hard\",\"peers\":[{"*"\"purged\":1},{"*"\"purged\":1},{"*"\"purged\":1}]}" ]] && ok=true
check "purged through the front (no cache of its own)" "answer: $answer; after: $after" "$ok"
cluster_flush_logs
seen="node 1: $(fanouts 1 "/purge/?p=500")+$(fanouts 1 "/purge/?p=501"), node 2: $(fanouts 2 "/purge/?p=500")+$(fanouts 2 "/purge/?p=501"), node 3: $(fanouts 3 "/purge/?p=500")+$(fanouts 3 "/purge/?p=501")"
check "no loops: each node received each purge from a peer or the front once (node 2 none: it was the one asked)" \
    "purges of ?p=500 + ?p=501 in the access logs, $seen" \
    test "$seen" = "node 1: 1+1, node 2: 0+1, node 3: 1+1"
for n in 1 2 3; do get_node "$n" "/?p=502" >/dev/null; get_node "$n" "/?p=503" >/dev/null; done
purge "http://${node_addrs[2]}:$node_port/purge/" --data-binary $'/?p=502\n/?p=503\n' -H "Host: $cluster_name"
after="$(states "/?p=502") $(states "/?p=503")"
ok=false
[ "$after" = "MISS MISS MISS MISS MISS MISS" ] && [[ $answer == "200 "*"\"purged\":2},{"*"\"purged\":2},{"*"\"self\":true}]}" ]] && ok=true
check "a batch purge through node 3 reaches every node" "answer: $answer; after: $after" "$ok"

section "signatures"
get_node 1 "/?p=510" >/dev/null
get_node 2 "/?p=510" >/dev/null
purge "http://${node_addrs[0]}:$node_port/purge/?p=510" -X PURGE -H "Host: $cluster_name" \
    -H "$(cluster_sign "not the cluster's secret at all" PURGE "/purge/?p=510")"
after=$(get_node 1 "/?p=510")
ok=false
[ "$after" = HIT ] && [[ $answer == "403 "*"wrong purge signature"* ]] && ok=true
check "a purge signed with another secret is refused, nothing purged" "answer: $answer; node 1 after: $after" "$ok"
purge "http://${node_addrs[0]}:$node_port/purge/?p=510" -X PURGE -H "Host: $cluster_name" \
    -H "$(cluster_sign "$cluster_secret" PURGE "/purge/?p=510")"
cluster_flush_logs
after="$(get_node 1 "/?p=510") $(get_node 2 "/?p=510")"
received=$(grep -cF '/purge/?p=510 ' "$cluster_dir/node2/logs/access.log")
ok=false
[ "$after $received" = "MISS HIT 0" ] && [[ $answer == "200 {\"key\":"*"\"elapsed_us\":"[0-9]*"}" ]] && ok=true
check "a purge signed with the cluster's secret is applied and not sent on" \
    "answer: $answer; after, node 1 and node 2: $after; purges node 2 received: $received" "$ok"

section "one node stopped"
keys=300
front_get "/?k=[1-$keys]" >/dev/null
cluster_flush_logs
cluster_nodes_by_key | sort -k1,1 >"$cluster_dir/nodes.before"
cluster_stop_node 3
codes=$(front_get "/?k=[1-$keys]" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
check "every GET through the front still succeeds" "$keys GETs: status counts ${codes%,}" test "$codes" = " $keys 200,"
cluster_flush_logs
cluster_nodes_by_key | tail -n "$keys" | sort -k1,1 >"$cluster_dir/nodes.after"
node3="${node_addrs[2]}:$node_port"
moved=$(join "$cluster_dir/nodes.before" "$cluster_dir/nodes.after" | awk '$2 != $3' | wc -l)
on3=$(awk -v n="$node3" '$2 == n' "$cluster_dir/nodes.before" | wc -l)
others=$(join "$cluster_dir/nodes.before" "$cluster_dir/nodes.after" | awk -v n="$node3" '$2 != $3 && $2 != n' | wc -l)
share=$(awk -v m="$moved" -v k="$keys" 'BEGIN { printf "%.3f", m / k }')
ok=false
[ "$moved" = "$on3" ] && [ "$others" = 0 ] && awk -v s="$share" 'BEGIN { exit !(s >= 0.2 && s <= 0.47) }' && ok=true
check "only the stopped node's keys moved, about a third" \
    "$moved of $keys keys moved (share $share); node 3 had $on3; keys of other nodes that moved: $others" "$ok"
purge "http://${node_addrs[0]}:$node_port/purge/?k=1" -H "Host: $cluster_name"
ok=false
[[ $answer == "502 "*"{\"peer\":\"$node3\",\"error\":\"cannot connect\"}]}" ]] && ok=true
check "a purge names the stopped node as failed: 502" "answer: $answer (${purge_time}s)" "$ok"
cluster_hang_node 3
purge "http://${node_addrs[0]}:$node_port/purge/?k=2" -H "Host: $cluster_name"
ok=false
[[ $answer == "502 "*"{\"peer\":\"$node3\",\"error\":\"connect timed out\"}]}" ]] &&
    awk -v t="$purge_time" 'BEGIN { exit !(t >= 0.9 && t < 1.8) }' && ok=true
check "a node that drops connections costs a purge its connect timeout (1s), no more" "answer: $answer (${purge_time}s)" "$ok"

finish "test-cluster ($(cluster_version))"
