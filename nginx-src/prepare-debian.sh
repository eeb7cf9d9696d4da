#!/usr/bin/env bash
# Configure the source tree of the installed Debian nginx (package nginx-dev) so that the
# module can be built for it:
#
#   nginx-src/prepare-debian.sh target/nginx-debian
#   NGINX_BUILD_DIR=$PWD/target/nginx-debian/objs cargo build --release --target-dir target/debian
#
# Only `configure` runs: the bindings need objs/ngx_auto_config.h and objs/Makefile, not a
# compiled nginx. The flags are Debian's own (conf_flags, the set its libnginx-mod-* packages
# are built with), so the module's binary signature matches /usr/sbin/nginx.
set -euo pipefail

out=${1:?usage: $0 OUTDIR}
src=${NGINX_DEV_SRC:-/usr/share/nginx/src}

[ -f "$src/conf_flags" ] || { echo "$src/conf_flags not found: apt-get install nginx-dev" >&2; exit 1; }

# A dynamic module loads only into the nginx version it was built for.
nginx_version=$(dpkg-query -W -f '${Version}' nginx-common 2>/dev/null || true)
dev_version=$(dpkg-query -W -f '${Version}' nginx-dev)
if [ -n "$nginx_version" ] && [ "$nginx_version" != "$dev_version" ]; then
    echo "nginx $nginx_version and nginx-dev $dev_version differ: install matching packages" >&2
    exit 1
fi

stamp="$out/.configured-$dev_version"
if [ -f "$stamp" ] && [ -f "$out/objs/ngx_auto_config.h" ]; then
    exit 0
fi

rm -rf "$out"
mkdir -p "$out"
cp -a "$src/." "$out/"

# shellcheck source=/dev/null
. "$src/conf_flags"
(cd "$out" && ./configure "${NGX_CONF_FLAGS[@]}" >configure.log 2>&1) || {
    tail -n 30 "$out/configure.log" >&2
    exit 1
}
touch "$stamp"
