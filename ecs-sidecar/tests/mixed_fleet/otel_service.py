"""A service migrated to the OpenTelemetry Python SDK, for ecs-sidecar/tests/mixed_fleet.rs.

SDK defaults (parent-based always-on sampler) configured from the
environment: OTEL_SERVICE_NAME, OTEL_PROPAGATORS=xray (the reference
opentelemetry-propagator-aws-xray), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the
sidecar's OTLP/HTTP receiver). Spans are exported as they end, so they have
left before the answer is written.

Prints `PORT <n>` once listening on 127.0.0.1 (a free port). Each request:
a SERVER span continuing the X-Amzn-Trace-Id, a CLIENT span calling the
first URL of the comma-separated `X-Fleet-Chain` header (handing on the
rest) with the trace header injected; answers JSON like legacy_service.py.
"""

import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("mixed-fleet")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        received = self.headers.get("X-Amzn-Trace-Id")
        chain = [u for u in self.headers.get("X-Fleet-Chain", "").split(",") if u]
        parent = propagate.extract(self.headers)
        with tracer.start_as_current_span(
            "GET /",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "url.path": "/",
                "order.id": "o-42",
                "aws.xray.annotations": ["order.id"],
                "cart.items": 3,
            },
        ) as server:
            downstream = None
            if chain:
                with tracer.start_as_current_span(
                    "GET downstream",
                    kind=SpanKind.CLIENT,
                    attributes={"http.request.method": "GET", "url.full": chain[0]},
                ):
                    headers = {"X-Fleet-Chain": ",".join(chain[1:])}
                    propagate.inject(headers)
                    req = urllib.request.Request(chain[0], headers=headers)
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        downstream = json.loads(resp.read())
            server.set_attribute("http.response.status_code", 200)
        body = json.dumps(
            {"service": os.environ["OTEL_SERVICE_NAME"], "received": received, "downstream": downstream}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_port}", flush=True)
    sys.stdout.flush()
    server.serve_forever()
