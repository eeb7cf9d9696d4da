# Origin-driven caching (README: "microcache_litespeed", "microcache_purge_header"): a real
# PHP-FPM origin sends LiteSpeed Cache for WordPress's headers, as the request's X-H1..X-H4
# headers tell it to (whole header lines, so a block can send any value, well formed or not).
# The cache is keyed by $microcache_key and indexed; /purge/ is a purge location.
use Test::Nginx::Socket 'no_plan';

repeat_each(1);   # every block starts from an empty cache
no_shuffle();
no_root_location();

# Cookie headers for the differential block (TEST 22): names PHP may read as the vary cookie,
# values PHP decodes, one or two Cookie headers. A fixed seed: the same requests every run.
srand(20261129);
our @VaryRequests = map {
    my @names = ('_lscache_vary') x 6;
    push @names, '_lscache.vary', '_lscache vary', '_lscache%5Fvary', '_lscache_vary[]',
        '_lscache_vary[a]', '_lscache[vary', ' _lscache_vary', '_LSCACHE_VARY', '_lscache_varyx',
        'wordpress_logged_in_1', 'a', 'a.b', "\t_lscache_vary", '_lscache_vary%00';
    my @values = ('r1', '9f8e7d', '', '0', 'a%20b', 'a+b', 'x=y', '%', '%zz', 'a%3Bb', '"q"', ' s');
    my @cookies = map { $names[rand @names] . '=' . $values[rand @values] } 1 .. 1 + int rand 4;
    my @headers = (join(rand() < 0.5 ? '; ' : ';', @cookies));
    if (@cookies > 1 && rand() < 0.3) {
        my $cut = 1 + int rand(@cookies - 1);
        @headers = (join('; ', @cookies[0 .. $cut - 1]), join('; ', @cookies[$cut .. $#cookies]));
    }
    join("\n", (map { "Cookie: $_" } @headers), @headers == 1 ? ('X-Exact: 1') : ());
} 1 .. 300;
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', <<'_EOC_') unless defined $block->http_config;
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
    microcache_index mc;
_EOC_
    my $config = $block->config // '';
    $block->set_value('config', <<'_EOC_' . $config) unless defined $block->must_die;
    microcache on;
    microcache_litespeed on;
    location / {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_param ORIGIN_HEADER $http_x_h1;
        fastcgi_param ORIGIN_HEADER2 $http_x_h2;
        fastcgi_param ORIGIN_HEADER3 $http_x_h3;
        fastcgi_param ORIGIN_HEADER4 $http_x_h4;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status;
        add_header X-Key $microcache_key;
    }
    location /purge/ {
        microcache_purge mc;
    }
    location = /sleep {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/sleep.php;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
    location = /status {
        microcache_status;
    }
    location /dv/ {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/vary.php;
        fastcgi_param MC_KEY $microcache_key;
        fastcgi_param MC_SKIP $microcache_skip_reason;
        fastcgi_param MC_EXACT $http_x_exact;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: public, max-age: stored; the protocol's headers never reach the client, hits included
--- request eval
["GET /a/", "GET /a/", "HEAD /a/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.5,9ba_F,9ba_\nX-H3: X-LiteSpeed-Vary: cookie=_lscache_vary\nX-H4: X-LiteSpeed-Purge: public,9ba_nothing",
 "", ""]
--- response_headers eval
["X-Cache: MISS\n!X-LiteSpeed-Cache-Control\n!X-LiteSpeed-Tag\n!X-LiteSpeed-Vary\n!X-LiteSpeed-Purge",
 "X-Cache: HIT\n!X-LiteSpeed-Cache-Control\n!X-LiteSpeed-Tag\n!X-LiteSpeed-Vary\n!X-LiteSpeed-Purge",
 "X-Cache: MISS\n!X-LiteSpeed-Tag"]
--- raw_response_headers_unlike eval
[qr/litespeed/i, qr/litespeed/i, qr/litespeed/i]
--- no_error_log
[error]



=== TEST 2: max-age sets the lifetime; microcache_litespeed_max_age caps it
--- config
    location /capped/ {
        microcache_litespeed_max_age 1s;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param ORIGIN_HEADER $http_x_h1;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        add_header X-Cache $upstream_cache_status;
    }
--- request eval
["GET /short/", "GET /long/", "GET /capped/", "GET /short/", "GET /capped/",
 "GET /sleep?ms=2100",
 "GET /short/", "GET /long/", "GET /capped/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=1",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=3600",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=3600",
 "", "", "",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=1", "", "X-H1: X-LiteSpeed-Cache-Control: public,max-age=3600"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "",
 "X-Cache: EXPIRED", "X-Cache: HIT", "X-Cache: EXPIRED"]
--- no_error_log
[error]



=== TEST 3: no-cache, private, shared, max-age=0, not public, or nothing said: not stored
--- request eval
["GET /nc/", "GET /nc/", "GET /pr/", "GET /pr/", "GET /sh/", "GET /sh/", "GET /z/", "GET /z/",
 "GET /np/", "GET /np/", "GET /none/", "GET /none/", "GET /pub/", "GET /pub/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: no-cache", "X-H1: X-LiteSpeed-Cache-Control: no-cache",
 "X-H1: X-LiteSpeed-Cache-Control: private,max-age=1800", "X-H1: X-LiteSpeed-Cache-Control: private,max-age=1800",
 "X-H1: X-LiteSpeed-Cache-Control: shared,private,max-age=1800", "X-H1: X-LiteSpeed-Cache-Control: shared,private,max-age=1800",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=0", "X-H1: X-LiteSpeed-Cache-Control: public,max-age=0",
 "X-H1: X-LiteSpeed-Cache-Control: max-age=60", "X-H1: X-LiteSpeed-Cache-Control: max-age=60",
 "", "",
 "X-H1: X-LiteSpeed-Cache-Control: Public", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS",
 "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS",
 "X-Cache: MISS", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 4: a malformed Cache-Control is ignored (not stored), counted and logged; the response is whole
--- request eval
["GET /m1/", "GET /m1/", "GET /m2/", "GET /m2/", "GET /status"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=1h", "X-H1: X-LiteSpeed-Cache-Control: public,max-age=1h",
 "X-H1: X-LiteSpeed-Cache-Control: public,bogus", "", ""]
--- response_body_like eval
[qr/\AQUERY_STRING=\n.*RUN=/s, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/"origin":\{"stored":0,"not_stored":\{"unsaid":4,"no_cache":0,"private":0,"not_public":0,"zero_max_age":0,"vary":0\},"malformed":\{"cache_control":3,"vary":0,"purge":0\},"purges":0,"purges_dropped":0\}/]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", ""]
--- no_error_log
[error]



=== TEST 5: X-LiteSpeed-Tag gives the entry its tags: a tag purge takes those pages only
--- pipelined_requests eval
["GET /a/", "GET /b/", "GET /c/", "PURGE /purge/", "GET /a/", "GET /b/", "GET /c/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.5,9ba_F,9ba_",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.6,9ba_",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.5",
 "X-LiteSpeed-Tag: 9ba_Po.5", "", "", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","purged":2,"targets":\[\{"target":"tag:9ba_Po.5","purged":2\}\],"index":"used","elapsed_us":\d+\}\n\z/,
 qr/RUN=/, qr/RUN=/, qr/RUN=/]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "", "X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS"]
--- no_error_log
[error]



=== TEST 6: X-LiteSpeed-Purge on any upstream response purges its tags, before the response ends
--- pipelined_requests eval
["GET /a/", "GET /b/", "POST /edit/", "GET /a/", "GET /b/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.5,9ba_",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.6,9ba_",
 "X-H1: X-LiteSpeed-Purge: public,9ba_Po.5,9ba_nothing\nX-H2: X-LiteSpeed-Cache-Control: no-cache",
 "", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "!X-LiteSpeed-Purge", "X-Cache: MISS", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 7: stale makes the purge soft: the entry is marked expired, not deleted
--- request eval
["GET /a/", "GET /x/", "GET /a/", "GET /a/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.5",
 "X-H1: X-LiteSpeed-Purge: public,stale,9ba_Po.5",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: 9ba_Po.5", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: EXPIRED", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 8: private purges are dropped (logging out sends "private,*"); "*" alone purges everything
--- request eval
["GET /a/", "GET /b/", "GET /logout/", "GET /a/", "GET /all/", "GET /a/", "GET /b/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "X-H1: X-LiteSpeed-Purge: private,*", "",
 "X-H1: X-LiteSpeed-Purge: *", "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS"]
--- no_error_log
[error]



=== TEST 9: a page purge (query normalised), tag= items, X-LiteSpeed-Purge2 and several headers
--- request eval
["GET /p/?p=1", "GET /q/", "GET /r/", "GET /go/", "GET /p/?p=1", "GET /q/", "GET /r/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: t-q",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: t-r",
 "X-H1: X-LiteSpeed-Purge: public, /p/?utm_source=x&p=1\nX-H2: X-LiteSpeed-Purge2: public,tag=t-q\nX-H3: X-LiteSpeed-Purge: tag = t-r",
 "", "", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS"]
--- no_error_log
[error]



=== TEST 10: a malformed purge header purges nothing, is counted and logged; the response is whole
--- request eval
["GET /a/", "GET /x/", "GET /y/", "GET /a/", "GET /status"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: t1",
 "X-H1: X-LiteSpeed-Purge: public,t1,a=b",
 "X-H1: X-LiteSpeed-Purge: public,tag=,t1", "", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/"malformed":\{"cache_control":0,"vary":0,"purge":2\},"purges":0,"purges_dropped":0\}/]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT", ""]
--- no_error_log
[error]



=== TEST 11: a client's X-LiteSpeed-* request headers change nothing
--- request eval
["GET /a/", "GET /x/", "PURGE /purge/", "GET /a/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Tag: t1",
 "X-LiteSpeed-Purge: *\nX-LiteSpeed-Cache-Control: public,max-age=600\nX-LiteSpeed-Vary: cookie=x",
 "X-LiteSpeed-Purge: public,t1",
 ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "", "X-Cache: HIT"]
--- error_code eval
[200, 200, 404, 200]
--- no_error_log
[error]



=== TEST 12: the vary cookie is part of the key: each role has its own entry; the origin sees the cookie
--- request eval
["GET /v/", "GET /v/", "GET /v/", "GET /v/", "GET /v/", "GET /v/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "Cookie: wordpress_logged_in_1=sub; _lscache_vary=r1\nX-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "Cookie: _lscache_vary=r1",
 "Cookie: _lscache_vary=r99\nX-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "", "Cookie: a=1; _lscache_vary=r99"]
--- response_headers eval
["X-Cache: MISS\nX-Key: httpGETlocalhost/v/", "X-Cache: MISS\nX-Key: httpGETlocalhost/v/#r1",
 "X-Cache: HIT\nX-Key: httpGETlocalhost/v/#r1", "X-Cache: MISS\nX-Key: httpGETlocalhost/v/#r99",
 "X-Cache: HIT\nX-Key: httpGETlocalhost/v/", "X-Cache: HIT\nX-Key: httpGETlocalhost/v/#r99"]
--- response_body_like eval
[qr/COOKIE=\[\]/, qr/COOKIE=\{"wordpress_logged_in_1":"sub","_lscache_vary":"r1"\}/,
 qr/COOKIE=\{"wordpress_logged_in_1":"sub","_lscache_vary":"r1"\}/, qr/COOKIE=\{"_lscache_vary":"r99"\}/,
 qr/COOKIE=\[\]/, qr/COOKIE=\{"_lscache_vary":"r99"\}/]
--- no_error_log
[error]



=== TEST 13: two cookies PHP could read as the vary cookie: the request skips the cache
--- request eval
["GET /v/", "GET /v/"]
--- more_headers eval
["Cookie: _lscache_vary=r1; _lscache.vary=r99\nX-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "Cookie: _lscache_vary=r1"]
--- response_headers eval
["X-Cache: BYPASS", "X-Cache: MISS"]
--- no_error_log
[error]



=== TEST 14: X-LiteSpeed-Vary: only the vary cookie is in the key; other cookies or bad values keep the response out
--- request eval
["GET /a/", "GET /a/", "GET /b/", "GET /b/", "GET /c/", "GET /c/", "GET /status"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Vary: cookie=_lscache_vary", "",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Vary: cookie=_lscache_vary,cookie=wp-postpass_1a2b", "",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: X-LiteSpeed-Vary: value=mobile", "", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/"origin":\{"stored":1,"not_stored":\{"unsaid":2,"no_cache":0,"private":0,"not_public":0,"zero_max_age":0,"vary":2\},"malformed":\{"cache_control":0,"vary":1,"purge":0\}/]
--- no_error_log
[error]



=== TEST 15: a page purge takes every variant of the page, through the index
--- request eval
["GET /v/", "GET /v/", "GET /v/", "GET /v/x", "PURGE /purge/v/", "GET /v/x"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "Cookie: _lscache_vary=r1\nX-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "Cookie: _lscache_vary=r99\nX-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "Cookie: _lscache_vary=r1\nX-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "", "Cookie: _lscache_vary=r1"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/v\/","mode":"hard","purged":3,/, qr/RUN=/]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 16: a vary'd request is stored only under a key computed with microcache_litespeed on
--- config
    location /off/ {
        microcache_litespeed off;
        rewrite ^/off/(.*)$ /on/$1 last;
    }
    location /on/ {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param ORIGIN_HEADER $http_x_h1;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        add_header X-Cache $upstream_cache_status;
        add_header X-Key $microcache_key;
    }
--- request eval
["GET /off/p/", "GET /off/p/", "GET /off/q/", "GET /off/q/"]
--- more_headers eval
["Cookie: _lscache_vary=r1\nX-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "Cookie: _lscache_vary=r1",
 "X-H1: X-LiteSpeed-Cache-Control: public,max-age=600", ""]
--- response_headers eval
["X-Cache: MISS\nX-Key: httpGETlocalhost/off/p/", "X-Cache: MISS",
 "X-Cache: MISS\nX-Key: httpGETlocalhost/off/q/", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 17: microcache_purge_header: any origin purges by response header, the header hidden
--- config
    location /generic/ {
        microcache_litespeed off;
        microcache_purge_header X-Microcache-Purge;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param ORIGIN_HEADER $http_x_h1;
        fastcgi_param ORIGIN_HEADER2 $http_x_h2;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        add_header X-Cache $upstream_cache_status;
    }
--- request eval
["GET /generic/a/?q=1", "GET /generic/b/", "GET /generic/c/", "GET /generic/go/", "GET /generic/a/?q=1", "GET /generic/b/", "GET /generic/c/",
 "GET /generic/go/", "GET /generic/c/"]
--- more_headers eval
["", "X-H1: Surrogate-Key: post-12", "",
 "X-H1: X-Microcache-Purge: tag=post-12, /generic/a/?q=1",
 "", "", "",
 "X-Microcache-Purge: /generic/c/", ""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS\n!X-Microcache-Purge",
 "X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT",
 "X-Cache: HIT\n!X-Microcache-Purge", "X-Cache: HIT"]
--- no_error_log
[error]



=== TEST 18: a purge header in a location without a cache zone is ignored and logged
--- config
    location /nocache/ {
        microcache_purge_header X-Microcache-Purge;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param ORIGIN_HEADER $http_x_h1;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
--- request
GET /nocache/
--- more_headers
X-H1: X-Microcache-Purge: *
--- response_headers
!X-Microcache-Purge
--- error_log
purge headers of a response ignored: its location has no cache zone
--- no_error_log
[error]



=== TEST 19: the counters: stored, not stored by reason, purges started
--- request eval
["GET /a/", "GET /b/", "GET /c/", "GET /status", "GET /status?format=prometheus"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600",
 "X-H1: X-LiteSpeed-Cache-Control: no-cache\nX-H2: X-LiteSpeed-Purge: public,stale,t;private,x\nX-H3: X-LiteSpeed-Purge2: t2",
 "X-H1: X-LiteSpeed-Cache-Control: private", "", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/"origin":\{"stored":1,"not_stored":\{"unsaid":0,"no_cache":1,"private":1,"not_public":0,"zero_max_age":0,"vary":0\},"malformed":\{"cache_control":0,"vary":0,"purge":0\},"purges":2,"purges_dropped":0\}\}\n\z/,
 qr/microcache_origin_stored_total 1\n.*microcache_origin_not_stored_total\{reason="no_cache"\} 1\n.*microcache_origin_purges_total\{result="started"\} 2\n/s]
--- no_error_log
[error]



=== TEST 20: a purge a response asked for is logged like a purge request, naming the request
--- request
POST /edit/
--- more_headers
X-H1: X-LiteSpeed-Purge: public,stale,9ba_Po.5;private,*
X-H2: X-LiteSpeed-Purge2: 9ba_F
--- error_log eval
[qr/microcache: soft purge of "tag:9ba_Po.5" \(asked by the response to "POST \/edit\/ HTTP\/1.1"\): 0 entries in \d+ us \(index: used\)/,
 qr/microcache: hard purge of "tag:9ba_F" \(asked by the response to "POST \/edit\/ HTTP\/1.1"\): 0 entries in \d+ us \(index: used\)/]
--- no_error_log
[error]



=== TEST 21: malformed headers are logged with the reason and the value
--- request
GET /a/
--- more_headers
X-H1: X-LiteSpeed-Cache-Control: public,max-age=1h
X-H2: X-LiteSpeed-Purge: public,t1,a=b
X-H3: X-LiteSpeed-Vary: cookie=
X-H4: X-LiteSpeed-Cache-Control: public,bogus
--- error_log
malformed X-LiteSpeed-Cache-Control ignored (max-age is not a number): "public,max-age=1h"
malformed X-LiteSpeed-Cache-Control ignored (an unknown item): "public,bogus"
malformed X-LiteSpeed-Purge ignored (a tag cannot hold spaces, controls, ",", ";" or "="): "public,t1,a=b"
malformed X-LiteSpeed-Vary ignored (an empty cookie name): "cookie="
--- no_error_log
[error]



=== TEST 22: the vary cookie as the module reads it is the one PHP reads (differential, 300 requests)
--- request eval
[map { "GET /dv/$_" } 0 .. $#::VaryRequests]
--- more_headers eval
[@::VaryRequests]
--- response_body_like eval
[(qr/\AAGREE/) x @::VaryRequests]
--- no_error_log
[error]



=== TEST 23: what the origin marks public is stored even if its Cache-Control says no-cache (WordPress, logged in); clients still get that header
--- config
    location /wp/ {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param ORIGIN_HEADER $http_x_h1;
        fastcgi_param ORIGIN_HEADER2 $http_x_h2;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_ignore_headers Cache-Control Expires;
        fastcgi_no_cache $upstream_http_cache_control;
        add_header X-Cache $upstream_cache_status;
    }
--- request eval
["GET /wp/public/", "GET /wp/public/", "GET /wp/unsaid/", "GET /wp/unsaid/"]
--- more_headers eval
["X-H1: X-LiteSpeed-Cache-Control: public,max-age=600\nX-H2: Cache-Control: no-cache, must-revalidate, max-age=0",
 "",
 "X-H2: Cache-Control: no-cache, must-revalidate, max-age=0",
 "X-H2: Cache-Control: no-cache, must-revalidate, max-age=0"]
--- response_headers eval
["X-Cache: MISS\nCache-Control: no-cache, must-revalidate, max-age=0", "X-Cache: HIT",
 "X-Cache: MISS", "X-Cache: MISS"]
--- no_error_log
[error]



=== TEST 24: microcache_litespeed takes on or off
--- config
    microcache_litespeed maybe;
--- must_die
--- error_log
invalid value "maybe" in "microcache_litespeed" directive, it must be "on" or "off"



=== TEST 25: microcache_litespeed_max_age takes a time of at least a second
--- config
    microcache_litespeed_max_age 0;
--- must_die
--- error_log
invalid value "0" in "microcache_litespeed_max_age" directive, it must be a time of at least one second, such as 1d or 3600



=== TEST 26: microcache_litespeed_max_age rejects what is not a time
--- config
    microcache_litespeed_max_age 1x;
--- must_die
--- error_log
invalid value "1x" in "microcache_litespeed_max_age" directive



=== TEST 27: microcache_purge_header takes a header name
--- config
    microcache_purge_header "X Purge";
--- must_die
--- error_log
invalid value "X Purge" in "microcache_purge_header" directive, not a header name
