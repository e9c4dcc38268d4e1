// The Node.js function of lambda-layer/tests/node_e2e.rs, started through
// the layer's exec wrapper. Its OpenTelemetry setup uses the SDK's
// defaults, which come from the environment the wrapper sets: the
// exporter's endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) and the resource
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES via the env detector, as
// @opentelemetry/sdk-node does). Nothing here names the extension.
//
// The propagator is set in code: the plain Node SDK does not read
// OTEL_PROPAGATORS (only @opentelemetry/sdk-node does, and it knows no
// `xray-lambda`), so a Node function registers the Lambda-aware X-Ray
// propagator itself (it reads _X_AMZN_TRACE_ID).
//
// Event: {"spans": N} -> N child spans under the invoke's SERVER span.
'use strict';

const api = require('@opentelemetry/api');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { defaultResource, detectResources, envDetector } = require('@opentelemetry/resources');
const { AWSXRayLambdaPropagator } = require('@opentelemetry/propagator-aws-xray-lambda');

if (process.env.OTEL_EXPORTER_OTLP_PROTOCOL !== 'http/protobuf') {
  throw new Error('the exec wrapper did not select http/protobuf');
}
const provider = new NodeTracerProvider({
  resource: defaultResource().merge(detectResources({ detectors: [envDetector] })),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
provider.register({ propagator: new AWSXRayLambdaPropagator() });
const tracer = api.trace.getTracer('otel_function');

let cold = true;

exports.handler = async (event, context) => {
  // No carrier: the propagator falls back to _X_AMZN_TRACE_ID.
  const parent = api.propagation.extract(api.context.active(), {});
  const span = tracer.startSpan(
    'otel_function.handler',
    {
      kind: api.SpanKind.SERVER,
      attributes: {
        'faas.invocation_id': context.awsRequestId,
        'faas.coldstart': cold,
        'cloud.resource_id': context.invokedFunctionArn,
      },
    },
    parent,
  );
  cold = false;
  api.context.with(api.trace.setSpan(parent, span), () => {
    for (let i = 0; i < (event.spans || 0); i++) tracer.startSpan(`child-${i}`).end();
  });
  span.end();
  // The in-function rule: hand the spans to the extension before returning.
  await provider.forceFlush();
  return { ok: true, request_id: context.awsRequestId };
};
