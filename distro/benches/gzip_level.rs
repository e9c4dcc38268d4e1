//! gzip level of OTLP exports: bytes per span against CPU per span.
//!
//! Realistic batches rather than the export bench's repetitive fixture:
//! random trace and span ids (incompressible, as in production), jittered
//! timestamps and durations, a mix of routes, status codes, hosts and user
//! agents, ids inside URLs. Each batch of 512 spans is encoded as protobuf
//! once, then gzipped at levels 1, 3, 5, 6 and 9 through the exporter's own
//! `encode_request_with_level` (the bytes); CPU is the gzip of the encoded
//! bodies alone, with the same flate2 settings, measured as this thread's
//! time on a CPU (`/proc/thread-self/schedstat`, Linux), so a shared
//! machine's waits for a core are not counted; median over the repetitions.
//!
//! `cargo bench -p otel-aws-distro --bench gzip_level`
//! (`OTEL_AWS_BENCH_REPS` repetitions per level, default 30).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // bench

#[allow(dead_code)] // only the attribute helpers are used here
mod common;

use common::{kv, s};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use std::io::Write;

use otel_aws_distro::export::{Compression, GzipLevel, Protocol, encode_request_with_level};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SPANS_PER_BATCH: usize = 512;
const BATCHES: u64 = 8;
const LEVELS: [u32; 5] = [1, 3, 5, 6, 9];

const ROUTES: [(&str, &str); 6] = [
    ("GET", "/api/orders/{id}"),
    ("POST", "/api/orders"),
    ("GET", "/api/customers/{id}/addresses"),
    ("PUT", "/api/carts/{id}/items"),
    ("GET", "/health"),
    ("DELETE", "/api/sessions/{id}"),
];
const HOSTS: [&str; 4] = [
    "orders.internal.example.com",
    "customers.internal.example.com",
    "dynamodb.us-east-1.amazonaws.com",
    "payments.example.net",
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "aws-sdk-rust/1.3.9 os/linux lang/rust/1.88.0",
    "okhttp/4.12.0",
];

fn random_bytes(rng: &mut StdRng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.random()).collect()
}

/// One batch: traces of 1 SERVER span and 3–11 CLIENT/INTERNAL children.
fn realistic_batch(seed: u64) -> ExportTraceServiceRequest {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut spans = Vec::with_capacity(SPANS_PER_BATCH);
    let mut t = 1_733_380_000_000_000_000u64 + rng.random_range(0..1_000_000_000);
    while spans.len() < SPANS_PER_BATCH {
        let trace_id = random_bytes(&mut rng, 16);
        let root_id = random_bytes(&mut rng, 8);
        let children = rng.random_range(3..12);
        for c in 0..=children {
            if spans.len() == SPANS_PER_BATCH {
                break;
            }
            let (method, route) = ROUTES[rng.random_range(0..ROUTES.len())];
            let id: u32 = rng.random_range(1..10_000_000);
            let host = HOSTS[rng.random_range(0..HOSTS.len())];
            let status: i64 = match rng.random_range(0..100) {
                0..=89 => 200,
                90..=95 => 404,
                96..=97 => 503,
                _ => 500,
            };
            let start = t + rng.random_range(0..2_000_000);
            let end = start + rng.random_range(50_000..400_000_000);
            t = start;
            let mut attributes = vec![
                kv("http.request.method", s(method)),
                kv("http.route", s(route)),
                kv(
                    "url.full",
                    s(&format!(
                        "https://{host}{}",
                        route.replace("{id}", &id.to_string())
                    )),
                ),
                kv(
                    "http.response.status_code",
                    any_value::Value::IntValue(status),
                ),
                kv("server.address", s(host)),
                kv(
                    "http.response.body.size",
                    any_value::Value::IntValue(rng.random_range(0..65_536)),
                ),
            ];
            if c == 0 {
                attributes.push(kv(
                    "user_agent.original",
                    s(AGENTS[rng.random_range(0..AGENTS.len())]),
                ));
                attributes.push(kv(
                    "client.address",
                    s(&format!(
                        "10.0.{}.{}",
                        rng.random_range(0..256),
                        rng.random_range(1..255)
                    )),
                ));
            }
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: if c == 0 {
                    root_id.clone()
                } else {
                    random_bytes(&mut rng, 8)
                },
                parent_span_id: if c == 0 { vec![] } else { root_id.clone() },
                name: format!("{method} {route}"),
                kind: if c == 0 { 2 } else { 3 },
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                status: Some(Status {
                    message: String::new(),
                    code: if status >= 500 { 2 } else { 0 },
                }),
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("checkout")),
                    kv("service.version", s("2.14.1")),
                    kv("cloud.provider", s("aws")),
                    kv("cloud.platform", s("aws_ecs")),
                    kv("cloud.region", s("us-east-1")),
                    kv(
                        "aws.ecs.task.arn",
                        s(
                            "arn:aws:ecs:us-east-1:123456789012:task/prod/0b8e1f6c7a2d4e3f9c1b2a3d4e5f6a7b",
                        ),
                    ),
                    kv("telemetry.sdk.language", s("rust")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry-http".into(),
                    version: "0.33.0".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Bytes of every batch through the exporter's encoder at `level`.
fn exported_bytes(batches: &[ExportTraceServiceRequest], level: GzipLevel) -> usize {
    batches
        .iter()
        .map(|b| {
            encode_request_with_level(b, Protocol::HttpProtobuf, Compression::Gzip, level)
                .unwrap()
                .bytes
                .len()
        })
        .sum()
}

/// CPU ns to gzip every (already encoded) body once at `level`: median over `reps`.
fn gzip_cpu_ns(bodies: &[Vec<u8>], level: u32, reps: usize) -> u64 {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = thread_cpu_ns();
        for body in bodies {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4 + 64),
                flate2::Compression::new(level),
            );
            gz.write_all(body).unwrap();
            std::hint::black_box(gz.finish().unwrap());
        }
        times.push(thread_cpu_ns() - start);
    }
    median(times)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let reps: usize = std::env::var("OTEL_AWS_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let batches: Vec<_> = (0..BATCHES).map(realistic_batch).collect();
    let bodies: Vec<Vec<u8>> = batches.iter().map(|b| b.encode_to_vec()).collect();
    let spans = (BATCHES as usize * SPANS_PER_BATCH) as f64;
    let raw: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "{BATCHES} batches x {SPANS_PER_BATCH} spans, protobuf {:.1} B/span, {reps} reps",
        raw as f64 / spans
    );
    println!("| level | bytes/span | vs level 1 | gzip CPU ns/span | vs level 1 |");
    println!("|---|---|---|---|---|");
    let mut first: Option<(f64, f64)> = None;
    for l in LEVELS {
        let bytes = exported_bytes(&batches, GzipLevel::new(l).unwrap());
        let per_span = bytes as f64 / spans;
        let cpu = gzip_cpu_ns(&bodies, l, reps) as f64 / spans;
        let (b1, c1) = *first.get_or_insert((per_span, cpu));
        println!(
            "| {l} | {per_span:.1} | {:+.1} % | {cpu:.0} | x{:.2} |",
            (per_span / b1 - 1.0) * 100.0,
            cpu / c1
        );
    }
}
