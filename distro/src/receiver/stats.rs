//! Receiver counters for self-telemetry (health endpoint, `/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters shared by the HTTP and gRPC receivers. Read them with [`ReceiverStats::snapshot`].
#[derive(Debug, Default)]
pub struct ReceiverStats {
    requests: AtomicU64,
    accepted_requests: AtomicU64,
    accepted_spans: AtomicU64,
    rejected_spans: AtomicU64,
    malformed_requests: AtomicU64,
    too_large_requests: AtomicU64,
    backpressured_requests: AtomicU64,
    backpressured_spans: AtomicU64,
}

/// A point-in-time copy of [`ReceiverStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Export requests that reached a receiver's export handler (any outcome).
    pub requests: u64,
    /// Requests whose batch the sink took.
    pub accepted_requests: u64,
    /// Spans the sink took (after validation and the sink's own rejections).
    pub accepted_spans: u64,
    /// Spans refused individually (invalid ids, or dropped by the sink) and reported as `partial_success`.
    pub rejected_spans: u64,
    /// Requests refused as malformed (bad protobuf/JSON/gzip, unsupported media type): 400 / INVALID_ARGUMENT / 415.
    pub malformed_requests: u64,
    /// Requests refused for size (over `max_body_bytes`, compressed or decompressed): 413 / OUT_OF_RANGE.
    pub too_large_requests: u64,
    /// Requests refused because the sink pushed back: 503 / RESOURCE_EXHAUSTED.
    pub backpressured_requests: u64,
    /// Spans in the backpressured requests (the sender still holds them).
    pub backpressured_spans: u64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl ReceiverStats {
    /// Copy of all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            accepted_requests: get(&self.accepted_requests),
            accepted_spans: get(&self.accepted_spans),
            rejected_spans: get(&self.rejected_spans),
            malformed_requests: get(&self.malformed_requests),
            too_large_requests: get(&self.too_large_requests),
            backpressured_requests: get(&self.backpressured_requests),
            backpressured_spans: get(&self.backpressured_spans),
        }
    }

    pub(crate) fn request(&self) {
        add(&self.requests, 1);
    }
    pub(crate) fn accepted(&self, spans: u64, rejected: u64) {
        add(&self.accepted_requests, 1);
        add(&self.accepted_spans, spans);
        add(&self.rejected_spans, rejected);
    }
    pub(crate) fn rejected_spans(&self, n: u64) {
        add(&self.rejected_spans, n);
    }
    pub(crate) fn malformed(&self) {
        add(&self.malformed_requests, 1);
    }
    pub(crate) fn too_large(&self) {
        add(&self.too_large_requests, 1);
    }
    pub(crate) fn backpressured(&self, spans: u64) {
        add(&self.backpressured_requests, 1);
        add(&self.backpressured_spans, spans);
    }
}
