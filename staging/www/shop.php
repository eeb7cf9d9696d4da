<?php
// microcache staging demo: a WooCommerce-like shop page with Storefront's header cart, for
// edge state hydration (conf/snippets/microcache-hydrate-cart.conf; staging enables it).
//
// Like WooCommerce, PHP renders the mini-cart from the visitor's session cookie. With hydration
// on, PHP renders pages for the cache without the visitor's cookies (nginx.conf's
// $origin_cookie), so the cached page has an empty mini-cart and nginx fills it in per visitor
// from /var/www/microcache/cart-state.php (the stand-in store of carts this page shares).
//
// ?add-to-cart=ID and ?remove_item=all change the cart (both bypass the cache: snippets/
// microcache-wordpress.conf) and set WooCommerce's cookies, then redirect to the page.

require __DIR__ . '/../microcache/cart-state.php';

$products = [7 => ['Felt hat', 1990], 8 => ['Straw hat', 2450], 9 => ['Cap', 1200]];

$change = isset($_GET['add-to-cart']) || isset($_GET['remove_item']);
if ($change) {
    $customer = customer_id($_COOKIE) ?? bin2hex(random_bytes(16));
    $cart = cart_of($customer);
    $id = (int) ($_GET['add-to-cart'] ?? 0);
    if (isset($products[$id])) {
        $cart['items'][$id] = ($cart['items'][$id] ?? 0) + 1;
        $cart['total_cents'] += $products[$id][1];
    } else {
        $cart = ['items' => [], 'total_cents' => 0];
    }
    @mkdir(dirname(cart_file($customer)), 0700);
    file_put_contents(cart_file($customer), json_encode($cart), LOCK_EX);
    $options = ['path' => '/', 'secure' => true, 'httponly' => true, 'samesite' => 'Lax'];
    $expiry = time() + 2 * 86400;
    $session = "$customer||$expiry||" . ($expiry - 3600) . '||' . md5($customer . $expiry);
    setcookie(CART_COOKIE_PREFIX . md5('https://example.com'), $session, ['expires' => $expiry] + $options);
    $filled = $cart['items'] !== [];
    setcookie('woocommerce_items_in_cart', $filled ? '1' : '', ['expires' => $filled ? 0 : 1] + $options);
    setcookie('woocommerce_cart_hash', $filled ? md5(json_encode($cart)) : '', ['expires' => $filled ? 0 : 1] + $options);
    header('Location: /shop.php', true, 303);
    exit;
}

$render = sprintf('%s pid=%d', date('H:i:s') . substr(sprintf('%.6f', fmod(microtime(true), 1)), 1), getmypid());
$log = getenv('MICROCACHE_RENDER_LOG');
if ($log !== false && $log !== '') {
    file_put_contents($log, sprintf("%s %s %s %s\n", $render, $_SERVER['REQUEST_METHOD'] ?? '', $_SERVER['REQUEST_URI'] ?? '', $_SERVER['HTTP_HOST'] ?? ''), FILE_APPEND | LOCK_EX);
}
header('X-Demo-Rendered: ' . $render);
header('Content-Type: text/html; charset=utf-8');

$state = cart_state(cart_of(customer_id($_COOKIE)))['cart'];
$h = static fn (string $s): string => htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
?>
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>microcache staging: hydrated mini-cart</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
.site-header-cart { list-style: none; padding: .5rem 1rem; background: #f4f4f4; }
.products li { margin: .3rem 0; } code { font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<header>
<ul id="site-header-cart" class="site-header-cart menu">
<li><a class="cart-contents" href="/shop.php" title="View your shopping cart" data-count="<?= $h((string) $state['count']) ?>"><span class="woocommerce-Price-amount amount"><?= $h($state['total']) ?></span> <span class="count"><?= $h($state['count_text']) ?></span></a></li>
</ul>
</header>
<h1>Hats</h1>
<p>Rendered by PHP at <strong><?= $h($render) ?></strong>: while the page comes from the micro-cache
(<code>X-FastCGI-Cache: HIT</code>) this time does not change, but the cart above does.</p>
<ul class="products">
<?php foreach ($products as $id => [$name, $cents]): ?>
<li><?= $h($name) ?>, <?= $h(sprintf('%d,%02d €', intdiv($cents, 100), $cents % 100)) ?> — <a href="/shop.php?add-to-cart=<?= $id ?>">Add to cart</a></li>
<?php endforeach; ?>
</ul>
<p><a href="/shop.php?remove_item=all">Empty the cart</a></p>
<p>With items in the cart the page is still the cached one; nginx fills in the header cart from
<code>cart-state.php</code> before sending it (<code>Cache-Control: private, no-store</code>), and
sets <code>window.microcacheCart</code>: <code id="state">no state</code>.</p>
<script>
if (window.microcacheCart) document.getElementById('state').textContent = JSON.stringify(window.microcacheCart);
</script>
</body>
</html>
