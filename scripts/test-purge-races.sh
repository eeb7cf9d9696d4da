#!/usr/bin/env bash
# Purges racing each other and a reload (README, "microcache_purge"):
# - concurrent prefix purges over two workers report, added up, exactly the entries removed;
# - a reload whose worker_shutdown_timeout is shorter than a running zone purge cuts the walk
#   off, and the error log says so.
#
#   scripts/test-purge-races.sh NGINX_BINARY MODULE_SO [PORT]
set -euo pipefail

nginx=$(realpath "$1")
module=$(realpath "$2")
port=${3:-1995}
entries=${PURGE_RACE_ENTRIES:-600}
# shellcheck source=scripts/lib/private-nginx.sh
. "$(dirname "$0")/lib/private-nginx.sh"
private_nginx_dir /dev/shm   # on tmpfs: the test makes 65k directories
dir=$nginx_dir
mkdir -p "$dir/cache"

fail() { echo "FAIL: $*" >&2; exit 1; }

write_conf() {
    { private_nginx_main "$module"; cat; } >"$dir/conf/nginx.conf" <<CONF
$1
events { worker_connections 256; }
http {
    access_log off;
    proxy_cache_path $dir/cache levels=2:2 keys_zone=races:8m;
    server {
        listen unix:$dir/backend.sock;
        location / { return 200 "\$uri\n"; }
    }
    server {
        listen 127.0.0.1:$port;
        microcache on;
        location /e/ {
            proxy_pass http://unix:$dir/backend.sock;
            proxy_cache races;
            proxy_cache_key \$microcache_key;
            proxy_cache_valid 200 10m;
        }
        location /p/ { microcache_purge races; }
        location = /purgeall { microcache_purge races "*"; }
    }
}
CONF
}

cached_files() { find "$dir/cache" -type f | wc -l; }
purged() { sed -n 's/.*"purged":\([0-9]*\).*/\1/p'; }

fill() {
    # One curl, one connection: URL globbing fetches /e/<group>/1 .. /e/<group>/N.
    for group in a b c d e f; do
        curl -sf "http://127.0.0.1:$port/e/$group/[1-$(( $1 / 6 ))]" >/dev/null
    done
}

write_conf "worker_shutdown_timeout 10ms;"
private_nginx_start "$nginx"

# 1. Six concurrent prefix purges of overlapping prefixes: every entry under /e/ is removed
#    once, and the six answers add up to exactly that.
fill "$entries"
before=$(cached_files)
[ "$before" -ge "$entries" ] || fail "expected $entries cached files, found $before"
pids=()
for i in 1 2 3 4 5 6; do
    curl -s "http://127.0.0.1:$port/p/e/*" >"$dir/purge.$i" &
    pids+=($!)
done
wait "${pids[@]}"
total=0
for i in 1 2 3 4 5 6; do total=$(( total + $(purged <"$dir/purge.$i") )); done
left=$(cached_files)
[ "$left" = 0 ] || fail "$left cache files left after the purges"
[ "$total" = "$before" ] || fail "the purges reported $total entries; $before were removed"
echo "PASS: 6 concurrent prefix purges reported $total entries, exactly the $before removed"

# 2. A zone purge cut off by a reload with a short worker_shutdown_timeout says so. Every
#    level directory exists, so the walk has 65k directories to visit: longer than the reload.
fill "$entries"
hex='{{0..9},{a..f}}'
for top in $(eval "echo $hex$hex"); do
    eval "mkdir -p $dir/cache/$top/$hex$hex"
done
curl -s -m 20 "http://127.0.0.1:$port/purgeall" >"$dir/purge.all" 2>/dev/null &
purge=$!
sleep 0.05
write_conf "worker_shutdown_timeout 10ms;"
private_nginx "$nginx" -s reload
wait "$purge" || true
for _ in $(seq 100); do
    grep -q 'purge stopped before it was done' "$dir/logs/error.log" && break
    sleep 0.1
done
grep -q 'purge stopped before it was done' "$dir/logs/error.log" \
    || fail "no log line says the walk was cut off; $(cached_files) files left, answer: $(cat "$dir/purge.all")"
[ "$(cached_files)" -gt 0 ] || fail "the walk was not cut off: the test needs more entries"
echo "PASS: a reload cut a zone purge off after worker_shutdown_timeout, and the log says so"
