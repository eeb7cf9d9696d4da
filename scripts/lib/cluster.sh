# shellcheck shell=bash
# Sourced by scripts/test-cluster.sh and bench/cluster.sh (after scripts/lib/runtime-dir.sh,
# pidfile.sh, php-fpm.sh and tls.sh): a cluster on this machine made of the SHIPPED
# conf/cluster/ files, rendered by staging/render-conf.sh with only deployment values changed:
#
#   front          127.0.0.2 (CLUSTER_FRONT_ADDR), HTTP BASE+1, HTTPS BASE+2:
#                  conf/cluster/sites-available/front.example.com
#   node1..node3   127.0.0.3-5, HTTP BASE+10: conf/cluster/sites-available/node.example.com
#   other fronts   cluster_add_front: the front with conf.d's upstream block edited
#                  (round robin, a single node), on 127.0.0.2 too, the next ports
#
# with conf/nginx.conf, conf/snippets/ and conf/cluster/conf.d/ everywhere; the nodes'
# addresses (10.0.0.11-13:80) and network (10.0.0.0/24) become the loopback ones, and the
# secret a fresh random one. One PHP-FPM (the shipped pool) serves the staging demo site to
# the three nodes and logs each render to $cluster_renders ("TIME pid=PID METHOD URI HOST").
# The site's name is CLUSTER_NAME (example.com). Every process is stopped by its pid file,
# never by name.

cluster_name=${CLUSTER_NAME:-example.com}
front_addr=${CLUSTER_FRONT_ADDR:-127.0.0.2}
node_addrs=(127.0.0.3 127.0.0.4 127.0.0.5)
cluster_instances=() cluster_error="" cluster_hang_pid=""

# cluster_setup NGINX MODULE_SO PORT_BASE NAME: the cluster's settings; its files in the
# runtime directory NAME (scripts/lib/runtime-dir.sh).
cluster_setup() {
    cluster_nginx=$(realpath "$1")
    cluster_module=$(realpath "$2")
    front_http=$(($3 + 1)) front_https=$(($3 + 2))
    node_port=$(($3 + 10))
    cluster_next_port=$(($3 + 3))
    runtime_dir "$4"
    cluster_dir=$RUNTIME_DIR
    cluster_renders=$cluster_dir/renders.log
    cluster_secret=$(openssl rand -hex 32)
    # shellcheck disable=SC2034 # read by scripts/lib/php-fpm.sh
    PHP_FPM_BIN=$(command -v php-fpm8.2 || echo /usr/sbin/php-fpm8.2)
}

cluster_version() { "$cluster_nginx" -v 2>&1 | sed 's/.*: //'; }

# cluster_render INSTANCE SITE LISTEN HTTP HTTPS: the shipped files for one instance.
cluster_render() {
    local d=$cluster_dir/$1 paths i
    paths="/etc/nginx/ $d/conf/
/usr/lib/nginx/modules/ngx_http_microcache_module.so $cluster_module
/run/nginx.pid $d/run/nginx.pid
/var/log/nginx/ $d/logs/
/dev/shm/nginx-cache $d/cache
/etc/letsencrypt/live/example.com/fullchain.pem $cluster_dir/tls/fullchain.pem
/etc/letsencrypt/live/example.com/privkey.pem $cluster_dir/tls/privkey.pem
/var/www/example.com $cluster_dir/www
/run/php/php8.2-fpm.sock $cluster_dir/origin/run/php-fpm.sock
10.0.0.0/24 127.0.0.0/8
\"change-me\" \"$cluster_secret\""
    for i in 1 2 3; do paths+=$'\n'"10.0.0.1$i:80 ${node_addrs[$i - 1]}:$node_port"; done
    rm -rf "$d"
    mkdir -p "$d/conf" "$d/logs" "$d/run" "$d/cache" "$d/nginx"
    MC_SITE=$MC_REPO/conf/cluster/sites-available/$2 MC_CONF_D=$MC_REPO/conf/cluster/conf.d \
    MC_LISTEN=$3 MC_HTTP_PORT=$4 MC_HTTPS_PORT=$5 MC_SERVER_NAME=$cluster_name \
    MC_USER=$WORKER_USER MC_STRICT_PATHS=1 \
    MC_NGINX_COMMON=/etc/nginx MC_PATHS=$paths \
        "$MC_REPO/staging/render-conf.sh" "$MC_REPO/conf" "$d/conf" || return 1
    cluster_instances+=("$1")
}

# cluster_nginx_run INSTANCE ARGS...: the instance's nginx with its prefix and configuration.
cluster_nginx_run() {
    local d=$cluster_dir/$1
    shift
    "$cluster_nginx" -p "$d/nginx/" -c "$d/conf/nginx.conf" -e "$d/logs/error.log" "$@"
}

# cluster_add_front INSTANCE SED_SCRIPT: another front on the front's address (the next two
# ports; the HTTPS one in $added_https), its upstream block in conf.d (rendered: the nodes'
# loopback addresses) edited by SED_SCRIPT. Before cluster_start.
cluster_add_front() {
    local http=$cluster_next_port
    added_https=$((cluster_next_port + 1))
    cluster_next_port=$((cluster_next_port + 2))
    cluster_render "$1" front.example.com "$front_addr" "$http" "$added_https" || return 1
    sed -i "$2" "$cluster_dir/$1/conf/conf.d/microcache-cluster.conf"
}

# cluster_start: renders the front and the nodes (and any front added before), starts PHP-FPM
# and every nginx, and waits until the front serves a page. On failure, cluster_failure says
# why.
cluster_start() {
    local i code why
    why=$(reachable_dir "$cluster_dir" 2>&1) || { cluster_error=$why; return 1; }
    mkdir -p "$cluster_dir/tls"
    rm -rf "$cluster_dir/www"
    cp -a "$MC_REPO/staging/www" "$cluster_dir/www"
    chmod -R a+rX "$cluster_dir/www"
    self_signed_cert "$cluster_name" "$cluster_dir/tls/fullchain.pem" "$cluster_dir/tls/privkey.pem" \
        || { cluster_error="openssl could not make a certificate"; return 1; }
    cluster_render front front.example.com "$front_addr" "$front_http" "$front_https" \
        || { cluster_error="cannot render the front"; return 1; }
    for i in 1 2 3; do
        cluster_render "node$i" node.example.com "${node_addrs[$i - 1]}" "$node_port" 443 \
            || { cluster_error="cannot render node $i"; return 1; }
    done
    php_fpm_configure "$cluster_dir/origin" "$WORKER_USER" "$WORKER_GROUP" 4 "$cluster_renders"
    php_fpm_start "$cluster_dir/origin" 20 || { cluster_error="PHP-FPM did not start"; return 1; }
    for i in "${cluster_instances[@]}"; do
        why=$(cluster_nginx_run "$i" -t -q 2>&1) || { cluster_error="nginx -t, $i: $why"; return 1; }
    done
    for i in "${cluster_instances[@]}"; do
        why=$(cluster_nginx_run "$i" 2>&1) || { cluster_error="nginx, $i: $why"; return 1; }
    done
    for ((i = 0; i < 50; i++)); do
        code=$(curl -sk --max-time 2 -o /dev/null -w '%{http_code}' --resolve "$cluster_name:$front_https:$front_addr" \
            "https://$cluster_name:$front_https/" || true)
        [ "$code" = 200 ] && return 0
        sleep 0.2
    done
    cluster_error="the front does not answer 200 (last: $code); $(tail -n 3 "$cluster_dir"/*/logs/error.log 2>/dev/null)"
    return 1
}

cluster_failure() { echo "$cluster_error"; }

# cluster_stop_node N: stops node N.
cluster_stop_node() {
    stop_owned "$cluster_dir/node$1/run/nginx.pid" "$cluster_dir/node$1" 10 >/dev/null
}

# cluster_hang_node N: on node N's address, a listener whose queue is full and that never
# accepts: connections to it are neither refused nor answered, as with a host that is down.
cluster_hang_node() {
    local ready=$cluster_dir/hang.ready i
    rm -f "$ready"
    python3 - "${node_addrs[$1 - 1]}" "$node_port" "$ready" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(0)
held = []
for _ in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect((sys.argv[1], int(sys.argv[2])))
    except BlockingIOError:
        pass
    held.append(c)
open(sys.argv[3], "w").close()
time.sleep(60)
PY
    cluster_hang_pid=$!
    for ((i = 0; i < 50; i++)); do
        [ -e "$ready" ] && return 0
        sleep 0.1
    done
    return 1
}

cluster_stop() {
    local i
    [ -z "$cluster_hang_pid" ] || kill "$cluster_hang_pid" 2>/dev/null
    for i in "${cluster_instances[@]}"; do
        stop_owned "$cluster_dir/$i/run/nginx.pid" "$cluster_dir/$i" 10 >/dev/null
    done
    [ -z "${cluster_dir:-}" ] || stop_owned "$cluster_dir/origin/run/php-fpm.pid" "$cluster_dir/origin" 10 >/dev/null
}

# cluster_flush_logs: every running nginx writes out its buffered access log lines.
cluster_flush_logs() {
    local i
    for i in "${cluster_instances[@]}"; do
        [ ! -s "$cluster_dir/$i/run/nginx.pid" ] || cluster_nginx_run "$i" -s reopen 2>/dev/null
    done
    sleep 0.3
}

# https_get PORT ADDR PATH...: GETs of each PATH (curl URL globs) through a front, one after
# the other on one connection; prints each status.
https_get() {
    local port=$1 addr=$2 urls=() path
    shift 2
    for path; do urls+=(-o /dev/null "https://$cluster_name:$port$path"); done
    curl -sk --max-time 60 -w '%{http_code}\n' --resolve "$cluster_name:$port:$addr" "${urls[@]}"
}
front_get() { https_get "$front_https" "$front_addr" "$@"; }

# cluster_nodes_by_key: "K NODE" for each "GET /?k=K" in the front's access log, in the order
# of the log; NODE is the node that answered (the last one tried).
cluster_nodes_by_key() {
    sed -n 's|.*"GET /?k=\([0-9]*\) HTTP[^"]*".* node=\([^ ]*, \)*\([0-9.:]*\) node_status=.*|\1 \3|p' \
        "$cluster_dir/front/logs/access.log"
}

# cluster_sign SECRET METHOD URI: the header a peer signs a purge of URI with, no purge headers,
# no body (README: "More than one machine").
cluster_sign() {
    python3 - "$@" "$cluster_name" <<'PY'
import hashlib, hmac, struct, sys, time
secret, method, uri, host = (a.encode() for a in sys.argv[1:5])
field = lambda b: struct.pack(">Q", len(b)) + b
t = str(int(time.time())).encode()
msg = b"".join(map(field, [b"microcache-purge-v1", method, uri, host, t, struct.pack(">Q", 0)]))
msg += field(hashlib.sha256(b"").digest())
print("Microcache-Purge-Signature: t=%s,sha256=%s" % (t.decode(), hmac.new(secret, msg, hashlib.sha256).hexdigest()))
PY
}
