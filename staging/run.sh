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
#   STAGING_DIR (target/staging)   runtime directory: config copy, logs, cache, certificate
#   STAGING_NGINX (/usr/sbin/nginx)
#   STAGING_MODULE (target/debian/release/libngx_http_microcache_module.so)
#   STAGING_PHP_FPM (php-fpm8.2)  STAGING_PHP_CHILDREN (4: pm.max_children of the static pool)
#   STAGING_NGINX_CONF_SRC (/etc/nginx)   where mime.types and fastcgi_params come from
#   STAGING_DETACH=1           start, wait until it answers, and return
#   STAGING_TIMEOUT (20)       seconds to wait for startup / shutdown
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${STAGING_DIR:-$repo/target/staging}
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
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

nginx_pid="$dir/run/nginx.pid"
fpm_pid="$dir/run/php-fpm.pid"

say() { printf 'staging: %s\n' "$*"; }
die() { printf 'staging: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib/pidfile.sh
source "$repo/scripts/lib/pidfile.sh"
our_pid() { owned_pid "$1" "$dir"; }

running() { our_pid "$nginx_pid" >/dev/null || our_pid "$fpm_pid" >/dev/null; }

# Stop one daemon: SIGTERM (fast shutdown of nginx, php-fpm) to the master we
# started, wait for it, SIGKILL after the timeout.
stop_one() {
    local what=$1 f=$2 pid i
    pid=$(our_pid "$f") || { rm -f "$f"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { say "$what stopped (pid $pid)"; rm -f "$f"; return 0; }
        sleep 0.1
    done
    say "$what (pid $pid) did not stop in ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
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
    local user group
    nginx_bin=$(exe "$nginx") || die "nginx not found ($nginx): make deps"
    fpm_bin=$(exe "$php_fpm") || die "PHP-FPM not found ($php_fpm): make deps"
    command -v openssl >/dev/null || die "openssl not found: make deps"
    command -v curl >/dev/null || die "curl not found: make deps"
    [ -f "$module" ] || die "module not built: $module (make debian, or set STAGING_MODULE)"
    if [ ! -f "$nginx_conf_src/mime.types" ] || [ ! -f "$nginx_conf_src/fastcgi_params" ]; then
        die "$nginx_conf_src/mime.types or fastcgi_params missing (apt-get install nginx-common, or set STAGING_NGINX_CONF_SRC)"
    fi
    if running; then
        die "already running from $dir (stop it: STAGING_DIR=$dir $0 stop)"
    fi

    # Unprivileged runs keep everything as the current user; as root the
    # daemons drop to www-data as in production.
    if [ "$(id -u)" -eq 0 ]; then user=www-data group=www-data; else user=$(id -un) group=$(id -gn); fi

    # A fresh, empty cache each time, like the tmpfs after a reboot.
    rm -rf "$dir/www" "$dir/conf" "$dir/cache"
    mkdir -p "$dir"/{conf,logs,run,cache,tls,php/conf.d,nginx}
    cp -a "$repo/staging/www" "$dir/www"
    chmod -R a+rX "$dir/www"

    # --- nginx configuration: the shipped files, deployment values swapped ---
    MC_LISTEN=$listen MC_HTTP_PORT=$http_port MC_HTTPS_PORT=$https_port \
    MC_SERVER_NAME=$name MC_USER=$user MC_STRICT_PATHS=1 \
    MC_PATHS="/etc/nginx/ $dir/conf/
/usr/lib/nginx/modules/ngx_http_microcache_module.so $module
/run/nginx.pid $nginx_pid
/var/log/nginx/ $dir/logs/
/dev/shm/nginx-cache $dir/cache
/etc/letsencrypt/live/example.com/fullchain.pem $dir/tls/fullchain.pem
/etc/letsencrypt/live/example.com/privkey.pem $dir/tls/privkey.pem
/var/www/example.com $dir/www
/run/php/php8.2-fpm.sock $dir/run/php-fpm.sock" \
        "$repo/staging/render-conf.sh" "$repo/conf" "$dir/conf"
    cp "$nginx_conf_src/mime.types" "$nginx_conf_src/fastcgi_params" "$dir/conf/"

    # --- A self-signed certificate for the site name (kept while valid) ---
    if ! openssl x509 -in "$dir/tls/fullchain.pem" -noout -checkend 86400 >/dev/null 2>&1 \
        || ! openssl x509 -in "$dir/tls/fullchain.pem" -noout -ext subjectAltName 2>/dev/null | grep -qF "DNS:$name"; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
            -subj "/CN=$name" -addext "subjectAltName=DNS:$name" \
            -keyout "$dir/tls/privkey.pem" -out "$dir/tls/fullchain.pem" >/dev/null 2>&1 \
            || die "openssl could not create a certificate"
        chmod 600 "$dir/tls/privkey.pem"
    fi

    # --- PHP-FPM: the shipped static pool and opcache settings ---
    sed -e "s|/run/php/php8.2-fpm.sock|$dir/run/php-fpm.sock|" \
        -e "s|/var/log/php8.2-fpm.slow.log|$dir/logs/php-fpm.slow.log|" \
        -e "s|^pm.max_children = .*|pm.max_children = $php_children|" \
        -e "s#^\\(user\\|listen\\.owner\\) = www-data#\\1 = $user#" \
        -e "s#^\\(group\\|listen\\.group\\) = www-data#\\1 = $group#" \
        "$repo/deploy/php-fpm/www.conf" >"$dir/php/www.conf"
    # The demo page logs each execution here (scripts count PHP renders).
    printf '\n; staging only: the demo page appends one line per execution\nenv[MICROCACHE_RENDER_LOG] = %s\n' \
        "$dir/logs/renders.log" >>"$dir/php/www.conf"
    cp "$repo/deploy/php-fpm/"*.ini "$dir/php/conf.d/"
    cat >"$dir/php/php-fpm.conf" <<EOF
; staging: the global part of /etc/php/8.2/fpm/php-fpm.conf, paths in $dir
[global]
pid = $fpm_pid
error_log = $dir/logs/php-fpm.log
daemonize = yes
include = $dir/php/www.conf
EOF
    : >"$dir/logs/renders.log"
    chown "$user" "$dir/logs/renders.log"

    # PHP_INI_SCAN_DIR with a leading ":" adds our ini after Debian's conf.d.
    export PHP_INI_SCAN_DIR=":$dir/php/conf.d"
    "$fpm_bin" -t -y "$dir/php/php-fpm.conf" >"$dir/logs/php-fpm-test.log" 2>&1 \
        || { cat "$dir/logs/php-fpm-test.log" >&2; die "PHP-FPM configuration test failed"; }
    "$nginx_bin" -t -q -p "$dir/nginx/" -c "$dir/conf/nginx.conf" -e "$dir/logs/error.log" \
        || die "nginx -t failed (see above, and $dir/logs/error.log)"
}

start() {
    local curl_host i code
    prepare
    "$fpm_bin" -y "$dir/php/php-fpm.conf" || die "PHP-FPM did not start: $dir/logs/php-fpm.log"
    for ((i = 0; i < timeout * 10; i++)); do
        [ -S "$dir/run/php-fpm.sock" ] && our_pid "$fpm_pid" >/dev/null && break
        sleep 0.1
    done
    [ -S "$dir/run/php-fpm.sock" ] || { stop; die "PHP-FPM socket did not appear: $dir/logs/php-fpm.log"; }

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
    [ "$code" = 200 ] || { stop; die "no answer from https://$name:$https_port/ (last status $code); logs in $dir/logs"; }

    local r="--resolve $name:$https_port:$curl_host"
    cat <<EOF

microcache staging is running: $("$nginx_bin" -v 2>&1 | sed 's/.*: //') + ngx_http_microcache_module -> PHP-FPM ($(basename "$fpm_bin"))
  https://$name:$https_port/   (self-signed certificate; $name must resolve to $curl_host)
  http://$name:$http_port/    redirects to HTTPS

Try it with curl:
  curl -sk -o /dev/null -D - $r 'https://$name:$https_port/?p=1&utm_source=x'   # twice: X-FastCGI-Cache MISS, then HIT
  curl -sk -o /dev/null -D - $r 'https://$name:$https_port/?p=1&gclid=abc'      # same entry: HIT
  curl -sk  $r 'https://$name:$https_port/?p=1&utm_source=x&format=json'   # what PHP received
  curl -sk  $r 'https://$name:$https_port/microcache-status'
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
