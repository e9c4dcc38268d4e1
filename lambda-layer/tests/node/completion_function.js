// The Node.js function of lambda-layer/tests/completion_e2e.rs. Like
// otel_function.js, but the handler does NOT flush: the layer's completion
// hook (lambda-layer/hooks/node) must flush the global provider and send
// the done signal. With OTEL_AWS_TEST_PROVIDER=own the function exports
// through its own provider object, never registered, and flushes it itself:
// the hook cannot vouch for it, sends no signal, and the extension falls
// back to platform.runtimeDone. With OTEL_AWS_TEST_PROVIDER=global-flush the
// handler flushes the global provider itself, as otel_function.js does (the
// benchmark's baseline, with the hook off). With OTEL_AWS_TEST_PROVIDER=global-all
// the function also installs a global meter provider and a global logger
// provider (@opentelemetry/sdk-metrics, sdk-logs; their exports wait 10
// minutes) and records a counter and a log record per invoke, tagged with
// the request id: only the hook's flush of all three providers delivers
// them before the freeze.
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

let meter;
let logger;
if (mode === 'global-all') {
  ({ meter, logger } = metricsAndLogs());
}

/** OTLP/JSON POSTed to the extension's receiver (OTEL_EXPORTER_OTLP_ENDPOINT, set by the wrapper). */
function post(path, body) {
  const http = require('node:http');
  const url = new URL(path, process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(Buffer.from(body));
  });
}

/** A push exporter of the SDKs' shape over `post` (no OTLP metrics/logs exporter package is installed). */
function exporter(path, serialize) {
  return {
    export(items, done) {
      post(path, serialize(items)).then(
        () => done({ code: 0 }),
        (error) => done({ code: 1, error }),
      );
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

function metricsAndLogs() {
  const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
  const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
  const { JsonMetricsSerializer, JsonLogsSerializer } = require('@opentelemetry/otlp-transformer');
  const apiLogs = require('@opentelemetry/api-logs');
  const resource = defaultResource().merge(detectResources({ detectors: [envDetector] }));
  const tenMinutes = 600000;
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: exporter('/v1/metrics', (m) => JsonMetricsSerializer.serializeRequest(m)),
        exportIntervalMillis: tenMinutes,
        exportTimeoutMillis: 5000,
      }),
    ],
  });
  api.metrics.setGlobalMeterProvider(meterProvider);
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [
      new BatchLogRecordProcessor(
        exporter('/v1/logs', (l) => JsonLogsSerializer.serializeRequest(l)),
        { scheduledDelayMillis: tenMinutes },
      ),
    ],
  });
  apiLogs.logs.setGlobalLoggerProvider(loggerProvider);
  return {
    meter: api.metrics.getMeter('completion_function'),
    logger: apiLogs.logs.getLogger('completion_function'),
  };
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
  if (meter) {
    meter.createCounter('completion.invokes').add(1, { 'faas.invocation_id': context.awsRequestId });
    logger.emit({ body: `invoke ${context.awsRequestId}`, attributes: { 'faas.invocation_id': context.awsRequestId } });
  }
  if (own || mode === 'global-flush') await provider.forceFlush(); // the function flushes itself
  if (event.fail) throw new Error('failed on purpose');
  return { ok: true, request_id: context.awsRequestId };
};
