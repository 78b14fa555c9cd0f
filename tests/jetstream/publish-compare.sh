#!/usr/bin/env bash
# Sync and windowed-async JetStream publishes (16 B, file stream) through
# sync-publish.py (a raw-protocol Python client: on this machine the
# client, not the server, bounds the async rows) against each server:
# Starling (default: fsync before every ack), Starling lazy
# (sync_interval 2m) and each nats-server given.
#
# usage: tests/jetstream/publish-compare.sh [STARLING] [NATS_SERVER...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
starling=${1:-$root/target/release/starling}
shift || true
servers=("$@")
[[ ${#servers[@]} -gt 0 ]] || servers=(/usr/sbin/nats-server)
sync_count=${SYNC_COUNT:-2000}
async_count=${ASYNC_COUNT:-50000}
window=${WINDOW:-256}

run() { # label binary [extra args...]
    local label=$1 binary=$2; shift 2
    local store log port pid
    store=$(mktemp -d); log=$(mktemp)
    port=$((20000 + RANDOM % 20000))
    "$binary" -a 127.0.0.1 -p "$port" -js -sd "$store" "$@" 2>"$log" &
    pid=$!
    for _ in $(seq 1 100); do grep -q "Listening for client connections" "$log" && break; sleep 0.1; done
    printf '%-28s sync   %s\n' "$label" "$(python3 "$here/sync-publish.py" "127.0.0.1:$port" "$sync_count" sync.test 1)"
    printf '%-28s async  %s\n' "$label" "$(python3 "$here/sync-publish.py" "127.0.0.1:$port" "$async_count" async.test "$window")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$store" "$log"
}

lazy=$(mktemp)
printf 'jetstream { sync_interval: "2m" }\n' > "$lazy"
run "starling (fsync per batch)" "$starling"
run "starling lazy (2m)" "$starling" -c "$lazy"
for server in "${servers[@]}"; do
    run "$("$server" --version 2>&1 | head -1 | tr -d '\n')" "$server"
done
rm -f "$lazy"
