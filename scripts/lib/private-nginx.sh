# shellcheck shell=bash
# Sourced by scripts that run a private nginx on loopback: its directory, start, reload and
# stop. Only the master this started is ever signalled.
#
#   private_nginx_dir BASE       makes $nginx_dir (conf/, logs/; mode 755: workers run as
#                                another user) and stops that nginx and removes the
#                                directory on exit
#   private_nginx_start NGINX    starts NGINX on $nginx_dir/conf/nginx.conf; sets $nginx_master
#   private_nginx NGINX ARGS...  runs NGINX with the directory's prefix and config (-t, -s reload)

nginx_dir="" nginx_master=""

private_nginx_dir() {
    nginx_dir=$(mktemp -d "$1/microcache-nginx.XXXXXX")
    chmod 755 "$nginx_dir"
    mkdir -p "$nginx_dir/conf" "$nginx_dir/logs"
    trap private_nginx_cleanup EXIT
}

private_nginx() {
    local bin=$1
    shift
    "$bin" -p "$nginx_dir/" -c conf/nginx.conf -e logs/error.log "$@"
}

private_nginx_start() {
    private_nginx "$1"
    for _ in $(seq 50); do [ -s "$nginx_dir/logs/nginx.pid" ] && break; sleep 0.1; done
    nginx_master=$(cat "$nginx_dir/logs/nginx.pid")
}

private_nginx_cleanup() {
    if [ -n "$nginx_master" ] && kill -0 "$nginx_master" 2>/dev/null; then
        kill -TERM "$nginx_master"
        for _ in $(seq 50); do kill -0 "$nginx_master" 2>/dev/null || break; sleep 0.1; done
    fi
    [ -z "$nginx_dir" ] || rm -rf "$nginx_dir"
}
