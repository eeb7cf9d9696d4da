# microcache staging image: Debian 12's nginx with ngx_http_microcache_module
# and the shipped configuration (conf/, deploy/php-fpm/), in front of PHP-FPM
# 8.2 serving the demo site (staging/www).
#
#   docker build -t microcache .
#   docker run -d --name microcache -p 8080:80 -p 8443:443 --shm-size=1g --ulimit nofile=65536:65536 microcache
#   curl -sk -o /dev/null -D - --resolve example.com:8443:127.0.0.1 'https://example.com:8443/?p=1&utm_source=x'
#
# The module is built in the first stage against the nginx-dev tree of the
# same Debian release, and the runtime stage installs exactly that nginx
# version: a dynamic module only loads into the nginx it was built for.

ARG DEBIAN_IMAGE=debian:bookworm

# --- Build stage -----------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive

# Rust from Debian (rustc-web/cargo-web: the toolchain Debian keeps current for
# its browsers; it installs /usr/bin/cargo and /usr/bin/rustc), nginx-dev (the
# configured source tree of Debian's nginx, also pulls in nginx itself),
# libclang for bindgen. policy-rc.d: packages must not start services here.
# hadolint ignore=DL3008
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d \
    && chmod 0755 /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential ca-certificates cargo-web clang libclang-dev nginx-dev pkg-config rustc-web \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Configure Debian's nginx tree (objs/ngx_auto_config.h for the bindings); this
# layer only depends on the nginx-dev package and the script.
COPY nginx-src/ nginx-src/
RUN nginx-src/prepare-debian.sh /build/nginx-debian

# Behind a TLS-intercepting proxy, cargo must trust the proxy's CA: mount a
# bundle into the build and name it here, e.g. podman build
# -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg CARGO_HTTP_CAINFO=/run/host-ca.crt
ARG CARGO_HTTP_CAINFO

# The whole workspace (.dockerignore leaves out target/, tests, docs).
COPY . .
RUN NGINX_BUILD_DIR=/build/nginx-debian/objs cargo build --release --locked --no-default-features \
    && install -D -m 0644 target/release/libngx_http_microcache_module.so /out/ngx_http_microcache_module.so \
    && dpkg-query -W -f '${Version}' nginx-dev > /out/nginx.version

# --- Runtime stage ------------------------------------------------------------------
FROM ${DEBIAN_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive

LABEL org.opencontainers.image.title="microcache staging" \
      org.opencontainers.image.description="nginx + ngx_http_microcache_module + PHP-FPM 8.2 with the shipped micro-cache configuration" \
      org.opencontainers.image.licenses="Apache-2.0"

# nginx pinned to the version the module was built against (same release, so
# a security update between the two stages cannot split them); the other
# packages follow the release's updates. Logs go to the container log (as in
# nginx's official image).
COPY --from=build /out/nginx.version /tmp/nginx.version
# hadolint ignore=DL3008
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d \
    && chmod 0755 /usr/sbin/policy-rc.d \
    && apt-get update \
    && v="$(cat /tmp/nginx.version)" \
    && apt-get install -y --no-install-recommends \
        "nginx=$v" "nginx-common=$v" php8.2-fpm ca-certificates curl openssl tini \
    && rm -rf /var/lib/apt/lists/* /tmp/nginx.version /usr/sbin/policy-rc.d \
    && rm -f /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log

COPY --from=build /out/ngx_http_microcache_module.so /usr/lib/nginx/modules/ngx_http_microcache_module.so
# The shipped files: nginx's are installed into /etc/nginx by the entrypoint
# (with the container's ports and name); PHP-FPM's go in place as they are.
COPY conf/ /usr/share/microcache/conf/
COPY deploy/php-fpm/www.conf /etc/php/8.2/fpm/pool.d/www.conf
COPY deploy/php-fpm/90-microcache-opcache.ini /etc/php/8.2/fpm/conf.d/90-microcache-opcache.ini
COPY staging/www/ /var/www/microcache-demo/
COPY staging/render-conf.sh /usr/local/lib/microcache/render-conf.sh
COPY staging/docker/entrypoint.sh /usr/local/bin/microcache-entrypoint
COPY staging/docker/healthcheck.sh /usr/local/bin/microcache-healthcheck

# Check the configuration at build time (with a throwaway certificate, removed
# in the same layer: each container makes its own unless one is mounted).
RUN chmod 0755 /usr/local/lib/microcache/render-conf.sh /usr/local/bin/microcache-entrypoint \
        /usr/local/bin/microcache-healthcheck \
    && MC_PATHS="/var/www/example.com /var/www/microcache-demo" \
        /usr/local/lib/microcache/render-conf.sh /usr/share/microcache/conf /etc/nginx \
    && mkdir -p /etc/letsencrypt/live/example.com /run/php /dev/shm/nginx-cache \
    && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=example.com \
        -keyout /etc/letsencrypt/live/example.com/privkey.pem \
        -out /etc/letsencrypt/live/example.com/fullchain.pem 2>/dev/null \
    && nginx -t \
    && php-fpm8.2 -t \
    && rm -rf /etc/letsencrypt/live/example.com \
    && chmod -R a+rX /var/www/microcache-demo

ENV MICROCACHE_SERVER_NAME=example.com \
    MICROCACHE_HTTP_PORT=80 \
    MICROCACHE_HTTPS_PORT=443 \
    MICROCACHE_LISTEN=""

EXPOSE 80 443

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/microcache-healthcheck"]

# Masters run as root (to bind ports and read the key); nginx workers and the
# PHP-FPM pool run as www-data (conf/nginx.conf "user", deploy/php-fpm/www.conf).
# tini is PID 1: it forwards signals and reaps; the entrypoint stops both
# daemons gracefully on TERM.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/microcache-entrypoint"]
