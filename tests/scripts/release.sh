#!/usr/bin/env bash
# make release VERSION=x.y.z: every artefact a user installs, built from a
# clean tree into <target>/release-artifacts/ with checksums.
#
#   layer zips per arch, with and without the `xray` exporter
#   the sidecar image per arch (podman save archives) and the manifest-list tag
#   the published crates (.crate, verified by cargo package)
#   the CDK npm tarball (checked by cdk/scripts/pack-test.sh)
#   sbom.cdx.json (CycloneDX, cargo-cyclonedx), THIRD-PARTY-LICENSES.md,
#   the license check (cargo deny), SHA256SUMS
#
# Refuses a dirty tree and a VERSION that differs from the manifests
# (Cargo.toml's workspace version, cdk/package.json). ALLOW_DIRTY=1 skips the
# first check (for trying the script; never for a real release).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
die() { echo "release: $*" >&2; exit 1; }

version="${VERSION:-${1:-}}"
[[ -n "$version" ]] || die "usage: make release VERSION=x.y.z"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "VERSION '$version' is not a semantic version (x.y.z)"
cargo_version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)"
npm_version="$(node -p 'require("./cdk/package.json").version')"
[[ "$cargo_version" == "$version" ]] || die "VERSION $version differs from Cargo.toml's workspace version $cargo_version: bump the manifests first"
[[ "$npm_version" == "$version" ]] || die "VERSION $version differs from cdk/package.json's version $npm_version: bump the manifests first"
if [[ "${ALLOW_DIRTY:-0}" != 1 && -n "$(git status --porcelain)" ]]; then
  die "the working tree is not clean (git status): commit or stash first"
fi
grep -q "^## \[\?$version\]\?" CHANGELOG.md || die "CHANGELOG.md has no section for $version"

target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/release-artifacts"
rm -rf "$out" && mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }

step "licenses, bans, sources (cargo deny)"
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny
cargo deny --offline check --hide-inclusion-graph licenses bans sources

step "layer zips (x86_64, arm64; default and xray)"
for arch in x86_64 arm64; do
  bash lambda-layer/scripts/package-layer.sh "$arch"
  FEATURES=xray bash lambda-layer/scripts/package-layer.sh "$arch"
done
for z in "$root"/target/layer/otel-aws-extension-{,xray-}{x86_64,arm64}.zip; do   # package-layer.sh writes under <repo>/target/layer
  [[ -f "$z" ]] || die "missing layer zip $z"
  cp "$z" "$out/$(basename "${z%.zip}")-$version.zip"
done

step "sidecar images (linux/amd64, linux/arm64, manifest list)"
tag="otel-aws-sidecar:$version"
bash ecs-sidecar/scripts/build-image.sh --arch all "$tag"
for arch in amd64 arm64; do
  podman save --format oci-archive -o "$out/otel-aws-sidecar-$version-$arch.oci.tar" "$tag-$arch"
done

step "crates (cargo package, verified)"
cargo package --locked -p otel-aws-distro -p otel-aws-lambda
cp "$target/package/otel-aws-distro-$version.crate" "$target/package/otel-aws-lambda-$version.crate" "$out/"

step "quickstart from the packaged crates"
# A throwaway crate with the README's dependencies, resolved to the .crate
# files just packaged (unpacked, patched in for crates.io), and the README's
# quickstart as its main.rs.
qs="$(mktemp -d "${TMPDIR:-/tmp}/otel-aws-quickstart.XXXXXX")"
trap 'rm -rf "$qs"' EXIT
tar -xzf "$out/otel-aws-distro-$version.crate" -C "$qs"
mkdir -p "$qs/app/src"
cat > "$qs/app/Cargo.toml" <<TOML
[package]
name = "quickstart"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
otel-aws-distro = "$version"
tokio = { version = "1", features = ["full"] }
tracing = "0.1"

[patch.crates-io]
otel-aws-distro = { path = "../otel-aws-distro-$version" }
TOML
awk '/^```rust/{on=1; next} /^```/{if(on){exit}} on' distro/README.md > "$qs/app/src/main.rs"
grep -q "otel_aws_distro::init" "$qs/app/src/main.rs" || die "no quickstart code found in distro/README.md"
(cd "$qs/app" && cargo build --quiet)
echo "the README quickstart builds against otel-aws-distro-$version.crate"

step "CDK npm package"
bash cdk/scripts/pack-test.sh "$out"

step "SBOM (CycloneDX) and third-party licenses"
command -v cargo-cyclonedx >/dev/null || cargo install --locked cargo-cyclonedx
cargo cyclonedx --all-features --format json --override-filename "sbom.cdx" >/dev/null
for crate in distro lambda-layer ecs-sidecar; do
  [[ -f "$crate/sbom.cdx.json" ]] && mv "$crate/sbom.cdx.json" "$out/sbom-$crate.cdx.json"
done
rm -f tests/sbom.cdx.json
python3 tests/scripts/third_party_licenses.py > "$out/THIRD-PARTY-LICENSES.md"

step "checksums"
(cd "$out" && sha256sum -- * | grep -v ' SHA256SUMS$' > SHA256SUMS)
cat "$out/SHA256SUMS"
echo "release $version: $(ls "$out" | wc -l) files in $out"
