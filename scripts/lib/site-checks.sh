# shellcheck shell=bash
# Sourced by scripts/test-shipped.sh and scripts/test-docker.sh (after scripts/lib/testing.sh):
# checks of what the shipped vhost promises, on a server listening on 127.0.0.1.

# check_tls13_http2 NAME PORT: TLS 1.3 and HTTP/2 for https://NAME:PORT/.
check_tls13_http2() {
    local out tls hv
    out=$(curl -skv --max-time 5 --http2 --resolve "$1:$2:127.0.0.1" -o /dev/null \
        -w 'http_version=%{http_version}\n' "https://$1:$2/" 2>&1)
    tls=$(grep -m1 -oE 'SSL connection using [^ ]+' <<<"$out")
    hv=$(grep -m1 -oE 'http_version=[0-9.]+' <<<"$out")
    check "TLS 1.3 + HTTP/2" "$tls, $hv" test "${tls##* }" = TLSv1.3 -a "$hv" = http_version=2
}

# check_tls12_refused NAME PORT: a client limited to TLS 1.2 gets no connection.
check_tls12_refused() {
    local out rc
    out=$(curl -sk --max-time 5 --tlsv1.2 --tls-max 1.2 --resolve "$1:$2:127.0.0.1" \
        -o /dev/null -w '%{http_code}' "https://$1:$2/" 2>&1)
    rc=$?
    check "TLS 1.2 refused" "curl --tls-max 1.2: exit $rc (35 = handshake failed), status ${out:-none}" test $rc = 35
}

# check_https_redirect NAME HTTP_PORT HTTPS_PORT PATH: http://NAME:HTTP_PORT/PATH answers 301 to
# the same URL on HTTPS.
check_https_redirect() {
    local out
    out=$(curl -s --max-time 5 --resolve "$1:$2:127.0.0.1" -o /dev/null -w '%{http_code} %{redirect_url}' \
        "http://$1:$2$4")
    check "HTTP redirects to HTTPS" "$out" test "$out" = "301 https://$1:$3$4"
}
