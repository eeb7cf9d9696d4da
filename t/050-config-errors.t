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



=== TEST 21: a hydration selector that does not parse names the directive and the selector
--- config
    microcache_hydrate_text "div[" cart.count;
--- must_die
--- error_log
invalid selector "div[" in "microcache_hydrate_text" directive



=== TEST 22: a hydration field path that does not parse
--- config
    microcache_hydrate_text .count "cart..count";
--- must_die
--- error_log
invalid field "cart..count" in "microcache_hydrate_text" directive



=== TEST 23: a hydration template that does not parse
--- config
    microcache_hydrate_attr a.cart title "Cart ({cart.count)";
--- must_die
--- error_log
invalid template "Cart ({cart.count)" in "microcache_hydrate_attr" directive



=== TEST 24: a template that could set the scheme of a URL attribute
--- config
    microcache_hydrate_attr a.cart href "{cart.url}";
--- must_die
--- error_log
invalid template "{cart.url}" in "microcache_hydrate_attr" directive, a field can set the scheme of "href"



=== TEST 25: an attribute whose value is code
--- config
    microcache_hydrate_attr img onerror "{x}";
--- must_die
--- error_log
invalid attribute "onerror" in "microcache_hydrate_attr" directive, its value is code, which escaping cannot make safe



=== TEST 26: a script name that is not a JavaScript identifier
--- config
    microcache_hydrate_script "cart-state";
--- must_die
--- error_log
invalid name "cart-state" in "microcache_hydrate_script" directive



=== TEST 27: one script per level
--- config
    microcache_hydrate_script cart;
    microcache_hydrate_script shop;
--- must_die
--- error_log
"microcache_hydrate_script" directive is duplicate



=== TEST 28: a state URI that is not a path
--- config
    microcache_hydrate state.php;
--- must_die
--- error_log
invalid URI "state.php" in "microcache_hydrate" directive, a subrequest URI starts with "/"



=== TEST 29: microcache_hydrate_max_size out of range
--- config
    microcache_hydrate_max_size 2m;
--- must_die
--- error_log
invalid value "2m" in "microcache_hydrate_max_size" directive, it must be a size from 1 to 1m



=== TEST 30: microcache_hydrate_fallback is skeleton or origin
--- config
    microcache_hydrate_fallback cache;
--- must_die
--- error_log
invalid value "cache" in "microcache_hydrate_fallback" directive, it must be "skeleton" or "origin"



=== TEST 31: microcache_hydrate_cache_control with a line break
--- config
    microcache_hydrate_cache_control "private
X-Injected: 1";
--- must_die
--- error_log
in "microcache_hydrate_cache_control" directive, a header value is not empty and has no control characters



=== TEST 32: a valid configuration with every directive passes
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
    microcache_hydrate_script cart;
    microcache_hydrate_text ".mini-cart .count" cart.count;
    microcache_hydrate_attr a.cart-contents data-count "{cart.count}";
    microcache_hydrate_attr a.cart-contents href "/cart/?n={cart.count}";
    microcache_hydrate_max_size 16k;
    microcache_hydrate_fallback origin;
    microcache_hydrate_cache_control "private, max-age=0";
--- config
    location /shop/ { microcache_hydrate /state$uri?d=$cookie_district; }
    location /plain/ { microcache_hydrate off; microcache_hydrate_cache_control off; }
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
