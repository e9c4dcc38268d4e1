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

Three requests to a SERVER span `GET /orders/{id}` whose parent is remote
(an upstream caller), each making one CLIENT call to inventory:
  200 (call 200), 503 with ERROR status (call 503), 404 (call 200).
"""

from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

provider = trace.get_tracer_provider()
assert type(provider).__name__ == "TracerProvider", f"ADOT did not configure the SDK: {provider!r}"
tracer = trace.get_tracer("shop")


def request(n, status, call_status):
    upstream = SpanContext(
        trace_id=0x5759E988BD862E3FE1BE46A994272790 + n,
        span_id=0x53995C3F42CD8AD8 + n,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with tracer.start_as_current_span(
        "GET /orders/{id}",
        context=set_span_in_context(NonRecordingSpan(upstream)),
        kind=SpanKind.SERVER,
        attributes={
            "http.method": "GET",
            "http.route": "/orders/{id}",
            "http.target": f"/orders/{n}",
            "http.status_code": status,
        },
    ) as server:
        with tracer.start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={
                "http.method": "GET",
                "http.url": f"http://inventory:8080/items/{n}",
                "http.status_code": call_status,
            },
        ):
            pass
        if status >= 500:
            server.set_status(Status(StatusCode.ERROR))


request(1, 200, 200)
request(2, 503, 503)
request(3, 404, 200)
print("SENT 6", flush=True)
