<?php
// The PHP side of the differential test of microcache_core::php (examples/php_names).
//
// Under PHP-FPM it answers two lines: the top-level keys of $_GET, then those of $_COOKIE.
// Under the CLI it reads hex-encoded query strings, one a line, and answers each with the keys
// parse_str() gives, a "|" and the MD5 of the whole serialized array, its keys sorted (sorting
// the query may reorder the keys, never change a value).
// Keys are hex-encoded and separated by spaces.

function keys(array $vars): string
{
    $hex = [];
    foreach ($vars as $key => $_) {
        $hex[] = bin2hex((string) $key);
    }
    return implode(' ', $hex);
}

if (PHP_SAPI === 'cli') {
    while (($line = fgets(STDIN)) !== false) {
        parse_str(hex2bin(rtrim($line, "\n")), $vars);
        $keys = keys($vars);
        ksort($vars, SORT_STRING);
        echo $keys, '|', md5(serialize($vars)), "\n";
    }
} else {
    header('Content-Type: text/plain');
    echo keys($_GET), "\n", keys($_COOKIE), "\n";
}
