# Skip-cache flags (README: the microcache_bypass_* directives): $microcache_skip and
# $microcache_skip_reason.
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . <<'_EOC_');
    location /s {
        return 200 "$microcache_skip $microcache_skip_reason\n";
    }
    # PHP-FPM shows what PHP reads, the header what the module decided.
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        add_header X-Skip "[$microcache_skip $microcache_skip_reason]";
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: by default every method but GET and HEAD skips
--- config
--- request eval
["GET /s", "HEAD /s", "POST /s", "PUT /s", "DELETE /s", "OPTIONS /s", "PURGE /s"]
--- response_body eval
["0 \n", "", "1 method\n", "1 method\n", "1 method\n", "1 method\n", "1 method\n"]



=== TEST 2: microcache_bypass_methods replaces the default
--- config
    microcache_bypass_methods POST PUT;
--- request eval
["POST /s", "PUT /s", "DELETE /s", "GET /s"]
--- response_body eval
["1 method\n", "1 method\n", "0 \n", "0 \n"]



=== TEST 3: path rules: prefix, regex, case-insensitive regex
--- config
    microcache_bypass_uri /s/wp-admin/ ~^/s/[a-z-]+\.php$ ~*/(cart|checkout)/;
--- request eval
["GET /s/wp-admin/edit.php", "GET /s/wp-login.php", "GET /s/shop/CART/", "GET /s/WP-ADMIN/",
 "GET /s/wp-admin", "GET /s/page/"]
--- response_body eval
["1 uri\n", "1 uri\n", "1 uri\n", "0 \n", "0 \n", "0 \n"]



=== TEST 4: path rules see the decoded, normalised path: encoding tricks do not evade them
--- config
    microcache_bypass_uri /s/wp-admin/ ~*/checkout/;
--- request eval
["GET /s/wp%2Dadmin/", "GET /s//wp-admin//x", "GET /s/x/../wp-admin/", "GET /s/%77p-admin/",
 "GET /s/shop/CHECK%4fUT/", "GET /s/wp-admin%2F"]
--- response_body eval
["1 uri\n", "1 uri\n", "1 uri\n", "1 uri\n", "1 uri\n", "1 uri\n"]



=== TEST 5: cookies are matched by NAME, not by value, in every Cookie header
--- config
    microcache_bypass_cookies wordpress_logged_in_* woocommerce_items_in_cart;
--- request eval
["GET /s", "GET /s", "GET /s", "GET /s", "GET /s", "GET /s", "GET /s"]
--- more_headers eval
["Cookie: a=1; wordpress_logged_in_abc=x|y",
 "Cookie: theme=wordpress_logged_in_x",
 "Cookie: a=1\nCookie: woocommerce_items_in_cart=1",
 "Cookie: wordpress%5Flogged_in_1=x",
 "Cookie: wordpress.logged_in_1=x",
 "Cookie: woocommerce_items_in_cart_x=1; wordpress_logged_in=1",
 "Cookie:   woocommerce_items_in_cart  =1"]
--- response_body eval
["1 cookie\n", "0 \n", "1 cookie\n", "1 cookie\n", "1 cookie\n", "0 \n", "1 cookie\n"]



=== TEST 6: HTTP/2 clients send one cookie header field per cookie
--- http2
--- config
    microcache_bypass_cookies wp-postpass_*;
--- request
GET /s
--- more_headers
Cookie: a=1
Cookie: wp-postpass_0123=x
--- response_body
1 cookie



=== TEST 7: argument names of the normalised query (decoded, and as PHP sees them), not the stripped ones
--- config
    microcache on;
    microcache_bypass_args add-to-cart preview utm_* rest_route;
--- request eval
["GET /s?p=1&add-to-cart=5", "GET /s?add%2Dto-cart=5", "GET /s?preview", "GET /s?utm_source=1",
 "GET /s?x=add-to-cart", "GET /s?rest.route=/wp/v2", "GET /s?rest+route=/wp/v2"]
--- response_body eval
["1 arg\n", "1 arg\n", "1 arg\n", "0 \n", "0 \n", "1 arg\n", "1 arg\n"]



=== TEST 8: Authorization skips by default, when present and non-empty
--- config
--- request eval
["GET /s", "GET /s", "GET /s"]
--- more_headers eval
["Authorization: Basic dTpw", "Authorization:", "X-Other: 1"]
--- response_body eval
["1 header\n", "0 \n", "0 \n"]



=== TEST 9: microcache_bypass_headers replaces the default; names are case-insensitive globs
--- config
    microcache_bypass_headers X-Preview-* x-logged-in;
--- request eval
["GET /s", "GET /s", "GET /s"]
--- more_headers eval
["x-preview-token: 1", "X-LOGGED-IN: yes", "Authorization: Basic dTpw"]
--- response_body eval
["1 header\n", "1 header\n", "0 \n"]



=== TEST 10: a GET or HEAD with a body (fat GET) skips
--- config
--- request
GET /s
hello
--- response_body
1 body



=== TEST 11: a chunked GET body skips too
--- config
--- raw_request eval
"GET /s HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
5\r
hello\r
0\r
\r
"
--- response_body
1 body



=== TEST 12: the first matching rule names the reason
--- config
    microcache_bypass_uri /s/admin/;
    microcache_bypass_cookies session;
--- request eval
["POST /s/admin/", "GET /s/admin/", "GET /s/x", "GET /s/x"]
--- more_headers eval
["Cookie: session=1\nAuthorization: x", "Cookie: session=1\nAuthorization: x", "Cookie: session=1\nAuthorization: x", "Authorization: x"]
--- response_body eval
["1 method\n", "1 uri\n", "1 cookie\n", "1 header\n"]



=== TEST 13: cookie names as PHP reads them: an unmatched "[" and a space are "_" ($_COOKIE from PHP-FPM)
--- config
    microcache_bypass_cookies wordpress_logged_in_* woocommerce_items_in_cart wp-postpass_* wp_woocommerce_session_*;
--- request eval
["GET /echo.php", "GET /echo.php", "GET /echo.php", "GET /echo.php", "GET /echo.php", "GET /echo.php"]
--- more_headers eval
["Cookie: wordpress_logged_in[abc=1",
 "Cookie: a=1; woocommerce[items_in_cart=1",
 "Cookie: wp-postpass[x=1",
 "Cookie: wp[woocommerce_session_x=1",
 "Cookie: wordpress_logged_in_x =1",
 "Cookie: a=1, wordpress_logged_in_x=1"]
--- response_headers eval
["X-Skip: [1 cookie]", "X-Skip: [1 cookie]", "X-Skip: [1 cookie]", "X-Skip: [1 cookie]", "X-Skip: [1 cookie]",
 "X-Skip: [0 ]"]
--- response_body_like eval
[qr/\nCOOKIE=\{"wordpress_logged_in_abc":"1"\}\n/,
 qr/\nCOOKIE=\{"a":"1","woocommerce_items_in_cart":"1"\}\n/,
 qr/\nCOOKIE=\{"wp-postpass_x":"1"\}\n/,
 qr/\nCOOKIE=\{"wp_woocommerce_session_x":"1"\}\n/,
 qr/\nCOOKIE=\{"wordpress_logged_in_x_":"1"\}\n/,
 qr/\nCOOKIE=\{"a":"1, wordpress_logged_in_x=1"\}\n/]



=== TEST 14: PHP drops every leading isspace() byte of a cookie name, \v and \f included
--- config
    microcache_bypass_cookies wordpress_logged_in_*;
--- raw_request eval
"GET /echo.php HTTP/1.1\r
Host: localhost\r
Connection: close\r
Cookie: \x0bwordpress_logged_in_x=1;\x0c\x0b\twordpress_logged_in_y=2\r
\r
"
--- response_headers
X-Skip: [1 cookie]
--- response_body_like chomp
\nCOOKIE=\{"wordpress_logged_in_x":"1","wordpress_logged_in_y":"2"\}\n



=== TEST 15: argument names as PHP reads them: leading "+", unmatched "[", "%00", "[index]" ($_GET from PHP-FPM)
--- config
    microcache on;
    microcache_bypass_args add-to-cart wc-ajax rest_route doing_wp_cron preview;
--- request eval
["GET /echo.php?+add-to-cart=5", "GET /echo.php?%20wc-ajax=x", "GET /echo.php?rest[route=/wp/v2",
 "GET /echo.php?rest%5Broute=/wp/v2", "GET /echo.php?doing_wp_cron%00=1", "GET /echo.php?+preview=true",
 "GET /echo.php?add-to-cart[x]=5", "GET /echo.php?[add-to-cart]=5"]
--- response_headers eval
["X-Skip: [1 arg]", "X-Skip: [1 arg]", "X-Skip: [1 arg]", "X-Skip: [1 arg]", "X-Skip: [1 arg]", "X-Skip: [1 arg]",
 "X-Skip: [1 arg]", "X-Skip: [0 ]"]
--- response_body_like eval
[qr/\nGET=\{"add-to-cart":"5"\}\n/,
 qr/\nGET=\{"wc-ajax":"x"\}\n/,
 qr{\nGET=\{"rest_route":"/wp/v2"\}\n},
 qr{\nGET=\{"rest_route":"/wp/v2"\}\n},
 qr/\nGET=\{"doing_wp_cron":"1"\}\n/,
 qr/\nGET=\{"preview":"true"\}\n/,
 qr/\nGET=\{"add-to-cart":\{"x":"5"\}\}\n/,
 qr/\nGET=\[\]\n/]



=== TEST 16: nginx refuses a raw NUL in the query, so a name never holds one
--- config
--- raw_request eval
"GET /s?doing_wp_cron\0x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 400



=== TEST 17: nginx refuses a raw NUL in a Cookie header, so a name never holds one
--- config
--- raw_request eval
"GET /s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: wordpress_logged_in\0=1\r\n\r\n"
--- error_code: 400



=== TEST 18: path regexes match bytes as nginx's PCRE does: ASCII \d \w \s \b, any byte for [^/]
--- config
    microcache_bypass_uri ~^/s/p/\d+/$ ~*/s/\w+\.XML$ ~\bfeed\b ~^/s/a\sb ~^/s/x/[^/]+/y$;
--- request eval
["GET /s/p/123/", "GET /s/sitemap_1.xml", "GET /s/blog/feed/", "GET /s/a%0Bb", "GET /s/x/%FF/y",
 "GET /s/p/%D9%A3/", "GET /s/feeds", "GET /s/p/x/"]
--- response_body eval
["1 uri\n", "1 uri\n", "1 uri\n", "1 uri\n", "1 uri\n", "0 \n", "0 \n", "0 \n"]
