<?php
// Sets a cookie on every response, like a session start or a consent banner
// would: nginx must not store such a response (fastcgi_no_cache
// $upstream_http_set_cookie), so every request reaches PHP.
$render = sprintf('%.6f pid=%d', microtime(true), getmypid());
$log = getenv('MICROCACHE_RENDER_LOG');
if ($log !== false && $log !== '') {
    file_put_contents($log, sprintf("%s %s %s %s\n", $render, $_SERVER['REQUEST_METHOD'] ?? '', $_SERVER['REQUEST_URI'] ?? '', $_SERVER['HTTP_HOST'] ?? ''), FILE_APPEND | LOCK_EX);
}
setcookie('demo_visitor', bin2hex(random_bytes(8)), ['path' => '/', 'secure' => true, 'httponly' => true, 'samesite' => 'Lax']);
header('X-Demo-Rendered: ' . $render);
header('Content-Type: text/plain; charset=utf-8');
echo "This response sets a cookie, so it is never stored in the micro-cache.\nRendered: $render\n";
