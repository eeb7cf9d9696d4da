# Bad configuration fails `nginx -t` with the directive and the value named (README:
# "Directives", the values each one accepts).
# In a must_die block, error_log is matched against the error log, as with the real Test::Nginx.
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();

run_tests();

__DATA__

=== TEST 1: max_args out of range
--- config
    microcache_max_args 0;
--- must_die
--- error_log
invalid value "0" in "microcache_max_args" directive, it must be a number from 1 to 1024



=== TEST 2: max_args not a number
--- config
    microcache_max_args 12k;
--- must_die
--- error_log
invalid value "12k" in "microcache_max_args" directive



=== TEST 3: a flag that is neither on nor off
--- config
    microcache yes;
--- must_die
--- error_log
invalid value "yes" in "microcache" directive, it must be "on" or "off"



=== TEST 4: a regex that does not compile names the pattern and the reason
--- config
    microcache_bypass_uri /ok/ ~^/(cart|checkout;
--- must_die
--- error_log
invalid regex "~^/(cart|checkout" in "microcache_bypass_uri" directive, unclosed group



=== TEST 5: a path rule that is neither a prefix nor a regex
--- config
    microcache_bypass_uri wp-admin;
--- must_die
--- error_log
invalid value "wp-admin" in "microcache_bypass_uri" directive, a prefix starts with "/", a regex with "~" or "~*"



=== TEST 6: an argument name cannot contain "="
--- config
    microcache_strip_args utm_source=x;
--- must_die
--- error_log
invalid value "utm_source=x" in "microcache_strip_args" directive, a name cannot contain spaces, controls, "&", "=" or ";"



=== TEST 7: "off" mixed with patterns
--- config
    microcache_bypass_cookies sess off;
--- must_die
--- error_log
invalid value "off" in "microcache_bypass_cookies" directive, "off" must be the only argument



=== TEST 8: methods are upper case
--- config
    microcache_bypass_methods post;
--- must_die
--- error_log
invalid value "post" in "microcache_bypass_methods" directive, a method is written in upper case, like POST



=== TEST 9: a header name with a colon
--- config
    microcache_bypass_headers X-Foo:;
--- must_die
--- error_log
invalid value "X-Foo:" in "microcache_bypass_headers" directive, not a header name



=== TEST 10: a directive given twice at one level
--- config
    microcache_strip_args foo;
    microcache_strip_args bar;
--- must_die
--- error_log
"microcache_strip_args" directive is duplicate



=== TEST 11: the module's directives are not allowed inside "if"
--- config
    location /x {
        if ($arg_a) {
            microcache on;
        }
    }
--- must_die
--- error_log
"microcache" directive is not allowed here



=== TEST 12: purging an unknown zone
--- config
    location /purge/ {
        microcache_purge nosuchzone;
    }
--- must_die
--- error_log
unknown cache zone "nosuchzone" in "microcache_purge" directive



=== TEST 13: purging a zone that is not a cache
--- http_config
    limit_req_zone $binary_remote_addr zone=perip:1m rate=1r/s;
--- config
    location /purge/ {
        microcache_purge perip;
    }
--- must_die
--- error_log
zone "perip" in "microcache_purge" directive is not a fastcgi_cache_path or proxy_cache_path zone



=== TEST 14: the keyless purge needs a prefix or exact location
--- http_config
    fastcgi_cache_path mc_cache keys_zone=mc:1m;
--- config
    location ~ ^/purge(/.*) {
        microcache_purge mc;
    }
--- must_die
--- error_log
"microcache_purge" without a key needs a prefix or exact location such as "location /purge/"



=== TEST 15: purge and status are location-only
--- config
    microcache_status;
--- must_die
--- error_log
"microcache_status" directive is not allowed here



=== TEST 16: purge and status cannot share a location
--- http_config
    fastcgi_cache_path mc_cache keys_zone=mc:1m;
--- config
    location /purge/ {
        microcache_purge mc;
        microcache_status;
    }
--- must_die
--- error_log
"microcache_status" cannot be combined with "microcache_purge" in one location



=== TEST 17: a second microcache_status in one location is a duplicate
--- config
    location = /status {
        microcache_status;
        microcache_status;
    }
--- must_die
--- error_log
"microcache_status" directive is duplicate



=== TEST 18: a purge location cannot also proxy: the request would be answered by only one
--- http_config
    proxy_cache_path px_cache keys_zone=px:1m;
--- config
    location /purge/ {
        microcache_purge px;
        proxy_pass http://127.0.0.1:9;
    }
--- must_die
--- error_log
"microcache_purge" cannot be combined with proxy_pass, fastcgi_pass or another directive that answers the request in location "/purge/"



=== TEST 19: the same, whichever comes first
--- config
    location = /status {
        fastcgi_pass 127.0.0.1:9;
        microcache_status;
    }
--- must_die
--- error_log
"microcache_status" cannot be combined with proxy_pass, fastcgi_pass or another directive that answers the request in location "/status"



=== TEST 20: a cache zone named like the module's counters zone says which module needs the name
--- http_config
    fastcgi_cache_path mc_cache keys_zone=microcache_counters:1m;
--- config
    microcache on;
--- must_die
--- error_log
the shared memory zone "microcache_counters" is used by ngx_http_microcache_module for its counters: give the other zone another name



=== TEST 21: a valid configuration with every directive passes
--- http_config
    fastcgi_cache_path mc_cache keys_zone=mc:1m;
    microcache on;
    microcache_strip_args default ref aff;
    microcache_keep_args off;
    microcache_sort_args off;
    microcache_max_args 1024;
    microcache_bypass_methods POST PUT PATCH DELETE;
    microcache_bypass_uri /wp-admin/ ~*/(cart|checkout)/;
    microcache_bypass_cookies wordpress_logged_in_* wp-postpass_*;
    microcache_bypass_args add-to-cart;
    microcache_bypass_headers Authorization;
--- config
    location /purge/ { microcache_purge mc; }
    location ~ /purgekey(/.*) { microcache_purge mc "$scheme$request_method$host$1"; }
    location = /status { microcache_status; }
--- request
GET /status
--- error_code: 200
--- no_error_log
[emerg]



=== TEST 17: a Unicode class in a path regex says what to write instead
--- config
    microcache_bypass_uri ~^/\pL+/$;
--- must_die
--- error_log
invalid regex "~^/\pL+/$" in "microcache_bypass_uri" directive, Unicode not allowed here: patterns match bytes as in nginx's PCRE, without Unicode: \d, \w, \s and \b are ASCII; write characters or byte ranges instead of \p{..}
