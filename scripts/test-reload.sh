#!/usr/bin/env bash
# The shared counters survive `nginx -s reload` (README: "microcache_status"): counts made by
# the old workers are still there when only new workers, started from a changed
# configuration, answer.
#
#   scripts/test-reload.sh NGINX_BINARY MODULE_SO [PORT]
set -euo pipefail

nginx=$(realpath "$1")
module=$(realpath "$2")
port=${3:-1994}
dir=$(mktemp -d "${TMPDIR:-/tmp}/microcache-reload.XXXXXX")
mkdir -p "$dir/conf" "$dir/logs"

master=""
cleanup() {
    if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
        kill -QUIT "$master"
        for _ in $(seq 50); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

write_conf() {
    cat >"$dir/conf/nginx.conf" <<CONF
load_module $module;
worker_processes 2;
error_log logs/error.log notice;
pid logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        location /app { microcache on; return 204; }
        location = /status { microcache_status; }
        $1
    }
}
CONF
}

fail() { echo "FAIL: $*" >&2; exit 1; }
requests() { curl -sf "http://127.0.0.1:$port/status" | sed -n 's/^{"requests":\([0-9]*\),.*/\1/p'; }
workers() { ps --ppid "$master" -o pid= | tr -d ' ' | sort; }

write_conf ""
"$nginx" -p "$dir/" -c conf/nginx.conf -e logs/error.log
for _ in $(seq 50); do [ -s "$dir/logs/nginx.pid" ] && break; sleep 0.1; done
master=$(cat "$dir/logs/nginx.pid")
for i in 1 2 3 4 5; do curl -sf -o /dev/null "http://127.0.0.1:$port/app?utm_source=$i"; done
[ "$(requests)" = 5 ] || fail "expected 5 requests before the reload, got $(requests)"

old=$(workers)
write_conf "location /added { return 200; }"
"$nginx" -p "$dir/" -c conf/nginx.conf -e logs/error.log -t -q
"$nginx" -p "$dir/" -c conf/nginx.conf -e logs/error.log -s reload
# Wait (bounded) until none of the old workers is left, so only the new ones answer.
for _ in $(seq 100); do
    [ -z "$(comm -12 <(echo "$old") <(workers))" ] && break
    sleep 0.1
done
[ -z "$(comm -12 <(echo "$old") <(workers))" ] || fail "old workers still running after 10 s"
curl -sf -o /dev/null "http://127.0.0.1:$port/added" || fail "the new configuration is not active"

for i in 1 2 3; do curl -sf -o /dev/null "http://127.0.0.1:$port/app?gclid=$i"; done
[ "$(requests)" = 8 ] || fail "expected 8 requests after the reload, got $(requests)"
echo "PASS: counters survive a reload ($nginx)"
