//! CLIENT spans for `reqwest`, as a `reqwest-middleware` middleware
//! (feature `reqwest`).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = otel_aws_distro::init().await?;
//! let client = otel_aws_distro::instrument::traced_client(reqwest::Client::new());
//! let body = client.get("http://inventory.internal/items").send().await?.text().await?;
//! # Ok(()) }
//! ```
//!
//! Each request gets a CLIENT span named `{method}` (`HTTP` for a method
//! outside the well-known set), child of the current context (an entered
//! `tracing` span counts: tracing-opentelemetry activates its context), with
//! `http.request.method` (+ `_original`), `server.address`, `server.port`,
//! `url.full` (credentials and presigned-URL signatures redacted),
//! `http.request.body.size` when the body is in memory,
//! `http.response.status_code`, `network.protocol.version`,
//! `http.response.body.size` (Content-Length). Status ERROR and `error.type`
//! for 4xx and 5xx (the client-side rule) and for transport errors, which
//! also get an `exception` event. The span's context is injected into the
//! request with the configured propagators: `X-Amzn-Trace-Id`,
//! `traceparent`, `baggage` by default.
//!
//! A reqwest-tracing-style middleware exists (`reqwest-tracing`), but it
//! makes `tracing` spans and injects through its own propagator choice;
//! this one uses the distro's propagators and provider directly, like the
//! server layer.

use http::Extensions;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, SpanRef, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};

use super::headers::{self, method_value, redact_query};
use super::tracer::ScopeTracer;

/// The `reqwest-middleware` middleware that traces each request.
pub struct TracingMiddleware {
    tracer: ScopeTracer,
}

impl std::fmt::Debug for TracingMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracingMiddleware").finish_non_exhaustive()
    }
}

impl Default for TracingMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl TracingMiddleware {
    /// On the global tracer provider ([`crate::init`]'s); build it after `init()`.
    pub fn new() -> Self {
        Self {
            tracer: ScopeTracer::global(),
        }
    }

    /// On `provider` (context is still injected with the global propagator).
    pub fn with_tracer_provider<P>(provider: &P) -> Self
    where
        P: opentelemetry::trace::TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        Self {
            tracer: ScopeTracer::of(provider),
        }
    }
}

/// `client` with [`TracingMiddleware`] (on the global provider).
pub fn traced_client(client: reqwest::Client) -> ClientWithMiddleware {
    ClientBuilder::new(client)
        .with(TracingMiddleware::new())
        .build()
}

/// `url.full` without credentials: user info and presigned-URL signatures
/// replaced by `REDACTED`, as the conventions ask.
fn url_full(url: &reqwest::Url) -> String {
    let has_user = !url.username().is_empty() || url.password().is_some();
    let query = url.query().map(redact_query);
    let query_redacted = matches!(query, Some(std::borrow::Cow::Owned(_)));
    if !has_user && !query_redacted {
        return url.as_str().to_owned();
    }
    let mut url = url.clone();
    if has_user {
        let _ = url.set_username("REDACTED");
        let _ = url.set_password(Some("REDACTED"));
    }
    if let Some(q) = query.filter(|_| query_redacted) {
        url.set_query(Some(&q));
    }
    url.into()
}

/// `error.type` for a failed request: a low-cardinality identifier of the
/// failure, as the conventions allow for errors without a status code.
fn transport_error_type(err: &reqwest_middleware::Error) -> &'static str {
    match err {
        reqwest_middleware::Error::Middleware(_) => "middleware",
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "timeout",
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => "connect",
        reqwest_middleware::Error::Reqwest(e) if e.is_redirect() => "redirect",
        reqwest_middleware::Error::Reqwest(e) if e.is_body() => "body",
        reqwest_middleware::Error::Reqwest(e) if e.is_decode() => "decode",
        reqwest_middleware::Error::Reqwest(_) => "request",
    }
}

fn record_response(span: &SpanRef<'_>, res: &reqwest::Response) {
    let status = res.status();
    let mut attrs = vec![KeyValue::new(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status.as_u16()),
    )];
    if let Some(v) = headers::protocol_version(res.version()) {
        attrs.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, v));
    }
    if let Some(len) = res.content_length() {
        attrs.push(KeyValue::new(
            semconv::HTTP_RESPONSE_BODY_SIZE,
            i64::try_from(len).unwrap_or(i64::MAX),
        ));
    }
    if status.is_client_error() || status.is_server_error() {
        attrs.push(KeyValue::new(
            semconv::ERROR_TYPE,
            status.as_str().to_owned(),
        ));
        span.set_status(Status::error(""));
    }
    span.set_attributes(attrs);
}

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let parent = Context::current();
        let (method, known) = method_value(req.method());
        let mut attrs = Vec::with_capacity(8);
        attrs.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, method));
        if !known {
            attrs.push(KeyValue::new(
                semconv::HTTP_REQUEST_METHOD_ORIGINAL,
                req.method().as_str().to_owned(),
            ));
        }
        let url = req.url();
        if let Some(host) = url.host_str() {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            attrs.push(KeyValue::new(semconv::SERVER_ADDRESS, host.to_owned()));
        }
        if let Some(port) = url.port_or_known_default() {
            attrs.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
        attrs.push(KeyValue::new(semconv::URL_FULL, url_full(url)));
        if let Some(len) = req
            .body()
            .and_then(reqwest::Body::as_bytes)
            .map(<[u8]>::len)
        {
            attrs.push(KeyValue::new(
                semconv::HTTP_REQUEST_BODY_SIZE,
                i64::try_from(len).unwrap_or(i64::MAX),
            ));
        }
        let (cx, _) = self.tracer.start(
            opentelemetry::trace::SpanBuilder::from_name(if known { method } else { "HTTP" })
                .with_kind(SpanKind::Client)
                .with_attributes(attrs),
            &parent,
        );
        headers::inject(&cx, req.headers_mut());
        let result = next.run(req, extensions).with_context(cx.clone()).await;
        let span = cx.span();
        if span.is_recording() {
            match &result {
                Ok(res) => record_response(&span, res),
                Err(err) => {
                    super::error::record_exception(&span, "reqwest_middleware::Error", err, None);
                    // error.type: a low-cardinality identifier, as the HTTP
                    // conventions allow when no status code was received.
                    span.set_attribute(KeyValue::new(
                        semconv::ERROR_TYPE,
                        transport_error_type(err),
                    ));
                }
            }
        }
        span.end();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_full_redacts_credentials() {
        // The conventions' own examples (url.full note).
        let cases = [
            (
                "https://www.foo.bar/search?q=OpenTelemetry#SemConv",
                "https://www.foo.bar/search?q=OpenTelemetry#SemConv",
            ),
            (
                "https://user:pass@www.example.com/",
                "https://REDACTED:REDACTED@www.example.com/",
            ),
            (
                "https://s3.amazonaws.com/b/k?AWSAccessKeyId=AKIA&Signature=abc&Expires=1",
                "https://s3.amazonaws.com/b/k?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1",
            ),
        ];
        for (input, want) in cases {
            let url = reqwest::Url::parse(input).map(|u| url_full(&u));
            assert_eq!(url.ok().as_deref(), Some(want));
        }
    }
}
