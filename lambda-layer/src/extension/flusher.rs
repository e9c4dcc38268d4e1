//! One flush: take everything received (plus finished platform spans), add
//! the Lambda resource where missing, hand it to each exporter's
//! [`Lane`](super::delivery::Lane), and let every lane send what it holds
//! within a time budget, as its circuit breaker allows (see
//! [`super::delivery`]). What a destination did not accept stays in its
//! lane for the next chance; the other destinations are not sent it again.
//!
//! Delivery is at least once: an attempt that timed out may still have
//! been taken by the destination, and is sent again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use otel_aws_distro::export::{BatchExporter, span_count};
use tokio::sync::watch;

use super::delivery::{Attempt, FlushKind, Lane, PROBE_TIMEOUT};
use super::stats::{ExtensionStats, inc};
use crate::buffer::SpanBuffer;
use crate::clock::Clock;
use crate::config::BufferLimits;
use crate::platform_spans::PlatformSpans;
use crate::resource::merge_missing;

/// The exporters, built once off the init path (`None` until built).
pub type Exporters = watch::Receiver<Option<Arc<Vec<Arc<dyn BatchExporter>>>>>;

/// Shortest wait, at the end of an invoke, for a retry still in flight.
pub const PROBE_GRACE_MIN: Duration = Duration::from_millis(30);

/// What one flush did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Spans taken from the receive buffer for the flush.
    pub spans: usize,
    /// Spans the first destination accepted in this flush.
    pub exported: u64,
    /// Spans still held for some destination afterwards.
    pub kept: usize,
    /// True when nothing is held for any destination afterwards.
    pub complete: bool,
}

/// Flushes the buffer; share as `Arc<Flusher>`.
#[derive(Debug)]
pub struct Flusher {
    buffer: Arc<SpanBuffer>,
    exporters: Exporters,
    lanes: OnceLock<Vec<Lane>>,
    limits: BufferLimits,
    clock: Arc<dyn Clock>,
    resource: Vec<KeyValue>,
    platform: Option<Arc<Mutex<PlatformSpans>>>,
    stats: Arc<ExtensionStats>,
    slowest_ok_us: AtomicU64,
    lock: tokio::sync::Mutex<()>,
}

impl Flusher {
    /// A flusher over `buffer` exporting to `exporters` (awaited on first
    /// use); each exporter's lane holds at most `limits`.
    pub fn new(
        buffer: Arc<SpanBuffer>,
        exporters: Exporters,
        limits: BufferLimits,
        clock: Arc<dyn Clock>,
        resource: Vec<KeyValue>,
        platform: Option<Arc<Mutex<PlatformSpans>>>,
        stats: Arc<ExtensionStats>,
    ) -> Self {
        Self {
            buffer,
            exporters,
            lanes: OnceLock::new(),
            limits,
            clock,
            resource,
            platform,
            stats,
            slowest_ok_us: AtomicU64::new(0),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The receive buffer.
    pub fn buffer(&self) -> &Arc<SpanBuffer> {
        &self.buffer
    }

    /// Platform invocations still waiting for their `platform.report`.
    pub fn platform_pending(&self) -> usize {
        self.platform
            .as_ref()
            .map_or(0, |p| p.lock().unwrap_or_else(|p| p.into_inner()).pending())
    }

    fn built_lanes(&self) -> &[Lane] {
        self.lanes.get().map_or(&[], Vec::as_slice)
    }

    /// Spans held for delivery: the receive buffer plus the fullest lane.
    pub fn held(&self) -> usize {
        self.buffer.spans() + self.lane_spans()
    }

    /// Spans held in the fullest lane (not yet accepted by some destination).
    pub fn lane_spans(&self) -> usize {
        self.built_lanes()
            .iter()
            .map(Lane::spans)
            .max()
            .unwrap_or(0)
    }

    /// True when some destination's breaker is open.
    pub fn any_open(&self) -> bool {
        self.built_lanes().iter().any(|l| l.breaker().is_open())
    }

    /// True when every destination is failing and none may be retried at
    /// `now`: a flush at the end of an invoke would send nothing.
    pub fn backing_off(&self, now: Duration) -> bool {
        let lanes = self.built_lanes();
        !lanes.is_empty()
            && lanes.iter().all(|l| {
                let b = l.breaker();
                b.is_open() && !b.retry_due(now)
            })
    }

    /// When the earliest retry of an open lane holding data is due (clock offset).
    pub fn next_retry_at(&self) -> Option<Duration> {
        self.built_lanes()
            .iter()
            .filter(|l| l.spans() > 0)
            .map(Lane::breaker)
            .filter(|b| b.is_open())
            .map(|b| b.retry_at.unwrap_or_default())
            .min()
    }

    /// How long the end of an invoke waits for a retry still in flight:
    /// twice the slowest successful attempt seen, at least
    /// [`PROBE_GRACE_MIN`], at most [`PROBE_TIMEOUT`].
    pub fn probe_grace(&self) -> Duration {
        let slowest = Duration::from_micros(self.slowest_ok_us.load(Ordering::Relaxed));
        slowest
            .saturating_mul(2)
            .clamp(PROBE_GRACE_MIN, PROBE_TIMEOUT)
    }

    /// Drops everything held (SHUTDOWN, out of time); returns the spans
    /// lost for at least one destination.
    pub fn discard(&self) -> u64 {
        let intake = self.buffer.take().spans;
        let lanes = self
            .built_lanes()
            .iter()
            .map(Lane::clear)
            .max()
            .unwrap_or(0);
        (intake + lanes) as u64
    }

    async fn lanes(&self, budget: Duration) -> Option<&[Lane]> {
        if let Some(l) = self.lanes.get() {
            return Some(l);
        }
        // Built right after registration; the first flush may have to wait for it.
        let mut rx = self.exporters.clone();
        let built = tokio::time::timeout(budget, rx.wait_for(Option::is_some)).await;
        let exporters = match built {
            Ok(Ok(v)) => v.clone().unwrap_or_default(),
            _ => return None,
        };
        let lanes = exporters
            .iter()
            .map(|e| Lane::new(e.clone(), self.limits))
            .collect();
        Some(self.lanes.get_or_init(|| lanes))
    }

    /// Moves what was received into the lanes and sends what each lane
    /// holds, as `kind` and the breakers allow, giving up after `budget`.
    /// Flushes never overlap: a second caller waits for the first.
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn flush(&self, budget: Duration, kind: FlushKind) -> FlushReport {
        let start = tokio::time::Instant::now();
        let Ok(_serial) = tokio::time::timeout(budget, self.lock.lock()).await else {
            return FlushReport::default();
        };
        let Some(lanes) = self.lanes(budget.saturating_sub(start.elapsed())).await else {
            return FlushReport::default();
        };
        let spans = self.take_into(lanes);
        let plans: Vec<Attempt> = lanes
            .iter()
            .map(|l| l.plan(kind, self.clock.now()))
            .collect();
        let remaining = budget.saturating_sub(start.elapsed());
        let attempts = lanes.iter().zip(&plans).map(|(lane, plan)| {
            let timeout = match plan {
                Attempt::Skip => Duration::ZERO,
                Attempt::Full => remaining,
                Attempt::Probe => remaining.min(PROBE_TIMEOUT),
            };
            let skip = *plan == Attempt::Skip;
            async move {
                if skip {
                    return None;
                }
                let t0 = tokio::time::Instant::now();
                let r = lane.attempt(timeout, || self.clock.now()).await;
                if r.attempted && !r.failed {
                    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                    self.slowest_ok_us.fetch_max(us, Ordering::Relaxed);
                }
                Some(r)
            }
        });
        let results = futures_util::future::join_all(attempts).await;
        let mut report = FlushReport {
            spans,
            ..FlushReport::default()
        };
        let mut failed = false;
        for (i, r) in results.iter().enumerate() {
            match r {
                None => inc(&self.stats.lane_attempts_skipped, 1),
                Some(r) => {
                    if i == 0 {
                        report.exported = r.exported;
                        inc(&self.stats.spans_exported, r.exported);
                    }
                    inc(&self.stats.spans_export_dropped, r.dropped);
                    if r.failed {
                        failed = true;
                        inc(&self.stats.spans_requeued, r.kept as u64);
                    }
                }
            }
        }
        if failed {
            inc(&self.stats.flushes_incomplete, 1);
            tracing::warn!(
                spans = self.lane_spans(),
                "flush incomplete: a destination failed; its spans are kept and retried off the invoke path"
            );
        }
        report.kept = self.lane_spans();
        report.complete = report.kept == 0;
        report
    }

    /// Takes the receive buffer and platform spans into every lane (no await:
    /// nothing is in flight between the take and the hand-over).
    fn take_into(&self, lanes: &[Lane]) -> usize {
        let mut taken = self.buffer.take();
        if let Some(p) = &self.platform {
            let rs = p
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(&self.resource);
            if let Some(rs) = rs {
                taken.batch.resource_spans.push(rs);
            }
        }
        let spans = span_count(&taken.batch);
        if spans == 0 {
            return 0;
        }
        inc(&self.stats.flushes, 1);
        merge_missing(&mut taken.batch, &self.resource);
        let Some((last, others)) = lanes.split_last() else {
            // No exporter configured: nothing will ever send these.
            inc(&self.stats.spans_export_dropped, spans as u64);
            return spans;
        };
        let mut dropped = 0;
        for lane in others {
            dropped = dropped.max(lane.offer(taken.batch.clone()));
        }
        dropped = dropped.max(last.offer(taken.batch));
        if dropped > 0 {
            inc(&self.stats.spans_dropped_outage, dropped as u64);
            tracing::warn!(
                dropped,
                "a destination has been failing and its share of the buffer is full: spans dropped"
            );
        }
        spans
    }
}
