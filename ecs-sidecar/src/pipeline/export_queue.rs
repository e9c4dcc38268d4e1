//! The queue in front of each exporter (`sending_queue`) and its consumers.
//! While an exporter retries an outage its queue fills, the batch worker
//! waits, the pipeline input fills, and receivers answer 503 /
//! RESOURCE_EXHAUSTED: backpressure instead of unbounded memory.

use std::sync::Arc;

use otel_aws_distro::export::{BatchExporter, ExportError, ExportOutcome, OtlpBatch, span_count};
use otel_aws_distro::receiver::ExportTraceServiceRequest;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::exporter::xray::SegmentPassthrough;
use crate::processor::batch::Outgoing;
use crate::processor::{MemoryPermit, size};
use crate::receiver::legacy::RawSegment;
use crate::telemetry::Counters;

/// Settings of one exporter's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// Batches waiting (besides those being exported).
    pub queue_size: usize,
    /// Concurrent exports.
    pub num_consumers: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            queue_size: 100,
            num_consumers: 1,
        }
    }
}

/// A running exporter: its queue's sending side and its consumer task.
#[derive(Debug)]
pub struct ExporterHandle {
    /// Component id.
    pub id: String,
    /// Sending side of the queue.
    pub tx: mpsc::Sender<Arc<Outgoing>>,
    /// The consumer; ends once the queue is closed and drained.
    pub task: tokio::task::JoinHandle<()>,
    /// The exporter itself (for shutdown).
    pub exporter: Arc<dyn BatchExporter>,
}

/// Starts the consumer of `exporter`. With a `passthrough` (the `awsxray`
/// exporter) legacy documents are sent as they came; without one the
/// exporter gets them as translated spans.
pub fn spawn(
    id: &str,
    exporter: Arc<dyn BatchExporter>,
    passthrough: Option<Arc<SegmentPassthrough>>,
    settings: QueueSettings,
    counters: Arc<Counters>,
) -> ExporterHandle {
    let (tx, mut rx) = mpsc::channel::<Arc<Outgoing>>(settings.queue_size.max(1));
    let consumers = Arc::new(Semaphore::new(settings.num_consumers.max(1)));
    let exp = Arc::clone(&exporter);
    let name = id.to_owned();
    let task = tokio::spawn(async move {
        let mut running = JoinSet::new();
        loop {
            let Ok(permit) = Arc::clone(&consumers).acquire_owned().await else {
                break;
            };
            let Some(batch) = rx.recv().await else {
                break;
            };
            let exp = Arc::clone(&exp);
            let passthrough = passthrough.clone();
            let counters = Arc::clone(&counters);
            let name = name.clone();
            running.spawn(async move {
                export_one(
                    &name,
                    exp.as_ref(),
                    passthrough.as_deref(),
                    batch,
                    &counters,
                )
                .await;
                drop(permit);
            });
            // Reap finished exports so the set does not grow.
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    });
    ExporterHandle {
        id: id.to_owned(),
        tx,
        task,
        exporter,
    }
}

/// What keeps a batch's memory accounted while one exporter sends it.
/// Dropped only once that export finished.
#[derive(Debug)]
#[allow(dead_code)] // held for its Drop
enum Held {
    /// This exporter was the last holder: it moved the data and the permits.
    Owned(Vec<MemoryPermit>),
    /// Other exporters hold the batch too: this one keeps its `Arc` (so the
    /// batch's permits outlive this export, whoever drops last) and the
    /// permit of the copy it made.
    Shared(Arc<Outgoing>, Option<MemoryPermit>),
}

/// The parts of `batch` this exporter takes; the last holder moves them,
/// others copy only what they need (and account the copy).
fn parts(
    batch: Arc<Outgoing>,
    passthrough: bool,
) -> (ExportTraceServiceRequest, Vec<RawSegment>, Held) {
    match Arc::try_unwrap(batch) {
        Ok(out) if passthrough => (
            out.payload.request,
            out.payload.segments,
            Held::Owned(out.permits),
        ),
        Ok(out) => (
            out.payload.into_otlp(),
            Vec::new(),
            Held::Owned(out.permits),
        ),
        Err(shared) => {
            let (request, segments) = if passthrough {
                (
                    shared.payload.request.clone(),
                    shared.payload.segments.clone(),
                )
            } else {
                let mut request = shared.payload.request.clone();
                request
                    .resource_spans
                    .extend(shared.payload.translated.resource_spans.iter().cloned());
                (request, Vec::new())
            };
            let copy = size::request_bytes(&request)
                + segments
                    .iter()
                    .map(|s| s.json.capacity() + s.id.capacity())
                    .sum::<usize>();
            let extra = shared.permits.first().map(|p| p.charge_more(copy as u64));
            (request, segments, Held::Shared(shared, extra))
        }
    }
}

fn record(id: &str, counters: &Counters, n: u64, result: Result<ExportOutcome, ExportError>) {
    match result {
        Ok(outcome) => {
            Counters::add(&counters.exported, outcome.spans_exported);
            Counters::add(&counters.dropped, outcome.spans_dropped);
            Counters::add(&counters.retried, u64::from(outcome.retries));
        }
        Err(e) => {
            // A split batch cut short: what went before the failure counts
            // as exported, only the rest as dropped.
            let (delivered, cause) = match &e {
                ExportError::PartlyDelivered { delivered, error } => {
                    ((*delivered).min(n), &**error)
                }
                other => (0, other),
            };
            if let ExportError::GaveUp { attempts, .. } = cause {
                Counters::add(&counters.retried, u64::from(attempts.saturating_sub(1)));
            }
            Counters::add(&counters.exported, delivered);
            Counters::add(&counters.dropped, n - delivered);
            Counters::add(&counters.failed_exports, 1);
            tracing::warn!(exporter = id, spans = n - delivered, error = %e, "export failed; spans dropped");
        }
    }
}

async fn export_one(
    id: &str,
    exporter: &dyn BatchExporter,
    passthrough: Option<&SegmentPassthrough>,
    batch: Arc<Outgoing>,
    counters: &Counters,
) {
    if !batch.payload.metrics.resource_metrics.is_empty()
        || !batch.payload.logs.resource_logs.is_empty()
    {
        return export_other(id, exporter, batch, counters).await;
    }
    // `held` lives until both sends below finished.
    let (request, segments, held) = parts(batch, passthrough.is_some());
    let spans = span_count(&request) as u64;
    Counters::add(&counters.received, spans + segments.len() as u64);
    if !request.resource_spans.is_empty() {
        record(id, counters, spans, exporter.export(request).await);
    }
    if let (Some(p), false) = (passthrough, segments.is_empty()) {
        let n = segments.len() as u64;
        record(id, counters, n, p.send(segments).await);
    }
    drop(held);
}

/// A metrics or logs batch: moved out when this exporter is the last
/// holder, else copied (and the copy accounted).
async fn export_other(
    id: &str,
    exporter: &dyn BatchExporter,
    batch: Arc<Outgoing>,
    counters: &Counters,
) {
    let (metrics, logs, held) = match Arc::try_unwrap(batch) {
        Ok(out) => (
            out.payload.metrics,
            out.payload.logs,
            Held::Owned(out.permits),
        ),
        Err(shared) => {
            let (m, l) = (shared.payload.metrics.clone(), shared.payload.logs.clone());
            let copy = size::metrics_bytes(&m) + size::logs_bytes(&l);
            let extra = shared.permits.first().map(|p| p.charge_more(copy as u64));
            (m, l, Held::Shared(shared, extra))
        }
    };
    if !metrics.resource_metrics.is_empty() {
        let n = metrics.items() as u64;
        Counters::add(&counters.received, n);
        record(id, counters, n, exporter.export_metrics(metrics).await);
    }
    if !logs.resource_logs.is_empty() {
        let n = logs.items() as u64;
        Counters::add(&counters.received, n);
        record(id, counters, n, exporter.export_logs(logs).await);
    }
    drop(held);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use otel_aws_distro::export::ExportFuture;

    use crate::processor::MemoryLimiter;
    use crate::processor::batch::Payload;

    /// Counts started exports and holds each until the gate opens.
    #[derive(Debug, Default)]
    struct Gated {
        started: AtomicUsize,
        gate: tokio::sync::Notify,
    }

    impl BatchExporter for Gated {
        fn export(&self, _batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
            self.started.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                self.gate.notified().await;
                Ok(ExportOutcome::default())
            })
        }
    }

    fn one_span() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "s".into(),
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    /// Two exporters share one batch and both copy it (neither is the last
    /// holder when it looks): the batch's permit must stay accounted until
    /// both exports finished, not until the last `Arc` clone is dropped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn permits_outlive_every_export_of_a_shared_batch() {
        let limiter = MemoryLimiter::new(64, Some(0));
        let permit = limiter.admit(1000).unwrap();
        let batch = Arc::new(Outgoing {
            payload: Payload::otlp(one_span()),
            spans: 1,
            permits: vec![permit],
        });
        let a = Arc::new(Gated::default());
        let b = Arc::new(Gated::default());
        let counters = Arc::new(Counters::default());
        let qa = spawn(
            "a",
            a.clone(),
            None,
            QueueSettings::default(),
            counters.clone(),
        );
        let qb = spawn(
            "b",
            b.clone(),
            None,
            QueueSettings::default(),
            counters.clone(),
        );
        // As the worker does: one clone per queue while it still holds its own.
        qa.tx.send(Arc::clone(&batch)).await.unwrap();
        qb.tx.send(Arc::clone(&batch)).await.unwrap();
        while a.started.load(Ordering::SeqCst) == 0 || b.started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        drop(batch); // the worker moves on
        assert!(
            limiter.held_bytes() >= 1000,
            "the batch's permit was released while both exports are in flight ({} bytes held)",
            limiter.held_bytes()
        );
        drop((qa.tx, qb.tx));
        a.gate.notify_one();
        b.gate.notify_one();
        qa.task.await.unwrap();
        qb.task.await.unwrap();
        assert_eq!(
            limiter.held_bytes(),
            0,
            "released once both exports finished"
        );
    }
}
