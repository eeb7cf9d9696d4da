#!/usr/bin/env bash
# `make test-configure`: nginx's own build system builds the module from `config`, in a copy
# of the vendored nginx source tree (the nginx-src crate's, the nginx `make vendored` builds):
#   - ./configure --add-dynamic-module=REPO: objs/ngx_http_microcache_module.so, exporting
#     only nginx's module table, loaded by the nginx built alongside;
#   - ./configure --add-module=REPO: the module linked into nginx itself, whose exported
#     symbols (for dynamic modules) stay nginx's own.
# Each nginx then serves a request through the module on 127.0.0.1.
#
#   scripts/test-add-module.sh
#
# Environment: TEST_ADD_MODULE_PORT (19301; +1 for the static build).
# The trees stay in target/add-module/ (cargo reuses its build there on the next run).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
# shellcheck source=scripts/lib/testing.sh
source scripts/lib/testing.sh
port=${TEST_ADD_MODULE_PORT:-19301}
work=$repo/target/add-module
# nginx's own options of the vendored build (nginx-src), and its debug log.
flags=(--with-compat --with-http_ssl_module --with-http_v2_module --with-threads --with-debug)

started=()
# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
    local prefix pid
    for prefix in "${started[@]}"; do
        pid=$(cat "$prefix/logs/nginx.pid" 2>/dev/null) && kill -QUIT "$pid" 2>/dev/null
    done
}
trap cleanup EXIT

section "the vendored nginx source tree"
manifest=$(cargo metadata --format-version 1 --locked 2>/dev/null | grep -o '"[^"]*/nginx-src-[^/"]*/Cargo.toml"' \
    | head -n 1 | tr -d '"')
src=$(dirname "$manifest")/nginx
version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$src/src/core/nginx.h" 2>/dev/null)
check "nginx-src tree" "$src: nginx ${version:-?}" test -n "$version"
[ -n "$version" ] || exit 1

# build MODE OPTION: configures and builds a copy of the tree in $work/MODE.
build() {
    local mode=$1 option=$2 tree=$work/$1 rc t0=$SECONDS
    # The tree as shipped (other builds write a Makefile into the crate's copy); objs/ stays,
    # with cargo's build in it.
    mkdir -p "$tree"
    find "$tree" -mindepth 1 -maxdepth 1 ! -name objs -exec rm -rf {} +
    tar -C "$src" --exclude=./objs --exclude=./Makefile -cf - . | tar -C "$tree" -xf -
    (cd "$tree" && auto/configure "${flags[@]}" --prefix="$tree/prefix" "$option=$repo") \
        >"$tree/configure.log" 2>&1
    rc=$?
    check "$mode: configure $option=REPO" "exit $rc: $(grep -m1 'checking for cargo' "$tree/configure.log")" test $rc = 0
    [ $rc = 0 ] || { tail -n 20 "$tree/configure.log"; return 1; }
    make -C "$tree" -j2 >"$tree/make.log" 2>&1
    rc=$?
    check "$mode: make" "exit $rc in $((SECONDS - t0))s" test $rc = 0
    [ $rc = 0 ] || { tail -n 30 "$tree/make.log"; return 1; }
}

# serve MODE PORT LOAD_MODULE_LINE: starts MODE's nginx with the module at work; checks it.
serve() {
    local mode=$1 port=$2 load=$3 prefix=$work/$1/prefix out
    mkdir -p "$prefix/logs" "$prefix/conf"
    cat >"$prefix/conf/nginx.conf" <<EOF
$load
error_log logs/error.log info;
pid logs/nginx.pid;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$port;
        microcache on;
        location / {
            return 200 "args=\$args stripped=\$microcache_stripped key=\$microcache_key\n";
        }
    }
}
EOF
    out=$("$work/$mode/objs/nginx" -p "$prefix" -c conf/nginx.conf -t 2>&1)
    check "$mode: nginx -t" "$(tail -n 1 <<<"$out")" grep -q 'test is successful' <<<"$out"
    "$work/$mode/objs/nginx" -p "$prefix" -c conf/nginx.conf || return 1
    started+=("$prefix")
    out=$(curl -s --max-time 5 --retry 5 --retry-connrefused --retry-delay 0 \
        "http://127.0.0.1:$port/x?b=2&utm_source=news&a=1")
    check "$mode: a request through the module" "$out" \
        test "$out" = "args=b=2&a=1 stripped=utm_source=news key=httpGET127.0.0.1/x?b=2&a=1"
    kill -QUIT "$(cat "$prefix/logs/nginx.pid")"
}

section "--add-dynamic-module"
if build dynamic --add-dynamic-module; then
    so=$work/dynamic/objs/ngx_http_microcache_module.so
    exports=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
    check "dynamic: exports only nginx's module table" "$exports" \
        test "$exports" = "ngx_module_names ngx_module_order ngx_modules "
    serve dynamic "$port" "load_module $so;"
fi

section "--add-module"
if build static --add-module; then
    out=$("$work/static/objs/nginx" -V 2>&1 | grep -o -- '--add-module=[^ ]*')
    check "static: linked into nginx" "nginx -V: $out" test "$out" = "--add-module=$repo"
    rust=$(nm -D --defined-only "$work/static/objs/nginx" | grep -cE ' (_ZN|_R|rust_)')
    check "static: nginx exports no Rust symbols to its modules" "$rust Rust symbols" test "$rust" = 0
    serve static "$((port + 1))" ""
fi

finish test-add-module
