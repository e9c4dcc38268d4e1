#!/usr/bin/env bash
# Builds the otel-aws Lambda layer zip:
#   target/layer/otel-aws-extension-<arch>.zip
#   (target/layer/otel-aws-extension-xray-<arch>.zip with FEATURES=xray)
#     extensions/otel-aws-extension   (the external extension, executable)
#     otel-aws-wrapper                (AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-aws-wrapper)
#     otel-aws-hooks/{python,node}/   (the wrapper's completion hooks, lambda-layer/hooks)
#
# Usage: lambda-layer/scripts/package-layer.sh [x86_64|arm64]
# Env:   PROFILE (default lambda: release + opt-level "z"), TARGET (Rust target
#        triple; default: musl if installed, else gnu, for the arch),
#        FEATURES (cargo features of otel-aws-lambda, e.g. `xray` for the
#        PutTraceSegments exporter: +1.15 MB, see docs/lambda.md).
set -euo pipefail

arch="${1:-x86_64}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
profile="${PROFILE:-lambda}"
case "$arch" in
  x86_64) cpu=x86_64 ;;
  arm64|aarch64) arch=arm64; cpu=aarch64 ;;
  *) echo "unknown arch $arch (x86_64 or arm64)" >&2; exit 2 ;;
esac
if [ -z "${TARGET:-}" ]; then
  # musl needs the target and a musl C compiler (aws-lc-sys, ring build C code).
  if rustup target list --installed 2>/dev/null | grep -qx "$cpu-unknown-linux-musl" \
     && command -v musl-gcc >/dev/null 2>&1; then
    TARGET="$cpu-unknown-linux-musl"   # static: runs on every Lambda runtime (AL2, AL2023, container images)
  else
    TARGET="$cpu-unknown-linux-gnu"
  fi
fi

cd "$root"
features="${FEATURES:-}"
cargo build -p otel-aws-lambda --bin otel-aws-extension --profile "$profile" --target "$TARGET" \
  ${features:+--features "$features"}
variant="${features:+${features//,/-}-}"
bin="${CARGO_TARGET_DIR:-$root/target}/$TARGET/$profile/otel-aws-extension"
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
