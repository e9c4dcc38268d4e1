//! Instruction counts per request for the server layer: run under callgrind,
//! which counts instructions instead of timing them, so the figures do not
//! depend on what else the shared machine runs. The router and requests are
//! those of the `http_server` criterion bench (`/items/{id}`, a sampled W3C
//! parent, straight into `Service::call`).
//!
//! Modes: `bare` (the router alone), `layer` (`ServerLayer` on the distro's
//! provider as `init()` builds it: batch processor, no-op exporter; the
//! export thread's work counts too), `no_export` (`ServerLayer` on a provider
//! whose processor drops each span at its end: the layer's own work and span
//! creation), `default_queue` (as `layer`, with the batch processor's default
//! queue of 2,048 spans instead of 65,536; prints the spans it exported),
//! `telemetry_rust` (its `OtelAxumLayer` on the distro's provider). Each mode
//! with `_served` appended (`bare_served`, `no_export_served`, ...) runs the
//! same router as `axum::serve` does (`Router::with_state(())`: handlers and
//! layers turned into routes once instead of for every request).
//!
//! ```sh
//! CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
//!   cargo bench -p otel-aws-distro --features axum --bench http_server_instructions --no-run
//! for m in bare layer no_export; do for n in 20000 40000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/deps/http_server_instructions-* $m $n 2>&1 | grep Collected
//! done; done
//! ```
//! Instructions per request = (refs at 40000 − refs at 20000) / 20000; the
//! layer's cost is that minus `bare`'s.
#![allow(clippy::expect_used)]

mod http_server_common;

use std::hint::black_box;

use axum::extract::MatchedPath;
use http_server_common::{
    CountingExporter, install_distro, install_distro_default_queue, no_export_provider, request,
    router, served,
};
use opentelemetry::trace::TracerProvider as _;
use otel_aws_distro::instrument::ServerLayer;
use std::sync::Arc;
use tower_service::Service as _;
use tracing_subscriber::layer::SubscriberExt as _;

fn main() {
    let mut args = std::env::args().skip(1);
    let arg = args.next().unwrap_or_else(|| "layer".into());
    let (mode, as_served) = match arg.strip_suffix("_served") {
        Some(mode) => (mode.to_owned(), true),
        None => (arg, false),
    };
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // The distro's provider and propagators as globals, as `init()` sets them
    // (the layer extracts with the global propagator in every mode).
    let guard = rt.block_on(install_distro());
    let no_export = no_export_provider();
    let counted = Arc::new(CountingExporter::default());
    let default_queue = rt.block_on(install_distro_default_queue(counted.clone()));
    let app = match mode.as_str() {
        "bare" => router(),
        "layer" => router().layer(ServerLayer::new()),
        "no_export" => router().layer(ServerLayer::with_tracer_provider(&no_export)),
        "default_queue" => router().layer(ServerLayer::with_tracer_provider(
            default_queue.tracer_provider().expect("enabled"),
        )),
        "telemetry_rust" => {
            let provider = guard.tracer_provider().expect("enabled").clone();
            tracing::subscriber::set_global_default(
                tracing_subscriber::registry()
                    .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
            )
            .expect("subscriber");
            router().layer(telemetry_rust::middleware::axum::OtelAxumLayer::new(
                MatchedPath::as_str,
            ))
        }
        other => {
            panic!(
                "unknown mode {other}: bare, layer, no_export, default_queue or telemetry_rust (each optionally with _served)"
            )
        }
    };
    let mut svc = if as_served { served(app) } else { app };
    for _ in 0..n {
        let res = rt.block_on(svc.call(request())).expect("infallible");
        assert_eq!(res.status(), 200);
        // Dropping the response ends the body and with it the span.
        drop(black_box(res));
    }
    if mode == "default_queue" {
        let provider = default_queue.tracer_provider().expect("enabled");
        provider.force_flush().expect("flush");
        eprintln!(
            "default_queue: {n} requests, {} spans exported",
            counted.spans()
        );
    }
    drop(default_queue);
    drop(guard);
}
