<?php
// microcache benchmark origin: a WordPress/WooCommerce-style catalogue page of ~20 KB,
// rendered from the real query parameters (p, s, color) with a few milliseconds of honest
// PHP work (building the product list, escaping, formatting), no sleep.
//
// The page depends only on those parameters, never on tracking ids or REQUEST_URI, so the
// `limit` variant can serve the very same bytes as a static file.
//
// Each execution appends one line to $MICROCACHE_RENDER_LOG (set in the bench pool): the
// benchmark counts origin executions by counting lines.
//
// ?repeat=N repeats the product list N times (bench/hydrate.sh: a page of about 10 MB).
//
// Two special paths, used by the stampede and purge checks only:
//   /slow/...  the same page after a 300 ms pause (so that 200 concurrent requests surely
//              arrive while the first one is still rendering)
//   /fill/...  a tiny page, to fill the cache with thousands of entries quickly

$path = (string) parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH);

$log = getenv('MICROCACHE_RENDER_LOG');
if ($log !== false && $log !== '') {
    file_put_contents($log, $path . "\n", FILE_APPEND | LOCK_EX);
}

header('Content-Type: text/html; charset=utf-8');

if (strncmp($path, '/fill/', 6) === 0) {
    echo "<!doctype html><title>fill</title><p>", htmlspecialchars((string) ($_GET['n'] ?? ''), ENT_QUOTES), "</p>\n";
    return;
}
if (strncmp($path, '/slow/', 6) === 0) {
    usleep(300000);
}

$h = static fn (string $s): string => htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
$page = max(1, (int) ($_GET['p'] ?? 1));
$search = (string) ($_GET['s'] ?? '');
$color = (string) ($_GET['color'] ?? '');
$repeat = min(max(1, (int) ($_GET['repeat'] ?? 1)), 1000);

// A deterministic "database": the catalogue is generated from a seed, then filtered and sorted,
// as a theme would after WP_Query.
$words = ['classic', 'trail', 'running', 'leather', 'canvas', 'suede', 'vintage', 'urban',
    'alpine', 'coastal', 'merino', 'organic', 'studio', 'weekend', 'premium', 'everyday'];
$colors = ['red', 'blue', 'black', 'white', 'green', 'grey', 'navy', 'olive'];
$kinds = ['shoes', 'boots', 'sneakers', 'sandals', 'loafers', 'slippers'];
mt_srand(crc32("catalogue|$search|$color"));
$products = [];
for ($i = 0; $i < 1300; $i++) {
    $kind = $kinds[mt_rand(0, count($kinds) - 1)];
    $c = $colors[mt_rand(0, count($colors) - 1)];
    $name = ucfirst($words[mt_rand(0, 15)]) . ' ' . $words[mt_rand(0, 15)] . ' ' . $kind;
    $products[] = [
        'id' => 1000 + $i,
        'name' => $name,
        'kind' => $kind,
        'color' => $c,
        'price' => mt_rand(1999, 24999) / 100,
        'rating' => mt_rand(20, 50) / 10,
        'reviews' => mt_rand(0, 900),
        'sku' => strtoupper(substr(md5($name . $i), 0, 10)),
        'excerpt' => implode(' ', array_map(static fn () => $words[mt_rand(0, 15)], range(1, 14))),
    ];
}
$matching = array_values(array_filter($products, static fn (array $p): bool =>
    ($search === '' || str_contains($p['name'] . ' ' . $p['kind'], rtrim($search, 's')))
    && ($color === '' || $p['color'] === $color)));
if (count($matching) < 13) {
    $matching = $products;
}
usort($matching, static fn (array $a, array $b): int => [$b['rating'], $a['price']] <=> [$a['rating'], $b['price']]);
$perPage = 13;
$shown = array_slice(array_merge($matching, $matching), (($page - 1) * $perPage) % count($matching), $perPage);
// Related searches: some string work a real theme does (slugs, counts per facet).
$facets = [];
foreach ($products as $p) {
    $facets[$p['color']][$p['kind']] = ($facets[$p['color']][$p['kind']] ?? 0) + 1;
}
ksort($facets);

$canonical = '/shop/?' . http_build_query(array_filter(['p' => $page, 's' => $search, 'color' => $color]));
?>
<!doctype html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><?= $h(ucfirst($search ?: 'Shop')) ?><?= $color !== '' ? ' in ' . $h($color) : '' ?> &#8211; Page <?= $page ?> &#8211; Example Store</title>
<link rel="canonical" href="<?= $h($canonical) ?>">
<link rel="stylesheet" id="theme-css" href="/wp-content/themes/storefront/style.css?ver=4.5.2" media="all">
<link rel="stylesheet" id="wc-blocks-css" href="/wp-content/plugins/woocommerce/assets/client/blocks/wc-blocks.css?ver=11.8.0" media="all">
<script src="/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
</head>
<body class="archive post-type-archive post-type-archive-product woocommerce woocommerce-page">
<header id="masthead" class="site-header" role="banner">
<div class="col-full"><a class="skip-link" href="#content">Skip to content</a>
<div class="site-branding"><a href="/" class="custom-logo-link" rel="home">Example Store</a></div>
<nav id="site-navigation" class="main-navigation" aria-label="Primary Navigation"><ul class="menu">
<?php foreach ($kinds as $k): ?>
<li class="menu-item menu-item-type-taxonomy"><a href="/product-category/<?= $h($k) ?>/"><?= $h(ucfirst($k)) ?></a></li>
<?php endforeach; ?>
</ul></nav>
<ul id="site-header-cart" class="site-header-cart menu"><li><a class="cart-contents" href="/cart/" title="View your shopping cart"><span class="woocommerce-Price-amount amount"><bdi>0,00&nbsp;<span class="woocommerce-Price-currencySymbol">&euro;</span></bdi></span> <span class="count">0 items</span></a></li></ul>
</div>
</header>
<div id="content" class="site-content"><div class="col-full">
<main id="main" class="site-main" role="main">
<header class="woocommerce-products-header"><h1 class="woocommerce-products-header__title page-title"><?= $h(ucfirst($search ?: 'Shop')) ?></h1></header>
<p class="woocommerce-result-count">Showing <?= count($shown) ?> of <?= count($matching) ?> results</p>
<?php for ($r = 0; $r < $repeat; $r++): ?>
<ul class="products columns-4">
<?php foreach ($shown as $p): ?>
<li class="product type-product post-<?= $p['id'] ?> status-publish instock product_cat-<?= $h($p['kind']) ?> has-post-thumbnail shipping-taxable purchasable product-type-simple">
<a href="/product/<?= $h(strtolower(str_replace(' ', '-', $p['name']))) ?>-<?= $p['id'] ?>/" class="woocommerce-LoopProduct-link woocommerce-loop-product__link"><img width="324" height="324" src="/wp-content/uploads/2024/05/<?= $h($p['sku']) ?>-324x324.jpg" class="attachment-woocommerce_thumbnail size-woocommerce_thumbnail" alt="<?= $h($p['name']) ?>" decoding="async" loading="lazy">
<h2 class="woocommerce-loop-product__title"><?= $h($p['name']) ?></h2>
<div class="star-rating" role="img" aria-label="Rated <?= number_format($p['rating'], 2) ?> out of 5"><span style="width:<?= (int) ($p['rating'] * 20) ?>%">Rated <strong class="rating"><?= number_format($p['rating'], 2) ?></strong> out of 5 based on <span class="rating"><?= $p['reviews'] ?></span> customer ratings</span></div>
<span class="price"><span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-Price-currencySymbol">&euro;</span><?= number_format($p['price'], 2, ',', '.') ?></bdi></span></span>
<p class="excerpt"><?= $h($p['excerpt']) ?></p></a>
<a href="?add-to-cart=<?= $p['id'] ?>" data-quantity="1" class="button product_type_simple add_to_cart_button ajax_add_to_cart" data-product_id="<?= $p['id'] ?>" data-product_sku="<?= $h($p['sku']) ?>" rel="nofollow">Add to cart</a>
</li>
<?php endforeach; ?>
</ul>
<?php endfor; ?>
<nav class="woocommerce-pagination"><ul class="page-numbers">
<?php for ($i = 1; $i <= 5; $i++): ?>
<li><a class="page-numbers<?= $i === $page ? ' current' : '' ?>" href="<?= $h('/shop/?' . http_build_query(array_filter(['p' => $i, 's' => $search, 'color' => $color]))) ?>"><?= $i ?></a></li>
<?php endfor; ?>
</ul></nav>
</main>
<aside id="secondary" class="widget-area" role="complementary"><section class="widget woocommerce widget_layered_nav"><h2 class="widget-title">Filter by color</h2><ul>
<?php foreach ($facets as $c => $byKind): ?>
<li class="wc-layered-nav-term"><a rel="nofollow" href="<?= $h('/shop/?' . http_build_query(['s' => $search, 'color' => $c])) ?>"><?= $h(ucfirst($c)) ?></a> <span class="count">(<?= array_sum($byKind) ?>)</span></li>
<?php endforeach; ?>
</ul></section></aside>
</div></div>
<footer id="colophon" class="site-footer" role="contentinfo"><div class="col-full"><div class="site-info">&copy; Example Store <?= 2024 ?></div></div></footer>
</body>
</html>
