#!/usr/bin/env python3
"""The published crates hold every file their code compiles in.

`cargo package` verifies a crate by building it from its packaged files only,
but that build is slow (every dependency again), so it runs in `make release`,
not in `make test`. This check is its fast half: each `include_str!` /
`include_bytes!` (and `#[doc = include_str!(..)]`) path under a published
crate's `src/` must be in `cargo package --list`, or the crate would not build
for the people who install it (the `include` list in Cargo.toml decides what
ships). Run by `make supply-chain`.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The crates `make release` packages (the sidecar and testkit are `publish = false`).
CRATES = {"otel-aws-distro": "distro", "otel-aws-lambda": "lambda-layer"}
INCLUDE = re.compile(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)')


def packaged(crate: str) -> set:
    out = subprocess.run(
        ["cargo", "package", "--list", "--allow-dirty", "--offline", "-p", crate],
        cwd=ROOT, capture_output=True, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"package-files: cargo package --list -p {crate} failed:\n{out.stderr}")
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def included(crate_dir: str) -> list:
    """(source file, path relative to the crate) of every compile-time include."""
    found = []
    base = os.path.join(ROOT, crate_dir)
    for dirpath, _, files in os.walk(os.path.join(base, "src")):
        for name in files:
            if not name.endswith(".rs"):
                continue
            src = os.path.join(dirpath, name)
            with open(src, encoding="utf-8") as f:
                for rel in INCLUDE.findall(f.read()):
                    target = os.path.normpath(os.path.join(dirpath, rel))
                    found.append((os.path.relpath(src, base), os.path.relpath(target, base)))
    return found


def main() -> None:
    missing = []
    checked = 0
    for crate, crate_dir in CRATES.items():
        files = packaged(crate)
        for src, target in included(crate_dir):
            checked += 1
            if target not in files:
                missing.append(f"{crate}: {src} includes {target}, which is not in the package "
                               f"(add it to `include` in {crate_dir}/Cargo.toml)")
    if missing:
        sys.exit("package-files:\n  " + "\n  ".join(missing))
    if checked == 0:
        sys.exit("package-files: found no include_str!/include_bytes! at all: the scan is broken")
    print(f"package-files: {checked} compile-time includes, all packaged")


if __name__ == "__main__":
    main()
