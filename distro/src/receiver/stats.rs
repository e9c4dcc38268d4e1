//! Receiver counters for self-telemetry (health endpoint, `/metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

use super::signal::Signal;

/// Per-signal item counters.
#[derive(Debug, Default)]
struct ItemCounters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    backpressured: AtomicU64,
}

/// Live counters shared by the HTTP and gRPC receivers. Read them with [`ReceiverStats::snapshot`].
#[derive(Debug, Default)]
pub struct ReceiverStats {
    requests: AtomicU64,
    accepted_requests: AtomicU64,
    malformed_requests: AtomicU64,
    too_large_requests: AtomicU64,
    backpressured_requests: AtomicU64,
    /// Indexed like [`Signal::ALL`].
    items: [ItemCounters; 3],
}

/// A point-in-time copy of [`ReceiverStats`]. Request counters cover all
/// signals; item counters are per signal.
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
    /// Metric data points the sink took.
    pub accepted_data_points: u64,
    /// Data points refused individually (malformed, or dropped by the sink).
    pub rejected_data_points: u64,
    /// Data points in backpressured requests.
    pub backpressured_data_points: u64,
    /// Log records the sink took.
    pub accepted_log_records: u64,
    /// Log records refused individually (bad ids, or dropped by the sink).
    pub rejected_log_records: u64,
    /// Log records in backpressured requests.
    pub backpressured_log_records: u64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

impl ReceiverStats {
    /// Copy of all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let [t, m, l] = &self.items;
        StatsSnapshot {
            requests: get(&self.requests),
            accepted_requests: get(&self.accepted_requests),
            accepted_spans: get(&t.accepted),
            rejected_spans: get(&t.rejected),
            malformed_requests: get(&self.malformed_requests),
            too_large_requests: get(&self.too_large_requests),
            backpressured_requests: get(&self.backpressured_requests),
            backpressured_spans: get(&t.backpressured),
            accepted_data_points: get(&m.accepted),
            rejected_data_points: get(&m.rejected),
            backpressured_data_points: get(&m.backpressured),
            accepted_log_records: get(&l.accepted),
            rejected_log_records: get(&l.rejected),
            backpressured_log_records: get(&l.backpressured),
        }
    }

    pub(crate) fn request(&self) {
        add(&self.requests, 1);
    }
    pub(crate) fn accepted(&self, signal: Signal, items: u64, rejected: u64) {
        add(&self.accepted_requests, 1);
        let c = &self.items[index(signal)];
        add(&c.accepted, items);
        add(&c.rejected, rejected);
    }
    pub(crate) fn rejected(&self, signal: Signal, n: u64) {
        add(&self.items[index(signal)].rejected, n);
    }
    pub(crate) fn malformed(&self) {
        add(&self.malformed_requests, 1);
    }
    pub(crate) fn too_large(&self) {
        add(&self.too_large_requests, 1);
    }
    pub(crate) fn backpressured(&self, signal: Signal, items: u64) {
        add(&self.backpressured_requests, 1);
        add(&self.items[index(signal)].backpressured, items);
    }
}
