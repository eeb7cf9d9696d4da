<?php
// microcache staging demo: answers with the status and Cache-Control asked for
// (/headers.php?status=404&cache_control=no-cache), to show which answers the
// micro-cache stores: a 404 even when marked no-cache (WordPress marks every 404
// so), any other answer only if PHP did not mark it no-cache or max-age=0; none
// marked private or no-store. With ?surrogate_key=a+b it tags the answer, as
// conf/wordpress/microcache-tags.php tags WordPress's pages, for purges by tag.

$status = (int) ($_GET['status'] ?? 200);
http_response_code($status >= 200 && $status < 600 ? $status : 200);
if (isset($_GET['cache_control'])) {
    header('Cache-Control: ' . str_replace(["\r", "\n"], '', (string) $_GET['cache_control']));
}
if (isset($_GET['surrogate_key'])) {
    header('Surrogate-Key: ' . str_replace(["\r", "\n"], '', (string) $_GET['surrogate_key']));
}
header('Content-Type: text/plain; charset=utf-8');
echo 'rendered ', microtime(true), "\n";
