#!/usr/bin/env bash
# Builds the CDK sample app's Rust Lambda function and zips it for
# provided.al2023:
#
#   <target dir>/cdk-sample/rust-function.zip    bootstrap (static x86_64 musl, mode 0755)
#
# <target dir> is $CARGO_TARGET_DIR when set (as the Makefile uses it), else
# <repo>/target. cdk/bin/sample.ts and cdk/scripts/test.sh look there.
#
# The function is lambda-layer's `otel-aws-test-function`: lambda_runtime
# wrapped with the otel-aws function wrapper (a SERVER span per invoke,
# parented on the X-Ray header; the event {"spans": N} adds N child spans).
# It is built with the same profile (`lambda`: release, opt-level "z") and
# target (x86_64-unknown-linux-musl) as `make layer`, and as a binary of the
# same package it has the same feature set, so after `make layer` cargo only
# compiles and links this one binary. (The `demo_function` example would pull
# in the package's dev-dependencies, whose features differ, and rebuild the
# whole dependency tree once more.)
#
#   bash cdk/scripts/package-function.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET=x86_64-unknown-linux-musl
PROFILE=lambda
BIN_NAME=otel-aws-test-function
cd "$ROOT"

apt_install() {
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null
}

# Static binary: musl target (its C parts, e.g. aws-lc-sys, need musl-gcc).
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
command -v musl-gcc >/dev/null || apt_install musl-tools
cargo build --locked -p otel-aws-lambda --bin "$BIN_NAME" --profile "$PROFILE" --target "$TARGET"

target_dir="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$target_dir" in /*) ;; *) target_dir="$ROOT/$target_dir" ;; esac
bin="$target_dir/$TARGET/$PROFILE/$BIN_NAME"
if ldd "$bin" 2>/dev/null | grep -q '=>'; then
  echo "error: $bin is dynamically linked; provided.al2023 needs a static bootstrap" >&2
  exit 1
fi

out_dir="$target_dir/cdk-sample"
zip_path="$out_dir/rust-function.zip"
mkdir -p "$out_dir"
rm -f "$zip_path"
# python3's zipfile (no zip tool needed): one entry, executable, fixed timestamp
# so the same binary gives the same zip and the same CDK asset hash.
python3 - "$bin" "$zip_path" <<'PY'
import sys, zipfile
src, out = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.create_system = 3  # unix: honour the mode bits below
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
echo "sample function: $zip_path ($(stat -c %s "$zip_path") bytes; bootstrap $(stat -c %s "$bin") bytes)"
