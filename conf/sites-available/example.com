# /etc/nginx/sites-available/example.com — a WordPress/WooCommerce site on
# HTTPS (TLS 1.3, HTTP/2) served by PHP-FPM through the FastCGI micro-cache.
#
# Enable:  ln -s ../sites-available/example.com /etc/nginx/sites-enabled/
#          rm /etc/nginx/sites-enabled/default   (its default_server clashes
#                                                 with the catch-all below)
# Replace example.com with the site's name (cache zone and directory,
# server_name, certificate paths, root) and check with `nginx -t` before
# `systemctl reload nginx`.

# --- This site's micro-cache --------------------------------------------------
# One zone and one directory per site, so that purging this site's whole cache
# (PURGE /purgeall below, or Nginx Helper deleting the files under its
# RT_WP_NGINX_HELPER_CACHE_PATH, which must be this directory) leaves other
# sites' pages alone. On tmpfs: a hit is a page-cache read, never disk I/O.
# The directory is inside a dedicated size-capped tmpfs (deploy/fstab,
# /dev/shm/nginx-cache), so the cache cannot eat the RAM other /dev/shm users
# need; max_size stays below that tmpfs size so the cache manager evicts
# before writes fail (with several sites, their max_size add up: split it).
# keys_zone: 1 MB holds about 8000 keys, so 100m indexes ~800k pages.
# inactive: entries nobody asked for in 60 minutes are removed even when
# still valid. use_temp_path=off: responses are written straight into the
# cache directory (same filesystem) instead of being copied from a temp dir.
fastcgi_cache_path /dev/shm/nginx-cache/example.com levels=1:2
	keys_zone=example.com:100m max_size=900m inactive=60m use_temp_path=off;
# The zone's index: each entry's key, variants and tags (the Surrogate-Key
# headers of conf/wordpress/microcache-tags.php), so that a purge of a page,
# a prefix or a tag costs in proportion to what it removes instead of a walk
# of the cache directory. An entry takes about 450 bytes on the test
# WordPress (make test-wordpress-tags: 11 tags on average, the posts,
# comments and terms a page shows and its lists), 900 with 30 tags: 64m holds
# 70,000 to 150,000 pages, more than max_size=900m does at 10 KB a page. When
# it is full, caching goes on and purges walk the directory
# (microcache_status shows how full it is).
microcache_index example.com size=64m;

# --- Catch-all: refuse host names this machine does not serve --------------
# backlog: nginx's default accept queue on Linux is 511; raise it to match
# net.core.somaxconn (deploy/sysctl.d). Listen options are per address:port,
# so they are set once, here, on the default servers.
server {
	listen 80 default_server backlog=8192;
	listen [::]:80 default_server backlog=8192;
	server_name _;
	# 444: close the connection without sending anything.
	return 444;
}

server {
	listen 443 ssl http2 default_server backlog=8192;
	listen [::]:443 ssl http2 default_server backlog=8192;
	server_name _;
	# Abort the TLS handshake when the SNI name is not a configured vhost (or
	# missing): no certificate is disclosed, no certificate is needed here.
	ssl_reject_handshake on;
	# A client that completed a handshake for example.com and then sends a
	# different Host header is routed here by nginx: close it too.
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
	# Let's Encrypt HTTP-01 challenges (certbot certonly --webroot -w /var/www/letsencrypt):
	#location ^~ /.well-known/acme-challenge/ {
	#	root /var/www/letsencrypt;
	#}
}

# --- The site -------------------------------------------------------------------
server {
	# nginx >= 1.25.1 prefers "listen 443 ssl;" plus "http2 on;" (this form
	# still works there, with a deprecation warning); Debian 12 ships 1.22.
	listen 443 ssl http2;
	listen [::]:443 ssl http2;
	server_name example.com;

	ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;
	ssl_certificate_key /etc/letsencrypt/live/example.com/privkey.pem;
	# Protocols, session cache and tickets: http{} in nginx.conf.

	# HSTS, once the certificate is a real one. A server-level add_header
	# stops nginx.conf's X-FastCGI-Cache and Cache-Status headers from being
	# inherited, so uncomment the three lines together:
	#add_header Strict-Transport-Security "max-age=63072000" always;
	#add_header X-FastCGI-Cache $upstream_cache_status always;
	#add_header Cache-Status $microcache_cache_status always;

	root /var/www/example.com;
	index index.php index.html;
	client_max_body_size 64m;

	# --- ngx_http_microcache_module ---
	# At server level so that it is in effect in "location /" below: $args
	# is already normalised when try_files builds /index.php?$args, and the
	# cache key, QUERY_STRING and REQUEST_URI all carry the same query.
	microcache on;

	# Strip client-side tracking ids (utm_*, gclid, fbclid, msclkid, ...)
	# before PHP sees the query and before the cache key is built.
	microcache_strip_args default;
	# The reference deployment also strips ref and aff:
	#microcache_strip_args default ref aff;
	# WARNING: affiliate plugins (AffiliateWP, WooCommerce referral
	# programs, ...) read ?ref= / ?aff= in PHP to credit the referrer. Strip
	# them only if nothing on the site reads them, or referrals are lost.

	# One cache entry per page whatever the order of its arguments:
	# ?color=red&size=m and ?size=m&color=red share one entry. Arguments are
	# sorted by the name PHP gives them, stably: names PHP reads as one
	# (a[]=1&a[]=2, or a_b=2&a.b=1, where the last one wins) keep their order,
	# so PHP's $_GET holds the same values; only the order of its keys
	# changes. Code that verifies a signature over the raw QUERY_STRING cares;
	# switch it off in that endpoint's location with "microcache_sort_args off;".
	microcache_sort_args on;

	# When not to use the cache: logged-in users, carts, admin, previews.
	include snippets/microcache-wordpress.conf;
	# WooCommerce carts from the cache (opt-in, README "WooCommerce carts from
	# the cache"): uncomment, and delete the three WooCommerce cart cookies in
	# snippets/microcache-wordpress.conf. Visitors with a cart then get the
	# cached page with the mini-cart filled in by nginx.
	#include snippets/microcache-hydrate-cart.conf;
	# Status endpoints, loopback only.
	include snippets/microcache-admin.conf;

	# --- Purging (WordPress Nginx Helper, microcache-tags), loopback only ---
	# Nginx Helper requests https://<site>/purge/<path> for each page, and
	# /purge for the home page ("Using a GET request to PURGE/url"), and
	# "PURGE /purgeall" for "Purge Entire Cache" with its torden method; its
	# other methods delete the files under RT_WP_NGINX_HELPER_CACHE_PATH
	# (define it in wp-config.php as this site's cache directory, above). It
	# connects to the address the site's name resolves to: map the name to
	# 127.0.0.1 in /etc/hosts on this machine (or add the server's own public
	# address to the allow lists below). The must-use plugin
	# conf/wordpress/microcache-tags.php sends one "POST /purge" per edit, its
	# body a batch of tags and pages (tag:post-12, /hello-world/), and says
	# hard or soft in its Microcache-Purge-Mode header; it connects to
	# 127.0.0.1 itself. Every purge is in the access log, and the module's
	# line (target, entries purged, time) in the error log.
	#
	# A page purge is soft: the page is marked expired instead of deleted, so
	# the next visitors get the stale copy while exactly one request renders
	# the page again (fastcgi_cache_use_stale updating and
	# fastcgi_cache_background_update, nginx.conf). Nginx Helper purges a post,
	# the home page, its archives and feeds at each edit: hard, every visitor
	# of these pages would wait for PHP at once. Purge-all (/purgeall) stays
	# hard: "Purge Entire Cache" is asked for after changes that must show at
	# once (a theme, a plugin, a deploy), and deleting the files of the whole
	# zone is cheaper than rewriting each one.
	#
	# One page: GET or PURGE /purge/<path>[?query]. Without a KEY argument the
	# module builds the key exactly as $microcache_key is built for a GET (and
	# a HEAD) of /<path>?query: raw (percent-encoded) path bytes and the
	# normalised query, so non-ASCII slugs and URLs carrying tracking
	# parameters purge correctly. 200 + JSON when something was purged, 404
	# when nothing was cached. "^~": no regex location (such as \.php$) may
	# take /purge/... away.
	location ^~ /purge/ {
		allow 127.0.0.1;
		allow ::1;
		deny all;
		error_log /var/log/nginx/error.log info;
		microcache_purge example.com;
		microcache_purge_mode soft;
	}
	# The home page: /purge alone (and /purge?query). Also tag and batch
	# purges: POST with a Surrogate-Key header or a body of targets.
	location = /purge {
		allow 127.0.0.1;
		allow ::1;
		deny all;
		error_log /var/log/nginx/error.log info;
		microcache_purge example.com;
		microcache_purge_mode soft;
	}
	# The classic ngx_cache_purge form, equivalent for plain ASCII paths (the
	# capture is the decoded path, without the query):
	#location ~ ^/purge(/.*)$ {
	#	allow 127.0.0.1; allow ::1; deny all;
	#	microcache_purge example.com "${scheme}GET$host$1";
	#}
	# Everything this site cached (its zone): PURGE /purgeall.
	location = /purgeall {
		allow 127.0.0.1;
		allow ::1;
		deny all;
		error_log /var/log/nginx/error.log info;
		microcache_purge example.com "*";
		microcache_purge_mode hard;
	}

	# --- Locations ---
	# WordPress pretty permalinks: files, directories, else the front controller.
	location / {
		try_files $uri $uri/ /index.php?$args;
	}

	# Dotfiles (.git, .env, .htaccess, .user.ini) are never served; ACME
	# challenges under /.well-known/ are.
	location ~ /\.(?!well-known/) {
		deny all;
	}

	# PHP in upload directories is never executed (uploaded web shells).
	location ~* ^/wp-content/uploads/.*\.php$ {
		deny all;
	}

	location ~ \.php$ {
		# Only existing scripts: never hand PHP a path such as
		# /uploads/x.jpg/y.php that it might "fix" into running x.jpg.
		try_files $uri =404;
		include snippets/fastcgi-microcache.conf;
		fastcgi_cache example.com;
	}

	# Static assets straight from disk (the open file cache), long-lived.
	location ~* \.(?:css|js|mjs|map|jpe?g|png|gif|webp|avif|ico|svg|woff2?|ttf|otf|eot|mp3|mp4|webm)$ {
		expires 30d;
		access_log off;
		log_not_found off;
	}

	# WordPress generates these when the files do not exist.
	location = /favicon.ico {
		try_files $uri /index.php?$args;
		access_log off;
		log_not_found off;
	}
	location = /robots.txt {
		try_files $uri /index.php?$args;
		access_log off;
		log_not_found off;
	}
}
