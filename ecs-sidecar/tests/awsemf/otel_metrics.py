"""Sends metrics with the OpenTelemetry Python SDK, for
ecs-sidecar/tests/awsemf.rs.

Configured from the environment like any SDK user: OTEL_SERVICE_NAME and
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (the sidecar's OTLP/HTTP receiver,
protobuf). A counter (cumulative, the SDK default) is exported three times:
3, then 3 + 2, and 5 again at shutdown. A histogram (delta temporality) records 12 and 480 before the
first export. An observable gauge reports 7. Prints `DONE` at the end.
"""

from opentelemetry import metrics
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader

exporter = OTLPMetricExporter(preferred_temporality={Histogram: AggregationTemporality.DELTA})
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
provider = MeterProvider(metric_readers=[reader])
metrics.set_meter_provider(provider)
meter = metrics.get_meter("awsemf-e2e")

counter = meter.create_counter("orders.placed", unit="1", description="orders")
histogram = meter.create_histogram("order.latency", unit="ms")
meter.create_observable_gauge(
    "queue.depth", callbacks=[lambda _options: [Observation(7, {"queue": "orders"})]]
)

counter.add(3, {"region": "eu"})
histogram.record(12.0, {"region": "eu"})
histogram.record(480.0, {"region": "eu"})
provider.force_flush()
counter.add(2, {"region": "eu"})
provider.force_flush()
provider.shutdown()
print("DONE", flush=True)
