# What the origin receives (README: "Embedded Variables", $microcache_request_uri and
# $microcache_key): a real PHP-FPM reports the QUERY_STRING and REQUEST_URI it got, and they
# are the bytes of the query in $microcache_key. Internal redirects, proxy_pass without a
# URI, and the FastCGI cache keyed by $microcache_key.
use Test::Nginx::Socket 'no_plan';

repeat_each(1);   # cache blocks expect a cold cache
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: PHP receives the normalised query, and REQUEST_URI is $microcache_request_uri
--- config
    microcache on;
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        add_header X-Key $microcache_key;
    }
--- request
GET /echo.php?utm_source=x&p=1&gclid=y&q=%2F&a[]=1&a[]=2
--- response_headers
X-Key: httpGETlocalhost/echo.php?p=1&q=%2F&a[]=1&a[]=2
--- response_body_like chomp
\AQUERY_STRING=p=1&q=%2F&a\[\]=1&a\[\]=2
REQUEST_URI=/echo.php\?p=1&q=%2F&a\[\]=1&a\[\]=2
REQUEST_METHOD=GET
GET=\{"p":"1","q":"/","a":\["1","2"\]\}
--- no_error_log
[error]



=== TEST 2: URLs that differ only in tracking ids share one cache entry and one PHP execution
--- config
    microcache on;
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 1m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status;
    }
--- request eval
["GET /echo.php?utm_source=news&p=1",
 "GET /echo.php?p=1&gclid=abc",
 "GET /echo.php?p=1&&fbclid=z&utm_medium=mail",
 "GET /echo.php?p=1",
 "GET /echo.php?p=2&utm_source=news",
 "GET /origin.log"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: MISS", "!X-Cache"]
--- response_body eval
[qr/\AQUERY_STRING=p=1\nREQUEST_URI=\/echo.php\?p=1\n/,
 qr/\AQUERY_STRING=p=1\nREQUEST_URI=\/echo.php\?p=1\n/,
 qr/\AQUERY_STRING=p=1\n/,
 qr/\AQUERY_STRING=p=1\n/,
 qr/\AQUERY_STRING=p=2\nREQUEST_URI=\/echo.php\?p=2\n/,
 "/echo.php?p=1\n/echo.php?p=2\n"]
--- no_error_log
[error]



=== TEST 3: try_files ... /index.php?$args (WordPress) carries the normalised query
--- config
    microcache on;
    location /blog/ {
        try_files $uri $uri/ /echo.php?$args;
    }
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        add_header X-Key $microcache_key;
    }
--- request
GET /blog/caf%C3%A9/?utm_source=x&p=1&utm_campaign=y
--- response_headers
X-Key: httpGETlocalhost/blog/caf%C3%A9/?p=1
--- response_body_like chomp
\AQUERY_STRING=p=1
REQUEST_URI=/blog/caf%C3%A9/\?p=1
--- no_error_log
[error]



=== TEST 4: "microcache on" only where PHP runs: the redirected raw query is normalised there
--- config
    location /shop/ {
        try_files $uri /echo.php?$args;
    }
    location = /echo.php {
        microcache on;
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        add_header X-Key $microcache_key;
    }
--- request
GET /shop/?gclid=1&page=2
--- response_headers
X-Key: httpGETlocalhost/shop/?page=2
--- response_body_like chomp
\AQUERY_STRING=page=2
REQUEST_URI=/shop/\?page=2
--- no_error_log
[error]



=== TEST 5: error_page to PHP keeps what the redirect adds, normalised
--- config
    microcache on;
    location /gone {
        error_page 404 /echo.php?from=404&utm_content=ad&$args;
        return 404;
    }
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        add_header X-Key $microcache_key always;
    }
--- request
GET /gone?p=1&utm_source=x
--- error_code: 404
--- response_headers
X-Key: httpGETlocalhost/gone?p=1
--- response_body_like chomp
\AQUERY_STRING=from=404&p=1\n



=== TEST 6: values are computed once, with the rules of the first location, across redirects
--- config
    microcache on;
    location /first {
        microcache_strip_args foo;
        try_files /nonexistent /second?$args;
    }
    location /second {
        microcache_strip_args bar;
        return 200 "args=$args margs=$microcache_args stripped=$microcache_stripped\n";
    }
--- request
GET /first?foo=1&bar=2&utm_source=3
--- response_body
args=bar=2&utm_source=3 margs=bar=2&utm_source=3 stripped=foo=1



=== TEST 7: a redirect that changes the query is normalised with the new location's rules
--- config
    microcache on;
    location /first {
        try_files /nonexistent /second?added=1&gclid=2&$args;
    }
    location /second {
        return 200 "args=$args margs=$microcache_args\n";
    }
--- request
GET /first?p=1&utm_source=3
--- response_body
args=added=1&p=1 margs=p=1



=== TEST 8: proxy_pass without a URI sends the normalised URI, whether or not the query changed
--- http_config
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        location / {
            return 200 "backend request_uri=$request_uri args=$args\n";
        }
    }
--- config
    location /front {
        microcache on;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
    }
    location /raw {
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
    }
--- request eval
["GET /front/a%20b?utm_source=1&x=2&gclid=3", "GET /front/clean?x=2", "GET /raw?utm_source=1&x=2",
 "GET /front/a%2Fb/%7euser?x=1", "GET /front/a%2Fb/%7euser?x=1&utm_source=y", "GET /front//a/./b?x=1&"]
--- response_body eval
["backend request_uri=/front/a%20b?x=2 args=x=2\n",
 "backend request_uri=/front/clean?x=2 args=x=2\n",
 "backend request_uri=/raw?utm_source=1&x=2 args=utm_source=1&x=2\n",
 "backend request_uri=/front/a/b/~user?x=1 args=x=1\n",
 "backend request_uri=/front/a/b/~user?x=1 args=x=1\n",
 "backend request_uri=/front/a/b?x=1 args=x=1\n"]
--- no_error_log
[error]



=== TEST 9: the proxy cache keyed by $microcache_key: one upstream request for both URLs
--- http_config
    proxy_cache_path px_cache levels=1:2 keys_zone=px:1m;
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        location / {
            return 200 "backend $request_uri $msec\n";
        }
    }
--- config
    location /front {
        microcache on;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        proxy_cache px;
        proxy_cache_key $microcache_key;
        proxy_cache_valid 200 1m;
        add_header X-Cache $upstream_cache_status;
    }
--- request eval
["GET /front/p?x=1&utm_source=a", "GET /front/p?x=1&msclkid=b"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT"]
--- response_body_like eval
[qr/\Abackend \/front\/p\?x=1 /, qr/\Abackend \/front\/p\?x=1 /]



=== TEST 10: HTTP/2 requests are normalised the same way
--- http2
--- config
    microcache on;
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        add_header X-Key $microcache_key;
    }
--- request
GET /echo.php?ttclid=1&id=7
--- response_headers
X-Key: httpGETlocalhost/echo.php?id=7
--- response_body_like chomp
\AQUERY_STRING=id=7
REQUEST_URI=/echo.php\?id=7



=== TEST 11: the flag drives fastcgi_cache_bypass / fastcgi_no_cache with a real origin
--- http_config
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
--- config
    microcache on;
    microcache_bypass_cookies wordpress_logged_in_*;
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 1m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status;
        add_header X-Skip $microcache_skip_reason;
    }
--- request eval
["GET /echo.php?a=1", "GET /echo.php?a=1", "GET /echo.php?a=1", "POST /echo.php?a=1", "GET /echo.php?b=1", "GET /echo.php?b=1"]
--- more_headers eval
["Cookie: wordpress_logged_in_1=x", "", "", "", "Cookie: wordpress_logged_in_1=x", ""]
--- response_headers eval
["X-Cache: BYPASS\nX-Skip: cookie", "X-Cache: MISS\nX-Skip: ", "X-Cache: HIT", "!X-Cache\nX-Skip: method",
 "X-Cache: BYPASS", "X-Cache: MISS"]
--- response_body_like eval
[qr/COOKIE=\{"wordpress_logged_in_1":"x"\}/, qr/COOKIE=\[\]/, qr/COOKIE=\[\]/, qr/REQUEST_METHOD=POST/,
 qr/COOKIE=\{"wordpress_logged_in_1":"x"\}/, qr/COOKIE=\[\]/]



=== TEST 12: a subrequest (SSI include) has values of its own, and its query is normalised
--- user_files
>>> page.html
page <!--# include virtual="/frag?utm_source=a&z=1" -->
--- config
    microcache on;
    location = /page.html {
        ssi on;
        add_header X-Key $microcache_key;
    }
    location /frag {
        return 200 "frag key=$microcache_key args=$args";
    }
--- request
GET /page.html?p=1&gclid=x
--- response_headers
X-Key: httpGETlocalhost/page.html?p=1
--- response_body
page frag key=httpGETlocalhost/frag?z=1 args=z=1



=== TEST 13: a background cache update (after try_files) stores under the request's key: the next request HITs
--- config
    microcache on;
    location /site/ {
        try_files $uri /echo.php?$args;
    }
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 1s;
        fastcgi_cache_use_stale updating;
        fastcgi_cache_background_update on;
        add_header X-Cache $upstream_cache_status;
    }
    location = /sleep.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
--- request eval
["GET /site/x/?p=1&utm_source=a", "GET /sleep.php?ms=2100", "GET /site/x/?p=1&gclid=b",
 "GET /sleep.php?ms=300", "GET /site/x/?p=1"]
--- response_headers eval
["X-Cache: MISS", "", "X-Cache: STALE", "", "X-Cache: HIT"]
--- response_body_like eval
[qr/QUERY_STRING=p=1\n/, qr/slept/, qr/QUERY_STRING=p=1\n/, qr/slept/, qr/QUERY_STRING=p=1\n/]
--- timeout: 5
