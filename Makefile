# Starling developer entry points. `make run` starts one node on the default
# ports (clients 4222, monitoring 8222); `make test` runs every test;
# `make fuzz` runs the fuzz targets (not part of `make test`).

CARGO ?= cargo
RUN_ARGS ?= -m 8222

.PHONY: run build release test test-unit fmt fmt-check lint bench ci \
	install-test-deps test-deploy test-compose test-compose-if-docker \
	docker-image prometheus-image compose-up compose-down fuzz fuzz-install

run:
	$(CARGO) run --release -p starling -- $(RUN_ARGS)

build:
	$(CARGO) build --workspace --all-targets

release:
	$(CARGO) build --release -p starling

# The process tests start the real binary, so build it first. The
# /metrics tests need promtool (required once install-test-deps put it
# there), then the deployment files are checked and, when a Docker engine
# answers, the docker-compose cluster is tested end to end.
test: install-test-deps
	$(CARGO) build -p starling
	STARLING_REQUIRE_PROMTOOL=$$(command -v promtool >/dev/null && echo 1 || echo 0) \
		$(CARGO) test --workspace --no-fail-fast
	$(MAKE) --no-print-directory test-deploy
	$(MAKE) --no-print-directory test-compose-if-docker

test-unit:
	$(CARGO) test --workspace --lib

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Micro-benchmarks (the subscription index).
bench:
	$(CARGO) bench -p starling

ci: fmt-check lint test

# --- Fuzzing (fuzz/README.md) ---------------------------------------------

# Each target of fuzz/ runs FUZZ_SECONDS, one after another (one libFuzzer
# worker: the machine's cores are shared). New inputs go to fuzz/corpus/
# (not checked in), the checked-in seeds are read from fuzz/seeds/, a crash
# lands in fuzz/artifacts/ and stops the run.
#
# How it runs on a stable toolchain (this machine has only stable):
# cargo-fuzz's coverage flags (-Cpasses=sancov-module, -Cllvm-args=...)
# are accepted by stable rustc; a sanitizer (-Zsanitizer=address) is
# nightly-only, and RUSTC_BOOTSTRAP=1 makes stable rustc accept it, so
# FUZZ_BUILD_FLAGS=--sanitizer=address works too. The default is no
# sanitizer: the crates forbid unsafe code, so what there is to find is
# panics, overflows (debug assertions are on), hangs and runaway memory,
# and without ASan the targets run several times faster.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= client_parser connect_json route_codec route_frame config_parser \
	store_record js_api_request
FUZZ_BUILD_FLAGS ?= --sanitizer none --debug-assertions
FUZZ_RUN_FLAGS ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
fuzz: fuzz-install
	cd fuzz && for target in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$target && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(FUZZ_BUILD_FLAGS) $$target corpus/$$target seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) $(FUZZ_RUN_FLAGS) || exit 1; \
	done

fuzz-install:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

# --- Operations: test tools, image, compose (deploy/README.md) -------------

# Python tools for the deployment tests live in a venv (no system-wide pip,
# PEP 668): kubernetes-validate, PyYAML, nats-py (tests/deploy/requirements.txt).
VENV ?= .venv
# As root (CI) apt-get runs directly, otherwise through sudo.
APT_GET := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)

# promtool (Debian's prometheus package, also the compose test's Prometheus)
# and the venv. Without apt-get, the promtool checks are skipped and say so.
install-test-deps: $(VENV)/.installed
	@if command -v promtool >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends prometheus; \
	else \
		echo "install-test-deps: no apt-get here: promtool checks will be skipped"; \
	fi
	@# strace counts the broker's fsync calls (tests/tests/jetstream_durability.rs).
	@command -v strace >/dev/null || ! command -v apt-get >/dev/null || \
		{ $(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends strace; } || \
		echo "install-test-deps: strace not installed: the fsync count test will be skipped"

$(VENV)/.installed: tests/deploy/requirements.txt
	@python3 -m venv $(VENV) 2>/dev/null || { \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq python3-venv && \
		rm -rf $(VENV) && python3 -m venv $(VENV); }
	$(VENV)/bin/python -m pip install -q -r tests/deploy/requirements.txt
	@touch $@

# Kubernetes manifests (schema, config file equal to the compose one),
# compose file, Prometheus config, dashboard.
test-deploy: install-test-deps
	$(VENV)/bin/python -m unittest discover -s tests/deploy -v

# The compose cluster end to end; bounded as a whole (the script bounds
# each wait and tears down on any exit).
COMPOSE_TEST_TIMEOUT ?= 1500
test-compose: install-test-deps
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || \
		{ $(APT_GET) update -qq && $(APT_GET) install -y -qq docker-compose; }
	timeout --signal=TERM --kill-after=60 $(COMPOSE_TEST_TIMEOUT) bash tests/compose/compose-test.sh

test-compose-if-docker:
	@if timeout 30 docker info >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory test-compose; \
	else \
		echo "SKIPPED: docker-compose test (no Docker engine answers: 'docker info' failed)"; \
	fi

# The image: release binary built here, FROM scratch, nothing pulled.
DOCKER_IMAGE ?= starling:latest
DOCKER_CONTEXT := target/docker-context
docker-image:
	$(CARGO) build --release -p starling
	deploy/docker/assemble-rootfs.sh target/release/starling $(DOCKER_CONTEXT) /starling
	mkdir -p $(DOCKER_CONTEXT)/rootfs/etc/starling
	cp deploy/docker/starling.conf $(DOCKER_CONTEXT)/rootfs/etc/starling/starling.conf
	deploy/docker/build-image.sh $(DOCKER_IMAGE) deploy/Dockerfile $(DOCKER_CONTEXT)

# Prometheus from Debian's package as an image, for machines without a
# registry: make prometheus-image compose-up PROMETHEUS_IMAGE=starling/prometheus:local
PROMETHEUS_IMAGE ?= prom/prometheus:v2.42.0
prometheus-image: install-test-deps
	deploy/docker/assemble-rootfs.sh $$(command -v prometheus) target/prometheus-context /bin/prometheus
	deploy/docker/build-image.sh starling/prometheus:local deploy/prometheus/Dockerfile.local target/prometheus-context

COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)
COMPOSE_PROJECT ?= starling
compose-up: docker-image
	STARLING_IMAGE=$(DOCKER_IMAGE) PROMETHEUS_IMAGE=$(PROMETHEUS_IMAGE) \
		$(COMPOSE) -p $(COMPOSE_PROJECT) -f deploy/docker-compose.yml up -d

compose-down:
	STARLING_IMAGE=$(DOCKER_IMAGE) PROMETHEUS_IMAGE=$(PROMETHEUS_IMAGE) \
		$(COMPOSE) -p $(COMPOSE_PROJECT) -f deploy/docker-compose.yml down --volumes --remove-orphans

-include bench.mk
