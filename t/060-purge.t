# microcache_purge (README: "microcache_purge"): a cache filled through a real PHP-FPM, purged the way WordPress's
# Nginx Helper does it (GET /purge/<path>, PURGE /purgeall), by prefix, and by the keyless form.
use Test::Nginx::Socket 'no_plan';

repeat_each(1);   # every block starts from an empty cache
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', <<'_EOC_') unless defined $block->http_config;
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
_EOC_
    my $config = $block->config // '';
    $block->set_value('config', <<'_EOC_' . $config);
    microcache on;
    location /site/ {
        try_files $uri /echo.php?$args;
    }
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status;
    }
    # WordPress Nginx Helper's conventions.
    location ~ /purge(/.*) {
        microcache_purge mc "$scheme$request_method$host$1";
    }
    location = /purgeall {
        microcache_purge mc "*";
    }
    # The keyless form: the key of a GET of what follows /p.
    location /p/ {
        microcache_purge mc;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: Nginx Helper: GET /purge/<path> removes one entry; the next request is a MISS, others stay HITs
--- config
--- request eval
["GET /site/a/", "GET /site/a/", "GET /site/b/",
 "GET /purge/site/a/",
 "GET /site/a/", "GET /site/b/", "GET /site/a/",
 "GET /purge/site/a/", "GET /purge/site/never/",
 "GET /origin.log"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 404, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS",
 "Content-Type: application/json",
 "X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT",
 "Content-Type: application/json", "Content-Type: application/json",
 "!X-Cache"]
--- response_body_like eval
[qr/REQUEST_URI=\/site\/a\//, qr/REQUEST_URI=\/site\/a\//, qr/REQUEST_URI=\/site\/b\//,
 qr/\A\{"key":"httpGETlocalhost\/site\/a\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/a\/","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/REQUEST_URI=\/site\/a\//, qr/REQUEST_URI=\/site\/b\//, qr/REQUEST_URI=\/site\/a\//,
 qr/\A\{"key":"httpGETlocalhost\/site\/a\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/a\/","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/\A\{"key":"httpGETlocalhost\/site\/never\/","mode":"hard","purged":0,"targets":\[\{"target":"httpGETlocalhost\/site\/never\/","purged":0\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/\A\/site\/a\/\n\/site\/b\/\n\/site\/a\/\n\z/]
--- no_error_log
[error]
[crit]



=== TEST 2: PURGE /purgeall empties the zone; a second one finds nothing
--- config
--- request eval
["GET /site/a/", "GET /site/b/?x=1", "GET /site/c/",
 "PURGE /purgeall",
 "GET /site/a/", "GET /site/b/?x=1",
 "PURGE /purgeall", "PURGE /purgeall"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 404]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "", "X-Cache: MISS", "X-Cache: MISS", "", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"\*","mode":"hard","purged":3,"targets":\[\{"target":"\*","purged":3\}\],"index":"walk","elapsed_us":\d+\}\n\z/,
 qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"\*","mode":"hard","purged":2,"targets":\[\{"target":"\*","purged":2\}\],"index":"walk","elapsed_us":\d+\}\n\z/,
 qr/\A\{"key":"\*","mode":"hard","purged":0,"targets":\[\{"target":"\*","purged":0\}\],"index":"walk","elapsed_us":\d+\}\n\z/]
--- no_error_log
[error]
[crit]



=== TEST 3: only GET, HEAD, PURGE and POST (a batch) purge; HEAD answers without a body
--- config
--- request eval
["GET /site/a/", "POST /purge/site/a/", "DELETE /purgeall", "PUT /p/site/a/",
 "HEAD /p/site/a/", "HEAD /p/site/a/", "GET /site/a/", "PURGE /p/site/a/", "GET /site/a/"]
--- error_code eval
[200, 400, 405, 405, 200, 404, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "Content-Type: application/json", "Allow: GET, HEAD, PURGE, POST",
 "Allow: GET, HEAD, PURGE, POST",
 "Content-Type: application/json", "Content-Type: application/json",
 "X-Cache: MISS", "Content-Type: application/json", "X-Cache: MISS"]
--- response_body_like eval
[qr/RUN=/, qr/\A\{"error":"no purge target"\}\n\z/, qr/405 Not Allowed/, qr/405 Not Allowed/, qr/\A\z/, qr/\A\z/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/site\/a\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/a\/","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/, qr/RUN=/]



=== TEST 4: the keyless form purges raw (percent-encoded) paths and URLs with tracking ids
--- config
--- request eval
["GET /site/caf%C3%A9/?utm_source=news&p=1",
 "GET /site/caf%C3%A9/?p=1",
 "GET /purge/site/caf%C3%A9/",
 "GET /p/site/caf%C3%A9/?gclid=x&p=1",
 "GET /site/caf%C3%A9/?p=1",
 "GET /p/site/caf%C3%A9/?p=1"]
--- error_code eval
[200, 200, 404, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "", "", "X-Cache: MISS", ""]
--- response_body_like eval
[qr/REQUEST_URI=\/site\/caf%C3%A9\/\?p=1\n/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/site\/caf\xc3\xa9\/","mode":"hard","purged":0,"targets":\[\{"target":"httpGETlocalhost\/site\/caf\xc3\xa9\/","purged":0\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/\A\{"key":"httpGETlocalhost\/site\/caf%C3%A9\/\?p=1","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/caf%C3%A9\/\?p=1","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/site\/caf%C3%A9\/\?p=1","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/caf%C3%A9\/\?p=1","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/]



=== TEST 5: a trailing * purges by prefix; other entries stay
--- config
--- request eval
["GET /site/a/", "GET /site/a/x", "GET /site/ab/", "GET /site/b/",
 "GET /purge/site/a*",
 "GET /site/b/", "GET /site/a/x", "GET /site/ab/",
 "GET /p/site/b*", "GET /site/b/"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS",
 "",
 "X-Cache: HIT", "X-Cache: MISS", "X-Cache: MISS",
 "", "X-Cache: MISS"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/site\/a\*","mode":"hard","purged":3,"targets":\[\{"target":"httpGETlocalhost\/site\/a\*","purged":3\}\],"index":"walk","elapsed_us":\d+\}\n\z/,
 qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/site\/b\*","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/b\*","purged":1\}\],"index":"walk","elapsed_us":\d+\}\n\z/,
 qr/RUN=/]
--- no_error_log
[error]



=== TEST 6: hostile inputs: "?*" is no wildcard, keys are escaped, long keys answer
--- config
--- request eval
["GET /site/a/",
 "GET /purge/?*",
 "GET /p/site/?*",
 "GET /purge/site/%22q%22%5C%09x%01",
 "GET /purge/site/" . ("x" x 3000),
 "GET /site/a/"]
--- error_code eval
[200, 404, 404, 404, 404, 200]
--- response_headers eval
["X-Cache: MISS", "", "", "", "", "X-Cache: HIT"]
--- response_body_like eval
[qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/","mode":"hard","purged":0,"targets":\[\{"target":"httpGETlocalhost\/","purged":0\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/\A\{"key":"httpGETlocalhost\/site\/\?\*","mode":"hard","purged":0,"targets":\[\{"target":"httpGETlocalhost\/site\/\?\*","purged":0\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/\A\{"key":"httpGETlocalhost\/site\/\\"q\\"\\\\\\tx\\u0001","mode":"hard","purged":0,"targets":\[\{"target":"httpGETlocalhost\/site\/\\"q\\"\\\\\\tx\\u0001","purged":0\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/\A\{"key":"httpGETlocalhost\/site\/x{3000}","mode":"hard","purged":0,"targets":\[\{"target":"httpGETlocalhost\/site\/x{3000}","purged":0\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/RUN=/]
--- no_error_log
[error]



=== TEST 7: a keyless purge of a path that is not literally under the prefix is a bad request
--- config
--- request eval
["GET /p%2Fsite/a/"]
--- error_code eval
[400]



=== TEST 8: a purge key made of request headers (a proxy_cache zone)
--- http_config
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
    proxy_cache_path px_cache levels=2 keys_zone=px:1m;
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        location / {
            return 200 "backend $request_uri\n";
        }
    }
--- config
    location /front/ {
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        proxy_cache px;
        proxy_cache_key $http_x_tenant:$uri;
        proxy_cache_valid 200 1m;
        add_header X-Cache $upstream_cache_status;
    }
    location = /purge-tenant {
        microcache_purge px "$http_x_tenant:$arg_uri";
    }
--- request eval
["GET /front/x", "GET /front/x", "GET /purge-tenant?uri=/front/x", "GET /front/x"]
--- more_headers eval
["X-Tenant: t1", "X-Tenant: t1", "X-Tenant: t1", "X-Tenant: t1"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "", "X-Cache: MISS"]
--- response_body_like eval
[qr/backend/, qr/backend/, qr/\A\{"key":"t1:\/front\/x","mode":"hard","purged":1,"targets":\[\{"target":"t1:\/front\/x","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/, qr/backend/]



=== TEST 9: the keyless form purges the HEAD entry of the page too
--- config
--- request eval
["GET /site/h/", "HEAD /site/h/", "GET /site/h/", "HEAD /site/h/", "GET /p/site/h/", "HEAD /site/h/", "GET /p/site/h/"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "", "X-Cache: MISS", ""]
--- response_body_like eval
[qr/RUN=/, qr/\A\z/, qr/RUN=/, qr/\A\z/,
 qr/\A\{"key":"httpGETlocalhost\/site\/h\/","mode":"hard","purged":2,"targets":\[\{"target":"httpGETlocalhost\/site\/h\/","purged":2\}\],"index":"none","elapsed_us":\d+\}\n\z/, qr/\A\z/,
 qr/\A\{"key":"httpGETlocalhost\/site\/h\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/h\/","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/]



=== TEST 10: escapes in the path are one entry whatever their case: the keyless purge finds it
WordPress links a non-ASCII slug with lower-case escapes; its HTTP client purges with upper case.
--- config
--- request eval
["GET /site/%d0%bf%d1%80/", "GET /site/%D0%BF%D1%80/",
 "GET /p/site/%D0%BF%d1%80/",
 "GET /site/%d0%bf%d1%80/"]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "", "X-Cache: MISS"]
--- response_body_like eval
[qr/REQUEST_URI=\/site\/%D0%BF%D1%80\/\n/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/site\/%D0%BF%D1%80\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/site\/%D0%BF%D1%80\/","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/RUN=/]
--- no_error_log
[error]



=== TEST 11: each purge leaves one info line in the error log: target, count, time
--- config
--- request
GET /purge/site/none/
--- error_code: 404
--- error_log eval
qr/\[info\] .*microcache: hard purge of "httpGETlocalhost\/site\/none\/": 0 entries in \d+ us \(index: none\)/
--- no_error_log
[error]



=== TEST 12: with a debug build, the normalisation and the key are in the debug log
--- skip_eval: 3: `$ENV{TEST_NGINX_BINARY} -V 2>&1` !~ /--with-debug/
--- config
--- request
GET /site/a/?utm_source=x&p=1
--- error_code: 200
--- error_log eval
qr/microcache: query "utm_source=x&p=1" -> "p=1", stripped "utm_source=x", skip "", key "httpGETlocalhost\/site\/a\/\?p=1"/
--- no_error_log
[error]



=== TEST 13: with a debug build, the purge target is in the debug log
--- skip_eval: 3: `$ENV{TEST_NGINX_BINARY} -V 2>&1` !~ /--with-debug/
--- config
--- request
GET /p/site/a/?p=1
--- error_code: 404
--- error_log eval
qr/microcache: hard purge "httpGETlocalhost\/site\/a\/\?p=1"/
--- no_error_log
[error]



=== TEST 14: the keyless form in an exact location: /purge alone purges the home page
Nginx Helper requests /purge, without a slash, for the home page.
--- config
    location = / {
        try_files /nonexistent /echo.php?$args;
    }
    location = /purge {
        microcache_purge mc;
    }
--- request eval
["GET /", "GET /", "GET /purge", "GET /", "GET /purge?x=1"]
--- error_code eval
[200, 200, 200, 200, 404]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "", "X-Cache: MISS", ""]
--- response_body_like eval
[qr/REQUEST_URI=\/\n/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/\?x=1","mode":"hard","purged":0,"targets":\[\{"target":"httpGETlocalhost\/\?x=1","purged":0\}\],"index":"none","elapsed_us":\d+\}\n\z/]
--- no_error_log
[error]
