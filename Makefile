# Starling developer entry points. `make run` starts one node on the default
# ports (clients 4222, monitoring 8222); `make test` runs every test.

CARGO ?= cargo
RUN_ARGS ?= -m 8222

.PHONY: run build release test test-unit fmt fmt-check lint bench ci

run:
	$(CARGO) run --release -p starling -- $(RUN_ARGS)

build:
	$(CARGO) build --workspace --all-targets

release:
	$(CARGO) build --release -p starling

# The process tests start the real binary, so build it first.
test:
	$(CARGO) build -p starling
	$(CARGO) test --workspace --no-fail-fast

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

-include bench.mk
