# /etc/nginx/sites-available/example.com on each CACHE NODE of a cluster
# (README: "More than one machine"): the front (front.example.com) terminates
# TLS and sends each normalised URL to one node; the node renders it with
# PHP-FPM once and micro-caches it, as one machine does
# (conf/sites-available/example.com). Purges received here are applied here
# and sent to the other nodes.
#
# Install: conf/nginx.conf, conf/snippets/, conf/modules-enabled/ as for one
# machine; this file as /etc/nginx/sites-available/example.com (enabled with
# a link in sites-enabled/), conf/cluster/conf.d/microcache-cluster.conf in
# /etc/nginx/conf.d/. Every node has the same files and the same code
# (/var/www/example.com); replace example.com with the site's name and
# 10.0.0.0/24 with the cluster's private network.

# This node's micro-cache, as on one machine (conf/sites-available/example.com).
fastcgi_cache_path /dev/shm/nginx-cache/example.com levels=1:2
	keys_zone=example.com:100m max_size=900m inactive=60m use_temp_path=off;
# Its index, as on one machine: purges of pages, prefixes and tags cost what
# they remove, on each node.
microcache_index example.com size=64m;

server {
	# Plain HTTP on the private network: the front terminated TLS. Put the
	# node's private address here (listen 10.0.0.11:80) if it has a public
	# one too; the nodes and the front reach it on the address conf.d lists.
	listen 80;
	server_name example.com;

	# The visitor's address, from the front's X-Forwarded-For: in the logs,
	# in PHP's REMOTE_ADDR and for the allow lists below.
	set_real_ip_from 10.0.0.0/24;
	real_ip_header X-Forwarded-For;

	root /var/www/example.com;
	index index.php index.html;
	client_max_body_size 64m;

	# --- ngx_http_microcache_module ---
	# The same normalisation rules as the front (front.example.com): the
	# front forwards the normalised URI, which normalising again does not
	# change, so this node's key is the one the front chose it by.
	microcache on;
	microcache_strip_args default;
	microcache_sort_args on;

	# When not to use the cache: logged-in users, carts, admin, previews.
	include snippets/microcache-wordpress.conf;
	# Status endpoints, loopback only.
	include snippets/microcache-admin.conf;

	# --- Purging: here, and on every other node ---
	# The same paths as on one machine. A purge received here from the front,
	# from this machine (Nginx Helper) or from the network below is applied
	# here and sent, signed (conf.d), to the other nodes of cache_nodes; the
	# answer lists each node: its count, "self" for this one, or why it
	# failed (502 then). A purge another node or the front signed is applied
	# here only. The other machines' purges come from the private network:
	# keep it in the allow lists.
	location ^~ /purge/ {
		allow 127.0.0.1;
		allow ::1;
		allow 10.0.0.0/24;
		deny all;
		error_log /var/log/nginx/error.log info;
		microcache_purge example.com;
		microcache_purge_peers cache_nodes;
	}
	location = /purge {
		allow 127.0.0.1;
		allow ::1;
		allow 10.0.0.0/24;
		deny all;
		error_log /var/log/nginx/error.log info;
		microcache_purge example.com;
		microcache_purge_peers cache_nodes;
	}
	location = /purgeall {
		allow 127.0.0.1;
		allow ::1;
		allow 10.0.0.0/24;
		deny all;
		error_log /var/log/nginx/error.log info;
		microcache_purge example.com "*";
		microcache_purge_peers cache_nodes;
	}

	# --- Locations, as on one machine ---
	location / {
		try_files $uri $uri/ /index.php?$args;
	}

	location ~ /\.(?!well-known/) {
		deny all;
	}

	location ~* ^/wp-content/uploads/.*\.php$ {
		deny all;
	}

	location ~ \.php$ {
		try_files $uri =404;
		include snippets/fastcgi-microcache.conf;
		# The visitor came over HTTPS to the front: WordPress must build
		# https:// links (and not redirect to them forever).
		fastcgi_param HTTPS on;
		fastcgi_cache example.com;
	}

	location ~* \.(?:css|js|mjs|map|jpe?g|png|gif|webp|avif|ico|svg|woff2?|ttf|otf|eot|mp3|mp4|webm)$ {
		expires 30d;
		access_log off;
		log_not_found off;
	}

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
