<?php
// /var/www/microcache/cart-state.php — the state of a WooCommerce visitor's mini-cart, for
// edge state hydration (conf/snippets/microcache-hydrate-cart.conf, README "WooCommerce carts
// from the cache"). nginx calls it in a subrequest for each page a visitor with a cart views,
// and puts the answer into the cached page.
//
// Contract (what the snippet's rules read):
//   request:  the visitor's cookies; WooCommerce's session cookie
//             wp_woocommerce_session_<COOKIEHASH> = "<customer id>||<expiry>||<expiring>||<hash>"
//   answer:   200 application/json (for nginx only: a subrequest's answer never reaches the
//             browser, and the snippet may micro-cache it per visitor)
//             {"cart":{"count":2,"count_text":"2 items","total":"38,00 €"}}
//             an unknown or expired session is an empty cart (count 0).
//
// This is the documented STAND-IN for a shop without WooCommerce installed (the staging demo,
// staging/www/shop.php): it keeps each customer's cart as a JSON file,
// carts/<customer id>.json = {"items":{"<product id>":<quantity>},"total_cents":<int>}, next to
// this file. On a WooCommerce site, replace cart_of() with a read of WooCommerce's session:
// the row of {$wpdb->prefix}woocommerce_sessions whose session_key is the customer id holds
// session_value, a serialized array whose "cart" (the items, each with a "quantity") and
// "cart_totals" ("total") give the same two numbers; check the cookie's hash the way
// WC_Session_Handler::get_session_cookie() does. Keep it tiny: it runs once per page view.

const CART_COOKIE_PREFIX = 'wp_woocommerce_session_';

/// The customer id of the visitor's WooCommerce session cookie, if it has a well-formed,
/// unexpired one.
function customer_id(array $cookies): ?string
{
    foreach ($cookies as $name => $value) {
        if (strncmp((string) $name, CART_COOKIE_PREFIX, strlen(CART_COOKIE_PREFIX)) !== 0) {
            continue;
        }
        $parts = explode('||', (string) $value);
        if (count($parts) !== 4 || (int) $parts[1] < time()) {
            return null;
        }
        // Guest ids are random (WooCommerce: 32 characters); nothing else reaches the store.
        return preg_match('/^[A-Za-z0-9_-]{1,64}$/', $parts[0]) === 1 ? $parts[0] : null;
    }
    return null;
}

function cart_file(string $customer): string
{
    return __DIR__ . '/carts/' . $customer . '.json';
}

/// The stored cart of a customer: ['items' => [product id => quantity], 'total_cents' => int].
function cart_of(?string $customer): array
{
    $empty = ['items' => [], 'total_cents' => 0];
    if ($customer === null) {
        return $empty;
    }
    $json = @file_get_contents(cart_file($customer));
    $cart = $json === false ? null : json_decode($json, true);
    return is_array($cart) && is_array($cart['items'] ?? null) ? $cart + $empty : $empty;
}

/// The answer of the contract above.
function cart_state(array $cart): array
{
    $count = (int) array_sum(array_map('intval', $cart['items']));
    $cents = (int) $cart['total_cents'];
    return ['cart' => [
        'count' => $count,
        'count_text' => $count === 1 ? '1 item' : "$count items",
        'total' => sprintf('%d,%02d €', intdiv($cents, 100), $cents % 100),
    ]];
}

// Run as the subrequest's script (the demo shop includes this file for its functions).
if (realpath((string) ($_SERVER['SCRIPT_FILENAME'] ?? '')) === __FILE__) {
    header('Content-Type: application/json');
    echo json_encode(cart_state(cart_of(customer_id($_COOKIE))), JSON_UNESCAPED_UNICODE), "\n";
}
