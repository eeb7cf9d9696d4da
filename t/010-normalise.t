# Query normalisation (README: "How the query is normalised") and the variables of README
# "Embedded Variables": every block answers with what the module computed for its request, or
# with what PHP-FPM read of the normalised query (/echo.php).
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();

# Every server gets a location that shows the module's view of the request.
add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . <<'_EOC_');
    location /show {
        return 200 "args=$args\nkey=$microcache_key\nuri=$microcache_request_uri\nmargs=$microcache_args\nstripped=$microcache_stripped\nskip=$microcache_skip$microcache_skip_reason\n";
    }
    # PHP-FPM shows what PHP reads of the normalised query.
    location = /echo.php {
        root $TEST_NGINX_PHP_ROOT;
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the default list strips tracking ids; $args, the key and the request URI agree
--- config
    microcache on;
--- request
GET /show/a?p=1&utm_source=news&s=shoes&utm_medium=email&gclid=Cj0&fbclid=x&color=red
--- response_body
args=p=1&s=shoes&color=red
key=httpGETlocalhost/show/a?p=1&s=shoes&color=red
uri=/show/a?p=1&s=shoes&color=red
margs=p=1&s=shoes&color=red
stripped=utm_source=news&utm_medium=email&gclid=Cj0&fbclid=x
skip=0
--- no_error_log
[error]



=== TEST 2: a query that loses everything has no "?" at all
--- config
    microcache on;
--- request
GET /show?utm_source=a&&gclid=b&
--- response_body
args=
key=httpGETlocalhost/show
uri=/show
margs=
stripped=utm_source=a&gclid=b
skip=0



=== TEST 3: a clean query is left byte for byte, escapes, "+" and ";" included
--- config
    microcache on;
--- request
GET /show?q=a%20b+c;d&x=%ZZ&e=%E2%82%AC&k=v=w
--- response_body
args=q=a%20b+c;d&x=%ZZ&e=%E2%82%AC&k=v=w
key=httpGETlocalhost/show?q=a%20b+c;d&x=%ZZ&e=%E2%82%AC&k=v=w
uri=/show?q=a%20b+c;d&x=%ZZ&e=%E2%82%AC&k=v=w
margs=q=a%20b+c;d&x=%ZZ&e=%E2%82%AC&k=v=w
stripped=
skip=0



=== TEST 4: names are compared percent-decoded and case-sensitively; values are never decoded
--- config
    microcache on;
--- request
GET /show?utm%5Fsource=1&%67clid=2&GCLID=3&q=utm_source&utm_=4
--- response_body
args=GCLID=3&q=utm_source
key=httpGETlocalhost/show?GCLID=3&q=utm_source
uri=/show?GCLID=3&q=utm_source
margs=GCLID=3&q=utm_source
stripped=utm%5Fsource=1&%67clid=2&utm_=4
skip=0



=== TEST 5: empty segments are dropped, duplicates and segments without "=" kept
--- config
    microcache on;
--- request
GET /show?&&a=1&&a=2&flag&=x&
--- response_body
args=a=1&a=2&flag&=x
key=httpGETlocalhost/show?a=1&a=2&flag&=x
uri=/show?a=1&a=2&flag&=x
margs=a=1&a=2&flag&=x
stripped=
skip=0



=== TEST 6: ref and aff are not in the default list
--- config
    microcache on;
--- request
GET /show?ref=partner&aff=7&utm_campaign=x
--- response_body
args=ref=partner&aff=7
key=httpGETlocalhost/show?ref=partner&aff=7
uri=/show?ref=partner&aff=7
margs=ref=partner&aff=7
stripped=utm_campaign=x
skip=0



=== TEST 7: a custom list replaces the default; "default" keeps it explicitly
--- config
    microcache on;
    location /custom {
        microcache_strip_args ref aff;
        return 200 "args=$args stripped=$microcache_stripped\n";
    }
    location /both {
        microcache_strip_args default ref a*_id;
        return 200 "args=$args stripped=$microcache_stripped\n";
    }
--- request eval
["GET /custom?ref=1&utm_source=2&aff=3", "GET /both?ref=1&utm_source=2&aff=3&ad_id=4"]
--- response_body eval
["args=utm_source=2 stripped=ref=1&aff=3\n", "args=aff=3 stripped=ref=1&utm_source=2&ad_id=4\n"]



=== TEST 8: microcache_strip_args off strips nothing
--- config
    microcache on;
    microcache_strip_args off;
--- request
GET /show?utm_source=1&gclid=2
--- response_body
args=utm_source=1&gclid=2
key=httpGETlocalhost/show?utm_source=1&gclid=2
uri=/show?utm_source=1&gclid=2
margs=utm_source=1&gclid=2
stripped=
skip=0



=== TEST 9: keep_args is an allow-list; with strip_args, a segment must match keep and not strip
--- config
    microcache on;
    microcache_keep_args p page* s utm_id;
    location /only-keep {
        microcache_strip_args off;
        return 200 "args=$args stripped=$microcache_stripped\n";
    }
--- request eval
["GET /show?p=1&x=2&page_size=3&utm_id=4&s=5", "GET /only-keep?p=1&x=2&page_size=3&utm_id=4&s=5"]
--- response_body eval
["args=p=1&page_size=3&s=5
key=httpGETlocalhost/show?p=1&page_size=3&s=5
uri=/show?p=1&page_size=3&s=5
margs=p=1&page_size=3&s=5
stripped=x=2&utm_id=4
skip=0
",
"args=p=1&page_size=3&utm_id=4&s=5 stripped=x=2\n"]



=== TEST 10: sort_args orders by the name PHP reads, stably (a[], %61 and a[] are all $_GET['a'])
--- config
    microcache on;
    microcache_sort_args on;
--- request
GET /show?z=1&a[]=2&%61=0&a[]=1&utm_source=x&b=3
--- response_body
args=a[]=2&%61=0&a[]=1&b=3&z=1
key=httpGETlocalhost/show?a[]=2&%61=0&a[]=1&b=3&z=1
uri=/show?a[]=2&%61=0&a[]=1&b=3&z=1
margs=a[]=2&%61=0&a[]=1&b=3&z=1
stripped=utm_source=x
skip=0



=== TEST 11: past microcache_max_args nothing is rewritten and the request skips (limit)
--- config
    microcache on;
    microcache_max_args 3;
--- request eval
["GET /show?a=1&b=2&utm_source=3&c=4", "GET /show?a=1&&b=2&&utm_source=3&"]
--- response_body eval
["args=a=1&b=2&utm_source=3&c=4
key=httpGETlocalhost/show?a=1&b=2&utm_source=3&c=4
uri=/show?a=1&b=2&utm_source=3&c=4
margs=a=1&b=2&utm_source=3&c=4
stripped=
skip=1limit
",
"args=a=1&b=2
key=httpGETlocalhost/show?a=1&b=2
uri=/show?a=1&b=2
margs=a=1&b=2
stripped=utm_source=3
skip=0
"]



=== TEST 12: a query longer than 4 KiB is not rewritten and skips (limit)
--- config
    microcache on;
    large_client_header_buffers 4 16k;
    location /long {
        return 200 "len=$microcache_args stripped=[$microcache_stripped] skip=$microcache_skip_reason\n";
    }
--- request eval
"GET /long?utm_source=1&x=" . ("y" x 4096)
--- response_body eval
"len=utm_source=1&x=" . ("y" x 4096) . " stripped=[] skip=limit\n"



=== TEST 13: exactly 4 KiB is still normalised
--- config
    microcache on;
    location /edge {
        return 200 "args=$args\n";
    }
--- request eval
"GET /edge?utm_source=1&x=" . ("y" x (4096 - 15))
--- response_body eval
"args=x=" . ("y" x (4096 - 15)) . "\n"



=== TEST 14: the raw path stays in $microcache_request_uri; $uri is decoded
--- config
    microcache on;
    location /p {
        return 200 "uri=$uri ruri=$microcache_request_uri key=$microcache_key\n";
    }
--- request
GET /p/caf%C3%A9/a%2Fb?utm_term=x&id=%2F
--- response_body eval
"uri=/p/caf\xc3\xa9/a/b ruri=/p/caf%C3%A9/a%2Fb?id=%2F key=httpGETlocalhost/p/caf%C3%A9/a%2Fb?id=%2F\n"



=== TEST 15: the key follows $scheme$request_method$host
--- config
    microcache on;
--- request
POST /show?gclid=1&a=2
--- response_body
args=a=2
key=httpPOSTlocalhost/show?a=2
uri=/show?a=2
margs=a=2
stripped=gclid=1
skip=1method



=== TEST 16: variables work without "microcache on" but $args is left alone
--- config
    location /off {
        return 200 "args=$args margs=$microcache_args\n";
    }
--- request
GET /off?utm_source=1&p=2
--- response_body
args=utm_source=1&p=2 margs=p=2



=== TEST 17: a bare "?" and no query at all
--- config
    microcache on;
--- request eval
["GET /show?", "GET /show"]
--- response_body eval
["args=\nkey=httpGETlocalhost/show\nuri=/show\nmargs=\nstripped=\nskip=0\n",
 "args=\nkey=httpGETlocalhost/show\nuri=/show\nmargs=\nstripped=\nskip=0\n"]



=== TEST 18: the host in the key is $host (lower-cased, port removed)
--- config
    microcache on;
    location /h {
        return 200 "$microcache_key\n";
    }
--- request
GET /h?a=1
--- more_headers
Host: WWW.Example.com:8080
--- response_body
httpGETwww.example.com/h?a=1



=== TEST 19: strip_args matches names as PHP reads them: "+gclid", "utm.source", "_ga%00" never reach PHP
--- config
    microcache on;
--- request
GET /echo.php?p=1&+gclid=x&utm.source=y&%20fbclid=z&utm[medium=w&_ga%00=2&gclid[]=3
--- response_body_like chomp
\AQUERY_STRING=p=1\n.*\nGET=\{"p":"1"\}\n



=== TEST 20: sorting keeps the order of names PHP reads as one: $_GET is the same sorted or not
--- config
    microcache on;
    microcache_sort_args on;
--- request
GET /echo.php?z=0&a_b=2&a.b=1&c[]=1&%63=2&d+e=3&d[e=4
--- response_body_like chomp
\AQUERY_STRING=a_b=2&a.b=1&c\[\]=1&%63=2&d\+e=3&d\[e=4&z=0\n.*\nGET=\{"a_b":"1","c":"2","d_e":"4","z":"0"\}\n
