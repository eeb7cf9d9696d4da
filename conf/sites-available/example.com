# /etc/nginx/sites-available/example.com — a WordPress/WooCommerce site on
# HTTPS (TLS 1.3, HTTP/2) served by PHP-FPM through the FastCGI micro-cache.
#
# Enable:  ln -s ../sites-available/example.com /etc/nginx/sites-enabled/
#          rm /etc/nginx/sites-enabled/default   (its default_server clashes
#                                                 with the catch-all below)
# Replace example.com with the site's name (server_name, certificate paths,
# root) and check with `nginx -t` before `systemctl reload nginx`.

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
	# stops nginx.conf's X-FastCGI-Cache header from being inherited, so
	# uncomment both lines together:
	#add_header Strict-Transport-Security "max-age=63072000" always;
	#add_header X-FastCGI-Cache $upstream_cache_status always;

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
	# ?color=red&size=m and ?size=m&color=red share one entry. The sort is
	# stable (a[]=1&a[]=2 keeps its order) and PHP's $_GET does not depend on
	# the order. Only code that verifies a signature over the raw
	# QUERY_STRING cares; switch it off in that endpoint's location with
	# "microcache_sort_args off;".
	microcache_sort_args on;

	# When not to use the cache: logged-in users, carts, admin, previews.
	include snippets/microcache-wordpress.conf;
	# WooCommerce carts from the cache (opt-in, README "WooCommerce carts from
	# the cache"): uncomment, and delete the three WooCommerce cart cookies in
	# snippets/microcache-wordpress.conf. Visitors with a cart then get the
	# cached page with the mini-cart filled in by nginx.
	#include snippets/microcache-hydrate-cart.conf;
	# Purge (WordPress Nginx Helper) and status endpoints, loopback only.
	include snippets/microcache-admin.conf;

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
