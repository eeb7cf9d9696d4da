# The key's query is derived from what the origin receives, for every request line nginx
# accepts (README, "How the query is normalised"): a raw "#" (where nginx ends $args), a second
# "?", absolute-form URIs, and percent-escapes in the path written in either case. A real
# PHP-FPM reports the QUERY_STRING and REQUEST_URI it got; the cache is keyed by
# $microcache_key, so a request whose key differs from what PHP saw would poison it.
use Test::Nginx::Socket 'no_plan';

repeat_each(1);   # every block starts from an empty cache
no_shuffle();
no_root_location();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
_EOC_
    my $config = $block->config // '';
    $block->set_value('config', <<'_EOC_' . $config);
    microcache on;
    location / {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status;
        add_header X-Key $microcache_key;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a raw "#" in the query ends it for nginx and PHP, and for the key: no poisoning
The attacker's request is rendered with an empty query and must not be stored under the key
of /p/?p=2, whose visitors get their own render.
--- request eval
["GET /p/?utm_source=x#&p=2", "GET /p/?p=2", "GET /p/?p=2"]
--- response_headers eval
["X-Key: httpGETlocalhost/p/", "X-Key: httpGETlocalhost/p/?p=2", "X-Cache: HIT"]
--- response_body_like eval
[qr/\AQUERY_STRING=\nREQUEST_URI=\/p\/\n/,
 qr/\AQUERY_STRING=p=2\nREQUEST_URI=\/p\/\?p=2\n/,
 qr/\AQUERY_STRING=p=2\nREQUEST_URI=\/p\/\?p=2\n/]
--- no_error_log
[error]



=== TEST 2: the stale page of the attacker's key is not the page of the victim's key
--- request eval
["GET /p/?p=2", "GET /p/?p=2&utm_source=x#&p=3", "GET /p/?p=2#x", "GET /p/?p=3"]
--- response_headers eval
["X-Cache: MISS", "X-Key: httpGETlocalhost/p/?p=2", "X-Cache: HIT", "X-Cache: MISS"]
--- response_body_like eval
[qr/\AQUERY_STRING=p=2\n/, qr/\AQUERY_STRING=p=2\n/, qr/\AQUERY_STRING=p=2\n/,
 qr/\AQUERY_STRING=p=3\nREQUEST_URI=\/p\/\?p=3\n/]
--- no_error_log
[error]



=== TEST 3: a "#" before the "?" ends the path; nginx then has no query at all
--- request eval
["GET /p/#x?p=2", "GET /p/"]
--- response_headers eval
["X-Key: httpGETlocalhost/p/", "X-Cache: HIT"]
--- response_body_like eval
[qr/\AQUERY_STRING=\nREQUEST_URI=\/p\/\nREQUEST_METHOD=GET\nGET=\[\]\n/,
 qr/\AQUERY_STRING=\nREQUEST_URI=\/p\/\n/]
--- no_error_log
[error]



=== TEST 4: a second "?" is part of the query, for nginx, PHP and the key
--- request
GET /p/?a=1?b=2&utm_source=x
--- response_headers
X-Key: httpGETlocalhost/p/?a=1?b=2
--- response_body_like chomp
\AQUERY_STRING=a=1\?b=2\nREQUEST_URI=/p/\?a=1\?b=2\nREQUEST_METHOD=GET\nGET=\{"a":"1\?b=2"\}\n
--- no_error_log
[error]



=== TEST 5: absolute-form request targets: the key is the origin-form one
--- raw_request eval
"GET http://localhost/p/?utm_source=x&p=1 HTTP/1.0\r\n\r\n"
--- response_headers
X-Key: httpGETlocalhost/p/?p=1
--- response_body_like chomp
\AQUERY_STRING=p=1\nREQUEST_URI=/p/\?p=1\n
--- no_error_log
[error]



=== TEST 6: absolute-form without a path: the path is "/", as nginx's $uri
--- raw_request eval
"GET http://localhost?p=1 HTTP/1.0\r\n\r\n"
--- response_headers
X-Key: httpGETlocalhost/?p=1
--- response_body_like chomp
\AQUERY_STRING=p=1\nREQUEST_URI=/\?p=1\n
--- no_error_log
[error]



=== TEST 7: escapes in the path are one entry whatever their case, and PHP gets the key's bytes
--- request eval
["GET /caf%c3%a9/?p=1", "GET /caf%C3%A9/?p=1", "GET /caf%c3%A9/?p=1&gclid=x"]
--- response_headers eval
["X-Key: httpGETlocalhost/caf%C3%A9/?p=1", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body_like eval
[qr/\AQUERY_STRING=p=1\nREQUEST_URI=\/caf%C3%A9\/\?p=1\n/,
 qr/REQUEST_URI=\/caf%C3%A9\/\?p=1\n/, qr/REQUEST_URI=\/caf%C3%A9\/\?p=1\n/]
--- no_error_log
[error]



=== TEST 8: escapes in the query keep their bytes: the query is never re-encoded
--- request
GET /p/?q=%c3%a9
--- response_headers
X-Key: httpGETlocalhost/p/?q=%c3%a9
--- response_body_like chomp
\AQUERY_STRING=q=%c3%a9\n
--- no_error_log
[error]



=== TEST 9: proxy_pass: the upstream receives the URI whose query is the key's
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        location / {
            return 200 "backend request_uri=$request_uri\n";
        }
    }
--- config
    location /front/ {
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        add_header X-Key $microcache_key;
    }
--- request eval
["GET /front/?utm_source=x#&p=2", "GET /front/#x?p=2", "GET /front/?p=1#&utm_source=x"]
--- response_headers eval
["X-Key: httpGETlocalhost/front/", "X-Key: httpGETlocalhost/front/",
 "X-Key: httpGETlocalhost/front/?p=1"]
--- response_body eval
["backend request_uri=/front/\n", "backend request_uri=/front/\n",
 "backend request_uri=/front/?p=1\n"]
--- no_error_log
[error]
