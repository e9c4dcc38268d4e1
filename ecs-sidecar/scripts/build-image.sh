#!/usr/bin/env bash
# Builds the static sidecar binary and the FROM-scratch image.
#   ecs-sidecar/scripts/build-image.sh [IMAGE_TAG]   (default otel-aws-sidecar:dev)
#   ecs-sidecar/scripts/build-image.sh --stage-only  (binary + build context in target/sidecar-image,
#                                                      Dockerfile included, no image: what cdk/ uploads)
# Uses podman (installed with apt-get when neither podman nor docker is present).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STAGE_ONLY=0
if [ "${1:-}" = --stage-only ]; then STAGE_ONLY=1; shift; fi
TAG="${1:-otel-aws-sidecar:dev}"
TARGET=x86_64-unknown-linux-musl
cd "$ROOT"

apt_install() {
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
}

# Static binary: musl target (its C parts, e.g. aws-lc-sys, need musl-gcc).
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
command -v musl-gcc >/dev/null || apt_install musl-tools
cargo build --release --locked -p otel-aws-sidecar --bin otel-aws-sidecar --target "$TARGET"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/release/otel-aws-sidecar"
if ldd "$BIN" 2>/dev/null | grep -q '=>'; then
  echo "error: $BIN is dynamically linked" >&2
  exit 1
fi

# CA roots: the Debian bundle as one PEM file (the image has no other system files).
[ -f /etc/ssl/certs/ca-certificates.crt ] || apt_install ca-certificates

CTX="target/sidecar-image"
rm -rf "$CTX" && mkdir -p "$CTX"
cp "$BIN" "$CTX/otel-aws-sidecar"
cp /etc/ssl/certs/ca-certificates.crt "$CTX/ca-certificates.crt"
cp ecs-sidecar/config/ecs-default.yaml "$CTX/config.yaml"
cp ecs-sidecar/Dockerfile "$CTX/Dockerfile"
if [ "$STAGE_ONLY" = 1 ]; then
  echo "staged $ROOT/$CTX ($(du -sh "$CTX" | cut -f1)): $(ls "$CTX" | tr '\n' ' ')"
  exit 0
fi

if command -v podman >/dev/null; then ENGINE=podman
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker
else apt_install podman; ENGINE=podman
fi
# podman needs the docker format to keep HEALTHCHECK (OCI images have no such field).
FORMAT=(); [ "$ENGINE" = podman ] && FORMAT=(--format docker)
"$ENGINE" build "${FORMAT[@]}" -t "$TAG" -f ecs-sidecar/Dockerfile "$CTX"
echo "built $TAG with $ENGINE: binary $(stat -c %s "$BIN") bytes, image $("$ENGINE" image inspect "$TAG" --format '{{.Size}}') bytes"
