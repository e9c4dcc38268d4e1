//! Counters an exporter keeps about itself (read by self-telemetry and
//! `otel-aws doctor`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Export counters, shared as `Arc<ExportStats>`.
#[derive(Debug, Default)]
pub struct ExportStats {
    /// HTTP requests sent, including retries.
    pub requests: AtomicU64,
    /// Spans the destination accepted.
    pub spans_exported: AtomicU64,
    /// Retried attempts.
    pub retries: AtomicU64,
    /// Spans dropped: over the per-span limit, rejected, or not delivered.
    pub spans_dropped: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// A point-in-time copy of [`ExportStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStatsSnapshot {
    /// HTTP requests sent, including retries.
    pub requests: u64,
    /// Spans the destination accepted.
    pub spans_exported: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Spans dropped.
    pub spans_dropped: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

impl ExportStats {
    /// Fresh counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last error message, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records an error message as the last error.
    pub fn set_last_error(&self, message: impl Into<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.into());
    }

    /// A copy of all counters.
    pub fn snapshot(&self) -> ExportStatsSnapshot {
        ExportStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            spans_exported: self.spans_exported.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            spans_dropped: self.spans_dropped.load(Ordering::Relaxed),
            last_error: self.last_error(),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
