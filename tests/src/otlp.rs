//! A fake of the AWS OTLP/HTTP endpoints (X-Ray `/v1/traces`, CloudWatch
//! Logs `/v1/logs`): verifies SigV4 over the body bytes as sent, accepts
//! protobuf or JSON, gzip or no compression, enforces the per-request limits
//! of the spec (5 MB uncompressed, 10,000 spans) and records everything.
//!
//! Processing order for each request, as a real endpoint would:
//! 1. record it ([`FakeOtlpEndpoint::requests`]);
//! 2. if a scripted answer is queued ([`FakeOtlpEndpoint::push_responses`]),
//!    answer with it and stop (no verification, nothing decoded);
//! 3. path (404), method (405), SigV4 (403 + `x-amzn-errortype`), required
//!    headers (400), content type / encoding (415), size (413), decoding
//!    (400), span count (400);
//! 4. 200 with an empty `ExportTraceServiceResponse` in the request's encoding.
//!
//! A path ending in `/v1/logs` (or `/v1/metrics`) is a logs (metrics) endpoint: the body is checked to be
//! well-formed protobuf / JSON but not decoded into OTLP types (the testkit
//! builds opentelemetry-proto with the `trace` feature only); its accepted
//! bodies are in [`FakeOtlpEndpoint::accepted_bodies`].

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use flate2::read::GzDecoder;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::Notify;

use crate::server::{RecordedRequest, RequestLog, RunningServer, ServerError};
use crate::sigv4::{self, SigV4Expect};

/// Largest uncompressed request the endpoint accepts (spec: 5 MB).
pub const MAX_UNCOMPRESSED_BYTES: usize = 5 * 1024 * 1024;
/// Most spans one traces request may carry (spec: 10,000).
pub const MAX_SPANS_PER_REQUEST: usize = 10_000;
/// Bodies larger than this are not even read (answered 413).
const MAX_RAW_READ: usize = 64 * 1024 * 1024;

/// How the fake endpoint behaves.
#[derive(Clone, Debug)]
pub struct OtlpEndpointOptions {
    /// Verify SigV4 with these expectations; `None` accepts unsigned requests.
    pub sigv4: Option<SigV4Expect>,
    /// The only path accepted (default `/v1/traces`).
    pub path: String,
    /// Headers that must be present and non-empty (e.g. `x-aws-log-group`).
    pub required_headers: Vec<String>,
}

impl Default for OtlpEndpointOptions {
    fn default() -> Self {
        Self {
            sigv4: None,
            path: "/v1/traces".to_owned(),
            required_headers: Vec::new(),
        }
    }
}

impl OtlpEndpointOptions {
    /// The X-Ray traces endpoint: `/v1/traces`, SigV4 service `xray` in
    /// `region` with [`sigv4::Credentials::test`].
    pub fn xray_traces(region: &str) -> Self {
        Self {
            sigv4: Some(SigV4Expect::test(region, "xray")),
            ..Self::default()
        }
    }

    /// The CloudWatch metrics endpoint: `/v1/metrics`, SigV4 service
    /// `monitoring` in `region` (bodies kept undecoded, as for logs).
    pub fn cloudwatch_metrics(region: &str) -> Self {
        Self {
            sigv4: Some(SigV4Expect::test(region, "monitoring")),
            path: "/v1/metrics".to_owned(),
            ..Self::default()
        }
    }

    /// The CloudWatch Logs endpoint: `/v1/logs`, SigV4 service `logs`,
    /// headers `x-aws-log-group` and `x-aws-log-stream` required.
    pub fn cloudwatch_logs(region: &str) -> Self {
        Self {
            sigv4: Some(SigV4Expect::test(region, "logs")),
            path: "/v1/logs".to_owned(),
            required_headers: vec!["x-aws-log-group".to_owned(), "x-aws-log-stream".to_owned()],
        }
    }
}

/// A scripted answer, used before the normal behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FakeResponse {
    /// This status with an AWS-shaped JSON body (empty body for 2xx).
    Status(u16),
    /// This status with exactly this body.
    StatusWithBody(u16, String),
    /// This status (e.g. 429 or 503) with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Never answer; the request ends when the client gives up (or the fake stops).
    Hang,
}

#[derive(Debug)]
struct Shared {
    opts: OtlpEndpointOptions,
    log: RequestLog,
    script: Mutex<VecDeque<FakeResponse>>,
    received: Mutex<Vec<ExportTraceServiceRequest>>,
    bodies: Mutex<Vec<Bytes>>,
    rejected: Mutex<Vec<(u16, String)>>,
    now: Mutex<Option<SystemTime>>,
    stop: Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake OTLP/HTTP endpoint on `127.0.0.1:<port>`. Dropping it stops it.
#[derive(Debug)]
pub struct FakeOtlpEndpoint {
    server: RunningServer,
    shared: Arc<Shared>,
}

impl FakeOtlpEndpoint {
    /// Starts the fake (inside a tokio runtime).
    pub async fn start(opts: OtlpEndpointOptions) -> Result<Self, ServerError> {
        let shared = Arc::new(Shared {
            opts,
            log: RequestLog::default(),
            script: Mutex::new(VecDeque::new()),
            received: Mutex::new(Vec::new()),
            bodies: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
            now: Mutex::new(None),
            stop: Notify::new(),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = RunningServer::start(router).await?;
        Ok(Self { server, shared })
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// [`url`](Self::url) + the configured path, e.g. `http://127.0.0.1:1234/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("{}{}", self.server.url(), self.shared.opts.path)
    }

    /// Queues scripted answers; each request consumes one until none are left.
    pub fn push_responses(&self, r: impl IntoIterator<Item = FakeResponse>) {
        lock(&self.shared.script).extend(r);
    }

    /// Drops the scripted answers not used yet: the backend has recovered
    /// and answers normally from the next request on.
    pub fn clear_responses(&self) {
        lock(&self.shared.script).clear();
    }

    /// Freezes the clock the SigV4 check uses (default: the system clock).
    pub fn set_now(&self, now: SystemTime) {
        *lock(&self.shared.now) = Some(now);
    }

    /// Every request that arrived, in order (raw bodies, as sent).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.all()
    }

    /// Accepted trace requests, decoded (protobuf or JSON; gzip undone).
    pub fn received(&self) -> Vec<ExportTraceServiceRequest> {
        lock(&self.shared.received).clone()
    }

    /// Uncompressed bodies of accepted requests (traces and logs).
    pub fn accepted_bodies(&self) -> Vec<Bytes> {
        lock(&self.shared.bodies).clone()
    }

    /// Number of spans in all accepted trace requests.
    pub fn span_count(&self) -> usize {
        lock(&self.shared.received).iter().map(count_spans).sum()
    }

    /// `(status, "<x-amzn-errortype>: <message>")` of each request the fake
    /// rejected itself (scripted answers are not listed).
    pub fn rejected(&self) -> Vec<(u16, String)> {
        lock(&self.shared.rejected).clone()
    }

    /// Waits until at least `n` spans were accepted; false on timeout.
    pub async fn wait_for_spans(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.span_count() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for FakeOtlpEndpoint {
    fn drop(&mut self) {
        // Release hanging requests so the server can shut down.
        self.shared.stop.notify_waiters();
    }
}

/// Spans in one request.
pub fn count_spans(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// An AWS-style error answer: JSON `{"message": ...}` and `x-amzn-errortype`.
pub(crate) fn aws_error(status: u16, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(error_type) {
        h.insert("x-amzn-errortype", v);
    }
    resp
}

/// Reads the request, records it, and returns its parts.
pub(crate) async fn record(log: &RequestLog, req: Request) -> Result<RecordedRequest, Rejection> {
    let (parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let Ok(body) = axum::body::to_bytes(body, MAX_RAW_READ).await else {
        return Err(Rejection::new(
            413,
            "RequestEntityTooLargeException",
            "request body too large",
        ));
    };
    let recorded = RecordedRequest {
        method: parts.method,
        path_and_query,
        headers: parts.headers,
        body,
    };
    log.push(recorded.clone());
    Ok(recorded)
}

/// Verifies SigV4 when configured; the rejection otherwise.
pub(crate) fn check_sigv4(
    expect: Option<&SigV4Expect>,
    req: &RecordedRequest,
    now: SystemTime,
) -> Result<(), Rejection> {
    let Some(expect) = expect else { return Ok(()) };
    sigv4::verify(
        &req.method,
        &req.path_and_query,
        &req.headers,
        &req.body,
        expect,
        now,
    )
    .map_err(|e| Rejection::new(e.http_status(), e.aws_error_type(), e.to_string()))
}

/// A request the fake refuses: status, `x-amzn-errortype`, message.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) status: u16,
    pub(crate) error_type: &'static str,
    pub(crate) reason: String,
    allow: Option<&'static str>,
}

impl Rejection {
    pub(crate) fn new(status: u16, error_type: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            reason: reason.into(),
            allow: None,
        }
    }

    /// `(status, "<ErrorType>: <message>")` as the fakes' `rejected()` lists them.
    pub(crate) fn summary(&self) -> (u16, String) {
        (self.status, format!("{}: {}", self.error_type, self.reason))
    }

    pub(crate) fn into_response(self) -> Response {
        let mut resp = aws_error(self.status, self.error_type, &self.reason);
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        resp
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let req = match record(&shared.log, req).await {
        Ok(r) => r,
        Err(rejection) => {
            lock(&shared.rejected).push(rejection.summary());
            return rejection.into_response();
        }
    };
    let scripted = lock(&shared.script).pop_front();
    if let Some(scripted) = scripted {
        return scripted_response(&shared, scripted).await;
    }
    match process(&shared, &req) {
        Ok(resp) => resp,
        Err(rejection) => {
            tracing::debug!(?rejection, "fake OTLP endpoint rejected a request");
            lock(&shared.rejected).push(rejection.summary());
            rejection.into_response()
        }
    }
}

async fn scripted_response(shared: &Shared, scripted: FakeResponse) -> Response {
    match scripted {
        FakeResponse::Status(code) if (200..300).contains(&code) => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            resp
        }
        FakeResponse::Status(code) => {
            aws_error(code, "ScriptedError", &format!("scripted status {code}"))
        }
        FakeResponse::StatusWithBody(code, body) => {
            let ct = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
                "application/json"
            } else {
                "text/plain"
            };
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() =
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            resp
        }
        FakeResponse::RetryAfter(code, secs) => {
            let error_type = if code == 429 {
                "ThrottlingException"
            } else {
                "ServiceUnavailableException"
            };
            let mut resp = aws_error(
                code,
                error_type,
                &format!("scripted status {code}, retry after {secs} s"),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            resp
        }
        FakeResponse::Hang => {
            shared.stop.notified().await;
            aws_error(503, "ServiceUnavailableException", "fake endpoint stopped")
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

fn reject(status: u16, error_type: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection::new(status, error_type, reason)
}

fn process(shared: &Shared, req: &RecordedRequest) -> Result<Response, Rejection> {
    let opts = &shared.opts;
    let path = req.path_and_query.split('?').next().unwrap_or_default();
    if path != opts.path {
        return Err(reject(
            404,
            "UnknownOperationException",
            format!(
                "no OTLP endpoint at {path} (this fake serves {})",
                opts.path
            ),
        ));
    }
    if req.method != http::Method::POST {
        let mut r = reject(
            405,
            "MethodNotAllowedException",
            format!("method {} not allowed; OTLP/HTTP uses POST", req.method),
        );
        r.allow = Some("POST");
        return Err(r);
    }
    let now = lock(&shared.now).unwrap_or_else(SystemTime::now);
    check_sigv4(opts.sigv4.as_ref(), req, now)?;
    for name in &opts.required_headers {
        if header_value(&req.headers, name).is_none_or(|v| v.is_empty()) {
            return Err(reject(
                400,
                "ValidationException",
                format!("missing required header {name}"),
            ));
        }
    }
    let encoding = match header_value(&req.headers, "content-type").map(|ct| media_type(&ct)) {
        Some(ct) if ct == "application/x-protobuf" => Encoding::Protobuf,
        Some(ct) if ct == "application/json" => Encoding::Json,
        other => {
            return Err(reject(
                415,
                "UnsupportedMediaTypeException",
                format!(
                    "unsupported content-type {other:?}; use application/x-protobuf or application/json"
                ),
            ));
        }
    };
    let body = decompress(&req.headers, &req.body)?;
    let logs = opts.path.ends_with("/v1/logs");
    let metrics = opts.path.ends_with("/v1/metrics");
    if logs || metrics {
        let ok = match encoding {
            Encoding::Protobuf if logs => ExportLogsServiceRequest::decode(body.as_ref()).is_ok(),
            Encoding::Protobuf => ExportMetricsServiceRequest::decode(body.as_ref()).is_ok(),
            Encoding::Json => {
                serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object())
            }
        };
        if !ok {
            return Err(reject(
                400,
                "ValidationException",
                format!(
                    "malformed OTLP {} body",
                    if logs { "logs" } else { "metrics" }
                ),
            ));
        }
    } else {
        let decoded = match encoding {
            Encoding::Protobuf => {
                ExportTraceServiceRequest::decode(body.as_ref()).map_err(|e| e.to_string())
            }
            Encoding::Json => serde_json::from_slice::<ExportTraceServiceRequest>(&body)
                .map_err(|e| e.to_string()),
        }
        .map_err(|e| {
            reject(
                400,
                "ValidationException",
                format!("malformed OTLP traces body: {e}"),
            )
        })?;
        let spans = count_spans(&decoded);
        if spans > MAX_SPANS_PER_REQUEST {
            return Err(reject(
                400,
                "ValidationException",
                format!("{spans} spans in one request; at most {MAX_SPANS_PER_REQUEST} allowed"),
            ));
        }
        lock(&shared.received).push(decoded);
    }
    lock(&shared.bodies).push(body);
    Ok(success(encoding))
}

fn success(encoding: Encoding) -> Response {
    let (body, ct) = match encoding {
        Encoding::Protobuf => (
            ExportTraceServiceResponse::default().encode_to_vec(),
            "application/x-protobuf",
        ),
        Encoding::Json => (b"{}".to_vec(), "application/json"),
    };
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    resp
}

fn decompress(headers: &HeaderMap, raw: &Bytes) -> Result<Bytes, Rejection> {
    let too_large = || {
        reject(
            413,
            "RequestEntityTooLargeException",
            format!("uncompressed body over {MAX_UNCOMPRESSED_BYTES} bytes; split the batch"),
        )
    };
    let encoding = header_value(headers, "content-encoding").map(|e| e.to_ascii_lowercase());
    let body = match encoding.as_deref() {
        None | Some("") | Some("identity") => raw.clone(),
        Some("gzip") => {
            let mut out = Vec::new();
            let limit = u64::try_from(MAX_UNCOMPRESSED_BYTES).unwrap_or(u64::MAX) + 1;
            GzDecoder::new(raw.as_ref())
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| reject(400, "ValidationException", format!("bad gzip body: {e}")))?;
            Bytes::from(out)
        }
        Some(other) => {
            return Err(reject(
                415,
                "UnsupportedMediaTypeException",
                format!("unsupported content-encoding {other}; use gzip or none"),
            ));
        }
    };
    if body.len() > MAX_UNCOMPRESSED_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}
