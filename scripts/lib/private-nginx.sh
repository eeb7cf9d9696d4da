# shellcheck shell=bash
# Sourced by scripts that run a private nginx on loopback: its directory, start, reload and
# stop. Only the master this started is ever signalled.
#
#   private_nginx_dir BASE        makes $nginx_dir (conf/, logs/; mode 755: workers run as
#                                 another user) and stops that nginx and removes the
#                                 directory on exit
#   private_nginx_main MODULE     the main context of a test configuration: MODULE loaded, two
#                                 workers, the error log at info, the pid file
#   private_nginx_start NGINX     starts NGINX on $nginx_dir/conf/nginx.conf; sets $nginx_master
#   private_nginx NGINX ARGS...   runs NGINX with the directory's prefix and config (-t, -s reload)
#   private_nginx_workers         the master's worker processes, one pid a line, sorted
#   private_nginx_reload NGINX    tests the configuration, then private_nginx_hup
#   private_nginx_hup             reloads at once (SIGHUP to the master) and waits (10 s at
#                                 most) until none of the old workers is left; fails otherwise
#   private_nginx_stop            stops the master and waits (5 s at most) until it is gone

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

private_nginx_main() {
    printf '%s\n' "load_module $1;" "worker_processes 2;" "error_log logs/error.log info;" \
        "pid logs/nginx.pid;"
}

private_nginx_start() {
    private_nginx "$1"
    for _ in $(seq 50); do [ -s "$nginx_dir/logs/nginx.pid" ] && break; sleep 0.1; done
    nginx_master=$(cat "$nginx_dir/logs/nginx.pid")
}

private_nginx_workers() {
    ps --ppid "$nginx_master" -o pid=,args= | awk '/worker process/ {print $1}' | sort
}

private_nginx_reload() {
    private_nginx "$1" -t -q && private_nginx_hup
}

private_nginx_hup() {
    local old
    old=$(private_nginx_workers)
    kill -HUP "$nginx_master"
    for _ in $(seq 100); do
        [ -z "$(comm -12 <(echo "$old") <(private_nginx_workers))" ] && return 0
        sleep 0.1
    done
    return 1
}

private_nginx_stop() {
    if [ -n "$nginx_master" ] && kill -0 "$nginx_master" 2>/dev/null; then
        kill -TERM "$nginx_master"
        for _ in $(seq 50); do kill -0 "$nginx_master" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$nginx_dir/logs/nginx.pid"
}

private_nginx_cleanup() {
    private_nginx_stop
    [ -z "$nginx_dir" ] || rm -rf "$nginx_dir"
}
