# shellcheck shell=bash
# Sourced by the COMMAND of scripts/wordpress/run.sh (the checks against a real WordPress):
# acting on the site as its owner would, with the environment run.sh gives.

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
