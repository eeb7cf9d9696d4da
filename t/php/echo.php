<?php
// Origin fixture for the microcache Test::Nginx suites (served by a real
// PHP-FPM started by t/run-tests.sh). It answers text/plain with one
// "NAME=value" line per fact the tests assert on, always in this order:
//
//   QUERY_STRING=<$_SERVER['QUERY_STRING']>      raw bytes, as PHP received them
//   REQUEST_URI=<$_SERVER['REQUEST_URI']>        raw bytes
//   REQUEST_METHOD=<$_SERVER['REQUEST_METHOD']>
//   GET=<json_encode($_GET)>                     "[]" when there are no args
//   COOKIE=<json_encode($_COOKIE)>               "[]" when there are no cookies
//   RUN=<pid>-<hrtime>-<random>                  unique per PHP execution, so a
//                                                cached copy shows an old RUN
//
// FastCGI params that change its behaviour (set with fastcgi_param):
//   ORIGIN_LOG         path of a file to which one line, the REQUEST_URI, is
//                      appended per execution (counts origin hits)
//   ORIGIN_SET_COOKIE  when non-empty, the response carries Set-Cookie: origin=1
//   ORIGIN_HEADER      when non-empty, a response header line sent as it is
//                      ("Surrogate-Key: post-1 home"); ORIGIN_HEADER2 to ORIGIN_HEADER4
//                      more of them

$json_flags = JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE;

$uri = $_SERVER['REQUEST_URI'] ?? '';

// Log before producing any output: once nginx has sent the response, the
// line is guaranteed to be in the file.
$log = $_SERVER['ORIGIN_LOG'] ?? '';
if ($log !== '') {
    file_put_contents($log, $uri . "\n", FILE_APPEND | LOCK_EX);
}

if (($_SERVER['ORIGIN_SET_COOKIE'] ?? '') !== '') {
    header('Set-Cookie: origin=1');
}

foreach (['ORIGIN_HEADER', 'ORIGIN_HEADER2', 'ORIGIN_HEADER3', 'ORIGIN_HEADER4'] as $param) {
    if (($_SERVER[$param] ?? '') !== '') {
        header($_SERVER[$param], false);
    }
}

header('Content-Type: text/plain');

echo 'QUERY_STRING=', $_SERVER['QUERY_STRING'] ?? '', "\n";
echo 'REQUEST_URI=', $uri, "\n";
echo 'REQUEST_METHOD=', $_SERVER['REQUEST_METHOD'] ?? '', "\n";
echo 'GET=', json_encode($_GET, $json_flags), "\n";
echo 'COOKIE=', json_encode($_COOKIE, $json_flags), "\n";
echo 'RUN=', getmypid(), '-', hrtime(true), '-', bin2hex(random_bytes(4)), "\n";
