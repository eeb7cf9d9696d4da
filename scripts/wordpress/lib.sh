# shellcheck shell=bash
# Sourced by the COMMAND of scripts/wordpress/run.sh (the checks against a real WordPress):
# acting on the site as its owner would, with the environment run.sh gives; and the PASS/FAIL
# reporting of scripts/lib/testing.sh.

# shellcheck source=scripts/lib/testing.sh
source "$WP_REPO/scripts/lib/testing.sh"

# wp_check_start NAME: a check's scratch directory, $WP_DIR/NAME, empty, as $work; the admin's
# application password for the REST API (curl -u) as $app_auth.
wp_check_start() {
    work=$WP_DIR/$1
    rm -rf "$work"
    mkdir -p "$work"
    # shellcheck disable=SC2034 # for the check
    app_auth="admin:$(wp_site "['admin']['application_password']")"
}

# wp_site EXPR: a value of site.json, EXPR in PHP array syntax: wp_site "['posts']['subject']['url']".
wp_site() {
    # shellcheck disable=SC2016 # PHP code
    php -r '$s = json_decode(file_get_contents(getenv("WP_SITE")), true); echo '"\$s$1"';'
}

# wp_php CODE: PHP CODE run with WordPress loaded, as www-data (the PHP-FPM pool's user, as
# `sudo -u www-data wp eval` would), logged in as the admin. Prints what CODE prints.
wp_php() {
    runuser -u www-data -- php "$WP_DIR/tools/eval.php" "$WP_DOCROOT" "$1"
}

# --- Pages before and after a change, as visitors get them ---
# For checks that set $work (their scratch directory) and $pages ("label|path" lines, paths
# on the site). Pages are read anonymously; X-FastCGI-Cache gives the cache status.

# wp_get PATH [CURL ARGS...]: a visitor's request: the body in $work/body, the headers in
# $work/headers; prints the cache status.
# shellcheck disable=SC2154 # $work, $pages: set by the check
wp_get() {
    local path=$1
    shift
    wp_curl -o "$work/body" -D "$work/headers" "$@" "$WP_URL$path" >/dev/null
    tr -d '\r' <"$work/headers" | sed -n 's/^x-fastcgi-cache: //Ip' | tail -n 1
}

# wp_fetch_all PREFIX [CURL ARGS...]: every page at once (over one HTTP/2 connection, 4 at a
# time), as a visitor: each body in $work/PREFIX.N, its cache status in $work/PREFIX.N.status.
# shellcheck disable=SC2154 # $work, $pages: set by the check
wp_fetch_all() {
    local prefix=$1 p n=0 status
    local -a urls=()
    shift
    for p in "${pages[@]}"; do
        n=$((n + 1))
        urls+=(-o "$work/$prefix.$n" "$WP_URL${p#*|}")
    done
    # One line per page: its number from 0, its cache status.
    curl -s --no-progress-meter --max-time 30 --parallel --parallel-max 4 \
        -w '%{urlnum} %header{x-fastcgi-cache}\n' "$@" "${urls[@]}" \
        | while read -r n status; do printf '%s\n' "$status" >"$work/$prefix.$((n + 1)).status"; done
}

# wp_warm: every page hot in the cache (rendered, then a HIT); its body as visitors get it in
# $work/hot.N, the page before a change.
# shellcheck disable=SC2154 # $work, $pages: set by the check
wp_warm() {
    local i n cold
    for ((i = 0; i < 50; i++)); do
        wp_fetch_all hot
        cold=$(cat "$work"/hot.*.status | grep -cvx HIT)
        [ "$cold" = 0 ] && return
        sleep 0.1
    done
    for ((n = 1; n <= ${#pages[@]}; n++)); do
        [ "$(cat "$work/hot.$n.status")" = HIT ] || echo "warm: ${pages[$((n - 1))]#*|} still $(cat "$work/hot.$n.status")" >&2
    done
}

# wp_judge ACTION: what visitors get after ACTION, page by page, against what PHP renders now
# (a request the shipped rules bypass) and against the page before ($work/hot.N). One line per
# page in $work/cells.ACTION, the verdict and the status of the first visitor's request:
#   fresh   the page changed and visitors get the new one (after a soft purge, once the one
#           request that renders it again is done: the first visitors get the old copy, STALE)
#   OLD     the page changed and visitors still get the old one
#   kept    the page did not change and stayed in the cache (HIT)
#   purged  the page did not change but was purged
# shellcheck disable=SC2154 # $work, $pages: set by the check
wp_judge() {
    local action=$1 status verdict i n
    local -a firsts=() waiting=() still
    # Every page at once, right away: what the first visitors after the change get.
    wp_fetch_all after
    for ((n = 1; n <= ${#pages[@]}; n++)); do
        status=$(cat "$work/after.$n.status")
        firsts+=("${status:--}")
        case $status in STALE | UPDATING) waiting+=("$n") ;; esac
    done
    wp_fetch_all render -H 'Cookie: wordpress_no_cache=1'
    # Soft purges: the new page once its one background render is done.
    for ((i = 0; i < 50 && ${#waiting[@]} > 0; i++)); do
        wp_fetch_all settled
        still=()
        for n in "${waiting[@]}"; do
            if [ "$(cat "$work/settled.$n.status")" = HIT ]; then
                cp "$work/settled.$n" "$work/after.$n"
            else
                still+=("$n")
            fi
        done
        waiting=("${still[@]}")
        [ ${#waiting[@]} = 0 ] || sleep 0.1
    done
    : >"$work/cells.$action"
    for ((n = 1; n <= ${#pages[@]}; n++)); do
        status=${firsts[$((n - 1))]}
        if cmp -s "$work/render.$n" "$work/hot.$n"; then
            verdict=purged
            [ "$status" != HIT ] || verdict=kept
        elif cmp -s "$work/render.$n" "$work/after.$n"; then
            verdict=fresh
        else
            verdict=OLD
        fi
        printf '%s %s\n' "$verdict" "$status" >>"$work/cells.$action"
    done
}

# wp_verdicts ACTION VERDICT: the labels of the pages with VERDICT after ACTION, with the
# first visitor's cache status, separated by "; ".
# shellcheck disable=SC2154 # $work, $pages: set by the check
wp_verdicts() {
    local cell n=0 out=""
    local -a cells
    mapfile -t cells <"$work/cells.$1"
    for cell in "${cells[@]}"; do
        [ "${cell%% *}" != "$2" ] || out+="${out:+; }${pages[$n]%%|*} (${cell#* })"
        n=$((n + 1))
    done
    printf '%s' "$out"
}

# wp_table ACTION:TITLE...: one row per page, one column per action.
# shellcheck disable=SC2154 # $work, $pages: set by the check
wp_table() {
    local a p n=0
    printf '\n%-28s' page
    for a in "$@"; do printf ' %-16s' "${a#*:}"; done
    printf '\n'
    for p in "${pages[@]}"; do
        n=$((n + 1))
        printf '%-28s' "${p%%|*}"
        for a in "$@"; do printf ' %-16s' "$(sed -n "${n}p" "$work/cells.${a%%:*}")"; done
        printf '\n'
    done
}

# wp_log_lines: the access log's length, to count what nginx logs from here.
wp_log_lines() { wc -l <"$WP_LOGS/access.log"; }

# wp_purge_requests SINCE: the purge requests nginx logged since line SINCE of its access log,
# counted by request and status (the access log is buffered: flush=1s).
wp_purge_requests() {
    sleep 1.1
    tail -n +"$(($1 + 1))" "$WP_LOGS/access.log" \
        | sed -n 's/^.*"\(GET\|PURGE\|HEAD\|POST\) \(\/purge[^ ?]*\)[^"]*" \([0-9]*\) .*/\1 \2 \3/p' \
        | sed -E 's#^(GET|PURGE|HEAD) /purge/.+/(feed/)?(atom/|rdf/)? #\1 /purge/<page> #' \
        | sort | uniq -c | awk '{printf "%s%s %s -> %s (%d)", sep, $2, $3, $4, $1; sep=", "}'
}

# wp_plugin_from_git GIT_DIR SLUG: installs the plugin in the repository GIT_DIR (a mirror:
# `git archive HEAD`) as wp-content/plugins/SLUG. Plugins are installed at test time only.
wp_plugin_from_git() {
    local dest=$WP_DOCROOT/wp-content/plugins/$2
    rm -rf "$dest"
    mkdir -p "$dest"
    git -C "$1" archive HEAD | tar -x -C "$dest" || return 1
    chown -R www-data:www-data "$dest"
}

# wp_mu_plugin FILE: installs FILE as a must-use plugin (loaded on every request, before plugins).
wp_mu_plugin() {
    install -o www-data -g www-data -m 0644 "$1" "$WP_DOCROOT/wp-content/mu-plugins/"
}

# wp_config_define NAME PHP_VALUE: adds define( 'NAME', PHP_VALUE ); to wp-config.php, as an
# owner would. PHP-FPM sees it after wp_php_fpm_reload (the shipped opcache settings do not
# look at files again).
wp_config_define() {
    local line="define( '$1', $2 );"
    grep -qF "define( '$1'," "$WP_DOCROOT/wp-config.php" \
        && sed -i "/define( '$1',/d" "$WP_DOCROOT/wp-config.php"
    sed -i "/^\/\/ Settings added by checks/i $(printf '%s' "$line" | sed 's/[\/&]/\\&/g')" "$WP_DOCROOT/wp-config.php"
}

# wp_php_fpm_reload: `systemctl reload php8.2-fpm`: a graceful restart of the pool, which also
# empties the opcache (what the README asks for after a code or configuration change).
wp_php_fpm_reload() {
    local pid i
    pid=$(tr -dc 0-9 <"$WP_STAGING_DIR/run/php-fpm.pid")
    kill -USR2 "$pid"
    for ((i = 0; i < 50; i++)); do
        sleep 0.2
        [ "$(wp_curl -o /dev/null -w '%{http_code}' "$WP_URL/fpm-ping")" = 200 ] && return 0
    done
    return 1
}

# wp_curl ARGS...: curl with a time limit, certificate checks on (the namespace trusts the site).
wp_curl() {
    curl -s --max-time 10 "$@"
}

# wp_nginx_reload: `nginx -t && systemctl reload nginx` for the site's nginx, after a change to
# its configuration copy ($WP_STAGING_DIR/conf); returns once the site answers again.
wp_nginx_reload() {
    local nginx=${WP_NGINX:-/usr/sbin/nginx} i
    local args=(-p "$WP_STAGING_DIR/nginx/" -c "$WP_STAGING_DIR/conf/nginx.conf" -e "$WP_LOGS/error.log")
    "$nginx" -t -q "${args[@]}" || return 1
    "$nginx" "${args[@]}" -s reload || return 1
    # The old workers finish their requests; the new ones read the new configuration.
    sleep 1
    for ((i = 0; i < 50; i++)); do
        [ "$(wp_curl -o /dev/null -w '%{http_code}' "$WP_URL/fpm-ping")" = 200 ] && return 0
        sleep 0.2
    done
    return 1
}

# wp_plugin_git VARIABLE CLONE_URL: prints the git repository (a clone or mirror of a plugin)
# that the environment variable VARIABLE names; fails, saying where to clone it from, when it
# names none.
wp_plugin_git() {
    local dir=${!1:-}
    if [ -z "$dir" ] || ! git -C "$dir" rev-parse --verify -q HEAD >/dev/null; then
        echo "$1='$dir' is not a git repository (git clone $2)"
        return 1
    fi
    printf '%s\n' "$dir"
}
