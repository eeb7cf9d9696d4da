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
# shellcheck source=scripts/lib/private-nginx.sh
. "$(dirname "$0")/lib/private-nginx.sh"
private_nginx_dir "${TMPDIR:-/tmp}"

write_conf() {
    cat >"$nginx_dir/conf/nginx.conf" <<CONF
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

write_conf ""
private_nginx_start "$nginx"
for i in 1 2 3 4 5; do curl -sf -o /dev/null "http://127.0.0.1:$port/app?utm_source=$i"; done
[ "$(requests)" = 5 ] || fail "expected 5 requests before the reload, got $(requests)"

write_conf "location /added { return 200; }"
# Once none of the old workers is left, only the new ones answer.
private_nginx_reload "$nginx" || fail "old workers still running after 10 s"
curl -sf -o /dev/null "http://127.0.0.1:$port/added" || fail "the new configuration is not active"

for i in 1 2 3; do curl -sf -o /dev/null "http://127.0.0.1:$port/app?gclid=$i"; done
[ "$(requests)" = 8 ] || fail "expected 8 requests after the reload, got $(requests)"
echo "PASS: counters survive a reload ($nginx)"
