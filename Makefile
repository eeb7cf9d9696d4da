# microcache: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

MODULE_SO      := libngx_http_microcache_module.so
VENDORED_SO    := $(CURDIR)/target/release/$(MODULE_SO)
VENDORED_NGINX := $(CURDIR)/target/nginx-vendored/nginx
DEBIAN_TREE    := $(CURDIR)/target/nginx-debian
DEBIAN_SO      := $(CURDIR)/target/debian/release/$(MODULE_SO)
DEBIAN_NGINX   := /usr/sbin/nginx

.PHONY: deps build vendored debian lint unit test-nginx test run

deps:
	scripts/install-deps.sh

build: vendored debian

# The module and nginx 1.28 from the nginx-src crate, built together.
vendored:
	$(CARGO) build --release
	mkdir -p $(dir $(VENDORED_NGINX))
	cp "$$(ls -t target/release/build/nginx-sys-*/out/objs/nginx | head -n 1)" $(VENDORED_NGINX)

# The module for the installed Debian nginx, built against its nginx-dev tree.
debian:
	nginx-src/prepare-debian.sh $(DEBIAN_TREE)
	NGINX_BUILD_DIR=$(DEBIAN_TREE)/objs $(CARGO) build --release --no-default-features --target-dir target/debian

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --release --all-targets -- -D warnings

unit:
	$(CARGO) test --release -p microcache-core

test-nginx: build
	t/run-tests.sh $(VENDORED_NGINX) $(VENDORED_SO)
	t/run-tests.sh $(DEBIAN_NGINX) $(DEBIAN_SO)

test: deps lint unit test-nginx

run: deps debian
	staging/run.sh
