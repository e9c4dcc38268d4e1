// A service migrated to the OpenTelemetry JS SDK, for ecs-sidecar/tests/mixed_fleet.rs.
//
// SDK defaults (parent-based always-on sampler, random ids) with the
// reference X-Ray propagator (@opentelemetry/propagator-aws-xray, pinned by
// lambda-layer/tests/node/package-lock.json as a dependency of the Lambda
// variant). The exporter's endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the
// sidecar's OTLP/HTTP receiver) and the service name (OTEL_SERVICE_NAME)
// come from the environment. Spans are flushed before the answer is written.
//
// Prints `PORT <n>` once listening on 127.0.0.1 (a free port). Each request:
// a SERVER span continuing the X-Amzn-Trace-Id, a CLIENT span calling the
// first URL of the comma-separated `X-Fleet-Chain` header (handing on the
// rest) with the trace header injected; answers JSON like legacy_service.py.
'use strict';

const http = require('http');
const api = require('@opentelemetry/api');
const { NodeTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { defaultResource, detectResources, envDetector } = require('@opentelemetry/resources');
const { AWSXRayPropagator } = require('@opentelemetry/propagator-aws-xray');

const provider = new NodeTracerProvider({
  resource: defaultResource().merge(detectResources({ detectors: [envDetector] })),
  spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter())],
});
provider.register({ propagator: new AWSXRayPropagator() });
const tracer = api.trace.getTracer('mixed-fleet');

async function handle(req) {
  const received = req.headers['x-amzn-trace-id'] || null;
  const chain = (req.headers['x-fleet-chain'] || '').split(',').filter(Boolean);
  const parent = api.propagation.extract(api.ROOT_CONTEXT, req.headers);
  const server = tracer.startSpan(
    'GET /',
    {
      kind: api.SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'url.path': '/',
        'order.id': 'o-42',
        'aws.xray.annotations': ['order.id'],
        'cart.items': 3,
      },
    },
    parent,
  );
  const cx = api.trace.setSpan(parent, server);
  let downstream = null;
  if (chain.length > 0) {
    const client = tracer.startSpan(
      'GET downstream',
      { kind: api.SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': chain[0] } },
      cx,
    );
    const headers = { 'x-fleet-chain': chain.slice(1).join(',') };
    api.propagation.inject(api.trace.setSpan(cx, client), headers);
    const resp = await fetch(chain[0], { headers });
    client.setAttribute('http.response.status_code', resp.status);
    downstream = await resp.json();
    client.end();
  }
  server.setAttribute('http.response.status_code', 200);
  server.end();
  await provider.forceFlush();
  return { service: process.env.OTEL_SERVICE_NAME, received, downstream };
}

const listener = http.createServer((req, res) => {
  handle(req).then(
    (answer) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    },
    (err) => {
      console.error(err);
      res.writeHead(500);
      res.end(String(err));
    },
  );
});
listener.listen(0, '127.0.0.1', () => {
  console.log(`PORT ${listener.address().port}`);
});
