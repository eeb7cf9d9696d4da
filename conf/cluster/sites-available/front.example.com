# /etc/nginx/sites-available/example.com on the FRONT of a cluster
# (README: "More than one machine"): TLS and HTTP/2 for the visitors; each
# page comes from the one cache node its normalised URL hashes to
# (conf.d/microcache-cluster.conf). No cache and no PHP here: the nodes
# (sites-available/node.example.com) have them.
#
# Install: conf/nginx.conf, conf/snippets/, conf/modules-enabled/ as for one
# machine; this file as /etc/nginx/sites-available/example.com (enabled with
# a link in sites-enabled/), conf/cluster/conf.d/microcache-cluster.conf in
# /etc/nginx/conf.d/. Replace example.com with the site's name.

# Which node served each request, next to nginx.conf's fields.
log_format microcache_front '$remote_addr - $remote_user [$time_local] "$request" '
	'$status $body_bytes_sent "$http_referer" "$http_user_agent" '
	'node=$upstream_addr node_status=$upstream_status '
	'stripped="$microcache_stripped" rt=$request_time urt=$upstream_response_time';

# --- Catch-all: refuse host names this machine does not serve --------------
server {
	listen 80 default_server backlog=8192;
	listen [::]:80 default_server backlog=8192;
	server_name _;
	return 444;
}

server {
	listen 443 ssl http2 default_server backlog=8192;
	listen [::]:443 ssl http2 default_server backlog=8192;
	server_name _;
	ssl_reject_handshake on;
	return 444;
}

# --- HTTP -> HTTPS ------------------------------------------------------------
server {
	listen 80;
	listen [::]:80;
	server_name example.com;

	location / {
		return 301 https://$host$request_uri;
	}
}

# --- The site -------------------------------------------------------------------
server {
	listen 443 ssl http2;
	listen [::]:443 ssl http2;
	server_name example.com;

	ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;
	ssl_certificate_key /etc/letsencrypt/live/example.com/privkey.pem;

	access_log /var/log/nginx/access.log microcache_front buffer=64k flush=1s;
	client_max_body_size 64m;

	# --- ngx_http_microcache_module: the key the nodes are chosen by ---
	# The same normalisation rules as the nodes: the front computes
	# $microcache_key with them (the hash in conf.d/microcache-cluster.conf)
	# and forwards the normalised URI; normalising it again on the node
	# changes nothing, so the node caches the page under the key that chose
	# it. Change these here and on the nodes together.
	microcache on;
	microcache_strip_args default;
	microcache_sort_args on;

	location / {
		# $microcache_request_uri: the raw path and the normalised query,
		# the very bytes of the key, so tracking variants of a URL reach the
		# same node as one request for one cache entry.
		proxy_pass http://cache_nodes$microcache_request_uri;
		proxy_http_version 1.1;
		proxy_set_header Connection "";
		proxy_set_header Host $host;
		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
		proxy_set_header X-Forwarded-Proto $scheme;

		# A node that is down (connection refused, or no answer within
		# proxy_connect_timeout) is skipped: the request goes to the next
		# node on the ring, which renders the page and caches a copy too;
		# only the down node's keys move, and only while it is down
		# (max_fails, fail_timeout in conf.d). "timeout" also covers waiting
		# for the answer: proxy_read_timeout is longer than the node's own
		# limit (fastcgi_read_timeout 60s), so a slow page is answered by
		# its node (504) and never rendered again by a second one. Not
		# "http_502" or "http_504": a node answers those when its PHP is
		# down or slow, and another node's PHP would be asked to render the
		# page too. POSTs are never retried (nginx's non_idempotent rule).
		proxy_next_upstream error timeout;
		proxy_connect_timeout 1s;
		proxy_read_timeout 65s;
	}

	# --- Purging: nothing is cached here; every purge goes to every node ---
	# The same paths as on the nodes (and as on one machine, so WordPress's
	# Nginx Helper works unchanged): a purge sent here reaches every node,
	# signed with conf.d's secret; the answer lists each node (its count or
	# why it failed), 200 when every node answered, 502 otherwise.
	location ^~ /purge/ {
		allow 127.0.0.1;
		allow ::1;
		deny all;
		microcache_purge_peers cache_nodes;
	}
	location = /purge {
		allow 127.0.0.1;
		allow ::1;
		deny all;
		microcache_purge_peers cache_nodes;
	}
	location = /purgeall {
		allow 127.0.0.1;
		allow ::1;
		deny all;
		microcache_purge_peers cache_nodes;
	}
}
