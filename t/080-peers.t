# Purges across peers (README: "microcache_purge_peers", "microcache_purge_secret", "More than
# one machine"): one nginx is both a node (127.0.0.1) and its peer (a second server on a unix
# socket, with a cache zone of its own); both cache pages of a real PHP-FPM origin. /peer/...
# reaches the peer's pages. Signed purges are built here as a peer signs them.
use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_hex sha256);

repeat_each(1);   # every block starts from empty caches
no_shuffle();
no_root_location();

our $Secret = "the cluster's shared secret";

# A signature as a peer makes it: HMAC-SHA256 over length-prefixed fields (README, "More than
# one machine").
sub signature {
    my (%p) = @_;
    my $field = sub { pack('Q>', length $_[0]) . $_[0] };
    my @headers = @{ $p{headers} // [] };
    my $t = $p{time} // time;
    my $msg = join '', map { $field->($_) } 'microcache-purge-v1', $p{method}, $p{uri},
        $p{host} // 'localhost', $t, pack('Q>', scalar @headers);
    $msg .= $field->($_->[0]) . $field->($_->[1]) for @headers;
    $msg .= $field->(sha256($p{body} // ''));
    return "Microcache-Purge-Signature: t=$t,sha256=" . hmac_sha256_hex($msg, $p{secret} // $Secret);
}

# The http level: the node's and the peer's cache zones, the secret (unless http_secret => 0),
# the peers' upstream block, and the peer (with peer_secret, a secret of its own).
sub http_config {
    my (%p) = @_;
    my $http_secret = ($p{http_secret} // 1) ? qq{microcache_purge_secret "$Secret";} : '';
    my $peer_secret = $p{peer_secret} // '';
    my $more_peers = $p{more_peers} // '';
    return <<_EOC_;
    fastcgi_cache_path node_cache levels=1:2 keys_zone=node:1m;
    fastcgi_cache_path peer_cache levels=1:2 keys_zone=peer:1m;
    $http_secret
    upstream peers {
        server unix:\$TEST_NGINX_SERVER_ROOT/peer.sock;
        $more_peers
    }
    server {
        listen unix:\$TEST_NGINX_SERVER_ROOT/peer.sock;
        server_name localhost;
        microcache on;
        $peer_secret
        access_log logs/peer.log;
        location / {
            include \$TEST_NGINX_PHP_ROOT/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$TEST_NGINX_PHP_ROOT/echo.php;
            fastcgi_param REQUEST_URI \$microcache_request_uri;
            fastcgi_param ORIGIN_HEADER "Surrogate-Key: \$arg_tags";
            fastcgi_pass \$TEST_NGINX_FASTCGI_SOCKET;
            fastcgi_cache peer;
            fastcgi_cache_key \$microcache_key;
            fastcgi_cache_valid 200 10m;
            add_header X-Cache \$upstream_cache_status;
        }
        location /purge/ {
            microcache_purge peer;
        }
        location = /peer.log {
            root logs;
        }
    }
_EOC_
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', http_config()) unless defined $block->http_config;
    my $config = $block->config // <<'_EOC_';
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers peers;
    }
_EOC_
    $block->set_value('config', <<'_EOC_' . $config);
    microcache on;
    location / {
        include $TEST_NGINX_PHP_ROOT/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $TEST_NGINX_PHP_ROOT/echo.php;
        fastcgi_param REQUEST_URI $microcache_request_uri;
        fastcgi_param ORIGIN_HEADER "Surrogate-Key: $arg_tags";
        fastcgi_pass $TEST_NGINX_FASTCGI_SOCKET;
        fastcgi_cache node;
        fastcgi_cache_key $microcache_key;
        fastcgi_cache_valid 200 10m;
        add_header X-Cache $upstream_cache_status;
    }
    location /peer/ {
        proxy_pass http://unix:$TEST_NGINX_SERVER_ROOT/peer.sock:/;
        proxy_set_header Host $host;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a client's purge is applied here and at the peer, which applies it once; the answer lists the peer
--- request eval
["GET /a/", "GET /peer/a/", "GET /a/", "GET /peer/a/",
 "PURGE /purge/a/",
 "GET /a/", "GET /peer/a/", "GET /peer/peer.log"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT",
 "Microcache-Purged: 2",
 "X-Cache: MISS", "X-Cache: MISS", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/a\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/a\/","purged":1\}\],"index":"none","elapsed_us":\d+,"peers":\[\{"peer":"unix:[^"]*\/peer\.sock","status":200,"purged":1\}\]\}\n\z/,
 qr/RUN=/, qr/RUN=/,
 qr/\A(?:(?!PURGE)[^\n]*\n)*[^\n]*"PURGE \/purge\/a\/ HTTP\/1\.0" 200 [^\n]*"microcache-purge-peers"\n(?:(?!PURGE)[^\n]*\n)*\z/]
--- no_error_log
[error]
[warn]



=== TEST 2: prefix, tag, batch and zone purges reach the peer too; the batch body goes with them
--- request eval
["GET /a/?tags=post-1", "GET /peer/a/?tags=post-1", "GET /b/x", "GET /peer/b/x",
 "GET /c/", "GET /peer/c/", "GET /d/", "GET /peer/d/",
 "PURGE /purge/", "GET /peer/a/?tags=post-1",
 "GET /purge/b*", "GET /peer/b/x",
 "POST /purge/\n/c/\ntag:none",
 "GET /peer/c/", "GET /peer/d/",
 "POST /purge/\n*", "GET /peer/d/"]
--- more_headers eval
["", "", "", "", "", "", "", "",
 "Surrogate-Key: post-1", "", "", "", "", "", "", "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200,
 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS",
 "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS", "X-Cache: MISS",
 "Microcache-Purged: 2", "X-Cache: MISS",
 "Microcache-Purged: 2", "X-Cache: MISS",
 "Microcache-Purged: 2",
 "X-Cache: MISS", "X-Cache: HIT",
 "Microcache-Purged: 5", "X-Cache: MISS"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","purged":1,"targets":\[\{"target":"tag:post-1","purged":1\}\],"index":"walk","elapsed_us":\d+,"peers":\[\{"peer":"[^"]+","status":200,"purged":1\}\]\}\n\z/,
 qr/RUN=/,
 qr/"purged":1,.*"peers":\[\{"peer":"[^"]+","status":200,"purged":1\}\]\}\n\z/,
 qr/RUN=/,
 qr/\A\{"mode":"hard","purged":1,"targets":\[\{"target":"\/c\/","purged":1\},\{"target":"tag:none","purged":0\}\],.*"peers":\[\{"peer":"[^"]+","status":200,"purged":1\}\]\}\n\z/,
 qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","purged":1,"targets":\[\{"target":"\*","purged":1\}\],.*"peers":\[\{"peer":"[^"]+","status":200,"purged":4\}\]\}\n\z/,
 qr/RUN=/]
--- no_error_log
[error]
[warn]



=== TEST 3: the mode goes with the purge: a soft purge here is soft at the peer (EXPIRED, not MISS)
--- config
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers peers;
        microcache_purge_mode soft;
    }
--- request eval
["GET /a/", "GET /peer/a/", "PURGE /purge/a/", "GET /a/", "GET /peer/a/"]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "Microcache-Purged: 2", "X-Cache: EXPIRED", "X-Cache: EXPIRED"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/, qr/"mode":"soft","purged":1,.*"status":200,"purged":1\}\]\}\n\z/, qr/RUN=/, qr/RUN=/]
--- no_error_log
[error]



=== TEST 4: a peer with another secret refuses the purge: 502, the peer's entry stays, this node's is purged
--- http_config eval
main::http_config(peer_secret => 'microcache_purge_secret "not the cluster secret";')
--- request eval
["GET /a/", "GET /peer/a/", "PURGE /purge/a/", "GET /a/", "GET /peer/a/"]
--- error_code eval
[200, 200, 502, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "Microcache-Purged: 1", "X-Cache: MISS", "X-Cache: HIT"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/,
 qr/"purged":1,.*"peers":\[\{"peer":"[^"]+","status":403,"error":"refused"\}\]\}\n\z/,
 qr/RUN=/, qr/RUN=/]



=== TEST 5: a peer without a secret refuses signed purges too
--- http_config eval
main::http_config(http_secret => 0)
--- config
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers peers;
        microcache_purge_secret "the cluster's shared secret";
    }
--- request eval
["PURGE /purge/a/"]
--- error_code: 502
--- response_body_like: "status":403,"error":"refused"



=== TEST 6: a peer that is down: 502 with the reason, the local purge done; the next one too
--- http_config eval
main::http_config(more_peers => 'server unix:$TEST_NGINX_SERVER_ROOT/nobody.sock;')
--- request eval
["GET /a/", "PURGE /purge/a/", "PURGE /purge/a/"]
--- error_code eval
[200, 502, 502]
--- response_body_like eval
[qr/RUN=/,
 qr/"purged":1,.*"peers":\[\{"peer":"[^"]+peer\.sock","status":404,"purged":0\},\{"peer":"[^"]+nobody\.sock","error":"cannot connect"\}\]\}\n\z/,
 qr/"purged":0,.*"peers":\[\{"peer":"[^"]+peer\.sock","status":404,"purged":0\},\{"peer":"[^"]+nobody\.sock","error":"cannot connect"\}\]\}\n\z/]



=== TEST 7: the error log names a peer that did not take a purge, and why
--- http_config eval
main::http_config(peer_secret => 'microcache_purge_secret "not the cluster secret";')
--- request
PURGE /purge/a/
--- error_code: 502
--- error_log
peer.sock did not take the purge: refused



=== TEST 8: nothing purged anywhere is a 404, as without peers; HEAD answers with the count only
--- request eval
["PURGE /purge/never/", "GET /peer/b/", "HEAD /purge/b/"]
--- error_code eval
[404, 200, 200]
--- response_headers eval
["Microcache-Purged: 0", "X-Cache: MISS", "Microcache-Purged: 1"]
--- response_body_like eval
[qr/"purged":0,.*"peers":\[\{"peer":"[^"]+","status":404,"purged":0\}\]\}\n\z/, qr/RUN=/, qr/\A\z/]



=== TEST 9: a purge signed with the secret is applied and not sent on: no peers in the answer, the peer keeps its entry
--- request eval
["GET /a/", "GET /peer/a/", "PURGE /purge/a/", "GET /a/", "GET /peer/a/"]
--- more_headers eval
["", "", main::signature(method => 'PURGE', uri => '/purge/a/'), "", ""]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "Microcache-Purged: 1", "X-Cache: MISS", "X-Cache: HIT"]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/,
 qr/\A\{"key":"httpGETlocalhost\/a\/","mode":"hard","purged":1,"targets":\[\{"target":"httpGETlocalhost\/a\/","purged":1\}\],"index":"none","elapsed_us":\d+\}\n\z/,
 qr/RUN=/, qr/RUN=/]



=== TEST 10: a stale, wrong, altered or malformed signature is refused with 403 and purges nothing
--- request eval
["GET /a/",
 "PURGE /purge/a/", "PURGE /purge/a/", "PURGE /purge/a/", "PURGE /purge/a/", "PURGE /purge/a/",
 "POST /purge/\n/a/",
 "GET /a/"]
--- more_headers eval
["",
 main::signature(method => 'PURGE', uri => '/purge/a/', time => time - 3600),
 main::signature(method => 'PURGE', uri => '/purge/a/', secret => 'a guess of sixteen bytes or more'),
 main::signature(method => 'PURGE', uri => '/purge/b/'),
 main::signature(method => 'PURGE', uri => '/purge/a/') . "\nMicrocache-Purge-Mode: soft",
 "Microcache-Purge-Signature: t=1,sha256=00",
 main::signature(method => 'POST', uri => '/purge/', body => "/b/"),
 ""]
--- error_code eval
[200, 403, 403, 403, 403, 403, 403, 200]
--- response_body_like eval
[qr/RUN=/,
 qr/\A\{"error":"stale purge signature \(the clocks differ, or it was replayed\)"\}\n\z/,
 qr/\A\{"error":"wrong purge signature \(another secret, or an altered purge\)"\}\n\z/,
 qr/\A\{"error":"wrong purge signature/,
 qr/\A\{"error":"wrong purge signature/,
 qr/\A\{"error":"malformed purge signature"\}\n\z/,
 qr/\A\{"error":"wrong purge signature/,
 qr/RUN=/]
--- response_headers eval
["X-Cache: MISS", "", "", "", "", "", "", "X-Cache: HIT"]



=== TEST 11: a signed batch and a signed tag purge, as a peer sends them, are applied
--- request eval
["GET /a/?tags=t1", "GET /b/", "POST /purge/\n/b/", "PURGE /purge/", "GET /a/?tags=t1", "GET /b/"]
--- more_headers eval
["", "",
 main::signature(method => 'POST', uri => '/purge/', body => "/b/"),
 main::signature(method => 'PURGE', uri => '/purge/', headers => [['surrogate-key', 't1'], ['microcache-purge-mode', 'hard']])
   . "\nSurrogate-Key: t1\nMicrocache-Purge-Mode: hard",
 "", ""]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "Microcache-Purged: 1", "Microcache-Purged: 1", "X-Cache: MISS", "X-Cache: MISS"]



=== TEST 12: a front tier: a location with only microcache_purge_peers purges nothing itself
--- config
    location /purge/ {
        microcache_purge_peers peers;
    }
--- request eval
["GET /a/", "GET /peer/a/", "PURGE /purge/a/", "GET /a/", "GET /peer/a/", "DELETE /purge/a/"]
--- error_code eval
[200, 200, 200, 200, 200, 405]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "Microcache-Purged: 1", "X-Cache: HIT", "X-Cache: MISS", ""]
--- response_body_like eval
[qr/RUN=/, qr/RUN=/,
 qr/\A\{"mode":"hard","peers":\[\{"peer":"[^"]+","status":200,"purged":1\}\]\}\n\z/,
 qr/RUN=/, qr/RUN=/, qr/405/]



=== TEST 13: the node is one of its own peers: it is not sent the purge again
--- http_config eval
main::http_config(more_peers => 'server 127.0.0.1:$TEST_NGINX_SERVER_PORT;')
--- request eval
["GET /a/", "PURGE /purge/a/"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/RUN=/,
 qr/"purged":1,.*"peers":\[\{"peer":"[^"]+peer\.sock","status":404,"purged":0\},\{"peer":"127\.0\.0\.1:\d+","self":true\}\]\}\n\z/]



=== TEST 14: a purge over HTTP/2 goes to the peer too
--- http2
--- request
PURGE /purge/never/
--- error_code: 404
--- response_body_like: "peers":\[\{"peer":"[^"]+","status":404,"purged":0\}\]\}
--- no_error_log
[error]



=== TEST 15: an unknown upstream block fails nginx -t, naming the directive and the block
--- config
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers nodes;
    }
--- must_die
--- error_log
unknown upstream "nodes" in "microcache_purge_peers" directive



=== TEST 16: peers need a secret to sign with
--- http_config eval
main::http_config(http_secret => 0)
--- must_die
--- error_log
"microcache_purge_peers" needs "microcache_purge_secret": peers accept only signed purges



=== TEST 17: a short secret is refused, without being shown
--- http_config
    microcache_purge_secret "too short";
--- config
--- must_die
--- error_log
invalid value "(not shown)" in "microcache_purge_secret" directive, the secret is 9 bytes long, it must be at least 16



=== TEST 18: timeouts are nginx times; other parameters are refused
--- config
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers peers connect_timeout=500ms timeout=soon;
    }
--- must_die
--- error_log
invalid value "timeout=soon" in "microcache_purge_peers" directive, not a time such as 500ms or 5s



=== TEST 19: an unknown parameter
--- config
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers peers retries=2;
    }
--- must_die
--- error_log
invalid value "retries=2" in "microcache_purge_peers" directive, it must be "connect_timeout=TIME" or "timeout=TIME"



=== TEST 20: a front tier reads purges as the keyless form does: a regex location cannot be one
--- config
    location ~ ^/front(/.*) {
        microcache_purge_peers peers;
    }
--- must_die
--- error_log
"microcache_purge_peers" without "microcache_purge" needs a prefix or exact location such as "location /purge/"



=== TEST 21: peers in a status location
--- config
    location /status {
        microcache_status;
        microcache_purge_peers peers;
    }
--- must_die
--- error_log
"microcache_purge_peers" cannot be combined with "microcache_status" in one location



=== TEST 22: twice in a location
--- config
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers peers;
        microcache_purge_peers peers;
    }
--- must_die
--- error_log
"microcache_purge_peers" directive is duplicate



=== TEST 23: only servers with an address when nginx starts: an empty block is refused
--- http_config eval
main::http_config() . "    upstream empty { server 127.0.0.1:1 down; }\n"
--- config
    location /purge/ {
        microcache_purge node;
        microcache_purge_peers empty;
    }
--- must_die
--- error_log
upstream "empty" in "microcache_purge_peers" directive has no server
