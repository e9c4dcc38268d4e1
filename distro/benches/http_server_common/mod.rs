//! The router, request and providers the server-layer benches share
//! (`http_server`: criterion; `http_server_instructions`: callgrind). Each
//! bench is its own crate and includes this module with `mod http_server_common;`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_aws_distro::export::{
    BatchExporter, EncodedTraces, ExportFuture, ExportOutcome, NoopExporter, span_count,
};
use otel_aws_distro::{Builder, Env, Guard};

/// One route with a path parameter, answering a static body.
pub fn router() -> Router {
    Router::new().route("/items/{id}", get(|| async { "ok" }))
}

/// `app` as `axum::serve` runs it: `Router::with_state(())` turns each
/// handler, with the layers around it, into a route once, where a router
/// called directly does that again for every request (and applies the
/// layer each time). The `_served` variants measure this shape.
pub fn served(app: Router) -> Router {
    app.with_state(())
}

/// A GET with a host, a user agent and a sampled W3C parent: every request
/// makes a recorded span.
pub fn request() -> Request<Body> {
    Request::builder()
        .uri("/items/42")
        .header("host", "shop.internal:8080")
        .header("user-agent", "bench/1.0")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Body::empty())
        .expect("request")
}

/// The distro's provider and propagators as globals, as `init()` sets them
/// (no-op exporter, no `tracing` subscriber). Call inside a tokio runtime.
pub async fn install_distro() -> Guard {
    Builder::new()
        .with_env(Env::from_pairs([
            ("OTEL_SERVICE_NAME", "bench"),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "65536"),
        ]))
        .with_exporter(Arc::new(NoopExporter::new()))
        .without_tracing_subscriber()
        .install()
        .await
        .expect("distro provider")
}

/// The distro's provider with `OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true`
/// (no-op exporter, not installed as the global one; the metrics go
/// nowhere: no region). Call inside a tokio runtime.
#[allow(dead_code)] // used by one of the two benches that include this module
pub async fn install_distro_appsignals() -> Guard {
    Builder::new()
        .with_env(Env::from_pairs([
            ("OTEL_SERVICE_NAME", "bench"),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "65536"),
            ("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "true"),
        ]))
        .with_exporter(Arc::new(NoopExporter::new()))
        .without_globals()
        .without_tracing_subscriber()
        .install()
        .await
        .expect("distro provider")
}

/// The distro's provider as `init()` builds it with its default batch
/// settings (queue of 2,048 spans, batches of 512), not installed as the
/// global one; its spans are counted by `exporter`, so the bench can tell
/// whether the smaller queue dropped any. Call inside a tokio runtime.
#[allow(dead_code)] // used by one of the two benches that include this module
pub async fn install_distro_default_queue(exporter: Arc<CountingExporter>) -> Guard {
    Builder::new()
        .with_env(Env::from_pairs([
            ("OTEL_SERVICE_NAME", "bench"),
            ("OTEL_AWS_RESOURCE_DETECTORS", "env"),
        ]))
        .with_exporter(exporter)
        .without_globals()
        .install()
        .await
        .expect("distro provider")
}

/// Drops every batch as [`NoopExporter`] does, counting its spans.
#[derive(Debug, Default)]
pub struct CountingExporter(AtomicU64);

impl CountingExporter {
    /// Spans exported so far.
    #[allow(dead_code)]
    pub fn spans(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl CountingExporter {
    fn count(&self, n: usize) -> ExportFuture<'_> {
        let n = n as u64;
        self.0.fetch_add(n, Ordering::Relaxed);
        Box::pin(async move {
            Ok(ExportOutcome {
                spans_exported: n,
                ..ExportOutcome::default()
            })
        })
    }
}

impl BatchExporter for CountingExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        self.count(span_count(&batch))
    }

    /// As `NoopExporter`: encoded batches are dropped as they are.
    fn takes_encoded(&self) -> bool {
        true
    }

    fn export_encoded(&self, batch: EncodedTraces) -> ExportFuture<'_> {
        self.count(batch.spans())
    }
}

/// A provider whose processor drops each span at its end: the layer's own
/// work and span creation, without the hand-off to a batch processor.
pub fn no_export_provider() -> opentelemetry_sdk::trace::SdkTracerProvider {
    opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(DropProcessor)
        .build()
}

/// Ends spans into nothing.
#[derive(Debug)]
struct DropProcessor;

impl opentelemetry_sdk::trace::SpanProcessor for DropProcessor {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        drop(black_box(span));
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(
        &self,
        _: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}
