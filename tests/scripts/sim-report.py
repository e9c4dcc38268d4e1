#!/usr/bin/env python3
"""Prints lambda-sim's JSON report lines as a table (used by `make demo`)."""
import json
import sys


def fmt(v):
    return f"{v:.2f}" if isinstance(v, float) else str(v)


rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for r in rows:
    kind = r.get("kind")
    if kind == "init":
        print(f"init      status={r['status']}  init={fmt(r['init_duration_ms'])} ms  "
              f"extensions registered at {fmt(r['extensions_registered_ms'])} ms")
    elif kind == "invoke":
        print(f"invoke {r['index']:>2} status={r['status']}  duration={fmt(r['duration_ms'])} ms  "
              f"post-runtime extension={fmt(r['post_runtime_extension_ms'])} ms  "
              f"billed={r['billed_duration_ms']} ms  max memory={r['max_memory_used_mb']} MB  "
              f"frozen before this invoke={fmt(r['frozen_before_ms'])} ms"
              + ("  (cold start)" if r.get("init_duration_ms") is not None and r['index'] == 0 else ""))
    elif kind == "shutdown":
        print(f"shutdown  reason={r.get('reason')}  duration={fmt(r.get('duration_ms', 0.0))} ms  "
              f"killed={r.get('killed')}")
