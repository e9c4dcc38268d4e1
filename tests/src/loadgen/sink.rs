//! Loopback destinations that count and discard: an OTLP/HTTP traces
//! endpoint and a `PutTraceSegments` endpoint. Unlike the testkit's fakes
//! they record nothing and check no signature, so they stay small and cheap
//! under load.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
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

fn otlp_spans(body: &[u8]) -> u64 {
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

fn segment_documents(body: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("TraceSegmentDocuments")?.as_array().map(Vec::len))
        .unwrap_or(0) as u64
}

/// Serves `POST /v1/traces` (OTLP protobuf) and `POST /TraceSegments`
/// (PutTraceSegments) on `addr`, counting into the returned counters
/// (OTLP spans, segment documents).
pub async fn serve(addr: SocketAddr) -> std::io::Result<(Arc<SinkCounts>, Arc<SinkCounts>)> {
    let otlp = Arc::new(SinkCounts::default());
    let xray = Arc::new(SinkCounts::default());
    let (o, x) = (Arc::clone(&otlp), Arc::clone(&xray));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(move |body: Bytes| {
                let o = Arc::clone(&o);
                async move {
                    o.items.fetch_add(otlp_spans(&body), Ordering::Relaxed);
                    o.requests.fetch_add(1, Ordering::Relaxed);
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
                    (
                        [("content-type", "application/json")],
                        r#"{"UnprocessedTraceSegments":[]}"#,
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("sink stopped: {e}");
        }
    });
    Ok((otlp, xray))
}
