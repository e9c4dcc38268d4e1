//! What the AWS SDK instrumentation adds per operation: the same
//! `aws-sdk-dynamodb` GetItem / `aws-sdk-sqs` SendMessage, uninstrumented and
//! with `AwsSdkInstrumentation` (spans to an SDK provider with a batch
//! processor and an exporter that drops), side by side in one run,
//!
//! - `loopback/*`: against one local HTTP endpoint on 127.0.0.1 (what the
//!   issue asks; network time dominates and varies);
//! - `in_process/*`: through an in-process HTTP client answering canned
//!   responses (no socket: the difference is the instrumentation's CPU);
//!   there also `instrumented_noop` (spans to a processor that drops them
//!   at their end: no batch processor) and `hand_span` (uninstrumented,
//!   inside one hand-made span to the batch processor: the floor any
//!   instrumentation pays);
//! - `in_task/*`: the in-process client again, the calls made inside one
//!   task on the runtime's worker as a service's handler makes them
//!   (`block_on` from the bench thread wakes the parked worker on about
//!   every other call: see `aws_sdk_common::in_task`).
//!
//! `cargo bench -p otel-aws-distro --features aws-sdk --bench aws_sdk -- --warm-up-time 2 --measurement-time 5`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // bench

mod aws_sdk_common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_common::{
    Canned, Clients, Pipeline, answer, clients, get_item, in_hand_span, in_hand_span_async,
    in_task, runtime, send_message,
};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use otel_aws_distro::aws_sdk::AwsSdkInstrumentation;
use otel_aws_testkit::server::RunningServer;

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let provider = Pipeline::Batch.provider();
    let instr = AwsSdkInstrumentation::with_tracer_provider(&provider);
    let noop = Pipeline::Noop.provider();
    let tracer = provider.tracer("bench");
    let server = rt.block_on(async {
        let router = Router::new().fallback(any(|headers: HeaderMap| async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            (
                [
                    ("x-amzn-requestid", "REQ-1"),
                    ("content-type", "application/x-amz-json-1.0"),
                ],
                answer(target),
            )
        }));
        RunningServer::start(router).await.unwrap()
    });
    let url = server.url();
    let queue = format!("{url}/123456789012/orders");
    let canned = SharedHttpClient::new(Canned);
    let setups = [
        (
            "loopback",
            clients(&url, None, None),
            clients(&url, None, Some(instr.clone())),
        ),
        (
            "in_process",
            clients(&url, Some(canned.clone()), None),
            clients(&url, Some(canned.clone()), Some(instr)),
        ),
    ];
    let traced_noop = clients(
        &url,
        Some(canned),
        Some(AwsSdkInstrumentation::with_tracer_provider(&noop)),
    );
    for (name, plain, traced) in &setups {
        let mut group = c.benchmark_group(format!("aws_sdk_{name}"));
        group.bench_function("dynamodb_get_item/uninstrumented", |b| {
            b.iter(|| rt.block_on(get_item(plain)))
        });
        group.bench_function("dynamodb_get_item/instrumented", |b| {
            b.iter(|| rt.block_on(get_item(traced)))
        });
        group.bench_function("sqs_send_message/uninstrumented", |b| {
            b.iter(|| rt.block_on(send_message(plain, &queue)))
        });
        group.bench_function("sqs_send_message/instrumented", |b| {
            b.iter(|| rt.block_on(send_message(traced, &queue)))
        });
        if *name == "in_process" {
            group.bench_function("dynamodb_get_item/instrumented_noop", |b| {
                b.iter(|| rt.block_on(get_item(&traced_noop)))
            });
            group.bench_function("dynamodb_get_item/hand_span", |b| {
                b.iter(|| {
                    in_hand_span(&tracer, "DynamoDB.GetItem", || rt.block_on(get_item(plain)))
                })
            });
            group.bench_function("sqs_send_message/instrumented_noop", |b| {
                b.iter(|| rt.block_on(send_message(&traced_noop, &queue)))
            });
            group.bench_function("sqs_send_message/hand_span", |b| {
                b.iter(|| {
                    in_hand_span(&tracer, "SQS.SendMessage", || {
                        rt.block_on(send_message(plain, &queue))
                    })
                })
            });
        }
        group.finish();
    }
    in_task_group(c, &rt, &tracer, &setups[1], traced_noop, &queue);
    let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
    drop(server);
}

/// The in-process variants again, the calls made inside one task on the
/// runtime's worker (`in_task`).
fn in_task_group(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    (_, plain, traced): &(&str, Clients, Clients),
    noop: Clients,
    queue: &str,
) {
    let (plain, traced, noop) = (
        Arc::new(plain.clone()),
        Arc::new(traced.clone()),
        Arc::new(noop),
    );
    let queue: Arc<str> = Arc::from(queue);
    let mut group = c.benchmark_group("aws_sdk_in_task");
    let variants = [
        ("uninstrumented", &plain),
        ("instrumented", &traced),
        ("instrumented_noop", &noop),
    ];
    for (name, clients) in variants {
        let c = Arc::clone(clients);
        group.bench_function(format!("dynamodb_get_item/{name}"), |b| {
            b.iter_custom(|n| {
                let c = Arc::clone(&c);
                in_task(rt, n, move || {
                    let c = Arc::clone(&c);
                    async move { get_item(&c).await }
                })
            })
        });
        group.bench_function(format!("sqs_send_message/{name}"), |b| {
            b.iter_custom(|n| {
                let (c, q) = (Arc::clone(&c), Arc::clone(&queue));
                in_task(rt, n, move || {
                    let (c, q) = (Arc::clone(&c), Arc::clone(&q));
                    async move { send_message(&c, &q).await }
                })
            })
        });
    }
    let t = tracer.clone();
    group.bench_function("dynamodb_get_item/hand_span", |b| {
        b.iter_custom(|n| {
            let (c, t) = (Arc::clone(&plain), t.clone());
            in_task(rt, n, move || {
                let (c, t) = (Arc::clone(&c), t.clone());
                async move { in_hand_span_async(&t, "DynamoDB.GetItem", get_item(&c)).await }
            })
        })
    });
    group.bench_function("sqs_send_message/hand_span", |b| {
        b.iter_custom(|n| {
            let (c, t, q) = (Arc::clone(&plain), t.clone(), Arc::clone(&queue));
            in_task(rt, n, move || {
                let (c, t, q) = (Arc::clone(&c), t.clone(), Arc::clone(&q));
                async move { in_hand_span_async(&t, "SQS.SendMessage", send_message(&c, &q)).await }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
