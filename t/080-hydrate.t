# Edge state hydration (README: "microcache_hydrate"): a page cached once for everyone, rewritten
# per visitor with a JSON state from a subrequest, through a real PHP-FPM origin (t/php/page.php
# renders the page, t/php/state.php the state; both read the visitor's cookie "cart").
#
# Blocks write their page location with the lines "hydrate_page_origin;" and "hydrate_rules;",
# replaced here by the origin and cache directives every page location shares and by the
# mini-cart rules. The state is at /state (never cached) and /state-cached (cached per cookie).
use Test::Nginx::Socket 'no_plan';

# The page t/php/page.php renders: a mini-cart showing `count` (0 unless PHP saw the visitor's
# cookie), `pad` products, `mark` in the title.
sub skeleton {
    my %o = (pad => 0, count => 0, mark => '', @_);
    my $products = join '', map {
        "<li class=\"product\">Chapeau n\xc2\xb0$_ \xe2\x80\x94 feutre, 19,90 \xe2\x82\xac</li>\n"
    } 0 .. $o{pad} - 1;
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Boutique \xc3\xa9 $o{mark}</title></head>\n"
        . "<body><header><a class=\"cart\" href=\"/cart/\" data-count=\"$o{count}\">Panier \xe2\x80\x94 "
        . "<span class=\"count\">$o{count}</span> article(s)</a></header>\n<ul>\n"
        . $products . "</ul></body></html>\n";
}

# The generic page hydrated by the rules of "hydrate_rules;" with the state of a visitor whose
# cart holds `count` items (t/php/state.php).
# `nototal`: the state has no total, so the title is left alone.
sub hydrated {
    my ($count, %o) = @_;
    my $total = 19 * $count . ',90';
    my $page = skeleton(%o);
    my $json = $o{nototal} ? qq{{"cart":{"count":$count}}} : qq{{"cart":{"count":$count,"total":"$total \\u20ac"}}};
    my $title = $o{nototal} ? '' : qq{ title="$total \xe2\x82\xac"};
    $page =~ s{</head>}{<script>window.cart=$json;</script></head>};
    $page =~ s{data-count="0">}{data-count="$count"$title>};
    $page =~ s{<span class="count">0</span>}{<span class="count">$count</span>};
    return $page;
}

repeat_each(1);   # every block starts from an empty cache
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    fastcgi_cache_path hy_cache levels=1:2 keys_zone=hy:1m;
    # Visitors with a cart get hydrated pages; others the cached page as it is.
    map $cookie_cart $state_uri { "" ""; default /state; }
    map $cookie_cart $failing_state_uri { "" ""; default /state?status=503; }
    # A page rendered for a request in hydration's scope goes into the cache for everyone: PHP
    # does not see the cookies, unless the request bypasses the cache (fallback origin).
    map "$microcache_hydrate_status $microcache_skip" $page_cookie {
        "~^\S+ 0$"  "";
        default     $http_cookie;
    }
_EOC_
    my $page_origin = <<'_EOC_';
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/page.php;
        fastcgi_param HTTP_COOKIE $page_cookie;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache hy;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status always;
        add_header X-Hydrate "$microcache_hydrate_status;$microcache_skip_reason" always;
_EOC_
    my $rules = <<'_EOC_';
        microcache_hydrate_script cart;
        microcache_hydrate_text .count cart.count;
        microcache_hydrate_attr a.cart data-count "{cart.count}";
        microcache_hydrate_attr a.cart title "{cart.total}";
_EOC_
    my $config = $block->config // '';
    $config =~ s/^\s*hydrate_page_origin;\n/$page_origin/mg;
    $config =~ s/^\s*hydrate_rules;\n/$rules/mg;
    $block->set_value('config', <<'_EOC_' . $config);
    microcache on;
    location = /state {
        internal;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/state.php;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_read_timeout 1s;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
    location = /state-cached {
        internal;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/state.php;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache hy;
        fastcgi_cache_key "state $args $cookie_cart";
        fastcgi_cache_valid 200 1m;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a visitor with a cart gets the cached page with the mini-cart and a script; the page in the cache stays generic
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/a", "GET /page/a", "GET /page/a", "GET /page/a", "GET /origin.log"]
--- more_headers eval
["Cookie: cart=3", "Cookie: cart=2", "Cookie: cart=5", "", ""]
--- response_headers eval
["X-Cache: MISS\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length",
 "X-Cache: HIT\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length",
 "X-Cache: HIT\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length",
 "X-Cache: HIT\nX-Hydrate: ;\n!Cache-Control\nContent-Length: 233",
 ""]
--- response_body eval
[::hydrated(3), ::hydrated(2), ::hydrated(5), ::skeleton(), "state /state\npage /page/a\nstate /state\nstate /state\n"]
--- no_error_log
[error]
[warn]
[alert]



=== TEST 2: tags, attribute values and UTF-8 characters split across the origin's chunks
--- config
    location /page/ {
        hydrate_page_origin;
        fastcgi_buffering off;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
# Inside "é", "</head>", href="/cart/", data-count="0", "—" (twice), class="count", "</span>".
["GET /page/s?chunks=67,80,123,141,152,153,165,178", "GET /page/s?chunks=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180"]
--- more_headers
Cookie: cart=4
--- response_headers eval
["X-Hydrate: ok;\nCache-Control: private, no-store\nTransfer-Encoding: chunked",
 "X-Hydrate: ok;\nCache-Control: private, no-store\nTransfer-Encoding: chunked"]
--- response_body eval
[::hydrated(4), ::hydrated(4)]
--- timeout: 15
--- no_error_log
[error]
[warn]



=== TEST 3: a page larger than the origin's buffers (part of it in a temporary file), then from the cache
--- config
    location /page/ {
        hydrate_page_origin;
        fastcgi_buffers 4 4k;
        fastcgi_busy_buffers_size 8k;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/big?pad=20000", "GET /page/big?pad=20000", "GET /page/big?pad=20000"]
--- more_headers eval
["Cookie: cart=6", "Cookie: cart=7", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body eval
[::hydrated(6, pad => 20000), ::hydrated(7, pad => 20000), ::skeleton(pad => 20000)]
--- no_error_log
[error]
[warn]



=== TEST 4: a client slower than the origin: output waits for it, input is held back, nothing is lost
--- config
    location /page/ {
        hydrate_page_origin;
        limit_rate 2m;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/slow?pad=20000", "GET /page/slow?pad=20000"]
--- more_headers
Cookie: cart=8
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT"]
--- response_body eval
[::hydrated(8, pad => 20000), ::hydrated(8, pad => 20000)]
--- timeout: 10
--- no_error_log
[error]
[warn]



=== TEST 5: replayed from a plan: each visitor's values, and a state that fills fewer rules
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state$is_args$args;
        hydrate_rules;
    }
--- request eval
["GET /page/p?pad=3", "GET /page/p?pad=3", "GET /page/p?pad=3", "GET /page/p?pad=3",
 "GET /page/p?pad=3", "GET /page/p?pad=3"]
--- more_headers eval
["Cookie: cart=1", "Cookie: cart=2", "Cookie: cart=3", "Cookie: cart=12; body=nototal",
 "Cookie: cart=13; body=nototal", "Cookie: cart=14"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body eval
[::hydrated(1, pad => 3), ::hydrated(2, pad => 3), ::hydrated(3, pad => 3),
 ::hydrated(12, pad => 3, nototal => 1), ::hydrated(13, pad => 3, nototal => 1),
 ::hydrated(14, pad => 3)]
--- no_error_log
[error]
[warn]



=== TEST 6: responses that are not HTML, or are encoded, pass byte for byte with their headers
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/j?type=application/json", "GET /page/j?type=application/json",
 "GET /page/t?type=text/plain;%20charset=utf-8", "GET /page/x?type=application/xhtml%2Bxml",
 "GET /page/g?gzip=1"]
--- more_headers
Cookie: cart=3
--- response_headers eval
["X-Cache: MISS\nX-Hydrate: ok;\nContent-Type: application/json\n!Cache-Control",
 "X-Cache: HIT\nX-Hydrate: ok;\nContent-Type: application/json\n!Cache-Control",
 "X-Hydrate: ok;\nContent-Type: text/plain; charset=utf-8\n!Cache-Control",
 "X-Hydrate: ok;\n!Cache-Control",
 "X-Hydrate: ok;\nContent-Encoding: gzip\n!Cache-Control"]
--- response_body_like eval
[qr/\A\Q${\ ::skeleton()}\E\z/, qr/\A\Q${\ ::skeleton()}\E\z/, qr/\A\Q${\ ::skeleton()}\E\z/,
 qr/\A\Q${\ ::skeleton()}\E\z/, qr/\A\x1f\x8b/]
--- no_error_log
[error]
[warn]



=== TEST 7: HEAD gets the header a GET gets, without a body
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["HEAD /page/h", "GET /page/h", "HEAD /page/h"]
--- more_headers
Cookie: cart=3
--- response_headers eval
["X-Cache: MISS\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length",
 "X-Cache: MISS\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length",
 "X-Cache: HIT\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length"]
--- response_body eval
["", ::hydrated(3), ""]
--- no_error_log
[error]
[warn]



=== TEST 8: 304 and 206 answers of the origin pass untouched
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/n?status=304", "GET /page/r?status=206"]
--- more_headers
Cookie: cart=3
--- error_code eval
[304, 206]
--- response_headers eval
["X-Hydrate: ok;\n!Cache-Control", "X-Hydrate: ok;\nContent-Range: bytes 0-9/100\n!Cache-Control"]
--- response_body eval
["", "<html><he>"]
--- no_error_log
[error]
[warn]



=== TEST 9: ranges and validators of the cached page never answer for a hydrated one
--- config
    location /page/ {
        hydrate_page_origin;
        fastcgi_force_ranges on;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/v?validators=1", "GET /page/v?validators=1", "GET /page/v?validators=1",
 "GET /page/v?validators=1", "GET /page/v?validators=1", "GET /page/v?validators=1"]
--- more_headers eval
["",
 "Cookie: cart=2\nRange: bytes=0-9",
 "Cookie: cart=2\nIf-None-Match: \"skeleton-1\"",
 "Cookie: cart=2\nIf-Modified-Since: Mon, 02 Jan 2006 15:04:05 GMT",
 "If-None-Match: \"skeleton-1\"",
 "Range: bytes=0-9"]
--- error_code eval
[200, 200, 200, 200, 304, 206]
--- response_headers eval
["X-Cache: MISS\nETag: \"skeleton-1\"",
 "X-Cache: HIT\n!ETag\n!Last-Modified\n!Accept-Ranges\n!Content-Range\nCache-Control: private, no-store",
 "X-Cache: HIT\n!ETag\n!Last-Modified",
 "X-Cache: HIT\n!ETag\n!Last-Modified",
 "X-Cache: HIT\nETag: \"skeleton-1\"",
 "X-Cache: HIT\nContent-Range: bytes 0-9/233"]
--- response_body eval
[::skeleton(), ::hydrated(2), ::hydrated(2), ::hydrated(2), "", "<!DOCTYPE "]
--- no_error_log
[error]
[warn]



=== TEST 10: the state from its own micro-cache, per cart
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state-cached;
        hydrate_rules;
    }
--- request eval
["GET /page/c", "GET /page/c", "GET /page/c", "GET /page/c", "GET /origin.log"]
--- more_headers eval
["Cookie: cart=3", "Cookie: cart=3", "Cookie: cart=3", "Cookie: cart=4", ""]
--- response_body eval
[::hydrated(3), ::hydrated(3), ::hydrated(3), ::hydrated(4),
 "state /state-cached\npage /page/c\nstate /state-cached\n"]
--- no_error_log
[error]
[warn]



=== TEST 11: fallback skeleton: a state answering 500 leaves the page as cached, and says why
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state?status=500;
        hydrate_rules;
    }
--- request
GET /page/f
--- more_headers
Cookie: cart=3
--- response_headers
X-Cache: MISS
X-Hydrate: failed:status;
!Cache-Control
--- response_body eval
::skeleton()
--- error_log
hydration state "/state?status=500" unavailable (failed:status: status 500), serving the cached page unchanged
--- no_error_log
[error]



=== TEST 12: fallback skeleton: a state location that times out
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state?sleep=1500;
        hydrate_rules;
    }
--- request
GET /page/f
--- more_headers
Cookie: cart=3
--- response_headers
X-Hydrate: failed:timeout;
--- response_body eval
::skeleton()
--- error_log
hydration state "/state?sleep=1500" unavailable (failed:timeout: the state location timed out (504))
--- timeout: 5



=== TEST 13: fallback skeleton: a state that breaks off after its header
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state?stall=1;
        hydrate_rules;
    }
--- request
GET /page/f
--- more_headers
Cookie: cart=3
--- response_headers
X-Hydrate: failed:incomplete;
--- response_body eval
::skeleton()
--- error_log
hydration state "/state?stall=1" unavailable (failed:incomplete: the response broke off)
--- timeout: 5



=== TEST 14: fallback skeleton: a state that is not JSON
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state?body=invalid;
        hydrate_rules;
    }
--- request
GET /page/f
--- more_headers
Cookie: cart=3
--- response_headers
X-Hydrate: failed:invalid_json;
--- response_body eval
::skeleton()
--- error_log
hydration state "/state?body=invalid" unavailable (failed:invalid_json: state is not valid JSON: EOF while parsing
--- no_error_log
[error]



=== TEST 15: fallback skeleton: a state larger than microcache_hydrate_max_size, from the origin and from the cache
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state-cached?body=pad&size=3000;
        microcache_hydrate_max_size 2k;
        hydrate_rules;
    }
--- request eval
["GET /page/f", "GET /page/f"]
--- more_headers
Cookie: cart=3
--- response_headers eval
["X-Hydrate: failed:too_large;", "X-Hydrate: failed:too_large;"]
--- response_body eval
[::skeleton(), ::skeleton()]
--- grep_error_log eval
qr/unavailable \(failed:too_large: larger than 2048 bytes\)/
--- grep_error_log_out
unavailable (failed:too_large: larger than 2048 bytes)



=== TEST 16: the same state fits a larger microcache_hydrate_max_size
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate /state-cached?body=pad&size=3000;
        microcache_hydrate_max_size 4k;
        hydrate_rules;
    }
--- request
GET /page/f
--- more_headers
Cookie: cart=3
--- response_headers
X-Hydrate: ok;
--- response_body_like: <span class="count">3</span>
--- no_error_log
[warn]



=== TEST 17: fallback origin: the visitor's own page from the origin, the cache bypassed
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $failing_state_uri;
        microcache_hydrate_fallback origin;
        hydrate_rules;
    }
--- request
GET /page/o
--- more_headers
Cookie: cart=3
--- response_headers
X-Cache: BYPASS
X-Hydrate: failed:status;hydrate
!Cache-Control
--- response_body eval
::skeleton(count => 3)
--- error_log
hydration state "/state?status=503" unavailable (failed:status: status 503), serving the origin's page



=== TEST 18: fallback origin: the visitor's page is not stored; the status counts it
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $failing_state_uri;
        microcache_hydrate_fallback origin;
        hydrate_rules;
    }
    location = /status {
        microcache_status;
    }
--- request eval
["GET /page/o", "GET /page/o", "GET /origin.log", "GET /status"]
--- more_headers eval
["Cookie: cart=3", "", "", ""]
--- response_headers eval
["X-Cache: BYPASS", "X-Cache: MISS\nX-Hydrate: ;", "", ""]
--- response_body_like eval
[qr/\A\Q${\ ::skeleton(count => 3)}\E\z/, qr/\A\Q${\ ::skeleton()}\E\z/,
 qr/\Astate \/state\?status=503\npage \/page\/o\npage \/page\/o\n\z/,
 qr/"skips":\{"method":0,"uri":0,"cookie":0,"arg":0,"header":0,"body":0,"limit":0,"hydrate":1\}/]



=== TEST 19: Cache-Control: private, no-store replaces the origin's, unless configured otherwise
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
        location /page/custom/ {
            hydrate_page_origin;
            microcache_hydrate_cache_control "private, max-age=0";
        }
        location /page/off/ {
            hydrate_page_origin;
            microcache_hydrate_cache_control off;
        }
    }
--- request eval
["GET /page/a?cc=public,%20max-age=60", "GET /page/custom/a?cc=public,%20max-age=60",
 "GET /page/off/a?cc=public,%20max-age=60"]
--- more_headers
Cookie: cart=3
--- response_headers eval
["Cache-Control: private, no-store", "Cache-Control: private, max-age=0",
 "Cache-Control: public, max-age=60"]
--- raw_response_headers_unlike eval
[qr/max-age/, qr/public/, qr/private/]
--- response_body eval
[::hydrated(3), ::hydrated(3), ::hydrated(3)]
--- no_error_log
[error]
[warn]



=== TEST 20: classic payloads in the state cannot open markup or leave the script
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request
GET /page/x
--- more_headers
Cookie: cart=1; body=xss
--- response_body eval
my $page = ::skeleton();
$page =~ s{</head>}{<script>window.cart={"cart":{"count":"\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e","total":"\\"\\u003e\\u003csvg onload=alert(1)\\u003e \\u2028\\u2029 \\u0026amp; '"}};</script></head>};
$page =~ s{data-count="0">}{data-count="&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" title="&quot;&gt;&lt;svg onload=alert(1)&gt; \xe2\x80\xa8\xe2\x80\xa9 &amp;amp; &#39;">};
$page =~ s{<span class="count">0</span>}{<span class="count">&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</span>};
$page
--- no_error_log
[error]
[warn]



=== TEST 21: gzip compresses the hydrated page (HTTP/2, curl decompresses)
--- config
    location /page/ {
        hydrate_page_origin;
        gzip on;
        gzip_min_length 1;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- http2
--- curl_options: --compressed
--- request
GET /page/z?pad=50
--- more_headers
Cookie: cart=3
--- response_headers
content-encoding: gzip
cache-control: private, no-store
--- response_body eval
::hydrated(3, pad => 50)
--- no_error_log
[error]
[warn]



=== TEST 22: a request that skips the cache is the origin's page for the visitor, not hydrated
--- config
    microcache_bypass_cookies wordpress_logged_in_*;
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/l", "GET /origin.log"]
--- more_headers eval
["Cookie: cart=3; wordpress_logged_in_x=1", ""]
--- response_headers eval
["X-Cache: BYPASS\nX-Hydrate: ;cookie\n!Cache-Control", ""]
--- response_body eval
[::skeleton(count => 3), "page /page/l\n"]
--- no_error_log
[error]
[warn]



=== TEST 23: rules: a level with rules of its own inherits none; one without inherits them all
--- config
    microcache_hydrate $state_uri;
    microcache_hydrate_text .count cart.count;
    microcache_hydrate_script cart;
    location /page/ {
        hydrate_page_origin;
    }
    location /own/ {
        hydrate_page_origin;
        microcache_hydrate_attr a.cart data-count "{cart.count}";
    }
--- request eval
["GET /page/i", "GET /own/i"]
--- more_headers
Cookie: cart=3
--- response_body eval
[do { my $p = ::hydrated(3); $p =~ s/ data-count="3" title="57,90 \xe2\x82\xac"/ data-count="0"/; $p },
 do { my $p = ::skeleton(); $p =~ s/data-count="0"/data-count="3"/; $p }]
--- no_error_log
[error]
[warn]



=== TEST 24: a page in another ASCII-compatible charset gets values written in that charset
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request
GET /page/w?type=text/html;%20charset=windows-1252
--- more_headers
Cookie: cart=3
--- response_headers
X-Hydrate: ok;
Cache-Control: private, no-store
--- response_body eval
my $p = ::hydrated(3); $p =~ s/title="57,90 \xe2\x82\xac"/title="57,90 \x80"/; $p
--- no_error_log
[warn]



=== TEST 25: a page in a charset the rewriter cannot read passes unchanged, and says so
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request
GET /page/u?type=text/html;%20charset=utf-16
--- more_headers
Cookie: cart=3
--- response_headers
X-Hydrate: failed:charset;
!Cache-Control
--- response_body eval
::skeleton()
--- error_log
hydration skipped, the page's charset "utf-16" is not one it can read



=== TEST 26: a tag too long to hold stops the rewrite; the rest goes out unchanged and the log says so
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/b?bigattr=300000", "GET /page/b?bigattr=300000"]
--- more_headers
Cookie: cart=3
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT"]
--- response_body_like eval
[qr/<script>window\.cart=.*<div data-x="x+"><\/div><header><a class="cart" href="\/cart\/" data-count="0">/s,
 qr/<script>window\.cart=.*<div data-x="x+"><\/div><header><a class="cart" href="\/cart\/" data-count="0">/s]
--- error_log
hydration stopped part way through the page, the rest is unchanged



=== TEST 27: $microcache_hydrate_status says so at the end of the response
--- http_config
    log_format hydrate "$request_uri $microcache_hydrate_status";
--- config
    location /page/ {
        hydrate_page_origin;
        access_log $TEST_NGINX_SERVER_ROOT/html/hydrate.log hydrate;
        microcache_hydrate $state_uri;
        hydrate_rules;
    }
--- request eval
["GET /page/b?bigattr=300000", "GET /page/a", "GET /hydrate.log"]
--- more_headers eval
["Cookie: cart=3", "Cookie: cart=3", ""]
--- response_body_like eval
[qr/data-x/, qr/<span class="count">3<\/span>/, qr/\A\/page\/b\?bigattr=300000 failed:rewrite\n\/page\/a ok\n\z/]



=== TEST 28: server-level hydration fetches the state for pages from the origin only, not for static files
--- config
    microcache_hydrate $state_uri;
    hydrate_rules;
    location /page/ {
        hydrate_page_origin;
    }
--- request eval
["GET /index.html", "GET /page/a", "GET /origin.log"]
--- more_headers eval
["Cookie: cart=3", "Cookie: cart=3", ""]
--- response_headers eval
["!Cache-Control", "Cache-Control: private, no-store", ""]
--- response_body eval
["<html><head><title>It works!</title></head><body>It works!</body></html>", ::hydrated(3),
 "state /state\npage /page/a\n"]
--- no_error_log
[error]
[warn]
