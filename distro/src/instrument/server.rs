//! SERVER spans for tower HTTP services: axum, hyper (through
//! `hyper-util`'s tower adapter) and tonic, gRPC included (feature `tower`).
//!
//! ```no_run
//! # #[cfg(feature = "axum")] async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = otel_aws_distro::init().await?; // before the layer: it takes the provider
//! let app: axum::Router = axum::Router::new()
//!     .route("/orders/{id}", axum::routing::get(|| async { "ok" }))
//!     .layer(otel_aws_distro::instrument::ServerLayer::new());
//! # Ok(()) }
//! ```
//!
//! Written on the OpenTelemetry API directly rather than on `tower-http`'s
//! `TraceLayer`: that layer makes a `tracing` span, which
//! tracing-opentelemetry turns into an OpenTelemetry span at a cost of
//! several microseconds per request (field visitors, extension maps, a
//! second span model), and it neither extracts a parent nor knows the
//! conventions. Here the span is built once with all its attributes (the
//! sampler sees them) and its context is attached while the service runs,
//! so `tracing` spans the handler opens (tracing-opentelemetry with context
//! activation, as [`crate::init`] installs it) and OpenTelemetry-API spans
//! are its children. Panics are caught here too rather than with
//! `tower-http`'s `CatchPanic`, which would answer 500 outside this layer
//! without the panic reaching the span.
//!
//! The span ends when the response body has been sent (or dropped), so its
//! duration covers streaming and `http.response.body.size` counts the bytes.
//!
//! What it records:
//! - HTTP: name `{method} {route}` (`{method}` without a route; `HTTP` for a
//!   method outside the well-known set), `http.request.method`
//!   (+ `_original`), `http.route` (axum's `MatchedPath`), `url.path`,
//!   `url.scheme`, `url.query` (only with [`ServerLayer::with_query`],
//!   credentials redacted), `server.address`/`server.port` (Forwarded host,
//!   X-Forwarded-Host, URI authority, Host), `client.address` (Forwarded
//!   `for`, X-Forwarded-For, else the peer), `network.peer.*`,
//!   `network.protocol.version`, `user_agent.original`,
//!   `http.request.body.size` (Content-Length), `http.response.status_code`,
//!   `http.response.body.size`; status ERROR and `error.type` for 5xx only.
//! - gRPC (`content-type: application/grpc*`): name `{service}/{method}`,
//!   `rpc.system=grpc`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`
//!   (from the headers of a trailers-only answer or the trailers); status
//!   ERROR for UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
//!   UNAVAILABLE and DATA_LOSS (the server-side rule).
//! - A panic: an `exception` event (`exception.type=panic`, the payload as
//!   message), status ERROR, and the answer 500 (gRPC: `grpc-status: 13`).

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};

use bytes::Buf;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use pin_project_lite::pin_project;

use super::headers::{self, method_value, redact_query};
use super::tracer::ScopeTracer;

/// A `tower::Layer` that gives every request a SERVER span (see the module
/// docs). Cheap to clone.
#[derive(Clone)]
pub struct ServerLayer {
    shared: Arc<Shared>,
}

struct Shared {
    tracer: ScopeTracer,
    capture_query: bool,
}

impl fmt::Debug for ServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLayer")
            .field("capture_query", &self.shared.capture_query)
            .finish_non_exhaustive()
    }
}

impl Default for ServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerLayer {
    /// A layer on the global tracer provider — the one [`crate::init`]
    /// installs. Build it after `init()`: it takes the provider now (and,
    /// when it is `init()`'s, starts spans with the SDK's tracer directly
    /// rather than through the globals' boxed one).
    pub fn new() -> Self {
        Self::with_tracer(ScopeTracer::global())
    }

    /// A layer on `provider` (tests, or an application that keeps the
    /// provider out of the globals). Context is still extracted with the
    /// global propagator. An `SdkTracerProvider`'s spans are started with
    /// its own tracer (no boxed tracer in between).
    pub fn with_tracer_provider<P>(provider: &P) -> Self
    where
        P: opentelemetry::trace::TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        Self::with_tracer(ScopeTracer::of(provider))
    }

    fn with_tracer(tracer: ScopeTracer) -> Self {
        Self {
            shared: Arc::new(Shared {
                tracer,
                capture_query: false,
            }),
        }
    }

    /// Records `url.query` (off by default: queries often carry personal
    /// data). Presigned-URL credentials are redacted either way.
    pub fn with_query(self, capture: bool) -> Self {
        let shared = Shared {
            tracer: self.shared.tracer.clone(),
            capture_query: capture,
        };
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> tower_layer::Layer<S> for ServerLayer {
    type Service = ServerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ServerService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`ServerLayer`] wraps around the application.
#[derive(Clone)]
pub struct ServerService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> fmt::Debug for ServerService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerService").finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> tower_service::Service<Request<ReqB>> for ServerService<S>
where
    S: tower_service::Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: fmt::Display,
    ResB: Body,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskCx<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let state = start(&self.shared, &req);
        // The context is attached while the service builds its future too:
        // axum and tonic run extractors and spawn work there.
        let inner = {
            let _attached = state.cx.clone().attach();
            catch_unwind(AssertUnwindSafe(|| self.inner.call(req)))
        };
        match inner {
            Ok(fut) => ResponseFuture {
                inner: Some(fut),
                state: Some(state),
            },
            Err(panic) => {
                state.record_panic(&*panic);
                ResponseFuture {
                    inner: None,
                    state: Some(state),
                }
            }
        }
    }
}

/// What the span needs after the request: its context, and how to read the
/// answer (HTTP or gRPC).
struct SpanState {
    cx: Context,
    grpc: bool,
    panicked: bool,
    /// Whether the span records, read once when it starts: it cannot start
    /// recording later, and attributes set on a span ended early are
    /// dropped by the span itself, so the later checks need not take the
    /// span's lock again.
    recording: bool,
}

impl SpanState {
    fn record_panic(&self, panic: &(dyn std::any::Any + Send)) {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_owned());
        let span = self.cx.span();
        super::error::record_message(&span, "panic", &message);
        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, "panic"));
    }

    /// The answer after a panic: 500, or for gRPC a trailers-only INTERNAL.
    fn panic_response<B>(mut self) -> Response<ResponseBody<B>> {
        self.panicked = true;
        let mut res = Response::new(ResponseBody {
            inner: None,
            finish: None,
        });
        if self.grpc {
            let h = res.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            h.insert("grpc-status", HeaderValue::from_static("13"));
            h.insert("grpc-message", HeaderValue::from_static("panic"));
        } else {
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
        self.on_response(res.status(), res.headers());
        res.body_mut().finish = Some(Finish::new(self));
        res
    }

    /// Status attributes from the response head.
    fn on_response(&self, status: StatusCode, headers: &HeaderMap) {
        if !self.recording {
            return;
        }
        let span = self.cx.span();
        if self.grpc {
            if let Some(code) = grpc_status(headers) {
                record_grpc_status(&span, code);
            } else if status.is_server_error() {
                set_http_error(&span, status, self.panicked);
            }
            return;
        }
        span.set_attribute(KeyValue::new(
            semconv::HTTP_RESPONSE_STATUS_CODE,
            i64::from(status.as_u16()),
        ));
        if status.is_server_error() {
            set_http_error(&span, status, self.panicked);
        }
    }
}

fn set_http_error(span: &opentelemetry::trace::SpanRef<'_>, status: StatusCode, panicked: bool) {
    if !panicked {
        // error.type: the status code as a string, per the HTTP conventions
        // (a panic keeps the `panic` it was given).
        span.set_attribute(KeyValue::new(
            semconv::ERROR_TYPE,
            status.as_str().to_owned(),
        ));
        span.set_status(Status::error(""));
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `rpc.grpc.status_code` and, for the codes the conventions call server
/// errors, status ERROR.
// The rpc attributes the issue, X-Ray and ADOT's pipelines use (semantic
// conventions before 1.38, which renamed them to `rpc.system.name` and a
// string `rpc.response.status_code`): see docs/distro.md.
#[allow(deprecated)]
fn record_grpc_status(span: &opentelemetry::trace::SpanRef<'_>, code: i64) {
    span.set_attribute(KeyValue::new(semconv::RPC_GRPC_STATUS_CODE, code));
    // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
    if matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
        span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, code.to_string()));
        span.set_status(Status::error(""));
    }
}

/// The request headers the span reads, found in one pass over the map
/// (each the first value of its name, as `HeaderMap::get` gives): the pass
/// the propagators' extraction makes ([`headers::extract_scanning`]).
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Head<'a> {
    content_type: Option<&'a HeaderValue>,
    user_agent: Option<&'a HeaderValue>,
    content_length: Option<&'a HeaderValue>,
    host: Option<&'a HeaderValue>,
    forwarded: Option<&'a HeaderValue>,
    x_forwarded_for: Option<&'a HeaderValue>,
    x_forwarded_host: Option<&'a HeaderValue>,
    x_forwarded_proto: Option<&'a HeaderValue>,
}

impl<'a> Head<'a> {
    /// The parent context the propagators find, and the head, in one pass.
    fn extract(h: &'a HeaderMap) -> (Context, Self) {
        let mut head = Self::default();
        let parent = headers::extract_scanning(h, |name, value| head.take(name, value));
        (parent, head)
    }

    #[cfg(test)]
    fn scan(h: &'a HeaderMap) -> Self {
        let mut head = Self::default();
        for (name, value) in h {
            head.take(name.as_str(), value);
        }
        head
    }

    /// Keeps `value` when `name` is one the span reads and not seen yet.
    fn take(&mut self, name: &str, value: &'a HeaderValue) {
        let slot = match name {
            "content-type" => &mut self.content_type,
            "user-agent" => &mut self.user_agent,
            "content-length" => &mut self.content_length,
            "host" => &mut self.host,
            "forwarded" => &mut self.forwarded,
            "x-forwarded-for" => &mut self.x_forwarded_for,
            "x-forwarded-host" => &mut self.x_forwarded_host,
            "x-forwarded-proto" => &mut self.x_forwarded_proto,
            _ => return,
        };
        slot.get_or_insert(value);
    }
}

fn text(v: Option<&HeaderValue>) -> Option<&str> {
    v.and_then(|v| v.to_str().ok())
}

/// Builds the span for `req` from its head (before the service sees it).
#[allow(deprecated)] // rpc.system / rpc.service: see record_grpc_status
fn start<B>(shared: &Shared, req: &Request<B>) -> SpanState {
    let (parent, head) = Head::extract(req.headers());
    let grpc = head
        .content_type
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let mut attrs = Vec::with_capacity(16);
    let name: Cow<'static, str> = if grpc {
        let path = req.uri().path().trim_start_matches('/');
        let (service, method) = path.rsplit_once('/').unwrap_or((path, ""));
        attrs.push(KeyValue::new(semconv::RPC_SYSTEM, "grpc"));
        attrs.push(KeyValue::new(semconv::RPC_SERVICE, service.to_owned()));
        attrs.push(KeyValue::new(semconv::RPC_METHOD, method.to_owned()));
        Cow::Owned(path.to_owned())
    } else {
        let (method, known) = method_value(req.method());
        attrs.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, method));
        if !known {
            attrs.push(KeyValue::new(
                semconv::HTTP_REQUEST_METHOD_ORIGINAL,
                req.method().as_str().to_owned(),
            ));
        }
        let label = if known { method } else { "HTTP" };
        let route = route(req);
        attrs.push(KeyValue::new(
            semconv::URL_PATH,
            req.uri().path().to_owned(),
        ));
        attrs.push(KeyValue::new(semconv::URL_SCHEME, scheme(req, &head)));
        if let Some(q) = req.uri().query().filter(|_| shared.capture_query) {
            attrs.push(KeyValue::new(
                semconv::URL_QUERY,
                redact_query(q).into_owned(),
            ));
        }
        if let Some(ua) = text(head.user_agent) {
            attrs.push(KeyValue::new(semconv::USER_AGENT_ORIGINAL, ua.to_owned()));
        }
        if let Some(len) = text(head.content_length).and_then(|v| v.parse::<i64>().ok()) {
            attrs.push(KeyValue::new(semconv::HTTP_REQUEST_BODY_SIZE, len));
        }
        match route {
            Some(route) => {
                attrs.push(KeyValue::new(semconv::HTTP_ROUTE, route.to_owned()));
                // Not `format!`: its formatting machinery costs more than the copy.
                let mut name = String::with_capacity(label.len() + 1 + route.len());
                name.push_str(label);
                name.push(' ');
                name.push_str(route);
                Cow::Owned(name)
            }
            None => Cow::Borrowed(label),
        }
    };
    if let Some((host, port)) = server_host(req, &head) {
        attrs.push(KeyValue::new(semconv::SERVER_ADDRESS, host.to_owned()));
        if let Some(port) = port {
            attrs.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
    }
    let peer = peer_addr(req);
    // The peer's address text once, shared by both attributes that carry it.
    let peer_ip: Option<opentelemetry::StringValue> =
        peer.map(|p| Arc::<str>::from(p.ip().to_string()).into());
    if let (Some(peer), Some(ip)) = (peer, &peer_ip) {
        attrs.push(KeyValue::new(semconv::NETWORK_PEER_ADDRESS, ip.clone()));
        attrs.push(KeyValue::new(
            semconv::NETWORK_PEER_PORT,
            i64::from(peer.port()),
        ));
    }
    if !grpc {
        match forwarded_client(&head) {
            Some(client) => attrs.push(KeyValue::new(semconv::CLIENT_ADDRESS, client)),
            None => {
                if let Some(ip) = peer_ip {
                    attrs.push(KeyValue::new(semconv::CLIENT_ADDRESS, ip));
                }
            }
        }
    }
    if let Some(v) = headers::protocol_version(req.version()) {
        attrs.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, v));
    }
    // The builder's fields set in place: `with_attributes` would collect
    // the vector again (a move of each attribute).
    let mut builder = opentelemetry::trace::SpanBuilder::from_name(name);
    builder.span_kind = Some(SpanKind::Server);
    builder.attributes = Some(attrs);
    let (cx, recording) = shared.tracer.start(builder, &parent);
    SpanState {
        cx,
        grpc,
        panicked: false,
        recording,
    }
}

/// axum's matched route (`/orders/{id}`), when the layer runs inside the
/// router (`Router::layer`).
fn route<B>(req: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(m) = req.extensions().get::<axum::extract::MatchedPath>() {
        return Some(m.as_str());
    }
    let _ = req;
    None
}

/// The connection's peer, when the server put it in the request
/// (axum's `ConnectInfo<SocketAddr>`, tonic's `TcpConnectInfo`).
fn peer_addr<B>(req: &Request<B>) -> Option<std::net::SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return Some(*addr);
    }
    #[cfg(feature = "tonic")]
    if let Some(info) = req
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
    {
        return info.remote_addr();
    }
    let _ = req;
    None
}

/// One `key=value` of the first element of a `Forwarded` header (RFC 7239).
fn forwarded_param<'a>(head: &Head<'a>, key: &str) -> Option<&'a str> {
    let first = text(head.forwarded)?.split(',').next()?;
    first.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// `client.address` from `Forwarded: for=` or the first `X-Forwarded-For`
/// entry (the original client), without port or IPv6 brackets.
fn forwarded_client(head: &Head<'_>) -> Option<String> {
    let raw = forwarded_param(head, "for")
        .or_else(|| text(head.x_forwarded_for)?.split(',').next().map(str::trim))?;
    let host = match raw.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        // One colon: `host:port`; more: a bare IPv6 address.
        None if raw.matches(':').count() == 1 => raw.split(':').next().unwrap_or(raw),
        None => raw,
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// `url.scheme`: what a proxy says the client used, else the URI's, else
/// http. The two common values are static strings (no allocation).
fn scheme<B>(req: &Request<B>, head: &Head<'_>) -> opentelemetry::Value {
    let raw = forwarded_param(head, "proto")
        .or_else(|| text(head.x_forwarded_proto))
        .or_else(|| req.uri().scheme_str())
        .unwrap_or("http");
    if raw.eq_ignore_ascii_case("http") {
        "http".into()
    } else if raw.eq_ignore_ascii_case("https") {
        "https".into()
    } else {
        raw.to_ascii_lowercase().into()
    }
}

/// `server.address` / `server.port`, from the first of: Forwarded `host`,
/// X-Forwarded-Host, the URI authority (`:authority` in HTTP/2), Host.
fn server_host<'a, B>(req: &'a Request<B>, head: &Head<'a>) -> Option<(&'a str, Option<u16>)> {
    let raw = forwarded_param(head, "host")
        .or_else(|| text(head.x_forwarded_host))
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .or_else(|| text(head.host))?;
    split_authority(raw)
}

/// `host[:port]` as `(host, port)`, an IPv6 literal without its brackets
/// (as the conventions write addresses); `None` when `raw` is not an
/// authority.
fn split_authority(raw: &str) -> Option<(&str, Option<u16>)> {
    // The common `name[:port]` without parsing an `Authority` (which copies
    // the text), in one pass over the bytes: letters, digits, dots and
    // dashes, a port of 1-5 digits below 65536. Anything else (IPv6, user
    // info, odd characters) takes the full parse below.
    if let Some(plain) = plain_authority(raw) {
        return Some(plain);
    }
    let authority: http::uri::Authority = raw.parse().ok()?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    // `authority` owns its text: take the same slice from `raw` instead.
    let start = raw.find(host)?;
    Some((&raw[start..start + host.len()], authority.port_u16()))
}

/// `name[:port]` of plain characters, or `None` for the full parse.
fn plain_authority(raw: &str) -> Option<(&str, Option<u16>)> {
    let bytes = raw.as_bytes();
    // The host: plain characters up to the end or the first `:`.
    let end = bytes
        .iter()
        .position(|&b| !HOST_CHAR[usize::from(b)])
        .unwrap_or(bytes.len());
    if end == 0 {
        return None;
    }
    let host = raw.get(..end)?;
    let Some(port) = bytes.get(end..).filter(|rest| !rest.is_empty()) else {
        return Some((host, None));
    };
    // `:` and 1-5 digits, accumulated as they are checked (no second pass
    // through `str::parse`); a value above 65535 takes the full parse.
    let digits = port.strip_prefix(b":")?;
    if !(1..=5).contains(&digits.len()) {
        return None;
    }
    let mut value = 0u32;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some((host, Some(u16::try_from(value).ok()?)))
}

/// Letters, digits, dots and dashes: the bytes of a plain host name.
static HOST_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
        i += 1;
    }
    table
};

pin_project! {
    /// The response future of [`ServerService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        state: Option<SpanState>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: fmt::Display,
    B: Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(state) = this.state.take() else {
            // Polled after completion: a contract violation by the caller;
            // stay pending rather than panic.
            return Poll::Pending;
        };
        let Some(fut) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(Ok(state.panic_response()));
        };
        let polled = {
            let _attached = state.cx.clone().attach();
            catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => {
                *this.state = Some(state);
                Poll::Pending
            }
            Ok(Poll::Ready(Ok(res))) => {
                state.on_response(res.status(), res.headers());
                Poll::Ready(Ok(res.map(|inner| ResponseBody {
                    inner: Some(inner),
                    finish: Some(Finish::new(state)),
                })))
            }
            Ok(Poll::Ready(Err(err))) => {
                {
                    let span = state.cx.span();
                    let type_name = std::any::type_name::<E>();
                    super::error::record_message(&span, type_name, &err.to_string());
                    span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, type_name));
                }
                drop(Finish::new(state));
                Poll::Ready(Err(err))
            }
            Err(panic) => {
                this.inner.set(None);
                state.record_panic(&*panic);
                Poll::Ready(Ok(state.panic_response()))
            }
        }
    }
}

/// Ends the span when dropped (the body finished or was dropped), with
/// what the body saw.
struct Finish {
    state: SpanState,
    body_bytes: u64,
}

impl Finish {
    fn new(state: SpanState) -> Self {
        Self {
            state,
            body_bytes: 0,
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let span = self.state.cx.span();
        if self.state.recording && !self.state.grpc {
            let size = i64::try_from(self.body_bytes).unwrap_or(i64::MAX);
            span.set_attribute(KeyValue::new(semconv::HTTP_RESPONSE_BODY_SIZE, size));
        }
        span.end();
    }
}

pin_project! {
    /// The response body of [`ServerService`]: the service's body, counted,
    /// ending the span when it ends (or empty, after a panic).
    pub struct ResponseBody<B> {
        #[pin]
        inner: Option<B>,
        finish: Option<Finish>,
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskCx<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            *this.finish = None;
            return Poll::Ready(None);
        };
        let polled = inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(finish) = this.finish.as_mut() {
                    if let Some(data) = frame.data_ref() {
                        finish.body_bytes += data.remaining() as u64;
                    } else if let Some(code) = frame
                        .trailers_ref()
                        .filter(|_| finish.state.grpc)
                        .and_then(grpc_status)
                    {
                        record_grpc_status(&finish.state.cx.span(), code);
                    }
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => *this.finish = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

#[cfg(test)]
mod tests;
