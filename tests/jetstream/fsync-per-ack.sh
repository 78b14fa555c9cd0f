#!/usr/bin/env bash
# Prove the durability promise: count the broker's fsync/fdatasync calls
# (strace) while a client makes N sequential acknowledged publishes to a
# file stream. Starling's default must make at least one per ack.
#
# usage: tests/jetstream/fsync-per-ack.sh [N] [BINARY]
# Starts the binary (default target/release/starling, else target/debug)
# on 127.0.0.1 with -js and a temporary store dir; stops it by PID.
set -euo pipefail
count=${1:-500}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${2:-}
if [[ -z $binary ]]; then
    binary=$root/target/release/starling
    [[ -x $binary ]] || binary=$root/target/debug/starling
fi
store=$(mktemp -d)
log=$(mktemp)
trace=$(mktemp)
port=$((20000 + RANDOM % 20000))
strace -f -qq -e trace=fsync,fdatasync -o "$trace" \
    "$binary" -a 127.0.0.1 -p "$port" -js -sd "$store" 2>"$log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$store" "$log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    grep -q "Listening for client connections" "$log" && break
    sleep 0.1
done
before=$(grep -cE 'fsync|fdatasync' "$trace" || true)
python3 "$here/sync-publish.py" "127.0.0.1:$port" "$count"
sleep 0.2
after=$(grep -cE 'fsync|fdatasync' "$trace" || true)
syncs=$((after - before))
echo "sync calls during $count acked publishes: $syncs ($(awk "BEGIN{printf \"%.2f\", $syncs/$count}") per ack)"
rm -f "$trace"
if (( syncs < count )); then
    echo "FAIL: fewer syncs than acknowledgements" >&2
    exit 1
fi
