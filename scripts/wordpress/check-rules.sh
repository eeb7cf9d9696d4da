#!/usr/bin/env bash
# The shipped cache rules against a real WordPress (scripts/wordpress/run.sh COMMAND): what an
# anonymous visitor is served from the cache, and what must never be. Both sides of each rule:
#   - 404s are cached although WordPress marks them no-cache; other answers WordPress marks
#     no-cache (a page calling nocache_headers(), as WooCommerce does on its cart) are not;
#   - WordPress's own public REST routes (wp/v2) are cached for anonymous GETs; requests with
#     credentials, a logged-in cookie or a nonce, other namespaces (plugins: the WooCommerce
#     Store API) and the index are not; an answer made for one Origin is not served to another;
#   - Nginx Helper's purge requests (/purge/<path>, /purge, /purgeall) are answered by nginx and
#     logged, in the access log and with the module's line in the error log.
#
#   scripts/wordpress/run.sh scripts/wordpress/check-rules.sh      (make test-wordpress)
set -uo pipefail

# shellcheck source=scripts/wordpress/lib.sh
source "$WP_REPO/scripts/wordpress/lib.sh"
wp_check_start rules
subject_title=$(wp_php 'echo get_the_title( '"$(wp_site "['posts']['subject']['id']")"' );')

# get PATH [CURL ARGS...]: headers in $work/headers, body in $work/body; prints
# "<status> <X-FastCGI-Cache>".
get() {
    local path=$1 code
    shift
    code=$(wp_curl -o "$work/body" -D "$work/headers" -w '%{http_code}' "$@" "$WP_URL$path")
    echo "$code $(hdr X-FastCGI-Cache)"
}
hdr() { tr -d '\r' <"$work/headers" | sed -n "s/^$1: //Ip" | tail -n 1; }
twice() { local a b; a=$(get "$@"); b=$(get "$@"); echo "$a, then $b"; }
# shellcheck disable=SC2317 # (called through check)
matches() { grep -qE "$1" <<<"$2"; }

section "404 pages"
saw=$(twice /no-such-page/)
cc=$(hdr Cache-Control)
check "a 404 is cached (WordPress marks it no-cache)" "$saw; Cache-Control: $cc" \
    test "$saw" = "404 MISS, then 404 HIT"
saw=$(twice /no-such-page/ -H 'Cookie: wordpress_logged_in_abc=admin')
check "a logged-in visitor's 404 is not" "$saw" test "$saw" = "404 BYPASS, then 404 BYPASS"

# A page whose PHP calls nocache_headers(), as WooCommerce does for its cart page under any slug.
wp_mu_plugin "$WP_REPO/scripts/wordpress/mu-plugins/no-cache-page.php"
wp_php 'wp_insert_post( array( "post_type" => "page", "post_status" => "publish", "post_name" => "personal", "post_title" => "Personal" ) );'
wp_php_fpm_reload || fail "PHP-FPM reload" "the pool did not come back"
saw=$(twice /personal/)
check "a 200 marked no-cache is not stored" "$saw; Cache-Control: $(hdr Cache-Control)" \
    test "$saw" = "200 MISS, then 200 MISS"

section "REST API"
saw=$(twice /wp-json/wp/v2/posts)
has=no
grep -qF "$subject_title" "$work/body" && has=yes
check "anonymous GET of a wp/v2 route is cached" "$saw; lists '$subject_title': $has" \
    test "$saw $has" = "200 MISS, then 200 HIT yes"
saw=$(twice /wp-json/wp/v2/posts -u "$app_auth")
check "with an application password: bypassed" "$saw" test "$saw" = "200 BYPASS, then 200 BYPASS"
saw=$(get /wp-json/wp/v2/posts -H 'Cookie: wordpress_logged_in_abc=admin')
check "with a logged-in cookie: bypassed" "$saw" test "$saw" = "200 BYPASS"
saw=$(get /wp-json/wp/v2/posts -H 'X-WP-Nonce: 0123456789')
check "with a REST nonce header: bypassed" "$saw (WordPress checks the nonce: 403)" test "${saw#* }" = BYPASS
saw=$(get '/wp-json/wp/v2/posts?_wpnonce=0123456789')
check "with a nonce argument: bypassed" "$saw" test "${saw#* }" = BYPASS
saw=$(get /wp-json/wp/v2/posts/ -X POST --data title=x)
# POST is no cache method at all: nginx reports no cache status (or BYPASS).
check "anonymous POST: not cached, refused by WordPress" "$saw" matches '^401 (BYPASS)?$' "$saw"
for path in /wp-json/ /wp-json/wc/store/v1/cart /wp-json/contact-form-7/v1/contact-forms \
    /index.php/wp-json/wp/v2/posts '/?rest_route=/wp/v2/posts'; do
    saw=$(twice "$path")
    check "$path: bypassed" "$saw" matches '^[0-9]+ BYPASS, then [0-9]+ BYPASS$' "$saw"
done
a=$(get '/wp-json/wp/v2/categories' -H 'Origin: https://a.example')
acao_a=$(hdr Access-Control-Allow-Origin) vary=$(hdr Vary)
b=$(get '/wp-json/wp/v2/categories' -H 'Origin: https://b.example')
acao_b=$(hdr Access-Control-Allow-Origin)
check "an answer for one Origin is not served to another (Vary: Origin)" \
    "Origin a: $a ($acao_a, Vary: $vary); Origin b: $b ($acao_b)" \
    test "$acao_a|$acao_b" = "https://a.example|https://b.example"

section "purge requests are nginx's, and logged"
get /subject-post/ >/dev/null
get / >/dev/null
lines=$(wc -l <"$WP_LOGS/access.log")
saw=$(get /purge/subject-post/)
check "GET /purge/<path>" "$saw: $(head -c 100 "$work/body")" test "${saw% *}" = 200
saw=$(get /purge)
check "GET /purge (the home page)" "$saw: $(head -c 100 "$work/body")" \
    bash -c "[ '${saw% *}' = 200 ] && grep -q '\"key\":\"httpsGETexample.com/\"' '$work/body'"
saw=$(get /purgeall -X PURGE)
check "PURGE /purgeall" "$saw: $(head -c 100 "$work/body")" bash -c "[ '${saw% *}' = 200 ] || [ '${saw% *}' = 404 ]"
sleep 1.5   # the access log is buffered (flush=1s)
logged=$(tail -n +"$((lines + 1))" "$WP_LOGS/access.log" | grep -cE '"(GET|PURGE) /purge(/subject-post/|all)? ')
check "each purge is in the access log" "$logged of 3 purge requests logged" test "$logged" = 3
info=$(grep -cE 'microcache: (hard|soft) purge of ' "$WP_LOGS/error.log")
check "each purge has the module's line in the error log" "$info lines: $(grep -E 'microcache: (hard|soft) purge of ' "$WP_LOGS/error.log" | tail -n 1 | sed 's/.*microcache: //' | cut -c1-120)" \
    test "$info" -ge 3

finish test-wordpress-rules
