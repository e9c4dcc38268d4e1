#!/usr/bin/env bash
# Builds the otel-aws Lambda layer zip:
#   target/layer/otel-aws-extension-<arch>.zip
#   (target/layer/otel-aws-extension-xray-<arch>.zip with FEATURES=xray)
#     extensions/otel-aws-extension   (the external extension, executable)
#     otel-aws-wrapper                (AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-aws-wrapper)
#     otel-aws-hooks/{python,node}/   (the wrapper's completion hooks, lambda-layer/hooks)
#
# Usage: lambda-layer/scripts/package-layer.sh [x86_64|arm64|all]
#   all: both zips, one after the other.
# Env:   PROFILE (default lambda: release + opt-level "z"), TARGET (Rust target
#        triple; x86_64 default: musl if installed, else gnu; arm64 default:
#        aarch64-unknown-linux-musl, whose target and cross C compiler are
#        installed when missing, see musl-target.sh),
#        FEATURES (cargo features of otel-aws-lambda, e.g. `xray` for the
#        PutTraceSegments exporter: +1.15 MB, see docs/lambda.md),
#        WITH_SIDECAR=1 (also builds the static otel-aws-sidecar binary in the
#        same cargo invocation and profile, so the target's dependencies
#        compile once for both; `make arm64` uses it, docs/benchmarks.md "arm64").
set -euo pipefail

arch="${1:-x86_64}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "$arch" = all ]; then
  for a in x86_64 arm64; do bash "$0" "$a"; done
  exit 0
fi
profile="${PROFILE:-lambda}"
case "$arch" in
  x86_64|amd64) arch=x86_64; cpu=x86_64 ;;
  arm64|aarch64) arch=arm64; cpu=aarch64 ;;
  *) echo "unknown arch $arch (x86_64, arm64 or all)" >&2; exit 2 ;;
esac
# shellcheck source=musl-target.sh
source "$root/lambda-layer/scripts/musl-target.sh"
if [ -z "${TARGET:-}" ]; then
  if [ "$cpu" = aarch64 ]; then
    musl_target aarch64   # static: runs on every Lambda runtime (AL2, AL2023, container images)
  # musl needs the target and a musl C compiler (aws-lc-sys builds C code).
  elif rustup target list --installed 2>/dev/null | grep -qx "$cpu-unknown-linux-musl" \
     && command -v musl-gcc >/dev/null 2>&1; then
    TARGET="$cpu-unknown-linux-musl"   # static: runs on every Lambda runtime (AL2, AL2023, container images)
  else
    TARGET="$cpu-unknown-linux-gnu"
  fi
elif [ "$TARGET" = aarch64-unknown-linux-musl ]; then
  musl_target aarch64
fi

cd "$root"
# musl-mem: the distro's memcpy/memmove in place of musl's slow x86_64 ones (a no-op on other targets).
features="musl-mem${FEATURES:+,$FEATURES}"
build=(-p otel-aws-lambda --bin otel-aws-extension)
if [ "${WITH_SIDECAR:-0}" = 1 ]; then
  # Two packages in one invocation: features are named per package.
  build+=(-p otel-aws-sidecar --bin otel-aws-sidecar)
  features="${features:+otel-aws-lambda/${features//,/,otel-aws-lambda/}}"
fi
cargo build --locked "${build[@]}" --profile "$profile" --target "$TARGET" \
  ${features:+--features "$features"}
features="${FEATURES:-}"
variant="${features:+${features//,/-}-}"
out="${CARGO_TARGET_DIR:-$root/target}/$TARGET/$profile"
bin="$out/otel-aws-extension"
if [[ "$TARGET" == *-musl ]] && file -b "$bin" 2>/dev/null | grep -q dynamically; then
  echo "error: $bin is dynamically linked" >&2
  exit 1
fi
strip "$bin" 2>/dev/null || true   # the profile strips already; harmless when cross-built

stage="target/layer/stage-$variant$arch"
rm -rf "$stage"
mkdir -p "$stage/extensions"
cp "$bin" "$stage/extensions/otel-aws-extension"
cp lambda-layer/scripts/otel-aws-wrapper "$stage/otel-aws-wrapper"
chmod 755 "$stage/extensions/otel-aws-extension" "$stage/otel-aws-wrapper"
cp -R lambda-layer/hooks "$stage/otel-aws-hooks"
hook_files=$(cd "$stage" && find otel-aws-hooks -type f -not -path '*/__pycache__/*' | sort)

zip_path="target/layer/otel-aws-extension-$variant$arch.zip"
rm -f "$zip_path"
# python3's zipfile: no dependency on the zip tool; keeps the executable bits.
python3 - "$stage" "$zip_path" $hook_files <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name in ["extensions/", "extensions/otel-aws-extension", "otel-aws-wrapper"] + sys.argv[3:]:
        path = os.path.join(stage, name)
        info = zipfile.ZipInfo(name)
        info.create_system = 3  # unix: honour the mode bits below
        if name.endswith("/"):
            info.external_attr = (0o40755 << 16) | 0x10
            z.writestr(info, b"")
        else:
            info.external_attr = (0o100755 << 16)
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read(), compresslevel=9)
PY
ls -l "$bin" "$zip_path" | awk '{print $5, $9}'
echo "layer: $root/$zip_path (unpacked copy: $root/$stage)"
if [ "${WITH_SIDECAR:-0}" = 1 ]; then
  echo "sidecar: $(stat -c %s "$out/otel-aws-sidecar") $out/otel-aws-sidecar"
fi
