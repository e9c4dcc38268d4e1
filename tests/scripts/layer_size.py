#!/usr/bin/env python3
"""The Lambda extension's size, per crate, against lambda-layer/layer-size.txt.

Cold start and zip size are product features (docs/benchmarks.md, "Lambda
extension"), so what each dependency costs in the layer binary is recorded and
a growth fails a check instead of slipping by:

  python3 tests/scripts/layer_size.py                 # full check (make release, make layer-size)
  python3 tests/scripts/layer_size.py --stripped      # the two totals only (make test)
  python3 tests/scripts/layer_size.py --update        # re-measure everything, rewrite the record
  python3 tests/scripts/layer_size.py --update-totals # rewrite the totals, keep the crate lines

What is measured: `otel-aws-extension` with the layer's defaults
(x86_64-unknown-linux-musl, `lambda` profile, default features), from the
staged copy package-layer.sh writes to target/layer/stage-x86_64/extensions/
(build the layer first):
  stripped  the size of the binary the layer ships
  text      its .text section (ELF section headers, which strip keeps)
  <crate>   each crate's bytes of .text, from `cargo bloat --crates` (it
            rebuilds the binary with strip = false, as symbols name the crate;
            code LTO inlined across crates counts for the crate it landed in,
            so the split is an estimate)

The check fails when the stripped binary or .text grows by more than
TOTAL_GROWTH, or, in the full check, one crate grows by more than
CRATE_GROWTH and CRATE_BYTES at once (a new crate counts from zero);
shrinking only prints. `--stripped` needs no second build and no cargo-bloat.
A deliberate growth is recorded with `--update` and committed, next to the
figures in docs/benchmarks.md.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORD = os.path.join(ROOT, "lambda-layer", "layer-size.txt")
TARGET = os.environ.get("TARGET", "x86_64-unknown-linux-musl")
STAGED = os.path.join(ROOT, "target", "layer", "stage-x86_64", "extensions", "otel-aws-extension")
BLOAT_VERSION = "0.12.1"  # pinned: its JSON output is what this script reads

TOTAL_GROWTH = 0.03  # stripped binary or .text: +3 % (about 160 KB) fails
CRATE_GROWTH = 0.10  # one crate: +10 % ...
CRATE_BYTES = 16 * 1024  # ... and +16 KiB at once fails (noise from LTO inlining stays below)


def fail(msg: str) -> None:
    sys.stderr.write(f"layer-size: {msg}\n")
    sys.exit(1)


def read_record() -> dict:
    """{'stripped': n, 'text': n, 'crates': {name: n}} from the committed file."""
    rec = {"crates": {}}
    try:
        with open(RECORD, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        fail(f"{RECORD} is missing: run 'python3 tests/scripts/layer_size.py --update'")
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        key, value = line.split()[:2]
        if key in ("stripped", "text"):
            rec[key] = int(value)
        else:
            rec["crates"][key] = int(value)
    if "stripped" not in rec or "text" not in rec:
        fail(f"{RECORD} lacks its 'stripped' or 'text' line: run --update")
    return rec


def has_interpreter(path: str) -> bool:
    """Whether an ELF64 little-endian file asks for a dynamic loader (PT_INTERP)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            fail(f"{path} is not a 64-bit little-endian ELF file")
        phoff = int.from_bytes(head[32:40], "little")
        phentsize = int.from_bytes(head[54:56], "little")
        phnum = int.from_bytes(head[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return any(int.from_bytes(table[i * phentsize:i * phentsize + 4], "little") == 3 for i in range(phnum))


def text_size(path: str) -> int:
    """Size of the .text section, from the ELF section headers (strip keeps them)."""
    with open(path, "rb") as f:
        data = f.read()
    shoff = int.from_bytes(data[40:48], "little")
    shentsize = int.from_bytes(data[58:60], "little")
    shnum = int.from_bytes(data[60:62], "little")
    shstrndx = int.from_bytes(data[62:64], "little")

    def header(i: int) -> bytes:
        return data[shoff + i * shentsize:shoff + (i + 1) * shentsize]

    names_at = int.from_bytes(header(shstrndx)[24:32], "little")
    for i in range(shnum):
        h = header(i)
        name_at = names_at + int.from_bytes(h[0:4], "little")
        if data[name_at:data.index(b"\0", name_at)] == b".text":
            return int.from_bytes(h[32:40], "little")
    fail(f"{path} has no .text section")
    return 0


def stripped_size() -> int:
    if not os.path.isfile(STAGED):
        fail(f"{STAGED} is missing: build the layer first (make layer)")
    if has_interpreter(STAGED):
        fail(f"{STAGED} is dynamically linked, not the static musl build the record measures "
             "(make layer builds musl once the musl target and musl-gcc are installed: make cdk-test does)")
    return os.path.getsize(STAGED)


def ensure_cargo_bloat() -> None:
    out = subprocess.run(["cargo", "bloat", "--version"], capture_output=True, text=True)
    if out.returncode != 0 or BLOAT_VERSION not in out.stdout:
        subprocess.run(
            ["cargo", "install", "--locked", "cargo-bloat", "--version", BLOAT_VERSION],
            check=True,
        )


def measure_crates() -> dict:
    """Each crate's bytes of .text: cargo bloat on the layer's build of the extension."""
    ensure_cargo_bloat()
    cmd = [
        "cargo", "bloat", "--locked", "-p", "otel-aws-lambda", "--bin", "otel-aws-extension",
        "--profile", "lambda", "--target", TARGET, "--crates", "-n", "0", "--message-format", "json",
    ]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return {c["name"]: int(c["size"]) for c in data["crates"]}


def rustc_version() -> str:
    return subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()


def write_record(stripped: int, text: int, crates: dict) -> None:
    tools = f"{rustc_version()}, cargo-bloat {BLOAT_VERSION}." if crates else (
        f"{rustc_version()}; no per-crate lines yet (--update adds them).")
    with open(RECORD, "w", encoding="utf-8") as f:
        f.write(
            "# otel-aws-extension as the layer ships it: x86_64-unknown-linux-musl, `lambda` profile,\n"
            "# default features. Bytes: 'stripped' the layer's binary, 'text' its .text section, then\n"
            "# each crate's share of .text (cargo bloat --crates; LTO inlining makes the split an estimate).\n"
            f"# Measured with {tools}\n"
            "# Checked by tests/scripts/layer_size.py (make release; make test checks the two totals).\n"
            "# Regenerate after a deliberate change: python3 tests/scripts/layer_size.py --update\n"
        )
        f.write(f"stripped {stripped}\ntext {text}\n")
        for name, size in sorted(crates.items(), key=lambda kv: (-kv[1], kv[0])):
            f.write(f"{name} {size}\n")


def grew(old: int, new: int, ratio: float, floor: int = 0) -> bool:
    return new - old > max(old * ratio, floor)


def compare(rec: dict, stripped: int, text: int, crates: dict | None) -> list:
    """The regressions, as messages; prints every change it sees."""
    problems = []
    for name, old, new in (("stripped", rec["stripped"], stripped), ("text", rec["text"], text)):
        print(f"layer-size: {name:9} {old:>10,} -> {new:>10,} B ({(new - old) / old:+.1%})")
        if grew(old, new, TOTAL_GROWTH):
            problems.append(f"{name} grew {new - old:+,} B ({(new - old) / old:+.1%}, limit +{TOTAL_GROWTH:.0%})")
    if crates is None:
        return problems
    if not rec["crates"]:
        return problems + [f"{RECORD} has no per-crate sizes yet: run --update"]
    for name in sorted(set(rec["crates"]) | set(crates)):
        old, new = rec["crates"].get(name, 0), crates.get(name, 0)
        if abs(new - old) >= 4096:
            print(f"layer-size:   {name:24} {old:>10,} -> {new:>10,} B ({new - old:+,})")
        if grew(old, new, CRATE_GROWTH, CRATE_BYTES):
            what = "new crate" if old == 0 else f"{(new - old) / old:+.0%}"
            problems.append(f"crate {name} grew {new - old:+,} B ({what}; limit +{CRATE_GROWTH:.0%} and +{CRATE_BYTES // 1024} KiB)")
    return problems


USAGE = "none (full check), --stripped (the two totals), --update, --update-totals"


def main(args: list) -> int:
    mode = args[0] if args else "--check"
    if len(args) > 1 or mode not in ("--check", "--stripped", "--update", "--update-totals"):
        fail(f"arguments {' '.join(args)}: expected {USAGE}")
    stripped, text = stripped_size(), text_size(STAGED)
    if mode.startswith("--update"):
        if mode == "--update":
            crates = measure_crates()
        else:
            crates = read_record()["crates"] if os.path.isfile(RECORD) else {}
        write_record(stripped, text, crates)
        print(f"layer-size: wrote {RECORD} (stripped {stripped:,} B, .text {text:,} B, {len(crates)} crates)")
        return 0
    rec = read_record()
    problems = compare(rec, stripped, text, None if mode == "--stripped" else measure_crates())
    if problems:
        for p in problems:
            sys.stderr.write(f"layer-size: {p}\n")
        fail(
            "the Lambda extension grew (above). If intended, record it: "
            "'python3 tests/scripts/layer_size.py --update', and the sizes in docs/benchmarks.md."
        )
    print("layer-size: within the limits of lambda-layer/layer-size.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
