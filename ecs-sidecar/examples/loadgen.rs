//! Load generator for the sidecar benchmarks (docs/benchmarks.md, "ECS sidecar").
//!
//! Starts a loopback OTLP sink on `--sink 127.0.0.1:PORT` (counts the spans the
//! sidecar exports to it) and sends OTLP/HTTP protobuf requests of
//! `--spans N` spans to `--target URL` with `--concurrency C` for
//! `--seconds S`, optionally capped at `--rate SPANS_PER_SEC`. Prints the
//! accepted and delivered span rates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

fn request(n: usize) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let mut trace_id = (now.as_secs() as u32).to_be_bytes().to_vec();
    trace_id.extend([7u8; 12]);
    let start = now.as_nanos() as u64;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "loadgen")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|i| Span {
                        trace_id: trace_id.clone(),
                        span_id: ((i as u64) + 1).to_be_bytes().to_vec(),
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
    }
    .encode_to_vec()
}

#[tokio::main]
async fn main() {
    let sink_addr = arg("--sink", "127.0.0.1:14318");
    let target = arg("--target", "http://127.0.0.1:4318/v1/traces");
    let spans: usize = arg("--spans", "512").parse().unwrap();
    let concurrency: usize = arg("--concurrency", "8").parse().unwrap();
    let seconds: u64 = arg("--seconds", "10").parse().unwrap();
    let rate: u64 = arg("--rate", "0").parse().unwrap();

    let delivered = Arc::new(AtomicU64::new(0));
    let d = Arc::clone(&delivered);
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let d = Arc::clone(&d);
            async move {
                let req = ExportTraceServiceRequest::decode(body).unwrap_or_default();
                let n: usize = req
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum();
                d.fetch_add(n as u64, Ordering::Relaxed);
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&sink_addr).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    if seconds == 0 {
        println!("sink only on {sink_addr}");
        std::future::pending::<()>().await;
    }

    let body = Bytes::from(request(spans));
    let client = reqwest::Client::new();
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let per_worker_interval =
        (rate > 0).then(|| Duration::from_secs_f64((spans * concurrency) as f64 / rate as f64));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, body, target, accepted, refused) = (
            client.clone(),
            body.clone(),
            target.clone(),
            Arc::clone(&accepted),
            Arc::clone(&refused),
        );
        tasks.push(tokio::spawn(async move {
            let mut next = Instant::now();
            while Instant::now() < deadline {
                if let Some(iv) = per_worker_interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += iv;
                }
                let r = client
                    .post(&target)
                    .header("content-type", "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await;
                match r.map(|r| r.status().as_u16()) {
                    Ok(200) => accepted.fetch_add(spans as u64, Ordering::Relaxed),
                    _ => refused.fetch_add(spans as u64, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (a, r, dl) = (
        accepted.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed),
    );
    println!(
        "{seconds}s, {spans} spans/request, concurrency {concurrency}: accepted {a} ({:.0} spans/s), refused {r}, delivered to sink {dl} ({:.0} spans/s)",
        a as f64 / elapsed,
        dl as f64 / elapsed
    );
}
