#!/usr/bin/env bash
# Builds the static sidecar binary and the FROM-scratch image.
#   ecs-sidecar/scripts/build-image.sh [--arch ARCH] [IMAGE_TAG]   (default otel-aws-sidecar:dev)
#   ecs-sidecar/scripts/build-image.sh [--arch ARCH] --stage-only  (binary + build context, Dockerfile
#                                                      included, no image: what cdk/ uploads)
# ARCH (also from the environment):
#   amd64 (default; x86_64 works too)  image IMAGE_TAG, context target/sidecar-image
#   arm64 (aarch64)                    image IMAGE_TAG (linux/arm64), context target/sidecar-image-arm64
#   all                                IMAGE_TAG-amd64 and IMAGE_TAG-arm64, and IMAGE_TAG as a
#                                      manifest list of both (podman only)
# The image is FROM scratch (COPY only), so building the arm64 image needs no
# emulation. Binaries: amd64 is the release profile; arm64 is built by
# lambda-layer/scripts/package-layer.sh with WITH_SIDECAR=1 (one cargo
# invocation with the extension, profile `lambda`, so the aarch64 dependency
# graph compiles once; it also writes the arm64 layer zip).
# SIDECAR_ARM64_PROFILE=release builds the arm64 sidecar alone with the
# release profile instead (a second aarch64 dependency build).
# Uses podman (installed with apt-get when neither podman nor docker is present).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STAGE_ONLY=0
ARCH="${ARCH:-amd64}"
while [ $# -gt 0 ]; do
  case "$1" in
    --stage-only) STAGE_ONLY=1; shift ;;
    --arch) ARCH="$2"; shift 2 ;;
    --arch=*) ARCH="${1#--arch=}"; shift ;;
    *) break ;;
  esac
done
TAG="${1:-otel-aws-sidecar:dev}"
case "$ARCH" in
  amd64|x86_64) ARCHS=(amd64) ;;
  arm64|aarch64) ARCHS=(arm64) ;;
  all) ARCHS=(amd64 arm64) ;;
  *) echo "unknown arch $ARCH (amd64, arm64 or all)" >&2; exit 2 ;;
esac
cd "$ROOT"
# shellcheck source=../../lambda-layer/scripts/musl-target.sh
source "$ROOT/lambda-layer/scripts/musl-target.sh"

apt_install() {
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
}

# The static binary for one arch (musl target; its C parts, aws-lc-sys and
# mimalloc, need a C compiler for the target): prints its path.
build_binary() {
  local arch="$1" out
  if [ "$arch" = amd64 ]; then
    musl_target x86_64 >&2
    cargo build --release --locked -p otel-aws-sidecar --bin otel-aws-sidecar --target "$TARGET" >&2
    out="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/release"
  elif [ "${SIDECAR_ARM64_PROFILE:-lambda}" = lambda ]; then
    TARGET= WITH_SIDECAR=1 bash "$ROOT/lambda-layer/scripts/package-layer.sh" arm64 >&2
    out="${CARGO_TARGET_DIR:-$ROOT/target}/aarch64-unknown-linux-musl/lambda"
  else
    musl_target aarch64 >&2
    cargo build --profile "$SIDECAR_ARM64_PROFILE" --locked -p otel-aws-sidecar --bin otel-aws-sidecar \
      --target "$TARGET" >&2
    out="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/$SIDECAR_ARM64_PROFILE"
  fi
  if ldd "$out/otel-aws-sidecar" 2>/dev/null | grep -q '=>'; then
    echo "error: $out/otel-aws-sidecar is dynamically linked" >&2
    exit 1
  fi
  echo "$out/otel-aws-sidecar"
}

# CA roots: the Debian bundle as one PEM file (the image has no other system files).
[ -f /etc/ssl/certs/ca-certificates.crt ] || apt_install ca-certificates

declare -A BIN CTX
for arch in "${ARCHS[@]}"; do
  BIN[$arch]="$(build_binary "$arch")"
  ctx="target/sidecar-image"; [ "$arch" = amd64 ] || ctx="target/sidecar-image-$arch"
  CTX[$arch]="$ctx"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "${BIN[$arch]}" "$ctx/otel-aws-sidecar"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
  cp ecs-sidecar/config/ecs-default.yaml "$ctx/config.yaml"
  cp ecs-sidecar/Dockerfile "$ctx/Dockerfile"
  if [ "$STAGE_ONLY" = 1 ]; then
    echo "staged $ROOT/$ctx ($(du -sh "$ctx" | cut -f1)): $(ls "$ctx" | tr '\n' ' ')"
  fi
done
[ "$STAGE_ONLY" = 1 ] && exit 0

if command -v podman >/dev/null; then ENGINE=podman
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker
else apt_install podman; ENGINE=podman
fi
# podman needs the docker format to keep HEALTHCHECK (OCI images have no such field).
FORMAT=(); [ "$ENGINE" = podman ] && FORMAT=(--format docker)
# A cached layer may come from the other platform's build (the cache key
# ignores --platform): build afresh whenever arm64 is involved (COPY only: seconds).
[ "${ARCHS[*]}" = amd64 ] || FORMAT+=(--no-cache)
for arch in "${ARCHS[@]}"; do
  tag="$TAG"; [ "${#ARCHS[@]}" -gt 1 ] && tag="$TAG-$arch"
  "$ENGINE" build "${FORMAT[@]}" --platform "linux/$arch" -t "$tag" -f ecs-sidecar/Dockerfile "${CTX[$arch]}"
  echo "built $tag (linux/$arch) with $ENGINE: binary $(stat -c %s "${BIN[$arch]}") bytes," \
    "image $("$ENGINE" image inspect "$tag" --format '{{.Size}}') bytes"
done
if [ "${#ARCHS[@]}" -gt 1 ]; then
  if [ "$ENGINE" != podman ]; then
    echo "manifest list: needs podman (docker builds one only when pushing, with buildx)" >&2
    exit 1
  fi
  # The name may hold an earlier single-arch image or manifest list.
  podman manifest rm "$TAG" >/dev/null 2>&1 || podman rmi "$TAG" >/dev/null 2>&1 || true
  podman manifest create "$TAG" >/dev/null
  for arch in "${ARCHS[@]}"; do
    podman manifest add "$TAG" "containers-storage:$(podman image inspect "$TAG-$arch" --format '{{.Id}}')" >/dev/null
  done
  echo "manifest list $TAG: $(podman manifest inspect "$TAG" | python3 -c \
    'import json,sys; print(" ".join(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"]))')"
fi
