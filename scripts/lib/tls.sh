# shellcheck shell=bash
# Sourced by staging/run.sh and bench/lib/common.sh: the self-signed certificate of a local run.

# self_signed_cert NAME CERT KEY: a P-256 certificate for NAME, valid for 30 days, in CERT
# with its key in KEY. One that names NAME and is valid for another day is kept.
self_signed_cert() {
    local name=$1 cert=$2 key=$3
    if openssl x509 -in "$cert" -noout -checkend 86400 >/dev/null 2>&1 \
        && openssl x509 -in "$cert" -noout -ext subjectAltName 2>/dev/null | grep -qF "DNS:$name"; then
        return 0
    fi
    mkdir -p "$(dirname "$cert")" "$(dirname "$key")"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=$name" -addext "subjectAltName=DNS:$name" \
        -keyout "$key" -out "$cert" >/dev/null 2>&1 || return 1
    chmod 600 "$key"
}
