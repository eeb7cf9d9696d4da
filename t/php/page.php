<?php
// Origin page for the hydration suite (t/080-hydrate.t): a small shop page with a mini-cart.
// Like WooCommerce, it renders the mini-cart from the visitor's cookie `cart` (a count) when
// there is one, so a page rendered for a visitor differs from the generic one.
//
// Query arguments:
//   chunks=N,M,...   flush the body at these byte offsets, 50 ms apart (tags split across
//                    chunks reach nginx as separate reads with fastcgi_buffering off)
//   pad=N            N filler list items after the mini-cart (page size)
//   type=T           Content-Type (default "text/html; charset=utf-8")
//   status=N         the status (304 and 206 answer without the page)
//   validators=1     ETag and Last-Modified
//   cc=V             Cache-Control: V
//   gzip=1           the page gzip-compressed, with Content-Encoding: gzip
//   mark=S           S in the page's <title>, to tell cache entries apart
//   bigattr=N        a <div> with an attribute of N bytes right after <body>
// FastCGI param ORIGIN_LOG: a file that gets one line ("page URI") per execution.

$log = $_SERVER['ORIGIN_LOG'] ?? '';
if ($log !== '') {
    file_put_contents($log, 'page ' . ($_SERVER['REQUEST_URI'] ?? '') . "\n", FILE_APPEND | LOCK_EX);
}

$status = (int) ($_GET['status'] ?? 200);
if ($status !== 200) {
    http_response_code($status);
}
if (($_GET['validators'] ?? '') !== '') {
    header('ETag: "skeleton-1"');
    header('Last-Modified: Mon, 02 Jan 2006 15:04:05 GMT');
}
if (($_GET['cc'] ?? '') !== '') {
    header('Cache-Control: ' . $_GET['cc']);
}
header('Content-Type: ' . ($_GET['type'] ?? 'text/html; charset=utf-8'));
if ($status === 304) {
    return;
}
if ($status === 206) {
    header('Content-Range: bytes 0-9/100');
    header('Content-Length: 10');
    echo '<html><he>';
    return;
}

$count = isset($_COOKIE['cart']) ? (int) $_COOKIE['cart'] : 0;
$mark = htmlspecialchars((string) ($_GET['mark'] ?? ''), ENT_QUOTES);
$page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Boutique é $mark</title></head>\n"
    . "<body>" . (isset($_GET['bigattr']) ? '<div data-x="' . str_repeat('x', (int) $_GET['bigattr']) . '"></div>' : '')
    . "<header><a class=\"cart\" href=\"/cart/\" data-count=\"$count\">Panier — "
    . "<span class=\"count\">$count</span> article(s)</a></header>\n<ul>\n";
for ($i = 0, $n = (int) ($_GET['pad'] ?? 0); $i < $n; $i++) {
    $page .= "<li class=\"product\">Chapeau n°$i — feutre, 19,90 €</li>\n";
}
$page .= "</ul></body></html>\n";

if (($_GET['gzip'] ?? '') !== '') {
    header('Content-Encoding: gzip');
    $page = gzencode($page);
}
header('Content-Length: ' . strlen($page));
$at = 0;
foreach (array_filter(explode(',', (string) ($_GET['chunks'] ?? ''))) as $cut) {
    $cut = (int) $cut;
    echo substr($page, $at, $cut - $at);
    flush();
    usleep(50000);
    $at = $cut;
}
echo substr($page, $at);
