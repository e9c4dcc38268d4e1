// A minimal Lambda Runtime API client for lambda-layer/tests/node_e2e.rs:
// `node runtime.js <module>.<export>`. The real one (aws-lambda-ric) builds
// a native addon with node-gyp at install time, which the test machines
// cannot rely on; this loop does what it does for the telemetry path:
// GET next, set _X_AMZN_TRACE_ID from Lambda-Runtime-Trace-Id (the
// Lambda-aware X-Ray propagator reads it), call the handler, POST the
// response or the error.
'use strict';

const http = require('node:http');
const path = require('node:path');

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [moduleName, exportName] = (process.argv[2] || process.env._HANDLER).split('.');
const handler = require(path.resolve(process.env.LAMBDA_TASK_ROOT || '.', moduleName))[exportName];
const agent = new http.Agent({ keepAlive: true });

function request(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${api}/2018-06-01/runtime${urlPath}`, { method, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) {
      req.setHeader('content-type', 'application/json');
      req.end(JSON.stringify(body));
    } else {
      req.end();
    }
  });
}

async function main() {
  for (;;) {
    const next = await request('GET', '/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    const trace = next.headers['lambda-runtime-trace-id'];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    const context = {
      awsRequestId: id,
      invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      getRemainingTimeInMillis: () => Number(next.headers['lambda-runtime-deadline-ms']) - Date.now(),
    };
    try {
      const result = await handler(JSON.parse(next.body), context);
      await request('POST', `/invocation/${id}/response`, result);
    } catch (err) {
      await request('POST', `/invocation/${id}/error`, { errorType: err.name, errorMessage: err.message });
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
