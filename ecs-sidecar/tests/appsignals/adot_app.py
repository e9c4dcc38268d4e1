"""A service instrumented with the real ADOT Python distro
(aws-opentelemetry-distro, run under `opentelemetry-instrument`), for
ecs-sidecar/tests/appsignals.rs.

Configured from the environment as ADOT documents it for a CloudWatch agent
sidecar: OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true,
OTEL_AWS_APPLICATION_SIGNALS_EXPORTER_ENDPOINT=http://<sidecar>:4316/v1/metrics,
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://<sidecar>:4316/v1/traces.
ADOT puts the aws.* attributes on the spans and records its own
Latency/Error/Fault histograms; both are exported when the process exits
(the providers' atexit shutdown).

The requests (three, 6 spans) are shop.py's.
"""

from opentelemetry import trace

import shop

provider = trace.get_tracer_provider()
assert type(provider).__name__ == "TracerProvider", f"ADOT did not configure the SDK: {provider!r}"
shop.run(trace.get_tracer("shop"))
print("SENT 6", flush=True)
