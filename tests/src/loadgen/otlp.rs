//! OTLP/HTTP protobuf load: one request body of `n` client spans (the shape
//! of an instrumented HTTP call), re-sent by `concurrency` workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

use super::Pacer;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

/// A protobuf request of `n` spans with X-Ray-shaped ids (current epoch).
pub fn request_body(n: usize) -> Bytes {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut trace_id = (now.as_secs() as u32).to_be_bytes().to_vec();
    trace_id.extend([7u8; 12]);
    let start = now.as_nanos() as u64;
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "loadgen")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        trace_id: trace_id.clone(),
                        span_id: ((i as u64) + 2).to_be_bytes().to_vec(),
                        parent_span_id: 1u64.to_be_bytes().to_vec(),
                        name: "GET /api/orders/{id}".into(),
                        kind: 3,
                        start_time_unix_nano: start,
                        end_time_unix_nano: start + 1_500_000,
                        attributes: vec![
                            kv("http.request.method", "GET"),
                            kv("url.full", "http://orders:8080/api/orders/42"),
                            kv("server.address", "orders"),
                        ],
                        ..Span::default()
                    })
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    Bytes::from(req.encode_to_vec())
}

/// What a run sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct SendReport {
    /// Spans in requests answered 200.
    pub accepted: u64,
    /// Spans in requests refused (503 backpressure or errors).
    pub refused: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Sends `body` (holding `spans` spans) to `target` from `concurrency`
/// workers for `duration`, at most `rate` spans/s in total (0: flat out).
pub async fn run(
    target: &str,
    body: Bytes,
    spans: usize,
    concurrency: usize,
    duration: Duration,
    rate: u64,
) -> SendReport {
    let client = reqwest::Client::new();
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let per_worker = rate / concurrency.max(1) as u64;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, body, target) = (client.clone(), body.clone(), target.to_owned());
        let (accepted, refused) = (Arc::clone(&accepted), Arc::clone(&refused));
        tasks.push(tokio::spawn(async move {
            let mut pacer = Pacer::new(if rate > 0 { per_worker.max(1) } else { 0 });
            while Instant::now() < deadline {
                let wait = pacer.delay_for(spans as u64);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                let r = client
                    .post(&target)
                    .header("content-type", "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await;
                let counter = match r.map(|r| r.status().as_u16()) {
                    Ok(200) => &accepted,
                    _ => &refused,
                };
                counter.fetch_add(spans as u64, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    SendReport {
        accepted: accepted.load(Ordering::Relaxed),
        refused: refused.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    }
}
