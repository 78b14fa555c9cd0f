#!/usr/bin/env bash
# The docker-compose deployment, end to end (make test-compose):
#   1. build the Starling image (make docker-image) and a Prometheus image
#      from Debian's package (no registry needed: see
#      deploy/prometheus/Dockerfile.local),
#   2. start deploy/docker-compose.yml (three nodes + Prometheus) as its own
#      compose project, on free loopback ports,
#   3. publish through n1 and receive through n3 (nats-py),
#   4. stop n2: the others drop to one route and keep exchanging messages,
#   5. start n2: every node is back to two routes, traffic flows through n2,
#   6. Prometheus has all three targets up and a non-zero starling_ counter,
#   7. n3 is put in lame duck mode the way the Kubernetes preStop hook does
#      it (`starling --signal ldm=PIDFILE` inside the container): /healthz
#      turns 503, the process exits 0, the others drop to one route,
#   8. tear down: no container, network or volume of the project is left,
#      on failure or interruption too (trap).
# Every wait is bounded. Only this project's containers, networks and
# volumes are touched (by compose project label); images are kept as a
# build cache and replaced, not accumulated.
#
# Environment: PYTHON (default .venv/bin/python, with nats-py), COMPOSE
# (default docker-compose, else "docker compose"), STEP_TIMEOUT (seconds per
# wait, default 90), STARLING_TEST_IMAGE (test this image instead of
# building one).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

project="starling-compose-test-$$"
starling_image=${STARLING_TEST_IMAGE:-starling-compose-test/starling:local}
prometheus_image="starling-compose-test/prometheus:local"
python=${PYTHON:-$root/.venv/bin/python}
step_timeout=${STEP_TIMEOUT:-90}
started_at=$(date +%s)

if [ -n "${COMPOSE:-}" ]; then
    read -r -a compose_cmd <<<"$COMPOSE"
elif command -v docker-compose >/dev/null; then
    compose_cmd=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
else
    echo "compose-test: neither docker-compose nor 'docker compose' is installed" >&2
    exit 1
fi
"$python" -c "import nats" || {
    echo "compose-test: $python lacks nats-py (make install-test-deps)" >&2
    exit 1
}

compose() {
    "${compose_cmd[@]}" -p "$project" \
        -f deploy/docker-compose.yml -f tests/compose/docker-compose.test.yml "$@"
}

log() { echo "compose-test [$(($(date +%s) - started_at))s]: $*"; }

# Everything the project created, by compose label.
project_containers() { docker ps -aq --filter "label=com.docker.compose.project=$project"; }
project_networks() { docker network ls -q --filter "label=com.docker.compose.project=$project"; }
project_volumes() { docker volume ls -q --filter "label=com.docker.compose.project=$project"; }

teardown() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ] && [ -n "$(project_containers)" ]; then
        log "failed (status $status); container logs follow"
        compose logs --no-color --tail 60 || true
    fi
    log "tearing down $project"
    timeout 120 "${compose_cmd[@]}" -p "$project" \
        -f deploy/docker-compose.yml -f tests/compose/docker-compose.test.yml \
        down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 || true
    # Whatever compose left behind (interrupted mid-way), by label only.
    local ids
    ids=$(project_containers); [ -z "$ids" ] || docker rm -f $ids >/dev/null || true
    ids=$(project_networks); [ -z "$ids" ] || docker network rm $ids >/dev/null || true
    ids=$(project_volumes); [ -z "$ids" ] || docker volume rm -f $ids >/dev/null || true
    if [ -n "$(project_containers)$(project_networks)$(project_volumes)" ]; then
        echo "compose-test: could not remove everything of $project" >&2
        status=1
    fi
    log "done in $(($(date +%s) - started_at))s, status $status"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${STARLING_TEST_IMAGE:-}" ]; then
    log "building $starling_image"
    make --no-print-directory docker-image DOCKER_IMAGE="$starling_image" QUIET=1 >/dev/null
fi
log "building $prometheus_image from $(command -v prometheus || echo /usr/bin/prometheus)"
deploy/docker/assemble-rootfs.sh "$(command -v prometheus || echo /usr/bin/prometheus)" \
    target/prometheus-context /bin/prometheus >/dev/null
QUIET=1 deploy/docker/build-image.sh "$prometheus_image" deploy/prometheus/Dockerfile.local \
    target/prometheus-context >/dev/null
log "images: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -F -e "$starling_image" -e "$prometheus_image" | tr '\n' ' ')"

# Free loopback ports for everything published.
read -r -a ports <<<"$("$python" - <<'EOF'
import socket
sockets = [socket.socket() for _ in range(7)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
for s in sockets:
    s.close()
EOF
)"
export STARLING_IMAGE=$starling_image PROMETHEUS_IMAGE=$prometheus_image STARLING_PUBLISH_HOST=127.0.0.1
export N1_CLIENT_PORT=${ports[0]} N1_MONITOR_PORT=${ports[1]}
export N2_CLIENT_PORT=${ports[2]} N2_MONITOR_PORT=${ports[3]}
export N3_CLIENT_PORT=${ports[4]} N3_MONITOR_PORT=${ports[5]}
export PROMETHEUS_PORT=${ports[6]}
n1=nats://127.0.0.1:$N1_CLIENT_PORT
n2=nats://127.0.0.1:$N2_CLIENT_PORT
n3=nats://127.0.0.1:$N3_CLIENT_PORT
m1=http://127.0.0.1:$N1_MONITOR_PORT
m2=http://127.0.0.1:$N2_MONITOR_PORT
m3=http://127.0.0.1:$N3_MONITOR_PORT
prometheus=http://127.0.0.1:$PROMETHEUS_PORT

check() { "$python" tests/compose/check.py --timeout "$step_timeout" "$@"; }

compose config -q
log "starting $project (clients $n1 $n2 $n3, Prometheus $prometheus)"
timeout 120 "${compose_cmd[@]}" -p "$project" \
    -f deploy/docker-compose.yml -f tests/compose/docker-compose.test.yml up -d

check healthz "$m1" "$m2" "$m3"
check routes 2 "$m1" "$m2" "$m3"
log "cluster formed"
check pubsub "$n1" "$n3"
check pubsub "$n3" "$n1"

log "stopping n2"
timeout 60 "${compose_cmd[@]}" -p "$project" \
    -f deploy/docker-compose.yml -f tests/compose/docker-compose.test.yml stop --timeout 10 n2
check routes 1 "$m1" "$m3"
check pubsub "$n1" "$n3"
check pubsub "$n3" "$n1"

log "starting n2 again"
timeout 60 "${compose_cmd[@]}" -p "$project" \
    -f deploy/docker-compose.yml -f tests/compose/docker-compose.test.yml start n2
check healthz "$m2"
check routes 2 "$m1" "$m2" "$m3"
log "n2 rejoined"
check pubsub "$n2" "$n1"
check pubsub "$n1" "$n2"

check prometheus "$prometheus" starling 3

log "lame duck on n3 through its pid file (the Kubernetes preStop command)"
n3_container=$(compose ps -q n3)
docker exec "$n3_container" /starling --signal ldm=/var/run/starling/starling.pid
check draining "$m3"
exit_code=$(timeout "$step_timeout" docker wait "$n3_container")
[ "$exit_code" = 0 ] || { echo "compose-test: n3 exited with $exit_code after lame duck" >&2; exit 1; }
check routes 1 "$m1" "$m2"
check pubsub "$n1" "$n2"
log "all checks passed"
