"""The requests both Application Signals test services make (plain_sdk.py,
adot_app.py), with whatever tracer the caller's SDK set up.

Three requests to a SERVER span `GET /orders/{id}` whose parent is remote
(an upstream caller), each making one CLIENT call to inventory:
  200 (call 200), 503 with ERROR status (call 503), 404 (call 200).
"""

from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)


def run(tracer):
    """The three requests: 6 spans."""
    for n, status, call_status in ((1, 200, 200), (2, 503, 503), (3, 404, 200)):
        request(tracer, n, status, call_status)


def request(tracer, n, status, call_status):
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
