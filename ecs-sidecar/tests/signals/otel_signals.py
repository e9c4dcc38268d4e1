"""Sends metrics and logs with the OpenTelemetry Python SDK, for
ecs-sidecar/tests/signals.rs.

Configured from the environment like any SDK user: OTEL_SERVICE_NAME,
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT and OTEL_EXPORTER_OTLP_LOGS_ENDPOINT (the
sidecar's OTLP/HTTP receiver, protobuf). Records a counter (3 adds), a
histogram (2 values) and a gauge; emits two log records through the logging
bridge, one inside a span (so it carries the trace and span ids). Then
flushes and shuts down both providers; prints `TRACE <hex> SPAN <hex>`.
"""

import logging

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider

reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=60_000)
meter_provider = MeterProvider(metric_readers=[reader])
metrics.set_meter_provider(meter_provider)
meter = metrics.get_meter("signals-e2e")

counter = meter.create_counter("orders.placed", unit="1", description="orders")
for _ in range(3):
    counter.add(1, {"region": "eu"})
histogram = meter.create_histogram("order.latency", unit="ms")
histogram.record(12.0, {"region": "eu"})
histogram.record(480.0, {"region": "eu"})
meter.create_observable_gauge(
    "queue.depth", callbacks=[lambda _options: [Observation(7, {"queue": "orders"})]]
)

logger_provider = LoggerProvider()
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
set_logger_provider(logger_provider)
log = logging.getLogger("checkout")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))

trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("signals-e2e")
log.warning("stock low for sku-1")
with tracer.start_as_current_span("place-order") as span:
    ctx = span.get_span_context()
    log.info("order placed")

meter_provider.force_flush()
logger_provider.force_flush()
meter_provider.shutdown()
logger_provider.shutdown()
print(f"TRACE {ctx.trace_id:032x} SPAN {ctx.span_id:016x}", flush=True)
