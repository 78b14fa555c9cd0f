#!/usr/bin/env bash
# docker build -f DOCKERFILE -t TAG CONTEXT, then drop the image TAG named
# before if nothing else uses it, so rebuilding does not pile up untagged
# images. Set QUIET=1 for `docker build -q`.
#
# usage: build-image.sh TAG DOCKERFILE CONTEXT
set -euo pipefail
tag=${1:?usage: build-image.sh TAG DOCKERFILE CONTEXT}
dockerfile=${2:?usage: build-image.sh TAG DOCKERFILE CONTEXT}
context=${3:?usage: build-image.sh TAG DOCKERFILE CONTEXT}

old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
if [ "${QUIET:-}" = 1 ]; then
    docker build -q -f "$dockerfile" -t "$tag" "$context" >/dev/null
else
    docker build -f "$dockerfile" -t "$tag" "$context"
fi
new=$(docker image inspect -f '{{.Id}}' "$tag")
if [ -n "$old" ] && [ "$old" != "$new" ]; then
    docker rmi "$old" >/dev/null 2>&1 || true
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$tag"
