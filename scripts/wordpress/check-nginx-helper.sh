#!/usr/bin/env bash
# WordPress's Nginx Helper plugin against the shipped configuration, acting as a site owner:
# for each purge method the plugin offers, edit two posts (one with a Cyrillic slug) through
# the REST API as the block editor does, approve a visitor's comment, change the site title and
# press "Purge Entire Cache" on the plugin's settings page. After each, read every page a
# visitor could be shown the old content on, and print which still serve it.
#
#   make test-wordpress NGINX_HELPER_GIT=/path/to/nginx-helper      (a git clone or mirror)
#   scripts/wordpress/run.sh scripts/wordpress/check-nginx-helper.sh
#
# The plugin is installed from NGINX_HELPER_GIT at test time (git archive HEAD), never kept in
# this repository, and configured as the README's deployment section says: wp-config.php
# defines RT_WP_NGINX_HELPER_CACHE_PATH as the cache directory.
#
# A cell says what visitors got after the owner's action, from a page that was hot in the
# cache before it (lib.sh: wp_judge): "fresh" when the page changed and they get the new one
# (the shipped page purges are soft: the first visitors get the old copy, STALE, while one
# request renders the new one), "OLD" when they still get the old one, "kept" or "purged" when
# the page did not change; then the first visitor's cache status. A page is judged only
# against what PHP renders for it at that moment (a request the shipped rules bypass). Pages
# tell nginx to keep them for five minutes (a test-only mu-plugin sends X-Accel-Expires: 300),
# so within the check an entry changes only when a purge removed it.
# The check fails when a page the plugin purges for that action serves the old content; pages
# it does not purge (other pages that show the post: the README's microcache-tags plugin
# covers them) are reported.
set -uo pipefail

# shellcheck source=scripts/wordpress/lib.sh
source "$WP_REPO/scripts/wordpress/lib.sh"

if ! helper_git=$(wp_plugin_git NGINX_HELPER_GIT https://github.com/rtCamp/nginx-helper); then
    fail "Nginx Helper source" "$helper_git"
    finish test-wordpress
fi
work=$WP_DIR/check
rm -rf "$work"
mkdir -p "$work"

section "Nginx Helper $(git -C "$helper_git" log -1 --format='%h %cs') from $helper_git"
wp_plugin_from_git "$helper_git" nginx-helper
# The plugin's HEAD calls is_plugin_active() on the front end, where WordPress has not loaded
# wp-admin/includes/plugin.php: a fatal error on every page without this.
wp_mu_plugin "$WP_REPO/scripts/wordpress/mu-plugins/load-plugin-api.php"
wp_mu_plugin "$WP_REPO/scripts/wordpress/mu-plugins/cache-pages-five-minutes.php"
wp_config_define RT_WP_NGINX_HELPER_CACHE_PATH "'$WP_CACHE'"
# shellcheck disable=SC2016 # PHP code
out=$(wp_php '
$r = activate_plugin( "nginx-helper/nginx-helper.php" );
echo is_wp_error( $r ) ? $r->get_error_message() : "active";' 2>&1)
check "plugin activated" "$out" test "$out" = active
wp_php_fpm_reload || fail "PHP-FPM reload" "the pool did not come back"

subject_id=$(wp_site "['posts']['subject']['id']")
cyrillic_id=$(wp_site "['posts']['cyrillic']['id']")
subject_path=$(wp_site "['posts']['subject']['url']" | sed 's|^https://[^/]*||')
cyrillic_path=$(wp_site "['posts']['cyrillic']['url']" | sed 's|^https://[^/]*||')
app_auth="admin:$(wp_site "['admin']['application_password']")"
admin_password=$(wp_site "['admin']['password']")

# label|path: the pages a visitor could be shown a post, a comment or the site title on.
pages=(
    "home|/"
    "post|$subject_path"
    "post, Cyrillic slug|$cyrillic_path"
    "category archive|/category/news/"
    "home page 2|/page/2/"
    "category page 2|/category/news/page/2/"
    "another post|/news-4/"
    "feed|/feed/"
    "category feed|/category/news/feed/"
    "post's comments feed|${subject_path}feed/"
    "/comments/feed/|/comments/feed/"
)
# What the plugin purges for each action (the rest is reported, not failed).
declare -A purged_by=(
    [edit]="home|post|post, Cyrillic slug|category archive|feed|category feed|post's comments feed"
    [comment]="home|post|post's comments feed"
    [purge-all]="*"
)

# judge ACTION: the verdicts (lib.sh: wp_judge); failures for pages the plugin purges for
# ACTION that still serve the old content.
judge() {
    local action=$1 cell n=0 label
    local -a cells
    wp_judge "$action"
    mapfile -t cells <"$work/cells.$action"
    for cell in "${cells[@]}"; do
        label=${pages[$n]%%|*}
        n=$((n + 1))
        [ "${cell%% *}" = OLD ] || continue
        if [ "$method $label" = "unlink_files post, Cyrillic slug" ] && [ "$action" = edit ]; then
            # The plugin names the file after WordPress's lower-case escapes (md5 of
            # https GET example.com/%d0%bf...); the key has them in upper case (README:
            # $microcache_request_uri).
            known+=("$label ($action, $method): the plugin hashes lower-case escapes")
            continue
        fi
        case "|${purged_by[$action]}|" in
        *"|$label|"* | "|*|") stale_purged+=("$label ($action: ${cell#* })") ;;
        esac
    done
}

rev=0
login() {
    rm -f "$work/jar"
    wp_curl -c "$work/jar" -o /dev/null "$WP_URL/wp-login.php"
    wp_curl -b "$work/jar" -c "$work/jar" -o /dev/null -w '%{http_code}' \
        --data-urlencode log=admin --data-urlencode "pwd=$admin_password" \
        --data-urlencode "redirect_to=$WP_URL/wp-admin/" --data testcookie=1 "$WP_URL/wp-login.php"
}

for method in get_request get_request_torden unlink_files; do
    section "purge method: $method"
    # shellcheck disable=SC2016 # PHP code
    out=$(wp_php '
$o = get_site_option( "rt_wp_nginx_helper_options" );
$o["enable_purge"] = 1;
$o["enable_log"] = 1;
$o["cache_method"] = "enable_fastcgi";
$o["purge_method"] = "'"$method"'";
update_site_option( "rt_wp_nginx_helper_options", $o );
$o = get_site_option( "rt_wp_nginx_helper_options" );
echo $o["purge_method"], " enable_purge=", $o["enable_purge"];' 2>&1)
    check "settings saved" "$out" test "$out" = "$method enable_purge=1"
    stale_purged=() known=()
    actions=""
    # Each method starts from an empty cache.
    wp_curl -o /dev/null -X PURGE "$WP_URL/purgeall"

    # 1. The owner edits two posts in the block editor (REST API, application password).
    rev=$((rev + 1))
    wp_warm
    since=$(wp_log_lines)
    e1=$(wp_curl -o /dev/null -w '%{http_code}' -u "$app_auth" -X POST \
        --data-urlencode "title=Subject post rev-$rev" \
        --data-urlencode "content=<p>The body of subject, rev-$rev.</p>" \
        "$WP_URL/wp-json/wp/v2/posts/$subject_id")
    e2=$(wp_curl -o /dev/null -w '%{http_code}' -u "$app_auth" -X POST \
        --data-urlencode "title=Привет мир rev-$rev" "$WP_URL/wp-json/wp/v2/posts/$cyrillic_id")
    judge edit
    actions+="edit: REST updates $e1 $e2; purges: $(wp_purge_requests "$since")"$'\n'

    # 2. A visitor comments (held for moderation), the owner approves it.
    rev=$((rev + 1))
    wp_warm
    c1=$(wp_curl -o /dev/null -w '%{http_code}' --data "comment_post_ID=$subject_id" \
        --data-urlencode "author=reader-c$rev" --data-urlencode "email=reader$rev@example.org" \
        --data-urlencode "comment=A comment, reader-c$rev." "$WP_URL/wp-comments-post.php")
    # shellcheck disable=SC2016 # PHP code
    cid=$(wp_curl -u "$app_auth" "$WP_URL/wp-json/wp/v2/comments?status=hold&post=$subject_id&context=edit" \
        | php -r '$c = json_decode(stream_get_contents(STDIN), true); echo $c[0]["id"] ?? "";')
    since=$(wp_log_lines)
    c2=$(wp_curl -o /dev/null -w '%{http_code}' -u "$app_auth" -X POST --data status=approved \
        "$WP_URL/wp-json/wp/v2/comments/${cid:-0}")
    judge comment
    actions+="comment: posted $c1, approved comment ${cid:-none}: $c2; purges: $(wp_purge_requests "$since")"$'\n'

    # 3. The owner renames the site (Settings > General purges nothing) and presses
    #    "Purge Entire Cache" on Settings > Nginx Helper.
    rev=$((rev + 1))
    wp_php "update_option( 'blogname', 'microcache check site-rev-$rev' );"
    wp_warm
    l1=$(login)
    wp_curl -b "$work/jar" -o "$work/settings" "$WP_URL/wp-admin/options-general.php?page=nginx"
    button=$(grep -B2 'Purge Entire Cache' "$work/settings" | grep -o 'href="[^"]*nginx_helper_action=purge[^"]*"' \
        | head -n 1 | sed -e 's/^href="//' -e 's/"$//' -e 's/&amp;/\&/g' -e 's/&#038;/\&/g')
    since=$(wp_log_lines)
    p1=$(wp_curl -b "$work/jar" -o /dev/null -w '%{http_code}' "$WP_URL$button")
    judge purge-all
    actions+="purge-all: login $l1, button $([ -n "$button" ] && echo found || echo missing), pressed: $p1; purges: $(wp_purge_requests "$since")"$'\n'

    wp_table "edit:edit 2 posts" "comment:approve comment" "purge-all:purge entire cache"
    printf '\n%s' "$actions"
    [ ${#known[@]} = 0 ] || printf 'known: %s\n' "${known[@]}"
    check "$method: every page the plugin purges is fresh" \
        "${#stale_purged[@]} stale${stale_purged[*]:+: }$(IFS=';'; echo "${stale_purged[*]}")" \
        test "${#stale_purged[@]}" = 0
done

section "the plugin's log (wp-content/uploads/nginx-helper/nginx.log), purge outcomes"
plugin_log=$WP_DOCROOT/wp-content/uploads/nginx-helper/nginx.log
if [ -f "$plugin_log" ]; then
    grep -oE '\*\*\* PURGED \*\*\*|is currently not cached|not found \( [0-9]+ \)|Error[^|]*' "$plugin_log" \
        | sed -E 's/Error while purging URL\..*/Error while purging URL/' | sort | uniq -c
else
    echo "(no log)"
fi

finish test-wordpress
