#!/usr/bin/env bash
# Run the Test::Nginx suites in t/ against one nginx binary and one module.
#
#   t/run-tests.sh NGINX_BINARY MODULE_SO [PROVE_ARGS...]
#
# MODULE_SO may be "" or "-" to run without loading the module (harness
# self-test). PROVE_ARGS default to "-r t/" (e.g. pass "t/000-harness.t").
#
# For the duration of the run it starts a private PHP-FPM (the origin the
# tests talk to) on a unix socket in a temporary directory, and stops exactly
# that process on exit. Environment given to the .t files:
#   TEST_NGINX_BINARY          absolute path of the nginx under test
#   TEST_NGINX_LOAD_MODULES    absolute path of the module .so (or empty)
#   TEST_NGINX_SERVROOT        per-run server root, never shared by two runs
#   TEST_NGINX_SERVER_PORT     kept if already set, else 1984
#   TEST_NGINX_FASTCGI_SOCKET  unix:/.../php-fpm.sock  (for fastcgi_pass)
#   TEST_NGINX_PHP_ROOT        absolute path of t/php   (for root / SCRIPT_FILENAME)
# The run directory (server root of the last block, PHP-FPM logs) is kept
# when the tests fail, or always with KEEP_SERVROOT=1.
set -euo pipefail

die() { echo "run-tests.sh: $*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: $0 NGINX_BINARY MODULE_SO|- [PROVE_ARGS...]"
nginx_arg=$1 module_arg=$2
shift 2

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

nginx_bin=$(command -v -- "$nginx_arg" || true)
if [ -z "$nginx_bin" ] || [ ! -x "$nginx_bin" ]; then
    die "nginx binary not found or not executable: $nginx_arg"
fi
nginx_bin=$(realpath -- "$nginx_bin")

module_so=""
if [ -n "$module_arg" ] && [ "$module_arg" != "-" ]; then
    [ -f "$module_arg" ] || die "module not found: $module_arg (build it first, or pass - to run without it)"
    module_so=$(realpath -- "$module_arg")
fi

php_fpm=${PHP_FPM:-php-fpm8.2}
command -v "$php_fpm" >/dev/null || die "$php_fpm not found (scripts/install-deps.sh test)"
command -v prove >/dev/null || die "prove not found"
command -v curl >/dev/null || die "curl not found (needed for --- http2 blocks)"

port=${TEST_NGINX_SERVER_PORT:-1984}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "something already listens on 127.0.0.1:$port; choose another TEST_NGINX_SERVER_PORT"
fi

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/microcache-t.XXXXXX")
fpm_pid=""
status=1

# shellcheck disable=SC2317 # (called by the EXIT trap)
cleanup() {
    # Stop only the PHP-FPM master we started (it stops its own children).
    if [ -n "$fpm_pid" ] && kill -0 "$fpm_pid" 2>/dev/null; then
        kill -QUIT "$fpm_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$fpm_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$fpm_pid" 2>/dev/null; then
            kill -TERM "$fpm_pid" 2>/dev/null || true
            sleep 0.5
            kill -KILL "$fpm_pid" 2>/dev/null || true
        fi
        wait "$fpm_pid" 2>/dev/null || true
    fi
    if [ "${KEEP_SERVROOT:-0}" = 1 ] || [ "$status" -ne 0 ]; then
        echo "run-tests.sh: run directory kept: $run_dir" >&2
    else
        rm -rf -- "$run_dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- PHP-FPM origin --------------------------------------------------------
fpm_sock=$run_dir/php-fpm.sock
fpm_conf=$run_dir/php-fpm.conf
fpm_user=""
fpm_flags=()
if [ "$(id -u)" -eq 0 ]; then
    # Root needs an explicit pool user and -R; nginx also runs as root then.
    fpm_user=$'user = root\ngroup = root'
    fpm_flags+=(-R)
fi
cat >"$fpm_conf" <<EOF
[global]
pid = $run_dir/php-fpm.pid
error_log = $run_dir/php-fpm.log
daemonize = no

[microcache-test]
$fpm_user
listen = $fpm_sock
listen.mode = 0666
pm = static
pm.max_children = 4
catch_workers_output = yes
security.limit_extensions = .php
php_admin_value[error_log] = $run_dir/php-errors.log
php_admin_flag[log_errors] = on
EOF

# -n: no php.ini, so the origin behaves the same whatever the host's PHP
# configuration is. -F: stay in the foreground so $! is the master's PID.
"$php_fpm" -n -F "${fpm_flags[@]}" -y "$fpm_conf" </dev/null >>"$run_dir/php-fpm.log" 2>&1 &
fpm_pid=$!

for _ in $(seq 100); do
    [ -S "$fpm_sock" ] && break
    kill -0 "$fpm_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -S "$fpm_sock" ]; then
    cat "$run_dir/php-fpm.log" >&2 || true
    die "PHP-FPM did not create $fpm_sock within 10 s"
fi

# --- environment for the .t files ------------------------------------------
export TEST_NGINX_BINARY=$nginx_bin
export TEST_NGINX_LOAD_MODULES=$module_so
export TEST_NGINX_SERVROOT=$run_dir/servroot
export TEST_NGINX_SERVER_PORT=$port
export TEST_NGINX_FASTCGI_SOCKET=unix:$fpm_sock
export TEST_NGINX_PHP_ROOT=$repo/t/php

echo "run-tests.sh: nginx  $nginx_bin ($("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'))"
echo "run-tests.sh: module ${module_so:-(none)}"
echo "run-tests.sh: php-fpm $($php_fpm -v | head -n 1 | cut -d' ' -f1-2), pid $fpm_pid, $TEST_NGINX_FASTCGI_SOCKET"
echo "run-tests.sh: port   127.0.0.1:$TEST_NGINX_SERVER_PORT, servroot $TEST_NGINX_SERVROOT"

[ $# -gt 0 ] || set -- -r t/
set +e
prove -I t/lib "$@"
status=$?
set -e
exit "$status"
