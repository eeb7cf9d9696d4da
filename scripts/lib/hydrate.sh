# shellcheck shell=bash
# Sourced by staging/run.sh and bench/hydrate.sh: the opt-in that the shipped files describe
# (README "WooCommerce carts from the cache"), applied to a rendered copy of conf/.

# hydrate_opt_in CONF: the vhost includes snippets/microcache-hydrate-cart.conf and the WooCommerce
# cart cookies leave the bypass list of snippets/microcache-wordpress.conf; fails, saying why,
# when the shipped files no longer have the lines it edits.
hydrate_opt_in() {
    local site="$1/sites-available/example.com" rules="$1/snippets/microcache-wordpress.conf"
    sed -i 's|^\([[:space:]]*\)#\(include snippets/microcache-hydrate-cart.conf;\)|\1\2|' "$site"
    sed -i '/^[[:space:]]*\(woocommerce_items_in_cart\|woocommerce_cart_hash\|wp_woocommerce_session_\*\)[[:space:]]/d' "$rules"
    if ! grep -q '^[[:space:]]*include snippets/microcache-hydrate-cart.conf;' "$site" \
        || grep -q woocommerce_items_in_cart "$rules"; then
        echo "cannot enable WooCommerce carts from the cache in $site and $rules" >&2
        return 1
    fi
}
