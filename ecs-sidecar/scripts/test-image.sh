#!/usr/bin/env bash
# Builds the image, then runs it (podman, host network) against fakes started by
# the `image` integration test: health via the binary's HEALTHCHECK command, an
# OTLP request and a legacy UDP segment reaching a fake X-Ray OTLP endpoint.
#   ecs-sidecar/scripts/test-image.sh [--arch all]
# With --arch all (make sidecar-image-test) it builds both images and the
# manifest list (build-image.sh), checks that the list names linux/amd64 and
# linux/arm64 and that the arm64 image carries an aarch64 binary, and runs the
# amd64 image. The arm64 binary itself runs under qemu-user in
# ecs-sidecar/tests/arm64_qemu.rs (no binfmt needed), not as a container.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TAG="${OTEL_AWS_SIDECAR_IMAGE:-otel-aws-sidecar:dev}"
ARCH=amd64
if [ "${1:-}" = --arch ]; then ARCH="$2"; fi
bash "$ROOT/ecs-sidecar/scripts/build-image.sh" --arch "$ARCH" "$TAG"
cd "$ROOT"
RUN="$TAG"
if [ "$ARCH" = all ]; then
  RUN="$TAG-amd64"
  platforms="$(podman manifest inspect "$TAG" | python3 -c \
    'import json,sys; print(" ".join(sorted(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"])))')"
  [ "$platforms" = "linux/amd64 linux/arm64" ] || { echo "manifest list $TAG: $platforms" >&2; exit 1; }
  arch="$(podman image inspect "$TAG-arm64" --format '{{.Architecture}}')"
  [ "$arch" = arm64 ] || { echo "$TAG-arm64 is $arch" >&2; exit 1; }
  # The binary inside the arm64 image (copied out of the image, not the build context).
  c="$(podman create "$TAG-arm64")"
  trap 'podman rm "$c" >/dev/null' EXIT
  podman cp "$c:/otel-aws-sidecar" "$ROOT/target/sidecar-image-arm64/from-image"
  head -c 20 "$ROOT/target/sidecar-image-arm64/from-image" | od -An -tx1 | grep -q ' b7 00$' \
    || { echo "$TAG-arm64: /otel-aws-sidecar is not an aarch64 ELF" >&2; exit 1; }
  rm -f "$ROOT/target/sidecar-image-arm64/from-image"
  echo "manifest list $TAG: $platforms; $TAG-arm64 carries an aarch64 binary"
fi
# The tests run podman with --runtime runc.
command -v runc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc) >/dev/null
OTEL_AWS_SIDECAR_IMAGE="$RUN" cargo test -p otel-aws-sidecar --test image -- --ignored --nocapture
