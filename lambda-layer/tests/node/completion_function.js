// The Node.js function of lambda-layer/tests/completion_e2e.rs. Like
// otel_function.js, but the handler does NOT flush: the layer's completion
// hook (lambda-layer/hooks/node) must flush the global provider and send
// the done signal. With OTEL_AWS_TEST_PROVIDER=own the function exports
// through its own provider object, never registered, and flushes it itself:
// the hook cannot vouch for it, sends no signal, and the extension falls
// back to platform.runtimeDone. With OTEL_AWS_TEST_PROVIDER=global-flush the
// handler flushes the global provider itself, as otel_function.js does (the
// benchmark's baseline, with the hook off).
//
// Event: {"spans": N} -> N child spans under the invoke's SERVER span;
// with "fail": true the handler then rejects (the hook must still signal).
'use strict';

const api = require('@opentelemetry/api');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { defaultResource, detectResources, envDetector } = require('@opentelemetry/resources');
const { AWSXRayLambdaPropagator } = require('@opentelemetry/propagator-aws-xray-lambda');

const mode = process.env.OTEL_AWS_TEST_PROVIDER || 'global';
const own = mode === 'own';
const provider = new NodeTracerProvider({
  resource: defaultResource().merge(detectResources({ detectors: [envDetector] })),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
const propagator = new AWSXRayLambdaPropagator();
let tracer;
if (own) {
  tracer = provider.getTracer('completion_function');
} else {
  provider.register({ propagator });
  tracer = api.trace.getTracer('completion_function');
}

let cold = true;

exports.handler = async (event, context) => {
  // No carrier: the propagator falls back to _X_AMZN_TRACE_ID.
  const parent = propagator.extract(api.ROOT_CONTEXT, {}, api.defaultTextMapGetter);
  const span = tracer.startSpan(
    'completion_function.handler',
    {
      kind: api.SpanKind.SERVER,
      attributes: { 'faas.invocation_id': context.awsRequestId, 'faas.coldstart': cold },
    },
    parent,
  );
  cold = false;
  const inner = api.trace.setSpan(parent, span);
  for (let i = 0; i < (event.spans || 0); i++) tracer.startSpan(`child-${i}`, {}, inner).end();
  span.end();
  if (own || mode === 'global-flush') await provider.forceFlush(); // the function flushes itself
  if (event.fail) throw new Error('failed on purpose');
  return { ok: true, request_id: context.awsRequestId };
};
