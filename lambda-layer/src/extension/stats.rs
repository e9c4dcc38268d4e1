//! The extension's self-telemetry counters, logged after each flush and
//! optionally written as JSON (`OTEL_AWS_LAMBDA_STATS_FILE`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Delivery counters of one signal ("spans" in the trace names; data
/// points and log records for the other two).
#[derive(Debug, Default)]
pub struct SignalStats {
    /// Items a destination (the first, for traces) accepted.
    pub exported: AtomicU64,
    /// Items kept in a destination's lane after a failed attempt (summed over attempts).
    pub requeued: AtomicU64,
    /// Items dropped because a failing destination's lane was full.
    pub dropped_outage: AtomicU64,
    /// Items the exporters dropped (rejected by the destination, over size
    /// limits) or that no exporter was configured to send.
    pub export_dropped: AtomicU64,
    /// Items still held when the SHUTDOWN deadline left no time to export them (lost).
    pub dropped_shutdown: AtomicU64,
}

/// Counters (monotonic over the environment's life).
#[derive(Debug, Default)]
pub struct ExtensionStats {
    /// Spans.
    pub traces: SignalStats,
    /// Metric data points (received through OTLP, and platform metrics).
    pub metrics: SignalStats,
    /// Log records (received through OTLP, and forwarded Telemetry API lines).
    pub logs: SignalStats,
    /// Application Signals metric data points (EMF to CloudWatch Logs).
    pub app_signals: SignalStats,
    /// Application Signals metric data points made (Latency, Error, Fault per label set and flush).
    pub app_signals_points: AtomicU64,
    /// INVOKE events handled.
    pub invokes: AtomicU64,
    /// Flushes started.
    pub flushes: AtomicU64,
    /// Flushes that did not complete (deadline, timeout or transient failure); their spans were kept.
    pub flushes_incomplete: AtomicU64,
    /// Lane attempts skipped because the destination's breaker was open.
    pub lane_attempts_skipped: AtomicU64,
    /// Background retries cut short at the end of an invoke.
    pub retries_aborted: AtomicU64,
    /// Invokes ended by the function's final-flush signal.
    pub done_by_function: AtomicU64,
    /// Invokes ended by `platform.runtimeDone`.
    pub done_by_runtime_done: AtomicU64,
    /// Invokes whose done signal never came before the deadline margin.
    pub done_by_deadline: AtomicU64,
    /// Ends of invokes where the flush was deferred (periodic).
    pub deferred: AtomicU64,
    /// Microseconds from process start to the first `next` call.
    pub init_us: AtomicU64,
    /// Platform metric data points made from Telemetry API events.
    pub platform_metric_points: AtomicU64,
}

/// A JSON-friendly copy of all counters (buffer ones included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    /// INVOKE events handled.
    pub invokes: u64,
    /// Flushes started.
    pub flushes: u64,
    /// Flushes that did not complete.
    pub flushes_incomplete: u64,
    /// Spans accepted into the buffer.
    pub spans_received: u64,
    /// Spans dropped because the buffer was full.
    pub spans_dropped_buffer_full: u64,
    /// Spans put back after an incomplete flush.
    pub spans_requeued: u64,
    /// Spans the destination accepted.
    pub spans_exported: u64,
    /// Spans the exporters dropped.
    pub spans_export_dropped: u64,
    /// Spans dropped because a failing destination's lane was full.
    #[serde(default)]
    pub spans_dropped_outage: u64,
    /// Lane attempts skipped because the destination's breaker was open.
    #[serde(default)]
    pub lane_attempts_skipped: u64,
    /// Background retries cut short at the end of an invoke.
    #[serde(default)]
    pub retries_aborted: u64,
    /// Spans held for a destination that has not accepted them yet.
    #[serde(default)]
    pub spans_held_for_retry: u64,
    /// Spans not exported before the SHUTDOWN deadline (lost with the environment).
    #[serde(default)]
    pub spans_dropped_shutdown: u64,
    /// Spans held now.
    pub spans_buffered: u64,
    /// Invokes ended by the function's final-flush signal.
    pub done_by_function: u64,
    /// Invokes ended by `platform.runtimeDone`.
    pub done_by_runtime_done: u64,
    /// Invokes that reached the deadline margin without a done signal.
    pub done_by_deadline: u64,
    /// Invoke ends with a deferred flush.
    pub deferred: u64,
    /// Microseconds from process start to the first `next` call.
    #[serde(default)]
    pub init_us: u64,
    /// Metric data points received (OTLP from the function, platform metrics).
    #[serde(default)]
    pub metric_points_received: u64,
    /// Metric data points the first metrics destination accepted.
    #[serde(default)]
    pub metric_points_exported: u64,
    /// Metric data points dropped (buffer full, outage, refused, unsent at SHUTDOWN).
    #[serde(default)]
    pub metric_points_dropped: u64,
    /// Log records received (OTLP from the function, forwarded Telemetry API lines).
    #[serde(default)]
    pub log_records_received: u64,
    /// Log records the first logs destination accepted.
    #[serde(default)]
    pub log_records_exported: u64,
    /// Log records dropped (buffer full, outage, refused, unsent at SHUTDOWN).
    #[serde(default)]
    pub log_records_dropped: u64,
    /// Spans that got Application Signals attributes.
    #[serde(default)]
    pub app_signals_spans_annotated: u64,
    /// Application Signals metric data points made (Latency, Error and
    /// Fault: three per label set and flush).
    #[serde(default)]
    pub app_signals_points: u64,
    /// Application Signals data points CloudWatch Logs accepted (as EMF).
    #[serde(default)]
    pub app_signals_points_exported: u64,
    /// Application Signals data points dropped (no destination, outage
    /// beyond the bounds, refused, unsent at SHUTDOWN, over the series cap).
    #[serde(default)]
    pub app_signals_points_dropped: u64,
    /// Application Signals data points held for a destination that has not taken them yet.
    #[serde(default)]
    pub app_signals_points_held: u64,
}

impl StatsSnapshot {
    /// Writes the snapshot as one JSON document (replacing the file).
    pub fn write_to(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }
}

/// Writes snapshots to the stats file off the async thread, newest wins:
/// [`StatsWriter::publish`] returns at once (the invoke path never waits for
/// the disk), [`StatsWriter::write_now`] waits (SHUTDOWN).
#[derive(Debug, Default)]
pub struct StatsWriter {
    path: Option<std::path::PathBuf>,
    seq: AtomicU64,
    written: std::sync::Arc<std::sync::Mutex<u64>>,
}

impl StatsWriter {
    /// A writer to `path` (`None`: writes nothing).
    pub fn new(path: Option<std::path::PathBuf>) -> Self {
        Self {
            path,
            ..Self::default()
        }
    }

    fn job(&self, snap: StatsSnapshot) -> Option<impl FnOnce() + Send + 'static> {
        let path = self.path.clone()?;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let written = self.written.clone();
        Some(move || {
            let mut last = written.lock().unwrap_or_else(|p| p.into_inner());
            if *last >= seq {
                return; // a newer snapshot is already on disk
            }
            if let Err(e) = snap.write_to(&path) {
                tracing::warn!(error = %e, path = %path.display(), "cannot write the stats file");
            }
            *last = seq;
        })
    }

    /// Writes `snap` on a blocking thread without waiting.
    pub fn publish(&self, snap: StatsSnapshot) {
        if let Some(job) = self.job(snap) {
            drop(tokio::task::spawn_blocking(job));
        }
    }

    /// Writes `snap` on a blocking thread and waits for it.
    pub async fn write_now(&self, snap: StatsSnapshot) {
        if let Some(job) = self.job(snap) {
            let _ = tokio::task::spawn_blocking(job).await;
        }
    }
}

pub(crate) fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

pub(crate) fn inc(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}
