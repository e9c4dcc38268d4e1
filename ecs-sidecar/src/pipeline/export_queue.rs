//! The queue in front of each exporter (`sending_queue`) and its consumers.
//! While an exporter retries an outage its queue fills, the batch worker
//! waits, the pipeline input fills, and receivers answer 503 /
//! RESOURCE_EXHAUSTED: backpressure instead of unbounded memory.

use std::sync::Arc;

use otel_aws_distro::export::{BatchExporter, ExportError, ExportOutcome, span_count};
use otel_aws_distro::receiver::ExportTraceServiceRequest;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::exporter::xray::SegmentPassthrough;
use crate::processor::MemoryPermit;
use crate::processor::batch::Outgoing;
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

/// The parts of `batch` this exporter takes; the last holder moves them,
/// others copy only what they need.
fn parts(
    batch: Arc<Outgoing>,
    passthrough: bool,
) -> (
    ExportTraceServiceRequest,
    Vec<RawSegment>,
    Option<Vec<MemoryPermit>>,
) {
    match Arc::try_unwrap(batch) {
        Ok(out) if passthrough => (out.payload.request, out.payload.segments, Some(out.permits)),
        Ok(out) => (out.payload.into_otlp(), Vec::new(), Some(out.permits)),
        Err(shared) if passthrough => (
            shared.payload.request.clone(),
            shared.payload.segments.clone(),
            None,
        ),
        Err(shared) => {
            let mut request = shared.payload.request.clone();
            request
                .resource_spans
                .extend(shared.payload.translated.resource_spans.iter().cloned());
            (request, Vec::new(), None)
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
            if let ExportError::GaveUp { attempts, .. } = &e {
                Counters::add(&counters.retried, u64::from(attempts.saturating_sub(1)));
            }
            Counters::add(&counters.dropped, n);
            Counters::add(&counters.failed_exports, 1);
            tracing::warn!(exporter = id, spans = n, error = %e, "export failed; spans dropped");
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
    let (request, segments, _permits) = parts(batch, passthrough.is_some());
    let spans = span_count(&request) as u64;
    Counters::add(&counters.received, spans + segments.len() as u64);
    if !request.resource_spans.is_empty() {
        record(id, counters, spans, exporter.export(request).await);
    }
    if let (Some(p), false) = (passthrough, segments.is_empty()) {
        let n = segments.len() as u64;
        record(id, counters, n, p.send(segments).await);
    }
}
