# shellcheck shell=bash
# Sourced by staging/run.sh, bench/lib/common.sh and scripts/test-shipped.sh (after
# scripts/lib/pidfile.sh): a PHP-FPM origin made of the shipped deploy/php-fpm/ files, with
# everything it writes inside one runtime directory DIR:
#   DIR/php/   php-fpm.conf (the global part), www.conf (the shipped pool), conf.d/*.ini
#   DIR/run/   php-fpm.sock, php-fpm.pid
#   DIR/logs/  php-fpm.log, php-fpm.slow.log, php-fpm-test.log
# PHP_FPM_BIN names the php-fpm executable.

PHP_FPM_SHIPPED=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../deploy/php-fpm" && pwd)

# php_fpm_configure DIR USER GROUP [CHILDREN [RENDER_LOG]]: the shipped static pool and opcache
# settings, with only the socket, the logs, the pool's user and, when given, pm.max_children
# changed. RENDER_LOG: created empty and writable by USER; the demo pages append one line per
# execution to it (MICROCACHE_RENDER_LOG in their environment).
php_fpm_configure() {
    local dir=$1 user=$2 group=$3 children=${4:-} render_log=${5:-} edits=()
    edits=(-e "s|/run/php/php8.2-fpm.sock|$dir/run/php-fpm.sock|"
        -e "s|/var/log/php8.2-fpm.slow.log|$dir/logs/php-fpm.slow.log|"
        -e "s#^\\(user\\|listen\\.owner\\) = www-data#\\1 = $user#"
        -e "s#^\\(group\\|listen\\.group\\) = www-data#\\1 = $group#")
    [ -z "$children" ] || edits+=(-e "s|^pm.max_children = .*|pm.max_children = $children|")
    rm -rf "$dir/php"
    mkdir -p "$dir/php/conf.d" "$dir/run" "$dir/logs"
    sed "${edits[@]}" "$PHP_FPM_SHIPPED/www.conf" >"$dir/php/www.conf"
    cp "$PHP_FPM_SHIPPED/"*.ini "$dir/php/conf.d/"
    if [ -n "$render_log" ]; then
        printf '\n; local runs only: the demo pages append one line per execution\nenv[MICROCACHE_RENDER_LOG] = %s\n' \
            "$render_log" >>"$dir/php/www.conf"
        : >"$render_log"
        chown "$user:$group" "$render_log"
    fi
    cat >"$dir/php/php-fpm.conf" <<CONF
; the global part of /etc/php/8.2/fpm/php-fpm.conf, paths in $dir
[global]
pid = $dir/run/php-fpm.pid
error_log = $dir/logs/php-fpm.log
daemonize = yes
include = $dir/php/www.conf
CONF
}

# php_fpm_run DIR [COMMAND PREFIX...] -- ARGS...: PHP_FPM_BIN ARGS on DIR's configuration. A
# leading ":" in PHP_INI_SCAN_DIR adds DIR's ini files after Debian's conf.d.
php_fpm_run() {
    local dir=$1 prefix=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do prefix+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    PHP_INI_SCAN_DIR=":$dir/php/conf.d" "${prefix[@]}" "$PHP_FPM_BIN" -y "$dir/php/php-fpm.conf" "$@"
}

# php_fpm_test DIR: php-fpm -t; its output on stderr when it fails.
php_fpm_test() {
    php_fpm_run "$1" -- -t >"$1/logs/php-fpm-test.log" 2>&1 || { cat "$1/logs/php-fpm-test.log" >&2; return 1; }
}

# php_fpm_start DIR TIMEOUT [COMMAND PREFIX...]: starts the master (e.g. under taskset) and
# waits until its socket is there; fails after TIMEOUT seconds.
php_fpm_start() {
    local dir=$1 timeout=$2 i
    shift 2
    php_fpm_run "$dir" "$@" -- || return 1
    for ((i = 0; i < timeout * 10; i++)); do
        [ -S "$dir/run/php-fpm.sock" ] && owned_pid "$dir/run/php-fpm.pid" "$dir" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}
