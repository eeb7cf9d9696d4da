#!/usr/bin/env bash
# LiteSpeed Cache for WordPress (LSCWP) running unchanged behind nginx, through the shipped
# configuration with its opt-in block enabled (README: "LiteSpeed Cache for WordPress"),
# acting as a site owner and as visitors:
#   1. anonymous pages are cached, with the tags the plugin gave them;
#   2. editing a post through the REST API (as the block editor does) purges exactly the pages
#      that carry a tag the plugin asked to purge: the post, the home page, its archives and
#      feeds; the other pages stay cached;
#   3. approving a comment purges the post's page (and exactly what the plugin asked);
#   4. a logged-in subscriber is served a cached page rendered for its role, never the
#      anonymous or the admin one (the plugin's vary cookie is in the cache key), and so is a
#      second subscriber; the admin gets its own;
#   5. no X-LiteSpeed-* header reaches a client, although the plugin sent them.
#
#   make test-wordpress-litespeed LSCWP_GIT=/path/to/lscache_wp      (a git clone or mirror)
#   scripts/wordpress/run.sh scripts/wordpress/check-litespeed.sh
#
# The plugin is installed from LSCWP_GIT at test time (git archive HEAD), never kept in this
# repository. What it asked for is read from a test-only mu-plugin's log
# (mu-plugins/litespeed-check.php), since nginx removes its headers from responses.
set -uo pipefail

# shellcheck source=scripts/wordpress/lib.sh
source "$WP_REPO/scripts/wordpress/lib.sh"

if ! lscwp_git=$(wp_plugin_git LSCWP_GIT https://github.com/litespeedtech/lscache_wp); then
    fail "LiteSpeed Cache source" "$lscwp_git"
    finish test-wordpress-litespeed
fi
work=$WP_DIR/litespeed
rm -rf "$work"
mkdir -p "$work/headers"
said=$WP_DOCROOT/wp-content/litespeed-headers.log

section "LiteSpeed Cache $(git -C "$lscwp_git" log -1 --format='%h %cs') from $lscwp_git"
wp_plugin_from_git "$lscwp_git" litespeed-cache
wp_mu_plugin "$WP_REPO/scripts/wordpress/mu-plugins/litespeed-check.php"
# The shipped opt-in, as its comments say: microcache_litespeed on, X-LSCACHE announced, and
# logged-in visitors no longer bypass the cache (the plugin decides).
snippets=$WP_STAGING_DIR/conf/snippets
sed -i 's/^#\(microcache_litespeed on;\)/\1/; /^[[:space:]]*wordpress_logged_in_\*/d' \
    "$snippets/microcache-wordpress.conf"
sed -i 's/^#\(fastcgi_param \(X-LSCACHE\|HTTP_X_LSCACHE\|HTTP_X_LSCACHE_VARY_VALUE\) .*\)$/\1/' \
    "$snippets/fastcgi-microcache.conf"
enabled=$(cat "$snippets/microcache-wordpress.conf" "$snippets/fastcgi-microcache.conf" \
    | grep -c '^microcache_litespeed on;$\|^fastcgi_param \(X-LSCACHE\|HTTP_X_LSCACHE\)')
check "the opt-in block enabled" "$enabled of its 4 lines" test "$enabled" = 4
check "nginx reloaded" "$(tail -n 1 "$WP_LOGS/error.log")" wp_nginx_reload
# Cache on; ESI on, which is how the plugin caches pages for logged-in users (per role). The
# "Post type archive" purge rule, on by default, purges the post type's tag, which every single
# post carries (an edit purges every post): off, so that an edit's purge is the post, its
# archives and the home page, and "nothing else" can be seen.
# shellcheck disable=SC2016 # PHP code
out=$(wp_php '
$r = activate_plugin( "litespeed-cache/litespeed-cache.php" );
if ( is_wp_error( $r ) ) { echo $r->get_error_message(); return; }
\LiteSpeed\Conf::cls()->update_confs( array( "cache" => true, "esi" => true, "purge-post_pt" => false ) );
echo "active, cache=", (int) get_option( "litespeed.conf.cache" ), " esi=", (int) get_option( "litespeed.conf.esi" ),
    " purge-post_pt=", (int) get_option( "litespeed.conf.purge-post_pt" );' 2>&1 | tail -n 1)
check "plugin activated, cache and ESI on, post type purge off" "$out" \
    test "$out" = "active, cache=1 esi=1 purge-post_pt=0"
wp_php_fpm_reload || fail "PHP-FPM reload" "the pool did not come back"

subject_id=$(wp_site "['posts']['subject']['id']")
subject_path=$(wp_site "['posts']['subject']['url']" | sed 's|^https://[^/]*||')
app_auth="admin:$(wp_site "['admin']['application_password']")"
admin_password=$(wp_site "['admin']['password']")
host=${WP_URL#https://}

# label|path: pages an anonymous visitor reads.
pages=(
    "home|/"
    "post|$subject_path"
    "category archive|/category/news/"
    "home page 2|/page/2/"
    "another post|/news-4/"
    "author archive|/author/admin/"
    "feed|/feed/"
    "category feed|/category/news/feed/"
    "hello world|/hello-world/"
)

n=0
# get PATH [CURL ARGS...]: a request; body in $work/body, headers kept in $work/headers/ for
# the final scan; prints the cache status.
get() {
    local path=$1
    shift
    n=$((n + 1))
    wp_curl -o "$work/body" -D "$work/headers/$n" "$@" "$WP_URL$path" >/dev/null
    tr -d '\r' <"$work/headers/$n" | sed -n 's/^x-fastcgi-cache: //Ip' | tail -n 1
}
# roles: whom the last page was rendered for (mu-plugins/litespeed-check.php).
roles() { sed -n 's/.*<!-- microcache-check roles: \(.*\) -->.*/\1/p' "$work/body" | tail -n 1; }

# tags PATH: the tags nginx stored with the page's anonymous GET entry (its cache file).
tags() {
    local md5 file
    md5=$(printf '%s' "httpsGET$host$1" | md5sum | cut -c1-32)
    file=$WP_CACHE/${md5:31:1}/${md5:29:2}/$md5
    [ -f "$file" ] || return 0
    grep -a -o 'X-LiteSpeed-Tag: [^[:cntrl:]]*' "$file" | sed 's/^X-LiteSpeed-Tag: //' | tr ',' '\n' \
        | sed 's/^ *//; s/ *$//' | grep -v '^$' | sort -u
}

# warm: every page in the cache for anonymous visitors: rendered once, then a HIT.
warm() {
    local p status i
    for p in "${pages[@]}"; do
        for i in 1 2 3; do
            status=$(get "${p#*|}")
            [ "$status" = HIT ] && break
        done
        printf '%s\n' "$status" >"$work/warm.${p%%|*}"
    done
}

# asked SINCE: the public tags the plugin's purge headers asked for, in responses logged after
# line SINCE of the mu-plugin's log ("*" for a purge of everything).
asked() {
    tail -n +"$(($1 + 1))" "$said" 2>/dev/null | cut -f2 | sed -n 's/^X-LiteSpeed-Purge2\{0,1\}: //Ip' \
        | tr ';' '\n' | grep -iv '^ *private' | tr ',' '\n' | sed 's/^ *//; s/ *$//; s/^tag=//' \
        | grep -v '^$' | grep -iv '^\(public\|stale\)$' | sort -u
}
said_lines() { [ -f "$said" ] && wc -l <"$said" || echo 0; }

# judge ACTION SINCE: for each page, whether the plugin asked for it (one of its tags was
# purged) and whether nginx purged it (no longer a HIT); prints a table, and fails on a page
# where they differ.
judge() {
    local action=$1 since=$2 p label path want got status
    local -a wrong=()
    asked "$since" >"$work/asked.$action"
    printf '\n%s: the plugin asked to purge %s tag(s): %s\n' "$action" "$(wc -l <"$work/asked.$action")" \
        "$(paste -sd' ' "$work/asked.$action")"
    printf '%-18s %-28s %-10s %-10s\n' "page" "path" "asked" "nginx"
    for p in "${pages[@]}"; do
        label=${p%%|*} path=${p#*|}
        want=kept
        if grep -qx '\*' "$work/asked.$action" || [ -n "$(comm -12 "$work/tags.$label" "$work/asked.$action")" ]; then
            want=purged
        fi
        status=$(get "$path")
        case "$status" in HIT) got=kept ;; *) got=purged ;; esac
        printf '%-18s %-28s %-10s %-10s\n' "$label" "$path" "$want" "$got ($status)"
        printf '%s %s\n' "$label" "$got" >>"$work/got.$action"
        [ "$want" = "$got" ] || wrong+=("$label: asked $want, nginx $got")
    done
    check "$action: nginx purged exactly the pages the plugin asked for" \
        "${#wrong[@]} differ${wrong[*]:+: }$(IFS=';'; echo "${wrong[*]}")" test "${#wrong[@]}" = 0
}
# shellcheck disable=SC2317 # (called through check)
purged() { grep -qx "$2 purged" "$work/got.$1"; }
# shellcheck disable=SC2317 # (called through check)
kept() { grep -qx "$2 kept" "$work/got.$1"; }

# --- 1. Anonymous pages, cached with the plugin's tags ---
section "anonymous pages"
wp_curl -o /dev/null -X PURGE "$WP_URL/purgeall"
warm
printf '%-18s %-8s %s\n' "page" "cache" "tags stored with it"
not_cached=()
for p in "${pages[@]}"; do
    label=${p%%|*}
    tags "${p#*|}" >"$work/tags.$label"
    printf '%-18s %-8s %s\n' "$label" "$(cat "$work/warm.$label")" "$(paste -sd' ' "$work/tags.$label")"
    [ "$(cat "$work/warm.$label")" = HIT ] && [ -s "$work/tags.$label" ] || not_cached+=("$label")
done
check "every page is served from the cache with the plugin's tags" "${not_cached[*]:-all}" \
    test "${#not_cached[@]}" = 0
check "the post's entry carries its post tag (Po.$subject_id)" "$(paste -sd' ' "$work/tags.post")" \
    grep -q "_Po\.$subject_id\$" "$work/tags.post"

# --- 2. The owner edits the post (REST API, as the block editor does) ---
section "editing a post"
since=$(said_lines)
code=$(wp_curl -o /dev/null -w '%{http_code}' -u "$app_auth" -X POST \
    --data-urlencode "title=Subject post rev-1" --data-urlencode "content=<p>The body of subject, rev-1.</p>" \
    -D "$work/headers/edit" "$WP_URL/wp-json/wp/v2/posts/$subject_id")
check "REST update answered" "$code" test "$code" = 200
judge edit "$since"
for label in post home "category archive"; do
    check "edit: $label purged" "$(grep "^$label " "$work/got.edit")" purged edit "$label"
done
check "edit: another post kept" "$(grep '^another post ' "$work/got.edit")" kept edit "another post"
get "$subject_path" >/dev/null
check "the post shows the edit" "$(grep -o 'rev-1' "$work/body" | head -n 1)" grep -q 'rev-1' "$work/body"

# --- 3. A visitor comments, the owner approves it ---
section "approving a comment"
warm
for p in "${pages[@]}"; do tags "${p#*|}" >"$work/tags.${p%%|*}"; done
c1=$(wp_curl -o /dev/null -w '%{http_code}' --data "comment_post_ID=$subject_id" \
    --data-urlencode "author=reader-c1" --data-urlencode "email=reader1@example.org" \
    --data-urlencode "comment=A comment, reader-c1." "$WP_URL/wp-comments-post.php")
# shellcheck disable=SC2016 # PHP code
cid=$(wp_curl -u "$app_auth" "$WP_URL/wp-json/wp/v2/comments?status=hold&post=$subject_id&context=edit" \
    | php -r '$c = json_decode(stream_get_contents(STDIN), true); echo $c[0]["id"] ?? "";')
warm
since=$(said_lines)
c2=$(wp_curl -o /dev/null -w '%{http_code}' -u "$app_auth" -X POST --data status=approved \
    "$WP_URL/wp-json/wp/v2/comments/${cid:-0}")
check "comment posted ($c1) and approved ($c2)" "comment ${cid:-none}" test "$c2" = 200
judge comment "$since"
check "comment: the post purged" "$(grep '^post ' "$work/got.comment")" purged comment post
get "$subject_path" >/dev/null
check "the post shows the comment" "reader-c1" grep -q 'reader-c1' "$work/body"

# --- 4. Logged-in visitors: one cached page per role ---
section "logged-in visitors"
# shellcheck disable=SC2016 # PHP code
wp_php 'foreach ( array( "sub1", "sub2" ) as $u ) { if ( ! username_exists( $u ) ) {
    wp_insert_user( array( "user_login" => $u, "user_pass" => "pw-$u-check", "user_email" => "$u@example.org", "role" => "subscriber" ) ); } }'
# login JAR USER PASSWORD: as a browser does; prints the status of the login POST.
login() {
    rm -f "$1"
    wp_curl -c "$1" -o /dev/null "$WP_URL/wp-login.php"
    n=$((n + 1))
    wp_curl -b "$1" -c "$1" -o /dev/null -D "$work/headers/$n" -w '%{http_code}' \
        --data-urlencode "log=$2" --data-urlencode "pwd=$3" \
        --data-urlencode "redirect_to=$WP_URL/" --data testcookie=1 "$WP_URL/wp-login.php"
}
vary() { awk '$6 == "_lscache_vary" { print $7 }' "$1"; }
l1=$(login "$work/sub1" sub1 pw-sub1-check)
l2=$(login "$work/sub2" sub2 pw-sub2-check)
l3=$(login "$work/admin" admin "$admin_password")
v1=$(vary "$work/sub1") v2=$(vary "$work/sub2") v3=$(vary "$work/admin")
check "logins ($l1 $l2 $l3) set the plugin's vary cookie: the same for both subscribers, another for the admin" \
    "sub1=$v1 sub2=$v2 admin=$v3" test -n "$v1" -a "$v1" = "$v2" -a -n "$v3" -a "$v3" != "$v1"
printf '\n%-44s %-8s %s\n' "request of the post" "cache" "rendered for"
row() {
    local status
    status=$(get "$subject_path" "${@:2}")
    printf '%-44s %-8s %s\n' "$1" "$status" "$(roles)"
    printf '%s|%s|%s\n' "$1" "$status" "$(roles)" >>"$work/roles"
}
: >"$work/roles"
row "anonymous (warm)"
row "anonymous"
row "subscriber sub1, first" -b "$work/sub1"
row "subscriber sub1, again" -b "$work/sub1"
row "subscriber sub2" -b "$work/sub2"
row "admin, first" -b "$work/admin"
row "admin, again" -b "$work/admin"
row "subscriber sub1, after the admin" -b "$work/sub1"
row "anonymous, after them" 
field() { grep "^$1|" "$work/roles" | cut -d'|' -f"$2"; }
check "a subscriber's second request is a HIT rendered for a subscriber" \
    "$(field "subscriber sub1, again" 2) $(field "subscriber sub1, again" 3)" \
    test "$(field "subscriber sub1, again" 2) $(field "subscriber sub1, again" 3)" = "HIT subscriber"
check "another subscriber gets the subscriber page from the cache" \
    "$(field "subscriber sub2" 2) $(field "subscriber sub2" 3)" \
    test "$(field "subscriber sub2" 2) $(field "subscriber sub2" 3)" = "HIT subscriber"
check "the admin gets a page of its own, cached" \
    "$(field "admin, first" 2) $(field "admin, first" 3), then $(field "admin, again" 2) $(field "admin, again" 3)" \
    test "$(field "admin, first" 3) $(field "admin, again" 2) $(field "admin, again" 3)" = "administrator HIT administrator"
wrong_roles=$(awk -F'|' '($1 ~ /^subscriber/ && $3 != "subscriber") || ($1 ~ /^anonymous/ && $3 != "none") \
    || ($1 ~ /^admin/ && $3 != "administrator")' "$work/roles")
check "no visitor is served a page rendered for another role" "${wrong_roles:-none}" test -z "$wrong_roles"
grep -q '<esi:include' "$work/body" && esi=present || esi=absent
get "$subject_path" -b "$work/sub1" >/dev/null
grep -q '<esi:include' "$work/body" && esi_sub=present || esi_sub=absent
echo "ESI tags (nginx does not process them): anonymous page $esi, subscriber page $esi_sub"

# --- 5. The protocol's headers never reach a client ---
section "headers"
sent=$(wc -l <"$said")
leaked=$(grep -il '^x-litespeed-' "$work/headers/"* 2>/dev/null | wc -l)
check "no X-LiteSpeed-* header reached a client in $(find "$work/headers" -type f | wc -l) responses (the plugin sent $sent)" \
    "$leaked leaked" test "$leaked" = 0 -a "$sent" -gt 0
echo "what the plugin sent, by header:"
cut -f2 "$said" | sed 's/:.*//' | sort | uniq -c

finish test-wordpress-litespeed
