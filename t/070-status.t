# microcache_status (README: "microcache_status"): counters exact across worker processes, as JSON and as
# Prometheus text.
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
repeat_each(1);   # the counters accumulate over the requests of a block
no_shuffle();

run_tests();

__DATA__

=== TEST 1: every counter, counted once per request, across two workers
--- http_config
    proxy_cache_path px_cache levels=1:2 keys_zone=px:1m;
    server {
        listen unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        location / {
            return 200 "backend $request_uri\n";
        }
    }
--- config
    location /app {
        microcache on;
        microcache_max_args 4;
        microcache_bypass_uri /app/admin/;
        microcache_bypass_cookies sess;
        microcache_bypass_args nocache;
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/backend.sock;
        proxy_cache px;
        proxy_cache_key $microcache_key;
        proxy_cache_valid 200 1m;
    }
    location /try {
        microcache on;
        try_files /none /app$uri?$args;
    }
    location /purge/ {
        microcache_purge px;
    }
    location = /status {
        microcache_status;
    }
--- request eval
["GET /app?utm_source=1&p=1",
 "GET /app?p=1",
 "GET /app?gclid=1&fbclid=2",
 "POST /app",
 "GET /app",
 "GET /app/admin/",
 "GET /app?a=1&b=2&c=3&d=4&e=5",
 "GET /app?nocache=1",
 "GET /app",
 "GET /try/x?utm_term=1",
 "GET /purge/app?p=1",
 "GET /purge/app?p=1",
 "GET /status",
 "GET /status?format=prometheus"]
--- more_headers eval
["", "", "", "", "Cookie: sess=1", "", "", "", "Authorization: Basic x", "", "", "", "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 404, 200, 200]
--- response_headers eval
["", "", "", "", "", "", "", "", "", "", "", "", "Content-Type: application/json",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- response_body eval
[qr/backend/, qr/backend/, qr/backend/, qr/backend/, qr/backend/, qr/backend/, qr/backend/,
 qr/backend/, qr/backend/, qr/backend/, qr/purged/, qr/purged/,
 qr/\A\Q{"requests":10,"rewritten":3,"stripped_args":4,"skips":{"method":1,"uri":1,"cookie":1,"arg":1,"header":1,"body":0,"limit":1,"hydrate":0},"purges":{"purged":1,"not_found":1,"failed":0},"purged_entries":1,"purged_by":{"key":{"hard":1,"soft":0},"prefix":{"hard":0,"soft":0},"tag":{"hard":0,"soft":0},"zone":{"hard":0,"soft":0}},"purge_latency_us":{"buckets":{"100":\E\d+,.*,"\+Inf":2\},"sum":\d+,"count":2\},"indexes":\{\},\Q"origin":{"stored":0,"not_stored":{"unsaid":0,"no_cache":0,"private":0,"not_public":0,"zero_max_age":0,"vary":0},"malformed":{"cache_control":0,"vary":0,"purge":0},"purges":0,"purges_dropped":0}}\E\n\z/s,
 qr/\A\Q# HELP microcache_requests_total Requests in a microcache on scope.
# TYPE microcache_requests_total counter
microcache_requests_total 10
# HELP microcache_rewritten_total Requests whose query string was rewritten.
# TYPE microcache_rewritten_total counter
microcache_rewritten_total 3
# HELP microcache_stripped_args_total Query arguments removed.
# TYPE microcache_stripped_args_total counter
microcache_stripped_args_total 4
# HELP microcache_skips_total Requests that skipped the cache, by first matching rule.
# TYPE microcache_skips_total counter
microcache_skips_total{reason="method"} 1
microcache_skips_total{reason="uri"} 1
microcache_skips_total{reason="cookie"} 1
microcache_skips_total{reason="arg"} 1
microcache_skips_total{reason="header"} 1
microcache_skips_total{reason="body"} 0
microcache_skips_total{reason="limit"} 1
microcache_skips_total{reason="hydrate"} 0
# HELP microcache_purges_total Purge requests, by result.
# TYPE microcache_purges_total counter
microcache_purges_total{result="purged"} 1
microcache_purges_total{result="not_found"} 1
microcache_purges_total{result="failed"} 0
# HELP microcache_purged_entries_total Cache entries removed by purges.
# TYPE microcache_purged_entries_total counter
microcache_purged_entries_total 1
# HELP microcache_purged_by_kind_total Cache entries purged, by what selected them and mode.
# TYPE microcache_purged_by_kind_total counter
microcache_purged_by_kind_total{kind="key",mode="hard"} 1
microcache_purged_by_kind_total{kind="key",mode="soft"} 0
microcache_purged_by_kind_total{kind="prefix",mode="hard"} 0
microcache_purged_by_kind_total{kind="prefix",mode="soft"} 0
microcache_purged_by_kind_total{kind="tag",mode="hard"} 0
microcache_purged_by_kind_total{kind="tag",mode="soft"} 0
microcache_purged_by_kind_total{kind="zone",mode="hard"} 0
microcache_purged_by_kind_total{kind="zone",mode="soft"} 0
# HELP microcache_purge_duration_seconds Server time of purge requests.
# TYPE microcache_purge_duration_seconds histogram
\E(?:microcache_purge_duration_seconds_bucket\{le="[0-9.]+"\} \d+\n)+\Qmicrocache_purge_duration_seconds_bucket{le="+Inf"} 2
\Emicrocache_purge_duration_seconds_sum [0-9.]+\nmicrocache_purge_duration_seconds_count 2\n(?:# (?:HELP|TYPE) microcache_index_\w+ .*\n)+\z/s]
--- no_error_log
[error]



=== TEST 2: only GET and HEAD; the body is discarded
--- config
    location = /status {
        microcache_status;
    }
--- request eval
["POST /status\nhello", "HEAD /status", "GET /status?format=json"]
--- error_code eval
[405, 200, 200]
--- response_headers eval
["Allow: GET, HEAD", "Content-Type: application/json", "Content-Type: application/json"]
--- response_body eval
[qr/405 Not Allowed/, "", qr/\A\{"requests":0,/]



=== TEST 3: many requests, one connection each, over two workers add up exactly
--- config
    location /n {
        microcache on;
        return 204;
    }
    location = /status {
        microcache_status;
    }
--- request eval
[(map { "GET /n?utm_source=$_&k=$_" } 1 .. 60), "GET /status"]
--- error_code eval
[(204) x 60, 200]
--- response_body_like eval
[("^\$") x 60, qr/\A\{"requests":60,"rewritten":60,"stripped_args":60,/]



=== TEST 4: the module's own locations are not site traffic, even under "microcache on"
--- http_config
    proxy_cache_path px_cache keys_zone=px:1m;
--- config
    microcache on;
    location /purge/ {
        microcache_purge px;
    }
    location = /status {
        microcache_status;
    }
--- request eval
["PURGE /purge/x?utm_source=1", "GET /status?utm_source=1", "GET /status"]
--- error_code eval
[404, 200, 200]
--- response_body_like eval
[qr/purged/, qr/\A\{"requests":0,"rewritten":0,"stripped_args":0,"skips":\{"method":0,/,
 qr/\A\{"requests":0,.*"purges":\{"purged":0,"not_found":1,/]
