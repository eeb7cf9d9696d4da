#!/usr/bin/env bash
# Checks of the SHIPPED configuration (conf/, deploy/) against a real nginx +
# ngx_http_microcache_module + PHP-FPM, through the staging machinery
# (staging/run.sh) on loopback test ports. Each check prints PASS or FAIL with
# what it saw; the exit status is non-zero when any check failed.
#
#   scripts/test-shipped.sh
#
# Needs `make build` (both module builds) and `make deps`. Environment:
#   DEBIAN_NGINX (/usr/sbin/nginx)          DEBIAN_SO (target/debian/release/libngx_http_microcache_module.so)
#   VENDORED_NGINX (target/nginx-vendored/nginx)  VENDORED_SO (target/release/libngx_http_microcache_module.so)
#   TEST_PORT_BASE (18080): uses TEST_PORT_BASE .. +3 (HTTP/HTTPS for each nginx build)
# Runtime files: target/test-shipped, or /run/microcache/<checkout id>/test-shipped when the
# checkout is out of www-data's reach (scripts/lib/runtime-dir.sh).
set -uo pipefail
umask 022

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
# shellcheck source=scripts/lib/testing.sh
source scripts/lib/testing.sh
# shellcheck source=scripts/lib/site-checks.sh
source scripts/lib/site-checks.sh
# shellcheck source=scripts/lib/runtime-dir.sh
source scripts/lib/runtime-dir.sh
# shellcheck source=scripts/lib/pidfile.sh
source scripts/lib/pidfile.sh
# shellcheck source=scripts/lib/php-fpm.sh
source scripts/lib/php-fpm.sh
so=libngx_http_microcache_module.so
debian_nginx=${DEBIAN_NGINX:-/usr/sbin/nginx}
debian_so=${DEBIAN_SO:-$repo/target/debian/release/$so}
vendored_nginx=${VENDORED_NGINX:-$repo/target/nginx-vendored/nginx}
vendored_so=${VENDORED_SO:-$repo/target/release/$so}
base=${TEST_PORT_BASE:-18080}
http_port=$base https_port=$((base + 1))
v_http_port=$((base + 2)) v_https_port=$((base + 3))
name=example.com
runtime_dir test-shipped
work=$RUNTIME_DIR
dir=$work/debian
vdir=$work/vendored

# staging DIR HTTP HTTPS NGINX SO COMMAND [CHECKOUT]: CHECKOUT's staging/run.sh (this one's by
# default); DIR "": the runtime directory it picks itself. The configuration exactly as shipped,
# unless STAGING_HYDRATE=1 (the WooCommerce carts opt-in enabled).
staging() {
    STAGING_DIR=$1 STAGING_HTTP_PORT=$2 STAGING_HTTPS_PORT=$3 STAGING_NGINX=$4 STAGING_MODULE=$5 \
    STAGING_LISTEN=127.0.0.1 STAGING_DETACH=1 STAGING_TIMEOUT=20 STAGING_PHP_CHILDREN=4 \
    STAGING_HYDRATE=${STAGING_HYDRATE:-0} \
        timeout 90 "${7:-$repo}/staging/run.sh" "$6"
}
# The staging run of the private checkout check, and its runtime directory.
private="" pdir=""
stop_private() {
    case "$pdir" in
    /run/microcache/*/staging)
        staging "$pdir" "$http_port" "$https_port" "$debian_nginx" "$debian_so" stop "$private/checkout" >/dev/null 2>&1
        rm -rf "$(dirname "$pdir")"
        ;;
    esac
    pdir=""
}
cleanup() {
    staging "$dir" "$http_port" "$https_port" "$debian_nginx" "$debian_so" stop >/dev/null 2>&1
    staging "$vdir" "$v_http_port" "$v_https_port" "$vendored_nginx" "$vendored_so" stop >/dev/null 2>&1
    stop_private
    [ -z "$private" ] || rm -rf "$private"
}
trap cleanup EXIT

# --- HTTP helpers (every request bounded by --max-time) ---
hdrs=$work/headers body=$work/body
# req [curl args...] URL-PATH: HTTPS request to the site; headers in $hdrs,
# body in $body; prints curl's exit code and the HTTP status.
req() {
    local path=${*: -1} args=("${@:1:$#-1}") rc
    curl -sk --max-time 5 --resolve "$name:$https_port:127.0.0.1" -D "$hdrs" -o "$body" \
        -w '%{http_code}' "${args[@]}" "https://$name:$https_port$path" >"$work/code" 2>/dev/null
    rc=$?
    echo "$rc $(cat "$work/code")"
}
hdr() { tr -d '\r' <"$hdrs" | sed -n "s/^$1: //Ip" | tail -n 1; }
renders() { grep -cF " GET $1 " "$dir/logs/renders.log" 2>/dev/null || true; }
renders_m() { grep -cF " $1 $2 " "$dir/logs/renders.log" 2>/dev/null || true; }

section "prerequisites"
[ -z "$RUNTIME_NOTE" ] || echo "$RUNTIME_NOTE"
missing=()
for f in "$debian_nginx" "$debian_so" "$vendored_nginx" "$vendored_so"; do [ -e "$f" ] || missing+=("$f"); done
for c in curl openssl php-fpm8.2 timeout; do command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -gt 0 ]; then
    fail "prerequisites" "missing: ${missing[*]} (make deps build)"
    finish test-shipped
fi
if ! why=$(reachable_dir "$work" 2>&1); then
    fail "prerequisites" "$why"
    finish test-shipped
fi
pass "prerequisites" "both nginx builds and modules, PHP-FPM, curl, openssl; runtime files in $work"
cleanup

section "nginx -t on the shipped configuration, both nginx builds"
for build in debian vendored; do
    if [ $build = debian ]; then n=$debian_nginx m=$debian_so d=$work/check-debian
    else n=$vendored_nginx m=$vendored_so d=$work/check-vendored; fi
    out=$(STAGING_DIR=$d STAGING_NGINX=$n STAGING_MODULE=$m STAGING_HTTP_PORT=$http_port STAGING_HTTPS_PORT=$https_port \
        timeout 60 staging/run.sh check 2>&1)
    rc=$?
    ver=$("$n" -v 2>&1 | sed 's/.*: //')
    emerg=$(grep -c '\[emerg\]' <<<"$out")
    check "nginx -t ($ver, ${m#"$repo"/})" \
        "exit $rc, $emerg [emerg]; $(tr '\n' ' ' <<<"$out" | cut -c1-300)" \
        test "$rc" = 0 -a "$emerg" = 0
done

section "deploy/ tuning files"
# sysctl.d: every key exists on this kernel, every value is well-formed.
bad=""
keys=0
while IFS='=' read -r k v; do
    k=$(echo "$k" | xargs) v=$(echo "$v" | xargs)
    [ -n "$k" ] || continue
    keys=$((keys + 1))
    [ -e "/proc/sys/${k//.//}" ] || bad+=" $k(unknown)"
    [[ "$v" =~ ^[0-9a-z_]+( [0-9]+)*$ ]] || bad+=" $k(value '$v')"
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' deploy/sysctl.d/*.conf)
check "sysctl.d keys exist and parse" "$keys keys${bad:+, bad:$bad}" test -z "$bad" -a "$keys" -gt 10
cc_ok=$(grep -qw bbr /proc/sys/net/ipv4/tcp_available_congestion_control 2>/dev/null \
    || modinfo tcp_bbr >/dev/null 2>&1 && echo yes || echo no)
check "BBR available (modules-load.d/tcp_bbr.conf)" "tcp_bbr available: $cc_ok" test "$cc_ok" = yes
# fstab: mount the shipped line for real, in a private mount namespace.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    t=$(mktemp -d)
    mkdir -p "$t/dev/shm/nginx-cache"
    out=$(timeout 20 unshare -m sh -c "mount --fstab '$repo/deploy/fstab' --target-prefix '$t' /dev/shm/nginx-cache \
        && findmnt -n -o FSTYPE,OPTIONS '$t/dev/shm/nginx-cache'" 2>&1)
    rc=$?
    rm -rf "$t"
    check "fstab line mounts (private namespace)" "$out" \
        bash -c "[ $rc = 0 ] && grep -q '^tmpfs .*size=1048576k' <<<'$out'"
else
    skip "fstab line mounts (private namespace)" "needs root and unshare"
fi
# The site's pages and the cart states (nginx.conf).
cpaths=$(sed -e 's/#.*//' conf/nginx.conf conf/sites-available/example.com | grep -oE 'fastcgi_cache_path +[^ ]+' | awk '{print $2}')
mpoint=$(sed -e 's/#.*//' deploy/fstab | awk 'NF >= 4 {print $2}')
elsewhere=$(for p in $cpaths; do [ "$(dirname "$p")" = "$mpoint" ] || echo "$p"; done)
check "each cache is a directory of its own in the fstab tmpfs" "fastcgi_cache_path $(tr '\n' ' ' <<<"$cpaths")fstab $mpoint" \
    test "$(wc -w <<<"$cpaths")" = 2 -a -z "$elsewhere"
PHP_FPM_BIN=$(command -v php-fpm8.2 || echo /usr/sbin/php-fpm8.2)
php_fpm_configure "$work/php-fpm-test" www-data www-data
php_fpm_test "$work/php-fpm-test" 2>/dev/null
rc=$?
check "php-fpm -t on deploy/php-fpm (pool + opcache ini)" "$(grep . "$work/php-fpm-test/logs/php-fpm-test.log" | tail -n 1)" test $rc = 0
check "PHP-FPM pool is static" "$(grep -E '^pm( |\.max_children|\.max_requests)' deploy/php-fpm/www.conf | tr '\n' ' ')" \
    grep -q '^pm = static' deploy/php-fpm/www.conf

section "staging on Debian's nginx (https $https_port, http $http_port)"
t0=$SECONDS
out=$(staging "$dir" "$http_port" "$https_port" "$debian_nginx" "$debian_so" start 2>&1)
rc=$?
check "staging/run.sh starts and answers" "exit $rc in $((SECONDS - t0))s: $(grep -m1 -E 'running|staging:' <<<"$out")" test $rc = 0
if [ $rc != 0 ]; then
    echo "$out" | tail -n 20
    tail -n 20 "$dir/logs/error.log" 2>/dev/null
    finish test-shipped
fi
st=$(STAGING_DIR=$dir staging/run.sh status 2>&1)
check "staging/run.sh status" "$st" grep -q running <<<"$st"

section "TLS and HTTP/2"
check_tls12_refused "$name" "$https_port"
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$https_port" -servername $name -tls1_2 </dev/null 2>&1 | tr -d '\0')
saw=$(grep -m1 -oE 'alert [a-z ]+|Cipher is [^ ]+' <<<"$out" | head -n 1)
check "TLS 1.2 refused (openssl s_client -tls1_2)" "${saw:-no alert}" grep -q 'Cipher is (NONE)' <<<"$out"
check_tls13_http2 "$name" "$https_port"
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$https_port" -servername $name -alpn h2 </dev/null 2>&1 | tr -d '\0')
alpn=$(grep -m1 -oE 'ALPN protocol: [^ ]+' <<<"$out")
check "ALPN h2 offered" "${alpn:-no ALPN}" test "$alpn" = "ALPN protocol: h2"

section "HTTP -> HTTPS, unknown hosts"
check_https_redirect "$name" "$http_port" "$https_port" "/some/page?utm_source=x&p=1"
out=$(curl -s --max-time 5 -H 'Host: unknown.example.net' -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/" 2>&1)
rc=$?
# 444 closes without a response; with reset_timedout_connection on, by a reset.
check "unknown Host on HTTP: connection closed (444)" "curl exit $rc (52 empty reply / 56 reset), status $out" \
    bash -c "[ '$out' = 000 ] && { [ $rc = 52 ] || [ $rc = 56 ]; }"
out=$(curl -sk --max-time 5 --resolve "unknown.example.net:$https_port:127.0.0.1" -o /dev/null -w '%{http_code}' \
    "https://unknown.example.net:$https_port/" 2>&1)
rc=$?
check "unknown SNI on HTTPS: handshake rejected" "curl exit $rc (35 = handshake failed), status $out" test $rc = 35
out=$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https_port/" 2>&1)
rc=$?
check "no SNI (IP address) on HTTPS: handshake rejected" "curl exit $rc, status $out" test $rc = 35
out=$(curl -sk --http1.1 --max-time 5 --resolve "$name:$https_port:127.0.0.1" -H 'Host: unknown.example.net' \
    -o /dev/null -w '%{http_code}' "https://$name:$https_port/" 2>&1)
rc=$?
check "SNI $name but unknown Host: connection closed" "curl exit $rc (52 empty reply / 56 reset), status $out" \
    bash -c "[ '$out' = 000 ] && { [ $rc = 52 ] || [ $rc = 56 ]; }"

section "micro-cache"
r1=$(req "/?p=1")
c1=$(hdr X-FastCGI-Cache) t1=$(hdr X-Demo-Rendered)
r2=$(req "/?p=1")
c2=$(hdr X-FastCGI-Cache) t2=$(hdr X-Demo-Rendered)
check "MISS then HIT" "$r1 $c1, then $r2 $c2; rendered '$t1' / '$t2'; PHP ran $(renders '/?p=1')x" \
    test "$r1 $c1 $r2 $c2" = "0 200 MISS 0 200 HIT" -a "$t1" = "$t2" -a "$(renders '/?p=1')" = 1

req "/status-header/" >/dev/null
s1="$(hdr X-FastCGI-Cache) / $(hdr Cache-Status)"
req "/status-header/" >/dev/null
s2="$(hdr X-FastCGI-Cache) / $(hdr Cache-Status)"
req -H 'Cookie: wordpress_logged_in_0123abcd=admin' "/status-header/" >/dev/null
s3="$(hdr X-FastCGI-Cache) / $(hdr Cache-Status)"
req "/wp-content/uploads/none.css" >/dev/null
s4="$(hdr X-FastCGI-Cache) / $(hdr Cache-Status)"
check "Cache-Status (RFC 9211) next to X-FastCGI-Cache" "$s1; $s2; logged in: $s3; static file: '$s4'" \
    test "$s1|$s2|$s3|$s4" = "MISS / microcache; fwd=miss; stored|HIT / microcache; hit|BYPASS / microcache; fwd=bypass; detail=cookie| / "

r1=$(req "/tracked/?p=2&utm_source=newsletter&utm_medium=email")
c1=$(hdr X-FastCGI-Cache) u1=$(hdr X-Demo-Request-Uri) q1=$(hdr X-Demo-Query-String)
r2=$(req "/tracked/?gclid=abc123&p=2&fbclid=x")
c2=$(hdr X-FastCGI-Cache) u2=$(hdr X-Demo-Request-Uri)
n=$(renders '/tracked/?p=2')
check "tracking variants share one entry and one PHP execution" \
    "utm_*: $c1, gclid/fbclid: $c2; PHP ran $n x" test "$c1 $c2 $n" = "MISS HIT 1"
check "PHP receives the normalised query" "REQUEST_URI '$u1' QUERY_STRING '$q1' (2nd: '$u2')" \
    test "$u1|$q1|$u2" = "/tracked/?p=2|p=2|/tracked/?p=2"
req "/sorted/?size=m&utm_source=x&color=red" >/dev/null
c1=$(hdr X-FastCGI-Cache) u1=$(hdr X-Demo-Request-Uri)
req "/sorted/?color=red&gclid=y&size=m" >/dev/null
c2=$(hdr X-FastCGI-Cache)
n=$(renders '/sorted/?color=red&size=m')
check "reordered arguments share one entry (microcache_sort_args on)" \
    "$c1 then $c2; REQUEST_URI '$u1'; PHP ran $n x" test "$c1 $c2 $u1 $n" = "MISS HIT /sorted/?color=red&size=m 1"
# A raw "#" (which no browser sends) over HTTP/2: nginx ends the query there, and so does the
# key, so the request cannot be stored under the key of the page after the "#".
req --http2 --request-target "/poison/?utm_source=x#&p=2" / >/dev/null
q1=$(hdr X-Demo-Query-String) u1=$(hdr X-Demo-Request-Uri)
req --http2 "/poison/?p=2" >/dev/null
c2=$(hdr X-FastCGI-Cache) q2=$(hdr X-Demo-Query-String)
check "HTTP/2: a raw '#' ends the query for PHP and the key alike (no poisoning)" \
    "'#' request: QUERY_STRING '$q1', REQUEST_URI '$u1'; then /poison/?p=2: $c2, QUERY_STRING '$q2'" \
    test "$q1|$u1|$c2|$q2" = "|/poison/|MISS|p=2"
req "/only-tracking/?utm_campaign=x" >/dev/null
u1=$(hdr X-Demo-Request-Uri)
check "a query of tracking ids only leaves no '?'" "REQUEST_URI '$u1'" test "$u1" = "/only-tracking/"
r1=$(req -I "/?p=1")
check "HEAD is cached under its own key" "$r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = MISS

req "/member/?p=3" >/dev/null
req "/member/?p=3" >/dev/null
primed=$(hdr X-FastCGI-Cache)
r1=$(req -H 'Cookie: theme=dark; wordpress_logged_in_0123abcd=admin%7C1700000000' "/member/?p=3")
c1=$(hdr X-FastCGI-Cache)
check "logged-in cookie bypasses" "primed $primed, with wordpress_logged_in_*: $r1 $c1; PHP ran $(renders '/member/?p=3')x" \
    test "$primed $c1 $(renders '/member/?p=3')" = "HIT BYPASS 2"
r1=$(req "/member/?p=3")
check "bypassed response was not stored for others" "next anonymous request: $(hdr X-FastCGI-Cache)" \
    test "$(hdr X-FastCGI-Cache)" = HIT
r1=$(req -H 'Cookie: woocommerce_items_in_cart=1; woocommerce_cart_hash=abc' "/member/?p=3")
check "cart cookie bypasses" "woocommerce_items_in_cart: $r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = BYPASS
r1=$(req -H 'Cookie: wordpress_test_cookie=WP%20Cookie%20check' "/member/?p=3")
check "unrelated cookie still served from cache" "wordpress_test_cookie: $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = HIT
# POST is not a cache method at all: nginx reports no cache status (or BYPASS).
before=$(renders_m POST '/member/?p=3')
r1=$(req --data 'comment=hi' "/member/?p=3")
c1=$(hdr X-FastCGI-Cache)
n=$(($(renders_m POST '/member/?p=3') - before))
check "POST bypasses" "$r1, X-FastCGI-Cache '${c1}'; PHP ran for it: ${n}x" \
    bash -c "[ '$r1' = '0 200' ] && [ '$n' = 1 ] && { [ -z '$c1' ] || [ '$c1' = BYPASS ]; }"
r1=$(req "/cart/")
r2=$(req "/cart/")
check "WooCommerce cart path bypasses" "/cart/: $r1 $(hdr X-FastCGI-Cache) x2, PHP ran $(renders '/cart/')x" \
    test "$(hdr X-FastCGI-Cache) $(renders '/cart/')" = "BYPASS 2"
r1=$(req "/shop/?add-to-cart=42")
check "add-to-cart argument bypasses" "$r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = BYPASS
r1=$(req -H 'Authorization: Basic dXNlcjpwYXNz' "/?p=1")
check "Authorization header bypasses" "$r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = BYPASS
r1=$(req "/wp-admin/")
check "wp-admin path bypasses" "/wp-admin/: $r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = BYPASS
r1=$(req "/wp%2Dadmin/")
check "percent-encoding cannot evade the path rule" "/wp%2Dadmin/: $r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = BYPASS
req "/wp-json/wp/v2/posts" >/dev/null
c1=$(hdr X-FastCGI-Cache)
req "/wp-json/wp/v2/posts" >/dev/null
check "WordPress's public REST routes are cached (wp/v2)" "/wp-json/wp/v2/posts: $c1, then $(hdr X-FastCGI-Cache)" \
    test "$c1 $(hdr X-FastCGI-Cache)" = "MISS HIT"
r1=$(req -H 'X-WP-Nonce: abc' "/wp-json/wp/v2/posts")
check "REST API with a nonce header bypasses" "X-WP-Nonce: $r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = BYPASS
r1=$(req "/wp-json/wc/store/v1/cart")
check "other REST namespaces bypass (WooCommerce Store API)" "/wp-json/wc/store/v1/cart: $r1 $(hdr X-FastCGI-Cache)" \
    test "$(hdr X-FastCGI-Cache)" = BYPASS
r1=$(req "/?rest_route=/wp/v2/posts")
check "REST API via ?rest_route bypasses" "$r1 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = BYPASS
r1=$(req "/feed/")
r2=$(req "/feed/")
check "feeds are cached" "/feed/: $r1 then $r2 $(hdr X-FastCGI-Cache)" test "$(hdr X-FastCGI-Cache)" = HIT

# What PHP says about caching: a 404 is stored even when marked no-cache (WordPress marks them
# all), any other answer marked no-cache or max-age=0 is not, nor any marked private.
saw=""
for q in "status=404&cache_control=no-cache,%20must-revalidate,%20max-age=0" "status=404&cache_control=private" \
    "cache_control=no-cache" "cache_control=private" "cache_control=max-age=0" "cache_control=public,%20max-age=60"; do
    req "/headers.php?$q" >/dev/null
    c1=$(hdr X-FastCGI-Cache)
    req "/headers.php?$q" >/dev/null
    saw+="${q//%20/ }: $c1 $(hdr X-FastCGI-Cache); "
done
check "Cache-Control from PHP: no-cache 404s stored, other no-cache/max-age=0 and private answers not" "$saw" \
    test "$saw" = "status=404&cache_control=no-cache, must-revalidate, max-age=0: MISS HIT; status=404&cache_control=private: MISS MISS; cache_control=no-cache: MISS MISS; cache_control=private: MISS MISS; cache_control=max-age=0: MISS MISS; cache_control=public, max-age=60: MISS HIT; "

# A cache file deleted outside nginx (Nginx Helper's "Delete local server cache files" and its
# "Purge Entire Cache") is not served again, however hot the page was.
for _ in 1 2 3 4; do req "/deleted/" >/dev/null; done
c0=$(hdr X-FastCGI-Cache)
md5=$(printf '%s' "httpsGETexample.com/deleted/" | md5sum | cut -c1-32)
file=$dir/cache/example.com/${md5:31:1}/${md5:29:2}/$md5
rm -f "$file"
req "/deleted/" >/dev/null
check "a cache file deleted on disk is not served (no open file cache for cache files)" \
    "hot page: $c0; file ${file#"$dir"/} deleted; next request: $(hdr X-FastCGI-Cache)" \
    test "$c0 $(hdr X-FastCGI-Cache)" = "HIT MISS"

r1=$(req "/cookie.php")
c1=$(hdr X-FastCGI-Cache) sc=$(hdr Set-Cookie)
r2=$(req "/cookie.php")
c2=$(hdr X-FastCGI-Cache)
check "a response with Set-Cookie is not stored" "1st $c1 (Set-Cookie: ${sc%%;*}), 2nd $c2, PHP ran $(renders '/cookie.php')x" \
    test "$c1 $c2 $(renders '/cookie.php')" = "MISS MISS 2" -a -n "$sc"

req "/?p=1&format=json" >/dev/null
check "PHP runs with the shipped opcache settings" "$(grep -o '"opcache": "[^"]*"' "$body")" \
    grep -q '"opcache": "enabled=1 validate_timestamps=0"' "$body"
r1=$(req "/.git/config")
check "dotfiles denied" "/.git/config: $r1" test "$r1" = "0 403"
r1=$(req "/wp-content/uploads/shell.php")
check "PHP in uploads denied" "$r1" test "$r1" = "0 403"

section "admin endpoints (loopback only)"
r1=$(req "/microcache-status")
check "status answers JSON" "$r1 $(head -c 120 "$body" | tr '\n' ' ')" bash -c "[ '$r1' = '0 200' ] && grep -q '{' '$body'"
index=$(grep -o '"indexes":{"example.com":{[^}]*}' "$body")
check "the site's zone has a cache index (microcache_index)" "$index" grep -q '"state":"ready"' <<<"$index"
r1=$(req "/microcache-status?format=prometheus")
check "status answers Prometheus text" "$r1 $(grep -m1 -v '^#' "$body" | head -c 100)" \
    bash -c "[ '$r1' = '0 200' ] && grep -qE '^[a-z_]+(\\{[^}]*\\})? [0-9]' '$body'"
# check_purge NAME PURGE PAGE [VARIANT]: PAGE cached (VARIANT, another URL of the same entry,
# then a HIT), PURGE requested: a soft purge, so the next visitor gets the old copy (STALE)
# while one request renders PAGE again, and the visitor after them the new one.
check_purge() {
    local page=$3 c0 t0 r1 p1 c1 c2 t2
    req "$page" >/dev/null
    req "${4:-$page}" >/dev/null
    c0=$(hdr X-FastCGI-Cache) t0=$(hdr X-Demo-Rendered)
    r1=$(req "$2")
    p1=$(head -c 200 "$body" | tr '\n' ' ')
    req "$page" >/dev/null
    c1=$(hdr X-FastCGI-Cache)
    settle "$page"
    c2=$(hdr X-FastCGI-Cache) t2=$(hdr X-Demo-Rendered)
    check "$1" "before $c0; purge: $r1 $p1; after: $c1, then $c2 rendered anew: $([ "$t0" != "$t2" ] && echo yes || echo no)" \
        bash -c "[ '$c0 $r1 $c1 $c2' = 'HIT 0 200 STALE HIT' ] && [ '$t0' != '$t2' ] && grep -q '\"mode\":\"soft\"' <<<'$p1'"
}
# settle PAGE: requests PAGE until it is a HIT again (the background update is done).
settle() {
    local i
    for ((i = 0; i < 50; i++)); do
        req "$1" >/dev/null
        [ "$(hdr X-FastCGI-Cache)" = HIT ] && return
        sleep 0.1
    done
}
# The logs of earlier runs stay in the runtime directory: count from here.
access_lines=$(wc -l <"$dir/logs/access.log") error_lines=$(wc -l <"$dir/logs/error.log")
check_purge "purge (Nginx Helper GET /purge/<path>) removes the entry" \
    "/purge/purgeme/?p=9&utm_source=y" "/purgeme/?p=9" "/purgeme/?p=9&utm_source=x"
r1=$(req "/purge/never-cached/")
check "purge of an uncached URL answers 404" "$r1" test "$r1" = "0 404"
check_purge "GET /purge (Nginx Helper, home page) purges /" /purge /
sleep 1.2   # the access log is buffered (flush=1s)
n=$(tail -n +"$((access_lines + 1))" "$dir/logs/access.log" \
    | grep -cE '"GET /purge(/purgeme/\?p=9&utm_source=y|/never-cached/)? HTTP')
check "each purge request is in the access log" "$n of 3" test "$n" = 3
n=$(tail -n +"$((error_lines + 1))" "$dir/logs/error.log" | grep -c 'microcache: soft purge of "httpsGETexample.com/')
check "each purge has the module's line in the error log" "$n of 3; last: $(grep 'microcache: soft purge of' "$dir/logs/error.log" | tail -n 1 | sed 's/.*microcache: //')" \
    test "$n" = 3
# Tag and batch purges (conf/wordpress/microcache-tags.php sends them): POST /purge.
a="/headers.php?surrogate_key=demo-a%20demo-b" b="/headers.php?surrogate_key=demo-b" c="/headers.php?surrogate_key=demo-c"
for p in "$a" "$b" "$c"; do req "$p" >/dev/null; req "$p" >/dev/null; done
hidden=$(grep -ci '^surrogate-key:' "$hdrs")
r1=$(req -X POST -H 'Surrogate-Key: demo-a' -H 'Microcache-Purge-Mode: hard' "/purge")
p1=$(head -c 200 "$body")
saw=""
for p in "$a" "$b"; do req "$p" >/dev/null; saw+="$(hdr X-FastCGI-Cache) "; done
check "POST /purge with a Surrogate-Key header: a hard purge of the tag's pages" \
    "purge: $r1 $p1; tagged demo-a then demo-b only: $saw; tag headers seen by visitors: $hidden" \
    bash -c "[ '$r1 $saw$hidden' = '0 200 MISS HIT 0' ] && grep -q '\"index\":\"used\"' <<<'$p1'"
r1=$(req -X POST --data-binary $'tag:demo-c\n/purgeme/?p=9\n' "/purge")
p1=$(head -c 300 "$body")
req "$c" >/dev/null
check "POST /purge with a batch body: soft by default" "purge: $r1 $p1; the tagged page: $(hdr X-FastCGI-Cache)" \
    bash -c "[ '$r1 $(hdr X-FastCGI-Cache)' = '0 200 STALE' ] && grep -q '\"mode\":\"soft\"' <<<'$p1' && grep -q '\"target\":\"tag:demo-c\",\"purged\":1}' <<<'$p1'"

# A page cached a moment ago (an older one may have outlived the shipped 10 s and be STALE).
req "/purgeall-check/" >/dev/null
req "/purgeall-check/" >/dev/null
c0=$(hdr X-FastCGI-Cache)
r1=$(req -X PURGE "/purgeall")
p1=$(head -c 100 "$body")
req "/purgeall-check/" >/dev/null
c1=$(hdr X-FastCGI-Cache)
check "PURGE /purgeall empties the cache (hard)" "before $c0; purge: $r1 $p1; after $c1" \
    bash -c "[ '$c0 ${r1#0 } $c1' = 'HIT 200 MISS' ] && grep -q '\"mode\":\"hard\"' <<<'$p1'"
r1=$(req "/fpm-ping")
check "PHP-FPM ping through nginx" "$r1 $(head -c 20 "$body")" bash -c "[ '$r1' = '0 200' ] && grep -q pong '$body'"
# From another address of this machine (source address != loopback).
other=$(ip -4 -o addr show scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
if [ -n "$other" ]; then
    codes=""
    # PATH [CURL ARGS]: tag and batch purges too.
    for p in /microcache-status /purge/x /purgeall /fpm-status /fpm-ping "/purge -H Surrogate-Key:demo-b" \
        "/purge --data-binary tag:demo-b"; do
        read -r path extra <<<"$p"
        # shellcheck disable=SC2086 # the extra curl arguments
        codes+="$path${extra:+ (${extra%% *})} $(curl -sk --max-time 5 --interface "$other" \
            --resolve "$name:$https_port:127.0.0.1" -o /dev/null -w '%{http_code}' $extra \
            "https://$name:$https_port$path" 2>/dev/null), "
    done
    codes=${codes%, }
    refused=$(tr ',' '\n' <<<"$codes" | grep -cE ' 403$')
    check "admin endpoints refused from $other (purges by tag and batch too)" "$codes" test "$refused" = 7
else
    skip "admin endpoints refused from other addresses" "no non-loopback IPv4 address"
fi

section "stop"
out=$(staging "$dir" "$http_port" "$https_port" "$debian_nginx" "$debian_so" stop 2>&1)
rc=$?
left=$(curl -sk --max-time 2 --resolve "$name:$https_port:127.0.0.1" -o /dev/null -w '%{http_code}' "https://$name:$https_port/" 2>/dev/null)
check "staging/run.sh stop stops both daemons" "exit $rc: $(tr '\n' ' ' <<<"$out"); afterwards: ${left:-no answer}" \
    test "$rc" = 0 -a "$left" = 000 -a ! -e "$dir/run/nginx.pid" -a ! -e "$dir/run/php-fpm.pid"

section "staging from a private checkout (https $https_port)"
# A checkout where www-data cannot go, like one in root's home (mode 0700): staging must
# still work, with its runtime files elsewhere, and refuse a STAGING_DIR inside it at once.
if [ "$(id -u)" = 0 ]; then
    private=$(mktemp -d "${TMPDIR:-/tmp}/microcache-private.XXXXXX")
    mkdir "$private/checkout"
    cp -r staging conf deploy scripts "$private/checkout/"
    t0=$SECONDS
    out=$(staging "" "$http_port" "$https_port" "$debian_nginx" "$debian_so" start "$private/checkout" 2>&1 </dev/null)
    rc=$?
    pdir=$(sed -n 's/^Stop: STAGING_DIR=\([^ ]*\) .*/\1/p' <<<"$out")
    code=$(curl -sk --max-time 5 --resolve "$name:$https_port:127.0.0.1" -o /dev/null -w '%{http_code}' "https://$name:$https_port/")
    check "staging from a mode 0700 directory runs, its runtime files elsewhere" \
        "exit $rc in $((SECONDS - t0))s, status $code; $(grep -m1 'cannot enter' <<<"$out")" \
        test "$rc" = 0 -a "$code" = 200 -a "${pdir#/run/microcache/}" != "$pdir"
    stop_private
    t0=$SECONDS
    out=$(staging "$private/checkout/target/staging" "$http_port" "$https_port" "$debian_nginx" "$debian_so" check "$private/checkout" 2>&1)
    rc=$?
    said=no
    grep -qF "www-data cannot enter $private " <<<"$out" && said=yes
    check "STAGING_DIR in a mode 0700 directory: stops at once, saying why" "exit $rc in $((SECONDS - t0))s: $out" \
        test "$rc" != 0 -a "$said" = yes
    rm -rf "$private"
    private=""
else
    skip "staging from a private checkout" "needs root (the workers run as www-data only then)"
fi

section "staging on the vendored nginx, WooCommerce carts from the cache (https $v_https_port)"
out=$(STAGING_HYDRATE=1 staging "$vdir" "$v_http_port" "$v_https_port" "$vendored_nginx" "$vendored_so" start 2>&1)
rc=$?
check "staging/run.sh starts with $("$vendored_nginx" -v 2>&1 | sed 's/.*: //')" "exit $rc: $(grep -m1 -E 'running|staging:' <<<"$out")" test $rc = 0
if [ $rc = 0 ]; then
    a=$(curl -sk --max-time 5 --resolve "$name:$v_https_port:127.0.0.1" -o /dev/null -w '%{http_version} ' -D - \
        "https://$name:$v_https_port/v/?p=1&utm_source=a" | tr -d '\r' | sed -n 's/^x-fastcgi-cache: //Ip')
    b=$(curl -sk --max-time 5 --resolve "$name:$v_https_port:127.0.0.1" -o /dev/null -D - \
        "https://$name:$v_https_port/v/?gclid=1&p=1" | tr -d '\r' | sed -n 's/^x-fastcgi-cache: //Ip')
    check "vendored: tracking variants MISS then HIT" "$a then $b" test "$a $b" = "MISS HIT"
    check_hydrated_cart "$name" "$v_https_port" "$vdir/logs/renders.log"
    staging "$vdir" "$v_http_port" "$v_https_port" "$vendored_nginx" "$vendored_so" stop >/dev/null 2>&1
fi

finish test-shipped
