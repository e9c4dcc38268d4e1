//! Span start+end through the distro's provider against a plain
//! opentelemetry_sdk provider with the same processor (the one `init()`
//! installs, `export::batch_processor`, feeding a no-op exporter).
//!
//! The distro adds X-Ray trace ids, the deferred-aware parent-based sampler
//! and its resource; the hot path should cost the same.
//!
//! `cargo bench -p otel-aws-distro --bench provider -- --warm-up-time 1 --measurement-time 3`

// A bench harness may stop on setup failure.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_aws_distro::export::{BatchSettings, NoopExporter, batch_processor};
use otel_aws_distro::{Builder, Env};

fn processor() -> impl opentelemetry_sdk::trace::SpanProcessor {
    batch_processor(
        Arc::new(NoopExporter::new()),
        BatchSettings {
            max_queue_size: 65_536,
            ..BatchSettings::default()
        },
    )
}

fn bench_provider(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    let plain = rt.block_on(async {
        SdkTracerProvider::builder()
            .with_span_processor(processor())
            .build()
    });
    let guard = rt.block_on(async {
        Builder::new()
            .with_env(Env::from_pairs([
                ("OTEL_SERVICE_NAME", "bench"),
                ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
            ]))
            .with_exporter(Arc::new(NoopExporter::new()))
            .without_globals()
            .install()
            .await
            .expect("distro provider")
    });
    let distro = guard.tracer_provider().expect("enabled").clone();

    let mut group = c.benchmark_group("span_start_end");
    for (name, provider) in [("plain_sdk", &plain), ("otel_aws_distro", &distro)] {
        let tracer = provider.tracer("bench");
        group.bench_function(name, |b| {
            let _enter = rt.enter();
            b.iter(|| {
                let mut span = tracer.start("GET /orders");
                span.set_attribute(KeyValue::new("http.response.status_code", 200));
                span.end();
                black_box(&span);
            })
        });
    }
    group.finish();
    drop(guard);
}

criterion_group!(benches, bench_provider);
criterion_main!(benches);
