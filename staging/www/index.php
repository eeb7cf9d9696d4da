<?php
// microcache staging demo: the WordPress-style front controller every pretty
// URL reaches through `try_files $uri $uri/ /index.php?$args`. It shows what
// PHP received, and when it was rendered: a page served from the micro-cache
// (X-FastCGI-Cache: HIT) keeps the render time and number of its MISS.
//
// Each execution appends one line to $MICROCACHE_RENDER_LOG (set by the
// staging pool) so scripts can count how often PHP actually ran.

$server = static fn (string $k): string => (string) ($_SERVER[$k] ?? '');
$received = [
    'REQUEST_METHOD' => $server('REQUEST_METHOD'),
    'HTTP_HOST'      => $server('HTTP_HOST'),
    'REQUEST_URI'    => $server('REQUEST_URI'),
    'QUERY_STRING'   => $server('QUERY_STRING'),
    'SCRIPT_NAME'    => $server('SCRIPT_NAME'),
    'HTTPS'          => $server('HTTPS'),
    'SERVER_PROTOCOL' => $server('SERVER_PROTOCOL'),
];

// The PHP-FPM settings in force (deploy/php-fpm/): opcache on, no stat()s.
$opcache = sprintf('enabled=%s validate_timestamps=%s', (function_exists('opcache_get_status') && @opcache_get_status(false)) ? '1' : '0', ini_get('opcache.validate_timestamps'));

$render = sprintf('%s pid=%d', date('Y-m-d\TH:i:s') . substr(sprintf('%.6f', fmod(microtime(true), 1)), 1), getmypid());
$log = getenv('MICROCACHE_RENDER_LOG');
if ($log !== false && $log !== '') {
    $line = sprintf("%s %s %s %s\n", $render, $received['REQUEST_METHOD'], $received['REQUEST_URI'], $received['HTTP_HOST']);
    file_put_contents($log, $line, FILE_APPEND | LOCK_EX);
}

// What PHP received, also as headers (stored in the cache with the page).
header('X-Demo-Rendered: ' . $render);
header('X-Demo-Request-Uri: ' . $received['REQUEST_URI']);
header('X-Demo-Query-String: ' . $received['QUERY_STRING']);
header('Content-Type: text/html; charset=utf-8');

if (isset($_GET['format']) && $_GET['format'] === 'json') {
    header('Content-Type: application/json');
    echo json_encode(['rendered' => $render, 'received' => $received, 'get' => $_GET, 'opcache' => $opcache], JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
    exit;
}

$h = static fn (string $s): string => htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
$examples = [
    '/?p=1&utm_source=newsletter&utm_medium=email' => 'tracking ids are stripped: same entry as /?p=1',
    '/?p=1&gclid=abc123'                             => 'also /?p=1',
    '/?p=1'                                          => 'the page itself',
    '/hello-world/?fbclid=xyz'                       => 'a pretty permalink, through try_files',
    '/cart/'                                         => 'WooCommerce cart: bypassed (path rule)',
    '/?add-to-cart=42'                               => 'bypassed (argument rule)',
    '/cookie.php'                                    => 'sets a cookie: never stored',
    '/shop.php'                                      => 'a shop page: add to cart, and the cached page shows your cart (hydration)',
];
?>
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>microcache staging</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2rem .6rem; text-align: left; vertical-align: top; }
code, td { font-family: ui-monospace, monospace; font-size: 14px; }
</style>
</head>
<body>
<h1>microcache staging</h1>
<p>Rendered by PHP at <strong><?= $h($render) ?></strong>. Reload: while the page comes from the
micro-cache (response header <code>X-FastCGI-Cache: HIT</code>) this time does not change.</p>

<h2>What PHP received</h2>
<table>
<?php foreach ($received as $k => $v): ?>
<tr><th><?= $h($k) ?></th><td><?= $h($v) ?></td></tr>
<?php endforeach; ?>
<tr><th>$_GET</th><td><?= $h(json_encode($_GET, JSON_UNESCAPED_SLASHES)) ?></td></tr>
<tr><th>opcache</th><td><?= $h($opcache) ?></td></tr>
</table>

<h2>Try</h2>
<ul>
<?php foreach ($examples as $url => $what): ?>
<li><a href="<?= $h($url) ?>"><?= $h($url) ?></a> — <?= $h($what) ?></li>
<?php endforeach; ?>
</ul>
<p>Logged-in users (cookie <code>wordpress_logged_in_*</code>), carts (<code>woocommerce_items_in_cart</code>)
and POST requests bypass the cache. Counters: <code>/microcache-status</code> (from this machine only).</p>
</body>
</html>
