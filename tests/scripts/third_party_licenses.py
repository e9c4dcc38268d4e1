#!/usr/bin/env python3
"""Third-party license notices for what ships (make release).

Lists every crate linked into the published crates, the layer extension and
the sidecar (normal dependencies, all features; no dev or build-only ones),
with its version and license expression, followed by the license texts each
crate carries (LICENSE*, COPYING*, NOTICE* files in its source folder).

Why not cargo-about: it needs its own template and configuration to say what
`cargo metadata` already says; cargo deny (make test) enforces the policy.
"""
import glob
import json
import os
import subprocess
import sys

SHIPPED = {"otel-aws-distro", "otel-aws-lambda", "otel-aws-sidecar"}


def main() -> int:
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    pkgs = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    roots = [p["id"] for p in meta["packages"] if p["name"] in SHIPPED]
    seen, stack = set(), list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if None in kinds:  # a normal (linked) dependency
                stack.append(dep["pkg"])
    third = sorted(
        (pkgs[i] for i in seen if pkgs[i]["source"] is not None),
        key=lambda p: (p["name"], p["version"]),
    )
    w = sys.stdout.write
    w("# Third-party licenses\n\n")
    w(f"{len(third)} crates are linked into what otel-aws ships.\n\n")
    w("| crate | version | license |\n|---|---|---|\n")
    for p in third:
        w(f"| {p['name']} | {p['version']} | {p.get('license') or 'see below'} |\n")
    for p in third:
        folder = os.path.dirname(p["manifest_path"])
        files = sorted(
            f for pat in ("LICEN[CS]E*", "COPYING*", "NOTICE*")
            for f in glob.glob(os.path.join(folder, pat)) if os.path.isfile(f)
        )
        if p.get("license_file"):
            lf = os.path.join(folder, p["license_file"])
            if os.path.isfile(lf) and lf not in files:
                files.append(lf)
        w(f"\n## {p['name']} {p['version']}\n\nLicense: {p.get('license') or 'file'}\n")
        for f in files:
            with open(f, encoding="utf-8", errors="replace") as fh:
                w(f"\n### {os.path.basename(f)}\n\n```text\n{fh.read().rstrip()}\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
