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

.PHONY: deps build vendored debian deb lint unit fuzz test-nginx test-reload test-shipped test-load test-docker test-configure test-matrix test run bench

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

# The Debian package for this machine's nginx, built with Debian's tooling (debian/rules), and
# lintian: target/deb/libnginx-mod-http-microcache_<version>+nginx<nginx version>_<arch>.deb
deb:
	scripts/install-deps.sh build deb
	scripts/build-deb.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --release --all-targets -- -D warnings
	$(CARGO) clippy --release --lib --features nginx-addon -- -D warnings

unit:
	$(CARGO) test --release -p microcache-core

# libFuzzer on the normaliser for FUZZ_SECONDS. cargo-fuzz needs nightly-only flags; the one
# toolchain here is stable, hence RUSTC_BOOTSTRAP.
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked --version 0.13.2
	cd microcache-core && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O normalise -- \
		-max_total_time=$(FUZZ_SECONDS) -max_len=6000

# The Test::Nginx suites, against both nginx builds.
test-nginx: build
	t/run-tests.sh $(VENDORED_NGINX) $(VENDORED_SO)
	t/run-tests.sh $(DEBIAN_NGINX) $(DEBIAN_SO)

test-reload: build
	scripts/test-reload.sh $(VENDORED_NGINX) $(VENDORED_SO)
	scripts/test-reload.sh $(DEBIAN_NGINX) $(DEBIAN_SO)

# The shipped configuration itself, through the staging machinery, on both nginx builds.
test-shipped: build
	scripts/test-shipped.sh

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

test: deps lint unit fuzz test-nginx test-reload test-shipped test-load test-docker deb test-configure

run:
	scripts/install-deps.sh build staging
	$(MAKE) debian
	staging/run.sh

# The benchmark (bench/README.md): about 8 minutes; writes bench/results.md.
bench: debian
	bench/run.sh
