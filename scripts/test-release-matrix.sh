#!/usr/bin/env bash
# `make test-matrix`: the Debian package built and tested on Debian 12 (bookworm), Debian 13
# (trixie) and unstable (sid), one release after the other, in podman containers made from
# `debootstrap --variant=minbase` bases. For each release:
#   1. build: dpkg-buildpackage (debian/rules) in a container with the release's nginx-dev,
#      Rust toolchain and build dependencies, without network (the crates are vendored on the
#      host with `cargo vendor`); lintian on the result;
#   2. install: into a fresh container with only the release's nginx, `apt-get install
#      ./<deb>`: the module is enabled and `nginx -t` loads it; removed: disabled, `nginx -t`
#      passes; installed again: enabled again (purged after step 3: nothing left);
#   3. smoke test: the shipped configuration, from the package's examples, in /etc/nginx with
#      the release's PHP-FPM behind it: a page MISS then HIT (tracking-parameter variants of
#      one URL), a soft purge (as shipped), then the old page once and a new render;
# and finally 4. ABI: apt refuses each release's nginx the package built for another release.
#
#   scripts/test-release-matrix.sh [SUITE...]       (default: bookworm trixie sid)
#
# Environment:
#   MATRIX_PORT_BASE (19310): release number i (0, 1, ...) serves HTTP on BASE+10*i and
#     HTTPS on BASE+10*i+1, on 127.0.0.1 (the containers use the host network)
#   MATRIX_IMAGE_DAYS (7): the build and nginx images are made again when older than this,
#     so that they follow the releases' updates (the base images are kept)
#   DEBOOTSTRAP_MIRROR (http://deb.debian.org/debian)
# Images (podman): localhost/microcache-matrix-{base,build,nginx}:<suite>. Results, logs and
# caches (vendored crates, downloaded .debs): target/matrix/. Needs root (rootful podman)
# and scripts/install-deps.sh docker deb.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
# shellcheck source=scripts/lib/testing.sh
source scripts/lib/testing.sh
# shellcheck source=scripts/lib/debian-image.sh
. scripts/lib/debian-image.sh
# shellcheck source=scripts/lib/deb.sh
. scripts/lib/deb.sh

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie sid)
mirror=${DEBOOTSTRAP_MIRROR:-http://deb.debian.org/debian}
port_base=${MATRIX_PORT_BASE:-19310}
max_age=$((${MATRIX_IMAGE_DAYS:-7} * 86400))
out=$repo/target/matrix
name=example.com
# What this machine allows a container (podman's defaults exceed it).
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
work=$(mktemp -d "${TMPDIR:-/tmp}/microcache-matrix.XXXXXX")

ctrs=()
# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
    local c
    for c in "${ctrs[@]}"; do timeout 60 podman --runtime runc --cgroup-manager=cgroupfs rm -f -t 5 "$c" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT

# prepared_image IMAGE FROM STAMP SCRIPT [PODMAN-RUN-OPTION...]: IMAGE is FROM after SCRIPT
# ran in it (with the network), unless IMAGE exists, carries STAMP and is recent enough.
prepared_image() {
    local image=$1 from=$2 stamp=$3 script=$4 ctr=microcache-matrix-prepare-$$ rc
    shift 4
    if pm image exists "$image" \
        && [ "$(pm image inspect --format '{{index .Labels "microcache.stamp"}}' "$image")" = "$stamp" ] \
        && [ $(($(date +%s) - $(pm image inspect --format '{{.Created.Unix}}' "$image"))) -lt "$max_age" ]; then
        return 0
    fi
    pm rm -f "$ctr" >/dev/null 2>&1
    pm run --name "$ctr" --network=host "${limits[@]}" "$@" "$from" bash -c "
        set -e
        # Packages must not start services in a container.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
        export DEBIAN_FRONTEND=noninteractive
        $script" >"$work/prepare.log" 2>&1
    rc=$?
    [ $rc = 0 ] && pm commit -q --change "LABEL microcache.stamp=$stamp" "$ctr" "$image" >>"$work/prepare.log" 2>&1
    rc=$((rc | $?))
    pm rm -f "$ctr" >/dev/null 2>&1
    [ $rc = 0 ] || tail -n 20 "$work/prepare.log"
    return $rc
}

# inside CTR COMMAND...: runs COMMAND with bash in the running container CTR.
inside() {
    local ctr=$1
    shift
    pm exec "$ctr" bash -c "$*"
}

# fresh_nginx CTR SUITE: a new container of SUITE's nginx image, the results mounted at /pkg.
fresh_nginx() {
    local ctr=$1 suite=$2
    mkdir -p "$out/apt-cache/$suite"
    ctrs+=("$ctr")
    pm run -d --name "$ctr" --network=host "${limits[@]}" -v "$out:/pkg:ro" \
        -v "$out/apt-cache/$suite:/var/cache/apt/archives" -v "$repo/staging:/staging:ro" \
        -v "$work/tls:/etc/letsencrypt/live/$name:ro" \
        "localhost/microcache-matrix-nginx:$suite" sleep infinity >/dev/null
}

# get URL [CURL-OPTION...]: the response's status, headers in $work/h.
get() {
    local url=$1
    shift
    curl -sk --max-time 10 --resolve "$name:${url_port}:127.0.0.1" -D "$work/h" -o /dev/null \
        -w '%{http_code}' "$@" "https://$name:$url_port$url"
}
hdr() { tr -d '\r' <"$work/h" | sed -n "s/^$1: //Ip" | tail -n 1; }

section "prerequisites"
missing=()
for c in podman runc debootstrap curl openssl cargo lintian dpkg-parsechangelog git; do
    command -v "$c" >/dev/null || missing+=("$c")
done
[ "$(id -u)" = 0 ] || missing+=(root)
if [ ${#missing[@]} -gt 0 ]; then
    fail "prerequisites" "missing: ${missing[*]} (scripts/install-deps.sh docker deb)"
    exit 1
fi
deb_check_version "$repo" || exit 1
pass "prerequisites" "$(podman --version), $(cargo --version)"

# The crates, once for every release: the builds run without network.
lock_sum=$(sha256sum Cargo.lock | cut -c1-16)
if [ "$(cat "$out/vendor/.lock-sum" 2>/dev/null)" != "$lock_sum" ]; then
    rm -rf "$out/vendor"
    mkdir -p "$out"
    cargo vendor --locked --versioned-dirs "$out/vendor" >"$work/vendor.log" 2>&1 \
        && echo "$lock_sum" >"$out/vendor/.lock-sum"
    check "crates vendored" "cargo vendor: $(tail -n 1 "$work/vendor.log")" test -s "$out/vendor/.lock-sum"
fi
deb_stage_source "$repo" "$work/src/$deb_package"
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$name" \
    -addext "subjectAltName=DNS:$name" -keyout "$work/tls/privkey.pem" -out "$work/tls/fullchain.pem" 2>/dev/null
chmod 0644 "$work/tls/privkey.pem"

declare -A deb abi summary
for i in "${!suites[@]}"; do
    suite=${suites[$i]}
    url_port=$((port_base + 10 * i + 1))
    http_port=$((port_base + 10 * i))
    dir=$out/$suite
    rm -rf "$dir"
    mkdir -p "$dir"

    section "$suite: images"
    t0=$SECONDS
    if ! debian_base_image "$suite" "localhost/microcache-matrix-base:$suite" "$mirror" "$work"; then
        tail -n 5 "$work/debootstrap-$suite.log"
        fail "$suite: base image" "debootstrap --variant=minbase $suite failed"
        summary[$suite]="base image failed"
        continue
    fi
    prepared_image "localhost/microcache-matrix-build:$suite" "localhost/microcache-matrix-base:$suite" \
        "$(sha256sum debian/control | cut -c1-16)" \
        'apt-get update -qq && apt-get build-dep -y -qq --no-install-recommends /src' \
        -v "$work/src/$deb_package:/src:ro"
    rc_build_image=$?
    prepared_image "localhost/microcache-matrix-nginx:$suite" "localhost/microcache-matrix-base:$suite" nginx \
        'apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx'
    rc=$((rc_build_image | $?))
    images_s=$((SECONDS - t0))
    check "$suite: images" "base, build (nginx-dev, Rust, debhelper), nginx: exit $rc in ${images_s}s" test $rc = 0
    if [ $rc != 0 ]; then
        summary[$suite]="images failed"
        continue
    fi

    section "$suite: build the package (dpkg-buildpackage, no network)"
    t0=$SECONDS
    b=$work/build-$suite
    mkdir -p "$b/cargo-home"
    cp -a "$work/src/$deb_package" "$b/"
    cat >"$b/cargo-home/config.toml" <<'EOF'
[source.crates-io]
replace-with = "vendored"

[source.vendored]
directory = "/vendor"

[net]
offline = true
EOF
    pm run --rm --network=none "${limits[@]}" -v "$b:/build" -v "$out/vendor:/vendor:ro" \
        -e CARGO_HOME=/build/cargo-home -e DEB_BUILD_OPTIONS=parallel=2 \
        "localhost/microcache-matrix-build:$suite" bash -c "
            set -e
            echo \"toolchain: \$(/usr/bin/rustc --version); nginx-dev \$(dpkg-query -W -f '\${Version}' nginx-dev)\"
            cd /build/$deb_package && dpkg-buildpackage -b --no-sign" >"$dir/build.log" 2>&1
    rc=$?
    build_s=$((SECONDS - t0))
    mv "$b/${deb_package}"[_-]*.* "$dir/" 2>/dev/null
    rm -rf "$b"
    toolchain=$(sed -n 's/^toolchain: //p' "$dir/build.log")
    check "$suite: dpkg-buildpackage" "exit $rc in ${build_s}s; $toolchain" test $rc = 0
    deb[$suite]=$(find "$dir" -name "${deb_package}_*.deb" -printf '%f\n' | head -n 1)
    if [ $rc != 0 ] || [ -z "${deb[$suite]}" ]; then
        tail -n 30 "$dir/build.log"
        summary[$suite]="build failed"
        continue
    fi
    depends=$(dpkg-deb -f "$dir/${deb[$suite]}" Depends)
    abi[$suite]=$(grep -o 'nginx-abi-[^ ,]*' <<<"$depends")
    check "$suite: depends on its nginx's ABI" "${deb[$suite]}: Depends: $depends" test -n "${abi[$suite]}"
    contents=$(dpkg-deb -c "$dir/${deb[$suite]}" | awk '{print $6}')
    wanted=(./usr/lib/nginx/modules/ngx_http_microcache_module.so
        ./usr/share/nginx/modules-available/mod-http-microcache.conf
        "./usr/share/doc/$deb_package/examples/conf/nginx.conf"
        "./usr/share/doc/$deb_package/examples/conf/sites-available/$name"
        "./usr/share/doc/$deb_package/examples/deploy/php-fpm/www.conf"
        "./usr/share/doc/$deb_package/copyright" "./usr/share/doc/$deb_package/changelog.gz")
    absent=()
    for f in "${wanted[@]}"; do grep -qxF "$f" <<<"$contents" || absent+=("$f"); done
    check "$suite: package contents" "$(wc -l <<<"$contents") entries; missing: ${absent[*]:-none}" test ${#absent[@]} = 0
    deb_lintian "$dir"/*.deb >"$dir/lintian.log" 2>&1
    rc=$?
    check "$suite: lintian" "exit $rc: $(grep -cE '^[EWIPX]: ' "$dir/lintian.log") tags, $(grep -c '^N:' "$dir/lintian.log") note lines$([ $rc = 0 ] || grep -m3 -E '^[EW]: ' "$dir/lintian.log" | tr '\n' ' ')" test $rc = 0

    section "$suite: install into a fresh container with only nginx"
    t0=$SECONDS
    ctr=microcache-matrix-$suite-$$
    fresh_nginx "$ctr" "$suite"
    nginx_v=$(inside "$ctr" "dpkg-query -W -f '\${Version}' nginx")
    o=$(inside "$ctr" "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /pkg/$suite/${deb[$suite]} 2>&1")
    check "$suite: apt-get install ./${deb[$suite]}" "next to nginx $nginx_v: $(tail -n 1 <<<"$o")" \
        inside "$ctr" "dpkg-query -W -f '\${Status}' $deb_package | grep -q 'install ok installed'"
    enabled=/etc/nginx/modules-enabled/50-mod-http-microcache.conf
    link=$(inside "$ctr" "readlink $enabled")
    check "$suite: enabled on install" "$enabled -> ${link:-nothing}" \
        test "$link" = /usr/share/nginx/modules-available/mod-http-microcache.conf
    o=$(inside "$ctr" "nginx -t 2>&1 && nginx -T 2>/dev/null | grep '^load_module'")
    check "$suite: nginx -t loads the module" "$(tr '\n' ' ' <<<"$o")" \
        grep -qx 'load_module modules/ngx_http_microcache_module.so;' <<<"$o"
    inside "$ctr" "DEBIAN_FRONTEND=noninteractive apt-get remove -y $deb_package" >/dev/null 2>&1
    o=$(inside "$ctr" "ls /etc/nginx/modules-enabled/; nginx -t 2>&1")
    check "$suite: disabled on removal, nginx -t still passes" "$(tr '\n' ' ' <<<"$o")" \
        inside "$ctr" "[ ! -e $enabled ] && [ -L $enabled.removed ] && nginx -t 2>/dev/null"
    inside "$ctr" "DEBIAN_FRONTEND=noninteractive apt-get install -y /pkg/$suite/${deb[$suite]}" >/dev/null 2>&1
    link=$(inside "$ctr" "readlink $enabled")
    check "$suite: enabled again on reinstall" "$enabled -> ${link:-nothing}" \
        test "$link" = /usr/share/nginx/modules-available/mod-http-microcache.conf

    section "$suite: smoke test (the shipped configuration, PHP-FPM; 127.0.0.1:$url_port)"
    o=$(inside "$ctr" "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends php-fpm 2>&1 | tail -n 1")
    fpm=$(inside "$ctr" "cd /usr/sbin && ls php-fpm[0-9]*" 2>/dev/null | head -n 1)
    php=${fpm#php-fpm}
    check "$suite: PHP-FPM installed" "${fpm:-none} $o" test -n "$php"
    examples=/usr/share/doc/$deb_package/examples
    o=$(pm exec -e MC_LISTEN=127.0.0.1 -e MC_HTTP_PORT="$http_port" -e MC_HTTPS_PORT="$url_port" \
        -e MC_PATHS="/run/php/php8.2-fpm.sock /run/php/php$php-fpm.sock
/var/www/example.com /staging/www" "$ctr" bash -c "
        set -e
        /staging/render-conf.sh $examples/conf /tmp/conf
        # The package enabled the module; the rest as README 'Deploying on a real server' says.
        cp /tmp/conf/nginx.conf /etc/nginx/nginx.conf
        cp /tmp/conf/snippets/*.conf /etc/nginx/snippets/
        cp /tmp/conf/sites-available/$name /etc/nginx/sites-available/
        ln -sf ../sites-available/$name /etc/nginx/sites-enabled/$name
        rm -f /etc/nginx/sites-enabled/default
        # (no more descriptors than the container has)
        sed -i 's/^worker_rlimit_nofile .*/worker_rlimit_nofile 4096;/' /etc/nginx/nginx.conf
        mkdir -p /run/php
        # The cache's mount point (deploy/fstab; a plain directory here), as the README makes it.
        mkdir -p /dev/shm/nginx-cache
        php-fpm$php -D 2>&1
        nginx -t 2>&1 && nginx 2>&1" 2>&1)
    rc=$?
    check "$suite: shipped configuration: nginx -t, nginx and php-fpm$php start" "exit $rc: $(tail -n 2 <<<"$o" | tr '\n' ' ')" test $rc = 0
    code=000
    for ((t = 0; t < 50; t++)); do
        code=$(get /)
        [ "$code" = 000 ] || break
        sleep 0.2
    done
    code=$(get "/matrix/?p=1&utm_source=a")
    a="$code $(hdr X-FastCGI-Cache)" ra=$(hdr X-Demo-Rendered) ua=$(hdr X-Demo-Request-Uri)
    code=$(get "/matrix/?gclid=b&p=1")
    b="$code $(hdr X-FastCGI-Cache)" rb=$(hdr X-Demo-Rendered)
    check "$suite: MISS then HIT (tracking variants, one PHP render)" "$a then $b; PHP saw '$ua'; rendered '$ra' / '$rb'" \
        test "$a $b" = "200 MISS 200 HIT" -a "$ra" = "$rb" -a "$ua" = "/matrix/?p=1"
    # The shipped URL purge is soft: the next visitor gets the old page (STALE) while it is
    # rendered again in the background; the one after that, the new render.
    p=$(get "/purge/matrix/?p=1")
    code=$(get "/matrix/?p=1")
    c="$code $(hdr X-FastCGI-Cache)" rs=$(hdr X-Demo-Rendered)
    for ((t = 0; t < 25; t++)); do
        sleep 0.2
        code=$(get "/matrix/?p=1")
        rd=$(hdr X-Demo-Rendered)
        [ "$rd" != "$ra" ] && break
    done
    d="$code $(hdr X-FastCGI-Cache)"
    check "$suite: soft purge, then the old page once, then a new render" \
        "GET /purge/matrix/?p=1: $p; then $c ('$rs'), then $d ('$rd')" \
        test "$p $c $d" = "200 200 STALE 200 HIT" -a "$rs" = "$ra" -a "$rd" != "$ra"
    errors=$(inside "$ctr" "grep -E '\[(emerg|alert|crit)\]' /var/log/nginx/error.log" | head -n 3)
    check "$suite: no emerg/alert/crit in nginx's error log" "${errors:-none}" test -z "$errors"
    inside "$ctr" "DEBIAN_FRONTEND=noninteractive apt-get purge -y $deb_package" >/dev/null 2>&1
    check "$suite: purged: no link left, the module gone" "$(inside "$ctr" "ls -A /etc/nginx/modules-enabled/ /usr/lib/nginx/modules/ 2>&1" | tr '\n' ' ')" \
        inside "$ctr" "[ ! -e $enabled ] && [ ! -L $enabled.removed ] && [ ! -e /usr/lib/nginx/modules/ngx_http_microcache_module.so ]"
    test_s=$((SECONDS - t0))
    pm rm -f -t 5 "$ctr" >/dev/null 2>&1
    summary[$suite]="nginx $nginx_v | ${abi[$suite]} | $(cut -d" " -f1,2 <<<"$toolchain") | ${images_s}s | ${build_s}s | ${test_s}s"
done

section "ABI: apt refuses a package built for another nginx"
built=()
for s in "${suites[@]}"; do [ -n "${deb[$s]:-}" ] && built+=("$s"); done
if [ ${#built[@]} -lt 2 ]; then
    skip "ABI" "needs packages of two releases (built: ${built[*]:-none})"
fi
for i in "${!built[@]}"; do
    [ ${#built[@]} -ge 2 ] || break
    suite=${built[$i]} other=${built[$(((i + 1) % ${#built[@]}))]}
    ctr=microcache-matrix-abi-$suite-$$
    fresh_nginx "$ctr" "$suite"
    o=$(inside "$ctr" "DEBIAN_FRONTEND=noninteractive apt-get install -y /pkg/$other/${deb[$other]} 2>&1")
    rc=$?
    why=$(grep -m1 -F "${abi[$other]}" <<<"$o" | sed 's/^ *//')
    check "$suite's nginx refuses the $other package" "apt-get exit $rc: ${why:-$(tail -n 1 <<<"$o")}" \
        test "$rc" != 0 -a -n "$why"
    check "$suite: nothing installed, nginx -t unaffected" "$(inside "$ctr" "dpkg-query -W -f '\${Status}' $deb_package 2>&1; ls -A /usr/lib/nginx/modules/ 2>&1" | tr '\n' ' ')" \
        inside "$ctr" "! dpkg-query -W -f '\${Status}' $deb_package 2>/dev/null | grep -q 'ok installed' && nginx -t 2>/dev/null"
    pm rm -f -t 5 "$ctr" >/dev/null 2>&1
done

section "summary"
echo "| release | nginx | ABI | Rust | images | build | install + smoke |"
echo "|---|---|---|---|---|---|---|"
for s in "${suites[@]}"; do echo "| $s | ${summary[$s]:-not run} |"; done
finish test-matrix
