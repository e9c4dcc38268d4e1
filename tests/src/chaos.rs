//! A fault-injecting OTLP/HTTP traces endpoint for soak and chaos runs
//! (`otel-aws-soak`, docs/benchmarks.md "Soak and chaos").
//!
//! Unlike [`crate::otlp::FakeOtlpEndpoint`] it keeps no request log (a soak
//! sends hundreds of thousands of requests): it counts, and optionally keeps
//! the set of distinct span ids so duplicates and losses can be told apart.
//!
//! Order of checks for each request:
//! 1. a hanging period ([`ChaosControl::hang_for`]): no answer until the
//!    period ends (then `503`), or the client gives up;
//! 2. down ([`ChaosControl::set_down`], for a flapping upstream): `503`;
//! 3. an "expired credentials" period ([`ChaosControl::expire_for`]): `403`
//!    `ExpiredTokenException`, as AWS answers a request signed with
//!    credentials past their expiry;
//! 4. SigV4 verification (when configured): `403` on a bad signature;
//! 5. random `503` (`error_per_10k`), random latency spike (`spike_per_10k`);
//! 6. decode (protobuf, optionally gzip), count, `200`.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use flate2::read::GzDecoder;
use http::{HeaderValue, header};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use crate::otlp::aws_error;
use crate::server::{RunningServer, ServerError};
use crate::sigv4::{self, SigV4Expect};

/// Largest body read (larger ones are answered 413).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// How often a hanging request checks whether the hanging period ended.
const HANG_POLL: Duration = Duration::from_millis(50);

/// What faults to inject.
#[derive(Clone, Debug)]
pub struct ChaosOptions {
    /// Verify SigV4 with these expectations; `None` accepts unsigned requests.
    pub sigv4: Option<SigV4Expect>,
    /// Requests (per 10,000) answered `503` at random (500 = 5 %).
    pub error_per_10k: u32,
    /// Requests (per 10,000) delayed by [`spike`](Self::spike) before being answered.
    pub spike_per_10k: u32,
    /// Length of a latency spike.
    pub spike: Duration,
    /// Keep the distinct (trace id, span id) pairs received (for loss/duplicate counts).
    pub track_unique: bool,
}

impl Default for ChaosOptions {
    fn default() -> Self {
        Self {
            sigv4: None,
            error_per_10k: 0,
            spike_per_10k: 0,
            spike: Duration::from_millis(1500),
            track_unique: false,
        }
    }
}

/// Counters of a chaos endpoint (monotonic).
#[derive(Debug, Default)]
pub struct ChaosCounts {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests answered 200.
    pub accepted_requests: AtomicU64,
    /// Spans in requests answered 200 (duplicates included).
    pub spans: AtomicU64,
    /// Random `503`s.
    pub injected_503: AtomicU64,
    /// `503`s while down.
    pub down_503: AtomicU64,
    /// Requests delayed by a latency spike.
    pub spikes: AtomicU64,
    /// Requests that arrived during a hanging period.
    pub hung: AtomicU64,
    /// `403 ExpiredTokenException` answers.
    pub expired_403: AtomicU64,
    /// Requests whose SigV4 signature did not verify.
    pub sigv4_rejected: AtomicU64,
    /// Requests that could not be decoded (400/413/415).
    pub bad_requests: AtomicU64,
}

/// A plain copy of [`ChaosCounts`] plus the distinct span count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChaosSnapshot {
    /// Requests received.
    pub requests: u64,
    /// Requests answered 200.
    pub accepted_requests: u64,
    /// Spans in requests answered 200 (duplicates included).
    pub spans: u64,
    /// Distinct (trace id, span id) pairs (0 unless `track_unique`).
    pub unique_spans: u64,
    /// Random `503`s.
    pub injected_503: u64,
    /// `503`s while down.
    pub down_503: u64,
    /// Requests delayed by a latency spike.
    pub spikes: u64,
    /// Requests that arrived during a hanging period.
    pub hung: u64,
    /// `403 ExpiredTokenException` answers.
    pub expired_403: u64,
    /// SigV4 failures.
    pub sigv4_rejected: u64,
    /// Undecodable requests.
    pub bad_requests: u64,
}

#[derive(Debug)]
struct Shared {
    opts: ChaosOptions,
    counts: ChaosCounts,
    unique: Mutex<HashSet<[u8; 24]>>,
    down: std::sync::atomic::AtomicBool,
    hang_until: Mutex<Option<Instant>>,
    expired_until: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn active(until: &Mutex<Option<Instant>>) -> bool {
    lock(until).is_some_and(|t| Instant::now() < t)
}

/// Switches faults on and off while the endpoint runs (cheap to clone).
#[derive(Clone, Debug)]
pub struct ChaosControl(Arc<Shared>);

impl ChaosControl {
    /// Down: every request is answered `503` until set up again.
    pub fn set_down(&self, down: bool) {
        self.0.down.store(down, Ordering::Relaxed);
    }

    /// Requests arriving in the next `d` get no answer until `d` has passed.
    pub fn hang_for(&self, d: Duration) {
        *lock(&self.0.hang_until) = Some(Instant::now() + d);
    }

    /// Requests arriving in the next `d` are refused as signed with expired credentials.
    pub fn expire_for(&self, d: Duration) {
        *lock(&self.0.expired_until) = Some(Instant::now() + d);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ChaosSnapshot {
        let c = &self.0.counts;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ChaosSnapshot {
            requests: g(&c.requests),
            accepted_requests: g(&c.accepted_requests),
            spans: g(&c.spans),
            unique_spans: lock(&self.0.unique).len() as u64,
            injected_503: g(&c.injected_503),
            down_503: g(&c.down_503),
            spikes: g(&c.spikes),
            hung: g(&c.hung),
            expired_403: g(&c.expired_403),
            sigv4_rejected: g(&c.sigv4_rejected),
            bad_requests: g(&c.bad_requests),
        }
    }
}

/// A running chaos endpoint on `127.0.0.1:<port>`, serving `POST /v1/traces`
/// (any path is accepted). Dropping it stops it.
#[derive(Debug)]
pub struct ChaosEndpoint {
    server: RunningServer,
    control: ChaosControl,
}

impl ChaosEndpoint {
    /// Starts the endpoint (inside a tokio runtime).
    pub async fn start(opts: ChaosOptions) -> Result<Self, ServerError> {
        let shared = Arc::new(Shared {
            opts,
            counts: ChaosCounts::default(),
            unique: Mutex::new(HashSet::new()),
            down: std::sync::atomic::AtomicBool::new(false),
            hang_until: Mutex::new(None),
            expired_until: Mutex::new(None),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = RunningServer::start(router).await?;
        Ok(Self {
            server,
            control: ChaosControl(shared),
        })
    }

    /// `http://127.0.0.1:<port>/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.server.url())
    }

    /// The fault switches and counters.
    pub fn control(&self) -> ChaosControl {
        self.control.clone()
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

fn roll(per_10k: u32) -> bool {
    per_10k > 0 && rand::random::<u32>() % 10_000 < per_10k
}

fn unavailable() -> Response {
    aws_error(
        503,
        "ServiceUnavailableException",
        "chaos: service unavailable",
    )
}

async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let c = &s.counts;
    bump(&c.requests);
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        bump(&c.bad_requests);
        return aws_error(413, "RequestEntityTooLargeException", "body too large");
    };
    if active(&s.hang_until) {
        bump(&c.hung);
        // Bounded: the period was set with a finite length.
        while active(&s.hang_until) {
            tokio::time::sleep(HANG_POLL).await;
        }
        return unavailable();
    }
    if s.down.load(Ordering::Relaxed) {
        bump(&c.down_503);
        return unavailable();
    }
    if active(&s.expired_until) {
        bump(&c.expired_403);
        return aws_error(
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        );
    }
    if let Some(expect) = &s.opts.sigv4 {
        let pq = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        if let Err(e) = sigv4::verify(
            &parts.method,
            &pq,
            &parts.headers,
            &body,
            expect,
            SystemTime::now(),
        ) {
            bump(&c.sigv4_rejected);
            return aws_error(e.http_status(), e.aws_error_type(), &e.to_string());
        }
    }
    if roll(s.opts.error_per_10k) {
        bump(&c.injected_503);
        return unavailable();
    }
    if roll(s.opts.spike_per_10k) {
        bump(&c.spikes);
        tokio::time::sleep(s.opts.spike).await;
    }
    let gzip = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let raw = if gzip {
        let mut out = Vec::new();
        if GzDecoder::new(&body[..]).read_to_end(&mut out).is_err() {
            bump(&c.bad_requests);
            return aws_error(400, "BadRequestException", "bad gzip body");
        }
        out
    } else {
        body.to_vec()
    };
    let Ok(decoded) = ExportTraceServiceRequest::decode(&raw[..]) else {
        bump(&c.bad_requests);
        return aws_error(
            400,
            "BadRequestException",
            "not an OTLP protobuf traces request",
        );
    };
    let spans = decoded
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans);
    let mut n = 0u64;
    if s.opts.track_unique {
        let mut set = lock(&s.unique);
        for span in spans {
            let mut key = [0u8; 24];
            let (t, sp) = (span.trace_id.len().min(16), span.span_id.len().min(8));
            key[..t].copy_from_slice(&span.trace_id[..t]);
            key[16..16 + sp].copy_from_slice(&span.span_id[..sp]);
            set.insert(key);
            n += 1;
        }
    } else {
        n = spans.count() as u64;
    }
    c.spans.fetch_add(n, Ordering::Relaxed);
    bump(&c.accepted_requests);
    let mut resp = Response::new(Body::from(Vec::<u8>::new()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    resp
}
