#!/bin/bash
# Entrypoint of the microcache staging image (run by tini as PID 1): install
# the shipped configuration with this container's ports and site name, make a
# self-signed certificate unless one is mounted, then run PHP-FPM and nginx in
# the foreground. TERM/INT/QUIT stop both gracefully; if either daemon exits,
# the other is stopped and the container exits with the daemon's status.
#
# Environment:
#   MICROCACHE_SERVER_NAME  site name (example.com)
#   MICROCACHE_HTTP_PORT    HTTP port, redirects to HTTPS (80)
#   MICROCACHE_HTTPS_PORT   HTTPS port (443)
#   MICROCACHE_LISTEN       listen address (empty = all; e.g. 127.0.0.1 with --network=host)
#   MICROCACHE_PHP_CHILDREN pm.max_children of the static pool (as shipped: 16)
# Certificate: mount /etc/letsencrypt/live/<name>/{fullchain,privkey}.pem.
set -euo pipefail

name=${MICROCACHE_SERVER_NAME:-example.com}
http_port=${MICROCACHE_HTTP_PORT:-80}
https_port=${MICROCACHE_HTTPS_PORT:-443}

# The demo site stays where the image put it whatever the site name.
MC_LISTEN=${MICROCACHE_LISTEN:-} MC_HTTP_PORT=$http_port MC_HTTPS_PORT=$https_port \
MC_SERVER_NAME=$name MC_PATHS="/var/www/example.com /var/www/microcache-demo" \
    /usr/local/lib/microcache/render-conf.sh /usr/share/microcache/conf /etc/nginx

# nginx.conf asks for 65536 descriptors per worker; a container cannot raise
# its hard limit, so ask for no more than it has (nginx would log an alert).
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 65536 ]; then
    sed -i "s/^worker_rlimit_nofile .*/worker_rlimit_nofile $hard;/" /etc/nginx/nginx.conf
    echo "entrypoint: open file limit $hard: worker_rlimit_nofile lowered to it (run with --ulimit nofile=65536:65536)"
fi

if [ -n "${MICROCACHE_PHP_CHILDREN:-}" ]; then
    sed -i "s|^pm.max_children = .*|pm.max_children = $MICROCACHE_PHP_CHILDREN|" /etc/php/8.2/fpm/pool.d/www.conf
fi

tls=/etc/letsencrypt/live/$name
if [ ! -s "$tls/fullchain.pem" ] || [ ! -s "$tls/privkey.pem" ]; then
    echo "entrypoint: no certificate in $tls: generating a self-signed one for $name"
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
        -subj "/CN=$name" -addext "subjectAltName=DNS:$name" \
        -keyout "$tls/privkey.pem" -out "$tls/fullchain.pem" 2>/dev/null
    chmod 600 "$tls/privkey.pem"
fi

# The cache tmpfs (deploy/fstab's mount point); nginx makes the site's directory in it.
mkdir -p /run/php /dev/shm/nginx-cache
php-fpm8.2 -t 2>&1
nginx -t 2>&1

# -F: foreground, -O: its log to stderr (the container log).
php-fpm8.2 -F -O &
fpm=$!
nginx -g 'daemon off;' &
ngx=$!

stopping=0
stop() {
    stopping=1
    # QUIT: graceful for both (finish in-flight requests).
    kill -QUIT "$ngx" "$fpm" 2>/dev/null || true
}
trap stop TERM INT QUIT

status=0
# Until one of them exits (a trapped signal interrupts the wait; go on waiting).
while :; do
    wait -n "$ngx" "$fpm" && status=0 || status=$?
    if [ "$stopping" = 1 ] || ! kill -0 "$ngx" 2>/dev/null || ! kill -0 "$fpm" 2>/dev/null; then
        break
    fi
done
[ "$stopping" = 1 ] || echo "entrypoint: a daemon exited (status $status): stopping" >&2
stop
wait "$ngx" "$fpm" 2>/dev/null || true
[ "$stopping" = 1 ] && [ "$status" -ge 128 ] && status=0
exit "$status"
