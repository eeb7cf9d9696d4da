# Edge state hydration (README: "microcache_hydrate"): a page cached once for everyone, rewritten
# per visitor with a JSON state from a subrequest, through a real PHP-FPM origin (t/php/page.php
# renders the page, t/php/state.php the state; both read the visitor's cookie "cart").
#
# Blocks write their page location with the line "hydrate_page_origin;", replaced here by the
# origin and cache directives every page location shares. The state is at /state (never cached)
# and /state-cached (cached per cookie).
use Test::Nginx::Socket 'no_plan';

repeat_each(1);   # every block starts from an empty cache
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    fastcgi_cache_path hy_cache levels=1:2 keys_zone=hy:1m;
    # Visitors with a cart get hydrated pages; others the cached page as it is.
    map $cookie_cart $state_uri { "" ""; default /state; }
    # A page rendered for a hydrated request is the generic one: PHP does not see the cookies.
    map $microcache_hydrate_status $page_cookie { ok ""; default $http_cookie; }
_EOC_
    my $page_origin = <<'_EOC_';
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/page.php;
        fastcgi_param HTTP_COOKIE $page_cookie;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache hy;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        fastcgi_cache_bypass $microcache_skip;
        fastcgi_no_cache $microcache_skip;
        add_header X-Cache $upstream_cache_status always;
        add_header X-Hydrate "$microcache_hydrate_status;$microcache_skip_reason" always;
_EOC_
    my $config = $block->config // '';
    $config =~ s/^\s*hydrate_page_origin;\n/$page_origin/m;
    $block->set_value('config', <<'_EOC_' . $config);
    microcache on;
    location = /state {
        internal;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/state.php;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_read_timeout 1s;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
    location = /state-cached {
        internal;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/state.php;
        fastcgi_param ORIGIN_LOG $TEST_NGINX_SERVER_ROOT/html/origin.log;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache hy;
        fastcgi_cache_key "state $args $cookie_cart";
        fastcgi_cache_valid 200 1m;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a visitor with a cart gets the cached page with the mini-cart and a script; the page in the cache stays generic
--- config
    location /page/ {
        hydrate_page_origin;
        microcache_hydrate $state_uri;
        microcache_hydrate_script cart;
        microcache_hydrate_text .count cart.count;
        microcache_hydrate_attr a.cart data-count "{cart.count}";
        microcache_hydrate_attr a.cart title "{cart.total}";
    }
--- request eval
["GET /page/a", "GET /page/a", "GET /page/a", "GET /origin.log"]
--- more_headers eval
["Cookie: cart=3", "Cookie: cart=2", "", ""]
--- response_headers eval
["X-Cache: MISS\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length",
 "X-Cache: HIT\nX-Hydrate: ok;\nCache-Control: private, no-store\n!Content-Length",
 "X-Cache: HIT\nX-Hydrate: ;\n!Cache-Control",
 ""]
--- response_body eval
[qq{<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Boutique \xc3\xa9 </title><script>window.cart={"cart":{"count":3,"total":"57,90 \\u20ac"}};</script></head>
<body><header><a class="cart" href="/cart/" data-count="3" title="57,90 \xe2\x82\xac">Panier \xe2\x80\x94 <span class="count">3</span> article(s)</a></header>
<ul>
</ul></body></html>
},
qq{<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Boutique \xc3\xa9 </title><script>window.cart={"cart":{"count":2,"total":"38,90 \\u20ac"}};</script></head>
<body><header><a class="cart" href="/cart/" data-count="2" title="38,90 \xe2\x82\xac">Panier \xe2\x80\x94 <span class="count">2</span> article(s)</a></header>
<ul>
</ul></body></html>
},
qq{<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Boutique \xc3\xa9 </title></head>
<body><header><a class="cart" href="/cart/" data-count="0">Panier \xe2\x80\x94 <span class="count">0</span> article(s)</a></header>
<ul>
</ul></body></html>
},
"state /state\npage /page/a\nstate /state\n"]
--- no_error_log
[error]
[warn]
