#!/usr/bin/env bash
# Bench harness for the Lambda extension (figures go to docs/benchmarks.md,
# section "Lambda extension"). Needs a built layer (package-layer.sh) and:
#   cargo build --release -p otel-aws-lambda --bin otel-aws-test-function
#   cargo build --release -p otel-aws-testkit --bin lambda-sim
# Measures, in the simulator:
#   - init: extension exec -> first `next` (its own counter, init_us), over RUNS cold starts
#   - idle RSS and peak RSS after an invoke carrying 10,000 spans (/usr/bin/time -v)
#   - post-runtime extension time for 100 spans per invoke to a loopback OTLP endpoint
# with all three signals on (metrics and logs endpoints, platform metrics, log forwarding).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
RUNS="${RUNS:-20}"
INVOKES="${INVOKES:-300}"
ext="$(realpath "${EXT:-target/layer/stage-x86_64/extensions/otel-aws-extension}")"
fn="${FN:-${CARGO_TARGET_DIR:-target}/release/otel-aws-test-function}"
sim="${SIM:-${CARGO_TARGET_DIR:-target}/release/lambda-sim}"
work="$(mktemp -d)"
trap 'kill $sink_pid 2>/dev/null || true; rm -rf "$work"' EXIT

# A loopback OTLP sink answering 200 to every POST.
python3 - "$work/port" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
sink_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
endpoint="http://127.0.0.1:$(cat "$work/port")/v1/traces"

# The layer's extension, run under /usr/bin/time -v (max RSS at exit).
mkdir -p "$work/layer/extensions"
cat > "$work/layer/extensions/otel-aws-extension" <<SH
#!/bin/sh
exec /usr/bin/time -v -o "$work/time.txt" "$ext" "\$@"
SH
chmod +x "$work/layer/extensions/otel-aws-extension"

# All three signals on: metrics and logs to the same sink, platform metrics
# and log forwarding from the Telemetry API.
sink="http://127.0.0.1:$(cat "$work/port")"
common=(--layer "$work/layer" --quiet --env OTEL_AWS_LAMBDA_EXPORTER_ENDPOINT="$endpoint"
        --env OTEL_AWS_LAMBDA_METRICS_ENDPOINT="$sink/v1/metrics"
        --env OTEL_AWS_LAMBDA_LOGS_ENDPOINT="$sink/v1/logs"
        --env OTEL_AWS_LAMBDA_PLATFORM_METRICS=true --env OTEL_AWS_LAMBDA_FORWARD_LOGS=true
        --env OTEL_AWS_LAMBDA_FLUSH=end --env OTEL_AWS_LAMBDA_STATS_FILE="$work/stats.json")

echo "== init (exec -> first next), $RUNS cold starts"
: > "$work/init.txt"
for _ in $(seq "$RUNS"); do
  "$sim" "${common[@]}" --invokes 1 -- "$fn" > /dev/null 2>&1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["init_us"]/1000)' "$work/stats.json" >> "$work/init.txt"
done
sort -n "$work/init.txt" | awk '{a[NR]=$1} END {printf "init ms: p50 %.2f  p90 %.2f  max %.2f\n", a[int(NR*0.5)+1], a[int(NR*0.9)], a[NR]}'

echo "== idle RSS (one empty invoke)"
echo '{}' > "$work/empty.jsonl"
"$sim" "${common[@]}" --invokes 1 --events "$work/empty.jsonl" -- "$fn" > /dev/null 2>&1
grep "Maximum resident" "$work/time.txt"

echo "== RSS after an invoke carrying 10,000 spans"
echo '{"burst":10000}' > "$work/burst.jsonl"
"$sim" "${common[@]}" --invokes 1 --events "$work/burst.jsonl" -- "$fn" > /dev/null 2>&1
grep "Maximum resident" "$work/time.txt"

echo "== post-runtime extension time, 100 spans per invoke (SERVER + 99), $INVOKES invokes"
echo '{"spans":99}' > "$work/s100.jsonl"
"$sim" "${common[@]}" --invokes "$INVOKES" --events "$work/s100.jsonl" -- "$fn" > "$work/report.jsonl" 2>/dev/null
grep -E "User time|System time" "$work/time.txt"   # the extension's CPU over those invokes
python3 - "$work/report.jsonl" <<'PY'
import json, sys
v = sorted(l["post_runtime_extension_ms"] for l in map(json.loads, open(sys.argv[1])) if l.get("kind") == "invoke")
p = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"post-runtime ms over {len(v)} invokes: p50 {p(0.5):.2f}  p99 {p(0.99):.2f}  max {v[-1]:.2f}")
PY
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("exported", s["spans_exported"], "received", s["spans_received"], "done_by_function", s["done_by_function"])' "$work/stats.json"
