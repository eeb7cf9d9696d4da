# Self-test of the project's Test::Nginx::Socket (t/lib) and of the PHP-FPM
# origin (t/php/echo.php). It does not load the microcache module: run it
# with `t/run-tests.sh NGINX - t/000-harness.t`.
use Test::Nginx::Socket;

master_on();
workers(2);
worker_connections(128);
no_shuffle();     # TEST 8 reuses the nginx of TEST 7 (no --- config)
no_long_string();
env_to_nginx('TEST_NGINX_PHP_ROOT');
repeat_each(1);   # a repetition would see TEST 5's cache already warm

plan tests => repeat_each() * 85;

# Every block without its own http_config gets this one.
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->http_config) {
        $block->set_value('http_config', "    # default http_config from add_block_preprocessor\n");
    }
});

run_tests();

__DATA__

=== TEST 1: user_files (with mtime), response_body, exact and absent response_headers, HEAD
--- user_files
>>> hello.txt
hello world
>>> sub/dir/deep.txt 202001020304.05
deep
--- config
    location = /multi { add_header X-A 1; add_header X-A 2; return 200 "multi\n"; }
--- request eval
["GET /hello.txt", "GET /sub/dir/deep.txt", "GET /multi", "HEAD /hello.txt"]
--- response_headers eval
["Content-Type: text/plain\nContent-Length: 12\n!X-Cache",
 "Last-Modified: Thu, 02 Jan 2020 03:04:05 GMT",
 "X-A: 1, 2",
 "Content-Length: 12"]
--- response_body eval
["hello world\n", "deep\n", "multi\n", ""]
--- no_error_log
[error]
[warn]



=== TEST 2: PHP origin: GET, two Cookie lines over HTTP/1.1 (nginx >= 1.23 joins them)
--- skip_nginx: 2: < 1.23.0
--- config
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
--- request
GET /echo.php?utm_source=x&a=1&a[]=2
--- more_headers
Cookie: a=1
Cookie: b=2
--- response_body_like chomp
\AQUERY_STRING=utm_source=x&a=1&a\[\]=2
REQUEST_URI=/echo.php\?utm_source=x&a=1&a\[\]=2
REQUEST_METHOD=GET
GET=\{"utm_source":"x","a":\["2"\]\}
COOKIE=\{"a":"1","b":"2"\}
RUN=\d+-\d+-[0-9a-f]{8}
\z



=== TEST 3: two Cookie lines over HTTP/1.1 are sent separately (nginx < 1.23 passes the last one to FastCGI)
--- skip_nginx: 2: >= 1.23.0
--- config
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
--- request
GET /echo.php
--- more_headers
Cookie: a=1
Cookie: b=2
--- response_body_like chomp
^QUERY_STRING=\nREQUEST_URI=/echo.php\nREQUEST_METHOD=GET\nGET=\[\]\nCOOKIE=\{"b":"2"\}\n



=== TEST 4: HTTP/2 (curl) with two cookie header fields reaching PHP; curl_options
--- http2
--- curl_options: -g
--- config
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
    location = /proto { return 200 "$server_protocol $http_cookie\n"; }
--- request eval
["GET /echo.php?a[]=1&a[]=2", "GET /proto"]
--- more_headers
Cookie: a=1
Cookie: b=2
--- raw_response_headers_like eval
["^HTTP/2 200", "^HTTP/2 200"]
--- response_body eval
[qr/^QUERY_STRING=a\[\]=1&a\[\]=2\n.*^GET=\{"a":\["1","2"\]\}\nCOOKIE=\{"a":"1","b":"2"\}\n/sm,
 "HTTP/2.0 a=1; b=2\n"]



=== TEST 5: fastcgi_cache MISS then HIT; the origin ran once (ORIGIN_LOG)
--- http_config
    fastcgi_cache_path mc_cache levels=1:2 keys_zone=mc:1m;
--- config
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache mc;
        fastcgi_cache_key $scheme$host$request_uri;
        fastcgi_cache_valid 200 1m;
        add_header X-Cache $upstream_cache_status;
    }
--- request eval
["GET /echo.php?x=1", "GET /echo.php?x=1", "HEAD /echo.php?x=1", "GET /origin.log"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "!X-Cache"]
--- response_body eval
[qr/\AQUERY_STRING=x=1\n/, qr/\AQUERY_STRING=x=1\n/, "", "/echo.php?x=1\n"]
--- no_error_log
[error]



=== TEST 6: ORIGIN_SET_COOKIE, POST body, error_code_like, response_headers_like, response_body_unlike
--- config
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param ORIGIN_SET_COOKIE 1;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
--- request
POST /echo.php?p=1
hello=world
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code_like: ^2\d\d$
--- response_headers_like
Set-Cookie: origin=1
Content-Type: text/plain.*
--- response_body_unlike: REQUEST_METHOD=(?!POST)



=== TEST 7: main_config, post_main_config, pipelined_requests
--- main_config
    worker_rlimit_nofile 1024;
--- post_main_config
    worker_shutdown_timeout 5s;
--- user_files
>>> a.txt
A
>>> b.txt
BB
--- config
--- pipelined_requests eval
["GET /a.txt", "GET /b.txt"]
--- response_headers eval
["Content-Length: 2", "Content-Length: 3"]
--- response_body eval
["A\n", "BB\n"]



=== TEST 8: no --- config: the nginx of the previous block is reused
--- request
GET /b.txt
--- response_body
BB



=== TEST 9: raw_request, chunked response, raw_response_headers_like/unlike
--- config
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
--- raw_request eval
"GET /echo.php?raw=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n(?:.*\r\n)*Transfer-Encoding: chunked\r\n
--- raw_response_headers_unlike: Content-Length
--- response_body_like: \AQUERY_STRING=raw=1\nREQUEST_URI=/echo\.php\?raw=1\n



=== TEST 10: a request with a comment line and HTTP/1.0
--- user_files
>>> hello.txt
hello
--- config
--- request
# a comment line is not part of the request
GET /hello.txt HTTP/1.0
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n(?:.*\r\n)*Connection: close\r\n
--- response_body
hello



=== TEST 11: error_code, error_log (string and regex), grep_error_log, log_level
--- log_level: info
--- config
--- request
GET /missing.txt
--- error_code: 404
--- error_log eval
[qr/\[error\] \d+#\d+: \*\d+ open\(\) ".*\/html\/missing\.txt" failed \(2: No such file or directory\)/,
 'client: 127.0.0.1, server: localhost, request: "GET /missing.txt HTTP/1.1"']
--- grep_error_log eval: qr/No such file or directory/
--- grep_error_log_out
No such file or directory



=== TEST 12: ignore_response (444 closes without a response), timeout, wait, no_check_leak
--- config
    location = /close { return 444; }
--- request
GET /close
--- ignore_response
--- timeout: 2s
--- wait: 0.1
--- no_check_leak
--- no_error_log
[alert]
[crit]



=== TEST 13: must_die with a bad directive; the [emerg] line is matched
--- config
    location = /t { no_such_directive on; }
--- must_die
--- error_log
[emerg]
unknown directive "no_such_directive"



=== TEST 14: must_die with the expected exit code; regex error_log
--- config
    keepalive_timeout abc;
--- must_die: 1
--- error_log eval
qr/\[emerg\] \d+#\d+: "keepalive_timeout" directive invalid value in \S+nginx\.conf:\d+/



=== TEST 15: skip_eval (false: the block runs) and $TEST_NGINX_* in user_files
--- skip_eval: 2: 0
--- user_files
>>> port.txt
port $TEST_NGINX_SERVER_PORT
--- config
    location = /port { return 200 "port $server_port\n"; }
--- request eval
["GET /port.txt", "GET /port"]
--- response_body eval
["port $ENV{TEST_NGINX_SERVER_PORT}\n", "port \$TEST_NGINX_SERVER_PORT\n"]



=== TEST 16: HTTP/2 sends each Cookie line as its own header field (visible in debug logs)
--- skip_eval: 3: `$ENV{TEST_NGINX_BINARY} -V 2>&1` !~ /--with-debug/
--- http2
--- log_level: debug
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- more_headers
Cookie: a=1
Cookie: b=2
--- error_log
http2 header: "cookie: a=1"
http2 header: "cookie: b=2"
