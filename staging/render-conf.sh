#!/usr/bin/env bash
# Install the shipped nginx configuration (conf/) into DEST, substituting only
# deployment-specific values. The one renderer of the project: used by
# staging/run.sh (DEST = a runtime directory, production paths mapped into it),
# by the benchmark (bench/lib/common.sh: one copy per variant) and by the
# Docker image's entrypoint (DEST = /etc/nginx, ports and name only).
#
#   staging/render-conf.sh SRC DEST
#
# Environment (all optional; unset = the value as shipped):
#   MC_LISTEN       address for every listen directive, e.g. 127.0.0.1; the
#                   [::]: listen lines are dropped. Empty: all addresses, as shipped.
#   MC_HTTP_PORT    port instead of 80  (the HTTP->HTTPS redirect follows MC_HTTPS_PORT)
#   MC_HTTPS_PORT   port instead of 443
#   MC_SERVER_NAME  site name instead of example.com
#   MC_USER         nginx worker user instead of www-data
#   MC_SITE         a vhost file to install instead of sites-available/example.com
#                   (the benchmark's comparison sites, written like the shipped one; a
#                   cluster's front or node vhost, conf/cluster/sites-available/)
#   MC_CONF_D       a directory whose *.conf files (http level) are installed in conf.d/
#                   (conf/cluster/conf.d for a cluster's front and nodes)
#   MC_NGINX_COMMON a directory to copy nginx's mime.types and fastcgi_params from
#                   (for a DEST other than /etc/nginx; e.g. /etc/nginx)
#   MC_PATHS        newline-separated "FROM TO" pairs: production paths (as
#                   written in conf/) and what to use instead; any other literal
#                   too (a cluster's node addresses, its secret)
#   MC_STRICT_PATHS 1: fail if a production path is left outside comments
#                   (proves the copy does not touch the system's files)
set -euo pipefail

src=${1:?usage: $0 SRC DEST}
dest=${2:?usage: $0 SRC DEST}
shipped_name=example.com

die() { echo "render-conf: $*" >&2; exit 1; }
[ -f "$src/nginx.conf" ] || die "$src/nginx.conf not found"
site=${MC_SITE:-$src/sites-available/$shipped_name}
[ -f "$site" ] || die "$site not found"
site_name=$(basename "$site")

# Escape a literal for the left (regex) and right (replacement) side of sed s|||.
re_escape() { printf '%s' "$1" | sed -e 's/[][\.*^$|/]/\\&/g'; }
rep_escape() { printf '%s' "$1" | sed -e 's/[\&|]/\\&/g'; }

mkdir -p "$dest/snippets" "$dest/sites-available" "$dest/sites-enabled" "$dest/modules-enabled"
cp "$src/nginx.conf" "$dest/nginx.conf"
cp "$src/snippets/"*.conf "$dest/snippets/"
cp "$src/modules-enabled/"*.conf "$dest/modules-enabled/"
cp "$site" "$dest/sites-available/$site_name"
# Enable the site; Debian's "default" site would clash with its default_server.
rm -f "$dest/sites-enabled/default"
ln -sfn "../sites-available/$site_name" "$dest/sites-enabled/$site_name"
if [ -n "${MC_NGINX_COMMON:-}" ]; then
    cp "$MC_NGINX_COMMON/mime.types" "$MC_NGINX_COMMON/fastcgi_params" "$dest/" \
        || die "$MC_NGINX_COMMON/mime.types or fastcgi_params missing (apt-get install nginx-common)"
fi

files=("$dest/nginx.conf" "$dest/snippets/"*.conf "$dest/modules-enabled/"*.conf "$dest/sites-available/$site_name")
if [ -n "${MC_CONF_D:-}" ]; then
    mkdir -p "$dest/conf.d"
    cp "$MC_CONF_D/"*.conf "$dest/conf.d/"
    files+=("$dest/conf.d/"*.conf)
fi
script=()
# What the strict check reads: directive text only (comments dropped), the replacement paths
# removed (they may lie under /run/ or /dev/shm/ themselves).
directives=(-e 's/^[[:space:]]*#.*//' -e 's/[[:space:]]#.*//')

# Paths first (they may contain the shipped site name).
if [ -n "${MC_PATHS:-}" ]; then
    while read -r from to; do
        [ -n "$from" ] || continue
        [ -n "$to" ] || die "MC_PATHS: no replacement for $from"
        script+=(-e "s|$(re_escape "$from")|$(rep_escape "$to")|g")
        directives+=(-e "s|$(re_escape "$to")||g")
    done <<<"$MC_PATHS"
fi

if [ -n "${MC_SERVER_NAME:-}" ] && [ "$MC_SERVER_NAME" != "$shipped_name" ]; then
    script+=(-e "s|\\b$(re_escape "$shipped_name")\\b|$(rep_escape "$MC_SERVER_NAME")|g")
fi

http_port=${MC_HTTP_PORT:-80}
https_port=${MC_HTTPS_PORT:-443}
if [ -n "${MC_LISTEN:-}" ]; then
    script+=(-e '/^[[:space:]]*listen[[:space:]]\+\[::\]:/d')
    addr="$(rep_escape "$MC_LISTEN"):"
else
    addr=""
    # Keep the IPv6 lines, on the new ports.
    script+=(-e "s|^\\([[:space:]]*listen[[:space:]]\\+\\[::\\]:\\)80\\b|\\1$http_port|"
             -e "s|^\\([[:space:]]*listen[[:space:]]\\+\\[::\\]:\\)443\\b|\\1$https_port|")
fi
script+=(-e "s|^\\([[:space:]]*listen[[:space:]]\\+\\)80\\b|\\1$addr$http_port|"
         -e "s|^\\([[:space:]]*listen[[:space:]]\\+\\)443\\b|\\1$addr$https_port|")
if [ "$https_port" != 443 ]; then
    script+=(-e "s|https://\\\$host\\\$request_uri|https://\$host:$https_port\$request_uri|")
fi

if [ -n "${MC_USER:-}" ]; then
    script+=(-e "s|^user www-data;|user $(rep_escape "$MC_USER");|")
fi

[ ${#script[@]} -eq 0 ] || sed -i "${script[@]}" "${files[@]}"

if [ "${MC_STRICT_PATHS:-0}" = 1 ]; then
    # No production path may be left.
    left=""
    for f in "${files[@]}"; do
        hits=$(sed "${directives[@]}" "$f" \
            | grep -nE '(^|[[:space:]":])(/etc/|/var/|/run/|/usr/lib/nginx|/dev/shm/)' || true)
        [ -z "$hits" ] || left+="${f#"$dest"/}: $hits"$'\n'
    done
    [ -z "$left" ] || die "production paths left in the copy (add them to MC_PATHS):
$left"
fi
