#!/usr/bin/env bash
# The shipped tag purge against a real WordPress: the must-use plugin
# conf/wordpress/microcache-tags.php installed as the README's deployment section says (copied
# to wp-content/mu-plugins/), no other purge plugin. The owner edits a post that every page
# shows (the footer's recent posts), edits the oldest post, approves a visitor's comment,
# renames a tag and trashes a post, each through the REST API as the block editor does. After
# each, every page is read as a visitor and judged against what PHP renders for it then
# (lib.sh: wp_judge): a page that changed must be fresh, one that did not must still be a
# cache HIT, and the change must have cost one purge request.
#
#   make test-wordpress-tags
#   scripts/wordpress/run.sh scripts/wordpress/check-tags.sh
#
# Pages tell nginx to keep them for five minutes (a test-only mu-plugin sends
# X-Accel-Expires: 300), so within the check an entry changes only when a purge removed it.
# Trashing a post changes every list of posts of its type; each page here lists them (recent
# posts in the footer), so its needless purges are reported, not failed.
set -uo pipefail

# shellcheck source=scripts/wordpress/lib.sh
source "$WP_REPO/scripts/wordpress/lib.sh"
wp_check_start tags
subject_id=$(wp_site "['posts']['subject']['id']")
oldest_id=$(wp_site "['posts']['news-1']['id']")
trashed_id=$(wp_site "['posts']['news-2']['id']")
subject_path=$(wp_site "['posts']['subject']['url']" | sed 's|^https://[^/]*||')

section "the plugin, as installed by an owner"
wp_mu_plugin "$WP_REPO/conf/wordpress/microcache-tags.php"
wp_mu_plugin "$WP_REPO/scripts/wordpress/mu-plugins/cache-pages-five-minutes.php"
wp_php_fpm_reload || fail "PHP-FPM reload" "the pool did not come back"
# Pages cached before the plugin carry no tags: emptied once, as the README says.
wp_curl -o /dev/null -X PURGE "$WP_URL/purgeall"
# A tag on the post every page shows and on one of the second page.
# shellcheck disable=SC2016 # PHP code
tag_id=$(wp_php '
wp_set_post_tags( '"$subject_id"', "Featured", true );
wp_set_post_tags( '"$trashed_id"', "Featured", true );
echo get_term_by( "slug", "featured", "post_tag" )->term_id;')
seen=""
for _ in 1 2; do
    seen+="$(wp_get /): $(tr -d '\r' <"$work/headers" | grep -ciE '^(surrogate-key|cache-tag):') tag headers; "
done
check "tags are hidden from visitors" "the home page: $seen" test "$seen" = "MISS: 0 tag headers; HIT: 0 tag headers; "

# label|path: the pages that show the post, its comments or its tag, and some that do not.
pages=(
    "home|/"
    "home page 2|/page/2/"
    "the post|$subject_path"
    "the post's comments feed|${subject_path}feed/"
    "category|/category/news/"
    "category page 2|/category/news/page/2/"
    "tag archive|/tag/featured/"
    "author archive|/author/admin/"
    "another post|/news-4/"
    "/feed/|/feed/"
    "category feed|/category/news/feed/"
    "/comments/feed/|/comments/feed/"
    "oldest post|/news-1/"
    "oldest post's comments feed|/news-1/feed/"
    "Uncategorized feed|/category/uncategorized/feed/"
    "REST: the post|/wp-json/wp/v2/posts/$subject_id"
    "REST: oldest post|/wp-json/wp/v2/posts/$oldest_id"
    "REST: tags|/wp-json/wp/v2/tags"
)

# act ACTION MODE WHAT COMMAND...: the owner's action (COMMAND prints its HTTP status), judged;
# one purge request of MODE expected.
act() {
    local action=$1 mode=$2 what=$3 since errors status requests logged one
    shift 3
    wp_warm
    since=$(wp_log_lines) errors=$(wc -l <"$WP_LOGS/error.log")
    status=$("$@")
    wp_judge "$action"
    requests=$(wp_purge_requests "$since")
    logged=$(tail -n +"$((errors + 1))" "$WP_LOGS/error.log" | grep -o 'microcache: [a-z]* purge of .*' | sed 's/, client: .*//')
    section "$what"
    echo "answer: $status; purge requests: ${requests:-none}"
    echo "${logged:-no purge in the error log}"
    check "$action: pages that changed are fresh" "$(wp_verdicts "$action" OLD | sed 's/^./old: &/')" \
        test -z "$(wp_verdicts "$action" OLD)"
    if [ "$action" = trash ]; then
        echo "purged, unchanged (every page lists the posts): $(wp_verdicts "$action" purged)"
    else
        check "$action: pages that did not change are still cached" \
            "kept: $(wp_verdicts "$action" kept)$(wp_verdicts "$action" purged | sed 's/^./; purged: &/')" \
            test -z "$(wp_verdicts "$action" purged)"
    fi
    one=no
    [ "$requests" = "POST /purge -> 200 (1)" ] && grep -q "^microcache: $mode purge" <<<"$logged" && one=yes
    check "$action: one $mode purge request" "$requests" test "$one" = yes
}

# shellcheck disable=SC2317 # (called through act)
rest() {
    wp_curl -o "$work/answer" -w '%{http_code}' -u "$app_auth" "$@"
}
# shellcheck disable=SC2317 # (called through act)
comment() {
    local cid
    # A visitor comments (held for moderation), the owner approves it.
    wp_curl -o /dev/null --data "comment_post_ID=$subject_id" --data-urlencode "author=reader-c1" \
        --data-urlencode "email=reader1@example.org" --data-urlencode "comment=A comment, reader-c1." \
        "$WP_URL/wp-comments-post.php"
    # shellcheck disable=SC2016 # PHP code
    cid=$(wp_curl -u "$app_auth" "$WP_URL/wp-json/wp/v2/comments?status=hold&post=$subject_id&context=edit" \
        | php -r '$c = json_decode(stream_get_contents(STDIN), true); echo $c[0]["id"] ?? "";')
    rest -X POST --data status=approved "$WP_URL/wp-json/wp/v2/comments/${cid:-0}"
}

act edit soft "1. edit the post every page shows (REST update of its title and body)" \
    rest -X POST --data-urlencode "title=Subject post rev-1" \
    --data-urlencode "content=<p>The body of subject, rev-1.</p>" "$WP_URL/wp-json/wp/v2/posts/$subject_id"
act edit-oldest soft "2. edit the oldest post's title (not in the recent posts)" \
    rest -X POST --data-urlencode "title=News one rev-2" "$WP_URL/wp-json/wp/v2/posts/$oldest_id"
act comment soft "3. approve a visitor's comment on the post" comment
act term soft "4. rename the post's tag" \
    rest -X POST --data-urlencode "name=Featured rev-4" "$WP_URL/wp-json/wp/v2/tags/$tag_id"
act trash hard "5. trash a post of the second page (hard: it leaves public view)" \
    rest -X DELETE "$WP_URL/wp-json/wp/v2/posts/$trashed_id"

wp_table "edit:1. edit" "edit-oldest:2. edit oldest" "comment:3. comment" "term:4. rename tag" "trash:5. trash"

section "the cache index"
wp_curl -o "$work/status" "$WP_URL/microcache-status"
# shellcheck disable=SC2016 # PHP code
index=$(php -r '$s = json_decode(file_get_contents($argv[1]), true)["indexes"]["example.com"] ?? null;
if ($s && $s["entries"] > 0) {
    printf("%s: %d entries, %d tags, %.1f tags an entry, %d bytes an entry (%d bytes used of %d)",
        $s["state"], $s["entries"], $s["tags"], $s["tag_links"] / $s["entries"],
        $s["bytes_used"] / $s["entries"], $s["bytes_used"], $s["bytes"]);
}' "$work/status")
check "the purges used the index" "$index" grep -q '^ready: ' <<<"$index"

section "the module's limits"
# shellcheck disable=SC2016 # PHP code
value=$(wp_php '$tags = array( "list-post", "comment-list" );
for ( $i = 1; $i <= 1500; $i++ ) { $tags[] = "post-$i"; }
echo \Microcache_Tags\header_value( $tags, "" );')
check "a page that shows 1500 posts: post-many instead of their tags" \
    "$(wc -w <<<"$value") tags, $(printf '%s' "$value" | wc -c) bytes: $(cut -c1-60 <<<"$value")" \
    test "$value" = "list-post comment-list post-many"

section "a purge that fails does not fail the edit"
# Nothing listens on 127.0.0.2:443: the purge is refused, as with nginx down.
wp_config_define MICROCACHE_PURGE_ADDRESS "'127.0.0.2'"
wp_php_fpm_reload || fail "PHP-FPM reload" "the pool did not come back"
fpm_lines=$(wc -l <"$WP_LOGS/php-fpm.log")
t0=$(date +%s%N)
status=$(rest -X POST --data-urlencode "title=Subject post rev-6" "$WP_URL/wp-json/wp/v2/posts/$subject_id")
ms=$((($(date +%s%N) - t0) / 1000000))
logged=$(tail -n +"$((fpm_lines + 1))" "$WP_LOGS/php-fpm.log" | grep -o 'microcache-tags: .*' | head -n 1)
saved=$(wp_php 'echo get_the_title( '"$subject_id"' );')
ok=no
[ "$status" = 200 ] && [ "$saved" = "Subject post rev-6" ] && [[ "$logged" == *failed* ]] && ok=yes
check "the edit is saved, the failure logged" "answer $status in $ms ms, title '$saved'; PHP's log: ${logged:-nothing}" \
    test "$ok" = yes

finish test-wordpress-tags
