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

# cart_page_shows RESPONSE CACHE-CONTROL MARKUP: a HIT, with that Cache-Control ("" for none) and
# the markup in the body.
cart_page_shows() {
    grep -qi '^x-fastcgi-cache: HIT' <<<"$1" || return 1
    if [ -n "$2" ]; then grep -qi "^cache-control: $2" <<<"$1"; else ! grep -qi '^cache-control:' <<<"$1"; fi \
        && grep -qF "$3" <<<"$1"
}

# check_hydrated_cart NAME PORT RENDER_LOG: WooCommerce carts from the cache, on the staging demo
# shop (staging/www/shop.php): a visitor's cart fills in the mini-cart of the cached page, PHP
# renders the page once for everyone, and the cached page stays everyone's.
check_hydrated_cart() {
    local u="https://$1:$2" r=(--resolve "$1:$2:127.0.0.1" --max-time 5) jar a b c d n
    local cart='"><span class="woocommerce-Price-amount amount">'
    jar=$(mktemp)
    curl -sk "${r[@]}" -o /dev/null "$u/shop.php"
    a=$(curl -sk "${r[@]}" -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' "$u/shop.php?add-to-cart=7")
    b=$(curl -sk "${r[@]}" -b "$jar" -D - "$u/shop.php" | tr -d '\r')
    curl -sk "${r[@]}" -c "$jar" -b "$jar" -o /dev/null "$u/shop.php?add-to-cart=9"
    c=$(curl -sk "${r[@]}" -b "$jar" -D - "$u/shop.php" | tr -d '\r')
    d=$(curl -sk "${r[@]}" -D - "$u/shop.php" | tr -d '\r')
    n=$(grep -c ' /shop.php ' "$3")
    rm -f "$jar"
    check "add to cart sets WooCommerce's cookies and redirects" "status $a" test "$a" = 303
    check "a cart visitor gets the cached page with the mini-cart filled in" \
        "$(grep -iE '^(x-fastcgi-cache|cache-control):|cart-contents|microcacheCart=' <<<"$b" | tr '\n' ' ')" \
        cart_page_shows "$b" 'private, no-store' "data-count=\"1${cart}19,90 €</span> <span class=\"count\">1 item</span>"
    check "the state goes into the page's script" "$(grep -F 'microcacheCart=' <<<"$b")" \
        grep -qF '<script>window.microcacheCart={"cart":{"count":1,' <<<"$b"
    check "the mini-cart follows the cart" "$(grep -F cart-contents <<<"$c")" \
        cart_page_shows "$c" 'private, no-store' "data-count=\"2${cart}31,90 €</span> <span class=\"count\">2 items</span>"
    check "the cached page stays everyone's, rendered once" \
        "$(grep -iE '^(x-fastcgi-cache|cache-control):|cart-contents' <<<"$d" | tr '\n' ' '); PHP rendered it ${n}x" \
        test "$n" = 1
    check "an anonymous visitor gets the cached page as it is" "$(grep -F cart-contents <<<"$d")" \
        cart_page_shows "$d" "" "data-count=\"0${cart}"
}
