# microcache: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

MODULE_SO      := libngx_http_microcache_module.so
VENDORED_SO    := $(CURDIR)/target/release/$(MODULE_SO)
VENDORED_NGINX := $(CURDIR)/target/nginx-vendored/nginx
DEBIAN_TREE    := $(CURDIR)/target/nginx-debian
DEBIAN_SO      := $(CURDIR)/target/debian/release/$(MODULE_SO)
DEBIAN_NGINX   := /usr/sbin/nginx

FUZZ_SECONDS ?= 60
PHP_NAMES_SECONDS ?= 40

.PHONY: deps build vendored debian deb lint unit test-php-names fuzz test-nginx test-reload test-shipped test-cluster test-wordpress-rules test-wordpress test-wordpress-litespeed test-load test-docker test-configure test-matrix test run bench bench-index bench-cluster bench-hydrate bench-soft

deps:
	scripts/install-deps.sh

build: vendored debian

# The module and nginx 1.28 from the nginx-src crate, built together. The nginx binary is
# the one in the build directory of the nginx-sys that this build used: its out dir, as cargo
# reports it (build-script-executed), + objs/nginx.
vendored:
	mkdir -p $(dir $(VENDORED_NGINX))
	set -o pipefail; $(CARGO) build --release --message-format=json-render-diagnostics \
		| python3 scripts/nginx-sys-out-dir.py >$(dir $(VENDORED_NGINX))nginx-sys-out-dir
	cp "$$(cat $(dir $(VENDORED_NGINX))nginx-sys-out-dir)/objs/nginx" $(VENDORED_NGINX)

# The module for the installed Debian nginx, built against its nginx-dev tree.
debian:
	nginx-src/prepare-debian.sh $(DEBIAN_TREE)
	NGINX_BUILD_DIR=$(DEBIAN_TREE)/objs $(CARGO) build --release --no-default-features --target-dir target/debian

# The Debian package for this machine's nginx, built with Debian's tooling (debian/rules), and
# lintian: target/deb/libnginx-mod-http-microcache_<version>+nginx<nginx version>_<arch>.deb
deb:
	scripts/install-deps.sh build deb
	scripts/build-deb.sh

# Rust, the shell scripts, and the README's benchmark figures (bench/results.md's and
# bench/cluster-results.md's, through bench/lib/readme_table.py).
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --release --all-targets -- -D warnings
	$(CARGO) clippy --release --lib --features nginx-addon -- -D warnings
	shellcheck -x .ci/run $$(find . -path ./target -prune -o -name '*.sh' -print)
	python3 bench/lib/readme_table.py bench/results.md README.md --check
	python3 bench/lib/readme_table.py bench/cluster-results.md README.md --check

unit:
	$(CARGO) test --release -p microcache-core

# The crate's model of how PHP names $_GET and $_COOKIE entries, against the real PHP (CLI and
# PHP-FPM) on random queries and cookies for PHP_NAMES_SECONDS.
test-php-names:
	$(CARGO) run --release -p microcache-core --example php_names -- --seconds $(PHP_NAMES_SECONDS)

# libFuzzer for FUZZ_SECONDS on each target: the normaliser, the cache index against its model
# (short inputs are many operations), purge input (tags, stored headers, batch bodies),
# hydration (the escaping of any state, the rewrite of any page, starting from fuzz/seeds), and
# an origin's caching headers (LiteSpeed's protocol, the generic purge header, vary cookies);
# then configuration parsing and PHP's names (against the real PHP) for a quarter of that.
# cargo-fuzz needs nightly-only flags; the one toolchain here is stable, hence RUSTC_BOOTSTRAP.
# The crate forbids unsafe code, so AddressSanitizer (-s none) would only slow the fuzzer down.
FUZZ_RUN = cd microcache-core && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O -s none
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked --version 0.13.2
	$(FUZZ_RUN) normalise -- -max_total_time=$(FUZZ_SECONDS) -max_len=6000
	$(FUZZ_RUN) index -- -max_total_time=$(FUZZ_SECONDS) -max_len=400 -len_control=0
	$(FUZZ_RUN) purge_input -- -max_total_time=$(FUZZ_SECONDS) -max_len=6000
	$(FUZZ_RUN) litespeed -- -max_total_time=$(FUZZ_SECONDS) -max_len=6000
	for target in hydrate_escape hydrate_stream; do \
		mkdir -p microcache-core/fuzz/corpus/$$target && \
		( $(FUZZ_RUN) $$target fuzz/corpus/$$target fuzz/seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) ) || exit 1; \
	done
	$(FUZZ_RUN) config -- -max_total_time=$$(($(FUZZ_SECONDS) / 4)) -max_len=600
	$(FUZZ_RUN) php_names -- -max_total_time=$$(($(FUZZ_SECONDS) / 4)) -max_len=512

# The Test::Nginx suites, against both nginx builds.
test-nginx: build
	t/run-tests.sh $(VENDORED_NGINX) $(VENDORED_SO)
	t/run-tests.sh $(DEBIAN_NGINX) $(DEBIAN_SO)

# Reloads and races: the counters survive a reload; concurrent purges count each entry once;
# a walk cut off by worker_shutdown_timeout is logged; the cache index over reloads, restarts,
# concurrent purges and stores, and when full (about 30 s each).
test-reload: build
	scripts/test-reload.sh $(VENDORED_NGINX) $(VENDORED_SO)
	scripts/test-reload.sh $(DEBIAN_NGINX) $(DEBIAN_SO)
	scripts/test-purge-races.sh $(VENDORED_NGINX) $(VENDORED_SO)
	scripts/test-purge-races.sh $(DEBIAN_NGINX) $(DEBIAN_SO)
	scripts/test-index.sh $(VENDORED_NGINX) $(VENDORED_SO)
	scripts/test-index.sh $(DEBIAN_NGINX) $(DEBIAN_SO)

# The shipped configuration itself, through the staging machinery, on both nginx builds.
test-shipped: build
	scripts/test-shipped.sh

# A front and three cache nodes made of conf/cluster/ on 127.0.0.2-5, one PHP-FPM origin, on
# both nginx builds (about 25 s each, bounded at 55): sharding, purges reaching every node once,
# signatures, a node stopped or dropping connections.
test-cluster: build
	timeout 55 scripts/test-cluster.sh $(VENDORED_NGINX) $(VENDORED_SO)
	timeout 55 scripts/test-cluster.sh $(DEBIAN_NGINX) $(DEBIAN_SO)

# A real WordPress (Debian's package, a private MariaDB) behind the shipped configuration, in
# private namespaces (scripts/wordpress/run.sh): the cache rules as WordPress answers them.
test-wordpress-rules: debian
	scripts/wordpress/run.sh scripts/wordpress/check-rules.sh

# The tag purge: the shipped must-use plugin (conf/wordpress/microcache-tags.php) in the same
# WordPress: after edits, a comment, a renamed tag and a trashed post, changed pages are fresh,
# the others still cached, and each change cost one purge request. About a minute.
.PHONY: test-wordpress-tags
test-wordpress-tags: debian
	scripts/wordpress/run.sh scripts/wordpress/check-tags.sh

# The same, and WordPress's Nginx Helper plugin installed from NGINX_HELPER_GIT (a clone of its
# repository): every purge method, as a site owner uses them. About 4 minutes; not in `test`,
# which cannot fetch the plugin.
test-wordpress: test-wordpress-rules
	scripts/wordpress/run.sh scripts/wordpress/check-nginx-helper.sh

# The same, and LiteSpeed Cache for WordPress installed from LSCWP_GIT (a clone of its
# repository) with the shipped opt-in block: what the plugin caches, purges and varies by role,
# as a site owner and visitors see it. About 2 minutes; not in `test`, which cannot fetch it.
test-wordpress-litespeed: debian
	scripts/wordpress/run.sh scripts/wordpress/check-litespeed.sh

# The staging image, built and run with podman (no Docker engine needed).
test-docker:
	scripts/install-deps.sh docker
	scripts/test-docker.sh

# Under load, through the shipped configuration: 200 concurrent first requests reach the
# origin once; purging a full cache while wrk runs loses no request.
test-load: debian
	bench/stampede.sh
	bench/purge-under-load.sh

# nginx's own build system builds the module from `config` (--add-dynamic-module and
# --add-module) in the vendored nginx source tree, and the result serves a request.
test-configure:
	scripts/install-deps.sh build test
	scripts/test-add-module.sh

# The package built, installed and smoke-tested on Debian 12, 13 and unstable, one release
# after the other, in podman containers; apt refuses it next to another release's nginx.
test-matrix:
	scripts/install-deps.sh docker deb
	scripts/test-release-matrix.sh

test: deps lint unit test-php-names fuzz test-nginx test-reload test-shipped test-wordpress-rules test-wordpress-tags test-cluster test-load test-docker deb test-configure

run:
	scripts/install-deps.sh build staging
	$(MAKE) debian
	staging/run.sh

# The benchmark (bench/README.md): about 8 minutes; writes bench/results.md.
bench: debian
	bench/run.sh

# The cache index benchmark (bench/README.md): purges in a cache of 100k entries through the
# index, by the directory walk and by ngx_cache_purge; about 6 minutes; writes
# bench/index-results.md.
bench-index: debian
	bench/index-purge.sh

# The cluster benchmark (README: "More than one machine"): one node, three sharded, three round
# robin, side by side; about 2 minutes; writes bench/cluster-results.md.
bench-cluster: debian
	bench/cluster.sh

# Soft against hard purge under 200 connections (README: microcache_purge): about 1 minute.
bench-soft: debian
	bench/soft-purge.sh

# Edge state hydration's benchmark (bench/README.md): about 2 minutes; writes
# bench/hydrate-results.md.
bench-hydrate: debian
	bench/hydrate.sh
