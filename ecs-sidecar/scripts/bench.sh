#!/usr/bin/env bash
# Sidecar throughput and memory (docs/benchmarks.md, "ECS sidecar").
#   ecs-sidecar/scripts/bench.sh otlp [SECONDS] [RATE]   OTLP/HTTP protobuf in -> batch -> otlphttp -> loopback sink
#   ecs-sidecar/scripts/bench.sh udp  [SECONDS] [RATE]   legacy UDP segments in -> awsxray (PutTraceSegments) -> loopback sink
#   ecs-sidecar/scripts/bench.sh idle                    RSS 3 s after start (OTLP grpc+http, UDP, otlphttp)
# LIMIT_MIB=64 adds the shipped configs' memory_limiter (limit_mib LIMIT_MIB, spike a quarter of it)
# to the OTLP pipeline (default: none, the implicit bound). APPSIGNALS=1 adds the awsapplicationsignals
# processor to it; BATCH=N sets the batch processor's send_batch_size (default 8192).
# SINK_LATENCY_MS=N: the sink answers each export N ms after it arrives (a slow backend);
# CONSUMERS=N: the otlphttp exporter's sending_queue.num_consumers.
# SETTLE=S: seconds the load generator waits after sending for the sidecar to deliver (default 3).
# RATE 0 = flat out. The sidecar runs pinned to core 0 (taskset -c 0) under /usr/bin/time -v; the load
# generator (otel-aws-loadgen, testkit) on core 1. Binaries: SIDECAR (default: the static musl release
# build of build-image.sh) and LOADGEN (default: the release build of otel-aws-loadgen).
# ROTEL=/path/to/rotel-agent (otlp mode only): the same load through rotel (PyPI package `rotel`) in
# place of the sidecar, with the same batch size, timeout and uncompressed OTLP/HTTP export.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
T="${CARGO_TARGET_DIR:-$ROOT/target}"
SIDECAR="${SIDECAR:-$T/x86_64-unknown-linux-musl/release/otel-aws-sidecar}"
LOADGEN="${LOADGEN:-$T/release/otel-aws-loadgen}"
MODE="${1:-otlp}"
SECONDS_="${2:-10}"
RATE="${3:-0}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/otlp.yaml" <<'EOF'
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:24318
processors:
  batch:
    timeout: 200ms
    send_batch_size: 8192
    send_batch_max_size: 10000
exporters:
  otlphttp:
    traces_endpoint: http://127.0.0.1:14318/v1/traces
    compression: none
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
EOF
cat >"$WORK/udp.yaml" <<'EOF'
receivers:
  awsxray:
    endpoint: 127.0.0.1:22000
    proxy_server:
      endpoint: ''
processors:
  batch:
    timeout: 200ms
    send_batch_size: 1000
exporters:
  awsxray:
    region: us-east-1
    endpoint: http://127.0.0.1:14318
service:
  pipelines:
    traces:
      receivers: [awsxray]
      processors: [batch]
      exporters: [awsxray]
EOF
cat >"$WORK/idle.yaml" <<'EOF'
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:24317
      http:
        endpoint: 127.0.0.1:24318
  awsxray:
    endpoint: 127.0.0.1:22000
    proxy_server:
      endpoint: ''
processors:
  batch:
exporters:
  otlphttp:
    traces_endpoint: http://127.0.0.1:14318/v1/traces
service:
  pipelines:
    traces:
      receivers: [otlp, awsxray]
      processors: [batch]
      exporters: [otlphttp]
EOF

if [ -n "${BATCH:-}" ]; then
  # batch send_batch_size BATCH, send_batch_max_size BATCH + 1/4 (the loopback sink takes bodies up to 2 MiB:
  # with APPSIGNALS=1 a 10,000-span batch is larger, use BATCH=2048)
  sed -i "s/send_batch_size: 8192/send_batch_size: ${BATCH}/; s/send_batch_max_size: 10000/send_batch_max_size: $((BATCH + BATCH / 4))/" "$WORK/otlp.yaml"
fi
if [ -n "${APPSIGNALS:-}" ]; then
  # The awsapplicationsignals processor (attributes on every span, Latency/Error/Fault per label set);
  # its EMF flush (60 s, and at shutdown) goes to the loopback sink.
  sed -i "s/^processors:/processors:\n  awsapplicationsignals:\n    region: us-east-1\n    endpoint: http:\/\/127.0.0.1:14318/; s/processors: \[batch\]/processors: [awsapplicationsignals, batch]/" "$WORK/otlp.yaml"
fi
if [ -n "${CONSUMERS:-}" ]; then
  # the otlphttp exporter's sending_queue.num_consumers (default 1)
  sed -i "s|^    traces_endpoint: http://127.0.0.1:14318/v1/traces|&\n    sending_queue: {num_consumers: ${CONSUMERS}}|" "$WORK/otlp.yaml"
fi
if [ -n "${LIMIT_MIB:-}" ]; then
  sed -i "s/^processors:/processors:\n  memory_limiter:\n    check_interval: 1s\n    limit_mib: ${LIMIT_MIB}\n    spike_limit_mib: $((LIMIT_MIB / 4))/; s/processors: \[\(.*\)batch\]/processors: [memory_limiter, \1batch]/" "$WORK/otlp.yaml"
fi

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY AWS_REGION=us-east-1
export RUST_LOG=warn
if [ -n "${ROTEL:-}" ]; then
  [ "$MODE" = otlp ] || { echo "ROTEL: otlp mode only (rotel has no X-Ray receiver or exporter)"; exit 2; }
  taskset -c 0 /usr/bin/time -v "$ROTEL" start --otlp-http-endpoint 127.0.0.1:24318 \
    --otlp-grpc-endpoint 127.0.0.1:24317 --exporter otlp --otlp-exporter-endpoint http://127.0.0.1:14318 \
    --otlp-exporter-protocol http --otlp-exporter-compression none --batch-max-size "${BATCH:-8192}" \
    --batch-timeout 200ms 2>"$WORK/time.txt" >"$WORK/rotel.log" &
else
  taskset -c 0 /usr/bin/time -v "$SIDECAR" --config "$WORK/$MODE.yaml" 2>"$WORK/time.txt" &
fi
TIME_PID=$!
sleep 1
PID="$(pgrep -P "$TIME_PID" | head -n1)"
if [ "$MODE" = idle ]; then
  sleep 2
  grep -E 'VmRSS|VmHWM' "/proc/$PID/status"
else
  SUB=(--target http://127.0.0.1:24318/v1/traces --spans "${SPANS:-512}" --concurrency "${CONCURRENCY:-8}")
  [ "$MODE" = udp ] && SUB=(--target 127.0.0.1:22000)
  taskset -c 1 "$LOADGEN" "$MODE" "${SUB[@]}" --sink 127.0.0.1:14318 \
    --seconds "$SECONDS_" --rate "$RATE" --pid "$PID" \
    --sink-latency-ms "${SINK_LATENCY_MS:-0}" --settle "${SETTLE:-3}"
fi
kill -TERM "$PID"
wait "$TIME_PID" || true
grep -E "Maximum resident|User time|System time|Elapsed|page faults|context switches" "$WORK/time.txt"
