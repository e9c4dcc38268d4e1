"""A Python Lambda function for lambda-layer/tests/completion_e2e.rs.

Like otel_function.py, but the handler does NOT flush: the layer's
completion hook (lambda-layer/hooks/python) must flush the global provider
and send the done signal. With OTEL_AWS_TEST_PROVIDER=own the function
exports through its own provider object, never made global, and flushes it
itself: the hook cannot vouch for it, sends no signal, and the extension
falls back to platform.runtimeDone. With OTEL_AWS_TEST_PROVIDER=global-flush
the handler flushes the global provider itself, as otel_function.py does
(the benchmark's baseline, with the hook off).

Event: {"spans": N} -> N child spans under the invoke's SERVER span;
with "fail": true the handler then raises (the hook must still signal).
"""

import os

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

MODE = os.environ.get("OTEL_AWS_TEST_PROVIDER", "global")
OWN = MODE == "own"
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
if OWN:
    tracer = provider.get_tracer("completion_function")
else:
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("completion_function")

COLD = True


def handler(event, context):
    global COLD
    parent = propagate.extract({})  # xray-lambda reads _X_AMZN_TRACE_ID
    with tracer.start_as_current_span(
        "completion_function.handler",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={
            "faas.invocation_id": context.aws_request_id,
            "faas.coldstart": COLD,
        },
    ):
        COLD = False
        for i in range(int(event.get("spans", 0))):
            with tracer.start_as_current_span(f"child-{i}"):
                pass
    if OWN or MODE == "global-flush":
        provider.force_flush()  # the function flushes itself
    if event.get("fail"):
        raise RuntimeError("failed on purpose")
    return {"ok": True, "request_id": context.aws_request_id}
