//! Application Signals in the extension's flush, in process with an
//! injected clock and recording exporters: the spans handed to the traces
//! exporters carry the attributes; each flush ends an aggregation interval
//! (on-demand Lambda: the environment may freeze for good after any
//! invoke), or, with an interval (Lambda Managed Instances), only once it
//! has passed — and SHUTDOWN always; a metrics destination that fails keeps
//! the points in its lane for the retry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span::SpanKind};
use otel_aws_distro::appsignals::GeneratorConfig;
use otel_aws_distro::export::{
    BatchExporter, ExportError, ExportFuture, ExportOutcome, OtlpBatch as _, span_count,
};
use otel_aws_lambda::clock::Clock;
use otel_aws_lambda::config::BufferLimits;
use otel_aws_lambda::extension::appsignals::LambdaAppSignals;
use otel_aws_lambda::extension::delivery::FlushKind;
use otel_aws_lambda::extension::flusher::{Buffers, ExporterSet, Flusher};
use otel_aws_lambda::extension::stats::ExtensionStats;

#[derive(Debug, Default)]
struct ManualClock(AtomicU64);
impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Records what it is given; fails the metrics while `fail` is set.
#[derive(Debug, Default)]
struct Recorder {
    spans: Mutex<Vec<ExportTraceServiceRequest>>,
    metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    fail: std::sync::atomic::AtomicBool,
}

impl BatchExporter for Recorder {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        let n = span_count(&batch) as u64;
        self.spans.lock().unwrap().push(batch);
        Box::pin(async move {
            Ok(ExportOutcome {
                requests: 1,
                spans_exported: n,
                ..ExportOutcome::default()
            })
        })
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                return Err(ExportError::GaveUp {
                    attempts: 1,
                    reason: "scripted 503".into(),
                });
            }
            let n = batch.items() as u64;
            self.metrics.lock().unwrap().push(batch);
            Ok(ExportOutcome {
                requests: 1,
                spans_exported: n,
                ..ExportOutcome::default()
            })
        })
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

/// One SERVER span without a parent (a local root) of service `checkout`.
fn server_span(id: u8) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![id; 16],
                    span_id: vec![id; 8],
                    name: "GET /cart".into(),
                    kind: SpanKind::Server as i32,
                    start_time_unix_nano: 1_000_000,
                    end_time_unix_nano: 3_000_000,
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// Sum of the `Latency` histograms' counts in `batches`.
fn latency_count(batches: &[ExportMetricsServiceRequest]) -> u64 {
    batches
        .iter()
        .flat_map(|b| &b.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .filter(|m| m.name == "Latency")
        .map(|m| match &m.data {
            Some(Data::Histogram(h)) => h.data_points.iter().map(|p| p.count).sum(),
            _ => 0,
        })
        .sum()
}

struct Rig {
    clock: Arc<ManualClock>,
    buffers: Buffers,
    flusher: Flusher,
    recorder: Arc<Recorder>,
    stats: Arc<ExtensionStats>,
}

fn rig(interval: Duration) -> Rig {
    let limits = BufferLimits::default();
    let clock = Arc::new(ManualClock::default());
    let buffers = Buffers::new(limits, clock.clone());
    let recorder = Arc::new(Recorder::default());
    let set = ExporterSet {
        app_signals: vec![recorder.clone() as Arc<dyn BatchExporter>],
        ..ExporterSet::traces(vec![recorder.clone() as Arc<dyn BatchExporter>])
    };
    let (_tx, rx) = tokio::sync::watch::channel(Some(Arc::new(set)));
    let stats = Arc::new(ExtensionStats::default());
    let signals = LambdaAppSignals::new(GeneratorConfig {
        lambda_function_name: Some("checkout-fn".into()),
        lambda_remote_environment: None,
    })
    .unwrap();
    let flusher = Flusher::new(
        buffers.clone(),
        rx,
        limits,
        clock.clone(),
        vec![kv("cloud.platform", "aws_lambda")],
        None,
        stats.clone(),
    )
    .with_app_signals(Some(Arc::new(signals)), interval);
    Rig {
        clock,
        buffers,
        flusher,
        recorder,
        stats,
    }
}

const BUDGET: Duration = Duration::from_secs(5);

#[tokio::test]
async fn every_flush_ends_an_interval_and_the_exported_spans_carry_the_attributes() {
    let r = rig(Duration::ZERO);
    r.buffers.traces.push(server_span(1));
    r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    r.buffers.traces.push(server_span(2));
    r.buffers.traces.push(server_span(3));
    r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    let metrics = r.recorder.metrics.lock().unwrap().clone();
    assert_eq!(metrics.len(), 2, "one batch per flush");
    assert_eq!(latency_count(&metrics[..1]), 1);
    assert_eq!(latency_count(&metrics[1..]), 2);
    // The traces exporter got the spans annotated (Lambda: the function's
    // operation, the resource's platform → lambda:default).
    let spans = r.recorder.spans.lock().unwrap().clone();
    let span = &spans[0].resource_spans[0].scope_spans[0].spans[0];
    let get = |k: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == k)
            .and_then(|a| a.value.clone())
    };
    let s = |v: &str| {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        })
    };
    assert_eq!(get("aws.local.operation"), s("checkout-fn/FunctionHandler"));
    assert_eq!(get("aws.local.environment"), s("lambda:default"));
    assert_eq!(get("aws.span.kind"), s("LOCAL_ROOT"));
    assert_eq!(r.stats.app_signals.exported.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn with_an_interval_metrics_wait_for_it_and_shutdown_sends_the_rest() {
    let r = rig(Duration::from_secs(60));
    r.buffers.traces.push(server_span(1));
    r.flusher.flush(BUDGET, FlushKind::Background).await;
    assert!(r.recorder.metrics.lock().unwrap().is_empty(), "not due yet");
    r.clock.0.store(60_000, Ordering::SeqCst);
    r.buffers.traces.push(server_span(2));
    r.flusher.flush(BUDGET, FlushKind::Background).await;
    let metrics = r.recorder.metrics.lock().unwrap().clone();
    assert_eq!(metrics.len(), 1);
    assert_eq!(latency_count(&metrics), 2, "both spans in the one interval");
    r.clock.0.store(61_000, Ordering::SeqCst);
    r.buffers.traces.push(server_span(3));
    r.flusher.flush(BUDGET, FlushKind::Shutdown).await;
    let metrics = r.recorder.metrics.lock().unwrap().clone();
    assert_eq!(
        latency_count(&metrics),
        3,
        "SHUTDOWN ends the interval early"
    );
}

#[tokio::test]
async fn a_failing_metrics_destination_keeps_the_points_for_the_retry() {
    let r = rig(Duration::ZERO);
    r.recorder.fail.store(true, Ordering::SeqCst);
    r.buffers.traces.push(server_span(1));
    r.flusher.flush(BUDGET, FlushKind::InvokeEnd).await;
    assert_eq!(r.flusher.app_signals_held(), 3, "Latency, Error, Fault");
    assert!(r.flusher.any_open());
    // The spans went out all the same.
    assert_eq!(r.recorder.spans.lock().unwrap().len(), 1);
    r.recorder.fail.store(false, Ordering::SeqCst);
    r.clock.0.store(10_000, Ordering::SeqCst);
    r.flusher.flush(BUDGET, FlushKind::Background).await;
    assert_eq!(r.flusher.app_signals_held(), 0);
    assert_eq!(latency_count(&r.recorder.metrics.lock().unwrap()), 1);
}
