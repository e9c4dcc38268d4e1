#!/usr/bin/env bash
# Sidecar metrics and logs throughput per CPU-second (docs/benchmarks.md, "Sidecar metrics and logs").
#   ecs-sidecar/scripts/bench-signals.sh emf  [SECONDS]   OTLP/HTTP metrics in -> batch -> awsemf (PutLogEvents) -> loopback sink
#   ecs-sidecar/scripts/bench-signals.sh logs [SECONDS]   OTLP/HTTP logs in -> batch -> otlphttp -> loopback sink
#   ROTEL=/path/to/rotel-agent ecs-sidecar/scripts/bench-signals.sh logs [SECONDS]   the same load through rotel
# The collector runs pinned to core 0; the load generator and the sink (bench_signals.py, Python
# with opentelemetry-proto: PYTHON, default .tools/venv) on core 1. SIDECAR: the binary (default:
# the release build). The figure is items accepted / the collector's CPU seconds (utime + stime).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
T="${CARGO_TARGET_DIR:-$ROOT/target}"
SIDECAR="${SIDECAR:-$T/release/otel-aws-sidecar}"
PYTHON="${PYTHON:-$ROOT/.tools/venv/bin/python}"
PY="$ROOT/ecs-sidecar/scripts/bench_signals.py"
MODE="${1:-emf}"
SECONDS_="${2:-15}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/emf.yaml" <<'YAML'
receivers:
  otlp: {protocols: {http: {endpoint: 127.0.0.1:24318}}}
processors:
  batch: {timeout: 200ms, send_batch_size: 8192}
exporters:
  awsemf:
    namespace: Bench
    log_group_name: /bench/metrics
    log_stream_name: bench
    region: us-east-1
    endpoint: http://127.0.0.1:14318
    sending_queue: {num_consumers: 4}
service:
  pipelines:
    metrics: {receivers: [otlp], processors: [batch], exporters: [awsemf]}
YAML
cat >"$WORK/logs.yaml" <<'YAML'
receivers:
  otlp: {protocols: {http: {endpoint: 127.0.0.1:24318}}}
processors:
  batch: {timeout: 200ms, send_batch_size: 8192}
exporters:
  otlphttp:
    logs_endpoint: http://127.0.0.1:14318/v1/logs
    compression: none
service:
  pipelines:
    logs: {receivers: [otlp], processors: [batch], exporters: [otlphttp]}
YAML

# COMPRESSION=gzip: the logs exporter compresses (rotel's OTLP exporter gzips whatever its flag says).
sed -i "s/compression: none/compression: ${COMPRESSION:-none}/" "$WORK/logs.yaml"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY AWS_REGION=us-east-1
export RUST_LOG=warn
SINK_KIND=otlp
[ "$MODE" = emf ] && SINK_KIND=emf
taskset -c 1 "$PYTHON" "$PY" "sink-$SINK_KIND" 14318 "$WORK/sink.txt" &
SINK=$!
if [ -n "${ROTEL:-}" ]; then
  [ "$MODE" = logs ] || { echo "rotel: logs only (its PyPI build has no awsemf exporter)"; exit 2; }
  taskset -c 0 "$ROTEL" start --otlp-http-endpoint 127.0.0.1:24318 --otlp-grpc-endpoint 127.0.0.1:24317 \
    --exporter otlp --otlp-exporter-endpoint http://127.0.0.1:14318 --otlp-exporter-protocol http \
    --otlp-exporter-compression none --batch-max-size 8192 --batch-timeout 200ms >"$WORK/rotel.log" 2>&1 &
  PID=$!
else
  taskset -c 0 "$SIDECAR" --config "$WORK/$MODE.yaml" 2>"$WORK/sidecar.log" &
  PID=$!
fi
sleep 1
taskset -c 1 "$PYTHON" "$PY" load "${MODE/emf/metrics}" http://127.0.0.1:24318/v1/"${MODE/emf/metrics}" "$SECONDS_" "$PID"
grep -E 'VmHWM' "/proc/$PID/status"
kill -TERM "$PID"; wait "$PID" || true
kill -TERM "$SINK"; wait "$SINK" || true
echo "sink (items requests): $(cat "$WORK/sink.txt")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
