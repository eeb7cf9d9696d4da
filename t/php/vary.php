<?php
// Differential check of the module's reading of LiteSpeed's vary cookie against PHP's own
// ($_COOKIE), for t/090-litespeed.t. FastCGI params: MC_KEY ($microcache_key), MC_SKIP
// ($microcache_skip_reason), MC_EXACT (non-empty when the request has one Cookie header, so
// PHP sees every cookie the module saw). Answers "AGREE" or "DISAGREE: <why>".
//
// The module's claim: a key without a variant means PHP sees no (non-empty) vary cookie; a
// key with variant V means PHP sees V, percent-decoded, or (several Cookie headers, which
// some nginx versions pass as separate parameters) nothing; a request it cannot tell about
// skips the cache with reason "cookie".

header('Content-Type: text/plain');
$key = $_SERVER['MC_KEY'] ?? '';
$hash = strpos($key, '#');
$variant = $hash === false ? null : substr($key, $hash + 1);
$php = $_COOKIE['_lscache_vary'] ?? null;
$shown = var_export($php, true);

if (($_SERVER['MC_SKIP'] ?? '') === 'cookie') {
    echo "AGREE (skipped)\n";
} elseif ($variant === null) {
    echo empty($php) ? "AGREE\n" : "DISAGREE: no variant in the key, PHP sees $shown\n";
} elseif ($php === rawurldecode($variant)) {
    echo "AGREE\n";
} elseif ($php === null && ($_SERVER['MC_EXACT'] ?? '') === '') {
    echo "AGREE (PHP sees another Cookie header)\n";
} else {
    echo "DISAGREE: variant ", var_export($variant, true), ", PHP sees $shown\n";
}
