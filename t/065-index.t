# The cache index and tag purge (README: "microcache_index", "microcache_purge"): a real PHP-FPM
# origin sends Surrogate-Key tags (the page's "tags" argument); the cache is keyed by
# $microcache_key; purges go through the index, or walk the cache directory without one.
use Test::Nginx::Socket 'no_plan';

repeat_each(1);   # every block starts from an empty cache
no_shuffle();
no_root_location();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', <<'_EOC_') unless defined $block->http_config;
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
    microcache_index mc;
_EOC_
    my $config = $block->config // '';
    $block->set_value('config', <<'_EOC_' . $config);
    microcache on;
    location / {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_param ORIGIN_HEADER "Surrogate-Key: $arg_tags";
        fastcgi_param ORIGIN_HEADER2 $http_x_origin_header;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status;
        add_header Cache-Status $microcache_cache_status;
    }
    location /purge/ {
        microcache_purge mc;
    }
    location = /origin.log {
        root html;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: tags are hidden from clients, on a MISS and on a HIT; Cache-Status says what happened
--- request eval
["GET /a/?tags=post-1,home", "GET /a/?tags=post-1,home"]
--- response_headers eval
["!Surrogate-Key", "!Surrogate-Key"]
--- raw_response_headers_like eval
[qr/X-Cache: MISS\r\nCache-Status: microcache; fwd=miss; stored\r\n/,
 qr/X-Cache: HIT\r\nCache-Status: microcache; hit\r\n/]
--- no_error_log
[error]



=== TEST 2: microcache_tag_headers_hide off lets them through, hits included
--- config
    microcache_tag_headers_hide off;
--- request eval
["GET /a/?tags=post-1", "GET /a/?tags=post-1"]
--- response_headers eval
["Surrogate-Key: post-1", "Surrogate-Key: post-1"]
--- no_error_log
[error]



=== TEST 3: a tag purge removes every page with the tag, and only those, through the index
--- pipelined_requests eval
["GET /a/?tags=post-1,home", "GET /b/?tags=post-2,home", "GET /c/?tags=post-1",
 "PURGE /purge/",
 "GET /a/?tags=post-1,home", "GET /b/?tags=post-2,home", "GET /c/?tags=post-1"]
--- more_headers eval
["", "", "", "Surrogate-Key: post-1", "", "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "Content-Type: application/json",
 "X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","purged":2,"targets":\[\{"target":"tag:post-1","purged":2\}\],"index":"used","elapsed_us":\d+\}\n\z/,
 qr/RUN=/, qr/RUN=/, qr/RUN=/]
--- no_error_log
[error]



=== TEST 4: several tags in one header, comma or space separated: each is a target
--- pipelined_requests eval
["GET /a/?tags=post-1", "GET /b/?tags=post-2", "GET /c/?tags=post-3",
 "POST /purge/anything", "GET /c/?tags=post-3"]
--- more_headers eval
["", "", "", "Cache-Tag: post-1,post-2 nothing", ""]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","purged":2,"targets":\[\{"target":"tag:post-1","purged":1\},\{"target":"tag:post-2","purged":1\},\{"target":"tag:nothing","purged":0\}\],"index":"used","elapsed_us":\d+\}\n\z/,
 qr/RUN=/]
--- response_headers eval
["", "", "", "", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 5: a batch: pages (query normalised), tags and prefixes, one answer for every line
--- pipelined_requests eval
["GET /a/?p=1&tags=t1", "GET /b/?tags=t2", "GET /c/x/?tags=t3", "GET /c/y/?tags=t3", "GET /d/?tags=t4",
 "POST /purge/\n/a/?utm_source=x&p=1&tags=t1\r\ntag:t2\n\nprefix:/c/\n/none/\n",
 "GET /d/?tags=t4"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","purged":4,"targets":\[\{"target":"\/a\/\?utm_source=x&p=1&tags=t1","purged":1\},\{"target":"tag:t2","purged":1\},\{"target":"prefix:\/c\/","purged":2\},\{"target":"\/none\/","purged":0\}\],"index":"used","elapsed_us":\d+\}\n\z/,
 qr/RUN=/]
--- response_headers eval
["", "", "", "", "", "", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 6: a malformed batch line is a 400 that names it, and purges nothing
--- pipelined_requests eval
["GET /a/?tags=t1", "POST /purge/\ntag:t1\nnot a target\n", "GET /a/?tags=t1"]
--- error_code eval
[200, 400, 200]
--- response_body_like eval
[qr/RUN=/, qr/\A\{"error":"line 2: not a purge target[^"]*","line":2,"content":"not a target"\}\n\z/, qr/RUN=/]
--- response_headers eval
["", "", "X-Cache: HIT"]



=== TEST 7: a batch body over 1 MiB is a 413
--- config
    location /bigpurge/ {
        client_max_body_size 4m;
        microcache_purge mc;
    }
--- request eval
"POST /bigpurge/\n" . ("/page/\n" x 200000)
--- error_code: 413



=== TEST 8: one page purges its GET, its HEAD and its Vary variants: 3 entries
--- request eval
["GET /v/", "HEAD /v/", "GET /v/", "PURGE /purge/v/", "GET /v/", "GET /v/"]
--- more_headers eval
["X-Origin-Header: Vary: X-Variant\nX-Variant: a", "X-Origin-Header: Vary: X-Variant\nX-Variant: a",
 "X-Origin-Header: Vary: X-Variant\nX-Variant: b", "",
 "X-Origin-Header: Vary: X-Variant\nX-Variant: a", "X-Origin-Header: Vary: X-Variant\nX-Variant: b"]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/RUN=/, qr/\A\z/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/v\/","mode":"hard","purged":3,"targets":\[\{"target":"httpGETlocalhost\/v\/","purged":3\}\],"index":"used","elapsed_us":\d+\}\n\z/,
 qr/RUN=/, qr/RUN=/]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "", "X-Cache: MISS", "X-Cache: MISS"]
--- no_error_log
[error]



=== TEST 9: a prefix purge through the index
--- pipelined_requests eval
["GET /p/1/", "GET /p/2/", "GET /q/", "GET /purge/p/*", "GET /q/"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/p\/\*","mode":"hard","purged":2,"targets":\[\{"target":"httpGETlocalhost\/p\/\*","purged":2\}\],"index":"used","elapsed_us":\d+\}\n\z/,
 qr/RUN=/]
--- response_headers eval
["", "", "", "", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 10: without an index, a tag purge walks the cache directory, with the same result
--- http_config
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
--- pipelined_requests eval
["GET /a/?tags=post-1,home", "GET /b/?tags=post-2", "PURGE /purge/", "GET /b/?tags=post-2"]
--- more_headers eval
["", "", "Surrogate-Key: home", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","purged":1,"targets":\[\{"target":"tag:home","purged":1\}\],"index":"walk","elapsed_us":\d+\}\n\z/,
 qr/RUN=/]
--- response_headers eval
["", "", "", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 11: a full index refuses what it cannot hold; purges then walk and stay correct
Keys of 3000 bytes take about 150 cells each: a 32k zone holds a handful.
--- http_config
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
    microcache_index mc size=32k;
--- pipelined_requests eval
[(map { "GET /big/$_/?tags=big&q=" . ("x" x 3000) } 1 .. 12), "PURGE /purge/", "GET /status"]
--- more_headers eval
[("") x 12, "Surrogate-Key: big", ""]
--- config
    location = /status { microcache_status; }
--- response_body_like eval
[(qr/RUN=/) x 12,
 qr/\A\{"mode":"hard","purged":12,"targets":\[\{"target":"tag:big","purged":12\}\],"index":"walk","elapsed_us":\d+\}\n\z/,
 qr/"indexes":\{"mc":\{"state":"ready",.*"overflowed":true,"overflows":[1-9]\d*,/]
--- no_error_log
[error]



=== TEST 12: a purge of the whole zone empties the index too
--- config
    location = /purgeall { microcache_purge mc "*"; }
    location = /status { microcache_status; }
--- pipelined_requests eval
["GET /a/?tags=t", "GET /b/?tags=t", "PURGE /purgeall", "GET /status"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"\*","mode":"hard","purged":2,"targets":\[\{"target":"\*","purged":2\}\],"index":"walk","elapsed_us":\d+\}\n\z/,
 qr/"purged_by":\{"key":\{"hard":0,"soft":0\},"prefix":\{"hard":0,"soft":0\},"tag":\{"hard":0,"soft":0\},"zone":\{"hard":2,"soft":0\}\}.*"indexes":\{"mc":\{"state":"ready","entries":0,/]
--- no_error_log
[error]



=== TEST 13: a soft purge marks entries expired: the next request renders again (EXPIRED)
--- pipelined_requests eval
["GET /a/?tags=t", "GET /a/?tags=t", "PURGE /purge/", "GET /a/?tags=t", "GET /a/?tags=t"]
--- more_headers eval
["", "", "Surrogate-Key: t\nMicrocache-Purge-Mode: soft", "", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "", "X-Cache: EXPIRED", "X-Cache: HIT"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"soft","purged":1,"targets":\[\{"target":"tag:t","purged":1\}\],"index":"used","elapsed_us":\d+\}\n\z/,
 qr/RUN=/, qr/RUN=/]
--- no_error_log
[error]



=== TEST 14: with stale-while-updating, a soft-purged page is served stale while one request refreshes it
--- config
    location /sw/ {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_cache_use_stale updating;
        fastcgi_cache_background_update on;
        add_header X-Cache $upstream_cache_status;
    }
    location /softpurge/ {
        microcache_purge mc;
        microcache_purge_mode soft;
    }
--- pipelined_requests eval
["GET /sw/page", "GET /softpurge/sw/page", "GET /sw/page", "GET /sw/page", "GET /origin.log"]
--- response_headers eval
["X-Cache: MISS", "", "X-Cache: STALE", "X-Cache: HIT", ""]
--- response_body_like eval
[qr/RUN=/, qr/"mode":"soft","purged":1,/, qr/RUN=/, qr/RUN=/, qr/\A\/sw\/page\n\/sw\/page\n\z/]
--- no_error_log
[error]



=== TEST 15: a bad purge mode header is a 400 and purges nothing
--- pipelined_requests eval
["GET /a/", "PURGE /purge/a/", "GET /a/"]
--- more_headers eval
["", "Microcache-Purge-Mode: gentle", ""]
--- error_code eval
[200, 400, 200]
--- response_headers eval
["", "", "X-Cache: HIT"]



=== TEST 16: Cache-Status of a skipped request names the rule
--- config
    microcache_bypass_cookies sess;
--- request
GET /a/
--- more_headers
Cookie: sess=1
--- response_headers
Cache-Status: microcache; fwd=bypass; detail=cookie
