//! The queue in front of each exporter (`sending_queue`) and its consumers.
//! While an exporter retries an outage its queue fills, the batch worker
//! waits, the pipeline input fills, and receivers answer 503 /
//! RESOURCE_EXHAUSTED: backpressure instead of unbounded memory.

use std::sync::Arc;

use otel_aws_distro::export::{BatchExporter, ExportError};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::processor::batch::Outgoing;
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

/// Starts the consumer of `exporter`.
pub fn spawn(
    id: &str,
    exporter: Arc<dyn BatchExporter>,
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
            let counters = Arc::clone(&counters);
            let name = name.clone();
            running.spawn(async move {
                export_one(&name, exp.as_ref(), batch, &counters).await;
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

async fn export_one(
    id: &str,
    exporter: &dyn BatchExporter,
    batch: Arc<Outgoing>,
    counters: &Counters,
) {
    let spans = batch.spans as u64;
    Counters::add(&counters.received, spans);
    // The last holder takes the request without copying; others clone it.
    let (request, _permits) = match Arc::try_unwrap(batch) {
        Ok(out) => (out.request, Some(out.permits)),
        Err(shared) => (shared.request.clone(), None),
    };
    match exporter.export(request).await {
        Ok(outcome) => {
            Counters::add(&counters.exported, outcome.spans_exported);
            Counters::add(&counters.dropped, outcome.spans_dropped);
            Counters::add(&counters.retried, u64::from(outcome.retries));
        }
        Err(e) => {
            if let ExportError::GaveUp { attempts, .. } = &e {
                Counters::add(&counters.retried, u64::from(attempts.saturating_sub(1)));
            }
            Counters::add(&counters.dropped, spans);
            Counters::add(&counters.failed_exports, 1);
            tracing::warn!(exporter = id, spans, error = %e, "export failed; spans dropped");
        }
    }
}
