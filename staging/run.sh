#!/usr/bin/env bash
# Local staging: nginx with ngx_http_microcache_module and the SHIPPED
# configuration (conf/, deploy/php-fpm/) in front of a real PHP-FPM serving
# the demo site in staging/www. `make run` builds the module and calls this.
#
#   staging/run.sh [start]   start, print where to point curl/a browser, and
#                            stay in the foreground until Ctrl-C / TERM
#   staging/run.sh stop      stop a staging run started with STAGING_DETACH=1
#   staging/run.sh status    exit 0 when it is running
#   staging/run.sh check     only write the configuration copy and run
#                            nginx -t and php-fpm -t on it
#
# The configuration files are copied into $STAGING_DIR with only the
# deployment-specific values changed: listen address and ports, paths (logs,
# pid, cache, socket, document root, certificate), the site name, and the
# user when not run as root. Nothing outside $STAGING_DIR is written.
#
# Environment:
#   STAGING_HTTPS_PORT (8443)  STAGING_HTTP_PORT (8080)  STAGING_LISTEN (127.0.0.1)
#   STAGING_SERVER_NAME (example.com)
#   STAGING_DIR                runtime directory: config copy, logs, cache, certificate;
#                              target/staging, or /run/microcache/<checkout id>/staging when
#                              the checkout is out of the workers' reach (scripts/lib/runtime-dir.sh)
#   STAGING_NGINX (/usr/sbin/nginx)
#   STAGING_MODULE (target/debian/release/libngx_http_microcache_module.so)
#   STAGING_PHP_FPM (php-fpm8.2)  STAGING_PHP_CHILDREN (4: pm.max_children of the static pool)
#   STAGING_NGINX_CONF_SRC (/etc/nginx)   where mime.types and fastcgi_params come from
#   STAGING_HYDRATE (1)        WooCommerce carts from the cache (README): the opt-in of the
#                              shipped vhost enabled in the copy, for the demo shop /shop.php;
#                              0 runs the configuration exactly as shipped (the default when
#                              STAGING_WWW is set: that document root has no demo shop)
#   STAGING_WWW                a document root to serve as it is (scripts/wordpress/ serves a
#                              WordPress this way); default: a fresh copy of staging/www
#   STAGING_DETACH=1           start, wait until it answers, and return
#   STAGING_TIMEOUT (20)       seconds to wait for startup / shutdown
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
# shellcheck source=scripts/lib/hydrate.sh
source "$repo/scripts/lib/hydrate.sh"

if [ -n "${STAGING_DIR:-}" ]; then
    dir=$STAGING_DIR
    case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
else
    runtime_dir staging
    dir=$RUNTIME_DIR
fi
http_port=${STAGING_HTTP_PORT:-8080}
https_port=${STAGING_HTTPS_PORT:-8443}
listen=${STAGING_LISTEN:-127.0.0.1}
name=${STAGING_SERVER_NAME:-example.com}
nginx=${STAGING_NGINX:-/usr/sbin/nginx}
module=${STAGING_MODULE:-$repo/target/debian/release/libngx_http_microcache_module.so}
php_fpm=${STAGING_PHP_FPM:-php-fpm8.2}
php_children=${STAGING_PHP_CHILDREN:-4}
nginx_conf_src=${STAGING_NGINX_CONF_SRC:-/etc/nginx}
timeout=${STAGING_TIMEOUT:-20}
hydrate=${STAGING_HYDRATE:-1}
[ -z "${STAGING_WWW:-}" ] || hydrate=${STAGING_HYDRATE:-0}
www=${STAGING_WWW:-$dir/www}

nginx_pid="$dir/run/nginx.pid"
fpm_pid="$dir/run/php-fpm.pid"

say() { printf 'staging: %s\n' "$*"; }
die() { printf 'staging: %s\n' "$*" >&2; exit 1; }

our_pid() { owned_pid "$1" "$dir"; }

running() { our_pid "$nginx_pid" >/dev/null || our_pid "$fpm_pid" >/dev/null; }

stop_one() {
    local pid
    pid=$(stop_owned "$2" "$dir" "$timeout")
    [ -z "$pid" ] || say "$1 stopped (pid $pid)"
}

stop() {
    stop_one nginx "$nginx_pid"
    stop_one php-fpm "$fpm_pid"
}

# Resolve a command name or path to an executable path.
exe() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || return 1; }

# Write the runtime copy of the configuration into $dir and test it with
# `nginx -t` and `php-fpm -t` (everything but starting the daemons).
prepare() {
    nginx_bin=$(exe "$nginx") || die "nginx not found ($nginx): make deps"
    PHP_FPM_BIN=$(exe "$php_fpm") || die "PHP-FPM not found ($php_fpm): make deps"
    command -v openssl >/dev/null || die "openssl not found: make deps"
    command -v curl >/dev/null || die "curl not found: make deps"
    [ -f "$module" ] || die "module not built: $module (make debian, or set STAGING_MODULE)"
    if running; then
        die "already running from $dir (stop it: STAGING_DIR=$dir $0 stop)"
    fi
    [ -z "${RUNTIME_NOTE:-}" ] || say "$RUNTIME_NOTE"
    # Unprivileged runs keep everything as the current user; as root the
    # daemons drop to www-data as in production, and www-data must reach $dir.
    local why
    why=$(reachable_dir "$dir" 2>&1) \
        || die "$why. Choose a STAGING_DIR that $WORKER_USER can enter, or leave it unset: staging then picks one."

    if [ -n "${STAGING_WWW:-}" ]; then
        why=$(reachable_dir "$www" 2>&1) || die "STAGING_WWW: $why"
    fi

    # A fresh, empty cache each time, like the tmpfs after a reboot.
    rm -rf "$dir/conf" "$dir/cache"
    mkdir -p "$dir"/{conf,logs,run,cache,tls,nginx}
    if [ -z "${STAGING_WWW:-}" ]; then
        rm -rf "$dir/www"
        cp -a "$repo/staging/www" "$dir/www"
        chmod -R a+rX "$dir/www"
    fi
    # The cart state endpoint, and the stand-in store of carts the demo shop writes.
    rm -rf "$dir/microcache"
    cp -a "$repo/deploy/woocommerce" "$dir/microcache"
    chmod -R a+rX "$dir/microcache"
    mkdir -p "$dir/microcache/carts"
    chown "$WORKER_USER:$WORKER_GROUP" "$dir/microcache/carts"

    # --- nginx configuration: the shipped files, deployment values swapped ---
    MC_LISTEN=$listen MC_HTTP_PORT=$http_port MC_HTTPS_PORT=$https_port \
    MC_SERVER_NAME=$name MC_USER=$WORKER_USER MC_STRICT_PATHS=1 MC_NGINX_COMMON=$nginx_conf_src \
    MC_PATHS="/etc/nginx/ $dir/conf/
/usr/lib/nginx/modules/ngx_http_microcache_module.so $module
/run/nginx.pid $nginx_pid
/var/log/nginx/ $dir/logs/
/dev/shm/nginx-cache $dir/cache
/etc/letsencrypt/live/example.com/fullchain.pem $dir/tls/fullchain.pem
/etc/letsencrypt/live/example.com/privkey.pem $dir/tls/privkey.pem
/var/www/example.com $www
/var/www/microcache/ $dir/microcache/
/run/php/php8.2-fpm.sock $dir/run/php-fpm.sock" \
        "$repo/staging/render-conf.sh" "$repo/conf" "$dir/conf"
    [ "$hydrate" = 0 ] || hydrate_opt_in "$dir/conf" || die "the shipped files changed: update scripts/lib/hydrate.sh"

    self_signed_cert "$name" "$dir/tls/fullchain.pem" "$dir/tls/privkey.pem" \
        || die "openssl could not create a certificate"

    # --- PHP-FPM: the shipped static pool and opcache settings ---
    php_fpm_configure "$dir" "$WORKER_USER" "$WORKER_GROUP" "$php_children" "$dir/logs/renders.log"
    php_fpm_test "$dir" || die "PHP-FPM configuration test failed"
    "$nginx_bin" -t -q -p "$dir/nginx/" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
        || die "nginx -t failed (see above, and $dir/logs/error.log)"
}

start() {
    local curl_host i code
    prepare
    php_fpm_start "$dir" "$timeout" || { stop; die "PHP-FPM did not start: $dir/logs/php-fpm.log"; }

    "$nginx_bin" -p "$dir/nginx/" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
        || { stop; die "nginx did not start: $dir/logs/error.log"; }

    # Ready when the site answers through nginx and PHP.
    case "$listen" in 0.0.0.0 | "[::]" | "") curl_host=127.0.0.1 ;; *) curl_host=${listen#[}; curl_host=${curl_host%]} ;; esac
    code=000
    for ((i = 0; i < timeout * 5; i++)); do
        code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 \
            --resolve "$name:$https_port:$curl_host" "https://$name:$https_port/" || true)
        [ "$code" = 200 ] && break
        sleep 0.2
    done
    if [ "$code" != 200 ]; then
        stop
        die "no answer from https://$name:$https_port/ (last status $code); the end of $dir/logs/error.log:
$(tail -n 5 "$dir/logs/error.log" 2>/dev/null)"
    fi
    local r="--resolve $name:$https_port:$curl_host"
    cat <<EOF

microcache staging is running: $("$nginx_bin" -v 2>&1 | sed 's/.*: //') + ngx_http_microcache_module -> PHP-FPM ($(basename "$PHP_FPM_BIN"))
  https://$name:$https_port/   (self-signed certificate; $name must resolve to $curl_host)
  http://$name:$http_port/    redirects to HTTPS

Try it with curl:
  curl -sk -o /dev/null -D - $r 'https://$name:$https_port/?p=1&utm_source=x'   # twice: X-FastCGI-Cache MISS, then HIT
  curl -sk -o /dev/null -D - $r 'https://$name:$https_port/?p=1&gclid=abc'      # same entry: HIT
  curl -sk  $r 'https://$name:$https_port/?p=1&utm_source=x&format=json'   # what PHP received
  curl -sk  $r 'https://$name:$https_port/microcache-status'
EOF
    [ "$hydrate" = 0 ] || cat <<EOF
WooCommerce carts from the cache (STAGING_HYDRATE=1): the demo shop https://$name:$https_port/shop.php
  curl -sk -c jar -b jar -L $r 'https://$name:$https_port/shop.php?add-to-cart=7' | grep cart-contents
  curl -sk -b jar -D - $r 'https://$name:$https_port/shop.php' | grep -iE 'cache-control|x-fastcgi|cart-contents'
EOF
    cat <<EOF
In a browser: add "$curl_host $name" to /etc/hosts (or start Chromium with
  --host-resolver-rules="MAP $name $curl_host"), open https://$name:$https_port/ and accept the certificate.

Configuration in use: $dir/conf (from conf/), $dir/php (from deploy/php-fpm/)
Logs: $dir/logs (error.log, access.log, php-fpm.log, renders.log = one line per PHP execution)
EOF
}

case "${1:-start}" in
check)
    # Only render and test the configuration (nginx -t, php-fpm -t).
    running && die "running from $dir: check with another STAGING_DIR"
    prepare
    say "configuration OK: $("$nginx_bin" -v 2>&1 | sed 's/.*: //') with $module ($dir/conf)"
    ;;
start)
    # Interrupted while starting: stop what was started.
    trap 'echo; stop; exit 130' INT TERM HUP
    start
    if [ "${STAGING_DETACH:-0}" = 1 ]; then
        trap - INT TERM HUP
        echo "Stop: STAGING_DIR=$dir $0 stop"
        exit 0
    fi
    echo "Stop: Ctrl-C"
    trap 'echo; stop; exit 0' INT TERM HUP
    # Stay in the foreground while both daemons live.
    while our_pid "$nginx_pid" >/dev/null && our_pid "$fpm_pid" >/dev/null; do
        sleep 1 &
        wait $! || true
    done
    say "a daemon exited unexpectedly; logs in $dir/logs"
    stop
    exit 1
    ;;
stop)
    stop
    ;;
status)
    if running; then
        say "running from $dir (nginx $(our_pid "$nginx_pid" || echo -), php-fpm $(our_pid "$fpm_pid" || echo -))"
    else
        say "not running ($dir)"
        exit 1
    fi
    ;;
*)
    die "usage: $0 [start|stop|status|check]"
    ;;
esac
