"""Sends spans with the plain OpenTelemetry Python SDK (no ADOT), for
ecs-sidecar/tests/appsignals.rs.

Configured from the environment like any SDK user: OTEL_SERVICE_NAME and
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the sidecar's OTLP/HTTP receiver).

The requests (three, 6 spans) are shop.py's.
"""

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
import shop

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
shop.run(provider.get_tracer("shop"))
provider.force_flush()
provider.shutdown()
print("SENT 6", flush=True)
