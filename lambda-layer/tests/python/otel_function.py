"""A Python Lambda function for lambda-layer/tests/sdk_e2e.rs.

Run by the real AWS runtime interface client (`python -m awslambdaric
otel_function.handler`) through the layer's exec wrapper. Its OpenTelemetry
setup is the minimal one a user writes and uses only the SDK's defaults, which
come from the environment the wrapper sets: the exporter's endpoint
(OTEL_EXPORTER_OTLP_ENDPOINT), the resource (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES) and the propagators (OTEL_PROPAGATORS, loaded by
opentelemetry.propagate from the installed entry points; `xray-lambda`
comes from opentelemetry-propagator-aws-xray and reads _X_AMZN_TRACE_ID,
which awslambdaric sets per invoke). Nothing here names the extension.

Event: {"spans": N} -> N child spans under the invoke's SERVER span.
"""

import os

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

# The SDK's env-driven defaults; the wrapper decides what they are.
if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") != "http/protobuf":
    raise RuntimeError("the exec wrapper did not select http/protobuf")
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("otel_function")

COLD = True


def handler(event, context):
    global COLD
    parent = propagate.extract({})  # no carrier: xray-lambda reads _X_AMZN_TRACE_ID
    with tracer.start_as_current_span(
        "otel_function.handler",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={
            "faas.invocation_id": context.aws_request_id,
            "faas.coldstart": COLD,
            "cloud.resource_id": context.invoked_function_arn,
        },
    ):
        COLD = False
        for i in range(int(event.get("spans", 0))):
            with tracer.start_as_current_span(f"child-{i}"):
                pass
    # The in-function rule: hand the spans to the extension before returning.
    provider.force_flush()
    return {"ok": True, "request_id": context.aws_request_id}
