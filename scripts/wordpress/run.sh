#!/usr/bin/env bash
# A real WordPress behind the SHIPPED configuration, for checks that act like a site owner:
# Debian's wordpress package with a private MariaDB, served by the staging machinery
# (staging/run.sh: conf/ and deploy/php-fpm/ on Debian's nginx with the module). It is set up,
# handed to COMMAND, and torn down, all bounded in time.
#
#   scripts/wordpress/run.sh COMMAND [ARGS...]      e.g. scripts/wordpress/run.sh bash
#
# Everything runs in private namespaces (network, mount, PID): the site listens on
# 127.0.0.1:443 and :80 of a network of its own, where example.com resolves to 127.0.0.1 (a
# private /etc/hosts, as the README's deployment section asks of a real server) and the site's
# self-signed certificate is trusted (a private copy of the CA bundle). Plugins therefore reach
# the site exactly as on a real server. No system service or file is touched, and when COMMAND
# ends or the time is up, every process started here ends with the namespace.
#
# COMMAND runs as root in the namespace with these in its environment (helpers for it:
# scripts/wordpress/lib.sh):
#   WP_URL      https://example.com
#   WP_DIR      the runtime directory: db/, www/ (the document root), staging/ (nginx's
#               configuration copy, logs/, cache/), tools/ (the PHP scripts), site.json
#   WP_DOCROOT  WordPress's document root, a copy of /usr/share/wordpress with its own wp-config.php
#   WP_CACHE    nginx's cache directory (fastcgi_cache_path)
#   WP_LOGS     the logs: nginx's error.log and access.log, php-fpm.log, mariadb.log
#   WP_SITE     site.json: the admin's login and application password, the content's ids and URLs
#
# Needs root and `scripts/install-deps.sh build staging wordpress`, and the module built for
# Debian's nginx (`make debian`). Environment:
#   WP_TIMEOUT (900)   seconds COMMAND may take
#   WP_NGINX (/usr/sbin/nginx), WP_MODULE (target/debian/release/libngx_http_microcache_module.so)
#   WP_PHP_CHILDREN (4)
# Runtime files: target/wordpress, or /run/microcache/<checkout id>/wordpress when the checkout is
# out of www-data's reach (scripts/lib/runtime-dir.sh); the database and the document root are
# removed at the end, the logs and configuration are kept until the next run.
set -euo pipefail
umask 022

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name=example.com
timeout=${WP_TIMEOUT:-900}

die() { printf 'wordpress: %s\n' "$*" >&2; exit 1; }
say() { printf 'wordpress: %s\n' "$*" >&2; }

[ $# -gt 0 ] || die "usage: $0 COMMAND [ARGS...]"

if [ "${WP_NAMESPACE:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || die "needs root (private namespaces; nginx, PHP-FPM and MariaDB drop to their users)"
    missing=()
    for f in /usr/share/wordpress/wp-settings.php /usr/sbin/mariadbd /usr/bin/mariadb-install-db \
        /usr/share/wordpress/wp-content/themes/twentytwentyone; do
        [ -e "$f" ] || missing+=("$f")
    done
    for c in php php-fpm8.2 curl openssl unshare ip; do command -v "$c" >/dev/null || missing+=("$c"); done
    php -r 'exit(extension_loaded("mysqli") ? 0 : 1);' || missing+=("php8.2-mysql")
    [ ${#missing[@]} = 0 ] || die "missing: ${missing[*]} (scripts/install-deps.sh build staging wordpress)"
    module=${WP_MODULE:-$repo/target/debian/release/libngx_http_microcache_module.so}
    [ -f "$module" ] || die "module not built: $module (make debian, or set WP_MODULE)"
    # The set-up gets 3 minutes on top of COMMAND's time; --kill-child: if this is stopped,
    # the namespace's first process is killed, and with it every process in the namespace.
    WP_NAMESPACE=1 exec timeout --kill-after=10 $((timeout + 180)) \
        unshare --net --mount --pid --fork --mount-proc --propagation private --kill-child \
        "$0" "$@"
fi

# --- In the namespaces ---
# shellcheck source=scripts/lib/runtime-dir.sh
source "$repo/scripts/lib/runtime-dir.sh"
# shellcheck source=scripts/lib/tls.sh
source "$repo/scripts/lib/tls.sh"

runtime_dir wordpress
dir=$RUNTIME_DIR
[ -z "$RUNTIME_NOTE" ] || say "$RUNTIME_NOTE"
staging_dir=$dir/staging
db=$dir/db
www=$dir/www
logs=$staging_dir/logs
mariadb_pid=""

staging() {
    STAGING_DIR=$staging_dir STAGING_WWW=$www STAGING_HTTP_PORT=80 STAGING_HTTPS_PORT=443 \
    STAGING_LISTEN=127.0.0.1 STAGING_SERVER_NAME=$name STAGING_NGINX=${WP_NGINX:-/usr/sbin/nginx} \
    STAGING_MODULE=${WP_MODULE:-$repo/target/debian/release/libngx_http_microcache_module.so} \
    STAGING_PHP_CHILDREN=${WP_PHP_CHILDREN:-4} STAGING_DETACH=1 STAGING_TIMEOUT=30 \
        timeout 120 "$repo/staging/run.sh" "$@"
}

# shellcheck disable=SC2317 # (called by the EXIT trap)
teardown() {
    staging stop >/dev/null 2>&1 || true
    if [ -n "$mariadb_pid" ] && kill -0 "$mariadb_pid" 2>/dev/null; then
        kill -TERM "$mariadb_pid"
        for _ in $(seq 100); do kill -0 "$mariadb_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$db" "$www"
}
trap teardown EXIT
trap 'exit 130' INT TERM HUP

why=$(reachable_dir "$dir" 2>&1) || die "$why"

# The namespace's network: loopback only, the site's name on it.
ip link set lo up
printf '127.0.0.1 localhost %s\n::1 localhost\n' "$name" >"$dir/etc-hosts"
mount --bind "$dir/etc-hosts" /etc/hosts
rm -rf "$db" "$www" "$staging_dir"
mkdir -p "$logs" "$db"

# The site's certificate, trusted by every client in the namespace (PHP's curl, WordPress's
# HTTP API, the curl of the checks).
self_signed_cert "$name" "$staging_dir/tls/fullchain.pem" "$staging_dir/tls/privkey.pem" \
    || die "openssl could not create a certificate"
cat /etc/ssl/certs/ca-certificates.crt "$staging_dir/tls/fullchain.pem" >"$dir/ca-certificates.crt"
mount --bind "$dir/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt

# --- MariaDB: a private server on a socket, no TCP port ---
t0=$SECONDS
chown mysql:mysql "$db"
mariadb-install-db --no-defaults --user=mysql --datadir="$db/data" --skip-test-db \
    --auth-root-authentication-method=socket >"$logs/mariadb-install.log" 2>&1 \
    || die "mariadb-install-db failed: $logs/mariadb-install.log"
socket=$db/mysqld.sock
mariadbd --no-defaults --user=mysql --datadir="$db/data" --socket="$socket" \
    --pid-file="$db/mysqld.pid" --log-error="$logs/mariadb.log" --skip-networking --skip-log-bin \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M >>"$logs/mariadb.log" 2>&1 &
mariadb_pid=$!
for _ in $(seq 300); do
    mariadb-admin --no-defaults --socket="$socket" ping >/dev/null 2>&1 && break
    kill -0 "$mariadb_pid" 2>/dev/null || die "mariadbd exited: $logs/mariadb.log"
    sleep 0.1
done
chmod 755 "$db"
db_password=$(openssl rand -hex 16)
mariadb --no-defaults --socket="$socket" -e "CREATE DATABASE wordpress CHARACTER SET utf8mb4;
    CREATE USER 'wordpress'@'localhost' IDENTIFIED BY '$db_password';
    GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';" || die "could not create the database"
say "MariaDB $(mariadbd --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+-MariaDB' | head -n 1) on $socket ($((SECONDS - t0))s)"

# --- WordPress: Debian's files, a configuration of its own ---
t0=$SECONDS
cp -a /usr/share/wordpress "$www"
salts=""
for k in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
    salts+="define( '$k', '$(openssl rand -hex 32)' );"$'\n'
done
cat >"$www/wp-config.php" <<PHP
<?php
// scripts/wordpress/run.sh: a private site for checks, instead of Debian's per-host
// /etc/wordpress/config-<host>.php.
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wordpress' );
define( 'DB_PASSWORD', '$db_password' );
define( 'DB_HOST', 'localhost:$socket' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$salts
\$table_prefix = 'wp_';
define( 'WP_HOME', 'https://$name' );
define( 'WP_SITEURL', 'https://$name' );
// Scheduled tasks run only when a check runs them; no update checks (there is no network).
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'FS_METHOD', 'direct' );
// Settings added by checks (scripts/wordpress/lib.sh: wp_config_define) go above this line.
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHP
mkdir -p "$www/wp-content/uploads" "$www/wp-content/mu-plugins"
chown -R www-data:www-data "$www/wp-content"
chmod -R a+rX "$www"

# The PHP tools run as www-data, which may not reach the checkout (a clone in /root).
rm -rf "$dir/tools"
mkdir -p "$dir/tools"
install -m 0644 "$repo/scripts/wordpress/setup.php" "$repo/scripts/wordpress/eval.php" "$dir/tools/"
admin_password=$(openssl rand -hex 12)
runuser -u www-data -- php "$dir/tools/setup.php" "$www" "$admin_password" >"$dir/site.json" \
    2>"$logs/setup.log" || die "WordPress set-up failed: $(tail -n 5 "$logs/setup.log")"
say "WordPress $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" "$www/wp-includes/version.php") installed ($((SECONDS - t0))s)"

# --- nginx + the module + the shipped configuration, PHP-FPM with the shipped pool ---
t0=$SECONDS
out=$(staging start 2>&1) || die "staging did not start: $out"
say "served through the shipped configuration at https://$name ($((SECONDS - t0))s)"

# The site's cache directory, as the rendered configuration names it (the site's file first:
# nginx.conf has other caches, the cart states').
cache=$(sed -n 's/^[[:space:]]*fastcgi_cache_path[[:space:]]\+\([^[:space:]]*\).*/\1/p' \
    "$staging_dir/conf/sites-available/$name" "$staging_dir/conf/nginx.conf" | head -n 1)
[ -n "$cache" ] || die "no fastcgi_cache_path in $staging_dir/conf"
export WP_URL=https://$name WP_DIR=$dir WP_DOCROOT=$www WP_CACHE=$cache WP_LOGS=$logs \
    WP_SITE=$dir/site.json WP_STAGING_DIR=$staging_dir WP_REPO=$repo
rc=0
foreground=()
[ ! -t 0 ] || foreground=(--foreground)
timeout "${foreground[@]}" --kill-after=5 "$timeout" "$@" || rc=$?
[ "$rc" != 124 ] || say "COMMAND did not finish in ${timeout}s (WP_TIMEOUT)"
exit "$rc"
