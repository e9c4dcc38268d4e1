//! Loopback destinations that count and discard: an OTLP/HTTP traces
//! endpoint and a `PutTraceSegments` endpoint. Unlike the testkit's fakes
//! they record nothing and check no signature, so they stay small and cheap
//! under load. OTLP bodies may be gzipped (`content-encoding: gzip`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::io::Read as _;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::post;
use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// Counters of a sink.
#[derive(Debug, Default)]
pub struct SinkCounts {
    /// Spans (OTLP) or documents (PutTraceSegments) received.
    pub items: AtomicU64,
    /// Requests received.
    pub requests: AtomicU64,
}

impl SinkCounts {
    /// Items so far.
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }
}

/// The body as sent, gunzipped when `content-encoding: gzip` (rotel's OTLP
/// exporter always compresses); `None` for a body that does not gunzip.
fn decoded<'a>(headers: &HeaderMap, body: &'a [u8], buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    if !gzip {
        return Some(body);
    }
    GzDecoder::new(body).read_to_end(buf).ok()?;
    Some(buf.as_slice())
}

fn otlp_spans(headers: &HeaderMap, body: &[u8]) -> u64 {
    let mut buf = Vec::new();
    let Some(body) = decoded(headers, body, &mut buf) else {
        return 0;
    };
    ExportTraceServiceRequest::decode(body)
        .map(|r| {
            r.resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len() as u64)
                .sum()
        })
        .unwrap_or(0)
}

async fn answer_after(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

fn segment_documents(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("TraceSegmentDocuments")?.as_array().map(Vec::len))
        .unwrap_or(0) as u64
}

/// Serves `POST /v1/traces` (OTLP protobuf) and `POST /TraceSegments`
/// (PutTraceSegments) on `addr`, counting into the returned counters
/// (OTLP spans, segment documents). Each request is counted on arrival and
/// answered after `latency` (zero: at once), as a distant or overloaded
/// backend answers: the system under test holds its data meanwhile.
pub async fn serve(
    addr: SocketAddr,
    latency: Duration,
) -> std::io::Result<(Arc<SinkCounts>, Arc<SinkCounts>)> {
    let otlp = Arc::new(SinkCounts::default());
    let xray = Arc::new(SinkCounts::default());
    let (o, x) = (Arc::clone(&otlp), Arc::clone(&xray));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| {
                let o = Arc::clone(&o);
                async move {
                    o.items
                        .fetch_add(otlp_spans(&headers, &body), Ordering::Relaxed);
                    o.requests.fetch_add(1, Ordering::Relaxed);
                    answer_after(latency).await;
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        )
        .route(
            "/TraceSegments",
            post(move |body: Bytes| {
                let x = Arc::clone(&x);
                async move {
                    x.items
                        .fetch_add(segment_documents(&body), Ordering::Relaxed);
                    x.requests.fetch_add(1, Ordering::Relaxed);
                    answer_after(latency).await;
                    (
                        [("content-type", "application/json")],
                        r#"{"UnprocessedTraceSegments":[]}"#,
                    )
                }
            }),
        )
        // A sink, not a backend: take whatever batch size the system under test sends
        // (axum's default limit, 2 MiB, refused 8,192-span batches with 413).
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("sink stopped: {e}");
        }
    });
    Ok((otlp, xray))
}
