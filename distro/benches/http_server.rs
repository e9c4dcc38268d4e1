//! What the server layer costs per request: the same axum router bare,
//! with `instrument::ServerLayer`, and with telemetry-rust's
//! `OtelAxumLayer`, in one run. Requests go straight into the router's
//! `Service::call` (no socket: the network would drown the difference),
//! each with a sampled W3C parent, so every request makes a recorded span.
//! Both layers feed the distro's provider (no-op exporter behind the
//! batch processor `init()` installs); telemetry-rust's `tracing` span
//! reaches it through tracing-opentelemetry. Two more variants of our layer
//! separate its own work from the hand-off: `no_export` (a processor that
//! drops each span at its end) and `async_processor` (the SDK's
//! async-runtime batch processor, which `init()` used before: a tokio task
//! woken for every span), and `default_queue` (`init()`'s processor with
//! its default queue of 2,048 spans instead of the 65,536 the other
//! variants use; the spans it exported are printed, to show none were
//! dropped). The `_served` rows are the same routers as `axum::serve` runs
//! them (`Router::with_state(())`: each handler and its layers turned into
//! a route once, not for every request as a router called directly does).
//!
//! `cargo bench -p otel-aws-distro --features axum --bench http_server -- --warm-up-time 2 --measurement-time 5`

// A bench harness may stop on setup failure.
#![allow(clippy::expect_used)]

mod http_server_common;

use std::hint::black_box;
use std::sync::Arc;

use axum::extract::MatchedPath;
use criterion::{Criterion, criterion_group, criterion_main};
use http_server_common::{
    CountingExporter, install_distro, install_distro_appsignals, install_distro_default_queue,
    no_export_provider, request, router, served,
};
use opentelemetry::trace::TracerProvider as _;
use otel_aws_distro::export::NoopExporter;
use otel_aws_distro::instrument::ServerLayer;
use tower_service::Service as _;
use tracing_subscriber::layer::SubscriberExt as _;

fn bench_http_server(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // The distro's provider and propagators as globals, as `init()` sets them.
    let guard = rt.block_on(install_distro());
    let provider = guard.tracer_provider().expect("enabled").clone();
    // telemetry-rust's spans are `tracing` spans: the OpenTelemetry layer on
    // the same provider (no fmt layer, so neither side formats logs).
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    )
    .expect("subscriber");

    // The same layer on a provider whose processor drops each span at its
    // end: the layer's own work, without the hand-off to the batch task.
    let no_export = no_export_provider();
    let async_processor = rt.block_on(async {
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(
                opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                    otel_aws_distro::export::ProtoSpanExporter::new(Arc::new(NoopExporter::new())),
                    opentelemetry_sdk::runtime::Tokio,
                )
                .with_batch_config(
                    opentelemetry_sdk::trace::BatchConfigBuilder::default()
                        .with_max_queue_size(65_536)
                        .build(),
                )
                .build(),
            )
            .build()
    });
    let appsignals = rt.block_on(install_distro_appsignals());
    let counted = Arc::new(CountingExporter::default());
    let default_queue = rt.block_on(install_distro_default_queue(counted.clone()));
    let telemetry_rust = || {
        router().layer(telemetry_rust::middleware::axum::OtelAxumLayer::new(
            MatchedPath::as_str,
        ))
    };
    let variants = [
        ("bare", router()),
        ("otel_aws_distro", router().layer(ServerLayer::new())),
        (
            "otel_aws_distro_no_export",
            router().layer(ServerLayer::with_tracer_provider(&no_export)),
        ),
        (
            "otel_aws_distro_default_queue",
            router().layer(ServerLayer::with_tracer_provider(
                default_queue.tracer_provider().expect("enabled"),
            )),
        ),
        (
            "otel_aws_distro_async_processor",
            router().layer(ServerLayer::with_tracer_provider(&async_processor)),
        ),
        ("telemetry_rust", telemetry_rust()),
        ("bare_served", served(router())),
        (
            "otel_aws_distro_served",
            served(router().layer(ServerLayer::new())),
        ),
        (
            "otel_aws_distro_no_export_served",
            served(router().layer(ServerLayer::with_tracer_provider(&no_export))),
        ),
        (
            "otel_aws_distro_appsignals_served",
            served(router().layer(ServerLayer::with_tracer_provider(
                appsignals.tracer_provider().expect("enabled"),
            ))),
        ),
        ("telemetry_rust_served", served(telemetry_rust())),
    ];
    let mut group = c.benchmark_group("http_server_request");
    let mut default_queue_requests = 0u64;
    for (name, app) in variants {
        let mut svc = app;
        let mut requests = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                requests += 1;
                let res = rt.block_on(svc.call(request())).expect("infallible");
                assert_eq!(res.status(), 200);
                // Dropping the response ends the body and with it our span.
                drop(black_box(res));
            })
        });
        if name == "otel_aws_distro_default_queue" {
            default_queue_requests = requests;
        }
    }
    group.finish();
    if default_queue_requests > 0 {
        let provider = default_queue.tracer_provider().expect("enabled");
        provider.force_flush().expect("flush");
        eprintln!(
            "default_queue: {default_queue_requests} requests, {} spans exported",
            counted.spans()
        );
    }
    drop(default_queue);
    drop(appsignals);
    drop(guard);
}

criterion_group!(benches, bench_http_server);
criterion_main!(benches);
