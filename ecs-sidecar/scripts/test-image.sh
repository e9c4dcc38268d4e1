#!/usr/bin/env bash
# Builds the image, then runs it (podman, host network) against fakes started by
# the `image` integration test: health via the binary's HEALTHCHECK command, an
# OTLP request and a legacy UDP segment reaching a fake X-Ray OTLP endpoint.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TAG="${OTEL_AWS_SIDECAR_IMAGE:-otel-aws-sidecar:dev}"
bash "$ROOT/ecs-sidecar/scripts/build-image.sh" "$TAG"
cd "$ROOT"
# The tests run podman with --runtime runc.
command -v runc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc) >/dev/null
OTEL_AWS_SIDECAR_IMAGE="$TAG" cargo test -p otel-aws-sidecar --test image -- --ignored --nocapture
