// otel-aws completion hook for Node.js: flush, then tell the extension "done".
//
// Loaded by the exec wrapper with NODE_OPTIONS=--require <this file>.
// Without a signal from the function, the otel-aws extension ends an invoke
// on the Telemetry API's `platform.runtimeDone`, which Lambda delivers at
// least 25 ms after the response: billed time on every invoke. This hook
// wraps the function's handler so that, when it settles (its promise
// resolves or rejects, or it calls its callback):
//
// 1. the global tracer provider (the one `provider.register()` or
//    `trace.setGlobalTracerProvider` installed) is force-flushed, and with it,
//    at the same time, the global meter provider (`metrics.setGlobalMeterProvider`)
//    and the global logger provider (`logs.setGlobalLoggerProvider` of
//    @opentelemetry/api-logs) when the function installed them: bounded (at
//    most 2 s and never past the invoke's deadline margin), which hands the
//    invoke's spans, metrics and log records to the extension on 127.0.0.1;
// 2. then, only if every one of those flushes completed, `POST /lambda/v1/invocations/<request
//    id>/done` goes to the extension's control address
//    (OTEL_AWS_LAMBDA_CONTROL_ADDR, default 127.0.0.1:4319): the same
//    signal, with the same request id, that the Rust function wrapper sends.
//
// The rule: no signal unless the hook flushed the provider the spans go
// through, and the global meter and logger providers present. No global SDK
// tracer provider (the function exports through its own provider object), a
// failed or timed-out flush of any of them, a missing request id, or a
// handler the hook could not wrap: nothing is sent, and the extension falls
// back to runtimeDone.
//
// How the handler is found: the runtime interface client loads the
// handler's module (_HANDLER = `path/to/module.export`) with `require` from
// LAMBDA_TASK_ROOT. The hook wraps Module._load: when that module's file is
// loaded, the runtime gets the exports with `export` replaced by a wrapper.
// The global providers are read from the APIs' documented global slots
// (Symbol.for('opentelemetry.js.api.1') for traces and metrics,
// Symbol.for('io.opentelemetry.js.api.logs') for logs), so a bundled
// function (its own copy of @opentelemetry/api) is covered too. ES modules (.mjs or
// "type": "module") are loaded with import(), which this hook does not see:
// they keep the runtimeDone fallback.
'use strict';

const Module = require('node:module');
const path = require('node:path');
// node:http is required at the first signal, not at start-up (cold start:
// the runtime and the SDK's exporter load it anyway).

const FLUSH_TIMEOUT_MS = 2000;
const DEADLINE_MARGIN_MS = 250;
const SIGNAL_TIMEOUT_MS = 200;
const WRAPPED = Symbol.for('otel-aws.lambda.wrapped');
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
const LOGS_API_GLOBAL = Symbol.for('io.opentelemetry.js.api.logs');
// The logs API stores a getter taking its backwards-compatibility version.
const LOGS_API_VERSION = 1;

function controlAddr() {
  const addr = (process.env.OTEL_AWS_LAMBDA_CONTROL_ADDR || '').trim() || '127.0.0.1:4319';
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(addr.slice(i + 1)) };
}

/** An SDK provider (one with forceFlush) behind `p`, or undefined (a no-op or nothing). */
function sdkProvider(p) {
  if (p && typeof p.getDelegate === 'function') p = p.getDelegate(); // the API's proxy
  return p && typeof p.forceFlush === 'function' ? p : undefined;
}

/** The global SDK tracer provider, or undefined (the API's no-op or nothing registered). */
function globalProvider() {
  return sdkProvider(globalThis[API_GLOBAL] && globalThis[API_GLOBAL].trace);
}

/** The global SDK meter and logger providers the function installed (zero to two). */
function otherGlobalProviders() {
  const api = globalThis[API_GLOBAL];
  const getLogs = globalThis[LOGS_API_GLOBAL];
  const logs = typeof getLogs === 'function' ? getLogs(LOGS_API_VERSION) : undefined;
  return [sdkProvider(api && api.metrics), sdkProvider(logs)].filter(Boolean);
}

/** Resolves true when the global providers flushed completely within their bound. */
async function flushGlobalProvider(context) {
  const tp = globalProvider();
  if (!tp) return false;
  const providers = [tp, ...otherGlobalProviders()];
  let timeout = FLUSH_TIMEOUT_MS;
  if (context && typeof context.getRemainingTimeInMillis === 'function') {
    timeout = Math.min(timeout, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS);
  }
  if (!(timeout > 0)) return false;
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), timeout);
    timer.unref();
  });
  try {
    const all = Promise.all(providers.map((p) => Promise.resolve().then(() => p.forceFlush())));
    return await Promise.race([all.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function signalDone(requestId) {
  const http = require('node:http');
  const { host, port } = controlAddr();
  return new Promise((resolve) => {
    const req = http.request(
      {
        host,
        port,
        method: 'POST',
        path: `/lambda/v1/invocations/${encodeURIComponent(requestId)}/done`,
        headers: { 'content-length': 0 },
        agent: false,
        timeout: SIGNAL_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', resolve);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', resolve); // the extension falls back to runtimeDone
    req.end();
  });
}

/** End of one invoke: flush, then signal. Never rejects. */
async function finish(context) {
  try {
    const requestId = context && context.awsRequestId;
    if (requestId && (await flushGlobalProvider(context))) await signalDone(requestId);
  } catch (_) {
    // the extension falls back to runtimeDone
  }
}

/** `handler(event, context[, callback])` that flushes and signals once it settles. */
function wrap(handler) {
  const wrapped = function otelAwsHandler(event, context, callback) {
    let finished;
    const once = () => (finished = finished || finish(context));
    const cb =
      typeof callback === 'function'
        ? (err, result) => once().then(() => callback(err, result))
        : callback;
    const result = handler.call(this, event, context, cb);
    if (result && typeof result.then === 'function') {
      return result.then(
        (value) => once().then(() => value),
        (err) => once().then(() => Promise.reject(err)),
      );
    }
    return result;
  };
  Object.defineProperty(wrapped, 'length', { value: handler.length }); // some clients check the arity
  wrapped[WRAPPED] = true;
  return wrapped;
}

/** (absolute module path without extension, export name) from _HANDLER, as the runtime splits it. */
function handlerTarget() {
  const handler = (process.env._HANDLER || '').trim();
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  if (!handler || dot < 0) return undefined;
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const name = handler.slice(dot + 1);
  if (name.includes('.')) return undefined; // nested export path: not wrapped (runtimeDone)
  return { base: path.resolve(root, handler.slice(0, dot)), name };
}

function install() {
  const target = handlerTarget();
  if (!target) return;
  const stem = path.basename(target.base);
  const originalLoad = Module._load;
  let done = false;
  Module._load = function otelAwsLoad(request, parent, isMain) {
    const exports = originalLoad.apply(this, arguments);
    if (done || typeof request !== 'string' || !request.includes(stem)) return exports;
    let file;
    try {
      file = Module._resolveFilename(request, parent, isMain);
    } catch (_) {
      return exports;
    }
    const ext = path.extname(file);
    if (file !== target.base && file.slice(0, -ext.length) !== target.base) return exports;
    const fn = exports && exports[target.name];
    if (typeof fn !== 'function' || fn[WRAPPED]) return exports;
    done = true; // stays installed (other hooks may have wrapped it since), but inert
    const wrapped = wrap(fn);
    // A proxy, not an assignment: bundlers export through getters that cannot be reassigned.
    return new Proxy(exports, {
      get: (obj, key, receiver) => (key === target.name ? wrapped : Reflect.get(obj, key, receiver)),
    });
  };
}

try {
  install();
} catch (err) {
  process.stderr.write(`otel-aws hook: not installed (${err}); the extension waits for runtimeDone\n`);
}
