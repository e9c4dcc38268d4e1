#!/usr/bin/env bash
# make release VERSION=x.y.z: every artefact a user installs, built from a
# clean tree into <target>/release-artifacts/ with checksums.
#
#   layer zips per arch, with and without the `xray` exporter, and the
#   x86_64 extension's size per crate checked against lambda-layer/layer-size.txt
#   the sidecar image per arch (podman save archives) and the manifest-list tag
#   the published crates (.crate, verified by cargo package; the README
#   quickstarts built against them)
#   the CDK npm tarball (checked by cdk/scripts/pack-test.sh)
#   sbom.cdx.json (CycloneDX, cargo-cyclonedx), THIRD-PARTY-LICENSES.md,
#   the license check (cargo deny), SHA256SUMS
#
# Refuses a dirty tree and a VERSION that differs from the manifests
# (Cargo.toml's workspace version and the distro dependency's, cdk/package.json
# and its lock file). Checks the artefacts at the end. ALLOW_DIRTY=1 skips the
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
lock_version="$(node -p 'require("./cdk/package-lock.json").version')"
[[ "$lock_version" == "$version" ]] || die "VERSION $version differs from cdk/package-lock.json's version $lock_version: run npm install in cdk/ after the bump"
# otel-aws-lambda depends on otel-aws-distro through [workspace.dependencies]: published, that is the version it asks for.
dep_version="$(sed -n 's/^otel-aws-distro = {.*version = "\([^"]*\)".*/\1/p' Cargo.toml)"
[[ "$dep_version" == "$version" ]] || die "VERSION $version differs from the otel-aws-distro dependency's version '$dep_version' in Cargo.toml [workspace.dependencies]"
if [[ "${ALLOW_DIRTY:-0}" != 1 && -n "$(git status --porcelain)" ]]; then
  die "the working tree is not clean (git status): commit or stash first"
fi
grep -q "^## \[\?$version\]\?" CHANGELOG.md || die "CHANGELOG.md has no section for $version"

target="${CARGO_TARGET_DIR:-$root/target}"
out="$target/release-artifacts"
rm -rf "$out" && mkdir -p "$out"
SECONDS=0
step() { printf '\n== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "licenses, bans, sources (cargo deny)"
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny
cargo deny --offline check --hide-inclusion-graph licenses bans sources

step "layer zips (x86_64, arm64; xray and default)"
# The xray variant first: the arm64 default build, last, carries the sidecar
# (WITH_SIDECAR=1: one cargo invocation, so the aarch64 dependencies compile
# once for both), and build-image.sh below finds both binaries up to date.
for arch in x86_64 arm64; do
  FEATURES=xray bash lambda-layer/scripts/package-layer.sh "$arch"
  WITH_SIDECAR="$([[ $arch == arm64 ]] && echo 1 || echo 0)" bash lambda-layer/scripts/package-layer.sh "$arch"
done
for z in "$root"/target/layer/otel-aws-extension-{,xray-}{x86_64,arm64}.zip; do   # package-layer.sh writes under <repo>/target/layer
  [[ -f "$z" ]] || die "missing layer zip $z"
  cp "$z" "$out/$(basename "${z%.zip}")-$version.zip"
done

step "layer size (against lambda-layer/layer-size.txt)"
python3 tests/scripts/layer_size.py --stripped

step "sidecar images (linux/amd64, linux/arm64, manifest list)"
tag="otel-aws-sidecar:$version"
bash ecs-sidecar/scripts/build-image.sh --arch all "$tag"
for arch in amd64 arm64; do
  # docker-archive, not oci-archive: the OCI image config has no field for
  # the HEALTHCHECK the image carries (podman drops it on conversion).
  # Not gzipped: podman 4.3's load does not read a gzipped docker-archive.
  podman save --format docker-archive -o "$out/otel-aws-sidecar-$version-$arch.tar" "$tag-$arch"
done

step "crates (cargo package, verified)"
cargo package --locked -p otel-aws-distro -p otel-aws-lambda
cp "$target/package/otel-aws-distro-$version.crate" "$target/package/otel-aws-lambda-$version.crate" "$out/"

step "quickstarts from the packaged crates"
# A throwaway workspace with one package per crate README: its [dependencies]
# are the README's toml block as written (versions and features), its main.rs
# the README's first rust block, and the two crates resolve to the .crate
# files just packaged (unpacked, patched in for crates.io). The workspace's
# Cargo.lock pins the same dependency versions as the repository.
qs="$(mktemp -d "${TMPDIR:-/tmp}/otel-aws-quickstart.XXXXXX")"
trap 'rm -rf "$qs"' EXIT
members=()
for crate in distro:otel-aws-distro lambda-layer:otel-aws-lambda; do
  dir="${crate%%:*}" name="${crate#*:}"
  tar -xzf "$out/$name-$version.crate" -C "$qs"
  app="$qs/$name-quickstart"
  mkdir -p "$app/src"
  { printf '[package]\nname = "%s-quickstart"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n' "$name"
    awk '/^```toml/{on=1; next} /^```/{if(on){exit}} on' "$dir/README.md"; } > "$app/Cargo.toml"
  awk '/^```rust/{on=1; next} /^```/{if(on){exit}} on' "$dir/README.md" > "$app/src/main.rs"
  grep -q "^$name = \"" "$app/Cargo.toml" || die "$dir/README.md: no versioned '$name = \"x.y\"' dependency in its toml block"
  grep -q "${name//-/_}::" "$app/src/main.rs" || die "$dir/README.md: no quickstart code using ${name//-/_}"
  members+=("\"$name-quickstart\"")
done
cat > "$qs/Cargo.toml" <<TOML
[workspace]
resolver = "3"
members = [$(IFS=,; echo "${members[*]}")]

[patch.crates-io]
otel-aws-distro = { path = "otel-aws-distro-$version" }
otel-aws-lambda = { path = "otel-aws-lambda-$version" }
TOML
cp Cargo.lock "$qs/Cargo.lock"
(cd "$qs" && cargo build --quiet)
echo "the README quickstarts of otel-aws-distro and otel-aws-lambda build against their $version .crate files"

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

step "checking the artefacts"
# Each layer zip holds the executable extension and wrapper; each SBOM is
# CycloneDX JSON naming its crate; the image archives are OCI archives of
# the right platform; the checksums verify.
python3 - "$out" "$version" <<'PY'
import glob, json, os, sys, tarfile, zipfile
out, version = sys.argv[1], sys.argv[2]
def need(ok, msg):
    if not ok:
        sys.exit(f"release: {msg}")
zips = sorted(glob.glob(os.path.join(out, "otel-aws-extension-*.zip")))
need(len(zips) == 4, f"expected 4 layer zips, found {len(zips)}")
for z in zips:
    with zipfile.ZipFile(z) as f:
        need(f.testzip() is None, f"{z}: a damaged member")
        modes = {i.filename: i.external_attr >> 16 for i in f.infolist()}
        for exe in ("extensions/otel-aws-extension", "otel-aws-wrapper"):
            need(modes.get(exe, 0) & 0o111, f"{z}: {exe} missing or not executable")
sboms = sorted(glob.glob(os.path.join(out, "sbom-*.cdx.json")))
need(len(sboms) == 3, f"expected 3 SBOMs, found {len(sboms)}")
for b in sboms:
    with open(b) as f:
        doc = json.load(f)
    need(doc.get("bomFormat") == "CycloneDX" and doc.get("specVersion"), f"{b}: not CycloneDX JSON")
    need(doc["metadata"]["component"]["version"] == version, f"{b}: names version {doc['metadata']['component'].get('version')}")
    need(len(doc.get("components", [])) > 10, f"{b}: lists {len(doc.get('components', []))} components")
for arch in ("amd64", "arm64"):
    path = os.path.join(out, f"otel-aws-sidecar-{version}-{arch}.tar")
    with tarfile.open(path) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        config = json.load(t.extractfile(manifest[0]["Config"]))
    need(config.get("architecture") == arch and config.get("os") == "linux", f"{path}: image config says {config.get('os')}/{config.get('architecture')}")
    need((config.get("config") or {}).get("Healthcheck"), f"{path}: the image lost its HEALTHCHECK")
print(f"4 layer zips, {len(sboms)} SBOMs, 2 image archives (linux/amd64, linux/arm64) look right")
PY
(cd "$out" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not verify"

step "done"
(cd "$out" && ls -l --time-style=+ | awk 'NR > 1 {printf "%12d  %s\n", $5, $NF}')
echo "release $version: $(ls "$out" | wc -l) files in $out, in $((SECONDS / 60))m$((SECONDS % 60))s"
