"""A Python Lambda function for lambda-layer/tests/signals_e2e.rs: traces,
metrics and logs through the OpenTelemetry Python SDK, with nothing but the
SDK's env-driven defaults (the exec wrapper decides where they go: the
extension's receiver, for all three signals).

Per invoke: one SERVER span, one `orders.processed` counter increment
(attribute `request_id`), one log record through the stdlib logging bridge
(body `order processed <request id>`, emitted inside the span so it carries
its trace and span ids), and one JSON line on stdout (for the extension's
log forwarding). The providers are set global and not flushed here: the
layer's completion hook flushes all three when the handler returns (the
in-function rule: hand everything to the extension before the freeze).
"""

import json
import logging
import os

from opentelemetry import _logs, metrics, propagate, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

# The wrapper must have turned the SDK's metrics and logs on (not "none").
for var in ("OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"):
    if os.environ.get(var) != "otlp":
        raise RuntimeError(f"the exec wrapper set {var}={os.environ.get(var)!r}, not otlp")

tracer_provider = TracerProvider()
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(tracer_provider)

# A long interval: the handler's force_flush is what exports.
reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
meter_provider = MeterProvider(metric_readers=[reader])
metrics.set_meter_provider(meter_provider)

logger_provider = LoggerProvider()
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
_logs.set_logger_provider(logger_provider)

log = logging.getLogger("orders")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
log.propagate = False

tracer = trace.get_tracer("signals_function")
processed = metrics.get_meter("signals_function").create_counter(
    "orders.processed", unit="{order}", description="Orders processed"
)


def handler(event, context):
    parent = propagate.extract({})  # xray-lambda reads _X_AMZN_TRACE_ID
    with tracer.start_as_current_span(
        "signals_function.handler",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"faas.invocation_id": context.aws_request_id},
    ):
        processed.add(1, {"request_id": context.aws_request_id})
        log.warning("order processed %s", context.aws_request_id)
        # No request id in the line: the extension attributes it to the running invoke.
        print(json.dumps({"level": "ERROR", "message": f"stdout {context.aws_request_id}"}), flush=True)
    # No flush here: the layer's completion hook flushes the global tracer,
    # meter and logger providers when the handler returns, then signals done.
    return {"ok": True}
