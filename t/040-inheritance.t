# Directives at http, server and location level: inheritance, and lists that replace.
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();

run_tests();

__DATA__

=== TEST 1: http-level settings reach every location; a location may switch off
--- http_config
    microcache on;
    microcache_strip_args foo_*;
    microcache_sort_args on;
--- config
    location /inherit {
        return 200 "args=$args\n";
    }
    location /off {
        microcache off;
        return 200 "args=$args margs=$microcache_args\n";
    }
--- request eval
["GET /inherit?z=1&foo_a=2&a=3&utm_source=4", "GET /off?z=1&foo_a=2&a=3"]
--- response_body eval
["args=a=3&utm_source=4&z=1\n", "args=z=1&foo_a=2&a=3 margs=a=3&z=1\n"]



=== TEST 2: a list set in a location replaces the inherited one, other settings stay inherited
--- http_config
    microcache on;
    microcache_strip_args foo;
    microcache_bypass_cookies sess;
--- config
    microcache_bypass_uri /admin/;
    location /loc {
        microcache_strip_args bar;
        return 200 "args=$args skip=$microcache_skip_reason\n";
    }
    location /admin/ {
        microcache_bypass_cookies other;
        return 200 "args=$args skip=$microcache_skip_reason\n";
    }
--- request eval
["GET /loc?foo=1&bar=2", "GET /loc?foo=1", "GET /admin/x?foo=1&bar=2"]
--- more_headers eval
["", "Cookie: sess=1", "Cookie: sess=1"]
--- response_body eval
["args=foo=1 skip=\n", "args=foo=1 skip=cookie\n", "args=bar=2 skip=uri\n"]



=== TEST 3: off clears inherited lists: strip, keep, bypass
--- http_config
    microcache on;
    microcache_keep_args p;
    microcache_bypass_headers Authorization X-Preview;
    microcache_bypass_args nocache;
--- config
    location /kept {
        return 200 "args=$args skip=$microcache_skip_reason\n";
    }
    location /cleared {
        microcache_keep_args off;
        microcache_strip_args off;
        microcache_bypass_headers off;
        microcache_bypass_args off;
        return 200 "args=$args skip=$microcache_skip_reason\n";
    }
--- request eval
["GET /kept?p=1&q=2&nocache=1", "GET /kept?p=1", "GET /cleared?p=1&q=2&utm_source=3&nocache=1"]
--- more_headers eval
["", "X-Preview: 1", "X-Preview: 1\nAuthorization: Basic x"]
--- response_body eval
["args=p=1 skip=\n", "args=p=1 skip=header\n", "args=p=1&q=2&utm_source=3&nocache=1 skip=\n"]



=== TEST 4: server-level settings, and max_args inherited into a nested location
--- config
    microcache on;
    microcache_max_args 2;
    location /outer {
        location /outer/inner {
            return 200 "args=$args skip=$microcache_skip_reason\n";
        }
    }
--- request eval
["GET /outer/inner?a=1&gclid=2", "GET /outer/inner?a=1&b=2&gclid=3"]
--- response_body eval
["args=a=1 skip=\n", "args=a=1&b=2&gclid=3 skip=limit\n"]



=== TEST 5: methods set at server level, replaced in a location
--- config
    microcache_bypass_methods POST;
    location /a {
        return 200 "$microcache_skip_reason\n";
    }
    location /b {
        microcache_bypass_methods PUT;
        return 200 "$microcache_skip_reason\n";
    }
--- request eval
["DELETE /a", "POST /a", "POST /b", "PUT /b"]
--- response_body eval
["\n", "method\n", "\n", "method\n"]



=== TEST 6: a nested location that sets one rule still inherits the others
--- config
    microcache on;
    microcache_bypass_cookies secret_*;
    microcache_strip_args default foo;
    location /outer/ {
        location /outer/nested/ {
            microcache_sort_args on;
            return 200 "args=$args skip=$microcache_skip_reason\n";
        }
        return 200 "args=$args skip=$microcache_skip_reason\n";
    }
--- request eval
["GET /outer/x?foo=1&b=2&a=1", "GET /outer/nested/x?foo=1&b=2&a=1"]
--- more_headers eval
["Cookie: secret_session=1", "Cookie: secret_session=1"]
--- response_body eval
["args=b=2&a=1 skip=cookie\n", "args=a=1&b=2 skip=cookie\n"]
