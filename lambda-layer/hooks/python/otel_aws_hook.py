"""otel-aws completion hook for Python: flush, then tell the extension "done".

Without a signal from the function, the otel-aws extension ends an invoke on
the Telemetry API's `platform.runtimeDone`, which Lambda delivers at least
25 ms after the response: billed time on every invoke. This hook wraps the
function's handler so that, when it returns or raises:

1. the global tracer provider is force-flushed (bounded: at most 2 s and
   never past the invoke's deadline margin), which hands the invoke's spans
   to the extension on 127.0.0.1, then the global meter and logger
   providers when the function set SDK ones (the extension carries metrics
   and logs too);
2. then, only if those flushes completed, `POST /lambda/v1/invocations/<request
   id>/done` goes to the extension's control address
   (`OTEL_AWS_LAMBDA_CONTROL_ADDR`, default 127.0.0.1:4319) -- the same
   signal, with the same request id, that the Rust function wrapper sends.

The rule: **no signal unless the hook flushed the provider the spans go
through.** When the global provider is not an SDK provider (the function
exports through its own provider object and never sets it global, or has
no SDK), when the flush fails or times out, or when the request id is
unknown, nothing is sent and the extension falls back to `runtimeDone`.

How the handler is found: the runtime imports the handler's module by name
(`_HANDLER` = `path/to/module.function`; awslambdaric, which every managed
Python runtime 3.9-3.13 runs, calls `importlib.import_module` and then
`getattr`). A finder on `sys.meta_path` waits for exactly that module and,
once it has executed, replaces the function attribute with a wrapper. This
uses only the import system's public protocol (PEP 451 finders and
loaders, stable since 3.4), never awslambdaric's private functions, so it
does not depend on the runtime interface client's version.
"""

import functools
import os
import sys

# Start-up cost matters (cold start): importlib.abc alone pulls in
# importlib.resources (~30 ms on a loaded host), so the finder and loader
# below are plain classes (the import system only looks for `find_spec`,
# `create_module` and `exec_module`), and http.client / urllib.parse are
# imported at the first signal (the SDK's exporter has loaded them by then).

FLUSH_TIMEOUT_MS = 2000
"""Longest flush of the global provider."""
DEADLINE_MARGIN_MS = 250
"""Kept free before the invoke's deadline."""
SIGNAL_TIMEOUT_S = 0.2
"""Longest wait for the extension to take the signal (loopback)."""


def _control_addr():
    addr = os.environ.get("OTEL_AWS_LAMBDA_CONTROL_ADDR", "").strip() or "127.0.0.1:4319"
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _flush_global_provider(context):
    """True when the global SDK provider flushed completely within its bound."""
    try:
        from opentelemetry import trace
    except ImportError:
        return False  # no OpenTelemetry in this function: nothing the hook can vouch for
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if flush is None:  # the API's proxy or no-op provider: the function set no global SDK provider
        return False
    timeout = FLUSH_TIMEOUT_MS
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is not None:
        timeout = min(timeout, max(0, int(remaining()) - DEADLINE_MARGIN_MS))
    if timeout <= 0:
        return False
    if flush(timeout_millis=timeout) is not True:
        return False
    # The extension carries metrics and logs too: flush the global meter and
    # logger providers when the function set SDK ones (no-op/proxy
    # providers have no force_flush and are skipped).
    for provider in _other_providers():
        other = getattr(provider, "force_flush", None)
        if other is not None and other(timeout_millis=timeout) is False:
            return False
    return True


def _other_providers():
    """The global meter and logger providers (those whose modules load)."""
    out = []
    try:
        from opentelemetry import metrics

        out.append(metrics.get_meter_provider())
    except ImportError:
        pass
    try:
        from opentelemetry import _logs

        out.append(_logs.get_logger_provider())
    except ImportError:
        pass
    return out


def _signal_done(request_id):
    import http.client
    import urllib.parse

    host, port = _control_addr()
    conn = http.client.HTTPConnection(host, port, timeout=SIGNAL_TIMEOUT_S)
    try:
        conn.request(
            "POST",
            "/lambda/v1/invocations/%s/done" % urllib.parse.quote(request_id, safe=""),
            headers={"Content-Length": "0"},
        )
        conn.getresponse().read()
    finally:
        conn.close()


def finish(context):
    """End of one invoke: flush, then signal (never raises)."""
    try:
        request_id = getattr(context, "aws_request_id", None)
        if request_id and _flush_global_provider(context):
            _signal_done(request_id)
    except Exception:  # the extension falls back to runtimeDone
        pass


def wrap(handler):
    """`handler(event, context)` that flushes and signals after each call."""

    @functools.wraps(handler)
    def otel_aws_handler(event, context):
        try:
            return handler(event, context)
        finally:
            finish(context)

    otel_aws_handler.__otel_aws_wrapped__ = True
    return otel_aws_handler


def _handler_target():
    """(module name, attribute) from `_HANDLER`, as awslambdaric parses it."""
    handler = os.environ.get("_HANDLER", "").strip()
    if not handler or "." not in handler:
        return None
    modname, fname = handler.rsplit(".", 1)
    return modname.replace("/", "."), fname


class _HandlerFinder:
    """Wraps `module.fname` right after `module` is first executed."""

    def __init__(self, modname, fname):
        self.modname, self.fname = modname, fname

    def find_spec(self, fullname, path, target=None):
        if fullname != self.modname:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec
        fname = self.fname

        class _Loader:
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                exec_module(module)
                fn = getattr(module, fname, None)
                if callable(fn) and not getattr(fn, "__otel_aws_wrapped__", False):
                    setattr(module, fname, wrap(fn))

            def __getattr__(self, name):  # get_source, get_code, ... as the real loader
                return getattr(loader, name)

        spec.loader = _Loader()
        return spec


def install():
    """Installs the handler finder (no-op without `_HANDLER`)."""
    target = _handler_target()
    if target is None:
        return
    modname, fname = target
    module = sys.modules.get(modname)
    if module is not None:  # already imported (unusual): wrap in place
        fn = getattr(module, fname, None)
        if callable(fn) and not getattr(fn, "__otel_aws_wrapped__", False):
            setattr(module, fname, wrap(fn))
        return
    sys.meta_path.insert(0, _HandlerFinder(modname, fname))
