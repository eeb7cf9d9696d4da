<?php
// State endpoint for the hydration suite (t/080-hydrate.t): the visitor's cart as JSON,
// {"cart":{"count":N,"total":"T"}}, from the cookie `cart` (a count, default 0).
//
// Query arguments that change the answer:
//   status=N    that status instead of 200
//   sleep=MS    wait MS milliseconds first (at most 3000)
//   stall=1     send the header and half the JSON, then wait 2 s (a response that breaks off
//               when the location's read timeout is shorter)
//   body=K      another body: "invalid" (not JSON), "xss" (classic payloads in the fields),
//               "nototal" (the cart without its total), "pad" with size=N (a valid state of
//               about N bytes); also read from the cookie `body`
// FastCGI param ORIGIN_LOG: a file that gets one line ("state URI?QUERY") per execution (the
// subrequest's own URI: REQUEST_URI is the main request's).

$log = $_SERVER['ORIGIN_LOG'] ?? '';
if ($log !== '') {
    $query = ($_SERVER['QUERY_STRING'] ?? '') === '' ? '' : '?' . $_SERVER['QUERY_STRING'];
    file_put_contents($log, 'state ' . ($_SERVER['DOCUMENT_URI'] ?? '') . $query . "\n", FILE_APPEND | LOCK_EX);
}
usleep(min((int) ($_GET['sleep'] ?? 0), 3000) * 1000);
if (isset($_GET['status'])) {
    http_response_code((int) $_GET['status']);
}
header('Content-Type: application/json');

$count = isset($_COOKIE['cart']) ? (int) $_COOKIE['cart'] : 0;
$state = ['cart' => ['count' => $count, 'total' => sprintf('%d,90 €', 19 * $count)]];
switch ($_GET['body'] ?? $_COOKIE['body'] ?? '') {
    case 'invalid':
        echo '{"cart": {"count": 3,';
        return;
    case 'xss':
        $state = ['cart' => [
            'count' => '</script><img src=x onerror=alert(1)>',
            'total' => "\"><svg onload=alert(1)> \u{2028}\u{2029} &amp; '",
        ]];
        break;
    case 'nototal':
        unset($state['cart']['total']);
        break;
    case 'pad':
        $state['pad'] = str_repeat('x', max(0, (int) ($_GET['size'] ?? 0) - 60));
        break;
}
$json = json_encode($state, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_LINE_TERMINATORS);
if (($_GET['stall'] ?? '') !== '') {
    echo substr($json, 0, 10);
    flush();
    sleep(2);
}
echo $json;
