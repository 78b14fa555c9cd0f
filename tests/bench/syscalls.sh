#!/usr/bin/env bash
# syscalls: one bench scenario against one server under strace; prints the
# server's syscalls per message and bytes per read and write.
#
#   tests/bench/syscalls.sh SERVER_PATH [SCENARIO] [starling-bench options]
#   tests/bench/syscalls.sh target/release/starling pubsub-16b --clients async-nats
#   tests/bench/syscalls.sh /usr/sbin/nats-server fanout-1k
# SCENARIO defaults to pubsub-16b; options default to --quick (a quarter of
# the messages) and one round. Environment:
#   BENCH_BIN=PATH   use this starling-bench instead of building one
#   KEEP=1           keep the strace logs (their directory is printed)
#
# The bench starts the server through a wrapper that has strace attach to the
# wrapper's own pid (-p, following threads with -f) and then execs the
# server, so the bench's child is the traced server itself: the bench's
# SIGKILL at the end ends the server, never strace, which then finishes its
# log. Tracing slows the server a lot; the rates it reports mean nothing,
# the counts per message do. Messages are the scenario's published count
# (`starling-bench --list`), or what the async-nats budget let through.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SYSCALLS=write,writev,sendto,sendmsg,read,recvfrom,epoll_wait,epoll_pwait,futex

log() { printf 'syscalls: %s\n' "$*" >&2; }

[ $# -ge 1 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
SERVER="$(realpath "$1")"
shift
SCENARIO=pubsub-16b
if [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then
    SCENARIO="$1"
    shift
fi
[ -x "$SERVER" ] || { log "$SERVER is not executable"; exit 2; }
command -v strace >/dev/null || { log "strace is not installed (apt-get install strace)"; exit 1; }
command -v python3 >/dev/null || { log "python3 is needed to read the logs"; exit 1; }
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(--quick)

if [ -z "${BENCH_BIN:-}" ]; then
    TARGET_DIR="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    cargo build --release -p starling-tests --bin starling-bench >&2
    BENCH_BIN="$TARGET_DIR/release/starling-bench"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/syscalls.XXXXXX")"
cleanup() { if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else log "logs kept in $WORK"; fi; }
trap cleanup EXIT

cat >"$WORK/server" <<EOF
#!/usr/bin/env bash
# --version (asked by the bench before the run) is not traced.
for arg in "\$@"; do
    case "\$arg" in --version|-v|version) exec "$SERVER" "\$@" ;; esac
done
strace -f -qq -o "$WORK/trace.\$\$" -e trace=$SYSCALLS -p \$\$ &
echo \$! >"$WORK/strace.\$\$.pid"
# Builtins only, so no traced child runs: wait until strace is attached.
while :; do
    while read -r key value; do
        if [ "\$key" = TracerPid: ] && [ "\$value" != 0 ]; then
            exec "$SERVER" "\$@"
        fi
    done </proc/\$\$/status
done
EOF
chmod +x "$WORK/server"

MESSAGES="$("$BENCH_BIN" --list "${ARGS[@]}" | awk -v name="$SCENARIO" '$1 == name { print $2 }')"
[ -n "$MESSAGES" ] || { log "$SCENARIO is no scenario with a message count (see --list)"; exit 2; }

"$BENCH_BIN" --server "traced=$WORK/server" --candidate traced --rounds 1 \
    --scenarios "$SCENARIO" --out "$WORK/results" "${ARGS[@]}" 2>&1 | tee "$WORK/bench.log" >&2
if grep -q FAILED "$WORK/bench.log"; then
    log "the run failed: per-message figures would be wrong"
    exit 1
fi
# A budget-cut async-nats run published fewer messages than the catalogue's.
CUT="$(sed -n 's/.*budget ended publishing after \([0-9]*\) of.*/\1/p' "$WORK/bench.log" | tail -n 1)"
[ -z "$CUT" ] || MESSAGES="$CUT"

# strace writes its last lines once the killed server is gone: wait (bounded)
# until each strace the wrapper started (by its recorded pid) has exited.
for pidfile in "$WORK"/strace.*.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
done

python3 - "$MESSAGES" "$SCENARIO" "$WORK"/trace.* <<'PY'
import re, sys
messages, scenario, logs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
start = re.compile(r"^\d+\s+(\w+)\(")
resumed = re.compile(r"^\d+\s+<\.\.\. (\w+) resumed>")
result = re.compile(r"\)\s+=\s+(-?\d+)")
calls, transferred, failed = {}, {}, {}
for path in logs:
    with open(path, errors="replace") as log:
        for line in log:
            match = start.match(line)
            if match:
                name = match.group(1)
                calls[name] = calls.get(name, 0) + 1
            else:
                match = resumed.match(line)
                if not match:
                    continue
                name = match.group(1)
            if line.rstrip().endswith("<unfinished ...>"):
                continue
            value = result.search(line)
            if value is None:
                continue
            value = int(value.group(1))
            if value < 0:
                failed[name] = failed.get(name, 0) + 1
            else:
                transferred[name] = transferred.get(name, 0) + value
io = {"write", "writev", "sendto", "sendmsg", "read", "recvfrom"}
print(f"\n{scenario}: {messages} messages published (request/reply: requests)\n")
print("| syscall | calls | per message | bytes per call | failed (EAGAIN...) |")
print("| --- | --- | --- | --- | --- |")
for name in sorted(calls, key=lambda name: -calls[name]):
    count = calls[name]
    ok = count - failed.get(name, 0)
    per_call = f"{transferred.get(name, 0) / ok:.0f}" if name in io and ok else ""
    print(f"| {name} | {count} | {count / messages:.4f} | {per_call} | {failed.get(name, 0)} |")
total = sum(calls.values())
print(f"| all | {total} | {total / messages:.4f} | | |")
PY
