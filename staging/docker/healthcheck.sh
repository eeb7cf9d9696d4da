#!/bin/sh
# HEALTHCHECK of the staging image: nginx answers HTTPS for the site and
# PHP-FPM answers its ping through it (/fpm-ping, loopback only).
name=${MICROCACHE_SERVER_NAME:-example.com}
port=${MICROCACHE_HTTPS_PORT:-443}
addr=${MICROCACHE_LISTEN:-127.0.0.1}
case "$addr" in 0.0.0.0 | "[::]") addr=127.0.0.1 ;; esac
exec curl -fsS -k --max-time 4 -o /dev/null --resolve "$name:$port:$addr" "https://$name:$port/fpm-ping"
